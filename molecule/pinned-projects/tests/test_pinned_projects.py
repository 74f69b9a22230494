"""Real projects deploy as they are: their pins win, manage commands see their environment.

Two test hosts, one project each (see molecule.yml). Every request goes from
inside a host to its own 127.0.0.1, through nginx. No test takes testinfra's
`host` fixture, so each runs once and reaches both hosts itself.
"""
import concurrent.futures
import importlib.util
import json
import os
import pathlib
import shlex
import shutil
import subprocess

import pytest
import testinfra

_spec = importlib.util.spec_from_file_location(
    "shared_conftest", pathlib.Path(__file__).resolve().parents[2] / "shared" / "tests" / "conftest.py")
shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shared)

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
WSGI, CHANNELS = "django-stack-pinned-wsgi", "django-stack-pinned-channels"
APPS = {WSGI: "pinnedsite", CHANNELS: "channelsite"}
# What each project's requirements pin, as the serving process reports it.
PINS = {
    WSGI: {"django": "5.1.15", "gunicorn": "22.0.0", "dj-database-url": "2.3.0"},
    CHANNELS: {"django": "4.2.30", "channels": "4.0.0", "channels-redis": "4.1.0", "daphne": "4.0.0"},
}
FIXTURES = pathlib.Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "tests" / "fixtures"

@pytest.fixture(scope="module")
def hosts():
    return {name: testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}") for name in APPS}


def run_site(*extra):
    """site.yml from the controller against both hosts (or --limit one), JSON results."""
    project = os.environ["MOLECULE_PROJECT_DIRECTORY"]
    result = subprocess.run(
        ["ansible-playbook", "-i", INVENTORY, os.path.join(project, "site.yml"), *extra],
        capture_output=True, text=True, timeout=900, check=False,
        env={**os.environ, "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"},
    )
    result.output = " ".join((result.stdout + result.stderr).split())
    return result


def recap(result, host):
    """The PLAY RECAP line of one host."""
    return next(line for line in result.stdout.split("PLAY RECAP")[-1].splitlines() if host in line)


def about(host):
    response = shared.fetch(host, "/")
    assert response.status == 200, response.body[-2000:]
    return response.json()


def check_serves_its_pins(host, name):
    """HTTP through nginx from the project's own view, its static files from nginx."""
    served = about(host)
    assert served["project"] == APPS[name]
    assert served["versions"] == PINS[name]
    css = shared.fetch(host, "/static/admin/css/base.css")
    assert css.status == 200
    assert css.headers["content-type"] == ["text/css"]
    assert "public" in css.headers["cache-control"]


def check_chat_crosses_processes(host, room):
    chat = shared.wsprobe(host, "chat", shared.site_url(f"/ws/chat/{room}/", "ws"))
    assert chat["ok"], chat
    assert len(chat["pids"]) >= 2, chat


def snapshot(host, app):
    """Checksums of everything a deployment of `app` writes, its virtualenvs and which one runs included."""
    watched = (f"/etc/nginx /etc/systemd/system /etc/supervisor /etc/{app} /srv/{app}/settings "
               f"/srv/{app}/releases /srv/{app}/venvs /var/lib/{app}")
    out = host.run(f"readlink /srv/{app}/current /srv/{app}/current/venv; find {watched} -type f -exec sha256sum {{}} + 2>/dev/null | sort")
    assert out.stdout, out.stderr
    return out.stdout


def variant(tmp_path, fixture, requirements):
    """A copy of a fixture project with other requirements."""
    copy = tmp_path / fixture
    shutil.copytree(FIXTURES / fixture, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "requirements.txt").write_text(requirements, encoding="utf-8")
    return str(copy)


def test_each_project_runs_the_versions_it_pins(hosts):
    for name, host in hosts.items():
        check_serves_its_pins(host, name)
        freeze = host.run(f"/srv/{APPS[name]}/current/venv/bin/pip freeze").stdout.lower().splitlines()
        for package, version in PINS[name].items():
            assert f"{package}=={version}" in freeze, (name, package, freeze)


def test_migrate_used_the_database_named_in_the_environment(hosts):
    """DATABASE_URL comes from django_app_env: migrate and the servers both use it."""
    host = hosts[WSGI]
    assert about(host)["database"] == "/var/lib/pinnedsite/from-env.sqlite3"
    count = host.run(
        "python3 -c \"import sqlite3; print(sqlite3.connect('/var/lib/pinnedsite/from-env.sqlite3')"
        ".execute('select count(*) from django_migrations').fetchone()[0])\"")
    assert count.rc == 0, count.stderr
    assert int(count.stdout) > 10
    # The project's default (used when the variable does not reach migrate) was never created.
    assert not host.file("/var/lib/pinnedsite/db.sqlite3").exists
    assert not host.file("/srv/pinnedsite/current/app/db.sqlite3").exists


