"""The benchmark's rounds become medians and ranges, and RESULTS.md tells a
difference larger than the spread from one within it. Runs benchmark/run.py's
aggregation and report on made-up rounds of two stacks (no host)."""
from conftest import load

bench = load("benchmark/run.py", "bench")


def wrk(rps, p99):
    return {"rps": rps, "p50_ms": p99 / 2, "p99_ms": p99, "non_2xx": 0, "socket_errors": ""}


def cast(p99):
    return {"subscribers": 1000, "messages": 20, "received": 20000, "expected": 20000, "p50_ms": p99 / 2, "p99_ms": p99}


def round_of(tiny, io_p99, cast_p99, second_s, fresh=False, first=False):
    """One round of one stack: the tiny view at `tiny` req/s (the same hit
    directly, so nginx costs nothing there), the I/O view at 200 req/s through
    nginx and 250 direct (a cost of 20%); the broadcast on the pub/sub layer
    a tenth of the core layer's, with Channels' dispatch three times the demo
    chat's."""
    sample = {
        "converge": {"seconds": 70.0, "changed": 40, ("fresh_host" if fresh else "switch_from_previous"): True},
        "second_converge": {"seconds": second_s, "changed": 0},
        "nginx": {"tiny": wrk(tiny, 100), "io_20ms": wrk(200, io_p99), "static": wrk(50000, 5)},
        "direct_tiny": wrk(tiny, 90), "direct_io_20ms": wrk(250, 80), "default_io_20ms": wrk(50, 900),
        "websocket_broadcast": cast(cast_p99), "websocket_broadcast_pubsub": cast(cast_p99 / 10),
        "websocket_broadcast_channels_dispatch": cast(cast_p99 * 3),
    }
    if first:
        sample["websocket_hold"] = {"target": 10000, "still_open": 10000, "first_error": None}
    return sample


def results():
    # wsgi-gunicorn's tiny view is far above asgi-gunicorn's in every round;
    # their I/O p99 ranges overlap.
    wsgi = [round_of(2900, 300, 400, 50, fresh=True, first=True), round_of(2000, 350, 500, 56), round_of(2500, 320, 450, 52)]
    asgi = [round_of(550, 280, 90, 51, first=True), round_of(600, 340, 95, 60), round_of(580, 310, 99, 55)]
    # The second round of asgi-gunicorn's broadcast lost messages: no latency from it.
    asgi[1]["websocket_broadcast"].update(received=19000, p50_ms=None, p99_ms=None)
    # Its pub/sub round broke (as run.py records a failed converge or broadcast).
    asgi[1]["websocket_broadcast_pubsub"] = {"subscribers": 1000, "messages": 20, "received": 0, "expected": 20000,
                                             "error": "RuntimeError: converge failed"}
    stacks = {"wsgi-gunicorn": bench.aggregate(wsgi), "asgi-gunicorn": bench.aggregate(asgi)}
    machine = {"date": "2026-12-03T12:00:00+00:00", "cpu": "test", "vcpus": 2, "memory_mb": 1024,
               "kernel": "6", "nginx": "1.22", "system": "Debian GNU/Linux 12 (bookworm)"}
    return {"machine": machine, "duration_s": 8, "connections": 64, "rounds": 3, "stacks": stacks,
            "ceiling_return_200": bench.wrk_cell([wrk(100000, 4)] * 3)}


def test_each_figure_is_the_median_of_its_rounds_with_their_range():
    wsgi = results()["stacks"]["wsgi-gunicorn"]
    assert wsgi["nginx"]["tiny"]["rps"] == 2500 and wsgi["nginx"]["tiny"]["rps_range"] == [2000, 2900]
    assert wsgi["nginx"]["io_20ms"]["p99_range"] == [300, 350]
    assert wsgi["second_converge"]["median"] == 52 and wsgi["second_converge"]["changed"] == 0
    # The first round's converge was the fresh host's: the switches are the others.
    assert wsgi["converge"]["fresh_host"] and wsgi["switches"]["runs"] == [70.0, 70.0]
    assert wsgi["nginx_cost"]["median"] == 0.2 and wsgi["nginx_cost_tiny"]["max"] == 0
    assert wsgi["websocket_broadcast"]["received"] == 60000


