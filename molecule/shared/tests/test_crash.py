"""Every service comes back by itself after a crash, nginx included.

Each service's main process is killed with SIGKILL (as the OOM killer would),
and the time until it serves again is measured: at most 5 seconds.
"""
import time

import pytest

from conftest import fetch, site_url, wsprobe

BACK_WITHIN_S = 5


def main_pid(host, unit):
    return host.run(f"systemctl show -p MainPID --value {unit}").stdout.strip()


def services(stack):
    """(unit, how to tell it serves) of every service of the stack."""
    units = [("nginx.service", "http"), ("redis-server.service", "redis")]
    for unit in stack["units"]:
        if unit.endswith(".service"):
            units.append((unit, "websocket" if "websocket" in unit else "http"))
    return units


def wait_settled(host, unit, deadline_s=30):
    """supervisord starts its programs after it is back: wait until they all run."""
    if unit != "supervisor.service":
        return True
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        lines = host.run("supervisorctl status").stdout.splitlines()
        if lines and all(" RUNNING " in line for line in lines):
            return True
        time.sleep(0.5)
    return False


def serves(host, probe):
    if probe == "http":
        return fetch(host, "/healthz", timeout=2).status == 200
    if probe == "redis":
        return host.run("redis-cli ping").stdout.strip() == "PONG"
    return wsprobe(host, "--timeout", "2", "echo", site_url("/ws/echo/", "ws"), "back").get("ok") is True


@pytest.mark.parametrize("index", range(5))
def test_a_killed_service_is_back_within_five_seconds(host, stack, index):
    if index >= len(services(stack)):
        pytest.skip("the stack has fewer services")
    unit, probe = services(stack)[index]
    before = main_pid(host, unit)
    assert before not in ("", "0"), unit
    assert serves(host, probe), f"{unit} did not serve before the kill"
    start = time.monotonic()
    assert host.run(f"kill -KILL {before}").rc == 0
    while time.monotonic() - start < 30:
        now = main_pid(host, unit)
        if now not in ("", "0", before) and serves(host, probe):
            break
        time.sleep(0.2)
    elapsed = time.monotonic() - start
    assert main_pid(host, unit) not in ("", "0", before), f"{unit} did not come back"
    assert elapsed <= BACK_WITHIN_S, f"{unit} served again after {elapsed:.1f} s"
    # The next test finds the stack settled: every process up, not starting.
    assert wait_settled(host, unit)
