"""Where the tiny view's time goes, and what worker recycling costs (issue 16).

    scripts/benchmark.sh --explain        (about 12 minutes a round on 2 vCPUs)

On one fresh test host, in each of BENCH_ROUNDS rounds (3 unless given):

  - recycling: each of wsgi-uwsgi, wsgi-gunicorn and asgi-gunicorn converged
    twice, once with the workers recycled after 1,000 requests (+ a jitter of
    100, or 50 per worker id for uWSGI: the roles' earlier defaults) and once
    with the roles' defaults; each time the tiny view, then the I/O view,
    through nginx (the order of the full benchmark);
  - the ASGI overhead: the app on Gunicorn with two workers (the host's vCPUs,
    no recycling) hit directly on a TCP port, as Uvicorn workers (ASGI) and as
    sync workers (WSGI), each with the project's middleware and with none
    (its settings with MIDDLEWARE = []), on the sync and the async view.

Every figure is the median of the rounds with their range; ratios are taken
within a round. Writes benchmark/explain.json and benchmark/EXPLAIN.md. Not
part of the tests: numbers vary by machine.
"""
import json

import run

OLD_COUNTS = {"gunicorn": {"gunicorn_max_requests": 1000, "gunicorn_max_requests_jitter": 100},
              "uwsgi": {"uwsgi_max_requests": 1000, "uwsgi_max_requests_delta": 50}}
# asgi-gunicorn last: the ASGI overhead is measured on the host it leaves.
RECYCLING_STACKS = [("wsgi", "uwsgi"), ("wsgi", "gunicorn"), ("asgi", "gunicorn")]
SYNC, ASYNC = "/sync/?ms=0", "/async/?ms=0"
# The deployed settings (the roles' overlay, which imports the project's), with
# no middleware.
BARE = "/tmp/bench-bare-settings"
SERVERS = {
    "asgi": f"-k uvicorn_worker.UvicornWorker {run.APP}.asgi:application",
    "wsgi": f"{run.APP}.wsgi:application",
}


def io_path(mode):
    return "/async/?ms=20" if mode == "asgi" else "/sync/?ms=20"


def checked(cell):
    """A wrk run whose every answer was a 2xx: otherwise it measured an error page."""
    if cell["non_2xx"] or cell["socket_errors"]:
        raise RuntimeError(f"not every request was answered 2xx: {cell}")
    return cell


def through_nginx(mode):
    return {"tiny": checked(run.wrk(f"http://127.0.0.1:80{run.TINY}")),
            "io_20ms": checked(run.wrk(f"http://127.0.0.1:80{io_path(mode)}"))}


def recycling(inventory):
    """Each stack with the earlier recycling counts, then with the defaults."""
    measured = {}
    for mode, server in RECYCLING_STACKS:
        for label, counts in (("1000", OLD_COUNTS[server]), ("defaults", {})):
            extra = [arg for name, value in counts.items() for arg in ("-e", f"{name}={value}")]
            run.converge(inventory, mode, server, *extra)
            measured[f"{mode}-{server} {label}"] = through_nginx(mode)
    return measured


def asgi_overhead():
    """The same app, two workers, no recycling, direct: ASGI against WSGI, with
    the project's middleware and without."""
    run.sh(f"install -d -m 755 {BARE} && printf 'from deploy_settings import *  # noqa\\nMIDDLEWARE = []\\n' "
           f"> {BARE}/bench_bare_settings.py && chmod 644 {BARE}/bench_bare_settings.py")
    bare = (f"/usr/bin/env DJANGO_SETTINGS_MODULE=bench_bare_settings "
            f"PYTHONPATH={BARE}:/srv/{run.APP}/settings:/srv/{run.APP}/current/app ")
    measured = {}
    for mode, server in SERVERS.items():
        for label, prefix in (("middleware", ""), ("no middleware", bare)):
            command = f"{prefix}{run.VENV}/gunicorn --bind 127.0.0.1:9001 --workers 2 --max-requests 0 {server}"
            cells = run.with_server("bench-explain", command, 9001, [SYNC, ASYNC])
            measured[f"{mode}, {label}"] = {"sync view": checked(cells[SYNC]), "async view": checked(cells[ASYNC])}
    return measured


