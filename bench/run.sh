#!/bin/sh
# Benchmark suite: see bench/run.py --help and bench/RESULTS.md.
# Raises the file descriptor limit (10,000+ held connections) and runs
# the suite with the given options (e.g. --quick, --builddir BUILD).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec python3 "$(dirname "$0")/run.py" "$@"
