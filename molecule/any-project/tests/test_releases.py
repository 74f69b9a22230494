"""Releases: each deploy builds releases/<id> beside the live one, checks and
migrates it there, then switches the `current` link; the servers then serve it
(a Gunicorn reload loads the new path), and nginx its static files. A release
that cannot start, whose requirements conflict or whose migration fails is
never switched to; one that fails its health check is switched back. Old
releases go. A rollback goes back to a release on the host as it is, and is
refused while the database holds migrations that release does not know.

Each step commits to the project's git repository on the host and deploys with
the real site.yml, as test_virtualenvs.py does (same helpers). Runs after
test_any_project.py (it changes the project).
"""
import shlex

from test_any_project import APP, fetch
from test_any_project import shared
from test_virtualenvs import PIP_TASKS, WORK, about, commit, deploy, main_pid, status

ROOT = f"/srv/{APP}"
UNIT = f"{APP}-gunicorn.service"


def link(host, name):
    return host.run(f"readlink -f {ROOT}/{name}").stdout.strip()


def releases(host):
    return set(host.run(f"ls {ROOT}/releases").stdout.split())


def head(host):
    """The release id a deploy of the repository's main derives: its commit, 12 digits."""
    return host.run(f"git -C {WORK} rev-parse HEAD").stdout.strip()[:12]


def requirements(host):
    return host.file(f"{WORK}/requirements.txt").content_string


def start_load(host):
    """Requests to the admin's login page through nginx, 20 a second."""
    return shared.start_load(host, "/admin/login/")


stop_load = shared.stop_load


def push(host, files, message):
    """These files (path: text) written into the project, committed and pushed to main."""
    script = "set -e\n" + "".join(
        f"mkdir -p $(dirname {WORK}/{name}) && printf %s {shlex.quote(text)} > {WORK}/{name}\n"
        for name, text in files.items()) + (
        f"cd {WORK}\ngit add -A\n"
        f"git -c user.name=test -c user.email=test@example.invalid commit -q -m {shlex.quote(message)}\n"
        "git push -q /srv/git/plainsite.git main\n")
    out = host.run(script)
    assert out.rc == 0, out.stderr


def notes_app(host, failing):
    """An app `notes` with one migration (which raises when `failing`), installed in the settings."""
    settings = host.file(f"{WORK}/plainsite/settings.py").content_string.split("\nINSTALLED_APPS += ")[0]
    fail = "\n\ndef fail(apps, schema_editor):\n    raise RuntimeError('revision 15 cannot migrate')\n"
    migration = (
        "from django.db import migrations, models\n" + (fail if failing else "") + "\n\n"
        "class Migration(migrations.Migration):\n"
        "    initial = True\n"
        "    dependencies = []\n"
        "    operations = [\n"
        "        migrations.CreateModel('Note', [('id', models.BigAutoField(primary_key=True, serialize=False)),\n"
        "                                        ('text', models.TextField())]),\n"
        + ("        migrations.RunPython(fail),\n" if failing else "") + "    ]\n")
    push(host, {
        "plainsite/settings.py": settings + '\nINSTALLED_APPS += ["notes"]\n',
        "notes/__init__.py": "",
        "notes/models.py": "from django.db import models\n\n\nclass Note(models.Model):\n    text = models.TextField()\n",
        "notes/migrations/__init__.py": "",
        "notes/migrations/0001_initial.py": migration,
    }, "notes")


def output_of(result):
    """What a run printed, on one line: Ansible prints a failure on stderr."""
    return " ".join((result.stdout + result.stderr).split())


def a_failed_deploy(host):
    """A deploy of main that must fail, under load: it exits non-zero, leaves
    `current` and `previous` as they were, and every request during it gets a
    200. Returns what it printed, on one line."""
    links = (link(host, "current"), link(host, "previous"))
    load = start_load(host)
    result = shared.run_site()
    codes = stop_load(host, load)
    output = output_of(result)
    assert result.returncode != 0, output[-3000:]
    assert (link(host, "current"), link(host, "previous")) == links
    assert set(codes) == {"200"}, codes
    return output


def still_served_after_a_restart(host, revision):
    """The live release is what the servers start from: a restart (a reboot, a crash) serves it too."""
    assert host.run(f"systemctl restart {UNIT}").rc == 0
    assert about(host, revision)["revision"] == revision


