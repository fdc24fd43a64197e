#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Export throughput benchmark: builds bench_export against a build directory's static
# library and runs it pinned to one core. Usage: bench/bench_export.sh [BUILD_DIR] [args...]
# e.g. bench/bench_export.sh build -n 5000000 -k ipfix,v9
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
build=${1:-$src/build}
[ $# -gt 0 ] && shift
lib=$build/libpacket_capture.a
if [ ! -f "$lib" ]; then
	echo "bench_export.sh: $lib not found (cmake -S . -B build && cmake --build build)" >&2
	exit 1
fi
bin=$build/bench_export
cc -std=gnu11 -O2 -D_GNU_SOURCE -Wall -Wextra -I"$src/include" -I"$src/src" \
	"$here/bench_export.c" "$lib" $(pkg-config --libs libpcap libcrypto sqlite3 2>/dev/null) \
	$(pkg-config --libs libxdp libbpf 2>/dev/null || true) \
	$(pkg-config --libs rdkafka libcurl 2>/dev/null || true) -lpthread -o "$bin"
echo "# $(date -u +%FT%TZ) $(uname -r) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
exec taskset -c 0 "$bin" "$@"
