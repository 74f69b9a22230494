#!/usr/bin/env bash
# Load benchmark of every stack side by side on a local test host (not a test:
# numbers depend on the machine). Writes benchmark/results.json, RESULTS.md and
# results.png. See benchmark/run.py for what it measures.
#
#   scripts/benchmark.sh                          # all four stacks, three rounds (79 minutes on 2 vCPUs)
#   scripts/benchmark.sh wsgi-gunicorn asgi-daphne
#   scripts/benchmark.sh --explain                # the ASGI overhead and the cost of recycling (EXPLAIN.md)
#   scripts/benchmark.sh --broadcasts             # the broadcasts alone, in rounds (about 40 minutes)
#   scripts/benchmark.sh --compression            # the broadcast with WebSocket compression off and on
#   BENCH_SECONDS=15 BENCH_WS_TARGET=5000 BENCH_ROUNDS=5 scripts/benchmark.sh
#   TEST_HOST_RELEASE=trixie scripts/benchmark.sh   # on Debian 13 (RESULTS.md names the release)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
bootstrap
pip install -q "matplotlib>=3.8"
cd "$ROOT"
exec python benchmark/run.py "$@"
