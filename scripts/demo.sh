#!/bin/sh
# Try dovecot-activesync in two minutes (as root on Debian 12):
# installs the dependencies, builds into _build/demo, starts a private
# Dovecot with the activesync service on 127.0.0.1, creates the user
# demo@example.test, delivers a few sample mails and prints the URL,
# the password and a curl command to try.  Ctrl-C stops everything.
#
# Options: --no-deps, --port N (HTTP port, default: a free one),
#          --password PW (default: random).
set -eu

cd "$(dirname "$0")/.."
SRC=$(pwd)
DEPS=1
ARGS=
while [ $# -gt 0 ]; do
	case "$1" in
	--no-deps) DEPS= ;;
	--port) shift; ARGS="$ARGS --port $1" ;;
	--password) shift; ARGS="$ARGS --password $1" ;;
	*) echo "usage: $0 [--no-deps] [--port N] [--password PW]" >&2; exit 2 ;;
	esac
	shift
done

if [ -n "$DEPS" ] && [ "$(id -u)" = 0 ]; then
	./scripts/install-deps.sh
fi

BUILD=$SRC/_build/demo
if [ ! -f "$BUILD/Makefile" ]; then
	[ -x configure ] || ./autogen.sh
	mkdir -p "$BUILD"
	(cd "$BUILD" && "$SRC/configure" --enable-werror)
fi
make -C "$BUILD" -j2 >"$BUILD/make.log" 2>&1 || {
	tail -n 40 "$BUILD/make.log"
	echo "demo: build failed (full log: $BUILD/make.log)" >&2
	exit 1
}

# shellcheck disable=SC2086 # ARGS is a list of words
exec python3 "$SRC/tests/e2e/harness.py" demo --builddir "$BUILD" $ARGS
