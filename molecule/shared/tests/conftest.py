"""Fixtures of the Molecule verify step, shared by every stack's scenario.

Every request is sent from inside the test host to 127.0.0.1, through nginx,
the way a user's browser would reach it: http://127.0.0.1, or with TLS on
https://localhost (resolved to 127.0.0.1), trusting only the site's own
self-signed certificate.
"""
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field

import pytest
import testinfra

APP = "mysite"
# Set from the scenario's variables before any test runs (see `site`).
SITE = {"tls": False}
CA_FILE = f"/etc/nginx/tls/{APP}.crt"


def site_url(path, scheme="http"):
    """The URL a user reaches `path` at; scheme "ws" gives the WebSocket URL."""
    if SITE["tls"]:
        return f"{scheme}s://localhost{path}"
    return f"{scheme}://127.0.0.1{path}"


def curl_options():
    """curl options that reach the site: the CA of its certificate, when TLS is on."""
    return ["--cacert", CA_FILE, "--resolve", "localhost:443:127.0.0.1"] if SITE["tls"] else []


def probe_tls(connect=False):
    """The same for the test tools wsprobe and loadgen: the CA file, and with
    `connect` (loadgen's) the address that localhost stands for."""
    if not SITE["tls"]:
        return []
    return ["--cafile", CA_FILE, *(["--connect", "127.0.0.1"] if connect else [])]


@dataclass
class Response:
    status: int
    headers: dict = field(default_factory=dict)
    body: str = ""

    def json(self):
        return json.loads(self.body)


def fetch(host, path, headers=None, timeout=15):
    """GET site_url(path) over HTTP/1.1 inside the host; status 0 means no HTTP answer."""
    cmd = ["curl", "-sS", "-i", "--http1.1", "--max-time", str(timeout), *curl_options(), site_url(path)]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    out = host.run(shlex.join(cmd))
    if out.rc != 0:
        return Response(status=0, body=out.stderr)
    head, _, body = out.stdout.replace("\r\n", "\n").partition("\n\n")
    lines = head.split("\n")
    parsed = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        parsed.setdefault(name.strip().lower(), []).append(value.strip())
    return Response(status=int(lines[0].split()[1]), headers=parsed, body=body)


def poll(check, deadline_s, interval_s=1.0):
    """check()'s first truthy result, asking until deadline_s seconds have passed; else that last falsy one."""
    end = time.monotonic() + deadline_s
    while True:
        value = check()
        if value or time.monotonic() > end:
            return value
        time.sleep(interval_s)


def wait_healthy(host, deadline_s=60):
    return poll(lambda: fetch(host, "/healthz", timeout=5).status == 200, deadline_s)


def all_running(host, pattern="", deadline_s=30):
    """Every Supervisor process (matching pattern, e.g. 'GROUP:*') that is not
    deliberately stopped (a Daphne program's group that does not serve) is
    RUNNING within deadline_s, and one is."""
    def check():
        lines = host.run(f"supervisorctl status {pattern}").stdout.splitlines()
        running = [line for line in lines if " RUNNING " in line]
        return bool(running) and all(" RUNNING " in line or " STOPPED " in line for line in lines)
    return poll(check, deadline_s, 0.5)


def daphne_serving(host):
    """The Daphne program's group that serves (blue or green): the one its socket link names."""
    target = host.run(f"readlink /srv/{APP}/sockets/{APP}-daphne.sock").stdout.strip()
    assert target in (f"{APP}-daphne-blue.sock", f"{APP}-daphne-green.sock"), target
    return target[len(f"{APP}-daphne-"):-len(".sock")]


LOAD_CODES, LOAD_LOG_MARK = "/tmp/load-codes", "/tmp/load-error-log-offset"
LOAD_MAX_TIME = 30
NGINX_ERROR_LOG = "/var/log/nginx/error.log"


def start_load(host, path, per_second=20, seconds=150):
    """GET `path` through nginx, per_second times a second, until stop_load or
    `seconds` at most (loadgen.py, in the host): each request on a connection
    of its own, over HTTP/1.1, started on time however long the ones before
    take; each answer's status goes to a file, with an exit code, the time
    taken and what failed. Returns its pid.
    A request gets 30 s: on a test host that shares two vCPUs with another
    scenario's, a slow answer is not a failed one."""
    command = shlex.join(["loadgen", *probe_tls(connect=True), "--per-second", str(per_second), "--seconds", str(seconds),
                          "--max-time", str(LOAD_MAX_TIME), site_url(path), LOAD_CODES])
    # Where nginx's error log ends now: stop_load prints what follows.
    mark = f"(stat -c %s {NGINX_ERROR_LOG} || echo 0) > {LOAD_LOG_MARK} 2>/dev/null"
    out = host.run(f"{mark}; rm -f {LOAD_CODES} {LOAD_CODES}.stop; nohup timeout {seconds + LOAD_MAX_TIME + 5} "
                   f"{command} > /dev/null 2>&1 & echo $!")
    assert out.rc == 0, out.stderr
    return out.stdout.strip()


