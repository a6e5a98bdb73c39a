#!/bin/sh
# Benchmark suite: see bench/run.py --help and bench/RESULTS.md.
#
#   bench/run.sh [--quick] [--json FILE] [...]     builds, then runs
#   bench/run.sh --builddir BUILD [...]            uses an existing build
#
# Without --builddir it installs what is missing (scripts/install-deps.sh,
# as root) and builds a plain tree (no sanitizers: they would be what is
# measured) in _build/bench. It raises the file descriptor limit
# (10,000+ held connections) and runs the suite with the given options.
set -u

SRC=$(cd "$(dirname "$0")/.." && pwd) || exit 1
case " $* " in
*" --builddir "*|*" --builddir="*) ;;
*)
	BUILD=$SRC/_build/bench
	mkdir -p "$SRC/_build/logs" "$BUILD"
	LOG=$SRC/_build/logs/bench-build.log
	echo "==> building $BUILD (log: $LOG)" >&2
	(
		set -e
		if [ "$(id -u)" = 0 ]; then
			"$SRC/scripts/install-deps.sh"
		fi
		cd "$SRC"
		./autogen.sh
		cd "$BUILD"
		[ -f Makefile ] || "$SRC/configure" --enable-werror
		make -j2
	) >"$LOG" 2>&1 || {
		tail -n 40 "$LOG" >&2
		echo "bench: build failed, see $LOG" >&2
		exit 1
	}
	set -- --builddir "$BUILD" "$@"
	;;
esac
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec python3 "$SRC/bench/run.py" "$@"
