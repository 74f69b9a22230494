"""`systemctl reload` of the app server replaces every worker and drops no request;
a restart lets the requests in flight finish.

For the servers systemd runs (Gunicorn, uWSGI): HUP makes the master start new
workers and retire the old ones gracefully while systemd's socket queues new
connections. A reload that crashed the master would be hidden by that queue
while systemd restarts it, so the master's PID and systemd's restart counter
must stay as they were.
"""
import shlex

import pytest

from conftest import APP, curl_options, site_url


@pytest.fixture
def unit(stack):
    if stack["server"] == "daphne":
        pytest.skip("Daphne runs under Supervisor")
    return f"{APP}-{stack['server']}.service"


def show(host, unit, prop):
    return host.run(f"systemctl show -p {prop} --value {unit}").stdout.strip()


def workers(host, main):
    return set(host.run(f"pgrep -P {main}").stdout.split())


def test_a_reload_under_load_drops_no_request(host, unit):
    """300 requests, bounded in time, while `systemctl reload` replaces every worker."""
    main_before, restarts_before = show(host, unit, "MainPID"), show(host, unit, "NRestarts")
    workers_before = workers(host, main_before)
    out = host.run(
        "( for i in $(seq 1 300); do curl -s -o /dev/null -w '%{http_code}\\n' --max-time 20 "
        + shlex.join([*curl_options(), site_url("/sync/?ms=5")])
        + "; done > /tmp/codes ) & "
        f"sleep 1; systemctl reload {unit}; wait; sort /tmp/codes | uniq -c"
    )
    assert out.rc == 0, out.stderr
    counts = {code: int(n) for n, code in (line.split() for line in out.stdout.splitlines())}
    assert counts == {"200": 300}, counts
    assert show(host, unit, "MainPID") == main_before, "the master must survive a reload"
    assert show(host, unit, "NRestarts") == restarts_before, "the reload crashed the service"
    workers_after = workers(host, main_before)
    assert workers_after and not workers_after & workers_before, "every worker is new"


def test_a_restart_lets_the_requests_in_flight_finish(host, unit):
    """A new environment needs a restart (a reload keeps the master's environment).

    Requests being served when SIGTERM arrives are answered, not cut off (nginx
    would answer 502): four 1 s requests, the restart 0.4 s into them.
    """
    request = shlex.join(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}\\n", "--max-time", "30",
                          *curl_options(), site_url("/sync/?ms=1000")])
    main_before = show(host, unit, "MainPID")
    out = host.run(
        f"( for i in 1 2 3 4; do {request} & done; wait ) > /tmp/in-flight & "
        f"sleep 0.4; systemctl restart {unit}; wait; sort /tmp/in-flight | uniq -c"
    )
    assert out.rc == 0, out.stderr
    counts = {code: int(n) for n, code in (line.split() for line in out.stdout.splitlines())}
    assert counts == {"200": 4}, counts
    assert show(host, unit, "MainPID") not in ("", "0", main_before), "the restart started a new master"
