#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# DPDK backend benchmark (no NIC, no hugepages: --no-huge vdevs). The same
# 64-byte traffic through
#   file      jcap -r FILE (the file backend)
#   net_pcap  jcap -b dpdk on --vdev=net_pcap0,rx_pcap=FILE (file in page cache)
#   net_ring  net_pcap with infinite_rx=1 on a small file: packets replayed from
#             memory (the PMD copies each one into a fresh mbuf)
#   net_null  --vdev=net_null0: the PMD hands out 64-byte zero frames as fast as
#             it can (no decoding beyond "not IP"): the backend's own ceiling
# one worker each, --count PACKETS. Each receiver also runs with --count 1: its
# start-up (EAL init, loading the PMD plugins, populating the mbuf pool) is
# subtracted, so Mpps and CPU s per million packets are per packet.
#
# usage: bench/bench_dpdk.sh [BUILD_DIR] [RUNS]     (PACKETS, FLOWS env vars)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${2:-3}
PACKETS=${PACKETS:-2000000}
FLOWS=${FLOWS:-100000}
JCAP=$BUILD/jcap
GEN=../shared/bench/gen_traffic.py
DIR=$BUILD/bench
PCAP=$DIR/dpdk-$PACKETS-$FLOWS.pcap
SMALL=$DIR/dpdk-small-10000.pcap

[ -x "$JCAP" ] || { echo "bench: build first" >&2; exit 2; }
[ -r "$GEN" ] || { echo "bench: $GEN not found (the shared bench tools are needed)" >&2; exit 2; }
mkdir -p "$DIR"
[ -s "$PCAP" ] || /usr/bin/python3 "$GEN" -o "$PCAP" --packets "$PACKETS" --flows "$FLOWS" \
	--size-dist 64 --seed 4 -q
[ -s "$SMALL" ] || /usr/bin/python3 "$GEN" -o "$SMALL" --packets 10000 --flows 1000 \
	--size-dist 64 --seed 4 -q
cat "$PCAP" > /dev/null

EAL="--no-huge -m 512 --no-pci --iova-mode=va --no-shconf --no-telemetry --file-prefix bench$$"

# best (lowest wall) of RUNS: "wall user sys"
timed() {
	local best="" out i
	for i in $(seq 1 "$RUNS"); do
		out=$( { /usr/bin/time -f '%e %U %S' "$JCAP" "$@" -q --no-progress \
			--table-size 262144; } 2>&1 | tail -1)
		if [ -z "$best" ] || awk -v a="${out%% *}" -v b="${best%% *}" 'BEGIN{exit !(a<b)}'; then
			best=$out
		fi
	done
	echo "$best"
}

report() { # name, packets, "wall user sys" of the run, of --count 1
	awk -v n="$1" -v p="$2" -v r="$3" -v z="$4" 'BEGIN{
		split(r, a, " "); split(z, b, " ");
		w = a[1] - b[1]; c = (a[2] + a[3]) - (b[2] + b[3]);
		if (w <= 0) w = 0.001;
		printf "%-10s %9d packets %6.2f s wall (start-up %.2f s) %6.2f Mpps %6.3f CPU s/Mpkt\n",
			n, p, a[1], b[1], p / w / 1e6, c / (p / 1e6) }'
}

run() { # name, packets, jcap args...
	local name=$1 n=$2
	shift 2
	report "$name" "$n" "$(timed "$@" --count "$n")" "$(timed "$@" --count 1)"
}

echo "bench_dpdk: $PACKETS 64-byte packets, $FLOWS flows, 1 worker, best of $RUNS"
run file "$PACKETS" -r "$PCAP" --idle-timeout 86400
run net_pcap "$PACKETS" -i dpdk:net_pcap0 -b dpdk --idle-timeout 86400 \
	--dpdk-eal "$EAL --vdev=net_pcap0,rx_pcap=$PCAP"
run net_ring "$PACKETS" -i dpdk:net_pcap0 -b dpdk --idle-timeout 86400 \
	--dpdk-eal "$EAL --vdev=net_pcap0,rx_pcap=$SMALL,infinite_rx=1"
run net_null "$PACKETS" -i dpdk:net_null0 -b dpdk --dpdk-eal "$EAL --vdev=net_null0"
