#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# make demo: generate a sample capture with the project's own generator, meter
# it with jcap (top 10 flows as a table) and show the final counters; then a
# few TLS, DNS and HTTP sessions (tests/tools/appgen.py) and what jcap reads
# from them.
set -euo pipefail
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
JCAP="$BUILD/jcap"
if [ ! -x "$JCAP" ]; then
	echo "demo: $JCAP not built (run make build)" >&2
	exit 1
fi
mkdir -p "$BUILD"
SAMPLE="$BUILD/sample.pcap"
python3 "$ROOT/tests/tools/pcapgen.py" -o "$SAMPLE" --scenario mixed --flows 2000 --seed 1 \
	--truth "$BUILD/sample.truth.json"
echo
echo "== $JCAP -r $SAMPLE --top 10 -F table --stats"
"$JCAP" -r "$SAMPLE" --top 10 -F table --stats --no-progress 2>"$BUILD/sample.stats.json"
echo
echo "== final counters (--stats)"
python3 - "$BUILD/sample.stats.json" "$BUILD/sample.truth.json" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
other = [ln for ln in lines if not ln.startswith("{")]
if other:
    print("\n".join(other))
st = json.loads([ln for ln in lines if ln.startswith("{")][-1])
print(json.dumps(st, indent=2))
truth = json.load(open(sys.argv[2]))
ok = st["packets_read"] == st["packets_in_flows"] + sum(st["skipped"].values())
print("conservation: packets_read %d = in flows %d + skipped %d: %s" % (
    st["packets_read"], st["packets_in_flows"], sum(st["skipped"].values()),
    "ok" if ok else "BROKEN"))
print("generator truth: %d packets, %d flow records; jcap: %d records" % (
    truth["packets"], len(truth["flows"]), st["flows_exported"]))
PY

APPS="$BUILD/sample-apps.pcap"
python3 "$ROOT/tests/tools/appgen.py" -o "$APPS" --packets 1 --chunk-flows 12 --seed 3
echo
echo "== application fields: $JCAP -r $APPS -F json"
"$JCAP" -r "$APPS" -F json --no-progress | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    what = [r[k] for k in ("tls_sni", "tls_alpn", "ja4", "dns_qname", "http_method", "http_host",
                           "http_url", "http_status") if k in r]
    print("%-6s %15s:%-5d -> %15s:%-5d %-14s %s" % (
        {6: "tcp", 17: "udp"}.get(r["proto"], r["proto"]), r["src_ip"], r["src_port"],
        r["dst_ip"], r["dst_port"], r.get("app", "-"), " ".join(str(x) for x in what)))
'
