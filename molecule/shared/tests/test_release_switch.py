"""A new release is served by the servers that ran the old one, and no request
fails while it switches: uWSGI's reload re-executes it and its `chdir` resolves
the `current` link again; Daphne's other group (blue or green) starts on it, the
socket link switches to it, and the group that served stops. From the moment
the run ends every answer is the new release's. (Gunicorn's reload is proven
in the any-project scenario.) WebSockets held across the switch, served by the Uvicorn
workers of the uWSGI stack's WebSocket service or by Daphne, are drained and
closed with 1001, and reconnect.

The demo is copied with one more view that names the copy; deploying the copy
makes a release beside the live one, and deploying the demo again switches
back to the demo's own release, which is still on the host.
"""
from conftest import (APP, daphne_serving, demo_copy, fetch, hold_status, json_vars, once, poll, run_site, start_hold,
                      start_load, stop_hold, stop_load)

pytestmark = once("release_switch")
MARKER = "/release-marker/"


def link(host, name):
    return host.run(f"readlink -f /srv/{APP}/{name}").stdout.strip()


def answers(host, count=20):
    """(status, body) of `count` requests for the marker, one after another."""
    return [(response.status, response.body) for response in (fetch(host, MARKER, timeout=5) for _ in range(count))]


def test_a_new_release_is_served_and_the_old_one_comes_back(host, stack, tmp_path):
    copy, text = demo_copy(tmp_path, MARKER)
    unit = f"{APP}-{stack['server']}.service"
    pid = host.run(f"systemctl show -p MainPID --value {unit}").stdout.strip()
    demo_release = link(host, "current")
    assert fetch(host, MARKER).status == 404
    serving = daphne_serving(host) if stack["server"] == "daphne" else None

    start_hold(host, 50)
    load = start_load(host, "/healthz")
    result = run_site(*json_vars(django_app_src=str(copy)))
    assert result.returncode == 0, result.stdout[-3000:]
    # Every answer from the end of the run on is the new release's: no old
    # process still takes requests.
    assert set(answers(host)) == {(200, text)}
    # The processes of the old release drain their WebSockets (10 s by
    # default), then close them with 1001; each client reconnects at once.
    assert poll(lambda: hold_status(host).get("first_open") == 0, 60), hold_status(host)
    codes = stop_load(host, load)
    held = stop_hold(host)
    # 20 requests a second through nginx while the release switched: all answered.
    assert set(codes) == {"200"}, codes
    assert sum(codes.values()) > 100, codes
    # 50 WebSockets held through it: every one closed with 1001 (Daphne alone
    # drops them, 1006; Uvicorn closes them at once, 1012), reconnected, and
    # answering at the end.
    assert held["ok"], held
    assert held["closes"].get("1001", 0) >= 50 and held["reconnects"] >= 50, held
    assert held["echoed_at_end"] == 50, held
    assert link(host, "current") not in ("", demo_release)
    assert link(host, "previous") == demo_release
    if serving:
        # Daphne: the other group serves now.
        assert daphne_serving(host) == {"blue": "green", "green": "blue"}[serving]
    if stack["server"] == "uwsgi":
        # Reloaded (the master re-executed itself), not restarted.
        assert host.run(f"systemctl show -p MainPID --value {unit}").stdout.strip() == pid

    # The demo's release is still there: deploying the demo switches back to it.
    load = start_load(host, "/healthz")
    result = run_site()
    codes = stop_load(host, load)
    assert result.returncode == 0, result.stdout[-3000:]
    assert set(codes) == {"200"}, codes
    assert link(host, "current") == demo_release
    assert {status for status, _ in answers(host)} == {404}
    assert fetch(host, "/healthz").status == 200
