#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Per-stage ns/packet of the one-core packet path (bench/bench_stages.c)
# on workload b (bench/bench_offline.sh's file: 10M 64-byte packets, 1M
# flows), TCP health off (as --inspect none) and on (as --no-dpi, without
# the payload parsers). Best of RUNS passes each.
#
# usage: bench/bench_stages.sh [BUILD_DIR] [RUNS] [PCAP]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${2:-3}
PCAP=${3:-$BUILD/bench/offline-10000000-1000000.pcap}
lib=$BUILD/libpacket_capture.a
[ -f "$lib" ] || { echo "bench_stages: build first ($lib)" >&2; exit 2; }
[ -s "$PCAP" ] || { echo "bench_stages: no $PCAP (bench/bench_offline.sh makes it)" >&2; exit 2; }
mkdir -p "$BUILD/bench"
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -g -D_GNU_SOURCE -Iinclude -Isrc -I"$BUILD" bench/bench_stages.c "$lib" \
	$(bash bench/static_libs.sh "$BUILD") -lpthread -o "$BUILD/bench/bench_stages"
echo "command: $BUILD/bench/bench_stages $PCAP $RUNS 1048576 {0,1}"
"$BUILD/bench/bench_stages" "$PCAP" "$RUNS" 1048576 0
"$BUILD/bench/bench_stages" "$PCAP" "$RUNS" 1048576 1
