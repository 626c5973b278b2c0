#!/usr/bin/env bash
# A PostgreSQL server for the tests, the benchmark and CI, with one database per service.
#   scripts/postgres.sh start | stop | status
# Installs Debian's postgresql package when it is absent (needs root or sudo).
# Environment: PG_PORT (5432), PG_DATA (a folder under /tmp), PG_DATABASES (every service's: shared/services.py).
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PG_PORT:-5432}
DATA=${PG_DATA:-${TMPDIR:-/tmp}/harbin-assistance/pg-$PORT}
DATABASES=${PG_DATABASES:-$(python3 -m shared.services --names)}
# Eight services' write load: a buffer pool that holds a city's caseload, and checkpoints far enough
# apart that the WAL is not mostly full-page images, and random reads priced as what they are when the
# data sits in memory or on SSD: at the default (4.0) the consumers' key lookups (inbox, prefetch) became
# sequential scans of growing tables (docker-compose.yml passes the same).
SETTINGS="-c max_connections=300 -c shared_buffers=1GB -c max_wal_size=4GB -c checkpoint_timeout=15min -c random_page_cost=1.1"
log() { echo "postgres: $*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

bindir() {
  if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/pg_ctl" ]; then pg_config --bindir; return; fi
  local dir; dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$dir" ] && echo "$dir"
}

install() {
  if [ -n "$(bindir || true)" ]; then return; fi
  log "installing Debian's postgresql package"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
}

# PostgreSQL refuses to run as root: run it as the postgres user then.
run_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

ready() { run_pg "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; }

start() {
  install
  BIN=$(bindir)
  if ready; then log "already accepting connections on 127.0.0.1:$PORT"; create_databases; return; fi
  mkdir -p "$DATA"
  if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$(dirname "$DATA")"; fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    run_pg "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  log "starting PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT"
  run_pg "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
    -o "-p $PORT -k $DATA -c listen_addresses=127.0.0.1 $SETTINGS" start >/dev/null
  create_databases
}

create_databases() {
  for db in $DATABASES; do
    if ! run_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1; then
      run_pg "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$db"
    fi
  done
  log "databases ready: $DATABASES"
}

stop() {
  BIN=$(bindir)
  if [ -f "$DATA/postmaster.pid" ]; then run_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null; log "stopped"; else log "not running"; fi
}

restart() {
  BIN=$(bindir)
  run_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 restart -l "$DATA/server.log" \
    -o "-p $PORT -k $DATA -c listen_addresses=127.0.0.1 $SETTINGS" >/dev/null
  log "restarted"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  restart) restart ;;
  status) BIN=$(bindir); if ready; then log "running on 127.0.0.1:$PORT"; else log "not running"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
