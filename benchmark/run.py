#!/usr/bin/env python3
"""Side-by-side load benchmark of every stack, on one local Debian test host.

    scripts/benchmark.sh [STACK ...]      (e.g. wsgi-gunicorn asgi-daphne; default: all four)
    scripts/benchmark.sh --releases [STACK ...]   (the release figures alone, added to
                                                   the results of an earlier full run)
    scripts/benchmark.sh --second-runs [STACK ...]  (the second run over both transports
                                                     alone, likewise)
    scripts/benchmark.sh --broadcasts [STACK ...]   (the broadcasts alone, in rounds,
                                                     written over those of an earlier full run)
    scripts/benchmark.sh --compression [STACK ...]  (the broadcast with WebSocket compression
                                                     off and on, in rounds, on the Uvicorn stacks)
    scripts/benchmark.sh --explain                 (where the tiny view's time goes and what
                                                    worker recycling costs: benchmark/explain.py)

In each of BENCH_ROUNDS rounds (3 unless given) it takes every stack in turn,
so that the rounds of one stack are spread over the run as the others' are:
it converges the host with site.yml (a fresh host once, then a switch from the
stack before) and runs it again twice (the second run, changed=0): once through
`docker exec` as the tests do, once over SSH as users deploy (the host's sshd
on a port published on 127.0.0.1, a key made for this run, Ansible's own SSH
options: ControlMaster with ControlPersist, and pipelining from ansible.cfg);
then it measures from inside the
host, against 127.0.0.1 only, with wrk (Debian's package) at 64 connections:
  - three endpoints through nginx: a tiny view, a view that waits 20 ms on I/O
    (the async view on ASGI stacks, the sync one on WSGI stacks), the static file;
  - the I/O view on the same server with the same tuned settings, hit directly
    on a TCP port (nginx's overhead), and the same server with its
    out-of-the-box defaults (the gain from tuning);
  - nginx answering `return 200` (the ceiling of the host);
  - the p99 latency of a WebSocket broadcast to 1,000 subscribers (from 4
    client processes) through nginx, on the channel layer the roles default to
    (channels-redis' pub/sub layer), then on its core layer
    (django_app_channel_layer=core, one more converge): to the demo's chat, and
    to the same chat with Channels' own dispatch (a database clean-up before
    every message, which the demo's consumer skips);
  - nginx answering `return 200` (the ceiling of the host), once a round;
and in the first round only:
  - WebSockets held through nginx (ramp to 10,000, bounded);
  - releases while 20 requests a second arrive through nginx: the wall time of
    site.yml for a code-only release and for a release with a new dependency,
    and of a rollback, each with the requests that did not get a 200.
Each repeated figure is reported as the median of its rounds and their range
(lowest to highest); RESULTS.md orders the stacks by each figure and says which
differences are larger than that spread (the ranges do not overlap), and which
targets are met. Writes benchmark/results.json (every round's figures, with
the machine it ran on), benchmark/RESULTS.md and benchmark/results.png. Not
part of the tests: numbers vary by machine.
"""
import datetime
import json
import os
import pathlib
import platform
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
HOST = os.environ.get("BENCH_HOST", "django-stack-bench")
DURATION = int(os.environ.get("BENCH_SECONDS", "8"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = 64
WS_TARGET = int(os.environ.get("BENCH_WS_TARGET", "10000"))
STACKS = ["wsgi-gunicorn", "wsgi-uwsgi", "asgi-gunicorn", "asgi-daphne"]
TINY = "/sync/?ms=0"
APP = "mysite"
# The live release's virtualenv, through the `current` link.
VENV = f"/srv/{APP}/current/venv/bin"


def sh(command, check=True, timeout=600):
    """Runs a shell command inside the test host."""
    out = subprocess.run(["docker", "exec", HOST, "bash", "-c", command],
                         capture_output=True, text=True, timeout=timeout, check=False)
    if check and out.returncode != 0:
        raise RuntimeError(f"{command}\n{out.stdout}\n{out.stderr}")
    return out.stdout


def converge(inventory, mode, server, *extra):
    started = time.monotonic()
    out = subprocess.run(["ansible-playbook", "-i", inventory, str(ROOT / "site.yml"),
                          "-e", f"mode={mode}", "-e", f"server={server}", *extra],
                         capture_output=True, text=True, check=False, cwd=ROOT)
    elapsed = round(time.monotonic() - started, 1)
    if out.returncode != 0:
        raise RuntimeError(out.stdout[-3000:])
    changed = int(re.search(r"changed=(\d+)", out.stdout.split("PLAY RECAP")[-1]).group(1))
    return {"seconds": elapsed, "changed": changed}


def wrk(url):
    """Requests/s and latency percentiles (ms) of one wrk run (URLs name their port:
    the test host has no /etc/services)."""
    out = sh(f"wrk -t2 -c{CONNECTIONS} -d{DURATION}s --latency --timeout 10s '{url}'", timeout=DURATION + 60)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def ms(label):
        value = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        number, unit = float(value.group(1)), value.group(2)
        return round(number / 1000 if unit == "us" else number * 1000 if unit == "s" else number, 2)

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": round(rps, 1), "p50_ms": ms("50"), "p99_ms": ms("99"),
            "non_2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": socket_errors.group(1).strip() if socket_errors else ""}


def alternating(pair, number):
    """The two measurements of a pair in the order of round `number`: as given
    in even rounds, reversed in odd ones, so neither always runs first."""
    return pair[::1 if number % 2 == 0 else -1]


def wait_port(port):
    sh(f"for i in $(seq 1 60); do curl -s -o /dev/null 127.0.0.1:{port}/healthz && exit 0; sleep 0.5; done; exit 1")


def with_server(name, command, port, paths):
    """Runs `command` as the app user in a transient unit, measures each path, stops it."""
    sh(f"systemctl stop {name} 2>/dev/null; systemctl reset-failed {name} 2>/dev/null; "
       f"systemd-run --unit {name} -p User={APP} -p Group={APP} -p EnvironmentFile=/etc/{APP}/env "
       f"-p WorkingDirectory=/srv/{APP}/current/app -p LimitNOFILE=16384 {command}", check=True)
    try:
        wait_port(port)
        return {path: wrk(f"http://127.0.0.1:{port}{path}") for path in paths}
    finally:
        sh(f"systemctl stop {name}", check=False)


def ini(key):
    return re.search(rf"^{key} = (\S+)", sh(f"cat /etc/{APP}/{APP}-uwsgi.ini"), re.M).group(1)


def direct_and_default(mode, server, io_path):
    """The tiny and I/O views on the tuned server hit directly, and the I/O view on
    the server started with its defaults."""
    gunicorn_conf = f"/etc/{APP}/{APP}-gunicorn.conf.py"
    if server == "gunicorn":
        tuned = f"{VENV}/gunicorn --config {gunicorn_conf} --bind 127.0.0.1:9001"
        default = (f"{VENV}/gunicorn --bind 127.0.0.1:9002 {APP}.wsgi" if mode == "wsgi" else
                   f"{VENV}/gunicorn --bind 127.0.0.1:9002 -k uvicorn_worker.UvicornWorker {APP}.asgi:application")
    elif server == "uwsgi":
        tuned = (f"{VENV}/uwsgi --strict --master --need-app --module {APP}.wsgi:application "
                 f"--chdir /srv/{APP}/current/app --single-interpreter --enable-threads --buffer-size 32768 "
                 f"--processes {ini('processes')} --threads {ini('threads')} --disable-logging "
                 # The served instance's recycling too: it costs throughput and
                 # tail (all workers once recycled together), and is no part of
                 # what nginx costs.
                 f"--max-requests {ini('max-requests')} --max-requests-delta {ini('max-requests-delta')} "
                 f"--harakiri {ini('harakiri')} --http-socket 127.0.0.1:9001")
        default = f"{VENV}/uwsgi --http-socket 127.0.0.1:9002 --module {APP}.wsgi:application --chdir /srv/{APP}/current/app"
    else:  # daphne: its program's processes serve on unix sockets; the same
        # number, with the same options, share one TCP socket here (as Supervisor
        # hands a socket over), so that wrk reaches them.
        program = sh(f"cat /etc/supervisor/conf.d/{APP}-daphne.conf")
        processes = int(re.search(r"^numprocs=(\d+)", program, re.M).group(1))
        options = re.search(r"--proxy-headers(.*?)websocket_drain:application", program, re.S).group(1).split()
        # The app through websocket_drain.py, as the program serves it.
        launcher = ("import os, socket, subprocess, sys; s = socket.create_server(('127.0.0.1', 9001), backlog=4096); "
                    f"env = dict(os.environ, DJANGO_STACK_ASGI_APPLICATION='{APP}.asgi:application', "
                    f"PYTHONPATH=os.environ.get('PYTHONPATH', '') + ':/srv/{APP}/lib'); "
                    f"ps = [subprocess.Popen(['{VENV}/daphne', '--endpoint', f'fd:fileno={{s.fileno()}}', "
                    f"*{options!r}, 'websocket_drain:application'], pass_fds=[s.fileno()], env=env) "
                    f"for _ in range({processes})]; sys.exit(max(p.wait() for p in ps))")
        tuned = f"{VENV}/python -c {shlex.quote(launcher)}"
        default = f"{VENV}/daphne -b 127.0.0.1 -p 9002 {APP}.asgi:application"
    paths = [TINY, io_path]
    direct = with_server("bench-direct", tuned, 9001, paths)
    return direct[TINY], direct[io_path], with_server("bench-default", default, 9002, [io_path])[io_path]


def ceiling():
    sh("printf 'server { listen 127.0.0.1:8099; access_log off; return 200 \"ok\"; }\\n' "
       "> /etc/nginx/conf.d/bench-ceiling.conf && nginx -t -q && systemctl reload nginx && sleep 1")
    try:
        return wrk("http://127.0.0.1:8099/")
    finally:
        sh("rm -f /etc/nginx/conf.d/bench-ceiling.conf && systemctl reload nginx")


def websocket_hold():
    hold = json.loads(sh(f"ulimit -n 20000; python3 /usr/local/bin/wsload hold ws://127.0.0.1/ws/echo/ "
                         f"--target {WS_TARGET} --budget 120", timeout=400))
    sh("sleep 5")  # let the servers close the 10,000 sockets
    return hold


SUBSCRIBERS, MESSAGES = 1000, 20
# The subscribers' sockets are spread over this many client processes, as they
# are over browsers: one process reading all 1,000 frames in turn adds its own
# time per frame to the latency it measures.
CLIENTS = 4
# The demo's chat, and the same chat with Channels' own dispatch (which runs
# Django's close_old_connections() through the one sync thread before every
# message; the demo's consumer skips it for channel-layer messages).
CHAT, CHAT_CHANNELS_DISPATCH = "/ws/chat/bench/", "/ws/chat-channels-dispatch/bench/"


def broadcast_record(**measured):
    """A broadcast's entry: what was sent, and what wsload measured (or the
    error that stopped it); a broadcast that broke received none of its messages."""
    return {"subscribers": SUBSCRIBERS, "messages": MESSAGES, "clients": CLIENTS, "received": 0,
            "expected": SUBSCRIBERS * MESSAGES, **measured}


def websocket_broadcast(path=CHAT):
    """The latency of a broadcast through nginx to the chat at `path`."""
    return broadcast_record(**json.loads(sh(f"python3 /usr/local/bin/wsload broadcast ws://127.0.0.1{path} "
                                            f"--subscribers {SUBSCRIBERS} --messages {MESSAGES} --clients {CLIENTS}",
                                            timeout=300)))


def broadcasts(inventory, mode, server, number):
    """One round's broadcasts of a stack converged with the roles' defaults: on
    the pub/sub layer (the default) the demo's chat; then, after one more run
    that switches the settings to the core layer (the next converge switches
    them back), the demo's chat and the same chat with Channels' dispatch, back
    to back (which one first alternating with the round)."""
    sample = {"websocket_broadcast_pubsub": websocket_broadcast()}
    order = [("websocket_broadcast", CHAT), ("websocket_broadcast_channels_dispatch", CHAT_CHANNELS_DISPATCH)]
    try:
        converge(inventory, mode, server, "-e", "django_app_channel_layer=core")
        sample.update({name: websocket_broadcast(path) for name, path in alternating(order, number)})
    except RuntimeError as failure:  # recorded, and the other figures still count
        sample.update({name: broadcast_record(error=str(failure)[-500:]) for name, _ in order})
    return sample


RELEASE_LOAD = "/tmp/bench-release-codes"


def demo_copy(base, name, extra_requirement=None):
    """The demo with one more view naming the copy (and one more requirement)."""
    copy = base / name
    shutil.copytree(ROOT / "demo", copy, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
    with open(copy / "mysite" / "urls.py", "a", encoding="utf-8") as urls:
        urls.write("\nfrom django.http import HttpResponse\n\n"
                   f"urlpatterns += [path('release-marker/', lambda request: HttpResponse({name!r}))]\n")
    if extra_requirement:
        with open(copy / "requirements.txt", "a", encoding="utf-8") as requirements:
            requirements.write(f"\n{extra_requirement}\n")
    return copy


def timed_release(inventory, mode, server, extra, marker):
    """One site.yml run while 20 requests a second reach /healthz through nginx
    (each in the background, so a slow answer does not slow the rate): its wall
    time, the requests sent and those not answered 200, and whether the release
    is served afterwards (its view answers `marker`; without one, it is gone)."""
    curl = f"curl -s -o /dev/null -w '%{{http_code}}\\n' --max-time 10 http://127.0.0.1:80/healthz >> {RELEASE_LOAD}"
    load = f"while [ ! -e {RELEASE_LOAD}.stop ]; do {curl} & sleep 0.05; done; wait"
    pid = sh(f"rm -f {RELEASE_LOAD} {RELEASE_LOAD}.stop; "
             f"nohup timeout 900 bash -c {shlex.quote(load)} >/dev/null 2>&1 & echo $!").strip()
    started = time.monotonic()
    out = subprocess.run(["ansible-playbook", "-i", inventory, str(ROOT / "site.yml"),
                          "-e", f"mode={mode}", "-e", f"server={server}", *extra],
                         capture_output=True, text=True, check=False, cwd=ROOT)
    seconds = round(time.monotonic() - started, 1)
    sh(f"touch {RELEASE_LOAD}.stop; while kill -0 {pid} 2>/dev/null; do sleep 0.5; done")
    if out.returncode != 0:
        raise RuntimeError(out.stdout[-3000:] + out.stderr[-2000:])
    codes = sh(f"cat {RELEASE_LOAD}").split()
    view = sh("curl -s -w ' %{http_code}' http://127.0.0.1:80/release-marker/", check=False).rsplit(" ", 1)
    served = view == [marker, "200"] if marker else view[-1] == "404"
    return {"seconds": seconds, "requests": len(codes), "failed": sum(code != "200" for code in codes),
            "served": served}


def releases(inventory, mode, server):
    """A code-only release, a release with a new dependency, then a rollback by
    name to the release live before (the demo's), each under load."""
    live = sh(f"readlink /srv/{APP}/current").strip().rsplit("/", 1)[1]
    with tempfile.TemporaryDirectory() as tmp:
        base = pathlib.Path(tmp)
        code_only = timed_release(inventory, mode, server,
                                  ["-e", f"django_app_src={demo_copy(base, 'code-only')}"], "code-only")
        dependency = timed_release(inventory, mode, server,
                                   ["-e", f"django_app_src={demo_copy(base, 'new-dependency', 'six==1.17.0')}"],
                                   "new-dependency")
    rollback = timed_release(inventory, mode, server, ["-e", "django_app_rollback=true",
                                                       "-e", f"django_app_release={live}"], "")
    return {"code_only": code_only, "new_dependency": dependency, "rollback": rollback}


def machine():
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                         capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu, "vcpus": int(sh("nproc")), "memory_mb": int(sh("awk '/MemTotal/ {print $2}' /proc/meminfo")) // 1024,
            "kernel": platform.release(), "nginx": sh("dpkg-query -W -f='${Version}' nginx"),
            # The test host's release: TEST_HOST_RELEASE picks it (bookworm unless given).
            "system": sh(". /etc/os-release && echo \"$PRETTY_NAME\"").strip(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_host():
    """A fresh test host with wrk, the WebSocket load tool and an sshd that
    lets in root with a key made for this run only. Returns the inventories
    that reach it through `docker exec` and over SSH: the same host, by the
    same name, as root, with the same settings from ansible.cfg."""
    subprocess.run(["docker", "rm", "-f", HOST], capture_output=True, check=False)
    ssh_port = free_port()
    subprocess.run(["bash", "-c", f". {ROOT}/scripts/test-host.sh && start_test_host {HOST} '' '' {ssh_port}"],
                   check=True)
    sh("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk python3-websockets "
       "openssh-server >/dev/null && systemctl enable --now ssh >/dev/null 2>&1")
    subprocess.run(["docker", "cp", str(ROOT / "benchmark" / "wsload.py"), f"{HOST}:/usr/local/bin/wsload"], check=True)
    keys = pathlib.Path(tempfile.mkdtemp(prefix="bench-ssh-"))
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / "id")], check=True)
    sh("install -d -m 700 /root/.ssh")
    subprocess.run(["docker", "cp", str(keys / "id.pub"), f"{HOST}:/root/.ssh/authorized_keys"], check=True)
    sh("chown root:root /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys")
    common = {"ansible_python_interpreter": "/usr/bin/python3"}
    ssh = dict(common, ansible_connection="ssh", ansible_host="127.0.0.1", ansible_port=ssh_port, ansible_user="root",
               ansible_ssh_private_key_file=str(keys / "id"),
               # A host key first seen now, kept for this run only.
               ansible_ssh_extra_args=f"-o UserKnownHostsFile={keys / 'known_hosts'} -o StrictHostKeyChecking=accept-new")
    return (inventory_file(dict(common, ansible_connection="community.docker.docker")), inventory_file(ssh))


def inventory_file(host_vars):
    inventory = tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False)
    inventory.write(json.dumps({"django_servers": {"hosts": {HOST: host_vars}}}))
    inventory.close()
    return inventory.name


def main_releases(stacks):
    """The release figures alone, on a fresh host, written beside an earlier full run's."""
    out = ROOT / "benchmark"
    results = json.loads((out / "results.json").read_text())
    inventory, _ = start_host()
    measured = {"stacks": {}}
    for stack in stacks:
        mode, server = stack.split("-")
        print(f"==> {stack}: releases", flush=True)
        converge(inventory, mode, server)
        measured["stacks"][stack] = releases(inventory, mode, server)
        print(json.dumps(measured["stacks"][stack]), flush=True)
    measured["machine"] = machine()
    results["releases"] = measured
    write_beside(results)


def write_beside(results):
    """results.json and the RESULTS.md made from it."""
    out = ROOT / "benchmark"
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "RESULTS.md").write_text(report(results))
    print(f"wrote {out}/results.json, RESULTS.md")


def second_run_pair(docker, ssh, stack, number):
    """The second run of `stack` through each transport, back to back; which
    goes first alternates with the round, so neither always runs on a host
    the other has just warmed."""
    mode, server = stack.split("-")
    return {name: converge(inventory, mode, server)
            for name, inventory in alternating([("docker_exec", docker), ("ssh", ssh)], number)}


def main_second_runs(stacks):
    """The second run over both transports alone, on a fresh host, BENCH_ROUNDS
    pairs per stack, written beside an earlier full run's results."""
    results = json.loads((ROOT / "benchmark" / "results.json").read_text())
    docker, ssh = start_host()
    pairs = {stack: [] for stack in stacks}
    for stack in stacks:
        mode, server = stack.split("-")
        print(f"==> {stack}: second runs", flush=True)
        converge(docker, mode, server)
        for number in range(ROUNDS):
            pairs[stack].append(second_run_pair(docker, ssh, stack, number))
            print(json.dumps(pairs[stack][-1]), flush=True)
    results["second_runs"] = second_runs(pairs, ROUNDS, machine())
    write_beside(results)


def in_rounds(stacks, label, measure):
    """A fresh host, then BENCH_ROUNDS rounds each taking every stack in turn:
    measure(inventory, mode, server, number) for each. Returns the earlier full
    run's results (to write the new figures beside) and each stack's samples."""
    results = json.loads((ROOT / "benchmark" / "results.json").read_text())
    inventory, _ = start_host()
    samples = {stack: [] for stack in stacks}
    for number in range(ROUNDS):
        print(f"==> round {number + 1} of {ROUNDS}", flush=True)
        for stack in stacks:
            mode, server = stack.split("-")
            print(f"==> {stack}: {label}", flush=True)
            samples[stack].append(measure(inventory, mode, server, number))
            print(json.dumps(samples[stack][-1]), flush=True)
    return results, samples


def main_broadcasts(stacks):
    """The broadcast figures alone, in rounds, written over an earlier full run's."""
    def measure(inventory, mode, server, number):
        converge(inventory, mode, server)
        return broadcasts(inventory, mode, server, number)

    results, samples = in_rounds(stacks, "broadcasts", measure)
    for stack in stacks:
        for name in BROADCASTS + ("channels_dispatch_vs_demo",):
            results["stacks"][stack].pop(name, None)
        results["stacks"][stack].update(broadcast_cells(samples[stack]))
    results["broadcasts"] = {"machine": machine(), "rounds": ROUNDS}
    write_beside(results)


# The stacks whose WebSockets Uvicorn workers serve (Daphne never compresses).
UVICORN_STACKS = ["wsgi-gunicorn", "wsgi-uwsgi", "asgi-gunicorn"]


def main_compression(stacks):
    """The broadcast with WebSocket compression off (the roles' default) and on
    (gunicorn_websocket_per_message_deflate=true), in rounds, the two back to
    back (which one first alternating with the round); written beside an
    earlier full run's results."""
    def measure(inventory, mode, server, number):
        order = [("off", []), ("on", ["-e", "gunicorn_websocket_per_message_deflate=true"])]
        pair = {}
        for name, extra in alternating(order, number):
            converge(inventory, mode, server, *extra)
            pair[name] = websocket_broadcast()
        return pair

    results, pairs = in_rounds(stacks, "compression off and on", measure)
    results["compression"] = compression(pairs, ROUNDS, machine())
    write_beside(results)


def compression(pairs, rounds, where):
    """results.json's compression: per stack, the broadcast with compression off
    and on, and on's p99 over off's (within a round, then over the rounds)."""
    return {"machine": where, "rounds": rounds, "stacks": {stack: {
        "off": broadcast_cell([p["off"] for p in runs]), "on": broadcast_cell([p["on"] for p in runs]),
        "on_vs_off": p99_ratio(runs, "on", "off")} for stack, runs in pairs.items()}}


def compression_section(measured):
    """The broadcast with and without WebSocket compression, side by side."""
    m, ms = measured["machine"], lambda v: f"{v:g}"
    lines = ["", "## WebSocket compression (permessage-deflate) on the Uvicorn stacks", "",
             f"Measured on {m['date']} ({m['cpu']}, {m['vcpus']} vCPUs, {m.get('system', '')}), {measured['rounds']} "
             "rounds, each taking every stack in turn (`--compression`): the broadcast to 1,000 subscribers on the "
             "roles' defaults, with Uvicorn's per-message deflate off (the default) and on "
             "(`gunicorn_websocket_per_message_deflate=true`; the clients offer it, as browsers do), back to back, "
             "which one first alternating. p50 / p99 ms [range of the p99] (received of expected); the ratio is "
             "taken within a round, then over the rounds.", "",
             "| stack | compression off | compression on | on / off, p99 |", "|---|---|---|---|"]
    for name, s in measured["stacks"].items():
        ratio = figure(s["on_vs_off"], lambda v: f"{v:.2f}x") if s["on_vs_off"] else "no round with both"
        lines.append(f"| {name} | {cast(s['off'])} | {cast(s['on'])} | {ratio} |")
    lines.append("")
    for name, s in measured["stacks"].items():
        lines.append(f"- {name}, p99 ms: " + ranking({"on": s["on"]["p99_ms"], "off": s["off"]["p99_ms"]}, ms))
    return lines


