#!/bin/sh
# Cross-check eas-wbxml against libwbxml2's xml2wbxml/wbxml2xml on the
# sample documents and on every tag of every code page. The independent
# tools are required: a missing tool is a failure, not a skip.
srcdir=$(cd "$(dirname "$0")" && pwd)
: "${EAS_WBXML:=$PWD/eas-wbxml}"
: "${WBXML_SAMPLES:=$srcdir/samples}"
export EAS_WBXML WBXML_SAMPLES

for tool in xml2wbxml wbxml2xml python3; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "FAIL: $tool not found (install libwbxml2-utils and python3)" >&2
		exit 1
	fi
done
if [ ! -x "$EAS_WBXML" ]; then
	echo "FAIL: $EAS_WBXML not built" >&2
	exit 1
fi
exec python3 "$srcdir/wbxml-crosscheck.py"
