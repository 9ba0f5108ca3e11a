#!/bin/sh
# pgext/test/check-agree.sh: llmemory_bm25 against the pure-SQL BM25 ranking, on a throwaway
# PostgreSQL cluster (unix socket only). Random multi-tenant data through llmemory's own
# migration; checks top-k chunk lists and scores for exact equality (scores bit for bit) across
# visibility states: fresh rows, deleted rows, vacuumed, concurrent uncommitted writes. Also
# checks the access rules (privileges, row-level security) and a trusted install.
#   pgext/test/check-agree.sh [PG_CONFIG]   (run `make -C pgext install` first)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PG_CONFIG=${1:-${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}}
bindir=$("$PG_CONFIG" --bindir)

# The installed module must be the one just built.
stale=0
cmp -s "$here/../llmemory_bm25.so" "$("$PG_CONFIG" --pkglibdir)/llmemory_bm25.so" || stale=1
for f in "$here"/../*.sql "$here"/../*.control; do
    cmp -s "$f" "$("$PG_CONFIG" --sharedir)/extension/$(basename "$f")" || stale=1
done
if [ "$stale" -eq 1 ]; then
    echo "check-agree: the installed llmemory_bm25 is not this build; run make -C pgext install" >&2
    exit 1
fi

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
dir=$(mktemp -d /tmp/llmemory-bm25-check.XXXXXX)
chmod 755 "$dir"
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; user=postgres; else user=$(id -un); fi
cleanup() {
    [ -n "${bgpid:-}" ] && kill "$bgpid" 2>/dev/null
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
as_owner "$bindir/initdb" -D "$dir/data" -U "$user" -A trust -E UTF8 --locale=C.UTF-8 \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
autovacuum = off
CONF
as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
    { cat "$dir/server.log" >&2; exit 1; }

psql() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -U "$user" "$@"; }

psql -d postgres -c "CREATE SCHEMA agree"
sed 's/{{schema}}/agree/g' "$root/src/lib/db/sql/001_schema.sql" | psql -d postgres
psql -d postgres -f "$here/agree.sql"

# A concurrent writer that keeps its inserts and deletes uncommitted while the checks run.
"$bindir/psql" -X -q -h "$dir" -U "$user" -d postgres -c "BEGIN;
    SELECT agree.add_chunks('a', 400, 99);
    DELETE FROM agree.chunks WHERE owner_id = 'a' AND chunk_no % 7 = 3;
    SELECT pg_sleep(600)" >"$dir/writer.log" 2>&1 &
bgpid=$!
psql -d postgres -At -c "SELECT agree.wait_for_writer()" >/dev/null ||
    { cat "$dir/writer.log" >&2; exit 1; }
psql -d postgres -At -c "SELECT agree.run_checks('uncommitted writes elsewhere', 12)"
psql -d postgres -At -c "SELECT agree.stop_writer()" >/dev/null
wait "$bgpid" 2>/dev/null || true
bgpid=
psql -d postgres -At -c "SELECT agree.run_checks('after the writer rolled back', 12)"
psql -d postgres -f "$here/access.sql"
psql -d postgres -At -c "SELECT agree.summary()"