def aggregate(rounds):
    """Per figure, the wrk cell of its rounds (median and range)."""
    first = rounds[0]
    return {name: {view: run.wrk_cell([r[name][view] for r in rounds]) for view in first[name]} for name in first}


def ratios(rounds, pairs):
    """Within each round, rps(a) / rps(b) for each (a, view, b, view) pair; then their spread."""
    return {f"{a} {va} / {b} {vb}": run.spread([r[a][va]["rps"] / r[b][vb]["rps"] for r in rounds], 2)
            for a, va, b, vb in pairs}


RECYCLING_RATIOS = [(f"{stack} defaults", view, f"{stack} 1000", view)
                    for stack in ("wsgi-gunicorn", "asgi-gunicorn", "wsgi-uwsgi") for view in ("tiny", "io_20ms")]
OVERHEAD_RATIOS = [("wsgi, middleware", "sync view", "asgi, middleware", "sync view"),
                   ("asgi, no middleware", "sync view", "asgi, middleware", "sync view"),
                   ("wsgi, no middleware", "sync view", "wsgi, middleware", "sync view"),
                   ("wsgi, no middleware", "sync view", "asgi, no middleware", "sync view"),
                   ("asgi, middleware", "async view", "asgi, middleware", "sync view")]


def report(results):
    cell = run.rps
    lines = ["# Where the tiny view's time goes, and what recycling costs", "",
             f"Generated by `scripts/benchmark.sh --explain` from `explain.json` on {results['machine']['date']}: "
             f"{results['machine']['cpu']}, {results['machine']['vcpus']} vCPUs, {results['machine']['system']}; "
             f"{results['rounds']} rounds, wrk at {run.CONNECTIONS} connections for {results['duration_s']} s a figure. "
             "Each cell: requests/s, median [range]; p99 ms, median [range]. Ratios are taken within a round.", "",
             "## Worker recycling: after 1,000 requests (the earlier default) and with the roles' defaults", "",
             "Through nginx, the tiny view then the I/O view (20 ms), as in the full benchmark.", "",
             "| stack, recycling | tiny view | I/O view 20 ms |", "|---|---|---|"]
    for name, views in results["recycling"].items():
        lines.append(f"| {name} | {cell(views['tiny'])} | {cell(views['io_20ms'])} |")
    lines += ["", "## ASGI against WSGI on the same app: Gunicorn, 2 workers, no recycling, hit directly", "",
              "| server, settings | sync view | async view |", "|---|---|---|"]
    for name, views in results["asgi_overhead"].items():
        lines.append(f"| {name} | {cell(views['sync view'])} | {cell(views['async view'])} |")
    lines += ["", "## Ratios (requests/s, within a round)", ""]
    for name, value in {**results["recycling_ratios"], **results["overhead_ratios"]}.items():
        lines.append(f"- {name}: {value['median']:.2f}x [{value['min']:.2f}x–{value['max']:.2f}x]")
    return "\n".join(lines) + "\n"


def main():
    inventory, _ = run.start_host()
    recycled, overhead = [], []
    for number in range(run.ROUNDS):
        print(f"==> round {number + 1} of {run.ROUNDS}", flush=True)
        recycled.append(recycling(inventory))
        overhead.append(asgi_overhead())
    results = {"machine": run.machine(), "rounds": run.ROUNDS, "duration_s": run.DURATION,
               "recycling": aggregate(recycled), "asgi_overhead": aggregate(overhead),
               "recycling_ratios": ratios(recycled, RECYCLING_RATIOS),
               "overhead_ratios": ratios(overhead, OVERHEAD_RATIOS)}
    out = run.ROOT / "benchmark"
    (out / "explain.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "EXPLAIN.md").write_text(report(results))
    print(f"wrote {out}/explain.json and {out}/EXPLAIN.md")
