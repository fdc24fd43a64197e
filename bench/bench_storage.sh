#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Storage benchmarks: encryption throughput per cipher (bench_crypt, 64 KiB
# chunks) and the cost of --pcap-out, plain and encrypted, on metering a file.
# usage: bench/bench_storage.sh [BUILD_DIR (build)] ; env PACKETS (1000000), MIB (256)
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
PACKETS=${PACKETS:-1000000}
MIB=${MIB:-256}
WORK=$(mktemp -d /tmp/bench_storage.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# what the static library needs, from the .pc file the build writes
libs="$(bash "$(dirname "$0")/static_libs.sh" "$BUILD") $(pkg-config --libs libxdp libbpf 2>/dev/null || true)"
# shellcheck disable=SC2086
cc -std=gnu11 -O2 -D_GNU_SOURCE -I"$SRC/include" -I"$SRC/src" "$SRC/bench/bench_crypt.c" \
	"$BUILD/libpacket_capture.a" $libs -lpthread -o "$WORK/bench_crypt"

echo "== encryption throughput (one core, best of 3, GB = 10^9 bytes)"
"$WORK/bench_crypt" "$MIB" 65536

JCAP=$BUILD/jcap
if [ ! -x "$JCAP" ] || ! "$JCAP" --help 2>&1 | grep -q -- --pcap-out; then
	echo "== metering with storage: skipped ($JCAP has no --pcap-out)"
	exit 0
fi
GEN=${GEN:-$SRC/../shared/bench/gen_traffic.py}
echo "== metering $PACKETS packets (imix) with and without --pcap-out"
python3 "$GEN" -o "$WORK/in.pcap" --packets "$PACKETS" \
	--flows 10000 --size-dist imix --seed 1 -q
head -c 32 /dev/urandom > "$WORK/k.key"
bytes=$(stat -c %s "$WORK/in.pcap")
cat "$WORK/in.pcap" > /dev/null	# page cache

run() {	# label, extra args...: best of 3 wall times
	local label=$1 best="" s e t
	shift
	for _ in 1 2 3; do
		rm -rf "$WORK/out"
		s=$(date +%s%N)
		"$JCAP" -r "$WORK/in.pcap" -F json --no-progress --stats "$@" > /dev/null \
			2> "$WORK/stats"
		e=$(date +%s%N)
		t=$(( (e - s) / 1000 ))
		if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
	done
	awk -v l="$label" -v us="$best" -v n="$PACKETS" -v b="$bytes" \
		-v w="$(tail -n 1 "$WORK/stats" | grep -o '"writer":{[^}]*}')" \
		'BEGIN { printf "%-34s %8.3f s %6.2f Mpps %8.1f MB/s  %s\n", l, us / 1e6,
			 n / us, b / us, w }'
}
run "meter only"
run "meter + pcap-out" --pcap-out "$WORK/out" --rotate-size 64
run "meter + pcap-out aes-256-gcm" --pcap-out "$WORK/out" --rotate-size 64 \
	--encrypt-key "$WORK/k.key"
run "meter + pcap-out aes-128-gcm" --pcap-out "$WORK/out" --rotate-size 64 \
	--encrypt-key "$WORK/k.key" --cipher aes-128-gcm
run "meter + pcap-out chacha20-poly1305" --pcap-out "$WORK/out" --rotate-size 64 \
	--encrypt-key "$WORK/k.key" --cipher chacha20-poly1305
