#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL cluster on loopback for the test suite.
#   scripts/pg-test-server.sh start   -> prints the URL to use (COHORT_TEST_PG_URL)
#   scripts/pg-test-server.sh stop
# Needs Debian's postgresql package (apt-get install postgresql). Nothing listens
# outside 127.0.0.1.
set -euo pipefail
PGDIR=${COHORT_PG_DIR:-/tmp/cohort-pg}
PORT=${COHORT_PG_PORT:-54329}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  echo "no PostgreSQL server binaries (apt-get install postgresql)" >&2
  exit 3
fi
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "${1:-start}" in
  start)
    if [ ! -s "$PGDIR/data/PG_VERSION" ]; then
      mkdir -p "$PGDIR"
      [ "$(id -u)" = 0 ] && chown postgres:postgres "$PGDIR"
      as_pg "$BIN/initdb" -D "$PGDIR/data" -U cohort --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if ! as_pg "$BIN/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1; then
      as_pg "$BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w \
        -o "-h 127.0.0.1 -p $PORT -k $PGDIR -c fsync=on -c synchronous_commit=on" start >/dev/null
    fi
    as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U cohort -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname='cohort_test'" | grep -q 1 ||
      as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U cohort cohort_test
    echo "postgresql://cohort@127.0.0.1:$PORT/cohort_test"
    ;;
  stop)
    as_pg "$BIN/pg_ctl" -D "$PGDIR/data" -m fast stop >/dev/null 2>&1 || true
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
