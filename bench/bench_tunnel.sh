#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Tunnel benchmark: the offline workload of bench_offline.sh (PACKETS 64-byte
# packets over FLOWS flows, 20% IPv6, 10% VLAN), plain and with every frame
# wrapped in VXLAN (bench/vxlan_wrap.py), one worker. Prints Mpps of each
# (best of RUNS) and their ratio, end to end (jcap) and decoder only
# (bench_decode.c: the file in memory, pc_decode over every packet), and
# checks both runs against the truth: the VXLAN run must give exactly the
# plain run's inner flows.
#
# usage: bench/bench_tunnel.sh [BUILD_DIR] [RUNS]   (PACKETS, FLOWS as bench_offline.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${2:-3}
PACKETS=${PACKETS:-10000000}
FLOWS=${FLOWS:-1000000}
JCAP=$BUILD/jcap
GEN=../shared/bench/gen_traffic.py
DIR=$BUILD/bench
PCAP=$DIR/offline-$PACKETS-$FLOWS.pcap
VX=${PCAP%.pcap}-vxlan.pcap
TRUTH=${PCAP%.pcap}.json

[ -x "$JCAP" ] || { echo "bench: build first (make build)" >&2; exit 2; }
[ -r "$GEN" ] || { echo "bench: $GEN not found (the shared bench tools are needed)" >&2; exit 2; }
mkdir -p "$DIR"
if [ ! -s "$PCAP" ] || [ ! -s "$TRUTH" ]; then
	echo "bench: generating $PCAP (once; cached)" >&2
	/usr/bin/python3 "$GEN" -o "$PCAP" --truth "$TRUTH" --packets "$PACKETS" --flows "$FLOWS" \
		--ipv6-share 0.2 --vlan-share 0.1 --size-dist 64 --seed 2 -q
fi
[ -s "$VX" ] || /usr/bin/python3 bench/vxlan_wrap.py "$PCAP" "$VX"

best_wall() { # FILE -> best wall seconds of RUNS
	local best="" out wall
	cat "$1" > /dev/null
	for _ in $(seq 1 "$RUNS"); do
		out=$( { /usr/bin/time -f '%e' "$JCAP" -r "$1" -q --no-progress; } 2>&1 | tail -1)
		wall=$out
		if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN{exit !(a<b)}'; then
			best=$wall
		fi
	done
	echo "$best"
}
plain=$(best_wall "$PCAP")
vxlan=$(best_wall "$VX")
awk -v p="$PACKETS" -v a="$plain" -v b="$vxlan" 'BEGIN{
	printf "jcap offline, 1 worker, %d packets: plain %.2f s = %.2f Mpps; VXLAN %.2f s = %.2f Mpps (%.0f%% of plain)\n",
		p, a, p / a / 1e6, b, p / b / 1e6, 100 * a / b }'
libs="$(pkg-config --libs libcrypto libpcap sqlite3) $(pkg-config --libs libxdp libbpf 2>/dev/null || true)"
if [ -r "$BUILD/libpacket_capture.a" ]; then
	# shellcheck disable=SC2086
	cc -std=gnu11 -O2 -D_GNU_SOURCE -Iinclude -Isrc bench/bench_decode.c \
		"$BUILD/libpacket_capture.a" $libs -lpthread -o "$DIR/bench_decode"
	"$DIR/bench_decode" "$PCAP" "$RUNS"
	"$DIR/bench_decode" "$VX" "$RUNS"
fi
for f in "$PCAP" "$VX"; do
	"$JCAP" -r "$f" -F json -w "$DIR/tflows.json" --no-progress
	/usr/bin/python3 bench/check_truth.py "$TRUTH" "$DIR/tflows.json"
done
