#!/bin/sh
# Throwaway PostgreSQL cluster for the test suite: initdb into a temporary directory, unix socket
# only, tuned for speed (no fsync). As root, the server runs as the postgres user.
#   scripts/pg-test-cluster.sh start      -> prints shell assignments (eval them)
#   scripts/pg-test-cluster.sh stop DIR
# Each start makes a cluster of its own (several can run at once, each in its own socket
# directory). LLMEMORY_TEST_PG_SETTINGS adds lines to postgresql.conf (e.g. "wal_level = logical"
# for the shards of tests/cluster).
set -eu
bindir=${LLMEMORY_PG_BINDIR:-/usr/lib/postgresql/15/bin}

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
start)
    dir=$(mktemp -d /tmp/llmemory-test-pg.XXXXXX)
    chmod 755 "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; user=postgres; else user=$(id -un); fi
    as_owner "$bindir/initdb" -D "$dir/data" -U "$user" -A trust -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 256MB
${LLMEMORY_TEST_PG_SETTINGS:-}
CONF
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
        { cat "$dir/server.log" >&2; exit 1; }
    echo "LLMEMORY_TEST_PG_DIR='$dir'"
    echo "LLMEMORY_TEST_DATABASE_URL='host=$dir port=5432 dbname=postgres user=$user'"
    ;;
stop)
    dir=${2:?usage: $0 stop DIR}
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start | stop DIR" >&2
    exit 2
    ;;
esac
