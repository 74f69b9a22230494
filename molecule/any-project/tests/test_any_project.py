"""A plain `startproject` project from a git URL, served without edits to it."""
import importlib.util
import pathlib
import shlex

import pytest

_spec = importlib.util.spec_from_file_location(
    "shared_conftest", pathlib.Path(__file__).resolve().parents[2] / "shared" / "tests" / "conftest.py")
shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shared)
fetch, wait_healthy = shared.fetch, shared.wait_healthy

APP = "plainsite"


def django_says(host, expression):
    """Evaluate `expression` in the deployed project, as the app user, with its environment."""
    script = f"import django\ndjango.setup()\nfrom django.conf import settings\nprint({expression})\n"
    out = host.run(
        f"printf %s {shlex.quote(script)} | sudo -u {APP} sh -c "
        f"'set -a; . /etc/{APP}/env; cd /srv/{APP}/current/app; exec /srv/{APP}/current/venv/bin/python -'"
    )
    assert out.rc == 0, out.stderr
    return out.stdout.strip()


def test_the_code_is_the_checked_out_commit(host):
    log = host.run(f"git -C /srv/{APP}/current/app log -1 --format=%s%n%D")
    assert log.rc == 0, log.stderr
    assert log.stdout.splitlines()[0] == "fixture"


def test_the_admin_answers_through_nginx(host):
    response = fetch(host, "/admin/login/")
    assert response.status == 200
    assert "Django administration" in response.body


def test_the_projects_development_settings_are_overridden(host):
    assert django_says(host, "settings.DEBUG") == "False"
    assert django_says(host, "settings.SECRET_KEY.startswith('django-insecure')") == "False"
    assert django_says(host, "settings.DATABASES['default']['NAME']") == f"/var/lib/{APP}/db.sqlite3"
    assert django_says(host, "settings.ALLOWED_HOSTS") == "['localhost', '127.0.0.1']"


def test_migrations_ran_into_the_data_directory(host):
    tables = django_says(host, "__import__('django.db').db.connection.introspection.table_names()")
    assert "auth_user" in tables and "django_session" in tables
    database = host.file(f"/var/lib/{APP}/db.sqlite3")
    assert database.user == APP


def test_admin_static_files_come_from_nginx(host):
    assert host.run(f"systemctl stop {APP}-gunicorn.socket {APP}-gunicorn.service").rc == 0
    try:
        css = fetch(host, "/static/admin/css/base.css")
        assert css.status == 200
        assert "public" in css.headers["cache-control"]
        assert fetch(host, "/admin/login/").status == 502
    finally:
        host.run(f"systemctl start {APP}-gunicorn.socket {APP}-gunicorn.service")
    assert fetch(host, "/admin/login/").status == 200


def test_a_missing_page_shows_no_debug_output(host):
    response = fetch(host, "/nope/")
    assert response.status == 404
    assert "URLconf" not in response.body


@pytest.mark.parametrize("unit", [f"{APP}-gunicorn.service", f"{APP}-gunicorn.socket"])
def test_gunicorn_runs_enabled(host, unit):
    assert host.run(f"systemctl is-active {unit}").stdout.strip() == "active"
    assert host.run(f"systemctl is-enabled {unit}").stdout.strip() == "enabled"


def test_gunicorn_runs_as_the_app_user(host):
    main = host.run(f"systemctl show -p MainPID --value {APP}-gunicorn.service").stdout.strip()
    users = host.run(f"ps -o user= --pid {main} --ppid {main}").stdout.split()
    assert len(users) >= 2 and set(users) == {APP}, users


def test_without_websockets_there_is_no_sidecar_no_redis_and_no_route(host):
    assert not host.file(f"/etc/systemd/system/{APP}-websocket.service").exists
    assert host.run("dpkg -s redis-server").rc != 0
    site = host.file(f"/etc/nginx/sites-available/{APP}.conf").content_string
    assert "location /ws/" not in site
    assert django_says(host, "hasattr(settings, 'CHANNEL_LAYERS')") == "False"
