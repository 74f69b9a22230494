"""benchmark/explain.py: its rounds become medians, ranges and ratios taken
within a round, and a wrk run with errors is not taken as a figure (no host)."""
import sys

import pytest
from conftest import ROOT, load

sys.path.insert(0, str(ROOT / "benchmark"))  # explain.py imports run.py as `run`
explain = load("benchmark/explain.py", "explain")


def wrk(rps, p99=100.0, non_2xx=0):
    return {"rps": rps, "p50_ms": p99 / 2, "p99_ms": p99, "non_2xx": non_2xx, "socket_errors": ""}


def recycling_round(scale):
    return {f"{stack} {label}": {"tiny": wrk(rps * scale), "io_20ms": wrk(400, 900 if label == "1000" else 150)}
            for stack in ("wsgi-uwsgi", "wsgi-gunicorn", "asgi-gunicorn")
            for label, rps in (("1000", 500), ("defaults", 900))}


def overhead_round(asgi_rps):
    return {"asgi, middleware": {"sync view": wrk(asgi_rps), "async view": wrk(asgi_rps * 1.2)},
            "asgi, no middleware": {"sync view": wrk(asgi_rps * 2), "async view": wrk(asgi_rps * 2.2)},
            "wsgi, middleware": {"sync view": wrk(asgi_rps * 4), "async view": wrk(asgi_rps * 2)},
            "wsgi, no middleware": {"sync view": wrk(asgi_rps * 4.4), "async view": wrk(asgi_rps * 2.1)}}


def results(rounds=3):
    recycled = [recycling_round(1 + n / 10) for n in range(rounds)]
    overhead = [overhead_round(1000 + 100 * n) for n in range(rounds)]
    return {"machine": {"date": "2026-12-04T00:00:00+00:00", "cpu": "CPU", "vcpus": 2, "system": "Debian 12"},
            "rounds": rounds, "duration_s": 8,
            "recycling": explain.aggregate(recycled), "asgi_overhead": explain.aggregate(overhead),
            "recycling_ratios": explain.ratios(recycled, explain.RECYCLING_RATIOS),
            "overhead_ratios": explain.ratios(overhead, explain.OVERHEAD_RATIOS)}


def test_ratios_are_taken_within_each_round():
    measured = results()
    # The defaults serve the tiny view at 900 where recycling at 1000 gives 500,
    # in every round whatever the round's speed.
    assert measured["recycling_ratios"]["wsgi-uwsgi defaults tiny / wsgi-uwsgi 1000 tiny"] == \
        {"median": 1.8, "min": 1.8, "max": 1.8, "runs": [1.8, 1.8, 1.8]}
    assert measured["overhead_ratios"]["wsgi, middleware sync view / asgi, middleware sync view"]["median"] == 4.0
    assert measured["recycling"]["wsgi-uwsgi 1000"]["io_20ms"]["p99_ms"] == 900


def test_the_report_names_every_figure_with_its_range():
    text = explain.report(results())
    assert "| wsgi-uwsgi 1000 | 550 [500–600]; 100 [100–100] | 400 [400–400]; 900 [900–900] |" in text
    assert "| asgi, no middleware | 2200 [2000–2400]; 100 [100–100] |" in text
    assert "- asgi, no middleware sync view / asgi, middleware sync view: 2.00x [2.00x–2.00x]" in text
    assert "3 rounds" in text


def test_a_run_with_error_answers_is_no_figure():
    with pytest.raises(RuntimeError, match="not every request was answered 2xx"):
        explain.checked(wrk(5000, non_2xx=12))
    assert explain.checked(wrk(5000))["rps"] == 5000
