"""Values arrive as data: the app's environment byte for byte in every server
process, the client's real address, uploads that cannot run script.

The scenarios deploy a django_app_env full of characters that mean something
to systemd, the shell, Supervisor, Python or nginx (.config/molecule/config.yml).
"""
import base64
import json
import shlex

from conftest import APP, SITE, app_server_processes, fetch


def environ(host, pid):
    """The environment a process started with, as the kernel holds it."""
    out = host.run(f"base64 -w0 /proc/{pid}/environ")
    assert out.rc == 0, out.stderr
    raw = base64.b64decode(out.stdout).decode()
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


def test_every_server_process_gets_the_environment_byte_for_byte(host, host_vars, stack):
    expected = {name: str(value) for name, value in host_vars["django_app_env"].items()}
    assert any("\n" in value for value in expected.values()), "the scenario's values are not odd enough"
    processes = app_server_processes(host, stack)
    assert processes
    for pid, _, command in processes:
        got = environ(host, pid)
        assert {name: got.get(name) for name in expected} == expected, command
        assert got["DJANGO_SETTINGS_MODULE"] == "deploy_settings", command
        # What serves the app, told to the app (the demo's front page shows it).
        assert got["DJANGO_STACK_MODE"] == host_vars["mode"], command
        assert got["DJANGO_STACK_SERVER"] == host_vars["server"], command
        assert got["DJANGO_STACK_PROCESS_MANAGER"] == ("supervisor" if host_vars["server"] == "daphne"
                                                       else "systemd"), command
        assert int(got["DJANGO_STACK_WORKERS"]) >= 1 and int(got["DJANGO_STACK_WEBSOCKET_WORKERS"]) >= 1, command


def test_django_sees_the_clients_address_not_a_forged_one(host):
    """Through the host's own network address, with a forged X-Forwarded-For."""
    address = host.run("hostname -I").stdout.split()[0]
    port = 443 if SITE["tls"] else 80
    scheme = "https" if SITE["tls"] else "http"
    tls = ["--cacert", f"/etc/nginx/tls/{APP}.crt"] if SITE["tls"] else []
    cmd = ["curl", "-sS", "--max-time", "10", *tls, "--resolve", f"localhost:{port}:{address}",
           "-H", "X-Forwarded-For: 6.6.6.6", "-H", "X-Real-IP: 6.6.6.6", f"{scheme}://localhost/healthz"]
    out = host.run(shlex.join(cmd))
    assert out.rc == 0, out.stderr
    assert json.loads(out.stdout)["client"] == address


def test_uploaded_html_and_svg_cannot_run_script_on_the_site(host):
    svg = f"/srv/{APP}/media/upload-test.svg"
    host.run(f"printf '%s' '<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>' > {svg}")
    try:
        response = fetch(host, "/media/upload-test.svg")
    finally:
        host.run(f"rm -f {svg}")
    assert response.status == 200
    assert response.headers["content-type"] == ["image/svg+xml"]
    assert response.headers["x-content-type-options"] == ["nosniff"]
    (policy,) = response.headers["content-security-policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy
