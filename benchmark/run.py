#!/usr/bin/env python3
"""Side-by-side load benchmark of every stack, on one local Debian test host.

    scripts/benchmark.sh [STACK ...]      (e.g. wsgi-gunicorn asgi-daphne; default: all four)
    scripts/benchmark.sh --releases [STACK ...]   (the release figures alone, added to
                                                   the results of an earlier full run)

For each stack it converges the host with site.yml (timing a fresh host once,
then each switch and a second run), then measures from inside the host, against
127.0.0.1 only, with wrk (Debian's package) at 64 connections:
  - three endpoints through nginx: a tiny view, a view that waits 20 ms on I/O
    (the async view on ASGI stacks, the sync one on WSGI stacks), the static file;
  - the I/O view on the same server with the same tuned settings, hit directly
    on a TCP port (nginx's overhead), and the same server with its
    out-of-the-box defaults (the gain from tuning);
  - nginx answering `return 200` (the ceiling of the host);
  - WebSockets through nginx: concurrent connections held (ramp to 10,000,
    bounded) and the p99 latency of a broadcast to 1,000 subscribers;
  - releases while 20 requests a second arrive through nginx: the wall time of
    site.yml for a code-only release and for a release with a new dependency,
    and of a rollback, each with the requests that did not get a 200.
Writes benchmark/results.json (with the machine it ran on), benchmark/RESULTS.md
and benchmark/results.png. Not part of the tests: numbers vary by machine.
"""
import datetime
import json
import os
import pathlib
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
HOST = os.environ.get("BENCH_HOST", "django-stack-bench")
DURATION = int(os.environ.get("BENCH_SECONDS", "8"))
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


def converge(inventory, mode, server):
    started = time.monotonic()
    out = subprocess.run(["ansible-playbook", "-i", inventory, str(ROOT / "site.yml"),
                          "-e", f"mode={mode}", "-e", f"server={server}"],
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
                 f"--http-socket 127.0.0.1:9001")
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


def websockets():
    hold = json.loads(sh(f"ulimit -n 20000; python3 /usr/local/bin/wsload hold ws://127.0.0.1/ws/echo/ "
                         f"--target {WS_TARGET} --budget 120", timeout=400))
    sh("sleep 5")  # let the servers close the 10,000 sockets
    cast = json.loads(sh("python3 /usr/local/bin/wsload broadcast ws://127.0.0.1/ws/chat/bench/ "
                         "--subscribers 1000 --messages 20", timeout=300))
    return hold, cast


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


def start_host():
    subprocess.run(["docker", "rm", "-f", HOST], capture_output=True, check=False)
    subprocess.run(["bash", "-c", f". {ROOT}/scripts/test-host.sh && start_test_host {HOST}"], check=True)
    sh("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk python3-websockets >/dev/null")
    subprocess.run(["docker", "cp", str(ROOT / "benchmark" / "wsload.py"), f"{HOST}:/usr/local/bin/wsload"], check=True)


def host_inventory():
    inventory = tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False)
    inventory.write(json.dumps({"django_servers": {"hosts": {HOST: {
        "ansible_connection": "community.docker.docker", "ansible_python_interpreter": "/usr/bin/python3"}}}}))
    inventory.close()
    return inventory


def main_releases(stacks):
    """The release figures alone, on a fresh host, written beside an earlier full run's."""
    out = ROOT / "benchmark"
    results = json.loads((out / "results.json").read_text())
    inventory = host_inventory()
    start_host()
    measured = {"stacks": {}}
    for stack in stacks:
        mode, server = stack.split("-")
        print(f"==> {stack}: releases", flush=True)
        converge(inventory.name, mode, server)
        measured["stacks"][stack] = releases(inventory.name, mode, server)
        print(json.dumps(measured["stacks"][stack]), flush=True)
    measured["machine"] = machine()
    results["releases"] = measured
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "RESULTS.md").write_text(report(results))
    print(f"wrote {out}/results.json, RESULTS.md")


def main(stacks):
    inventory = host_inventory()
    start_host()
    results = {"machine": None, "duration_s": DURATION, "connections": CONNECTIONS, "stacks": {}}
    first = True
    for stack in stacks:
        mode, server = stack.split("-")
        print(f"==> {stack}", flush=True)
        entry = {"converge": converge(inventory.name, mode, server)}
        entry["converge"]["fresh_host" if first else "switch_from_previous"] = True
        entry["second_converge"] = converge(inventory.name, mode, server)
        first = False
        io_path = "/async/?ms=20" if mode == "asgi" else "/sync/?ms=20"
        entry["nginx"] = {"tiny": wrk(f"http://127.0.0.1:80{TINY}"), "io_20ms": wrk(f"http://127.0.0.1:80{io_path}"),
                          "static": wrk("http://127.0.0.1:80/static/mysite/site.css")}
        entry["direct_tiny"], entry["direct_io_20ms"], entry["default_io_20ms"] = direct_and_default(mode, server, io_path)
        entry["websocket_hold"], entry["websocket_broadcast"] = websockets()
        results.setdefault("releases", {"stacks": {}})["stacks"][stack] = releases(inventory.name, mode, server)
        entry["tuning_gain"] = round(entry["direct_io_20ms"]["rps"] / entry["default_io_20ms"]["rps"], 2)
        entry["tuned_via_nginx_vs_default"] = round(entry["nginx"]["io_20ms"]["rps"] / entry["default_io_20ms"]["rps"], 2)
        entry["nginx_cost"] = round(1 - entry["nginx"]["io_20ms"]["rps"] / entry["direct_io_20ms"]["rps"], 3)
        entry["nginx_cost_tiny"] = round(1 - entry["nginx"]["tiny"]["rps"] / entry["direct_tiny"]["rps"], 3)
        results["stacks"][stack] = entry
        print(json.dumps(entry), flush=True)
    results["ceiling_return_200"] = ceiling()
    results["machine"] = results["releases"]["machine"] = machine()
    out = ROOT / "benchmark"
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "RESULTS.md").write_text(report(results))
    chart(results, out / "results.png")
    print(f"wrote {out}/results.json, RESULTS.md, results.png")


def report(results):
    m = results["machine"]
    lines = [
        "# Benchmark results", "",
        f"Generated by `scripts/benchmark.sh` from `results.json` on {m['date']}: {m['cpu']}, "
        f"{m['vcpus']} vCPUs, {m['memory_mb']} MiB, kernel {m['kernel']}, nginx {m['nginx']}; "
        f"one {m.get('system', 'Debian GNU/Linux 12 (bookworm)')} test host (container) "
        f"for load generator and server alike; wrk "
        f"{results['duration_s']} s per run at {results['connections']} connections. "
        f"Ceiling (nginx `return 200`): {results['ceiling_return_200']['rps']:.0f} req/s.", "",
        "## HTTP (requests/s; p99 ms)", "",
        "| stack | tiny view | I/O view 20 ms | static file | tiny direct | I/O direct, tuned | I/O direct, defaults "
        "| tuned / defaults (I/O) | nginx cost: I/O, tiny |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in results["stacks"].items():
        n = s["nginx"]
        lines.append(
            f"| {name} | {n['tiny']['rps']:.0f}; {n['tiny']['p99_ms']} | {n['io_20ms']['rps']:.0f}; {n['io_20ms']['p99_ms']} "
            f"| {n['static']['rps']:.0f}; {n['static']['p99_ms']} | {s['direct_tiny']['rps']:.0f} "
            f"| {s['direct_io_20ms']['rps']:.0f} | {s['default_io_20ms']['rps']:.0f} | {s['tuning_gain']}x "
            f"| {100 * s['nginx_cost']:.1f}%, {100 * s['nginx_cost_tiny']:.1f}% |")
    lines += ["", "## WebSockets through nginx, and converge times", "",
              "| stack | held (of target) | broadcast to 1,000: p50 / p99 ms | converge | second run |",
              "|---|---|---|---|---|"]
    for name, s in results["stacks"].items():
        h, b, c = s["websocket_hold"], s["websocket_broadcast"], s["converge"]
        held = f"{h.get('still_open', 0)} of {h.get('target', WS_TARGET)}" + (f" ({h['first_error']})" if h.get("first_error") else "")
        kind = "fresh host" if c.get("fresh_host") else "switch"
        lines.append(f"| {name} | {held} | {b.get('p50_ms')} / {b.get('p99_ms')} ({b.get('received')} of {b.get('expected')}) "
                     f"| {c['seconds']} s ({kind}) | {s['second_converge']['seconds']} s, changed={s['second_converge']['changed']} |")
    lines += ["", "Tuned / defaults: the I/O view on the stack's server with the roles' settings versus the "
              "same server started with no options (one worker), both hit directly. nginx cost: 1 - "
              "(view through nginx / the same tuned server hit directly on a TCP port; for the "
              "socket-activated servers and Daphne that is a second instance with the same settings).", ""]
    if results.get("releases"):
        r = results["releases"]
        lines += ["## Releases while 20 requests a second arrive through nginx", "",
                  f"Measured on {r['machine']['date']} ({r['machine']['cpu']}, {r['machine']['vcpus']} vCPUs): wall "
                  "time of `site.yml` from the controller, and the requests not answered 200 of those sent during it.",
                  "", "| stack | code-only release | release with a new dependency | rollback by name |",
                  "|---|---|---|---|"]

        def cell(run):
            return (f"{run['seconds']} s, {run['failed']} failed of {run['requests']}"
                    + ("" if run.get("served", True) else " (not served!)"))
        for name, s in r["stacks"].items():
            lines.append(f"| {name} | {cell(s['code_only'])} | {cell(s['new_dependency'])} | {cell(s['rollback'])} |")
        lines.append("")
    return "\n".join(lines)


def chart(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(results["stacks"])
    series = {"defaults, direct": [results["stacks"][n]["default_io_20ms"]["rps"] for n in names],
              "tuned, direct": [results["stacks"][n]["direct_io_20ms"]["rps"] for n in names],
              "tuned, through nginx": [results["stacks"][n]["nginx"]["io_20ms"]["rps"] for n in names]}
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.27
    for i, (label, values) in enumerate(series.items()):
        ax.bar([x + (i - 1) * width for x in range(len(names))], values, width, label=label)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("requests/s")
    ax.set_title("View waiting 20 ms on I/O, 64 connections")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--releases"]:
        main_releases(sys.argv[2:] or STACKS)
    else:
        main(sys.argv[1:] or STACKS)
