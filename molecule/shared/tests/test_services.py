"""The services of the stack: running, enabled, unprivileged, and its secrets kept."""
import pytest

from conftest import APP, app_server_processes, exposure


def test_nginx_and_redis_are_running_and_enabled(host):
    for name in ("nginx", "redis-server"):
        service = host.service(name)
        assert service.is_running, name
        assert service.is_enabled, name


def test_stack_units_are_active_and_enabled(host, stack):
    for unit in stack["units"]:
        assert host.run(f"systemctl is-active {unit}").stdout.strip() == "active", unit
        assert host.run(f"systemctl is-enabled {unit}").stdout.strip() == "enabled", unit


def test_services_of_other_stacks_are_not_running(host, stack):
    for unit in stack["retired"]:
        assert host.run(f"systemctl is-active {unit}").stdout.strip() != "active", unit
        assert host.run(f"systemctl is-enabled {unit}").stdout.strip() != "enabled", unit


def test_app_servers_run_as_the_app_user_not_root(host, stack):
    processes = app_server_processes(host, stack)
    assert len(processes) >= 2, processes
    assert {user for _, user, _ in processes} == {APP}, processes


def test_sockets_let_nginx_in_and_nobody_else(host, stack):
    paths = [f"/run/{unit.removesuffix('.socket')}.sock" for unit in stack["units"] if unit.endswith(".socket")]
    if stack["server"] == "daphne":
        pytest.skip("Daphne's sockets are in a directory only root and nginx enter (test_daphne.py)")
    for path in paths:
        sock = host.file(path)
        assert sock.is_socket, path
        assert sock.mode == 0o660, path
        assert sock.group == "www-data", path


def test_sockets_queue_a_burst_of_connections(host, stack):
    """Each socket nginx connects to queues 4096 connections (its unit's
    Backlog=, Supervisor's socket_backlog), also once the server has started:
    Gunicorn and Twisted call listen() again on the socket they are handed, with
    their own backlog. A burst (the WebSockets of a stopped process reconnecting
    at once) that finds the queue full gets "Resource temporarily unavailable",
    which nginx answers with 502."""
    if stack["server"] == "daphne":
        paths = [host.run(f"readlink -f /srv/{APP}/sockets/{APP}-daphne.sock").stdout.strip()]
    else:
        paths = [f"/run/{unit.removesuffix('.socket')}.sock" for unit in stack["units"] if unit.endswith(".socket")]
    listing = host.run("ss -xlH").stdout
    # u_str LISTEN <queued> <backlog> <path> ...
    backlogs = {fields[4]: int(fields[3]) for fields in map(str.split, listing.splitlines()) if len(fields) > 4}
    assert {path: backlogs.get(path) for path in paths} == {path: 4096 for path in paths}, listing


@pytest.mark.parametrize("path", [f"/etc/{APP}/env", f"/etc/{APP}/secret_key"])
def test_secrets_are_not_world_readable(host, path):
    secret = host.file(path)
    assert secret.exists
    assert secret.user == "root"
    assert secret.group == APP
    assert secret.mode == 0o640


def test_the_app_cannot_change_its_own_code(host):
    code = host.file(f"/srv/{APP}/current/app/{APP}/settings.py")
    assert code.user == "root"
    assert host.run(f"sudo -u {APP} test -w /srv/{APP}/current/app/{APP}/settings.py").rc != 0


def test_rendered_files_say_they_are_managed(host, stack):
    files = [f"/etc/nginx/sites-available/{APP}.conf", "/etc/nginx/nginx.conf",
             f"/srv/{APP}/settings/deploy_settings.py", f"/etc/{APP}/env"]
    files += [f"/etc/systemd/system/{unit}" for unit in stack["units"] if unit.startswith(APP)]
    if stack["server"] == "daphne":
        files += [f"/etc/supervisor/conf.d/{APP}-daphne.conf"]
    for path in files:
        header = host.file(path).content_string.splitlines()[:3]
        assert any("Managed by Ansible" in line for line in header), path


