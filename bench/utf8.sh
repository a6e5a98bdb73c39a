#!/bin/sh
# UTF-8 validation and truncation of synced text bodies: ours against
# Dovecot's helpers (module/items/bench-as-utf8.c). Uses the plain build
# of bench/run.sh (_build/bench, or BUILD=dir); prints one JSON object.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$SRC/_build/bench}
make -s -C "$BUILD/module" bench-as-utf8 >&2
exec "$BUILD/module/bench-as-utf8"
