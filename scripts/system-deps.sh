#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks for the real local stack: PostgreSQL server binaries,
# redis-server (the Celery broker of the scale-out test) and chromium (the UI tests).
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || need+=(redis-server)
if [ "${BACKFILL_BROWSER_TESTS:-1}" = "1" ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # the package's own cluster is not used: tests and the demo run throwaway clusters
  if command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null | grep -q online; then
    pg_ctlcluster --force "$(pg_lsclusters -h | awk '{print $1}' | head -1)" main stop >/dev/null 2>&1 || true
  fi
else
  echo "missing system packages: ${need[*]} -- install them with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