def app_server_timeout(host, stack):
    """The app server's own request timeout, read from its rendered configuration."""
    if stack["server"] == "daphne":
        config = host.file(f"/etc/supervisor/conf.d/{APP}-daphne.conf").content_string
        return int(config.split("--http-timeout ")[1].split()[0])
    key, path = {"gunicorn": ("timeout = ", f"/etc/{APP}/{APP}-gunicorn.conf.py"),
                 "uwsgi": ("harakiri = ", f"/etc/{APP}/{APP}-uwsgi.ini")}[stack["server"]]
    config = host.file(path).content_string
    return int(config.split("\n" + key)[1].split()[0])


def test_nginx_waits_longer_than_the_app_server(host, stack):
    """Otherwise users get nginx's 504 while the app is still working (or hung forever)."""
    site = host.file(f"/etc/nginx/sites-available/{APP}.conf").content_string
    app_location = site.split("location / {")[1]
    directive = "uwsgi_read_timeout " if stack["server"] == "uwsgi" else "proxy_read_timeout "
    nginx_timeout = int(app_location.split(directive)[1].split("s;")[0])
    assert nginx_timeout > app_server_timeout(host, stack)


def test_app_server_units_are_hardened(host, stack):
    """`systemd-analyze security` exposure of every app server unit: 2.0 or lower.

    For Daphne that unit is supervisor.service, sandboxed by the project's drop-in.
    """
    units = [u for u in stack["units"] if u.endswith(".service")]
    assert units
    for unit in units:
        score, verdict = exposure(host, unit)
        assert score <= 2.0, verdict


def test_the_virtualenv_runs_the_hosts_python(host):
    """The virtualenv is built from the release's python3 (3.11 on Debian 12, 3.13 on 13)."""
    version = "import sys; print(sys.version)"
    system = host.run(f"/usr/bin/python3 -c '{version}'")
    venv = host.run(f"/srv/{APP}/current/venv/bin/python -c '{version}'")
    assert system.rc == venv.rc == 0, system.stderr + venv.stderr
    assert venv.stdout == system.stdout
    assert host.file(f"/srv/{APP}/current/venv").is_symlink
    # pip ran inside the virtualenv only: Debian's Python (externally managed,
    # PEP 668) has none of the app's packages.
    assert host.run("/usr/bin/python3 -c 'import django'").rc != 0
    assert host.run(f"/srv/{APP}/current/venv/bin/python -c 'import django'").rc == 0


def test_nginx_runs_sandboxed(host):
    """Debian's nginx.service scores 9.6 ("UNSAFE"); the drop-in brings it to 2.5."""
    score, verdict = exposure(host, "nginx.service")
    assert score <= 2.5, verdict
    master = host.run("systemctl show -p MainPID --value nginx").stdout.strip()
    status = host.file(f"/proc/{master}/status").content_string
    bounding = int(next(line for line in status.splitlines() if line.startswith("CapBnd:")).split()[1], 16)
    # CAP_CHOWN 0, CAP_DAC_OVERRIDE 1, CAP_KILL 5, CAP_SETGID 6, CAP_SETUID 7, CAP_NET_BIND_SERVICE 10
    assert bounding == sum(1 << bit for bit in (0, 1, 5, 6, 7, 10)), hex(bounding)


def test_app_servers_reach_only_the_local_host(host, stack):
    """IPAddressAllow=localhost on the app server units (django_app_ip_address_allow)."""
    for unit in (u for u in stack["units"] if u.endswith(".service")):
        allowed = host.run(f"systemctl show -p IPAddressAllow --value {unit}").stdout.split()
        denied = host.run(f"systemctl show -p IPAddressDeny --value {unit}").stdout.split()
        assert set(denied) == {"0.0.0.0/0", "::/0"}, (unit, denied)
        assert set(allowed) == {"127.0.0.0/8", "::1/128"}, (unit, allowed)