def stop_load(host, pid):
    """The statuses the load saw, by count, once the requests under way have
    finished: "200", or for any other answer the whole line (status, exit
    code, time, error), so that a failure says what happened; nginx's
    error log of the load's time comes with any answer but 200."""
    host.run(f"touch {LOAD_CODES}.stop")
    assert poll(lambda: host.run(f"kill -0 {pid}").rc != 0, LOAD_MAX_TIME + 10, 0.5), "the load generator did not stop"
    counts = {}
    for line in host.file(LOAD_CODES).content_string.splitlines():
        key = "200" if line.split(" ", 1)[0] == "200" else line.strip()
        counts[key] = counts.get(key, 0) + 1
    if set(counts) - {"200"}:
        counts["nginx error.log"] = load_error_log(host, 40)
    return counts


def load_error_log(host, lines=1000):
    """The last `lines` lines nginx's error log gained since start_load."""
    mark = host.file(LOAD_LOG_MARK).content_string.strip() or "0"
    return host.run(f"tail -c +{int(mark) + 1} {NGINX_ERROR_LOG} | tail -n {lines}").stdout


HOLD = "/tmp/ws-hold"


def start_hold(host, sockets=50):
    """Hold `sockets` WebSockets to the echo consumer through nginx, in the
    background, reconnecting each one closed with 1001 (wsprobe hold)."""
    command = shlex.join(["wsprobe", *probe_tls(), "hold", site_url("/ws/echo/", "ws"), HOLD, "--sockets", str(sockets)])
    out = host.run(f"rm -f {HOLD} {HOLD}.stop {HOLD}.out; nohup {command} > {HOLD}.out 2>&1 &")
    assert out.rc == 0, out.stderr
    assert poll(lambda: hold_status(host).get("first_open") == sockets, 30), hold_status(host)


def hold_status(host):
    """What the hold saw so far: first_open (of the sockets it opened first), closes, reconnects."""
    text = host.run(f"cat {HOLD} 2>/dev/null").stdout
    return json.loads(text) if text.strip() else {}


def stop_hold(host):
    """The hold's result, after one round trip on every socket it holds."""
    host.run(f"touch {HOLD}.stop")
    assert poll(lambda: host.file(f"{HOLD}.out").content_string.strip() != "", 60), "the hold did not stop"
    return json.loads(host.file(f"{HOLD}.out").content_string)


def wsprobe(host, *args):
    out = host.run(shlex.join(["wsprobe", *probe_tls(), *args]))
    try:
        return json.loads(out.stdout)
    except ValueError:
        return {"ok": False, "error": out.stdout + out.stderr}


def demo_copy(tmp_path, marker=None):
    """A copy of the demo project to deploy as a new release; with `marker`
    (a URL path such as /release-marker/), one more view there answers a text
    naming the copy. Returns (the copy's directory, that text)."""
    demo = pathlib.Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "demo"
    copy = tmp_path / "demo"
    shutil.copytree(demo, copy, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
    text = f"release {uuid.uuid4().hex}"
    if marker:
        with open(copy / "mysite" / "urls.py", "a", encoding="utf-8") as urls:
            urls.write("\nfrom django.http import HttpResponse\n\n"
                       f"urlpatterns += [path({marker[1:]!r}, lambda request: HttpResponse({text!r}))]\n")
    return copy, text


def json_vars(**values):
    """Extra variables for run_site as JSON: newlines and quotes arrive exactly."""
    return ["-e", json.dumps(values)]


def run_site(*extra):
    """Run the real site.yml from the controller against this scenario's host."""
    project = os.environ["MOLECULE_PROJECT_DIRECTORY"]
    return subprocess.run(
        ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"],
         os.path.join(project, "site.yml"), *extra],
        capture_output=True, text=True, timeout=600, check=False,
        # JSON results: messages are not re-wrapped or re-quoted as YAML would.
        env={**os.environ, "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"},
    )


