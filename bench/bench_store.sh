#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Flow store benchmark: rows/s through the sqlite exporter ops and query times (bench_store.c),
# then jcap -r of a generated file with and without --store.
# Usage: bench/bench_store.sh [BUILD_DIR] [-n RECORDS] [-b BATCH]   (env PKTS, FLOWS for the file;
# GEN names gen_traffic.py, default ../shared/bench/ beside the source tree)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
build=${1:-$src/build}
[ $# -gt 0 ] && shift
lib=$build/libpacket_capture.a
if [ ! -f "$lib" ]; then
	echo "bench_store.sh: $lib not found (cmake -S . -B build && cmake --build build)" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=$build/bench_store
cc -std=gnu11 -O2 -D_GNU_SOURCE -Wall -Wextra -I"$src/include" -I"$src/src" \
	"$here/bench_store.c" "$lib" $(bash "$here/static_libs.sh" "$build") \
	$(pkg-config --libs libxdp libbpf 2>/dev/null || true) -lpthread -o "$bin"
echo "# $(date -u +%FT%TZ) $(uname -r) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "# load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin" -o "$tmp/bench.db" "$@"
rm -f "$tmp"/bench.db*

pkts=${PKTS:-1000000}
flows=${FLOWS:-100000}
gen=${GEN:-$src/../shared/bench/gen_traffic.py}
if [ -x "$build/jcap" ] && [ -f "$gen" ]; then
	pcap=$build/bench_store_${pkts}_${flows}.pcap # generated once, reused
	[ -f "$pcap" ] || python3 "$gen" -q -o "$pcap" --packets "$pkts" --flows "$flows"
	t0=$(date +%s.%N)
	"$build/jcap" -r "$pcap" --no-progress -F json -w /dev/null
	t1=$(date +%s.%N)
	"$build/jcap" -r "$pcap" --no-progress -F json -w /dev/null --store "$tmp/s.db"
	t2=$(date +%s.%N)
	rows=$(sqlite3 "$tmp/s.db" 'SELECT count(*) FROM flows' 2>/dev/null || echo '?')
	echo "jcap -r ($pkts packets, $flows flows): $(echo "$t1 - $t0" | bc) s without --store," \
		"$(echo "$t2 - $t1" | bc) s with --store ($rows rows," \
		"$(du -k "$tmp/s.db" | cut -f1) KiB)"
fi
