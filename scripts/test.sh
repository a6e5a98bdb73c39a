#!/bin/sh
# THE test command: everything CI runs, runnable by hand (as root on a
# fresh Debian 12, or as a user that already has the dependencies).
#
#   1. scripts/install-deps.sh
#   2. ./autogen.sh
#   3. sanitizer build (ASan+UBSan, -Werror) in _build/sanitize:
#      make, make check (unit tests and the end-to-end tests against a
#      private Dovecot running our service)
#   4. plain build in _build/plain: make distcheck (builds and tests the
#      release tarball)
#   5. scripts/test-deb.sh: the Debian package (dpkg-buildpackage in
#      _build/deb, contents, Depends, lintian; as root also installs it
#      into the system and purges it again). Last, so that the package
#      is never installed while an earlier step's tests run.
#
# Options: --no-deps (skip step 1), --quick (skip step 4),
#          --no-deb (skip step 5), -j N (parallel make jobs, default 2).
# Logs of every step land in _build/logs/.  Exit status 0 only if every
# step passed.
set -u

cd "$(dirname "$0")/.." || exit 1
SRC=$(pwd)
JOBS=2
DEPS=1
DISTCHECK=1
DEB=1
while [ $# -gt 0 ]; do
	case "$1" in
	--no-deps) DEPS= ;;
	--quick) DISTCHECK= ;;
	--no-deb) DEB= ;;
	-j) shift; JOBS=$1 ;;
	-j*) JOBS=${1#-j} ;;
	*) echo "usage: $0 [--no-deps] [--quick] [--no-deb] [-j N]" >&2; exit 2 ;;
	esac
	shift
done

LOGS=$SRC/_build/logs
mkdir -p "$LOGS"
SUMMARY=
FAILED=0
START_ALL=$(date +%s)

# step NAME COMMAND...: run, log, remember the outcome.
step() {
	name=$1
	shift
	log=$LOGS/$name.log
	echo "==> $name: $*"
	t0=$(date +%s)
	if ( "$@" ) >"$log" 2>&1; then
		res=ok
	else
		res=FAIL
		FAILED=$((FAILED + 1))
		echo "--- $name failed; last lines of $log:"
		tail -n 60 "$log"
		echo "---"
	fi
	t=$(( $(date +%s) - t0 ))
	echo "    $res ($t s, log: $log)"
	SUMMARY="$SUMMARY
  $(printf '%-22s %-4s %5ss' "$name" "$res" "$t")"
	[ "$res" = ok ]
}

if [ -f config.status ]; then
	echo "test.sh: the source tree is configured in place; run" \
	     "'make distclean' there first (builds go to _build/)." >&2
	exit 1
fi

if [ -n "$DEPS" ]; then
	if [ "$(id -u)" = 0 ]; then
		step install-deps ./scripts/install-deps.sh || exit 1
	else
		echo "==> install-deps: skipped (not root)"
	fi
fi

step autogen ./autogen.sh || { echo "$SUMMARY"; exit 1; }

# Sanitizers: errors in our code abort (halt_on_error) and fail the test.
# Unit tests also check for leaks; processes started by Dovecot's master
# run without leak checking (tests/e2e/harness.py appends
# detect_leaks=0), since libdovecot's process exit paths report leaks
# that are not ours.
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1:strict_string_checks=1:check_initialization_order=1"
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
LSAN_OPTIONS="suppressions=$SRC/scripts/lsan.supp:print_suppressions=0"
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

sanitize() {
	rm -rf _build/sanitize && mkdir -p _build/sanitize &&
	cd _build/sanitize &&
	"$SRC/configure" --enable-werror --enable-sanitizers
}
if step configure-sanitize sanitize; then
	if step make-sanitize make -C _build/sanitize -j"$JOBS"; then
		step check-sanitize make -C _build/sanitize -j"$JOBS" check
	fi
fi

if [ -n "$DISTCHECK" ]; then
	unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
	plain() {
		rm -rf _build/plain && mkdir -p _build/plain &&
		cd _build/plain &&
		"$SRC/configure" --enable-werror
	}
	if step configure-plain plain; then
		step distcheck make -C _build/plain -j"$JOBS" distcheck
	fi
fi

if [ -n "$DEB" ]; then
	if command -v dpkg-buildpackage >/dev/null 2>&1 &&
	   command -v dh >/dev/null 2>&1; then
		step deb ./scripts/test-deb.sh -j "$JOBS"
	else
		echo "==> deb: skipped (no dpkg-buildpackage/debhelper;" \
		     "scripts/install-deps.sh installs them)"
	fi
fi

echo
echo "Summary ($(( $(date +%s) - START_ALL )) s):$SUMMARY"
if [ $FAILED -ne 0 ]; then
	echo "$FAILED step(s) FAILED"
	exit 1
fi
echo "all steps passed"
exit 0