def test_the_channels_project_broadcasts_across_processes(hosts):
    check_chat_crosses_processes(hosts[CHANNELS], "first")


def test_conflicts_and_too_old_pins_fail_before_the_host_changes(hosts, tmp_path):
    """All found by the trial resolve: checksums of the app and of the server configuration stay."""
    cases = {
        "conflict": (WSGI, {"django_app_src": variant(
            tmp_path, "pinnedsite", "Django==3.2.25\ngunicorn==22.0.0\ndj-database-url==2.3.0\n")},
            ["cannot be installed together. Nothing on the host was changed. pip says:",
             "ERROR: Cannot install", "The conflict is caused by:", "The user requested Django==3.2.25",
             "dj-database-url 2.3.0 depends on Django>=4.2"]),
        # The project as it is, on the one stack it does not fit.
        "gunicorn-22-with-uvicorn": (WSGI, {"mode": "asgi", "server": "gunicorn"},
            ["gunicorn 22.0.0 (the app's requirements pin gunicorn==22.0.0, line 3)", "is below 23.0.0",
             "worker_class_str", "Pin gunicorn>=23.0.0", "django_app_ignore_package_minimums",
             "Nothing on the host was changed"]),
        # Django's own RedisCache came with Django 4.0.
        "redis-cache-on-django-3.2": (WSGI, {"django_app_cache": "redis", "django_app_src": variant(
            tmp_path / "old-django", "pinnedsite", "Django==3.2.25\ngunicorn==22.0.0\n")},
            ["django 3.2.25 (the app's requirements pin Django==3.2.25, line 1)", "is below 4.0",
             "RedisCache", "Pin django>=4.0", "Nothing on the host was changed"]),
        "channels-redis-4.0": (CHANNELS, {"django_app_src": variant(
            tmp_path, "channelsite", "Django==4.2.30\nchannels==4.0.0\nchannels-redis==4.0.0\ndaphne==4.0.0\n")},
            ["channels-redis 4.0.0 (the app's requirements pin channels-redis==4.0.0, line 3)",
             "is below 4.1.0", "drops the options the settings overlay sets",
             "Pin channels-redis>=4.1.0", "django_app_ignore_package_minimums",
             "Nothing on the host was changed"]),
    }
    before = {name: snapshot(host, APPS[name]) for name, host in hosts.items()}
    # None of them may change anything, so they run side by side.
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(cases)) as pool:
        futures = {case: pool.submit(run_site, "--limit", name, "-e", json.dumps(extra))
                   for case, (name, extra, _) in cases.items()}
        results = {case: future.result() for case, future in futures.items()}
    for case, (name, _, expected) in cases.items():
        result = results[case]
        assert result.returncode != 0, result.output[-3000:]
        for text in expected:
            assert text in result.output, f"{case}: {text!r} missing from:\n{result.output[-4000:]}"
        assert "changed=0" in recap(result, name), result.output[-2000:]
    for name, host in hosts.items():
        assert snapshot(host, APPS[name]) == before[name], name
        check_serves_its_pins(host, name)


@pytest.mark.parametrize("step", [1, 2, 3])
def test_every_stack_serves_the_projects_pins(hosts, step):
    """Both hosts move to their next stack; each project keeps its pins, the chat its reach."""
    result = run_site("-e", f"test_step={step}")
    assert result.returncode == 0, result.output[-4000:]
    for name, host in hosts.items():
        check_serves_its_pins(host, name)
    check_chat_crosses_processes(hosts[CHANNELS], f"step{step}")
    assert about(hosts[WSGI])["database"] == "/var/lib/pinnedsite/from-env.sqlite3"


def test_a_second_run_changes_nothing_and_warns_about_the_advisory(hosts):
    """The scenario's idempotence step (molecule.yml), with the projects' pins."""
    result = run_site("-e", "test_step=3")
    assert result.returncode == 0, result.output[-4000:]
    for name in hosts:
        assert "changed=0" in recap(result, name), (name, shared.changed_tasks(result.stdout, name))
    # gunicorn 22.0.0 is deployed as pinned, with the advisory fixed in 23.0.0 named.
    assert "WARNING: deployed with a published security advisory: gunicorn 22.0.0: CVE-2024-6827" in result.output
    assert "CVE-2024-1135" not in result.output  # fixed in 22.0.0 itself
