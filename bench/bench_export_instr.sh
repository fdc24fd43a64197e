#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Where a Kafka record's cost goes, in instructions (valgrind callgrind, which
# a shared machine does not disturb): the first PACKETS packets of workload b
# metered with `--inspect none` and exported as JSON (key=flow) to librdkafka's
# mock cluster (tests/tools/kafka_mock). Prints instructions per record of the
# export thread, librdkafka's broker thread, the worker (metering, for scale)
# and, inclusive, capture_flow_to_json, capture_flow_community_id and
# rd_kafka_produce. docs/SCALING.md has the figures.
#
# usage: bench/bench_export_instr.sh [BUILD_DIR] [PACKETS]
#   PCAP=FILE picks the input (default BUILD_DIR/bench/offline-10000000-1000000.pcap)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
PACKETS=${2:-200000}
JCAP=$BUILD/jcap
MOCK=$BUILD/tests/kafka_mock
PCAP=${PCAP:-$BUILD/bench/offline-10000000-1000000.pcap}
[ -x "$JCAP" ] && [ -x "$MOCK" ] || { echo "bench: build first ($JCAP, $MOCK)" >&2; exit 2; }
[ -r "$PCAP" ] || { echo "bench: $PCAP missing (bench/bench_offline.sh makes it)" >&2; exit 2; }
for t in valgrind callgrind_annotate tcpdump; do
	command -v $t > /dev/null || { echo "bench: $t not installed" >&2; exit 2; }
done
tmp=$(mktemp -d)
mock=""
cleanup() {
	[ -n "$mock" ] && kill "$mock" 2> /dev/null || true
	wait 2> /dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

tcpdump -r "$PCAP" -c "$PACKETS" -w "$tmp/in.pcap" 2> /dev/null
mkfifo "$tmp/kin"
"$MOCK" 1 flows 8 < "$tmp/kin" > "$tmp/kout" &
mock=$!
exec 9> "$tmp/kin"
for _ in $(seq 100); do [ -s "$tmp/kout" ] && break; sleep 0.05; done
kafka=$(head -1 "$tmp/kout")

valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$tmp/cg" \
	"$JCAP" -r "$tmp/in.pcap" -q --stats --no-progress --inspect none \
	--export "kafka://$kafka/flows" 2> "$tmp/stats" > /dev/null
/usr/bin/python3 - "$tmp" << 'PY'
import glob, json, re, subprocess, sys
tmp = sys.argv[1]
st = None
for line in open(tmp + "/stats"):
    if line.startswith("{"):
        st = json.loads(line)
n = st["export"]["delivered"]
assert n == st["flows_exported"] > 0, st["export"]
threads, funcs = {}, {}
for f in sorted(glob.glob(tmp + "/cg-*")):
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", f], capture_output=True,
                         text=True).stdout
    total = int(re.search(r"([\d,]+) \(100.0%\)\s+PROGRAM TOTALS", out).group(1).replace(",", ""))
    named = [lbl for t, lbl in (("pc_engine_export_main", "export thread"),
                                ("pc_engine_worker_main", "worker thread (metering)"))
             if re.search(r":%s\b" % t, out)]
    key = named[0] if named else ("main thread (start, input)"
                                  if re.search(r"main\.c:main\b", out) else "librdkafka threads")
    threads[key] = threads.get(key, 0) + total
    for name in ("capture_flow_to_json", "capture_flow_community_id", "rd_kafka_produce"):
        m = re.search(r"^\s*([\d,]+) \([\d.]+%%\)\s+\S*:%s\b" % name, out, re.M)
        if m:
            funcs[name] = funcs.get(name, 0) + int(m.group(1).replace(",", ""))
print("# %d records delivered, %d packets; instructions per record" %
      (n, st["packets_read"]))
for k, v in sorted(threads.items()):
    print("%-36s %8.0f" % (k, v / n))
for k, v in funcs.items():
    print("%-36s %8.0f" % (k + " (incl.)", v / n))
PY
