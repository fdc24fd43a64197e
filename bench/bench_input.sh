#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Input at disk speed: jcap's offline rate on workload a (2M IMIX packets,
# 50K flows) read plain beside gzip, zstd and lz4 copies of it (decompressed
# on a thread of their own), the same file cut into 3 pieces merged in time
# order, and workload b (10M 64-byte packets, 1M flows) plain. Prints Mpps
# from wall time and the CPU seconds (user + sys) of each run, best of RUNS,
# with the command that took it; every variant must read as many packets as
# the plain file (checked).
#
# usage: bench/bench_input.sh [BUILD_DIR] [RUNS]
#   BASE=DIR also times DIR/jcap on the plain files (say a build with
#   -DCMAKE_C_FLAGS=-DPC_FILE_NO_MMAP=1: read() instead of mmap());
#   SKIP_B=1 leaves workload b out; the files are cached in BUILD_DIR/bench.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${2:-3}
JCAP=$BUILD/jcap
GEN=../shared/bench/gen_traffic.py
DIR=$BUILD/bench
A=$DIR/input-a-2000000-50000.pcap
B=$DIR/offline-10000000-1000000.pcap

[ -x "$JCAP" ] || { echo "bench_input: build first (make build)" >&2; exit 2; }
[ -r "$GEN" ] || { echo "bench_input: $GEN not found (the shared bench tools are needed)" >&2; exit 2; }
for t in gzip zstd lz4; do
	command -v $t >/dev/null || { echo "bench_input: $t not installed (scripts/install-deps.sh)" >&2; exit 2; }
done
mkdir -p "$DIR"
if [ ! -s "$A" ]; then
	echo "bench_input: generating $A (once; cached)" >&2
	/usr/bin/python3 "$GEN" -o "$A" --packets 2000000 --flows 50000 --size-dist imix --seed 1 -q
fi
if [ "${SKIP_B:-0}" != 1 ] && [ ! -s "$B" ]; then
	echo "bench_input: generating $B (once; cached; the file of bench_offline.sh)" >&2
	/usr/bin/python3 "$GEN" -o "$B" --packets 10000000 --flows 1000000 \
		--ipv6-share 0.2 --vlan-share 0.1 --size-dist 64 --seed 2 -q
fi
# the compressed copies (default levels of each tool) and the 3 pieces
[ -s "$A.gz" ] || gzip -k -f "$A"
[ -s "$A.zst" ] || zstd -q -k -f "$A"
[ -s "$A.lz4" ] || lz4 -q -k -f "$A" "$A.lz4"
if [ ! -s "$DIR/input-a-part2.pcap" ]; then
	/usr/bin/python3 - "$A" "$DIR/input-a-part" <<'PY'
import struct, sys
src, out = sys.argv[1], sys.argv[2]
d = open(src, "rb").read()
hdr, off, cuts = d[:24], 24, []
while off < len(d):
    cuts.append(off)
    off += 16 + struct.unpack_from("<I", d, off + 8)[0]
n = len(cuts)
bounds = [cuts[0], cuts[n // 3], cuts[2 * n // 3], len(d)]
for i in range(3):
    with open("%s%d.pcap" % (out, i), "wb") as f:
        f.write(hdr + d[bounds[i]:bounds[i + 1]])
PY
fi
# everything from the page cache, as the other benches read
cat "$A" "$A.gz" "$A.zst" "$A.lz4" "$DIR"/input-a-part*.pcap > /dev/null
[ "${SKIP_B:-0}" = 1 ] || cat "$B" > /dev/null

# time JCAP ARGS...: best wall of RUNS; prints one line
bench() {
	local label=$1 jcap=$2
	shift 2
	local best="" out wall user sys rss pk
	for _ in $(seq 1 "$RUNS"); do
		out=$( { /usr/bin/time -f 'T %e %U %S %M' "$jcap" "$@" -q --no-progress --stats; } 2>&1)
		read -r _ wall user sys rss <<<"$(grep '^T ' <<<"$out")"
		pk=$(grep '^{' <<<"$out" | tail -1 | /usr/bin/python3 -c \
			'import json,sys; print(json.load(sys.stdin)["packets_read"])')
		if [ -z "$best" ] || awk -v a="$wall" -v b="${best%% *}" 'BEGIN{exit !(a<b)}'; then
			best="$wall $user $sys $rss $pk"
		fi
	done
	read -r wall user sys rss pk <<<"$best"
	awk -v l="$label" -v p="$pk" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" 'BEGIN{
		printf "%-34s %9d packets %6.2f s wall %6.2f s cpu (%.2f user + %.2f sys) %6.2f Mpps  RSS %4.0f MB\n",
			l, p, w, u + s, u, s, p / w / 1e6, r / 1024 }'
	echo "  command: $jcap $* -q --no-progress --stats"
	echo "$pk" > "$DIR/.last_packets"
}

echo "bench_input: best of $RUNS; Mpps from wall time; $(nproc) CPUs; $(date -u +%FT%TZ)"
bench "workload a plain" "$JCAP" -r "$A"
want=$(cat "$DIR/.last_packets")
for v in "gzip:$A.gz" "zstd:$A.zst" "lz4:$A.lz4"; do
	bench "workload a ${v%%:*}" "$JCAP" -r "${v#*:}"
	[ "$(cat "$DIR/.last_packets")" = "$want" ] || { echo "bench_input: ${v%%:*}: packet count differs" >&2; exit 1; }
done
bench "workload a in 3 pieces merged" "$JCAP" -r "$DIR/input-a-part0.pcap" \
	-r "$DIR/input-a-part1.pcap" -r "$DIR/input-a-part2.pcap"
[ "$(cat "$DIR/.last_packets")" = "$want" ] || { echo "bench_input: pieces: packet count differs" >&2; exit 1; }
if [ -n "${BASE:-}" ]; then
	bench "workload a plain (BASE)" "$BASE/jcap" -r "$A"
fi
if [ "${SKIP_B:-0}" != 1 ]; then
	bench "workload b plain" "$JCAP" -r "$B"
	if [ -n "${BASE:-}" ]; then
		bench "workload b plain (BASE)" "$BASE/jcap" -r "$B"
	fi
fi
ls -l "$A" "$A.gz" "$A.zst" "$A.lz4" | awk '{printf "  %s %d bytes\n", $NF, $5}'
