#!/bin/sh
# Builds the Debian package (debian/) from a clean copy of the tree and
# checks it:
#   1. dpkg-buildpackage -us -uc -b in _build/deb/src, a copy of the
#      files git knows (tracked and new, not ignored) as they are in the
#      work tree; the .deb lands in _build/deb/.  debian/rules runs the
#      unit tests, not the end-to-end suite.
#   2. dpkg-deb -c / -I / -f: the service, the mail plugin, the settings
#      module (once the tree builds one), the conf.d file as a conffile,
#      Depends on the dovecot-abi-* of the installed dovecot-dev.
#   3. lintian: no errors.
#   4. as root: dpkg -i into this system, check the installed files and
#      that doveconf accepts the stock /etc/dovecot config with ours;
#      dpkg -r (the conffile stays, activesync must leave "protocols"),
#      then dpkg --purge, leaving the machine as found.  A policy-rc.d
#      keeps dovecot-core's plugin trigger from (re)starting the system
#      dovecot.  Skipped when not root, with --no-install, or when the
#      package or /etc/dovecot/conf.d/20-activesync.conf is already
#      there (an admin's files are never touched).
#
# Usage: scripts/test-deb.sh [--no-install] [-j N]
# DEB_BUILD_OPTIONS is passed on (default "parallel=N"; add nocheck to
# skip the unit tests).  The last line says PASS or FAIL.
set -u

cd "$(dirname "$0")/.." || exit 1
SRC=$(pwd)
WORK=$SRC/_build/deb
PKG=dovecot-activesync
INSTALL=1
JOBS=2
while [ $# -gt 0 ]; do
	case "$1" in
	--no-install) INSTALL= ;;
	-j) shift; JOBS=$1 ;;
	-j*) JOBS=${1#-j} ;;
	*) echo "usage: $0 [--no-install] [-j N]" >&2; exit 2 ;;
	esac
	shift
done

FAILS=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
finish() {
	if [ "$FAILS" -eq 0 ]; then
		echo "test-deb: PASS"
		exit 0
	fi
	echo "test-deb: FAIL ($FAILS check(s) failed)"
	exit 1
}
die() { bad "$*"; finish; }

for tool in git dpkg-buildpackage dpkg-deb dh lintian; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "$tool not found (scripts/install-deps.sh installs it)"
done
[ -f debian/control ] || die "no debian/ in $SRC"

# --- 1. build from a clean copy ------------------------------------------
rm -rf "$WORK" && mkdir -p "$WORK/src" || die "cannot create $WORK"
# (a deleted but still tracked file is skipped: --ignore-failed-read)
git ls-files -z --cached --others --exclude-standard |
	tar --null --ignore-failed-read -T - -cf - 2>/dev/null |
	tar -xf - -C "$WORK/src" ||
	die "copying the tree to $WORK/src failed"

: "${DEB_BUILD_OPTIONS:=parallel=$JOBS}"
export DEB_BUILD_OPTIONS
echo "test-deb: dpkg-buildpackage -us -uc -b (DEB_BUILD_OPTIONS=$DEB_BUILD_OPTIONS)"
t0=$(date +%s)
if (cd "$WORK/src" && dpkg-buildpackage -us -uc -b) >"$WORK/build.log" 2>&1; then
	ok "dpkg-buildpackage ($(( $(date +%s) - t0 )) s, log: $WORK/build.log)"
else
	tail -n 40 "$WORK/build.log"
	die "dpkg-buildpackage failed (log: $WORK/build.log)"
fi