def test_a_release_is_built_beside_the_live_one_and_switched_to(host):
    before = link(host, "current")
    assert before.startswith(f"{ROOT}/releases/"), before
    pid = main_pid(host)

    commit(host, 10, requirements(host))
    load = start_load(host)
    deploy()
    codes = stop_load(host, load)

    release = f"{ROOT}/releases/{head(host)}"
    assert link(host, "current") == release
    assert link(host, "previous") == before
    # A code-only release is served after a reload, by the master that ran
    # before: the workers import the app through the link. Every answer from
    # the end of the run on is the new release's (the run waits for the old
    # workers to go).
    answers = [fetch(host, "/about/", timeout=5) for _ in range(20)]
    assert [(a.status, a.status == 200 and a.json()["revision"]) for a in answers] == [(200, 10)] * 20
    assert main_pid(host) == pid
    # Every request during the deploy was answered by the old or the new release.
    assert set(codes) == {"200"}, codes
    assert sum(codes.values()) > 100, codes

    # The release holds its code (root's), its virtualenv link and its own
    # static files (collected by the app user); nginx serves the live ones.
    code = host.file(f"{release}/app/plainsite/urls.py")
    assert code.user == "root" and code.mode == 0o644
    assert host.file(f"{release}/venv").is_symlink
    static = host.file(f"{release}/static")
    assert static.user == APP and static.mode == 0o755
    assert host.file(f"{release}/static/admin/css/base.css").exists
    css = fetch(host, "/static/admin/css/base.css")
    assert css.status == 200
    assert css.body == host.file(f"{release}/static/admin/css/base.css").content_string


def test_a_release_that_cannot_start_is_never_switched_to(host):
    commit(host, 11, requirements(host))
    host.run(f"printf '\\nraise RuntimeError(\"revision 11 cannot start\")\\n' >> {WORK}/plainsite/urls.py && "
             f"cd {WORK} && git -c user.name=test -c user.email=test@example.invalid commit -q -am broken && "
             f"git push -q /srv/git/plainsite.git main")
    output = a_failed_deploy(host)
    assert "Check the release (manage.py check --deploy)" in output
    assert "RuntimeError: revision 11 cannot start" in output
    assert about(host, 10)["revision"] == 10
    still_served_after_a_restart(host, 10)


def test_a_release_that_fails_its_health_check_is_switched_back(host):
    """The health URL (/) answers 500 in revision 12: the run switches back to 10 and fails."""
    live = link(host, "current")
    commit(host, 12, requirements(host))
    failing = ("\n\ndef health(request):\n    raise RuntimeError('revision 12 is unhealthy')\n\n\n"
               "urlpatterns += [path('', health)]\n")
    host.run(f"printf %s {shlex.quote(failing)} >> {WORK}/plainsite/urls.py && "
             f"cd {WORK} && git -c user.name=test -c user.email=test@example.invalid commit -q -am unhealthy && "
             f"git push -q /srv/git/plainsite.git main")
    result = shared.run_site()

    # Ansible prints a failure on stderr.
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, output[-3000:]
    assert "The health check failed" in output
    assert "answered 500" in output
    assert f"Switched back to release {live.rsplit('/', 1)[1]}" in output
    assert link(host, "current") == live
    # The release that failed stays on the host, not live; every server was
    # restarted on the release switched back to.
    assert f"{ROOT}/releases/{head(host)}" != live
    assert host.file(f"{ROOT}/releases/{head(host)}").is_directory
    assert about(host, 10)["revision"] == 10
    still_served_after_a_restart(host, 10)


def test_old_releases_and_the_virtualenvs_only_they_use_go(host):
    """With django_app_keep_releases=2: the two made last, and the previous one, stay."""
    unhealthy = head(host)
    live = link(host, "current").rsplit("/", 1)[1]
    commit(host, 13, requirements(host))
    result = shared.run_site(*shared.json_vars(django_app_keep_releases=2))
    assert result.returncode == 0, result.stdout[-3000:]
    assert about(host, 13)["revision"] == 13
    assert releases(host) == {head(host), unhealthy, live}
    venvs = set(host.run(f"readlink -f {ROOT}/releases/*/venv").stdout.split())
    assert set(host.run(f"ls -d {ROOT}/venvs/*").stdout.split()) == venvs
    assert "live release: " + head(host) in result.stdout
    assert "previous release: " + live in result.stdout

    # Nothing left to do: a second run changes nothing.
    again = shared.run_site(*shared.json_vars(django_app_keep_releases=2))
    assert again.returncode == 0
    assert "changed=0" in again.stdout.split("PLAY RECAP", 1)[1]


