#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs the Debian 12 packages the project builds, tests and benchmarks with.
# Quick when everything is present: dpkg is asked first, apt-get runs only for what is missing.
set -euo pipefail

PKGS=(
	# build
	build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
	# libraries the engine wraps
	libpcap-dev libxdp-dev libbpf-dev libssl-dev libsqlite3-dev
	libmicrohttpd-dev libjansson-dev libgnutls28-dev librdkafka-dev libcurl4-openssl-dev
	libdpdk-dev libndpi-dev libmaxminddb-dev zlib1g-dev libzstd-dev liblz4-dev
	# tests: collectors, decoders, replay, python
	nfdump tshark tcpreplay python3 python3-pytest libfixbuf-tools pmacct
	tcpdump iproute2 openssl sqlite3 xdp-tools kcat clickhouse-server gnutls-bin curl
	# benchmarks: peers and load generators
	softflowd wrk fprobe argus-server argus-client
)

missing=()
for p in "${PKGS[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#PKGS[@]} packages present"
	exit 0
fi
echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
