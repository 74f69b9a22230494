"""Hosts and helpers of the multi-host scenario: the single-host scenarios'
helpers (molecule/shared/tests/conftest.py), aimed at the balancer."""
import importlib.util
import os
import pathlib
import urllib.parse

import pytest
import testinfra

_SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared" / "tests" / "conftest.py"
_spec = importlib.util.spec_from_file_location("shared_helpers", _SHARED)
shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shared)
# Every host of this scenario serves HTTPS with its own self-signed certificate.
shared.SITE["tls"] = True

LB, APP1, APP2, DATA = (f"django-stack-mh-{name}" for name in ("lb", "app1", "app2", "data"))
ADDRESS = {LB: "172.31.251.10", APP1: "172.31.251.11", APP2: "172.31.251.12", DATA: "172.31.251.13"}
# Each host's certificate and key (nginx_tls_self_signed), and the file of the
# app hosts' certificates that the balancer trusts.
CERTIFICATE, KEY = (f"/etc/nginx/tls/{shared.APP}.{kind}" for kind in ("crt", "key"))
TRUST = f"/etc/nginx/django-stack/{shared.APP}-backends-trust.pem"
# The passwords of molecule.yml.
PASSWORDS = ("multi-host-test-redis-password", "multi-host test p@ss/word")


def printed_passwords(result):
    """The passwords a playbook run printed, as given or as a URL holds them."""
    said = result.stdout + result.stderr
    forms = PASSWORDS + tuple(urllib.parse.quote(password, safe="") for password in PASSWORDS)
    return [form for form in forms if form in said]


def get(name):
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={inventory}")


@pytest.fixture(scope="session")
def lb():
    return get(LB)


@pytest.fixture(scope="session")
def apps():
    return [get(APP1), get(APP2)]


@pytest.fixture(scope="session")
def data():
    return get(DATA)