def second_runs(pairs, rounds, where):
    """results.json's second_runs: per stack, each transport's second runs and
    SSH's time as a share of docker exec's (within a pair, then over them)."""
    return {"machine": where, "rounds": rounds, "stacks": {stack: {
        **{name: dict(spread([p[name]["seconds"] for p in runs]), changed=max(p[name]["changed"] for p in runs))
           for name in ("docker_exec", "ssh")},
        "ssh_vs_docker_exec": spread([p["ssh"]["seconds"] / p["docker_exec"]["seconds"] for p in runs], 2)}
        for stack, runs in pairs.items()}}


def measure(inventories, stack, number, fresh_host):
    """One round of one stack: its figures, and in the first round the ones taken once."""
    mode, server = stack.split("-")
    inventory, first_round = inventories[0], number == 0
    print(f"==> {stack}", flush=True)
    sample = {"converge": converge(inventory, mode, server)}
    sample["converge"]["fresh_host" if fresh_host else "switch_from_previous"] = True
    sample["second_runs"] = second_run_pair(*inventories, stack, number)
    sample["second_converge"] = sample["second_runs"]["docker_exec"]
    io_path = "/async/?ms=20" if mode == "asgi" else "/sync/?ms=20"
    sample["nginx"] = {"tiny": wrk(f"http://127.0.0.1:80{TINY}"), "io_20ms": wrk(f"http://127.0.0.1:80{io_path}"),
                       "static": wrk("http://127.0.0.1:80/static/mysite/site.css")}
    sample["direct_tiny"], sample["direct_io_20ms"], sample["default_io_20ms"] = direct_and_default(mode, server, io_path)
    if first_round:
        sample["websocket_hold"] = websocket_hold()
    if first_round:
        sample["releases"] = releases(inventory, mode, server)
    sample.update(broadcasts(inventory, mode, server, number))
    print(json.dumps(sample), flush=True)
    return sample


def spread(values, digits=1):
    """The median of a figure's rounds, its range and every round's value."""
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits), "runs": [round(value, digits) for value in values]}


def wrk_cell(runs):
    """One wrk figure over the rounds: median requests/s and latencies, with the
    ranges of requests/s and p99."""
    rps, p99 = spread([run["rps"] for run in runs]), spread([run["p99_ms"] for run in runs], 2)
    return {"rps": rps["median"], "p50_ms": spread([run["p50_ms"] for run in runs], 2)["median"],
            "p99_ms": p99["median"], "rps_range": [rps["min"], rps["max"]], "p99_range": [p99["min"], p99["max"]],
            "non_2xx": sum(run["non_2xx"] for run in runs),
            "socket_errors": [run["socket_errors"] for run in runs if run["socket_errors"]], "runs": runs}


def aggregate(samples):
    """A stack's entry of results.json from its rounds (oldest first)."""
    switches = [s["converge"]["seconds"] for s in samples if not s["converge"].get("fresh_host")]
    entry = {"rounds": len(samples), "converge": samples[0]["converge"],
             "switches": spread(switches) if switches else None,
             "second_converge": dict(spread([s["second_converge"]["seconds"] for s in samples]),
                                     changed=max(s["second_converge"]["changed"] for s in samples)),
             "nginx": {name: wrk_cell([s["nginx"][name] for s in samples]) for name in ("tiny", "io_20ms", "static")}}
    for name in ("direct_tiny", "direct_io_20ms", "default_io_20ms"):
        entry[name] = wrk_cell([s[name] for s in samples])
    # Ratios within a round (both sides measured minutes apart), then over the rounds.
    entry["tuning_gain"] = spread([s["direct_io_20ms"]["rps"] / s["default_io_20ms"]["rps"] for s in samples], 2)
    entry["tuned_via_nginx_vs_default"] = spread([s["nginx"]["io_20ms"]["rps"] / s["default_io_20ms"]["rps"]
                                                  for s in samples], 2)
    entry["nginx_cost"] = spread([1 - s["nginx"]["io_20ms"]["rps"] / s["direct_io_20ms"]["rps"] for s in samples], 3)
    entry["nginx_cost_tiny"] = spread([1 - s["nginx"]["tiny"]["rps"] / s["direct_tiny"]["rps"] for s in samples], 3)
    entry.update(broadcast_cells(samples))
    entry["websocket_hold"] = samples[0]["websocket_hold"]
    return entry


BROADCASTS = ("websocket_broadcast", "websocket_broadcast_channels_dispatch", "websocket_broadcast_pubsub")


def p99_ratio(samples, over, under):
    """The p99 of broadcast `over` over that of `under`, within each sample where
    both have one, then over the samples; None when none has both."""
    ratios = [s[over]["p99_ms"] / s[under]["p99_ms"] for s in samples
              if s.get(over, {}).get("p99_ms") and s.get(under, {}).get("p99_ms")]
    return spread(ratios, 2) if ratios else None


def broadcast_cells(samples):
    """The broadcast figures of a stack over its rounds, and what Channels'
    dispatch costs: its p99 over the demo chat's (p99_ratio)."""
    cells = {name: broadcast_cell([s[name] for s in samples]) for name in BROADCASTS if name in samples[0]}
    ratio = p99_ratio(samples, "websocket_broadcast_channels_dispatch", "websocket_broadcast")
    if ratio:
        cells["channels_dispatch_vs_demo"] = ratio
    return cells