version=$(cd "$WORK/src" && dpkg-parsechangelog -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
DEB=$WORK/${PKG}_${version}_${arch}.deb
[ -f "$DEB" ] || die "$DEB was not built"
ok "built $(basename "$DEB")"

# --- 2. contents and control fields --------------------------------------
contents=$(dpkg-deb -c "$DEB") || die "dpkg-deb -c failed"
# path mode: "./path" must be in the package with that permission string
has() {
	if printf '%s\n' "$contents" | awk -v p="./$1" -v m="$2" \
		'$6 == p && ($1 == m || m == "") { f = 1 } END { exit !f }'; then
		ok "contains /$1"
	else
		bad "/$1 missing (or not $2)"
	fi
}
has usr/lib/dovecot/activesync -rwxr-xr-x
has usr/lib/dovecot/modules/lib90_activesync_plugin.so -rw-r--r--
has etc/dovecot/conf.d/20-activesync.conf -rw-r--r--
has usr/share/dovecot/protocols.d/activesync.protocol -rw-r--r--
# The protocol is enabled by protocols.d (removed with the package), not
# by the conffile (kept after "apt-get remove").
conf=$(dpkg-deb --fsys-tarfile "$DEB" |
	tar -xOf - ./etc/dovecot/conf.d/20-activesync.conf 2>/dev/null)
if printf '%s\n' "$conf" | grep -q '^[[:space:]]*protocols[[:space:]]*='; then
	bad "the conffile sets protocols (Dovecot fails after remove without purge)"
fi
proto=$(dpkg-deb --fsys-tarfile "$DEB" |
	tar -xOf - ./usr/share/dovecot/protocols.d/activesync.protocol 2>/dev/null)
[ "$proto" = 'protocols = $protocols activesync' ] ||
	bad "activesync.protocol says '$proto'"
if printf '%s\n' "$contents" | grep -q '\.la$'; then
	bad "libtool .la files are packaged"
fi
if printf '%s\n' "$contents" | grep -q ' \./usr/share/doc/dovecot-core/'; then
	bad "files in dovecot-core's doc directory"
fi
# Dovecot's config process loads settings modules from modules/settings;
# once the tree installs one there, it must be in the package.
settings_so=$(printf '%s\n' "$contents" |
	awk '$6 ~ /^\.\/usr\/lib\/dovecot\/modules\/settings\/.*\.so$/ { print $6 }')
# (a Makefile.am installing into .../settings, e.g.
# "settingsdir = $(dovecot_moduledir)/settings")
if grep -qsE 'modules/settings|^[A-Za-z_]+dir[[:space:]]*=.*/settings([[:space:]]|$)' \
	"$WORK/src/configure.ac" $(find "$WORK/src" -name Makefile.am); then
	if [ -n "$settings_so" ]; then
		ok "settings module: $settings_so"
	else
		bad "the tree installs a settings module; the package has none"
	fi
elif [ -n "$settings_so" ]; then
	ok "settings module: $settings_so"
fi

# The ABI the installed dovecot-dev declares, computed here independently
# of debian/rules.
incdir=$(sed -n 's/^dovecot_pkgincludedir=//p' /usr/lib/dovecot/dovecot-config)
abi=$(sed -n 's/^#define DOVECOT_ABI_VERSION "\([^"(]*\).*/\1/p' \
	"${incdir:-/usr/include/dovecot}/config.h" | tr A-Z a-z)
[ -n "$abi" ] || bad "no DOVECOT_ABI_VERSION in dovecot-dev's config.h"
depends=$(dpkg-deb -f "$DEB" Depends)
echo "    Depends: $depends"
case ", $depends," in
*", dovecot-abi-$abi,"*) ok "Depends on dovecot-abi-$abi" ;;
*) bad "Depends lacks dovecot-abi-$abi" ;;
esac
case "$depends" in
*'${'*) bad "unsubstituted variable in Depends" ;;
esac
case ", $depends" in
*", dovecot-core "*|*", dovecot-core,"*) ok "Depends on dovecot-core (shlibs)" ;;
*) bad "Depends lacks dovecot-core (shlibs:Depends)" ;;
esac
if dpkg-deb -I "$DEB" conffiles 2>/dev/null |
	grep -qx '/etc/dovecot/conf.d/20-activesync.conf'; then
	ok "conffile /etc/dovecot/conf.d/20-activesync.conf"
else
	bad "/etc/dovecot/conf.d/20-activesync.conf is not a conffile"
fi
trig=$(dpkg-deb -I "$DEB" triggers 2>/dev/null)
case "$trig" in
*register-dovecot-plugin*) ok "activates register-dovecot-plugin" ;;
*) bad "does not activate dovecot-core's register-dovecot-plugin trigger" ;;
esac

# --- 3. lintian -----------------------------------------------------------
changes=$WORK/${PKG}_${version}_${arch}.changes
lintian --fail-on error "$changes" >"$WORK/lintian.log" 2>&1
lrc=$?
grep -v '^running with root privileges' "$WORK/lintian.log" | sed 's/^/    /'
nerr=$(grep -c '^E: ' "$WORK/lintian.log")
nwarn=$(grep -c '^W: ' "$WORK/lintian.log")
if [ "$lrc" -eq 0 ] && [ "$nerr" -eq 0 ]; then
	ok "lintian: no errors ($nwarn warning(s))"
else
	bad "lintian: $nerr error(s) (exit $lrc)"
fi

# --- 4. install into this system and purge again ------------------------
if [ -z "$INSTALL" ]; then
	echo "test-deb: install check skipped (--no-install)"
	finish
fi
if [ "$(id -u)" != 0 ]; then
	echo "test-deb: install check skipped (not root)"
	finish
