#!/bin/sh
# Installs what building and testing dovecot-activesync needs on Debian 12.
# Idempotent: run it as often as you like (as root). The system Dovecot
# service is left stopped: the tests and the demo run private instances.
set -eu

PACKAGES="
dovecot-dev dovecot-core dovecot-imapd dovecot-lmtpd
liblmdb-dev lmdb-utils libsodium-dev libxml2-dev libwbxml2-utils libical-dev
autoconf automake libtool pkg-config make gcc clang libclang-rt-14-dev
python3 python3-icalendar python3-vobject valgrind curl util-linux passwd openssl
dovecot-lucene dovecot-sieve dovecot-managesieved libssl-dev
debhelper dh-autoreconf dpkg-dev lintian
"

if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		exec sudo "$0" "$@"
	fi
	echo "install-deps.sh: must run as root" >&2
	exit 1
fi

missing=
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	     grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing"
	# Keep Debian's postinst from starting the system dovecot: we only
	# want the binaries. A policy-rc.d we add is removed again.
	added_policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		added_policy=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	rc=0
	{ apt-get update -q &&
	  apt-get install -y -q --no-install-recommends $missing; } || rc=$?
	[ -n "$added_policy" ] && rm -f /usr/sbin/policy-rc.d
	[ $rc = 0 ] || exit $rc
else
	echo "install-deps: all packages present"
fi

# Make sure no system dovecot is left running (ours use private
# base_dirs, so this only touches the default /run/dovecot instance).
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl disable --now dovecot.service dovecot.socket >/dev/null 2>&1 || :
fi
pidfile=/run/dovecot/master.pid
if [ -f "$pidfile" ]; then
	pid=$(cat "$pidfile")
	case "$pid" in ''|*[!0-9]*) pid= ;; esac
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		echo "install-deps: stopping the system dovecot (pid $pid)"
		doveadm stop >/dev/null 2>&1 || kill "$pid" || :
		i=0
		while [ $i -lt 100 ] && kill -0 "$pid" 2>/dev/null; do
			sleep 0.1
			i=$((i + 1))
		done
	fi
fi

# The private test Dovecot runs as this unprivileged user when the tests
# are started as root.
if ! getent passwd astest >/dev/null; then
	useradd --system --user-group --no-create-home \
		--home-dir /nonexistent --shell /usr/sbin/nologin astest
fi
echo "install-deps: done"