def changed_tasks(output, host=""):
    """The names of the tasks a run's output reports changed (on `host` when
    given): what a failed `changed=0` says, as Molecule's idempotence step does."""
    changed, task = [], None
    for line in re.sub(r"\x1b\[[0-9;]*m", "", output).splitlines():
        if line.startswith("TASK ["):
            task = line[len("TASK ["):].rsplit("]", 1)[0]
        elif line.startswith(f"changed: [{host}") and task and task not in changed:
            changed.append(task)
    return changed


@pytest.fixture(scope="session")
def host_vars():
    """The scenario's inventory variables (mode, server) as Ansible sees them."""
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    name = f"django-stack-{os.environ['MOLECULE_SCENARIO_NAME']}"
    host = testinfra.get_host(f"ansible://{name}?ansible_inventory={inventory}")
    return host.ansible.get_variables()


GUNICORN = [f"{APP}-gunicorn.socket", f"{APP}-gunicorn.service"]
WEBSOCKET = [f"{APP}-websocket.socket", f"{APP}-websocket.service"]
UWSGI = [f"{APP}-uwsgi.socket", f"{APP}-uwsgi.service"]
SUPERVISOR = ["supervisor.service"]

# For each stack: the units that must be active and enabled, and the units of
# the other stacks, which must not run.
STACKS = {
    ("wsgi", "gunicorn"): {"units": GUNICORN + WEBSOCKET, "retired": UWSGI + SUPERVISOR},
    ("wsgi", "uwsgi"): {"units": UWSGI + WEBSOCKET, "retired": GUNICORN + SUPERVISOR},
    ("asgi", "gunicorn"): {"units": GUNICORN, "retired": WEBSOCKET + UWSGI + SUPERVISOR},
    ("asgi", "daphne"): {"units": SUPERVISOR, "retired": GUNICORN + WEBSOCKET + UWSGI},
}


def describe_stack(mode, server):
    return {"mode": mode, "server": server, **STACKS[(mode, server)]}


def app_server_processes(host, stack):
    """(pid, user, command) of every app server process: masters and workers."""
    if stack["server"] == "daphne":
        pids = host.run("pgrep -f 'bin/daphne --endpoint'").stdout.split()
    else:
        pids = []
        for unit in stack["units"]:
            if unit.endswith(".service"):
                main = host.run(f"systemctl show -p MainPID --value {unit}").stdout.strip()
                children = host.run(f"pgrep -P {main}").stdout.split() if main not in ("", "0") else []
                pids += [main, *children] if main not in ("", "0") else []
    processes = []
    for pid in pids:
        out = host.run(f"ps -o user=,args= --pid {pid}").stdout.strip()
        if out:
            user, _, args = out.partition(" ")
            processes.append((int(pid), user, args.strip()))
    return processes


def exposure(host, unit):
    """(score, verdict line) of `systemd-analyze security UNIT`: lower is better hardened."""
    verdict = host.run(f"systemd-analyze security {unit}").stdout.strip().splitlines()[-1]
    return float(verdict.split("exposure level for")[1].split(":")[1].split()[0]), verdict


def once(suite):
    """Marks a test module that does not depend on the stack: it runs in one scenario only.

    That scenario names the module in its molecule.yml (verifier env
    DJANGO_STACK_ONCE, a space-separated list), so the checks run once per suite
    instead of once per stack.
    """
    chosen = os.environ.get("DJANGO_STACK_ONCE", "").split()
    return pytest.mark.skipif(suite not in chosen, reason=f"runs in the scenario whose DJANGO_STACK_ONCE names {suite}")


# Modules that change the deployed host, in the order they run after every other test.
LAST = ["test_release_switch.py", "test_config_changes.py", "test_switch.py"]


def pytest_collection_modifyitems(items):
    """Tests that redeploy run last, test_switch.py at the very end: every other
    test must see the host as the scenario deployed it."""
    items.sort(key=lambda item: LAST.index(item.path.name) + 1 if item.path.name in LAST else 0)


def only_for_server(server):
    """An autouse fixture for a test module that concerns one server only."""

    @pytest.fixture(autouse=True)
    def only(stack):
        if stack["server"] != server:
            pytest.skip(f"{server} stack only")

    return only


@pytest.fixture(scope="module")
def stack(host_vars):
    """Which stack the scenario deployed, and the units it must (not) run."""
    return describe_stack(host_vars.get("mode", "wsgi"), host_vars.get("server", "gunicorn"))


@pytest.fixture(scope="session", autouse=True)
def site(host_vars):
    """Whether the scenario serves the site over TLS; fetch and wsprobe follow it."""
    SITE["tls"] = bool(host_vars.get("nginx_tls_enabled", False))
    return SITE
