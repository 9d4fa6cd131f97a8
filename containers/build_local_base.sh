#!/usr/bin/env bash
# Prepare a machine WITHOUT Docker Hub access for local image builds:
#   - start a Docker daemon by hand (for hosts without systemd),
#   - build a Debian bookworm base image with debootstrap and `docker import` it,
#   - print the `--build-arg`s that make the marie Dockerfiles use that base,
#     the host's extra CA certificates (TLS-intercepting proxies) and a local wheel directory.
# On a normal machine with Docker Hub access none of this is needed (see docs/containers.md).
#
# Usage: containers/build_local_base.sh {all|start|base|wheels|args|stop|stop-wheels}
#   all     start + base (default)
#   start   start dockerd in the background unless a daemon already answers
#   base    debootstrap bookworm and import it as $MARIE_LOCAL_BASE (skipped if it exists)
#   wheels  serve $MARIE_LOCAL_WHEELS over http://127.0.0.1:$MARIE_WHEEL_PORT for pip --find-links
#   args    print KEY=VALUE build args for containers/build_image.py (one per line)
#   stop    stop the wheel server and the dockerd that this script started
#   stop-wheels  stop only the wheel server
set -euo pipefail

STATE_DIR="${MARIE_LOCAL_STATE:-/tmp/marie-local-docker}"
LOCAL_BASE="${MARIE_LOCAL_BASE:-marie-local/debian:bookworm}"
SUITE="${MARIE_DEBIAN_SUITE:-bookworm}"
WHEELS_DIR="${MARIE_LOCAL_WHEELS:-/opt/wheels}"
WHEEL_PORT="${MARIE_WHEEL_PORT:-8765}"
EXTRA_CA_DIR="${MARIE_EXTRA_CA_DIR:-/usr/local/share/ca-certificates}"
mkdir -p "$STATE_DIR"

die() { echo "build_local_base.sh: $*" >&2; exit 1; }

need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root (starts dockerd, runs debootstrap)"; }

# First Debian mirror named in the host's apt sources (deb822 or one-line format).
debian_mirror() {
  local uri
  uri=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
          /etc/apt/sources.list.d/*.list 2>/dev/null \
        | grep -oE 'https?://[^ ]+/debian/?' | grep -v security | head -n1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

docker_up() { docker info >/dev/null 2>&1; }

start_daemon() {
  need_root
  if docker_up; then echo "docker daemon already running"; return; fi
  command -v dockerd >/dev/null || { apt-get update -q && apt-get install -y -q docker.io; }
  command -v debootstrap >/dev/null || apt-get install -y -q debootstrap
  dockerd >"$STATE_DIR/dockerd.log" 2>&1 &
  echo $! >"$STATE_DIR/dockerd.pid"
  for _ in $(seq 1 60); do docker_up && { echo "dockerd started (pid $(cat "$STATE_DIR/dockerd.pid"))"; return; }; sleep 1; done
  die "dockerd did not come up; see $STATE_DIR/dockerd.log"
}

build_base() {
  need_root
  docker_up || die "no docker daemon; run '$0 start' first"
  if docker image inspect "$LOCAL_BASE" >/dev/null 2>&1; then echo "$LOCAL_BASE exists"; return; fi
  command -v debootstrap >/dev/null || apt-get install -y -q debootstrap
  local rootfs="$STATE_DIR/rootfs" mirror
  mirror=$(debian_mirror)
  rm -rf "$rootfs"
  echo "debootstrap $SUITE from $mirror"
  debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" >"$STATE_DIR/debootstrap.log" 2>&1 \
    || die "debootstrap failed; see $STATE_DIR/debootstrap.log"
  # Keep the image small: apt lists and caches are refetched by every Dockerfile anyway.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
  tar -C "$rootfs" -c . | docker import - "$LOCAL_BASE" >/dev/null
  rm -rf "$rootfs"
  echo "imported $LOCAL_BASE"
}

serve_wheels() {
  [ -d "$WHEELS_DIR" ] || { echo "no wheel directory $WHEELS_DIR; skipping"; return; }
  if [ -f "$STATE_DIR/wheels.pid" ] && kill -0 "$(cat "$STATE_DIR/wheels.pid")" 2>/dev/null; then
    echo "wheel server already running"; return
  fi
  python3 -m http.server --bind 127.0.0.1 --directory "$WHEELS_DIR" "$WHEEL_PORT" \
    >"$STATE_DIR/wheels.log" 2>&1 &
  echo $! >"$STATE_DIR/wheels.pid"
  sleep 1
  echo "serving $WHEELS_DIR on http://127.0.0.1:$WHEEL_PORT/"
}

# Build args for this machine. EXTRA_CA_CERT carries only the locally added CAs (small),
# the image appends them to its own Debian trust store.
print_args() {
  echo "BASE_IMAGE=$LOCAL_BASE"
  local ca=""
  if compgen -G "$EXTRA_CA_DIR/*.crt" >/dev/null; then ca=$(cat "$EXTRA_CA_DIR"/*.crt); fi
  [ -n "$ca" ] && printf 'EXTRA_CA_CERT=%s\n' "$(printf '%s' "$ca" | base64 -w0)"
  if [ -d "$WHEELS_DIR" ]; then
    echo "PIP_EXTRA_ARGS=--find-links http://127.0.0.1:$WHEEL_PORT/"
    # The CPU wheel index is unreachable here; the served directory holds the CPU torch wheel.
    echo "TORCH_INDEX_URL=https://pypi.org/simple"
  fi
}

stop_started() {
  local f pid
  for f in "$@"; do
    [ -f "$STATE_DIR/$f.pid" ] || continue
    pid=$(cat "$STATE_DIR/$f.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
      echo "stopped $f (pid $pid)"
    fi
    rm -f "$STATE_DIR/$f.pid"
  done
}

case "${1:-all}" in
  all) start_daemon; build_base ;;
  start) start_daemon ;;
  base) build_base ;;
  wheels) serve_wheels ;;
  args) print_args ;;
  stop) stop_started wheels dockerd ;;
  stop-wheels) stop_started wheels ;;
  *) die "unknown command '${1}'; valid: all, start, base, wheels, args, stop, stop-wheels" ;;
esac
