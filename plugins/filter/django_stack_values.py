"""The grammar of every value the roles write into a configuration file.

Each value lands in a file with its own syntax: nginx's configuration, a Python
module (the settings overlay, Gunicorn's configuration), systemd units and
EnvironmentFile=, Supervisor's and uWSGI's ini files. A value that carries that
syntax (`;` or `}` for nginx, a quote for Python, a newline anywhere) would
change the file's structure, so each value is checked against the grammar of
where it goes before anything on the host changes:

    {{ {'django_app_static_url': '/static/', ...} | django_stack_value_errors }}
        -> [] or ["django_app_static_url='static' is not a URL prefix: ..."]

Variables it does not know are ignored. Messages name the variable, the value
(repr, so a newline shows) and the rule; values that may hold secrets
(django_app_env's values, django_app_redis_url) are never shown.
"""
import ipaddress
import re

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"(?:\.|\*\.)?{_LABEL}(?:\.{_LABEL})*")
_URL_PREFIX = re.compile(r"/(?:[A-Za-z0-9_~-][A-Za-z0-9._~-]*/)+")
_PATH = re.compile(r"(?:/[A-Za-z0-9._@+-]+)+/?|/")
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_MODULE = re.compile(rf"{_IDENTIFIER}(?:\.{_IDENTIFIER})*")
_CALLABLE = re.compile(rf"{_IDENTIFIER}(?:\.{_IDENTIFIER})*:{_IDENTIFIER}")
_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_SITE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SIZE = re.compile(r"[0-9]{1,12}[kKmMgG]?")
_EXPIRES = re.compile(r"off|epoch|max|-?[0-9]{1,10}(?:ms|s|m|h|d|w|M|y)?")
_REDIS_URL = re.compile(r"(?:rediss?|unix)://[A-Za-z0-9!#$%&()*+,./:;=?@\[\]^_{|}~-]+")
_HEADER = re.compile(r"[ !#%-~]*")  # printable ASCII without '"' and '$'
# Control characters systemd's EnvironmentFile= drops a variable for; a
# newline and a tab are kept (inside double quotes).
_ENV_VALUE_BAD = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

# Environment variables the roles set for every process, and what to use instead.
RESERVED_ENV = {
    "DJANGO_SETTINGS_MODULE": "django_app_settings_module (the overlay imports it)",
    "PYTHONPATH": "django_app_code_dir (the roles put the overlay and the code on the path)",
    "DJANGO_SECRET_KEY_FILE": "django_app_secret_key",
    "DJANGO_APP_DATABASE_PASSWORD": "django_app_database_password",
    "DJANGO_APP_REDIS_URL": "django_app_redis_url",
}

# The prefix of the variables that describe the stack (django_app_stack_env).
RESERVED_ENV_PREFIX = "DJANGO_STACK_"

RULES = {
    "host name": (
        "RFC 1123 labels (letters, digits, '-') joined by '.', optionally starting with '.' "
        "or '*.' (a domain and its subdomains), an IPv4 address or a [bracketed] IPv6 address"
    ),
    "URL prefix": (
        "'/'-delimited path segments of letters, digits and . _ ~ -, starting and ending "
        "with '/', not '/' alone and no '.' or '..' segment"
    ),
    "path": "an absolute path of letters, digits and . _ @ + - between '/'s, without '.' or '..' segments",
    "user name": "lower-case letters, digits, '_' and '-', starting with a letter or '_', at most 32 characters",
    "site name": "letters, digits, '_' and '-'",
    "Python module": "a dotted Python module name such as mysite.settings",
    "Python callable": "module:attribute, such as mysite.wsgi:application",
    "Python package": "a Python identifier such as mysite",
    "size": "a number with an optional k, m or g suffix, such as 10m",
    "nginx time": "off, epoch, max or a number with an optional unit (ms, s, m, h, d, w, M, y), such as 7d",
    "Redis URL": "empty (Redis on this host) or redis://, rediss:// or unix:// followed by printable characters without spaces, quotes or '\\' (percent-encode them)",
    "header value": "printable ASCII without '\"' and '$'",
    "address": "any, localhost, link-local, multicast, or an IP address with an optional /prefix",
    "process count": "auto or a whole number >= 1",
    "backend": "host:port, the host a name or an IPv4 address or a [bracketed] IPv6 address",
    "IP address": "an IPv4 or IPv6 address, such as 10.0.0.5",
    "IP network": "an IPv4 or IPv6 address with an optional /prefix, such as 10.0.0.0/24",
    "database name": "letters, digits, '_' and '-', starting with a letter or '_', at most 63 characters",
}

# Variable -> rule; list-valued variables are checked item by item.
VARIABLES = {
    "django_app_allowed_hosts": "host name",
    "nginx_server_names": "host name",
    "django_app_websocket_path": "URL prefix",
    "django_app_static_url": "URL prefix",
    "django_app_media_url": "URL prefix",
    "nginx_websocket_path": "URL prefix",
    "nginx_static_url": "URL prefix",
    "nginx_media_url": "URL prefix",
    "django_app_root": "path",
    "django_app_data_dir": "path",
    "django_app_config_dir": "path",
    "django_app_code_dir": "path",
    "django_app_virtualenv": "path",
    "django_app_env_file": "path",
    "django_app_python": "path",
    "nginx_static_root": "path",
    "nginx_media_root": "path",
    "nginx_tls_certificate": "path",
    "nginx_tls_certificate_key": "path",
    "django_app_user": "user name",
    "django_app_group": "user name",
    "nginx_site_name": "site name",
    "django_app_project": "Python package",
    "django_app_settings_module": "Python module",
    "django_app_wsgi_application": "Python callable",
    "django_app_asgi_application": "Python callable",
    "nginx_client_max_body_size": "size",
    "nginx_static_expires": "nginx time",
    "django_app_redis_url": "Redis URL",
    "nginx_media_content_security_policy": "header value",
    "django_app_ip_address_allow": "address",
    "nginx_worker_processes": "process count",
    "django_stack_address": "IP address",
    "redis_bind": "IP address",
    "redis_clients": "IP network",
    "postgresql_listen_addresses": "IP address",
    "postgresql_clients": "IP network",
    "postgresql_database": "database name",
    "postgresql_user": "database name",
    "django_app_database_name": "database name",
    "django_app_database_user": "database name",
    "django_app_database_host": "host name",
    "nginx_allow": "IP network",
    "nginx_backends": "backend",
    "nginx_backends_down": "backend",
}
SECRET = {"django_app_redis_url"}


