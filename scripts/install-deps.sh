#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs the Debian 12 packages the project builds, tests and benchmarks with.
# Quick when everything is present: dpkg is asked first, apt-get runs only for what is missing.
set -euo pipefail

PKGS=(
	# build
	build-essential cmake pkg-config clang libclang-rt-14-dev clang-format bpftool
	# libraries the engine wraps
	libpcap-dev libxdp-dev libbpf-dev libssl-dev libsqlite3-dev
	libmicrohttpd-dev libjansson-dev libgnutls28-dev librdkafka-dev libcurl4-openssl-dev
	libdpdk-dev libndpi-dev libmaxminddb-dev zlib1g-dev libzstd-dev liblz4-dev
	# tests: collectors, decoders, replay, python
	nfdump tshark tcpreplay python3 python3-pytest libfixbuf-tools pmacct
	tcpdump iproute2 openssl sqlite3 xdp-tools kcat clickhouse-server gnutls-bin curl
	gzip zstd lz4 wireshark-common # compressed inputs; mergecap
	# benchmarks: peers and load generators
	softflowd wrk fprobe argus-server argus-client libndpi-bin
)

# MaxMind's published test databases (GeoLite2-City, GeoLite2-ASN), which Debian ships
# inside a Go package: only the two files are taken (apt-get download + dpkg-deb -x), not
# the package's Go dependencies. tests/integration/test_geoip.py reads them from here.
GEOIP_TEST_DIR=${PC_GEOIP_TEST_DIR:-/var/cache/jcap-test/geoip}
geoip_test_dbs() {
	local tmp src=usr/share/gocode/src/github.com/crowdsecurity/crowdsec/pkg/parser/test_data
	[ -s "$GEOIP_TEST_DIR/GeoLite2-City.mmdb" ] && [ -s "$GEOIP_TEST_DIR/GeoLite2-ASN.mmdb" ] &&
		return 0
	tmp=$(mktemp -d)
	chmod 755 "$tmp" # apt-get download runs as _apt where it can
	(cd "$tmp" && apt-get download -qq golang-github-crowdsecurity-crowdsec-dev) &&
		dpkg-deb -x "$tmp"/golang-github-crowdsecurity-crowdsec-dev_*.deb "$tmp/x" &&
		$SUDO install -d "$GEOIP_TEST_DIR" &&
		$SUDO install -m 644 "$tmp/x/$src/GeoLite2-City.mmdb" "$tmp/x/$src/GeoLite2-ASN.mmdb" \
			"$GEOIP_TEST_DIR/" &&
		echo "install-deps: GeoIP test databases in $GEOIP_TEST_DIR" ||
		echo "install-deps: could not fetch the GeoIP test databases (integration.geoip skips)"
	rm -rf "$tmp"
}
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi

missing=()
for p in "${PKGS[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#PKGS[@]} packages present"
	geoip_test_dbs
	exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
geoip_test_dbs