def test_a_round_without_a_latency_is_left_out_of_the_latency_not_counted_as_zero():
    cast = results()["stacks"]["asgi-gunicorn"]["websocket_broadcast"]
    assert cast["p99_ms"]["runs"] == [90, 99] and cast["p99_ms"]["min"] == 90
    assert cast["received"] == 59000 and cast["expected"] == 60000


def test_the_report_tells_differences_beyond_the_spread_from_those_within_it():
    text = bench.report(results())
    assert "- Tiny view through nginx, req/s: wsgi-gunicorn 2500 [2000–2900] > asgi-gunicorn 580 [550–600]" in text
    assert "- I/O view through nginx, p99 ms: wsgi-gunicorn 320 [300–350] ≈ asgi-gunicorn 310 [280–340]" in text
    assert "| wsgi-gunicorn | 2500 [2000–2900]; 100 [100–100] |" in text


def test_the_report_says_which_targets_are_met():
    text = bench.report(results())
    # wsgi-gunicorn's broadcast p99 is 400-500 ms.
    assert ("on the core channel layer, p99 below 100 ms on every stack, in every round, every message received: "
            "**not met**") in text
    # Pub/sub: wsgi-gunicorn 40-50 ms, asgi-gunicorn 9-9.9 ms (one round broke).
    assert ("on the pub/sub channel layer, p99 below 100 ms on every stack, in every round, every message received: "
            "**not met** (wsgi-gunicorn 45 [40–50] ms, 60000 of 60000, asgi-gunicorn 9.4 [9–9.9] ms, 40000 of 60000)") in text
    # A cost of 20% in every round.
    assert "wsgi-gunicorn 20.0% [20.0%–20.0%] (**not met**)" in text
    assert "Tiny view, asgi-gunicorn against wsgi-gunicorn: 0.23x (larger than the spread)" in text
    assert "within 20 s over SSH: **not measured here**" in text


def test_a_broadcast_target_is_met_only_when_every_round_of_every_stack_is_under_it_and_lost_nothing():
    data = results()
    data["stacks"].pop("wsgi-gunicorn")
    target = "on the core channel layer, p99 below 100 ms on every stack, in every round, every message received: "
    # asgi-gunicorn's rounds are all under 100 ms, but one lost messages.
    assert target + "**not met** (asgi-gunicorn 94.5 [90–99] ms, 59000 of 60000)" in bench.report(data)
    data["stacks"]["asgi-gunicorn"]["websocket_broadcast"]["received"] = 60000
    assert target + "**met**" in bench.report(data)


def test_the_report_compares_the_two_channel_layers_and_the_two_dispatches_per_stack():
    text = bench.report(results())
    assert "- wsgi-gunicorn, p99 ms: core 450 [400–500] > pub/sub 45 [40–50]" in text
    assert "- wsgi-gunicorn, p99 ms: Channels' dispatch 1350 [1200–1500] > demo chat 450 [400–500]" in text
    assert ("| wsgi-gunicorn | 225.0 / 450 [400–500] (60000 of 60000) | 675.0 / 1350 [1200–1500] (60000 of 60000) "
            "| 22.5 / 45 [40–50] (60000 of 60000) | 3.00x [3.00x–3.00x] |") in text


def test_what_channels_dispatch_costs_is_taken_within_a_round_where_both_have_a_latency():
    asgi = results()["stacks"]["asgi-gunicorn"]
    # asgi-gunicorn's second round lost messages on the demo chat: two rounds count.
    assert asgi["channels_dispatch_vs_demo"]["runs"] == [3.0, 3.0]
    assert asgi["websocket_broadcast_channels_dispatch"]["p99_ms"]["runs"] == [270, 285, 297]


