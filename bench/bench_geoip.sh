#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# GeoIP/ASN enrichment cost on the export thread, with MaxMind's test databases:
# 1. bench_geoip (built here against BUILD_DIR's static library, pinned to one
#    core): pc_geoip_enrich() over FLOWS records, thread CPU per record;
# 2. with E2E=1 also jcap end to end on a file of FLOWS one-packet flows
#    (bench/geoip_traffic.py) without databases, with the City one, the ASN
#    one and both: wall and CPU seconds (best of RUNS), extra CPU per record.
#    Needs a quiet machine: the difference is small against the whole run.
#
# usage: bench/bench_geoip.sh [BUILD_DIR] [RUNS]    (FLOWS env: default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${2:-3}
FLOWS=${FLOWS:-1000000}
JCAP=$BUILD/jcap
DB=${PC_GEOIP_TEST_DIR:-/var/cache/jcap-test/geoip}
CITY=$DB/GeoLite2-City.mmdb
ASN=$DB/GeoLite2-ASN.mmdb
PCAP=$BUILD/bench/geoip-$FLOWS.pcap

[ -x "$JCAP" ] || { echo "bench: build first (make build)" >&2; exit 2; }
[ -r "$CITY" ] && [ -r "$ASN" ] || { echo "bench: no test databases in $DB (make deps)" >&2; exit 2; }
mkdir -p "$BUILD/bench"
lib=$BUILD/libpacket_capture.a
libs="$(pkg-config --libs libmaxminddb libpcap libcrypto sqlite3 rdkafka libcurl)
	$(pkg-config --libs libndpi libxdp libbpf 2>/dev/null || true) -lpthread"
# shellcheck disable=SC2086
cc -std=gnu11 -O2 -D_GNU_SOURCE -Wall -Wextra -Iinclude -Isrc bench/bench_geoip.c "$lib" \
	$libs -o "$BUILD/bench/bench_geoip"
# the same with a one-slot answer cache (geoip.c built in, so the library's is not taken)
# shellcheck disable=SC2086
cc -std=gnu11 -O2 -D_GNU_SOURCE -DHAVE_MAXMINDDB=1 -DPC_GEOIP_CACHE_SLOTS=1 -Iinclude -Isrc \
	bench/bench_geoip.c src/export/geoip.c "$lib" $libs -o "$BUILD/bench/bench_geoip_nocache"
echo "# $(date -u +%FT%TZ) $(uname -r) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
for b in bench_geoip bench_geoip_nocache; do
	for p in 0 ${POOLS:-10000 100000}; do
		echo "## $b, pool $p"
		taskset -c 0 "$BUILD/bench/$b" "$CITY" "$ASN" -n "$FLOWS" -p "$p" | grep -v '^[0-9]'
	done
done
[ "${E2E:-0}" = 1 ] || exit 0
[ -s "$PCAP" ] || /usr/bin/python3 bench/geoip_traffic.py "$PCAP" "$FLOWS"
cat "$PCAP" > /dev/null

# best (lowest CPU) of RUNS: "wall cpu records lookups"
measure() {
	local best="" out wall user sys recs look
	for _ in $(seq 1 "$RUNS"); do
		out=$( { /usr/bin/time -f 'T %e %U %S' "$JCAP" -r "$PCAP" -q --no-progress --stats \
			"$@"; } 2>&1)
		read -r _ wall user sys <<<"$(grep '^T ' <<<"$out")"
		recs=$(grep -o '"flows_exported":[0-9]*' <<<"$out" | cut -d: -f2)
		look=$(grep -o '"geoip":{"lookups":[0-9]*' <<<"$out" | cut -d: -f3)
		cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN{printf "%.2f", u + s}')
		if [ -z "$best" ] || awk -v a="$cpu" -v b="$(cut -d' ' -f2 <<<"$best")" \
			'BEGIN{exit !(a<b)}'; then
			best="$wall $cpu $recs $look"
		fi
	done
	echo "$best"
}

read -r w0 c0 n0 _ <<<"$(measure)"
printf "no databases: %d records, %.2f s wall, %.2f s CPU\n" "$n0" "$w0" "$c0"
for k in city asn both; do
	case $k in
	city) args=(--geoip-city "$CITY") ;;
	asn) args=(--geoip-asn "$ASN") ;;
	both) args=(--geoip-city "$CITY" --geoip-asn "$ASN") ;;
	esac
	read -r w c n l <<<"$(measure "${args[@]}")"
	awk -v k="$k" -v w="$w" -v c="$c" -v n="$n" -v l="$l" -v c0="$c0" -v w0="$w0" 'BEGIN{
		printf "%-5s %d records, %d lookups: %.2f s wall (+%.2f), %.2f s CPU (+%.2f): %.0f ns CPU per record, %.0f per lookup\n",
			k, n, l, w, w - w0, c, c - c0, (c - c0) * 1e9 / n, (c - c0) * 1e9 / l }'
done