fi
if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q 'installed'; then
	echo "test-deb: install check skipped ($PKG is installed on this system)"
	finish
fi
if [ -e /etc/dovecot/conf.d/20-activesync.conf ] ||
   [ -e /var/lib/dovecot/activesync ]; then
	echo "test-deb: install check skipped (/etc/dovecot/conf.d/20-activesync.conf" \
	     "or /var/lib/dovecot/activesync exists)"
	finish
fi

added_policy=
cleanup() {
	if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null |
	   grep -qv 'not-installed'; then
		dpkg --purge "$PKG" >>"$WORK/install.log" 2>&1
	fi
	[ -n "$added_policy" ] && rm -f /usr/sbin/policy-rc.d
	added_policy=
}
trap 'cleanup; exit 1' INT TERM HUP
# dovecot-core's postinst runs "invoke-rc.d dovecot restart" on the
# plugin trigger; policy-rc.d denies it (as install-deps.sh does).
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	added_policy=1
fi
master_before=$(cat /run/dovecot/master.pid 2>/dev/null)

export DEBIAN_FRONTEND=noninteractive
if dpkg -i "$DEB" >"$WORK/install.log" 2>&1; then
	ok "dpkg -i"
	[ -x /usr/lib/dovecot/activesync ] &&
		ok "installed /usr/lib/dovecot/activesync" ||
		bad "/usr/lib/dovecot/activesync not installed"
	[ -f /usr/lib/dovecot/modules/lib90_activesync_plugin.so ] &&
		ok "installed lib90_activesync_plugin.so" ||
		bad "lib90_activesync_plugin.so not installed"
	[ -f /etc/dovecot/conf.d/20-activesync.conf ] &&
		ok "installed /etc/dovecot/conf.d/20-activesync.conf" ||
		bad "/etc/dovecot/conf.d/20-activesync.conf not installed"
	st=$(stat -c '%U:%G %a' /var/lib/dovecot/activesync 2>/dev/null)
	[ "$st" = "root:root 700" ] &&
		ok "/var/lib/dovecot/activesync root:root 0700" ||
		bad "/var/lib/dovecot/activesync is '$st', not root:root 700"
	# The stock Debian config plus ours must parse (doveconf reads
	# /etc/dovecot/dovecot.conf) and enable the service.
	if doveconf -n >"$WORK/doveconf.log" 2>&1; then
		if grep -q '^service activesync' "$WORK/doveconf.log" &&
		   doveconf -h protocols | grep -qw activesync; then
			ok "doveconf -n: /etc/dovecot with our files enables activesync"
		else
			bad "doveconf -n: activesync not enabled"
		fi
	else
		sed 's/^/    /' "$WORK/doveconf.log" | tail -n 5
		bad "doveconf -n rejects /etc/dovecot with 20-activesync.conf"
	fi
	# Removed, not purged: the conffile stays, the protocol must not.
	if dpkg -r "$PKG" >>"$WORK/install.log" 2>&1; then
		ok "dpkg -r"
		[ -f /etc/dovecot/conf.d/20-activesync.conf ] ||
			bad "conffile gone after remove (expected until purge)"
		[ -e /usr/lib/dovecot/activesync ] &&
			bad "/usr/lib/dovecot/activesync left after remove"
		if doveconf -h protocols 2>/dev/null | grep -qw activesync; then
			bad "activesync still in protocols after remove (dovecot would not start)"
		else
			ok "after remove: activesync not in protocols"
		fi
	else
		bad "dpkg -r failed (log: $WORK/install.log)"
	fi
else
	sed 's/^/    /' "$WORK/install.log" | tail -n 20
	bad "dpkg -i failed (log: $WORK/install.log)"
fi

if dpkg --purge "$PKG" >>"$WORK/install.log" 2>&1; then
	ok "dpkg --purge"
else
	bad "dpkg --purge failed (log: $WORK/install.log)"
fi
cleanup
trap - INT TERM HUP
for f in /usr/lib/dovecot/activesync \
	 /usr/lib/dovecot/modules/lib90_activesync_plugin.so \
	 /etc/dovecot/conf.d/20-activesync.conf /var/lib/dovecot/activesync \
	 /usr/share/dovecot/protocols.d/activesync.protocol; do
	[ -e "$f" ] && bad "$f left after purge"
done
master_after=$(cat /run/dovecot/master.pid 2>/dev/null)
[ "$master_after" = "$master_before" ] &&
	ok "system dovecot not (re)started" ||
	bad "the system dovecot was (re)started (master.pid '$master_before' -> '$master_after')"
finish
