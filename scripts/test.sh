#!/usr/bin/env bash
# Runs every test: lint, unit tests, then each Molecule scenario on a fresh
# Debian 12 systemd test host (converge, idempotence, verify, destroy).
#
#   scripts/test.sh                    # everything
#   scripts/test.sh wsgi-gunicorn      # lint, unit tests and the named scenarios
#
# Installs what it needs first (scripts/bootstrap.sh). Exits non-zero when
# anything fails; every scenario runs even after one has failed.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
bootstrap
cd "$ROOT"

log "yamllint"
yamllint -s .
log "ansible-lint (production profile)"
ansible-lint -q
log "unit tests"
python -m pytest -q tests/unit

if [ $# -gt 0 ]; then
  scenarios=("$@")
else
  scenarios=()
  for f in molecule/*/molecule.yml; do
    scenarios+=("$(basename "$(dirname "$f")")")
  done
fi

passed=0 failed=0 summary=()
for scenario in "${scenarios[@]}"; do
  log "molecule test -s $scenario"
  start=$SECONDS
  if molecule test -s "$scenario"; then
    passed=$((passed + 1)) result=passed
  else
    failed=$((failed + 1)) result=FAILED
  fi
  summary+=("$(printf '%-16s %-7s %4ds' "$scenario" "$result" $((SECONDS - start)))")
done

log "Molecule scenarios"
printf '  %s\n' "${summary[@]}"
echo "scenarios: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
