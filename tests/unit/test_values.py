"""Every value is data: each is checked against the grammar of the file it goes into.

The cases are values an attacker with write access to inventory values (a shared
group_vars file, a CI variable) would try, per target file type, and odd values
that are legal and must pass. test_render_values.py proves the checks are wired
into the roles (the run fails before anything is rendered) and that legal odd
values are written with the escaping of their target; the host suite
(molecule/shared/tests/test_bad_input.py) proves the host is left unchanged.
"""
import pytest

from conftest import load

values = load("plugins/filter/django_stack_values.py", "django_stack_values")


def errors(name, value):
    return values.django_stack_value_errors({name: value})


# (variable, value): each must be refused.
INJECTIONS = {
    "nginx": [
        ("django_app_allowed_hosts", ["example.com; return 200 hacked"]),
        ("django_app_allowed_hosts", ["example.com\nreturn 200 hacked"]),
        ("django_app_allowed_hosts", ["example.com }"]),
        ("django_app_allowed_hosts", ["~^(?<name>.+)$"]),
        ("django_app_allowed_hosts", ["$host"]),
        ("django_app_allowed_hosts", ['"example.com"']),
        ("django_app_allowed_hosts", ["exa mple.com"]),
        ("django_app_allowed_hosts", ["example.com#"]),
        ("django_app_allowed_hosts", ["-example.com"]),
        ("django_app_allowed_hosts", ["a" * 64 + ".com"]),
        ("nginx_server_names", ["example.com; include /etc/shadow"]),
        ("django_app_websocket_path", "/ws/ { return 200 hacked; } location /ws2/"),
        ("django_app_websocket_path", "/ws"),
        ("django_app_websocket_path", "/"),
        ("django_app_static_url", "/static/;"),
        ("django_app_static_url", "/st atic/"),
        ("django_app_static_url", "/static/../etc/"),
        ("django_app_static_url", "/$uri/"),
        ("django_app_media_url", "/media/\n"),
        ("nginx_media_url", "@media/"),
        ("nginx_static_root", "/srv/app/static; autoindex on"),
        ("nginx_media_root", "/srv/app/media { }"),
        ("nginx_tls_certificate", "/etc/ssl/a cert.pem"),
        ("nginx_tls_certificate_key", "/etc/ssl/$key"),
        ("nginx_site_name", "mysite_app { server 10.0.0.1; }"),
        ("nginx_client_max_body_size", "10m; return 200 hacked"),
        ("nginx_client_max_body_size", "ten megabytes"),
        ("nginx_static_expires", "7d; add_header X-Hacked yes"),
        ("nginx_media_content_security_policy", 'sandbox" always; return 200 "hacked'),
        ("nginx_media_content_security_policy", "default-src $http_cookie"),
        ("nginx_media_content_security_policy", "sandbox\nreturn 200 hacked;"),
        ("nginx_worker_processes", "auto; user root"),
    ],
    "python": [
        ("django_app_static_url", '/static/"; import os; os.system("id"); "/'),
        ("django_app_media_url", "/media/'''/"),
        ("django_app_settings_module", "mysite.settings; import os"),
        ("django_app_settings_module", "os, mysite.settings"),
        ("django_app_settings_module", "mysite.settings\nimport os"),
        ("django_app_settings_module", "__import__('os')"),
        ("django_app_project", "my-site"),
        ("django_app_project", "mysite.sub"),
        ("django_app_wsgi_application", "mysite.wsgi:application()"),
        ("django_app_asgi_application", "mysite.asgi:application; import os"),
        ("django_app_asgi_application", "mysite.asgi"),
        ("django_app_root", '/srv/app"; import os; "'),
        ("django_app_data_dir", "/var/lib/app\\"),
        ("django_app_redis_url", 'redis://127.0.0.1:6379/0", "extra'),
        ("django_app_redis_url", "redis://127.0.0.1:6379/0 x"),
        ("django_app_redis_url", "http://127.0.0.1:6379/0"),
    ],
    "environment file": [
        ("django_app_env", {"A\nDJANGO_SETTINGS_MODULE": "mysite.settings"}),
        ("django_app_env", {"DJANGO_SETTINGS_MODULE": "mysite.settings"}),
        ("django_app_env", {"PYTHONPATH": "/tmp"}),
        ("django_app_env", {"DJANGO_SECRET_KEY_FILE": "/tmp/key"}),
        ("django_app_env", {"MY KEY": "x"}),
        ("django_app_env", {"1KEY": "x"}),
        ("django_app_env", {"KEY=VALUE": "x"}),
        ("django_app_env", {"KEY-NAME": "x"}),
        ("django_app_env", {"": "x"}),
        ("django_app_env", {"#KEY": "x"}),
        ("django_app_env", {"KEY": "nul\x00byte"}),
        ("django_app_env", {"KEY": "escape\x1b[2J"}),
        ("django_app_env", {"KEY": "carriage\rreturn"}),
        ("django_app_env", {"KEY": None}),
        ("django_app_env", {"KEY": {"nested": 1}}),
        ("django_app_env", ["KEY=VALUE"]),
    ],
    "systemd units and Supervisor": [
        ("django_app_user", "root\nExecStartPre=/bin/sh"),
        ("django_app_user", "app user"),
        ("django_app_group", "app;x"),
        ("django_app_code_dir", "/srv/app/app\nExecStartPre=/bin/true"),
        ("django_app_code_dir", "/srv/%h/app"),
        ("django_app_virtualenv", "/srv/app/venv --bind 0.0.0.0"),
        ("django_app_config_dir", "etc/app"),
        ("django_app_env_file", "/etc/app/env\nuser=root"),
        ("django_app_python", "/usr/bin/python3 -c import os"),
        ("django_app_ip_address_allow", ["any\nIPAddressDeny="]),
        ("django_app_ip_address_allow", ["10.0.0.0/33"]),
        ("django_app_ip_address_allow", ["everyone"]),
    ],
    "uWSGI": [
        ("django_app_wsgi_application", "mysite.wsgi:application\nmaster = false"),
        ("django_app_code_dir", "/srv/$(HOME)/app"),
        ("django_app_code_dir", "/srv/%d/app"),
        ("django_app_virtualenv", "/srv/app/venv\nplugin = /tmp/evil.so"),
        ("django_app_wsgi_application", "mysite.wsgi:application ; comment"),
    ],
}
CASES = [(target, name, value) for target, rows in INJECTIONS.items() for name, value in rows]


