#!/usr/bin/env bash
# Starts (or reuses) a Debian systemd test host as a container (TEST_HOST_RELEASE:
# bookworm unless given, or trixie).
#   scripts/test-host.sh NAME [PORT [TLS_PORT [SSH_PORT]]]
# publishes the host's port 80 on 127.0.0.1:PORT, its port 443 on
# 127.0.0.1:TLS_PORT and its port 22 on 127.0.0.1:SSH_PORT (the benchmark's
# sshd; the image has none) (a host already running keeps the ports it has).
# The flags are the ones that run systemd as PID 1 on this kind of machine
# (see shared TEST-HOSTS notes: --privileged fails without CAP_SYS_RESOURCE).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

start_test_host() {
  local name=$1 port=${2:-} tls_port=${3:-} ssh_port=${4:-}
  if [ "$(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" != "true" ]; then
    docker rm -f "$name" >/dev/null 2>&1 || true
    log "starting test host $name"
    docker run -d --name "$name" --hostname "$name" \
      --cap-add SYS_ADMIN --cgroupns=host \
      -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
      --stop-signal SIGRTMIN+3 \
      ${port:+-p "127.0.0.1:$port:80"} ${tls_port:+-p "127.0.0.1:$tls_port:443"} \
      ${ssh_port:+-p "127.0.0.1:$ssh_port:22"} \
      "$TEST_HOST_IMAGE" /lib/systemd/systemd >/dev/null
  fi
  local state
  for _ in $(seq 1 60); do
    state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
    case "$state" in running | degraded) return 0 ;; esac
    sleep 1
  done
  echo "test host $name: systemd did not come up (state: ${state:-none})" >&2
  return 1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  bootstrap
  start_test_host "$@"
fi
