#!/bin/sh
# Install, from Debian 12's archive, everything needed to build homeport and
# run its whole test suite (real miniupnpd, BIND, baselines). Idempotent.
set -eu
BUILD_PKGS="build-essential pkg-config libcurl4-openssl-dev libinih-dev
 libminiupnpc-dev libnatpmp-dev nettle-dev liburiparser-dev libjansson-dev libseccomp-dev"
TEST_PKGS="libcmocka-dev clang libclang-rt-14-dev valgrind python3 python3-pytest
 iproute2 nftables miniupnpd miniupnpd-nftables miniupnpc natpmpc bind9
 bind9-dnsutils pdns-server pdns-backend-sqlite3 openssl curl mandoc procps
 python3-prometheus-client libio-socket-ssl-perl"
missing=""
for p in $BUILD_PKGS $TEST_PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing Debian packages:$missing (run as root)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# miniupnpd's package asks questions and may try to start a service: neither
# applies to a test bed, so keep its postinst quiet and start nothing.
echo 'miniupnpd miniupnpd/start_daemon boolean false' | debconf-set-selections 2>/dev/null || true
apt-get install -y -qq --no-install-recommends $missing >/dev/null