def test_at_least_ten_injections_per_file_type():
    assert all(len(rows) >= 5 for rows in INJECTIONS.values())
    assert sum(len(rows) for target, rows in INJECTIONS.items() if target != "uWSGI") >= 40
    assert all(len(INJECTIONS[target]) >= 10 for target in ("nginx", "python", "environment file"))


@pytest.mark.parametrize(("target", "name", "value"), CASES,
                         ids=[f"{target}:{name}:{value!r}"[:80] for target, name, value in CASES])
def test_an_injection_is_refused_naming_the_variable(target, name, value):
    found = errors(name, value)
    assert found, f"{name}={value!r} would reach the {target} unchecked"
    assert all(name in message for message in found), found


@pytest.mark.parametrize(("name", "value", "rule"), [
    ("django_app_allowed_hosts", ["example.com; return 200 hacked"], "RFC 1123"),
    ("django_app_static_url", '/static/"', "path segments"),
    ("django_app_settings_module", "a;b", "dotted Python module"),
    ("nginx_client_max_body_size", "ten", "k, m or g"),
])
def test_a_message_names_the_value_and_the_rule(name, value, rule):
    (message,) = errors(name, value)
    shown = value[0] if isinstance(value, list) else value
    assert repr(shown) in message
    assert rule in message


def test_a_host_name_with_a_newline_shows_the_newline():
    (message,) = errors("django_app_allowed_hosts", ["a.com\nb"])
    assert "'a.com\\nb'" in message


@pytest.mark.parametrize(("key", "instead"), [
    ("DJANGO_SETTINGS_MODULE", "django_app_settings_module"),
    ("PYTHONPATH", "django_app_code_dir"),
    ("DJANGO_SECRET_KEY_FILE", "django_app_secret_key"),
    ("DJANGO_APP_DATABASE_PASSWORD", "django_app_database_password"),
    ("DJANGO_APP_REDIS_URL", "django_app_redis_url"),
])
def test_reserved_keys_name_the_variable_to_use_instead(key, instead):
    (message,) = errors("django_app_env", {key: "x"})
    assert f"{key} is set by the roles; use {instead}" in message


