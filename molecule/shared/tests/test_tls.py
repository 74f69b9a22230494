"""HTTPS through nginx (scenarios with nginx_tls_enabled, a self-signed pair).

Checked from inside the host as a browser would meet it: the redirect, the
certificate, HTTP/2, the protocols and ciphers refused, HSTS, and Django's own
deployment checklist (`check --deploy`) with the deployed settings.
"""
import shlex

import pytest

from conftest import APP, CA_FILE, curl_options, fetch


@pytest.fixture(autouse=True)
def tls_only(site):
    if not site["tls"]:
        pytest.skip("the scenario serves plain HTTP")


def curl(host, *args):
    return host.run(shlex.join(["curl", "-sS", "--max-time", "10", *args]))


def test_plain_http_redirects_to_https(host):
    out = curl(host, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "http://localhost/sync/?ms=1")
    assert out.stdout == "301 https://localhost/sync/?ms=1"


def test_the_certificate_is_the_sites_and_its_key_is_root_only(host):
    key = host.file(f"/etc/nginx/tls/{APP}.key")
    assert (key.user, key.group, key.mode) == ("root", "root", 0o600)
    names = host.run(f"openssl x509 -in {CA_FILE} -noout -ext subjectAltName").stdout
    assert "DNS:localhost" in names and "IP Address:127.0.0.1" in names


def test_https_answers_over_http2_and_django_sees_a_secure_request(host):
    out = curl(host, *curl_options(), "-w", "\n%{http_version}", "https://localhost/healthz")
    body, _, version = out.stdout.rpartition("\n")
    assert out.rc == 0, out.stderr
    assert version == "2"
    assert '"secure": true' in body and '"scheme": "https"' in body


@pytest.mark.parametrize("protocol", ["1.2", "1.3"])
def test_tls_1_2_and_1_3_are_offered(host, protocol):
    out = curl(host, *curl_options(), f"--tlsv{protocol}", "--tls-max", protocol,
               "-o", "/dev/null", "-w", "%{http_code}", "https://localhost/healthz")
    assert out.stdout == "200", out.stderr


def test_a_cipher_without_forward_secrecy_is_refused(host):
    """Mozilla "intermediate": AES128-SHA (RSA key exchange, CBC) is not offered."""
    out = curl(host, *curl_options(), "--tlsv1.2", "--tls-max", "1.2", "--ciphers", "AES128-SHA",
               "https://localhost/healthz")
    assert out.rc == 35, (out.rc, out.stdout)


def test_a_client_naming_another_site_is_refused_in_the_handshake(host):
    out = curl(host, "--insecure", "--resolve", "attacker.example:443:127.0.0.1", "https://attacker.example/")
    assert out.rc == 35 and "unrecognized name" in out.stderr, out.stderr


def test_hsts_on_django_pages_and_static_files_once_each(host, host_vars):
    expected = "max-age=63072000; includeSubDomains" + ("; preload" if host_vars.get("nginx_hsts_preload") else "")
    for path in ("/", "/static/mysite/site.css"):
        response = fetch(host, path)
        assert response.status == 200, path
        assert response.headers["strict-transport-security"] == [expected], path
        assert response.headers["x-content-type-options"] == ["nosniff"], path


def test_django_deploy_checklist_has_no_warning(host):
    """`manage.py check --deploy` as the app user, with the deployed settings and environment."""
    out = host.run(
        f"cd /srv/{APP}/current/app && sudo -u {APP} sh -c 'set -a && . \"$0\" && exec \"$@\"' /etc/{APP}/env "
        f"/srv/{APP}/current/venv/bin/python -m django check --deploy --fail-level WARNING"
    )
    assert out.rc == 0, out.stdout + out.stderr
    assert "System check identified no issues (0 silenced)." in out.stdout
