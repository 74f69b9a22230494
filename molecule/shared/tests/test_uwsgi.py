"""uWSGI: graceful reloads drop nothing, its stats stay local, workers recycle apart."""
import json

import pytest

from conftest import APP, fetch

NAME = f"{APP}-uwsgi"


@pytest.fixture(autouse=True)
def only_uwsgi(stack):
    if stack["server"] != "uwsgi":
        pytest.skip("uWSGI stack only")


def workers(host):
    main = host.run(f"systemctl show -p MainPID --value {NAME}.service").stdout.strip()
    return main, set(host.run(f"pgrep -P {main}").stdout.split())


def restarts(host):
    return host.run(f"systemctl show -p NRestarts --value {NAME}.service").stdout.strip()


def test_a_reload_under_load_drops_no_request(host):
    """300 requests, bounded in time, while `systemctl reload` replaces every worker.

    A reload that crashed the master would be hidden by the socket queueing
    requests while systemd restarts it: the master's PID and systemd's restart
    counter must stay as they were.
    """
    main_before, workers_before = workers(host)
    restarts_before = restarts(host)
    out = host.run(
        "( for i in $(seq 1 300); do curl -s -o /dev/null -w '%{http_code}\\n' --max-time 20 "
        "'http://127.0.0.1/sync/?ms=5'; done > /tmp/codes ) & "
        f"sleep 1; systemctl reload {NAME}.service; wait; sort /tmp/codes | uniq -c"
    )
    assert out.rc == 0, out.stderr
    counts = {code: int(n) for n, code in (line.split() for line in out.stdout.splitlines())}
    assert counts == {"200": 300}, counts
    main_after, workers_after = workers(host)
    assert main_after == main_before, "the master must survive a reload"
    assert restarts(host) == restarts_before, "the reload crashed the service"
    assert workers_after and not workers_after & workers_before, "every worker is new"


def test_stats_are_served_on_a_local_unix_socket_only(host):
    stats = host.file(f"/run/{NAME}/stats.sock")
    assert stats.is_socket
    assert not stats.mode & 0o002, "others may not connect"
    out = host.run(
        f"sudo -u {APP} python3 -c \"import socket; s = socket.socket(socket.AF_UNIX); "
        f"s.connect('/run/{NAME}/stats.sock'); print(b''.join(iter(lambda: s.recv(65536), b'')).decode())\""
    )
    stats_json = json.loads(out.stdout)
    config = host.file(f"/etc/{APP}/{NAME}.ini").content_string
    processes = int(config.split("\nprocesses = ")[1].split()[0])
    assert len(stats_json["workers"]) == processes
    # Nothing of uWSGI on TCP: the host listens for nginx (80) and Redis (6379) only.
    rows = host.run("cat /proc/net/tcp /proc/net/tcp6").stdout.splitlines()
    ports = {int(r.split()[1].rsplit(":", 1)[1], 16) for r in rows if r.split()[3:4] == ["0A"]}
    assert ports <= {80, 6379}, sorted(ports)


def test_workers_recycle_at_different_counts(host):
    config = host.file(f"/etc/{APP}/{NAME}.ini").content_string
    assert "\nmax-requests = " in config
    assert int(config.split("\nmax-requests-delta = ")[1].split()[0]) > 0


def test_uwsgi_answers_with_the_wsgi_app(host):
    health = fetch(host, "/healthz").json()
    assert (health["mode"], health["server"]) == ("wsgi", "uwsgi")
