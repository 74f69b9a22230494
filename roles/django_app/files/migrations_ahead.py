# Prints, as a JSON list, the migrations applied to the default database that
# the code on sys.path does not know: what a rollback to that code would leave
# applied. Run with the release's interpreter and the app's settings
# (rollback.yml). Django's own loader reads both sides: the django_migrations
# table, and the migration modules of the installed apps; a squashed
# migration also knows the ones it replaces.
import json

import django

django.setup()

from django.db import DEFAULT_DB_ALIAS, connections  # noqa: E402
from django.db.migrations.loader import MigrationLoader  # noqa: E402

loader = MigrationLoader(connections[DEFAULT_DB_ALIAS], ignore_no_migrations=True)
known = set(loader.disk_migrations) | set(loader.graph.nodes)
for migration in loader.replacements.values():
    known.update(migration.replaces)
print(json.dumps(sorted(f"{app}.{name}" for app, name in loader.applied_migrations if (app, name) not in known)))
