"""Wrong input fails before anything on the host changes, and says what is wrong.

Each case runs the real playbook (site.yml) from the controller against this
scenario's host, with one wrong value, and checks: a non-zero exit, a message
naming the variable and what would be valid, nothing reported changed, and the
host exactly as before (same configuration files, the app still answering).
The cases run a few at a time: none of them may change the host, so the
checksum of everything the roles write is taken before and after all of them.
No case depends on the stack deployed, so they run once, in the scenario whose
DJANGO_STACK_ONCE names "bad_input".
"""
import concurrent.futures
import os
import pathlib
import shutil

import pytest

from conftest import fetch, json_vars, once, run_site

pytestmark = once("bad_input")

# Everything the roles write lives here; a checksum of it tells whether anything changed.
WATCHED = ("/etc/nginx /etc/systemd/system /etc/supervisor /etc/mysite /srv/mysite/settings "
           "/srv/mysite/releases /etc/sysctl.d")


# One test per case (the table itself needs a temporary directory).
CASE_NAMES = [
    "impossible-pair", "unknown-mode", "unknown-server", "zero-workers", "negative-workers",
    "threads-not-a-number", "memory-budget-zero", "missing-src", "missing-settings-module",
    "unimportable-settings", "missing-requirements", "broken-requirements", "bad-app-name",
    "missing-python", "websockets-not-a-bool", "wildcard-host", "no-host", "static-url-without-slashes",
    "websocket-path-without-slash", "port-out-of-range", "port-taken-by-https", "missing-certificate",
    "key-readable-by-all", "invalid-nginx-config",
    # Values that would change the structure of the file they go into (issue table).
    "host-injects-nginx", "websocket-path-injects-nginx", "static-url-injects-python", "env-key-with-newline",
    "env-key-reserved", "env-key-with-space", "env-value-with-control-character", "host-with-newline",
    "url-prefix-with-space", "workers-100000", "unsupported-system", "release-name-with-slash",
    "release-paths-moved", "rollback-without-previous", "negative-drain",
    "unknown-cache",
]


