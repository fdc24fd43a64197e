#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Load test of jcapd's REST API during a live capture: wrk against
# /packet_capture/capture/metrics and /packet_capture/capture/flows while a
# sender in a private network namespace pushes UDP over a veth pair that jcapd
# captures (198.18.0.0/15 only). Reports requests/s, latency percentiles and the
# capture's packet counts and drops, once without API load and once with it.
#
# usage: sudo bench/bench_api.sh [BUILD_DIR] ; env: SECONDS_PER_RUN (10), FLOWS (1000),
#        WRK_CONNS (8), BACKEND (afpacket), JSON_OUT (file for the summary line)
set -euo pipefail

BUILD=${1:-${PC_BUILD_DIR:-build}}
DUR=${SECONDS_PER_RUN:-10}
FLOWS=${FLOWS:-1000}
CONNS=${WRK_CONNS:-8}
BACKEND=${BACKEND:-afpacket}
# wrk shares this machine: run it at low priority so the numbers show what serving
# the API costs the capture, not what the load generator itself takes
WRK_PREFIX=${WRK_PREFIX:-nice -n 19}
JCAPD=$BUILD/jcapd

die() { echo "bench_api: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (veth pair, namespace, raw capture)"
[ -x "$JCAPD" ] || die "no jcapd at $JCAPD (build first)"
command -v wrk >/dev/null || die "wrk not installed (apt-get install wrk)"
command -v curl >/dev/null || die "curl not installed"

TAG=jb$$
NS=jbn$$
HOST=${TAG}h
PEER=${TAG}p
TMP=$(mktemp -d /tmp/bench_api.XXXXXX)
JPID=

cleanup() {
	[ -n "$JPID" ] && kill "$JPID" 2>/dev/null && wait "$JPID" 2>/dev/null || true
	ip link del "$HOST" 2>/dev/null || true
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

ip netns add "$NS"
ip link add "$HOST" type veth peer name "$PEER"
ip link set "$PEER" netns "$NS"
echo 1 > "/proc/sys/net/ipv6/conf/$HOST/disable_ipv6" 2>/dev/null || true
ip netns exec "$NS" sh -c "echo 1 > /proc/sys/net/ipv6/conf/$PEER/disable_ipv6" 2>/dev/null || true
ip addr add 198.18.99.1/24 dev "$HOST"
ip link set "$HOST" up
ip -n "$NS" addr add 198.18.99.2/24 dev "$PEER"
ip -n "$NS" link set "$PEER" up
ip -n "$NS" neigh replace 198.18.99.3 lladdr 02:00:00:00:00:03 dev "$PEER" nud permanent

head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$TMP/token"
chmod 600 "$TMP/token"
TOKEN=$(cat "$TMP/token")
"$JCAPD" --listen 127.0.0.1:0 --token-file "$TMP/token" --allow-dir "$TMP" \
	--log-level warn --http-threads 2 > "$TMP/jcapd.log" 2>&1 &
JPID=$!
for _ in $(seq 100); do
	grep -q "listening on" "$TMP/jcapd.log" && break
	sleep 0.05
done
BASE=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$TMP/jcapd.log")
[ -n "$BASE" ] || die "jcapd did not start: $(cat "$TMP/jcapd.log")"
API=$BASE/packet_capture/capture
AUTH="Authorization: Bearer $TOKEN"

curl -sf -X POST -H "$AUTH" -H 'Content-Type: application/json' \
	-d "{\"interface\":\"$HOST\",\"backend\":\"$BACKEND\",\"workers\":1}" "$API/start" \
	> /dev/null || die "start failed: $(curl -s -X POST -H "$AUTH" -H 'Content-Type: application/json' \
	-d "{\"interface\":\"$HOST\",\"backend\":\"$BACKEND\"}" "$API/start")"

# Sender: as fast as one core allows for DUR seconds, round-robin over FLOWS source
# ports; prints how many datagrams the kernel accepted.
cat > "$TMP/send.py" <<'PY'
import socket, sys, time
dur, flows = float(sys.argv[1]), int(sys.argv[2])
socks = []
for i in range(flows):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("198.18.99.2", 20000 + i))
    socks.append(s)
payload = bytes(64)
sent = 0
end = time.monotonic() + dur
while time.monotonic() < end:
    for s in socks:
        try:
            s.sendto(payload, ("198.18.99.3", 9000))
            sent += 1
        except OSError:
            pass
print(sent)
PY

metric() {	# metric JSON_PATH: one number from /capture/metrics
	curl -sf "$API/metrics" | python3 -c "import json,sys; d=json.load(sys.stdin)
v=d
for k in sys.argv[1].split('.'): v=v[k]
print(v)" "$1"
}

run_phase() {	# run_phase NAME WITH_LOAD
	local p0 d0 k0 sent p1 d1 k1
	p0=$(metric total.packets); d0=$(metric total.drops.kernel.dropped)
	k0=$(metric total.kernel.packets)
	if [ "$2" = 1 ]; then
		$WRK_PREFIX wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "$API/metrics" > "$TMP/wrk_metrics.txt" &
		W1=$!
		$WRK_PREFIX wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "$API/flows?limit=10&sort_by=bytes" \
			> "$TMP/wrk_flows.txt" &
		W2=$!
	fi
	sent=$(ip netns exec "$NS" python3 "$TMP/send.py" "$DUR" "$FLOWS")
	[ "$2" = 1 ] && wait "$W1" "$W2"
	sleep 1.5	# let the ring drain into the counters
	p1=$(metric total.packets); d1=$(metric total.drops.kernel.dropped)
	k1=$(metric total.kernel.packets)
	eval "${1}_sent=$sent ${1}_cap=$((p1 - p0)) ${1}_drop=$((d1 - d0)) ${1}_kern=$((k1 - k0))"
	printf '%-14s sent %9d  captured %9d  kernel drops %7d  lost %7d\n' "$1" "$sent" \
		"$((p1 - p0))" "$((d1 - d0))" "$((sent - (p1 - p0)))"
}

wrk_summary() {	# wrk_summary FILE NAME
	local rps p50 p90 p99 errs
	rps=$(awk '/Requests\/sec/ {print $2}' "$1")
	p50=$(awk '$1=="50%" {print $2}' "$1")
	p90=$(awk '$1=="90%" {print $2}' "$1")
	p99=$(awk '$1=="99%" {print $2}' "$1")
	errs=$(awk '/Non-2xx/ {print $NF}' "$1")
	printf '%-22s %10s req/s  p50 %8s  p90 %8s  p99 %8s  non-2xx %s\n' "$2" "$rps" "$p50" \
		"$p90" "$p99" "${errs:-0}"
	eval "${3}_rps=$rps ${3}_p50=$p50 ${3}_p99=$p99"
}

echo "bench_api: capture on $HOST ($BACKEND), ${DUR}s per run, $FLOWS flows, wrk -c$CONNS x2"
run_phase idle 0
run_phase loaded 1
wrk_summary "$TMP/wrk_metrics.txt" "GET /capture/metrics" wm
wrk_summary "$TMP/wrk_flows.txt" "GET /capture/flows" wf
curl -sf -X POST -H "$AUTH" "$API/stop" > /dev/null
line=$(printf '{"backend":"%s","seconds":%s,"flows":%s,"idle":{"sent":%s,"captured":%s,"kernel_drops":%s},"loaded":{"sent":%s,"captured":%s,"kernel_drops":%s},"metrics_rps":%s,"metrics_p50":"%s","metrics_p99":"%s","flows_rps":%s,"flows_p50":"%s","flows_p99":"%s"}' \
	"$BACKEND" "$DUR" "$FLOWS" "$idle_sent" "$idle_cap" "$idle_drop" "$loaded_sent" \
	"$loaded_cap" "$loaded_drop" "$wm_rps" "$wm_p50" "$wm_p99" "$wf_rps" "$wf_p50" "$wf_p99")
echo "$line"
[ -n "${JSON_OUT:-}" ] && echo "$line" > "$JSON_OUT"
exit 0
