#!/usr/bin/env bash
# Prepares this machine to deploy to and test against local Debian 12 test hosts
# (Debian 13 with TEST_HOST_RELEASE=trixie; TEST_HOST_RELEASES="bookworm trixie"
# builds both images).
#
# Every step checks before it acts, so a second run costs a few seconds:
#   1. Debian packages: docker.io (the engine), debootstrap (to build the image
#      without a registry), rsync (the roles copy a project with it), python3-venv,
#      openssl (scripts/demo.sh reads the site's certificate with it); with
#      BOOTSTRAP_BROWSER=1 (scripts/test.sh) also chromium and chromium-driver,
#      the headless browser of the browser tests.
#   2. The Python tools in .venv, pinned by requirements-dev.txt.
#   3. A Docker daemon: started in the background when none answers.
#   4. The test-host image(s): a Debian root filesystem with systemd, built from
#      Debian's packages, trusting this machine's CA bundle (pip inside the host
#      needs it to reach PyPI through the same proxy as the controller).
#
# Source it (`. scripts/bootstrap.sh`) to get ROOT, VENV and TEST_HOST_IMAGE, or run it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${DJANGO_STACK_VENV:-$ROOT/.venv}
# The test-host image of a Debian release: bookworm (12) or trixie (13).
# Bump the tag when the recipe in build_rootfs changes: hosts with the old image rebuild.
image_of() {
  case $1 in
    bookworm) echo django-stack/debian12-systemd:bookworm-2 ;;
    trixie) echo django-stack/debian13-systemd:trixie-2 ;;
    *) echo "bootstrap: $1: the test hosts run bookworm or trixie" >&2; return 1 ;;
  esac
}
# The other release of the two (scripts/test.sh runs its switch scenario there).
other_release() { if [ "$1" = bookworm ]; then echo trixie; else echo bookworm; fi; }
# The release of the test hosts (bookworm unless given), and the releases whose
# images bootstrap builds (that one unless given; scripts/test.sh asks for both).
TEST_HOST_RELEASE=${TEST_HOST_RELEASE:-bookworm}
image_of "$TEST_HOST_RELEASE" >/dev/null || exit 1
TEST_HOST_IMAGE=${TEST_HOST_IMAGE:-$(image_of "$TEST_HOST_RELEASE")}
TEST_HOST_RELEASES=${TEST_HOST_RELEASES:-$TEST_HOST_RELEASE}
export TEST_HOST_RELEASE TEST_HOST_IMAGE

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: installing Debian packages and running dockerd needs root" >&2
    exit 1
  fi
}

install_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v rsync >/dev/null || missing+=(rsync)
  python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
  command -v openssl >/dev/null || missing+=(openssl)
  if [ "${BOOTSTRAP_BROWSER:-0}" = 1 ]; then
    command -v chromium >/dev/null || missing+=(chromium)
    command -v chromedriver >/dev/null || missing+=(chromium-driver)
  fi
  [ ${#missing[@]} -eq 0 ] && return 0
  need_root
  log "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

install_python_tools() {
  local stamp="$VENV/.requirements-dev.sha256"
  local want
  want=$(sha256sum "$ROOT/requirements-dev.txt" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  log "python tools into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -r "$ROOT/requirements-dev.txt"
  echo "$want" >"$stamp"
}

start_dockerd() {
  if docker info >/dev/null 2>&1; then
    return 0
  fi
  need_root
  log "starting dockerd (log: /var/log/dockerd.log)"
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "bootstrap: dockerd did not answer within 60 s; see /var/log/dockerd.log" >&2
  exit 1
}

# The controller's CA bundle, whatever the distribution calls it.
ca_bundle() {
  local f
  for f in "${SSL_CERT_FILE:-}" /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt \
    /etc/ssl/cert.pem; do
    if [ -n "$f" ] && [ -s "$f" ]; then
      echo "$f"
      return 0
    fi
  done
  return 1
}

# The image of one release (TEST_HOST_IMAGE for TEST_HOST_RELEASE), unless it exists.
build_image() {
  local release=$1 image rootfs
  image=$(image_of "$release")
  [ "$release" != "$TEST_HOST_RELEASE" ] || image=$TEST_HOST_IMAGE
  if docker image inspect "$image" >/dev/null 2>&1; then
    return 0
  fi
  need_root
  log "building $image from Debian's packages (about a minute)"
  rootfs=$(mktemp -d /var/tmp/django-stack-rootfs.XXXXXX)
  if ! build_rootfs "$release" "$rootfs"; then
    rm -rf "$rootfs"
    echo "bootstrap: building the test-host image $image failed" >&2
    return 1
  fi
  tar -C "$rootfs" -c . | docker import -c 'CMD ["/lib/systemd/systemd"]' - "$image" >/dev/null
  rm -rf "$rootfs"
}

# What a plain Debian server has: systemd, python3 and sudo (Ansible's way to
# become root or the app user), and nothing of the stack.
build_rootfs() {
  local release=$1 rootfs=$2 bundle
  debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,python3,dbus,ca-certificates,curl,procps,sudo \
    "$release" "$rootfs" >/dev/null || return 1
  if bundle=$(ca_bundle); then
    # Trust what the controller trusts: pip inside the host reaches PyPI through
    # the same TLS proxy, if there is one. Added next to Debian's own certificates.
    install -m 0644 "$bundle" "$rootfs/usr/local/share/ca-certificates/controller-bundle.crt"
    cat "$bundle" >>"$rootfs/etc/ssl/certs/ca-certificates.crt"
  fi
  # A container has no consoles to log in on, and these units only fail there.
  chroot "$rootfs" systemctl mask getty.target systemd-firstboot.service \
    systemd-remount-fs.service >/dev/null 2>&1 || true
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
}

bootstrap() {
  install_packages
  # The Python tools and the image do not depend on each other, and both spend
  # most of their time on downloads: build them side by side.
  local tools
  install_python_tools &
  tools=$!
  start_dockerd
  # Two releases build side by side too (debootstrap waits on downloads).
  local release builds=() failed=0
  for release in $TEST_HOST_RELEASES; do
    build_image "$release" &
    builds+=($!)
  done
  for pid in "${builds[@]}"; do
    wait "$pid" || failed=1
  done
  [ "$failed" -eq 0 ] || exit 1
  if ! wait "$tools"; then
    echo "bootstrap: installing the Python tools into $VENV failed" >&2
    exit 1
  fi
  export PATH="$VENV/bin:$PATH"
  export ANSIBLE_CONFIG="$ROOT/ansible.cfg"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  bootstrap
  log "ready: image $TEST_HOST_IMAGE, tools in $VENV"
fi
