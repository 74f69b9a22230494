#!/usr/bin/env bash
# Deploys the demo app to a local Debian 13 test host and prints where it is served.
#
#   scripts/demo.sh                  # mode=wsgi (Gunicorn sync workers)
#   TEST_HOST_RELEASE=bookworm scripts/demo.sh   # on Debian 12
#   scripts/demo.sh -e mode=asgi     # any ansible-playbook arguments pass through
#   scripts/demo.sh -e nginx_tls_enabled=true -e nginx_tls_self_signed=true
#                                    # HTTPS (and HTTP/2) with a self-signed certificate
#
# Installs what it needs (scripts/bootstrap.sh), starts the container
# "django-stack-demo" with its port 80 published on 127.0.0.1:$DEMO_PORT (8080)
# and its port 443 on 127.0.0.1:$DEMO_TLS_PORT (8443), and runs site.yml against
# it. Once it is up, plain `ansible-playbook site.yml` (inside .venv) redeploys
# it: ansible.cfg's default inventory is this host.
set -euo pipefail
# Debian 13 (trixie), the current stable, unless TEST_HOST_RELEASE says otherwise.
export TEST_HOST_RELEASE=${TEST_HOST_RELEASE:-trixie}
. "$(dirname "${BASH_SOURCE[0]}")/test-host.sh"

DEMO_HOST=django-stack-demo
DEMO_PORT=${DEMO_PORT:-8080}
DEMO_TLS_PORT=${DEMO_TLS_PORT:-8443}

bootstrap
start_test_host "$DEMO_HOST" "$DEMO_PORT" "$DEMO_TLS_PORT"
cd "$ROOT"
ansible-playbook site.yml "$@"

# TLS is on when nginx answers on 443 for localhost (it refuses a handshake for
# a name it does not serve; the certificate is shown below, not checked here).
if health=$(curl -ksS --max-time 10 --resolve "localhost:$DEMO_TLS_PORT:127.0.0.1" \
  "https://localhost:$DEMO_TLS_PORT/healthz" 2>/dev/null); then
  url="https://localhost:$DEMO_TLS_PORT/"
  # The certificate the site presents, and the SHA-256 of its public key, which
  # Chromium accepts as trusted for this one key.
  cert=$(openssl s_client -connect "127.0.0.1:$DEMO_TLS_PORT" -servername localhost </dev/null 2>/dev/null |
    openssl x509)
  spki=$(openssl x509 -pubkey -noout <<<"$cert" | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64)
  printf '%s\n' "$cert" >"$ROOT/.demo-certificate.pem"
  printf '\nThe demo app is served at %s\n  /healthz: %s\n' "$url" "$health"
  printf '  WebSocket chat: wss://localhost:%s/ws/chat/lobby/ (the page above uses it)\n' "$DEMO_TLS_PORT"
  printf '\nIts certificate is self-signed (saved to %s). Either\n' "$ROOT/.demo-certificate.pem"
  printf '  - trust it: import that file as an authority (Chromium: Settings > Privacy and security >\n'
  printf '    Security > Manage certificates; Firefox: Settings > Certificates > Authorities), or\n'
  printf '  - bypass the check for this key only: chromium --ignore-certificate-errors-spki-list=%s %s\n' \
    "$spki" "$url"
  printf '  - or accept the browser warning once (Advanced > Proceed to localhost).\n'
else
  url="http://127.0.0.1:$DEMO_PORT/"
  health=$(curl -fsS --max-time 10 "${url}healthz")
  printf '\nThe demo app is served at %s\n  /healthz: %s\n' "$url" "$health"
  printf '  WebSocket chat: ws://127.0.0.1:%s/ws/chat/lobby/ (the page above uses it)\n' "$DEMO_PORT"
fi
