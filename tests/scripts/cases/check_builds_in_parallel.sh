# `make check` builds both variants with one job per core (make -jN inside the check target).
set -u
cd "$SCRIPTS_ROOT"
n=$(nproc)
out=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -n check MAKE=echo 2>&1)
for variant in "check-build" "SAN=1 check-build"; do
    printf '%s\n' "$out" | grep -qE -- "-j$n $variant\$" ||
        { echo "make check does not build \"$variant\" with -j$n:"; echo "$out"; exit 1; }
done