def test_a_release_whose_requirements_conflict_is_never_built(host):
    """Revision 14 asks for an asgiref that Django 5.2 cannot run with: pip finds no set of versions."""
    good, before = requirements(host), releases(host)
    commit(host, 14, good.rstrip("\n") + "\nasgiref<3\n")
    output = a_failed_deploy(host)
    assert "Fail when no set of versions fits them all" in output
    assert "cannot be installed together" in output and "asgiref" in output
    assert releases(host) == before
    still_served_after_a_restart(host, 13)
    commit(host, 14, good)


def test_a_release_whose_migration_fails_is_never_switched_to(host):
    commit(host, 15, requirements(host))
    notes_app(host, failing=True)
    output = a_failed_deploy(host)
    assert "Apply database migrations" in output
    assert "RuntimeError: revision 15 cannot migrate" in output
    still_served_after_a_restart(host, 13)


def test_a_rollback_goes_back_to_the_previous_release_as_it_is(host):
    """No source is read, nothing is installed or migrated; the same venv, so a reload."""
    live, previous = link(host, "current"), link(host, "previous")
    pid = main_pid(host)
    # As a user types it: the value is the string "true".
    result = shared.run_site("-e", "django_app_rollback=true")
    assert result.returncode == 0, output_of(result)[-3000:]

    assert (link(host, "current"), link(host, "previous")) == (previous, live)
    assert about(host, 10)["revision"] == 10
    assert main_pid(host) == pid
    for task in (*PIP_TASKS, "Copy the app into it", "Check the app out into it", "Check out the app's code from git",
                 "Apply database migrations", "Collect static files into the release's directory"):
        assert status(result.stdout, task) == "skipping", task
    assert "live release: " + previous.rsplit("/", 1)[1] in result.stdout
    assert ("to go back to it: run this playbook again with -e django_app_rollback=true -e django_app_release="
            + live.rsplit("/", 1)[1]) in result.stdout
    still_served_after_a_restart(host, 10)

    # Naming the release that is live: nothing to do.
    again = shared.run_site(*shared.json_vars(django_app_rollback=True, django_app_release=previous.rsplit("/", 1)[1]))
    assert again.returncode == 0, output_of(again)[-3000:]
    assert "changed=0" in again.stdout.split("PLAY RECAP", 1)[1]


def test_a_rollback_is_refused_while_the_database_is_ahead_of_the_release(host):
    """Revision 16 adds a table; release 10 does not know its migration."""
    old = link(host, "current")
    commit(host, 16, requirements(host))
    notes_app(host, failing=False)
    output = deploy()
    assert "live release: " + head(host) in output
    assert about(host, 16)["revision"] == 16

    refused = shared.run_site(*shared.json_vars(django_app_rollback=True))
    text = output_of(refused)
    assert refused.returncode != 0
    assert f"the database holds migrations release {old.rsplit('/', 1)[1]} does not know: notes.0001_initial" in text
    assert "django_app_rollback_ignore_migrations=true" in text
    assert (link(host, "current"), link(host, "previous")) == (f"{ROOT}/releases/{head(host)}", old)
    assert about(host, 16)["revision"] == 16

    # Told to, by name: it goes back, and the table stays.
    forced = shared.run_site(*shared.json_vars(django_app_rollback=True, django_app_release=old.rsplit("/", 1)[1],
                                               django_app_rollback_ignore_migrations=True))
    assert forced.returncode == 0, output_of(forced)[-3000:]
    assert link(host, "current") == old
    assert about(host, 10)["revision"] == 10


def test_a_rollback_to_a_release_not_on_the_host_is_refused(host):
    live = link(host, "current")
    result = shared.run_site(*shared.json_vars(django_app_rollback=True, django_app_release="no-such-release"))
    text = output_of(result)
    assert result.returncode != 0
    assert "release no-such-release is not on this host (releases there: " in text
    assert live.rsplit("/", 1)[1] in text.split("releases there: ", 1)[1].split(")", 1)[0]
    assert link(host, "current") == live


def test_a_requirements_file_missing_from_the_checkout_is_named(host):
    """Only the checkout can tell (the controller has no copy of a git source):
    the trial resolve names the file and the repository, and nothing changes."""
    live = link(host, "current")
    result = shared.run_site(*shared.json_vars(django_app_requirements="requirements/production.txt"))
    text = output_of(result)
    assert result.returncode != 0
    assert ("django_app_requirements: requirements/production.txt does not exist in the app "
            "(file:///srv/git/plainsite.git)") in text, text[-3000:]
    assert "changed=0" in result.stdout.split("PLAY RECAP")[-1], shared.changed_tasks(result.stdout)
    assert link(host, "current") == live
