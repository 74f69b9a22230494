#!/usr/bin/env bash
# Deploys the demo app to a local Debian 12 test host and prints where it is served.
#
#   scripts/demo.sh                  # mode=wsgi (Gunicorn sync workers)
#   scripts/demo.sh -e mode=asgi     # any ansible-playbook arguments pass through
#
# Installs what it needs (scripts/bootstrap.sh), starts the container
# "django-stack-demo" with its port 80 published on 127.0.0.1:$DEMO_PORT (8080),
# and runs site.yml against it. Once it is up, plain `ansible-playbook site.yml`
# (inside .venv) redeploys it: ansible.cfg's default inventory is this host.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/test-host.sh"

DEMO_HOST=django-stack-demo
DEMO_PORT=${DEMO_PORT:-8080}

bootstrap
start_test_host "$DEMO_HOST" "$DEMO_PORT"
cd "$ROOT"
ansible-playbook site.yml "$@"

url="http://127.0.0.1:$DEMO_PORT/"
health=$(curl -fsS --max-time 10 "${url}healthz")
printf '\nThe demo app is served at %s\n  /healthz: %s\n  WebSocket echo: ws://127.0.0.1:%s/ws/echo/\n' \
  "$url" "$health" "$DEMO_PORT"
