"""Every service comes back by itself after a crash, nginx included.

Each service's main process is killed with SIGKILL (as the OOM killer would),
and the time until it serves again is measured: at most 5 seconds. The clock
runs inside the host, next to the service (a small Python loop that kills,
then probes every 50 ms), so the time is what a client there would see and
not the test's round trips into the container.
"""
import shlex

import pytest

from conftest import CA_FILE, SITE, all_running, curl_options, site_url

BACK_WITHIN_S = 5

# Run on the host: kill the unit's main process, then probe until a new main
# process serves; print the seconds it took, or "never" after 30 s.
MEASURE = r"""
import os, subprocess, sys, time
unit, pid, expected, probe = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
def main_pid():
    return subprocess.run(["systemctl", "show", "-p", "MainPID", "--value", unit],
                          capture_output=True, text=True).stdout.strip()
start = time.monotonic()
os.kill(pid, 9)
while time.monotonic() - start < 30:
    if main_pid() not in ("", "0", str(pid)):
        out = subprocess.run(probe, capture_output=True, text=True)
        if out.returncode == 0 and expected in out.stdout:
            print(f"{time.monotonic() - start:.2f}")
            sys.exit(0)
    time.sleep(0.05)
print("never")
"""


def main_pid(host, unit):
    return host.run(f"systemctl show -p MainPID --value {unit}").stdout.strip()


def probe(kind):
    """(expected text in the output, command) that tells a service of `kind` serves."""
    if kind == "http":
        return "200", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2",
                       *curl_options(), site_url("/healthz")]
    if kind == "redis":
        return "PONG", ["redis-cli", "ping"]
    tls = ["--cafile", CA_FILE] if SITE["tls"] else []
    return '"ok": true', ["wsprobe", *tls, "--timeout", "2", "echo", site_url("/ws/echo/", "ws"), "back"]


def services(stack):
    """(unit, probe kind) of every service of the stack."""
    units = [("nginx.service", "http"), ("redis-server.service", "redis")]
    for unit in stack["units"]:
        if unit.endswith(".service"):
            units.append((unit, "websocket" if "websocket" in unit else "http"))
    return units


def wait_settled(host, unit):
    """supervisord starts its programs after it is back: wait until they all run."""
    return unit != "supervisor.service" or all_running(host)


@pytest.mark.parametrize("index", range(5))
def test_a_killed_service_is_back_within_five_seconds(host, stack, index):
    if index >= len(services(stack)):
        pytest.skip("the stack has fewer services")
    unit, kind = services(stack)[index]
    expected, command = probe(kind)
    before = main_pid(host, unit)
    assert before not in ("", "0"), unit
    assert expected in host.run(shlex.join(command)).stdout, f"{unit} did not serve before the kill"
    out = host.run(shlex.join(["python3", "-c", MEASURE, unit, before, expected, *command]))
    # The next test finds the stack settled (every process up, none starting),
    # whatever this one finds.
    settled = wait_settled(host, unit)
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() != "never", f"{unit} did not serve again within 30 s"
    elapsed = float(out.stdout)
    assert elapsed <= BACK_WITHIN_S, f"{unit} served again after {elapsed:.1f} s"
    assert settled, "supervisord's programs did not all reach RUNNING"
