#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Offline metering benchmark: 10 million 64-byte packets over 1 million flows
# (20% IPv6, 10% VLAN), one worker. Prints Mpps, ns/packet and peak RSS
# (best of N runs), checks every flow against the generator's truth, and runs
# ../shared/bench/run_peers.sh on the same file when it is there.
#
# usage: bench/bench_offline.sh [BUILD_DIR] [RUNS]
#   PACKETS / FLOWS env vars shrink the workload for a quick look;
#   WORKERS="1 2 4" times several worker counts (the last one is also
#   checked against the truth) and prints each one's speed-up over the
#   first; JCAP_OPTS adds options to every jcap run (say "--inspect none");
#   PEERS_RUN=0 skips the peers.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${2:-3}
PACKETS=${PACKETS:-10000000}
FLOWS=${FLOWS:-1000000}
JCAP=$BUILD/jcap
GEN=../shared/bench/gen_traffic.py
PEERS=../shared/bench/run_peers.sh
DIR=$BUILD/bench
PCAP=$DIR/offline-$PACKETS-$FLOWS.pcap
TRUTH=${PCAP%.pcap}.json

[ -x "$JCAP" ] || { echo "bench: build first (make build)" >&2; exit 2; }
[ -r "$GEN" ] || { echo "bench: $GEN not found (the shared bench tools are needed)" >&2; exit 2; }
mkdir -p "$DIR"
if [ ! -s "$PCAP" ] || [ ! -s "$TRUTH" ]; then
	echo "bench: generating $PCAP (once; cached)" >&2
	/usr/bin/python3 "$GEN" -o "$PCAP" --truth "$TRUTH" --packets "$PACKETS" --flows "$FLOWS" \
		--ipv6-share 0.2 --vlan-share 0.1 --size-dist 64 --seed 2 -q
fi
# warm the page cache so every run reads from memory, as the peers do
cat "$PCAP" > /dev/null

# WORKERS: the worker counts to time (default 1); the first is the one the
# peers are compared with
WORKERS=${WORKERS:-1}
read -r -a XOPTS <<<"${JCAP_OPTS:-}"
first_wall=""
for nw in $WORKERS; do
	best=""
	for i in $(seq 1 "$RUNS"); do
		out=$( { /usr/bin/time -f '%e %U %S %M' "$JCAP" -r "$PCAP" -q --no-progress \
			--workers "$nw" "${XOPTS[@]}"; } 2>&1 | tail -1)
		read -r wall user sys rss <<<"$out"
		if [ -z "$best" ] || awk -v a="$wall" -v b="${best%% *}" 'BEGIN{exit !(a<b)}'; then
			best="$wall $user $sys $rss"
		fi
	done
	read -r wall user sys rss <<<"$best"
	[ -n "$first_wall" ] || first_wall=$wall
	awk -v p="$PACKETS" -v n="$nw" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" \
		-v o="${JCAP_OPTS:-}" -v f="$first_wall" -v fn="${WORKERS%% *}" 'BEGIN{
		printf "jcap offline%s, %d worker(s): %d packets in %.2f s wall (%.2f user + %.2f sys): %.2f Mpps, %.0f ns/packet, peak RSS %.0f MB",
			o == "" ? "" : " (" o ")", n, p, w, u, s, p / w / 1e6, w * 1e9 / p, r / 1024
		if (n != fn)
			printf ", %.2fx %d worker(s)", f / w, fn
		printf "\n" }'
done
wall=$first_wall

# exactness: every flow against the truth
"$JCAP" -r "$PCAP" -F json -w "$DIR/flows.json" --no-progress --stats \
	--workers "${WORKERS##* }" "${XOPTS[@]}" 2> "$DIR/stats.json"
/usr/bin/python3 bench/check_truth.py "$TRUTH" "$DIR/flows.json"
/usr/bin/python3 - "$DIR/stats.json" <<'PY'
import json, sys
s = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
ok = s["packets_read"] == s["packets_in_flows"] + sum(s["skipped"].values())
print(f"conservation: packets_read={s['packets_read']} packets_in_flows={s['packets_in_flows']} "
      f"skipped={sum(s['skipped'].values())} evicted={s['expired']['evicted']} holds={'yes' if ok else 'NO'}")
PY

if [ "${PEERS_RUN:-1}" = 1 ] && [ -r "$PEERS" ]; then
	echo "peers (run_peers.sh, best of $RUNS):"
	bash "$PEERS" -r "$RUNS" -T "$TRUTH" -l softflowd,fprobe,nfpcapd,pmacctd,argus,tcpdump,cat "$PCAP" | tee "$DIR/peers.tsv"
	awk -F'\t' -v w="$wall" 'NR>1 && $3 != "NA" && $3 > 0 {
		printf "  jcap is %.1fx %s\n", $3 / w, $1 }' "$DIR/peers.tsv"
fi