def test_a_run_without_the_dispatch_comparison_says_so():
    data = results()
    for stack in data["stacks"].values():
        stack.pop("websocket_broadcast_channels_dispatch")
        stack.pop("channels_dispatch_vs_demo")
    assert "| 22.5 / 45 [40–50] (60000 of 60000) | not measured |" in bench.report(data)


def pair(docker_s, ssh_s, ssh_changed=0):
    return {"docker_exec": {"seconds": docker_s, "changed": 0}, "ssh": {"seconds": ssh_s, "changed": ssh_changed}}


def with_second_runs(*ssh_seconds, ssh_changed=0):
    """results() with one stack's second runs measured over both transports:
    docker exec 60, 50, 55 s against SSH's `ssh_seconds`."""
    data = results()
    pairs = [pair(docker_s, ssh_s, ssh_changed) for docker_s, ssh_s in zip((60, 50, 55), ssh_seconds)]
    data["second_runs"] = bench.second_runs({"wsgi-gunicorn": pairs}, 3, data["machine"])
    return data


def test_the_second_run_over_ssh_is_set_beside_docker_exec_round_by_round():
    runs = with_second_runs(30, 20, 22)["second_runs"]["stacks"]["wsgi-gunicorn"]
    assert runs["docker_exec"]["median"] == 55 and runs["ssh"]["runs"] == [30, 20, 22]
    # The ratio is taken within each pair (0.5, 0.4, 0.4), then over them.
    assert runs["ssh_vs_docker_exec"]["median"] == 0.4 and runs["ssh_vs_docker_exec"]["max"] == 0.5
    text = bench.report(with_second_runs(30, 20, 22))
    assert "| wsgi-gunicorn | 55 [50–60] s, changed=0 | 22 [20–30] s, changed=0 | 0.40x [0.40x–0.50x] |" in text
    assert "- wsgi-gunicorn, s: docker exec 55 [50–60] > SSH 22 [20–30]" in text


def test_the_ssh_target_is_met_only_when_every_round_is_within_20_s_and_changed_nothing():
    target = "- Second run within 20 s over SSH, in every round, with changed=0: "
    assert target + "**not met** (wsgi-gunicorn 19 [18–21] s, changed=0)" in bench.report(with_second_runs(21, 18, 19))
    assert target + "**met** (wsgi-gunicorn 19 [18–20] s, changed=0)" in bench.report(with_second_runs(20, 18, 19))
    assert target + "**not met**" in bench.report(with_second_runs(20, 18, 19, ssh_changed=1))
    # Without them, the report says what it could not measure.
    assert "within 20 s over SSH: **not measured here**" in bench.report(results())


def test_compression_is_compared_within_a_round_and_reported_beside_the_rest():
    data = results()
    pairs = [{"off": cast(80), "on": cast(120)}, {"off": cast(90), "on": cast(90)}, {"off": cast(100), "on": cast(150)}]
    # A round whose broadcast broke has no ratio.
    pairs.append({"off": cast(85), "on": {"received": 0, "expected": 20000, "p50_ms": None, "p99_ms": None}})
    data["compression"] = bench.compression({"asgi-gunicorn": pairs}, 4, data["machine"])
    cell = data["compression"]["stacks"]["asgi-gunicorn"]
    assert cell["on_vs_off"]["runs"] == [1.5, 1.0, 1.5] and cell["on_vs_off"]["median"] == 1.5
    assert cell["on"]["received"] == 60000 and cell["on"]["expected"] == 80000
    text = bench.report(data)
    assert "## WebSocket compression (permessage-deflate) on the Uvicorn stacks" in text
    assert ("| asgi-gunicorn | 43.8 / 87.5 [80–100] (80000 of 80000) | 60.0 / 120 [90–150] (60000 of 80000) "
            "| 1.50x [1.00x–1.50x] |") in text
    assert "- asgi-gunicorn, p99 ms: on 120 [90–150] ≈ off 87.5 [80–100]" in text
