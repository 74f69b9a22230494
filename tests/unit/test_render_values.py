"""Values through playbooks/render.yml: bad ones stop the run before any file is
written, odd legal ones arrive intact in every file type (no host needed).

Rendering runs the same checks (the django_stack role) and the same templates
as a deploy; the host suite proves the same on a real host, with checksums.
"""
import ast
import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import ROOT

# One bad value for every variable whose grammar is checked, all at once: the
# message must name each of them, so each is caught on its own.
BAD = {
    "django_app_allowed_hosts": ["example.com; return 200 hacked"],
    "nginx_server_names": ["example.com }"],
    "django_app_websocket_path": "/ws/ { return 200 hacked; } location /ws2/",
    "django_app_static_url": '/static/"; import os; "/',
    "django_app_media_url": "/media/ x/",
    "nginx_websocket_path": "/ws",
    "nginx_static_url": "/static/;",
    "nginx_media_url": "media/",
    "django_app_root": "/srv/app\nExecStartPre=/bin/true",
    "django_app_data_dir": '/var/lib/app"',
    "django_app_config_dir": "/etc/%h",
    "django_app_code_dir": "/srv/$(HOME)",
    "django_app_virtualenv": "/srv/app/venv --x",
    "django_app_env_file": "/etc/app/env\nuser=root",
    "django_app_python": "python3",
    "nginx_static_root": "/srv/app/static; autoindex on",
    "nginx_media_root": "/srv/app/media {",
    "nginx_tls_certificate": "/etc/a cert.pem",
    "nginx_tls_certificate_key": "/etc/$key",
    "django_app_user": "root\nExecStartPre=/bin/sh",
    "django_app_group": "a;b",
    "nginx_site_name": "x { }",
    "django_app_project": "my-site",
    "django_app_settings_module": "mysite.settings; import os",
    "django_app_wsgi_application": "mysite.wsgi:application\nmaster = false",
    "django_app_asgi_application": "mysite.asgi",
    "nginx_client_max_body_size": "10m; return 200 hacked",
    "nginx_static_expires": "7d; add_header X y",
    "django_app_redis_url": 'redis://x", "y',
    "nginx_media_content_security_policy": 'sandbox" always; return 200 "x',
    "django_app_ip_address_allow": ["any\nIPAddressDeny="],
    "nginx_worker_processes": "auto; user root",
    "django_app_env": {"A\nB": "x", "DJANGO_SETTINGS_MODULE": "mysite.settings", "C": "nul\x00"},
}

# Odd values that are legal: each must reach its file as it was given.
ENV = {"QUOTES": "it's \"quoted\"", "SHELL": "$HOME `id` $(id) ${X}", "PERCENT": "100% %(x)s %h",
       "BACKSLASH": "C:\\path\\n\\", "NEWLINE": "line 1\nline 2\n", "TAB": "a\tb", "NGINX": "; } { #",
       "EMPTY": "", "UNICODE": "naïve ☃", "TRAILING": "ends with a quote\"", "LEADING": "'starts"}
LEGAL = {
    "django_app_allowed_hosts": ["example.com", ".example.net", "*.example.org", "[::1]", "10.0.0.1"],
    "django_app_static_url": "/assets/v2.1/",
    "django_app_media_url": "/~uploads/",
    "django_app_root": "/srv/my_app+2",
    "django_app_redis_url": "redis://:p%40ss@127.0.0.1:6379/3",
    "nginx_media_content_security_policy": "default-src 'none'; img-src 'self' data:; sandbox",
    "django_app_env": ENV,
}


def render(dest, extra_vars, tmp_path, *args):
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"render_dest": str(dest), **extra_vars}))
    return subprocess.run(
        ["ansible-playbook", str(ROOT / "playbooks" / "render.yml"), "-e", f"@{extra}", *args],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"},
    )


