"""The values of a deployment of several hosts: each host's address, the
balancer's backends, the peers PostgreSQL, Redis and an app host's nginx let
in, the database names. Each goes into nginx's, PostgreSQL's, Redis's or
systemd's files as it is, so anything but its grammar is refused."""
import pytest

from conftest import load

values = load("plugins/filter/django_stack_values.py", "django_stack_values")
cluster = load("plugins/filter/django_stack_cluster.py", "django_stack_cluster")


def errors(name, value):
    return values.django_stack_value_errors({name: value})


def test_endpoints_put_ipv6_addresses_in_brackets():
    assert cluster.django_stack_endpoints(["10.0.0.3", "fd00::4"], 443) == ["10.0.0.3:443", "[fd00::4]:443"]
    assert cluster.django_stack_endpoints([], 80) == []


@pytest.mark.parametrize("name, value", [
    ("nginx_backends", ["10.0.0.3:443", "[fd00::4]:443", "app1.internal:8443"]),
    ("nginx_backends_down", ["10.0.0.3:443"]),
    ("nginx_allow", ["10.0.0.2", "10.0.0.0/24", "fd00::/64"]),
    ("redis_bind", ["10.0.0.5", "fd00::5"]),
    ("redis_clients", ["10.0.0.3", "10.0.1.0/24"]),
    ("postgresql_clients", ["10.0.0.3", "fd00::3"]),
    ("postgresql_listen_addresses", ["10.0.0.5"]),
    ("postgresql_database", "shop"),
    ("django_app_database_name", "my-shop_2"),
    ("django_stack_address", "10.0.0.3"),
])
def test_legal_values_pass(name, value):
    assert errors(name, value) == []


@pytest.mark.parametrize("name, value", [
    ("nginx_backends", ["10.0.0.3"]),                      # no port
    ("nginx_backends", ["10.0.0.3:443 backup"]),           # a flag of nginx's
    ("nginx_backends", ["10.0.0.3:443; server evil:80"]),  # a second directive
    ("nginx_backends", ["10.0.0.3:99999"]),
    ("nginx_backends", ["*.example.com:443"]),
    ("nginx_allow", ["all"]),                               # nginx's keyword, not an address
    ("nginx_allow", ["10.0.0.2; allow all"]),
    ("redis_bind", ["10.0.0.0/24"]),                        # a prefix is no address to bind
    ("redis_bind", ["0.0.0.0 -::*"]),
    ("redis_clients", ["any"]),                             # lifts the limit: empty says that
    ("postgresql_clients", ["all"]),                        # pg_hba's keyword
    ("postgresql_clients", ["10.0.0.3 trust"]),
    ("postgresql_database", "shop; DROP DATABASE x"),
    ("postgresql_user", "x\" SUPERUSER"),
    ("django_app_database_name", "a" * 64),
    ("django_app_database_host", "db.example.com:5432"),
    ("django_stack_address", "web1.example.com"),
    ("django_stack_address", ""),
])
def test_values_outside_the_grammar_are_refused(name, value):
    assert errors(name, value), f"{name}={value!r} was accepted"
