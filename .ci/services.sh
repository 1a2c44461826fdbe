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