def test_the_stack_description_prefix_is_reserved():
    (message,) = errors("django_app_env", {"DJANGO_STACK_WORKERS": "64"})
    assert "DJANGO_STACK_WORKERS is reserved" in message
    assert errors("django_app_env", {"DJANGO_STACKS": "ok", "MY_DJANGO_STACK_X": "ok"}) == []


def test_secret_values_never_appear_in_messages():
    secret = "s3cr3t-\x1b-value"
    found = errors("django_app_env", {"API_TOKEN": secret}) + errors(
        "django_app_redis_url", "redis://:p4ss w0rd@10.0.0.5:6379/0")
    assert len(found) == 2
    assert all("s3cr3t" not in message and "p4ss" not in message for message in found), found
    assert "API_TOKEN" in found[0]


# Odd values that are legal: they must pass, and arrive intact (test_render_values.py).
LEGAL = [
    ("django_app_allowed_hosts", ["example.com", ".example.com", "*.example.org", "localhost", "10.0.0.1",
                                  "[::1]", "[2001:db8::1]", "xn--bcher-kva.example", "a-b.c-d.e"]),
    ("django_app_websocket_path", "/socket.io/"),
    ("django_app_static_url", "/assets/v2.1/"),
    ("django_app_media_url", "/~uploads/user_files/"),
    ("django_app_root", "/srv/my_app+2/@prod"),
    ("django_app_code_dir", "/home/deploy/.local/app"),
    ("django_app_settings_module", "config.settings.production"),
    ("django_app_wsgi_application", "config.wsgi:application"),
    ("django_app_project", "_config2"),
    ("django_app_user", "deploy-user_1"),
    ("nginx_client_max_body_size", "0"),
    ("nginx_client_max_body_size", "512K"),
    ("nginx_static_expires", "max"),
    ("nginx_static_expires", "-1"),
    ("nginx_static_expires", "30d"),
    ("nginx_media_content_security_policy", "default-src 'none'; img-src 'self' data:; sandbox"),
    ("nginx_media_content_security_policy", ""),
    ("nginx_worker_processes", "auto"),
    ("nginx_worker_processes", "4"),
    ("django_app_redis_url", ""),
    ("django_app_redis_url", "rediss://:p%40ss%22word@redis.internal:6380/1?ssl_cert_reqs=required"),
    ("django_app_redis_url", "unix:///run/redis/redis-server.sock?db=2"),
    ("django_app_ip_address_allow", ["localhost", "10.0.0.0/24", "fd00::/8", "any"]),
    ("django_app_env", {"QUOTES": "it's \"quoted\"", "SHELL": "$HOME `id` $(id) ${X}", "PERCENT": "100% %(x)s %h",
                        "BACKSLASH": "C:\\path\\n\\", "NEWLINE": "line 1\nline 2\n", "TAB": "a\tb",
                        "NGINX": "; } { #", "EMPTY": "", "UNICODE": "naïve ☃", "NUMBER": 8000, "_under": "x",
                        "lower_case": "ok", "DJANGO_SECRET_KEY": "a-project-reads-this"}),
]


@pytest.mark.parametrize(("name", "value"), LEGAL, ids=[f"{name}:{value!r}"[:80] for name, value in LEGAL])
def test_odd_but_legal_values_pass(name, value):
    assert errors(name, value) == []


def test_unknown_variables_are_left_to_their_roles():
    assert values.django_stack_value_errors({"some_other_variable": "; }"}) == []


@pytest.mark.parametrize(("prefixes", "clash"), [
    ({"django_app_static_url": "/static/", "django_app_media_url": "/static/"}, True),
    ({"django_app_static_url": "/static/", "django_app_media_url": "/static/media/"}, True),
    ({"django_app_websocket_path": "/ws/", "django_app_static_url": "/static/", "django_app_media_url": "/media/"}, False),
])
def test_url_prefixes_may_not_overlap(prefixes, clash):
    assert bool(values.django_stack_url_prefix_errors(prefixes)) == clash
