#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Application inspection benchmark (issue 12): jcap with one worker on two
# files, with everything on (nDPI, TLS/QUIC/DNS/HTTP parsers, TCP health),
# with --no-dpi and with --inspect none; Mpps, ns/packet and peak RSS, best
# of N runs. Then the peers on the same files through
# ../shared/bench/run_peers.sh: ndpiReader (the peer that names
# applications) and softflowd (a meter that names none).
#   b:    workload b, 10M 64-byte packets over 1M flows (gen_traffic.py,
#         zero payloads: nDPI looks at a flow until it gives up)
#   imix: 1M packets of TLS, DNS and HTTP sessions with real payloads
#         (tests/tools/appgen.py: ClientHellos with and without GREASE,
#         ServerHellos, bulk records, DNS over UDP/TCP, HTTP/1.1; about 10
#         packets a session and 345 bytes a packet on average)
#
# usage: bench/bench_app.sh [BUILD_DIR] [RUNS]
#   WORKLOADS="b imix" (default both); B_PACKETS / B_FLOWS / IMIX_PACKETS
#   shrink them; PEERS="ndpireader,softflowd" (empty: none).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${2:-3}
WORKLOADS=${WORKLOADS:-b imix}
B_PACKETS=${B_PACKETS:-10000000}
B_FLOWS=${B_FLOWS:-1000000}
IMIX_PACKETS=${IMIX_PACKETS:-1000000}
PEERS=${PEERS-ndpireader,softflowd}
JCAP=$BUILD/jcap
GEN=../shared/bench/gen_traffic.py
RUN_PEERS=../shared/bench/run_peers.sh
DIR=$BUILD/bench

[ -x "$JCAP" ] || { echo "bench: build first (make build)" >&2; exit 2; }
mkdir -p "$DIR"

# file_of WORKLOAD: generate (once, cached) and print the pcap path
file_of() {
	local f
	case $1 in
	b)
		[ -r "$GEN" ] || { echo "bench: $GEN not found" >&2; exit 2; }
		# the same file as bench_offline.sh
		f=$DIR/offline-$B_PACKETS-$B_FLOWS.pcap
		[ -s "$f" ] && [ -s "${f%.pcap}.json" ] ||
			/usr/bin/python3 "$GEN" -o "$f" --truth "${f%.pcap}.json" --packets "$B_PACKETS" \
				--flows "$B_FLOWS" --ipv6-share 0.2 --vlan-share 0.1 --size-dist 64 \
				--seed 2 -q
		;;
	imix)
		f=$DIR/app-imix-$IMIX_PACKETS.pcap
		[ -s "$f" ] || /usr/bin/python3 tests/tools/appgen.py -o "$f" \
			--packets "$IMIX_PACKETS" >&2
		;;
	*) echo "bench: unknown workload $1" >&2; exit 2 ;;
	esac
	echo "$f"
}

# best_of FILE ARGS...: "wall user sys rss_kb" of the fastest of RUNS runs
best_of() {
	local f=$1 best="" out wall i
	shift
	for i in $(seq 1 "$RUNS"); do
		out=$( { /usr/bin/time -f '%e %U %S %M' "$JCAP" -r "$f" -q --no-progress \
			--workers 1 "$@"; } 2>&1 | tail -1)
		wall=${out%% *}
		if [ -z "$best" ] || awk -v a="$wall" -v b="${best%% *}" 'BEGIN{exit !(a<b)}'; then
			best=$out
		fi
	done
	echo "$best"
}

for w in $WORKLOADS; do
	f=$(file_of "$w")
	cat "$f" > /dev/null # page cache: every run reads from memory
	pk=$(capinfos -M -c -T "$f" 2>/dev/null | awk -F'\t' 'NR==2{print $2}')
	echo "workload $w: $f ($pk packets)"
	all_wall=""
	for mode in all no-dpi none; do
		case $mode in
		all) opts=() ;;
		no-dpi) opts=(--no-dpi) ;;
		none) opts=(--inspect none) ;;
		esac
		read -r wall user sys rss <<<"$(best_of "$f" "${opts[@]}")"
		[ -n "$all_wall" ] || all_wall=$wall
		awk -v m="$mode" -v p="$pk" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" 'BEGIN{
			printf "  jcap 1 worker, inspect %-7s %.2f s wall (%.2f user + %.2f sys): " \
				"%6.2f Mpps, %4.0f ns/packet, peak RSS %4.0f MB\n",
				m, w, u, s, p / w / 1e6, w * 1e9 / p, r / 1024 }'
	done
	# what the inspection found, with everything on
	"$JCAP" -r "$f" -q --no-progress --workers 1 --stats 2>&1 >/dev/null | tail -1 |
		/usr/bin/python3 -c '
import json, sys
s = json.loads(sys.stdin.read())
i = s["inspect"]
ok = s["packets_read"] == s["packets_in_flows"] + sum(s["skipped"].values())
print("  inspected %d flows (pool full %d), nDPI %d flows, %d identified; conservation %s" % (
    i["flows"], i["pool_full"], i["dpi_flows"], i["dpi_identified"], "holds" if ok else "BROKEN"))'
	if [ -n "$PEERS" ] && [ -r "$RUN_PEERS" ]; then
		truth=()
		[ "$w" = b ] && truth=(-T "${f%.pcap}.json")
		bash "$RUN_PEERS" -r "$RUNS" "${truth[@]}" -l "$PEERS" "$f" | tee "$DIR/peers-$w.tsv" |
			sed 's/^/  /'
		awk -F'\t' -v w="$all_wall" 'NR>1 && $3 != "NA" && $3 > 0 {
			printf "  jcap (everything on) is %.1fx %s\n", $3 / w, $1 }' "$DIR/peers-$w.tsv"
	fi
done