def broadcast_cell(casts):
    """One broadcast figure over the rounds."""
    return {
        "subscribers": casts[0].get("subscribers"), "messages": casts[0].get("messages"),
        "received": sum(c.get("received", 0) for c in casts), "expected": sum(c.get("expected", 0) for c in casts),
        # A broadcast that broke has no latency to count; its losses show
        # in received of expected.
        "p50_ms": spread(p50)["median"] if (p50 := [c["p50_ms"] for c in casts if c.get("p50_ms") is not None]) else None,
        "p99_ms": spread(p99) if (p99 := [c["p99_ms"] for c in casts if c.get("p99_ms") is not None]) else None,
        "runs": casts}


def main(stacks):
    inventories = start_host()
    samples = {stack: [] for stack in stacks}
    ceilings = []
    for number in range(ROUNDS):
        print(f"==> round {number + 1} of {ROUNDS}", flush=True)
        for stack in stacks:
            samples[stack].append(measure(inventories, stack, number, fresh_host=number == 0 and stack == stacks[0]))
        ceilings.append(ceiling())
    results = {"machine": machine(), "duration_s": DURATION, "connections": CONNECTIONS, "rounds": ROUNDS,
               "stacks": {stack: aggregate(samples[stack]) for stack in stacks},
               "ceiling_return_200": wrk_cell(ceilings)}
    results["releases"] = {"machine": results["machine"],
                           "stacks": {stack: samples[stack][0]["releases"] for stack in stacks}}
    results["second_runs"] = second_runs({stack: [s["second_runs"] for s in samples[stack]] for stack in stacks}, ROUNDS,
                                         results["machine"])
    write_beside(results)
    chart(results, ROOT / "benchmark" / "results.png")
    print(f"wrote {ROOT / 'benchmark'}/results.png")


def span(low, high, fmt):
    return f"{fmt(low)}–{fmt(high)}"


def figure(cell, fmt=lambda v: f"{v:.0f}"):
    """A spread as `median [lowest–highest]`."""
    if cell is None:
        return "n/a"
    return f"{fmt(cell['median'])} [{span(cell['min'], cell['max'], fmt)}]"


def rps(cell):
    """A wrk cell as `req/s [range]; p99 ms [range]`."""
    return (f"{cell['rps']:.0f} [{span(*cell['rps_range'], lambda v: f'{v:.0f}')}]; "
            f"{cell['p99_ms']:g} [{span(*cell['p99_range'], lambda v: f'{v:g}')}]")


def cast(cell):
    """A broadcast over the rounds as `p50 / p99 [range] (received of expected)`."""
    return (f"{cell['p50_ms']} / {figure(cell['p99_ms'], lambda v: f'{v:g}')} "
            f"({cell['received']} of {cell['expected']})")


def percent(value):
    return f"{100 * value:.1f}%"


def ranking(figures, fmt):
    """The stacks from the highest median to the lowest: `a > b` where the two
    ranges do not overlap (a difference larger than the spread), `a ≈ b` where
    they do (the rounds cannot tell them apart)."""
    ordered = sorted(((name, cell) for name, cell in figures.items() if cell), key=lambda item: -item[1]["median"])
    text = ""
    for number, (name, cell) in enumerate(ordered):
        if number:
            text += " > " if ordered[number - 1][1]["min"] > cell["max"] else " ≈ "
        text += f"{name} {figure(cell, fmt)}"
    return text


def wrk_spread(cell, key):
    """A wrk cell's requests/s or p99 as a spread."""
    low, high = cell["rps_range"] if key == "rps" else cell["p99_range"]
    return {"median": cell["rps"] if key == "rps" else cell["p99_ms"], "min": low, "max": high}


def targets(stacks, second_runs=None):
    """The targets of issue 16 that one benchmark run can decide, each met or not."""
    lines = []
    for layer, label in (("", "core channel layer"), ("_pubsub", "pub/sub channel layer")):
        casts = {name: s[f"websocket_broadcast{layer}"] for name, s in stacks.items()}
        # A round that lost a message counts against it, whatever its latency.
        met = all(cast["p99_ms"] and cast["p99_ms"]["max"] < 100 and cast["received"] == cast["expected"]
                  for cast in casts.values())
        lines.append(f"- Broadcast to 1,000 subscribers on the {label}, p99 below 100 ms on every stack, in every "
                     f"round, every message received: **{'met' if met else 'not met'}** ("
                     + ", ".join(f"{name} {figure(cast['p99_ms'], lambda v: f'{v:g}')} ms, "
                                 f"{cast['received']} of {cast['expected']}" for name, cast in casts.items()) + ").")
    if second_runs:
        ssh = {name: s["ssh"] for name, s in second_runs["stacks"].items()}
        met = all(cell["max"] <= 20 and cell["changed"] == 0 for cell in ssh.values())
        lines.append("- Second run within 20 s over SSH, in every round, with changed=0: "
                     f"**{'met' if met else 'not met'}** (" + ", ".join(
                         f"{name} {figure(cell, lambda v: f'{v:g}')} s, changed={cell['changed']}"
                         for name, cell in ssh.items()) + ").")
    else:
        second = {name: s["second_converge"] for name, s in stacks.items()}
        lines.append("- Second run (changed=0) within 20 s over SSH: **not measured here**: this run reaches the host "
                     "with `docker exec` (" + ", ".join(f"{name} {figure(cell, lambda v: f'{v:g}')} s"
                                                         for name, cell in second.items()) + ").")
    cost = {name: s["nginx_cost"] for name, s in stacks.items()}
    lines.append("- nginx's cost on the I/O view at most 10% in every round: "
                 + ", ".join(f"{name} {figure(cell, percent)} (**{'met' if cell['max'] <= 0.10 else 'not met'}**)"
                             for name, cell in cost.items()) + ".")
    if {"asgi-gunicorn", "wsgi-gunicorn"} <= set(stacks):
        asgi, wsgi = (wrk_spread(stacks[name]["nginx"]["tiny"], "rps") for name in ("asgi-gunicorn", "wsgi-gunicorn"))
        apart = wsgi["min"] > asgi["max"] or asgi["min"] > wsgi["max"]
        lines.append(f"- Tiny view, asgi-gunicorn against wsgi-gunicorn: {asgi['median'] / wsgi['median']:.2f}x "
                     f"({'larger than the spread' if apart else 'within the spread'}).")
    if "wsgi-uwsgi" in stacks and len(stacks) > 1:
        uwsgi = wrk_spread(stacks["wsgi-uwsgi"]["nginx"]["io_20ms"], "p99")
        others = [wrk_spread(s["nginx"]["io_20ms"], "p99") for name, s in stacks.items() if name != "wsgi-uwsgi"]
        in_line = uwsgi["min"] <= max(cell["max"] for cell in others)
        lines.append(f"- wsgi-uwsgi's I/O view p99 in line with the other stacks': **{'met' if in_line else 'not met'}** "
                     f"({uwsgi['median']:g} ms [{uwsgi['min']:g}–{uwsgi['max']:g}], the others' highest round "
                     f"{max(cell['max'] for cell in others):g} ms).")
    return lines


