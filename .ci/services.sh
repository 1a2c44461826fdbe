#!/usr/bin/env bash
# Start the real services the tests talk to (idempotent). A new machine may have none running.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# PostgreSQL (Debian's cluster; trust auth on 127.0.0.1 on the python-svc machines).
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if ! command -v pg_ctlcluster >/dev/null || ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  fi
  V=$(ls /etc/postgresql | sort -V | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$V" main start || true   # exits 2 when already running
  for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
fi
pg_isready -h 127.0.0.1 -p 5432

# Docker engine (Debian docker.io) on a private socket, with a local busybox image (no registry here).
DOCKER_ROOT=${DIGPY_DOCKER_ROOT:-/tmp/digpy-docker}
SOCK=$DOCKER_ROOT/docker.sock
if ! command -v dockerd >/dev/null || ! [ -x /bin/busybox ]; then
  apt-get update -qq && apt-get install -y -qq docker.io busybox-static >/dev/null
fi
mkdir -p "$DOCKER_ROOT/data" "$DOCKER_ROOT/exec"
if ! DOCKER_HOST=unix://$SOCK docker version >/dev/null 2>&1; then
  nohup dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
    --data-root="$DOCKER_ROOT/data" --exec-root="$DOCKER_ROOT/exec" --pidfile="$DOCKER_ROOT/dockerd.pid" \
    -H "unix://$SOCK" --default-ulimit nofile=20000:20000 >"$DOCKER_ROOT/dockerd.log" 2>&1 &
  for _ in $(seq 1 120); do DOCKER_HOST=unix://$SOCK docker version >/dev/null 2>&1 && break; sleep 0.5; done
fi
export DOCKER_HOST=unix://$SOCK
docker version --format 'docker engine {{.Server.Version}}'
if ! docker image inspect digpy-test/busybox:latest >/dev/null 2>&1; then
  ROOTFS=$(mktemp -d); mkdir -p "$ROOTFS/bin" "$ROOTFS/etc" "$ROOTFS/tmp"
  cp /bin/busybox "$ROOTFS/bin/"
  for applet in $("$ROOTFS/bin/busybox" --list); do [ "$applet" = busybox ] || ln -s busybox "$ROOTFS/bin/$applet"; done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$ROOTFS/etc/passwd"; echo 'root:x:0:' > "$ROOTFS/etc/group"
  tar -C "$ROOTFS" -c . | docker import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' - digpy-test/busybox:latest >/dev/null
  rm -rf "$ROOTFS"
fi

# Chromium for the web UI's browser tests (Debian's; Playwright is told where it is and never downloads one).
if ! [ -x /usr/bin/chromium ]; then
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version 2>/dev/null || true