def broken_project(tmp, name, relative, text):
    """A copy of the demo project with one file replaced."""
    demo = pathlib.Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "demo"
    copy = tmp / name
    shutil.copytree(demo, copy, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
    (copy / relative).write_text(text, encoding="utf-8")
    return str(copy)


def cases(tmp):
    """name: (extra ansible-playbook arguments, texts the output must contain)."""
    syntax_error = broken_project(tmp, "syntax-error", "mysite/settings.py", "DEBUG = (\n")
    bad_requirements = broken_project(tmp, "bad-requirements", "requirements.txt", "Django>=5.0\nchannels>>=4\n")
    tls = ["-e", "nginx_tls_enabled=true", "-e", "nginx_tls_self_signed=false"]
    return {
        # The stack
        "impossible-pair": (["-e", "mode=asgi", "-e", "server=uwsgi"],
                            ["mode=asgi with server=uwsgi", "Valid pairs",
                             "wsgi/gunicorn, wsgi/uwsgi, asgi/gunicorn, asgi/daphne"]),
        "unknown-mode": (["-e", "mode=fast"], ["mode", "wsgi", "asgi"]),
        "unknown-server": (["-e", "server=nginx-unit"], ["server", "gunicorn", "uwsgi", "daphne"]),
        # Worker counts and their budgets
        "zero-workers": (["-e", "django_stack_sync_workers=0"], ["django_stack_sync_workers=0", "from 1 to"]),
        "negative-workers": (["-e", "django_stack_async_workers=-2"], ["django_stack_async_workers=-2", "from 1 to"]),
        "threads-not-a-number": (["-e", "django_stack_uwsgi_threads=many"], ["django_stack_uwsgi_threads", "int"]),
        "memory-budget-zero": (["-e", "django_stack_worker_memory_mb=0"],
                               ["django_stack_worker_memory_mb >= 1"]),
        # The project
        "missing-src": (["-e", "django_app_src=/nonexistent/project"], ["django_app_src=/nonexistent/project"]),
        "missing-settings-module": (["-e", "django_app_settings_module=mysite.production"],
                                    ["django_app_settings_module=mysite.production", "mysite/production.py"]),
        "unimportable-settings": (["-e", f"django_app_src={syntax_error}"],
                                  ["django_app_settings_module=mysite.settings cannot be imported",
                                   "settings.py line 1"]),
        "missing-requirements": (["-e", "django_app_requirements=requirements/production.txt"],
                                 ["django_app_requirements=requirements/production.txt"]),
        "broken-requirements": (["-e", f"django_app_src={bad_requirements}"],
                                ["django_app_requirements=requirements.txt", "line 2: channels>>=4", "PEP 508"]),
        "bad-app-name": (["-e", '{"django_app_name": "My Site"}'], ["django_app_name=My Site", "lower-case letters"]),
        "missing-python": (["-e", "django_app_python=/usr/bin/python9"], ["django_app_python=/usr/bin/python9"]),
        # A system without a file in platforms/: django_stack_system stands for
        # the facts of such a host (render.yml's way of naming a system).
        "unsupported-system": (["-e", "django_stack_system=Ubuntu-24"],
                               ["this host runs Ubuntu 24, which the roles do not support",
                                "Debian 12 (bookworm), Debian 13 (trixie)", "platforms/Ubuntu-24.yml"]),
        "websockets-not-a-bool": (["-e", "django_app_websockets=maybe"], ["django_app_websockets", "bool"]),
        "unknown-cache": (["-e", "django_app_cache=memcached"], ["django_app_cache", "project, redis", "memcached"]),
        # Releases: a name that is a path, code outside the release link.
        "release-name-with-slash": (["-e", "django_app_release=../etc"],
                                    ["django_app_release: ../etc is not a release name"]),
        "release-paths-moved": (["-e", "django_app_code_dir=/srv/mysite/app"],
                                ["django_app_code_dir and django_app_virtualenv must be /srv/mysite/current/app"]),
        # The scenario's host has deployed one release: there is none to go back to.
        "rollback-without-previous": (["-e", "django_app_rollback=true"],
                                      ["django_app_rollback: there is no previous release on this host to go back to",
                                       "name one with -e django_app_release=<id>"]),
        "negative-drain": (["-e", "django_app_websocket_drain_seconds=-5"],
                           ["django_app_websocket_drain_seconds: -5; give 0 or more seconds"]),
        # Host names and URLs
        "wildcard-host": (["-e", '{"django_app_allowed_hosts": ["*"]}'], ["django_app_allowed_hosts", "not '*'"]),
        "no-host": (["-e", '{"django_app_allowed_hosts": []}'], ["django_app_allowed_hosts", "at least one host"]),
        "static-url-without-slashes": (["-e", "django_app_static_url=static"],
                                       ["django_app_static_url='static'", "starting and ending with '/'"]),
        "websocket-path-without-slash": (["-e", "django_app_websocket_path=/ws"],
                                         ["django_app_websocket_path='/ws'", "starting and ending with '/'"]),
        # Ports
        "port-out-of-range": (["-e", "nginx_listen_port=70000"], ["nginx_listen_port=70000", "1 to 65535"]),
        "port-taken-by-https": (["-e", "django_stack_gunicorn_port=443"], ["django_stack_gunicorn_port=443", "distinct"]),
        # TLS
        "missing-certificate": (tls + ["-e", "nginx_tls_certificate=/etc/ssl/private/none.crt"],
                                ["nginx_tls_certificate=/etc/ssl/private/none.crt", "nginx_tls_self_signed=true"]),
        "key-readable-by-all": (tls + ["-e", "nginx_tls_certificate=/etc/hostname",
                                       "-e", "nginx_tls_certificate_key=/etc/hostname"],
                                ["nginx_tls_certificate_key=/etc/hostname", "readable by root only"]),
        # Passes every check before the roles run, so the nginx role renders it: the
        # candidate must fail nginx -t and leave the live site (and nginx) as they were.
        # (A size nginx's grammar allows but its 64-bit offsets do not.)
        "invalid-nginx-config": (["-e", '{"nginx_client_max_body_size": "999999999999g"}'],
                                 ["client_max_body_size", "nginx.conf test failed"]),
        # Each would have changed what nginx, Python or systemd does; all are refused.
        "host-injects-nginx": (json_vars(django_app_allowed_hosts=["example.com; return 200 hacked"]),
                               ["django_app_allowed_hosts item 'example.com; return 200 hacked'", "RFC 1123"]),
        "websocket-path-injects-nginx": (
            json_vars(django_app_websocket_path="/ws/ { return 200 hacked; } location /ws2/"),
            ["django_app_websocket_path='/ws/ { return 200 hacked; } location /ws2/' is not a valid URL prefix"]),
        "static-url-injects-python": (json_vars(django_app_static_url='/static/"; import os; "/'),
                                      ["django_app_static_url=", "is not a valid URL prefix"]),
        "env-key-with-newline": (json_vars(django_app_env={"A\nDJANGO_SETTINGS_MODULE": "mysite.settings"}),
                                 ["django_app_env: the name 'A", "DJANGO_SETTINGS_MODULE' is not an environment variable name"]),
        "env-key-reserved": (json_vars(django_app_env={"DJANGO_SETTINGS_MODULE": "mysite.settings"}),
                             ["DJANGO_SETTINGS_MODULE is set by the roles; use django_app_settings_module"]),
        "env-key-with-space": (json_vars(django_app_env={"MY KEY": "x"}),
                               ["django_app_env: the name 'MY KEY' is not an environment variable name"]),
        "env-value-with-control-character": (json_vars(django_app_env={"TOKEN": "x\u001b[2Jsecret-value"}),
                                             ["the value of 'TOKEN' holds a control character", "not shown"]),
        "host-with-newline": (json_vars(django_app_allowed_hosts=["example.com\nreturn"]),
                              ["django_app_allowed_hosts item 'example.com", "nreturn' is not a valid host name"]),
        "url-prefix-with-space": (json_vars(django_app_media_url="/my media/"),
                                  ["django_app_media_url='/my media/' is not a valid URL prefix"]),
        "workers-100000": (["-e", "django_stack_sync_workers=100000"],
                           ["django_stack_sync_workers=100000", "django_stack_max_processes="]),
    }


def snapshot(host):
    out = host.run(f"find {WATCHED} -type f -exec sha256sum {{}} + 2>/dev/null | sort")
    assert out.stdout, out.stderr
    return out.stdout


@pytest.fixture(scope="module")
def runs(host, tmp_path_factory):
    """Every case run once; the host's files before and after all of them."""
    table = cases(tmp_path_factory.mktemp("projects"))
    before = snapshot(host)
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        futures = {name: pool.submit(run_site, *extra) for name, (extra, _) in table.items()}
        results = {name: future.result() for name, future in futures.items()}
    return {"table": table, "results": results, "before": before, "after": snapshot(host)}


def test_there_are_at_least_twenty_distinct_cases(runs):
    assert sorted(runs["table"]) == sorted(CASE_NAMES)
    assert len(set(CASE_NAMES)) >= 20


@pytest.mark.parametrize("case", CASE_NAMES)
def test_bad_input_fails_early_and_names_the_variable(runs, case):
    _, expected = runs["table"][case]
    result = runs["results"][case]
    # Messages are matched with their line breaks folded into spaces.
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, output[-3000:]
    for text in expected:
        assert text in output, f"{text!r} missing from:\n{output[-3000:]}"
    assert "changed=0" in output, output[-2000:]
    assert "secret-value" not in output


def test_the_host_is_left_exactly_as_it_was(host, runs):
    assert runs["after"] == runs["before"]
    assert fetch(host, "/healthz").status == 200