WORKERS = {
    "too-many-workers": {"django_stack_sync_workers": 100000},
    "too-many-threads": {"django_stack_uwsgi_threads": 500},
    "raised-ceiling": {"django_stack_sync_workers": 40, "django_stack_max_processes": 64},
}
STACKS = ["wsgi-uwsgi", "asgi-daphne"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every render of this module, a few at a time: name -> (tree, result)."""
    jobs = {"bad": (BAD, []), **{name: (extra, []) for name, extra in WORKERS.items()}}
    for stack in STACKS:
        mode, server = stack.split("-")
        jobs[stack] = (LEGAL, ["-e", f"mode={mode}", "-e", f"server={server}"])
    # Django's cache in Redis, without WebSockets: the cache alone needs the URL.
    jobs["cache-redis"] = ({**LEGAL, "django_app_cache": "redis", "django_app_websockets": False},
                           ["-e", "mode=wsgi", "-e", "server=gunicorn"])

    tmps = {name: tmp_path_factory.mktemp(name) for name in jobs}

    def one(name):
        tmp = tmps[name]
        extra, args = jobs[name]
        return name, (tmp / "tree", render(tmp / "tree", extra, tmp, *args))

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(one, jobs))


@pytest.fixture
def bad_run(runs):
    return runs["bad"]


def test_bad_values_stop_the_run_before_any_file_is_written(bad_run):
    dest, result = bad_run
    assert result.returncode != 0
    assert "Check every value against the grammar of the file it goes into" in result.stdout
    assert not dest.exists()


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_bad_value_is_named(bad_run, name):
    _, result = bad_run
    message = " ".join(result.stdout.split())
    assert f"{name}=" in message or f"{name} item" in message or f"{name}:" in message, name


def test_the_bad_run_shows_no_value_of_django_app_env(bad_run):
    _, result = bad_run
    assert "nul\\u0000" not in result.stdout and "nul\\x00" not in result.stdout
    assert "DJANGO_SETTINGS_MODULE is set by the roles; use django_app_settings_module" in result.stdout


@pytest.mark.parametrize(("name", "expected"), [
    ("too-many-workers", "django_stack_sync_workers=100000"),
    ("too-many-threads", "django_stack_uwsgi_threads=500"),
])
def test_worker_counts_have_a_ceiling(runs, name, expected):
    tree, result = runs[name]
    assert result.returncode != 0
    message = " ".join(result.stdout.split())
    assert expected in message and "django_stack_max_processes=8" in message, message[-2000:]
    assert not tree.exists()


def test_a_raised_ceiling_lets_a_large_count_through(runs):
    tree, result = runs["raised-ceiling"]
    assert result.returncode == 0, result.stdout[-2000:]
    assert "workers = 40" in (tree / "etc/mysite/mysite-gunicorn.conf.py").read_text()


@pytest.fixture(params=STACKS)
def legal(request, runs):
    tree, result = runs[request.param]
    assert result.returncode == 0, result.stdout[-3000:]
    return tree


def literal(module, name):
    """The value assigned to `name` in a Python module, evaluated as a literal.

    `os.environ.get("VARIABLE", literal)` counts as ("VARIABLE", literal): both
    arguments must be literals too.
    """
    for node in ast.parse(module).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            value = node.value
            if isinstance(value, ast.Call) and ast.unparse(value.func) == "os.environ.get":
                return tuple(ast.literal_eval(argument) for argument in value.args)
            return ast.literal_eval(value)
    raise KeyError(name)


def test_python_settings_get_the_values_as_literals(legal):
    module = (legal / "srv/my_app+2/settings/deploy_settings.py").read_text()
    assert literal(module, "ALLOWED_HOSTS") == ["example.com", ".example.net", ".example.org", "[::1]", "10.0.0.1"]
    assert literal(module, "STATIC_URL") == "/assets/v2.1/"
    assert literal(module, "MEDIA_URL") == "/~uploads/"
    # The live release's, unless the release phase names a new release's.
    assert literal(module, "STATIC_ROOT") == ("DJANGO_APP_STATIC_ROOT", "/srv/my_app+2/current/static")
    # The Redis URL may hold a password: the module (mode 0644) reads it from
    # the environment file (0640), and never holds it.
    assert '"address": os.environ["DJANGO_APP_REDIS_URL"]' in module
    assert "p%40ss" not in module


def test_the_environment_file_reads_back_byte_for_byte(legal):
    """The shell reads the file the way Daphne's processes do (and systemd, proven on a host)."""
    env_file = legal / "etc/mysite/env"
    out = subprocess.run(["/bin/sh", "-c", 'set -a && . "$0" && exec env -0', str(env_file)],
                         capture_output=True, check=True, env={}).stdout.decode()
    got = dict(item.split("=", 1) for item in out.split("\0") if item)
    assert {name: got.get(name) for name in ENV} == ENV
    assert got["DJANGO_SETTINGS_MODULE"] == "deploy_settings"
    assert got["DJANGO_APP_REDIS_URL"] == "redis://:p%40ss@127.0.0.1:6379/3"


def test_a_redis_cache_reads_its_url_from_the_environment_file(runs):
    tree, result = runs["cache-redis"]
    assert result.returncode == 0, result.stdout[-3000:]
    module = (tree / "srv/my_app+2/settings/deploy_settings.py").read_text()
    assert '"BACKEND": "django.core.cache.backends.redis.RedisCache"' in module
    assert '"LOCATION": os.environ["DJANGO_APP_REDIS_URL"]' in module
    assert "p%40ss" not in module and "CHANNEL_LAYERS = " not in module
    env = (tree / "etc/mysite/env").read_text()
    assert 'DJANGO_APP_REDIS_URL="redis://:p%40ss@127.0.0.1:6379/3"' in env


def test_nginx_gets_each_value_as_one_string(legal):
    site = (legal / "etc/nginx/sites-available/mysite.conf").read_text()
    assert "server_name example.com .example.net *.example.org \"[::1]\" 10.0.0.1;" in site
    assert "location /assets/v2.1/ {" in site
    assert "location /~uploads/ {" not in site and 'location "/~uploads/" {' in site
    assert ("add_header Content-Security-Policy \"default-src 'none'; img-src 'self' data:; sandbox\" always;"
            in site)