def _is_host_name(value):
    if value.startswith("[") and value.endswith("]"):
        try:
            ipaddress.IPv6Address(value[1:-1])
            return True
        except ValueError:
            return False
    return len(value) <= 253 and _HOST_NAME.fullmatch(value) is not None


def _without_dot_segments(value):
    return not any(part in (".", "..") for part in value.split("/"))


def _is_path(value):
    return _PATH.fullmatch(value) is not None and _without_dot_segments(value)


def _is_ip(value, prefix):
    try:
        if prefix:
            ipaddress.ip_network(value, strict=False)
        else:
            ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


def _is_backend(value):
    host, _, port = value.rpartition(":")
    if not (port.isdigit() and 1 <= int(port) <= 65535):
        return False
    return _is_host_name(host) and not host.startswith((".", "*."))


def _is_address(value):
    if value in ("any", "localhost", "link-local", "multicast"):
        return True
    try:
        ipaddress.ip_network(value, strict=False)
        return True
    except ValueError:
        return False


CHECKS = {
    "host name": _is_host_name,
    "URL prefix": lambda value: _URL_PREFIX.fullmatch(value) is not None and _without_dot_segments(value),
    "path": _is_path,
    "user name": lambda value: _USER.fullmatch(value) is not None,
    "site name": lambda value: _SITE_NAME.fullmatch(value) is not None,
    "Python package": lambda value: re.fullmatch(_IDENTIFIER, value) is not None,
    "Python module": lambda value: _MODULE.fullmatch(value) is not None,
    "Python callable": lambda value: _CALLABLE.fullmatch(value) is not None,
    "size": lambda value: _SIZE.fullmatch(value) is not None,
    "nginx time": lambda value: _EXPIRES.fullmatch(value) is not None,
    "Redis URL": lambda value: value == "" or _REDIS_URL.fullmatch(value) is not None,
    "header value": lambda value: _HEADER.fullmatch(value) is not None,
    "address": _is_address,
    "process count": lambda value: value == "auto" or (value.isdigit() and int(value) >= 1),
    "IP address": lambda value: _is_ip(value, prefix=False),
    "IP network": lambda value: _is_ip(value, prefix=True),
    "database name": lambda value: re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]{0,62}", value) is not None,
    "backend": _is_backend,
}


def _env_errors(env):
    errors = []
    if not isinstance(env, dict):
        return [f"django_app_env must be a mapping of variable names to values, not {type(env).__name__}."]
    for key, value in env.items():
        key = str(key)
        if _ENV_KEY.fullmatch(key) is None:
            errors.append(f"django_app_env: the name {key!r} is not an environment variable name "
                          "(letters, digits and '_', not starting with a digit).")
        elif key in RESERVED_ENV:
            errors.append(f"django_app_env: {key} is set by the roles; use {RESERVED_ENV[key]} instead.")
        elif key.startswith(RESERVED_ENV_PREFIX):
            errors.append(f"django_app_env: {key} is reserved: the roles set the {RESERVED_ENV_PREFIX}* "
                          "variables to describe the stack (mode, server, worker counts).")
        if value is None or isinstance(value, (dict, list)):
            errors.append(f"django_app_env: the value of {key!r} must be a string or a number "
                          f"(it is {'null' if value is None else type(value).__name__}).")
        elif _ENV_VALUE_BAD.search(str(value)):
            errors.append(f"django_app_env: the value of {key!r} holds a control character; only "
                          "newline and tab may appear (the value is not shown).")
    return errors


def django_stack_value_errors(values):
    """Messages for every value that breaks the grammar of the file it goes into."""
    errors = []
    for name, value in values.items():
        if name == "django_app_env":
            errors += _env_errors(value)
            continue
        rule = VARIABLES.get(name)
        if rule is None:
            continue
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            text = "" if item is None else str(item)
            if not CHECKS[rule](text):
                shown = "(not shown: it may hold a password)" if name in SECRET else repr(text)
                where = f"{name} item {shown}" if isinstance(value, (list, tuple)) else f"{name}={shown}"
                errors.append(f"{where} is not a valid {rule}: {RULES[rule]}.")
    return errors


def django_stack_url_prefix_errors(prefixes):
    """The URL prefixes nginx routes (name -> prefix) must not overlap."""
    errors = []
    names = sorted(prefixes)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            a, b = str(prefixes[first]), str(prefixes[second])
            if a.startswith(b) or b.startswith(a):
                errors.append(f"{first}={a!r} and {second}={b!r} overlap: each prefix is routed to "
                              "its own place, so neither may start with the other.")
    return errors


class FilterModule:
    def filters(self):
        return {
            "django_stack_value_errors": django_stack_value_errors,
            "django_stack_url_prefix_errors": django_stack_url_prefix_errors,
        }