def report(results):
    m, stacks = results["machine"], results["stacks"]
    ceiling_rps = results["ceiling_return_200"]["rps"]
    lines = [
        "# Benchmark results", "",
        f"Generated by `scripts/benchmark.sh` from `results.json` on {m['date']}: {m['cpu']}, "
        f"{m['vcpus']} vCPUs, {m['memory_mb']} MiB, kernel {m['kernel']}, nginx {m['nginx']}; "
        f"one {m.get('system', 'Debian GNU/Linux 12 (bookworm)')} test host (container) "
        f"for load generator and server alike; wrk "
        f"{results['duration_s']} s per run at {results['connections']} connections; "
        f"{results.get('rounds', 1)} rounds, each taking every stack in turn. Each figure is the median of "
        f"its rounds, with their range [lowest–highest]. "
        f"Ceiling (nginx `return 200`): {ceiling_rps:.0f} req/s.", "",
        "## HTTP (requests/s; p99 ms)", "",
        "| stack | tiny view | I/O view 20 ms | static file | tiny direct | I/O direct, tuned | I/O direct, defaults |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in stacks.items():
        n = s["nginx"]
        lines.append(f"| {name} | {rps(n['tiny'])} | {rps(n['io_20ms'])} | {rps(n['static'])} | {rps(s['direct_tiny'])} "
                     f"| {rps(s['direct_io_20ms'])} | {rps(s['default_io_20ms'])} |")
    lines += ["", "| stack | tuned / defaults (I/O) | nginx cost: I/O | nginx cost: tiny |", "|---|---|---|---|"]
    for name, s in stacks.items():
        lines.append(f"| {name} | {figure(s['tuning_gain'], lambda v: f'{v:.2f}x')} | {figure(s['nginx_cost'], percent)} "
                     f"| {figure(s['nginx_cost_tiny'], percent)} |")
    lines += ["", "Tuned / defaults: the I/O view on the stack's server with the roles' settings versus the "
              "same server started with no options (one worker), both hit directly. nginx cost: 1 - "
              "(view through nginx / the same tuned server hit directly on a TCP port; for the "
              "socket-activated servers and Daphne that is a second instance with the same settings). "
              "Both ratios are taken within a round, then over the rounds.", "",
              "## WebSockets through nginx, and converge times", "",
              "| stack | held (of target; first round) | converge | switch | second run (docker exec) |",
              "|---|---|---|---|---|"]
    for name, s in stacks.items():
        h, c = s["websocket_hold"], s["converge"]
        held = f"{h.get('still_open', 0)} of {h.get('target', WS_TARGET)}" + (f" ({h['first_error']})" if h.get("first_error") else "")
        kind = "fresh host" if c.get("fresh_host") else "switch"
        second = s["second_converge"]
        lines.append(f"| {name} | {held} "
                     f"| {c['seconds']} s (first round, {kind}) | {figure(s['switches'], lambda v: f'{v:g}')} s "
                     f"| {figure(second, lambda v: f'{v:g}')} s, changed={second['changed']} |")
    if len(stacks) > 1:
        lines += ["", "## Which differences are larger than the spread", "",
                  "Each figure orders the stacks by their median: `>` where the ranges of the rounds do not "
                  "overlap (a difference this run can tell), `≈` where they do (it cannot).", ""]
        whole = lambda v: f"{v:.0f}"  # noqa: E731
        for label, key, part, fmt in [
                ("Tiny view through nginx, req/s", "tiny", "rps", whole),
                ("I/O view through nginx, req/s", "io_20ms", "rps", whole),
                ("I/O view through nginx, p99 ms", "io_20ms", "p99", lambda v: f"{v:g}"),
                ("Static file, req/s", "static", "rps", whole)]:
            lines.append(f"- {label}: " + ranking({n: wrk_spread(s["nginx"][key], part) for n, s in stacks.items()}, fmt))
        for layer, label in (("", "core layer"), ("_pubsub", "pub/sub layer")):
            lines.append(f"- Broadcast p99 ms, {label}: " + ranking(
                {n: s[f"websocket_broadcast{layer}"]["p99_ms"] for n, s in stacks.items()}, lambda v: f"{v:g}"))
        lines.append("- nginx cost, I/O view: " + ranking({n: s["nginx_cost"] for n, s in stacks.items()}, percent))
        lines.append("- nginx cost, tiny view: " + ranking({n: s["nginx_cost_tiny"] for n, s in stacks.items()}, percent))
        lines.append("- Second run, s: " + ranking({n: s["second_converge"] for n, s in stacks.items()},
                                                   lambda v: f"{v:g}"))
    lines += broadcast_section(results)
    if results.get("compression"):
        lines += compression_section(results["compression"])
    if results.get("second_runs"):
        lines += second_run_section(results["second_runs"])
    lines += ["", "## Targets of issue 16", ""] + targets(stacks, results.get("second_runs")) + [""]
    if results.get("releases"):
        r = results["releases"]
        lines += ["## Releases while 20 requests a second arrive through nginx", "",
                  f"Measured on {r['machine']['date']} ({r['machine']['cpu']}, {r['machine']['vcpus']} vCPUs), once: "
                  "wall time of `site.yml` from the controller, and the requests not answered 200 of those sent during it.",
                  "", "| stack | code-only release | release with a new dependency | rollback by name |",
                  "|---|---|---|---|"]

        def cell(run):
            return (f"{run['seconds']} s, {run['failed']} failed of {run['requests']}"
                    + ("" if run.get("served", True) else " (not served!)"))
        for name, s in r["stacks"].items():
            lines.append(f"| {name} | {cell(s['code_only'])} | {cell(s['new_dependency'])} | {cell(s['rollback'])} |")
        lines.append("")
    return "\n".join(lines)


def broadcast_section(results):
    """The broadcasts: each channel layer, and Channels' dispatch against the demo chat's."""
    stacks, ms = results["stacks"], lambda v: f"{v:g}"
    measured = results.get("broadcasts") or {"machine": results["machine"], "rounds": results.get("rounds", 1)}
    some = next(iter(stacks.values()))["websocket_broadcast"]["runs"][0]
    lines = ["", "## Broadcast to 1,000 subscribers through nginx", "",
             f"Measured on {measured['machine']['date']}, {measured['rounds']} rounds, each taking every stack in "
             f"turn{' (`--broadcasts`, apart from the run above)' if results.get('broadcasts') else ''}: "
             f"{some.get('subscribers')} sockets to one chat room from {some.get('clients', 1)} client process(es), "
             f"{some.get('messages')} messages sent 0.2 s apart from one of them, the latency of each from send "
             "to receipt. The demo's chat skips the database clean-up that Channels' own dispatch runs before "
             "each message; the same chat with Channels' dispatch is measured in the same round. "
             "p50 / p99 ms [range of the p99] (received of expected).", "",
             "| stack | core layer | core layer, Channels' dispatch | pub/sub layer | Channels' dispatch / demo chat, p99 |",
             "|---|---|---|---|---|"]
    for name, s in stacks.items():
        dispatch = s.get("websocket_broadcast_channels_dispatch")
        ratio = s.get("channels_dispatch_vs_demo")
        lines.append(f"| {name} | {cast(s['websocket_broadcast'])} | {cast(dispatch) if dispatch else 'not measured'} "
                     f"| {cast(s['websocket_broadcast_pubsub'])} "
                     f"| {figure(ratio, lambda v: f'{v:.2f}x') if ratio else 'not measured'} |")
    lines += ["", "Per stack, the p99 of the broadcasts of the same round (`>`: apart beyond the spread, "
              "`≈`: within it).", ""]
    for name, s in stacks.items():
        lines.append(f"- {name}, p99 ms: " + ranking({"core": s["websocket_broadcast"]["p99_ms"],
                                                      "pub/sub": s["websocket_broadcast_pubsub"]["p99_ms"]}, ms))
        if s.get("websocket_broadcast_channels_dispatch"):
            lines.append(f"- {name}, p99 ms: " + ranking(
                {"Channels' dispatch": s["websocket_broadcast_channels_dispatch"]["p99_ms"],
                 "demo chat": s["websocket_broadcast"]["p99_ms"]}, ms))
    return lines


def second_run_section(measured):
    """The second run through each transport, side by side."""
    m, seconds = measured["machine"], lambda v: f"{v:g}"
    lines = ["", "## The second run (changed=0): through `docker exec` and over SSH", "",
             f"Measured on {m['date']} ({m['cpu']}, {m['vcpus']} vCPUs), {measured['rounds']} pairs per stack: the "
             "wall time of `site.yml` with nothing to change, through `docker exec` (as the tests reach their hosts) "
             "and over SSH (as users deploy: the host's sshd, Ansible's SSH options with ControlMaster and "
             "ControlPersist, pipelining from ansible.cfg), back to back, which one first alternating. The ratio "
             "is taken within a pair, then over the pairs.", "",
             "| stack | docker exec | SSH | SSH / docker exec |", "|---|---|---|---|"]
    for name, s in measured["stacks"].items():
        lines.append(f"| {name} | {figure(s['docker_exec'], seconds)} s, changed={s['docker_exec']['changed']} "
                     f"| {figure(s['ssh'], seconds)} s, changed={s['ssh']['changed']} "
                     f"| {figure(s['ssh_vs_docker_exec'], lambda v: f'{v:.2f}x')} |")
    lines.append("")
    for name, s in measured["stacks"].items():
        lines.append(f"- {name}, s: " + ranking({"docker exec": s["docker_exec"], "SSH": s["ssh"]}, seconds))
    return lines


def chart(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(results["stacks"])
    cells = {"defaults, direct": [results["stacks"][n]["default_io_20ms"] for n in names],
             "tuned, direct": [results["stacks"][n]["direct_io_20ms"] for n in names],
             "tuned, through nginx": [results["stacks"][n]["nginx"]["io_20ms"] for n in names]}
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.27
    for i, (label, row) in enumerate(cells.items()):
        # The bar is the median of the rounds; the line, their range.
        bars = [wrk_spread(cell, "rps") for cell in row]
        errors = [[b["median"] - b["min"] for b in bars], [b["max"] - b["median"] for b in bars]]
        ax.bar([x + (i - 1) * width for x in range(len(names))], [b["median"] for b in bars], width, label=label,
               yerr=errors, capsize=3)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("requests/s")
    ax.set_title(f"View waiting 20 ms on I/O, 64 connections (median and range of {results.get('rounds', 1)} rounds)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--releases"]:
        main_releases(sys.argv[2:] or STACKS)
    elif sys.argv[1:2] == ["--compression"]:
        main_compression(sys.argv[2:] or UVICORN_STACKS)
    elif sys.argv[1:2] == ["--broadcasts"]:
        main_broadcasts(sys.argv[2:] or STACKS)
    elif sys.argv[1:2] == ["--second-runs"]:
        main_second_runs(sys.argv[2:] or STACKS)
    elif sys.argv[1:2] == ["--explain"]:
        import explain  # benchmark/explain.py: it imports this module's helpers

        explain.main()
    else:
        main(sys.argv[1:] or STACKS)
