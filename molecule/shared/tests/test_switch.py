"""Switching stacks on a running host: wsgi -> asgi -> daphne -> uwsgi -> wsgi,
then wsgi without systemd socket activation (Gunicorn binds loopback ports).

After each switch only the chosen stack's services run, HTTP and WebSockets
work through nginx, and the app's data (sqlite database, media) is untouched.
Runs once, in the scenario whose DJANGO_STACK_ONCE names "switch" (wsgi-gunicorn,
the stack it starts from), after every other test of that scenario: it reuses
that scenario's host instead of converging a fresh one to start from.
"""
from conftest import APP, describe_stack, exposure, fetch, once, run_site, site_url, wsprobe

pytestmark = once("switch")

STEPS = [("asgi", "gunicorn", True), ("asgi", "daphne", True), ("wsgi", "uwsgi", True),
         ("wsgi", "gunicorn", True), ("wsgi", "gunicorn", False)]
DATABASE = f"/var/lib/{APP}/db.sqlite3"
MEDIA = f"/srv/{APP}/media/kept-across-switches.txt"


def active(host, unit):
    return host.run(f"systemctl is-active {unit}").stdout.strip() == "active"


def test_switching_stacks_keeps_data_and_runs_only_the_chosen_services(host):
    assert host.run(f"echo 'uploaded before the switches' > {MEDIA} && chown {APP}: {MEDIA}").rc == 0
    database = host.run(f"sha256sum {DATABASE}").stdout

    for mode, server, activation in STEPS:
        extra = ["-e", f"mode={mode}", "-e", f"server={server}",
                 "-e", f"django_stack_socket_activation={activation}"]
        result = run_site(*extra)
        assert result.returncode == 0, result.stdout[-3000:]
        stack = describe_stack(mode, server)
        if not activation:
            sockets = [unit for unit in stack["units"] if unit.endswith(".socket")]
            stack["units"] = [unit for unit in stack["units"] if unit not in sockets]
            stack["retired"] = stack["retired"] + sockets
            # Gunicorn itself listens on loopback ports, the HTTP one and the WebSocket one.
            for port in (8000, 8002):
                assert host.socket(f"tcp://127.0.0.1:{port}").is_listening, port
            assert not host.file(f"/etc/systemd/system/{APP}-gunicorn.socket").exists

        for unit in stack["units"]:
            assert active(host, unit), f"{mode}/{server}: {unit} not active"
            # Every stack's units as hardened as test_services.py wants them,
            # on this scenario's release too (its systemd scores differently).
            if unit.endswith(".service"):
                score, verdict = exposure(host, unit)
                assert score <= 2.0, f"{mode}/{server}: {verdict}"
        for unit in stack["retired"]:
            assert not active(host, unit), f"{mode}/{server}: {unit} still active"
        assert host.file(f"/etc/supervisor/conf.d/{APP}-daphne.conf").exists == (server == "daphne")

        health = fetch(host, "/healthz").json()
        assert (health["mode"], health["server"]) == (mode, server)
        assert wsprobe(host, "echo", site_url("/ws/echo/", "ws"), mode + server)["ok"]
        chat = wsprobe(host, "chat", site_url(f"/ws/chat/{mode}-{server}/", "ws"))
        assert chat["ok"], chat

        media = fetch(host, "/media/kept-across-switches.txt")
        assert (media.status, media.body) == (200, "uploaded before the switches\n")
        assert host.run(f"sha256sum {DATABASE}").stdout == database

    # The last step again: nothing left to change.
    result = run_site(*extra)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "changed=0" in result.stdout.split("PLAY RECAP")[-1], result.stdout[-3000:]
