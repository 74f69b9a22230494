"""uWSGI: its stats stay local and workers recycle apart (reloads: test_reload.py)."""
import json


from conftest import APP, fetch, only_for_server

NAME = f"{APP}-uwsgi"
only_uwsgi = only_for_server("uwsgi")


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
    # Nothing of uWSGI on TCP: the host listens for nginx (80, 443) and Redis (6379) only.
    rows = host.run("cat /proc/net/tcp /proc/net/tcp6").stdout.splitlines()
    ports = {int(r.split()[1].rsplit(":", 1)[1], 16) for r in rows if r.split()[3:4] == ["0A"]}
    assert ports <= {80, 443, 6379}, sorted(ports)


def test_workers_recycle_at_different_counts(host):
    config = host.file(f"/etc/{APP}/{NAME}.ini").content_string
    assert "\nmax-requests = " in config
    assert int(config.split("\nmax-requests-delta = ")[1].split()[0]) > 0


def test_uwsgi_answers_with_the_wsgi_app(host):
    health = fetch(host, "/healthz").json()
    assert (health["mode"], health["server"]) == ("wsgi", "uwsgi")
