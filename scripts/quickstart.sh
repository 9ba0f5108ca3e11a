#!/usr/bin/env bash
# scripts/quickstart.sh: from a fresh checkout to searching two tenants' documents, in one
# command. Installs the dependencies (scripts/deps.sh, via sudo when not root), builds, creates
# the embedded database (a private PostgreSQL cluster in $LLMEMORY_HOME, by default
# ~/.local/share/llmemory, or /var/lib/llmemory for root), ingests the bundled samples for the
# owners "acme" and "globex", and runs a few searches that show each owner sees only its own
# documents. Safe to run again: ingesting the same files re-indexes them.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

# Always the embedded database: a URL in the environment would send the samples elsewhere.
unset LLMEMORY_DATABASE_URL DATABASE_URL LLMEMORY_OWNER LLMEMORY_SCHEMA

llm=$here/build/debug/llmemory
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() {
    local shown="" a
    for a in "$@"; do
        case $a in *[[:space:]]*) shown="$shown \"$a\"" ;; *) shown="$shown $a" ;; esac
    done
    printf '$ llmemory%s\n' "$shown"
    "$llm" "$@"
}

step "Installing dependencies (scripts/deps.sh)"
bash scripts/deps.sh

step "Building (make)"
make -j"$(nproc 2>/dev/null || echo 2)"

step "Creating the embedded database"
show init

step "Ingesting samples/acme as owner \"acme\""
show ingest samples/acme --owner acme
step "Ingesting samples/globex as owner \"globex\""
show ingest samples/globex --owner globex

step "Searching acme's documents"
show search --owner acme --limit 3 "vacation days carry over"
show search --owner acme --limit 3 "two-factor authentication password"
show search --owner acme --limit 3 "single sign-on roadmap"

step "Searching globex's documents"
show search --owner globex --limit 3 "lockout tagout maintenance"
show search --owner globex --limit 3 "reactor shutdown pressure test"

step "Isolation: the same query, one owner at a time"
# Both owners have a file handbook/vacation.md (same id at origin); each owner
# finds only its own, ranked with its own statistics.
show search --owner acme --limit 2 "vacation policy"
show search --owner globex --limit 2 "vacation policy"

step "Isolation: globex asks for acme's document by id"
id=$("$llm" search --owner acme --limit 1 --json "vacation days" |
    sed -n 's/^ *"document_id": "\([0-9a-f-]*\)".*/\1/p' | head -n 1)
printf '$ llmemory get --owner globex %s\n' "$id"
set +e
"$llm" get --owner globex "$id"
status=$?
set -e
if [ "$status" -ne 3 ]; then
    echo "quickstart: expected exit status 3 (not found), got $status" >&2
    exit 1
fi
echo "(exit status 3: to globex, acme's document does not exist)"
show get --owner acme "$id"

step "Done"
cat <<EOF
The database keeps running in the background. Next steps:
  $llm --help                 all commands
  $llm stats --owner acme     an owner's statistics
  $llm db status              where the data lives
  $llm db stop                stop the database server
EOF
