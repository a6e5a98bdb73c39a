#!/bin/sh
# Build the WBXML decoder fuzzer with clang (libFuzzer + ASan + UBSan)
# against the installed libdovecot and run it, seeded with the samples.
#
#   module/wbxml/fuzz.sh [seconds]      (default 120)
#
# Work files go to $FUZZ_DIR (default /tmp/eas-wbxml-fuzz): the growing
# corpus is kept between runs, crash inputs land in $FUZZ_DIR/artifacts.
# Exits non-zero if the fuzzer found a problem.
set -e
seconds=${1:-120}
srcdir=$(cd "$(dirname "$0")" && pwd)
out=${FUZZ_DIR:-/tmp/eas-wbxml-fuzz}
mkdir -p "$out/corpus" "$out/seeds" "$out/artifacts"

cflags="-g -O1 -fno-omit-frame-pointer -DHAVE_CONFIG_H -I/usr/include/dovecot"
sources="$srcdir/wbxml-codepages.c $srcdir/wbxml-parser.c $srcdir/wbxml-tree.c $srcdir/wbxml-writer.c $srcdir/wbxml-xml.c"
libs="-L/usr/lib/dovecot -ldovecot -Wl,-rpath,/usr/lib/dovecot"

clang $cflags -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-o "$out/fuzz-wbxml" "$srcdir/fuzz-wbxml.c" $sources $libs
# plain build of the converter, only to turn the samples into seeds
clang $cflags $(pkg-config --cflags libxml-2.0) -o "$out/eas-wbxml" \
	"$srcdir/eas-wbxml.c" $sources $libs $(pkg-config --libs libxml-2.0)
for xml in "$srcdir"/samples/*.xml; do
	"$out/eas-wbxml" encode < "$xml" > "$out/seeds/$(basename "$xml" .xml).wbxml"
done

cd "$out"
exec ./fuzz-wbxml -max_total_time="$seconds" -max_len=65536 -timeout=10 \
	-rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$out/artifacts/" corpus seeds
