#!/usr/bin/env bash
# Runs every test: lint, unit tests, then each Molecule scenario on a fresh
# Debian 12 systemd test host (converge, idempotence, verify, destroy).
#
#   scripts/test.sh                    # everything
#   scripts/test.sh wsgi-gunicorn      # lint, unit tests and the named scenarios
#   TEST_JOBS=1 scripts/test.sh        # one scenario at a time (default: 2 at once)
#
# Installs what it needs first (scripts/bootstrap.sh). Exits non-zero when
# anything fails; every scenario runs even after one has failed.
#
# Scenarios run TEST_JOBS at a time, longest first: a test host spends most of
# its time waiting (apt, pip, systemd, Ansible's round trips), so two of them
# share the two vCPUs well. Each writes its own log under .test-logs/, printed
# whole when the scenario ends. The test hosts share one pip cache and one apt
# package cache (scripts/bootstrap.sh, test_host_caches): every install still
# runs on every host, but nothing is downloaded twice.
set -euo pipefail
suite_start=$SECONDS
. "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
bootstrap
cd "$ROOT"

TEST_JOBS=${TEST_JOBS:-2}
LOGS=$ROOT/.test-logs
rm -rf "$LOGS"
mkdir -p "$LOGS"

# "step result seconds" rows of the table printed at the end.
times=("$(printf '%-16s %-7s %5ds' bootstrap done $((SECONDS - suite_start)))")
failed=0

step() {
  local name=$1 start=$SECONDS result=passed
  shift
  log "$name"
  "$@" || { result=FAILED; failed=$((failed + 1)); }
  times+=("$(printf '%-16s %-7s %5ds' "$name" "$result" $((SECONDS - start)))")
}

lint() { yamllint -s . && ansible-lint -q; }
step lint lint
step unit python -m pytest -q tests/unit

# Longest first, so that the last one to start is a short one.
ORDER=(wsgi-gunicorn asgi-gunicorn wsgi-uwsgi asgi-daphne any-project)
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

declare -A started=() running=()
passed_scenarios=0 failed_scenarios=0

# Waits for one running scenario, prints its log and records its time.
reap() {
  local pid rc=0 name
  wait -n -p pid "${!running[@]}" || rc=$?
  name=${running[$pid]}
  unset "running[$pid]"
  log "molecule test -s $name: log"
  cat "$LOGS/$name.log"
  if [ "$rc" -eq 0 ]; then
    passed_scenarios=$((passed_scenarios + 1)) result=passed
  else
    failed_scenarios=$((failed_scenarios + 1)) result=FAILED
  fi
  times+=("$(printf '%-16s %-7s %5ds' "$name" "$result" $((SECONDS - started[$name])))")
  log "molecule test -s $name: $result after $((SECONDS - started[$name])) s"
}

for scenario in "${scenarios[@]}"; do
  while [ "${#running[@]}" -ge "$TEST_JOBS" ]; do reap; done
  log "molecule test -s $scenario (log: .test-logs/$scenario.log)"
  started[$scenario]=$SECONDS
  molecule test -s "$scenario" >"$LOGS/$scenario.log" 2>&1 &
  running[$!]=$scenario
done
while [ "${#running[@]}" -gt 0 ]; do reap; done

times+=("$(printf '%-16s %-7s %5ds' total "" $((SECONDS - suite_start)))")
log "Time per step (scenarios ran $TEST_JOBS at a time)"
printf '  %s\n' "${times[@]}"
echo "scenarios: $passed_scenarios passed, $failed_scenarios failed"
[ "$failed" -eq 0 ] && [ "$failed_scenarios" -eq 0 ]
