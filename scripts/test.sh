#!/usr/bin/env bash
# Runs every test: lint, unit tests, then each Molecule scenario on a fresh
# Debian systemd test host (converge, idempotence, verify, destroy; the
# idempotence step is a test of its own in any-project and pinned-projects).
#
#   scripts/test.sh                    # everything
#   scripts/test.sh wsgi-gunicorn      # lint, unit tests and the named scenarios
#   TEST_JOBS=1 scripts/test.sh        # one scenario at a time (default: 2 at once)
#   TEST_HOST_RELEASE=trixie scripts/test.sh   # the releases the other way round
#
# Both Debian releases are tested: every scenario runs on TEST_HOST_RELEASE
# (bookworm, Debian 12, unless given) except wsgi-gunicorn, which runs on the
# other one (trixie, Debian 13): its verify moves the host through all four
# stacks (test_switch.py), so every stack is deployed on both releases.
#
# Installs what it needs first (scripts/bootstrap.sh). Exits non-zero when
# anything fails; every scenario runs even after one has failed.
#
# Scenarios run TEST_JOBS at a time, in the order below, and lint and the unit tests
# (controller-only) run beside the first of them. The two CPUs of the machine
# the suite is budgeted for stay busy throughout (about half in the test hosts,
# half on the controller): more at once would not end sooner. Each step writes its own log under
# .test-logs/, printed whole when the step ends, and the run ends with a table of
# the time each step took.
set -euo pipefail
suite_start=$SECONDS
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Two lanes (TEST_JOBS=2) that end together. In the fresh-clone CI of
# 2026-11-25 (seconds, two at a time): multi-host 1308, any-project 910,
# wsgi-gunicorn 880, pinned-projects 811, asgi-daphne 706, asgi-gunicorn 618,
# wsgi-uwsgi 502. In this order one lane ran multi-host, any-project and
# asgi-gunicorn (2836 s) while the other ran the rest (2899 s); longest first
# instead would end both long ones together and leave one lane alone at the end.
ORDER=(multi-host wsgi-gunicorn pinned-projects any-project wsgi-uwsgi asgi-daphne asgi-gunicorn)
# The scenarios that run on the other release.
OTHER_RELEASE=(wsgi-gunicorn)
if [ $# -gt 0 ]; then
  scenarios=("$@")
else
  scenarios=()
  for name in "${ORDER[@]}"; do
    [ -f "molecule/$name/molecule.yml" ] && scenarios+=("$name")
  done
  for f in molecule/*/molecule.yml; do
    name=$(basename "$(dirname "$f")")
    [[ " ${scenarios[*]} " == *" $name "* ]] || scenarios+=("$name")
  done
fi
on_other_release() { [[ " ${OTHER_RELEASE[*]} " == *" $1 "* ]]; }

# The browser tests (test_browser.py) drive Debian's headless Chromium.
export BOOTSTRAP_BROWSER=1
. scripts/bootstrap.sh
OTHER=$(other_release "$TEST_HOST_RELEASE")
TEST_HOST_RELEASES=$TEST_HOST_RELEASE
for scenario in "${scenarios[@]}"; do
  if on_other_release "$scenario"; then TEST_HOST_RELEASES="$TEST_HOST_RELEASE $OTHER"; fi
done
bootstrap
cd "$ROOT"

TEST_JOBS=${TEST_JOBS:-2}
LOGS=$ROOT/.test-logs
rm -rf "$LOGS"
mkdir -p "$LOGS"

# "step result seconds" rows of the table printed at the end.
times=("$(printf '%-16s %-7s %5ds' bootstrap done $((SECONDS - suite_start)))")
declare -A started=() running=() kind=()
passed_scenarios=0 failed_scenarios=0 failed_checks=0

# Starts a step in the background, its output into .test-logs/NAME.log.
start() {
  local name=$1
  shift
  log "$name (log: .test-logs/$name.log)"
  started[$name]=$SECONDS
  "$@" >"$LOGS/$name.log" 2>&1 &
  running[$!]=$name
}

# Waits for one running step, prints its log and records its time.
reap() {
  local pid rc=0 name result
  wait -n -p pid "${!running[@]}" || rc=$?
  name=${running[$pid]}
  unset "running[$pid]"
  log "$name: log"
  cat "$LOGS/$name.log"
  result=passed
  if [ "$rc" -ne 0 ]; then
    result=FAILED
    if [ "${kind[$name]:-}" = check ]; then
      failed_checks=$((failed_checks + 1))
    fi
  fi
  if [ "${kind[$name]:-}" != check ]; then
    if [ "$rc" -eq 0 ]; then
      passed_scenarios=$((passed_scenarios + 1))
    else
      failed_scenarios=$((failed_scenarios + 1))
    fi
  fi
  times+=("$(printf '%-16s %-7s %5ds' "$name" "$result" $((SECONDS - started[$name])))")
  log "$name: $result after $((SECONDS - started[$name])) s"
}

scenarios_running() {
  local pid count=0
  for pid in "${!running[@]}"; do
    [ "${kind[${running[$pid]}]:-}" = check ] || count=$((count + 1))
  done
  echo "$count"
}

kind[lint]=check kind[unit]=check
# At a lower priority: the scenarios are the suite's critical path, and the
# checks (controller CPU only, minutes of it) take what the scenarios leave
# while they wait on their test hosts.
start lint nice -n 10 bash -c 'yamllint -s . && ansible-lint -q'
start unit nice -n 10 python -m pytest -q tests/unit

for scenario in "${scenarios[@]}"; do
  while [ "$(scenarios_running)" -ge "$TEST_JOBS" ]; do reap; done
  if on_other_release "$scenario"; then
    log "$scenario runs on $OTHER test hosts"
    start "$scenario" env TEST_HOST_IMAGE="$(image_of "$OTHER")" molecule test -s "$scenario"
  else
    start "$scenario" molecule test -s "$scenario"
  fi
done
while [ "${#running[@]}" -gt 0 ]; do reap; done

times+=("$(printf '%-16s %-7s %5ds' total "" $((SECONDS - suite_start)))")
log "Time per step (scenarios ran $TEST_JOBS at a time, lint and unit tests beside them)"
printf '  %s\n' "${times[@]}"
echo "scenarios: $passed_scenarios passed, $failed_scenarios failed"
[ "$failed_checks" -eq 0 ] && [ "$failed_scenarios" -eq 0 ]
