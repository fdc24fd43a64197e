#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Live capture benchmark on a veth pair in a private namespace: for each receiver
# (jcap on every backend, tcpdump -w /dev/null, softflowd) the same traffic is
# sent with tcpreplay --topspeed into v0 while the receiver reads v1. Prints a
# TSV and a Markdown table: offered and delivered rate, packets lost (sent -
# delivered), drops the receiver reported (jcap: kernel drops + ifdrops), and
# receiver CPU seconds (user+sys, /usr/bin/time) per million packets. Root only.
#
#   bench/bench_live.sh [-n PACKETS] [-l LOOPS] [-f FLOWS] [-s 64|imix|1500] [-r "RECEIVERS"]
#       [-o OUT.tsv] [-B BUILD_DIR] [-t JCAP_TABLE_SIZE (65536; 0: jcap's default)]
#       [-x "EXTRA JCAP OPTIONS"] [-R REPEATS] [-I]
# -I: also run each receiver once more without traffic for the same time and add
#   cpu_idle_s and (cpu_s - cpu_idle_s) per million packets (start-up, ring
#   allocation and idle wake-ups taken out).
# -R N: run the whole receiver list N times, interleaved (r1 r2 .. r1 r2 ..), so
#   a machine that other work loads affects every receiver alike; one row a run.
# RECEIVERS (default all): jcap:pcap:1 jcap:afpacket:1 jcap:afpacket:2 jcap:afxdp:1
#   jcap:ebpf:1:generic tcpdump softflowd ; a jcap:afxdp:W:generic (or jcap:ebpf:W:generic)
#   entry forces generic XDP mode (jcap:ebpf:1::--ebpf-hook,tc: the TC hook); a fifth
#   field adds jcap options, commas for blanks: jcap:afpacket:1::--inspect,none;
#   jcap@DIR:... runs DIR/jcap instead (another build, to compare two in one run)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
packets=200000
loops=5
flows=5000
size=64
table=65536
build=${PC_BUILD_DIR:-$src/build}
out=""
idle=0
extra=""
repeats=1
receivers="jcap:pcap:1 jcap:afpacket:1 jcap:afpacket:2 jcap:afxdp:1 jcap:afxdp:1:generic jcap:ebpf:1:generic tcpdump softflowd"

while getopts "n:l:f:s:r:o:B:t:x:R:Ih" o; do
	case $o in
	n) packets=$OPTARG ;;
	l) loops=$OPTARG ;;
	f) flows=$OPTARG ;;
	s) size=$OPTARG ;;
	r) receivers=$OPTARG ;;
	o) out=$OPTARG ;;
	B) build=$OPTARG ;;
	t) table=$OPTARG ;;
	x) extra=$OPTARG ;;
	R) repeats=$OPTARG ;;
	I) idle=1 ;;
	*) sed -n '2,22p' "$0"; exit 2 ;;
	esac
done

[ "$(id -u)" -eq 0 ] || { echo "bench_live: needs root (network namespace, raw sockets)" >&2; exit 1; }
jcap=$build/jcap
[ -x "$jcap" ] || { echo "bench_live: no jcap at $jcap (set -B or PC_BUILD_DIR)" >&2; exit 1; }
for t in tcpreplay /usr/bin/time ip; do
	command -v "$t" >/dev/null || { echo "bench_live: $t not installed" >&2; exit 1; }
done
gen=""
for g in "$src/../shared/bench/gen_traffic.py" "$here/gen_traffic.py"; do
	[ -f "$g" ] && gen=$g && break
done
[ -n "$gen" ] || { echo "bench_live: gen_traffic.py not found" >&2; exit 1; }

work=$(mktemp -d /tmp/bench_live.XXXXXX)
ns=pcbench$$
cleanup() {
	for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

pcap=$work/traffic.pcap
/usr/bin/python3 "$gen" -o "$pcap" --packets "$packets" --flows "$flows" --size-dist "$size" \
	--ipv6-share 0.2 --udp-share 0.3 --duration 10 --seed 1 -q
total=$((packets * loops))

ip netns add "$ns"
nsx() { ip netns exec "$ns" "$@"; }
nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$ns" link set lo up
ip -n "$ns" link add v0 type veth peer name v1
ip -n "$ns" link set v0 up
ip -n "$ns" link set v1 up
# GRO would merge TCP segments before the capture point on real NICs; on a veth it is off
nsx ethtool -K v1 gro off >/dev/null 2>&1 || true

hdr='receiver\tpackets\toffered_kpps\tdelivered\tdelivered_kpps\tlost\tdrops_reported\tcpu_s\tcpu_s_per_Mpkt'
[ "$idle" = 1 ] && hdr="$hdr\tcpu_idle_s\tcpu_s_minus_idle_per_Mpkt"
printf "$hdr\n" >"$work/table.tsv"

# start RECEIVER SPEC in the namespace under /usr/bin/time; sets rpid
start_rx() {
	local kind backend workers mode opts targs=()
	IFS=: read -r kind backend workers mode opts <<<"$1"
	[ "$table" != 0 ] && targs=(--table-size "$table")
	# shellcheck disable=SC2206 # -x is a list of options: split on blanks
	targs+=($extra ${opts//,/ })
	rm -f "$work/time" "$work/rx.out" "$work/rx.err" "$work/sf.ctl"
	local bin=$jcap
	[ "${kind#jcap@}" != "$kind" ] && bin=${kind#jcap@}/jcap && kind=jcap
	case $kind in
	jcap)
		PC_XDP_MODE=${mode:-} ip netns exec "$ns" /usr/bin/time -f '%U %S' -o "$work/time" "$bin" -i v1 \
			-b "$backend" --workers "$workers" --count "$total" --duration 120 -F json \
			"${targs[@]}" \
			--stats --no-progress >"$work/rx.out" 2>"$work/rx.err" &
		;;
	tcpdump)
		ip netns exec "$ns" /usr/bin/time -f '%U %S' -o "$work/time" tcpdump -i v1 -n -w /dev/null \
			-c "$total" >"$work/rx.out" 2>"$work/rx.err" &
		;;
	softflowd)
		ip netns exec "$ns" /usr/bin/time -f '%U %S' -o "$work/time" softflowd -i v1 -d -m 4000000 \
			-c "$work/sf.ctl" -n 127.0.0.1:9995 >"$work/rx.out" 2>"$work/rx.err" &
		;;
	esac
	rpid=$!	# ip netns exec execs /usr/bin/time: the receiver is its child
}

stop_rx() {
	# (softflowd ignores SIGINT: escalate)
	for sig in INT TERM KILL; do
		kill -0 "$rpid" 2>/dev/null || break
		pkill -"$sig" -P "$rpid" 2>/dev/null || true
		for _ in $(seq 20); do kill -0 "$rpid" 2>/dev/null || break; sleep 0.1; done
	done
	wait "$rpid" 2>/dev/null || true
}

# CPU seconds of SPEC left running without traffic as long as the measured run
idle_cpu() {
	local rpid
	start_rx "$1"
	sleep "$2"
	stop_rx
	tail -1 "$work/time" 2>/dev/null | awk '{ printf "%.2f", $1 + $2 }'
}

run_one() {
	local spec=$1 kind rpid t0 t1 ts tend rate delivered drops cpu wall idle_s
	kind=${spec%%:*}
	kind=${kind%%@*}
	start_rx "$spec"
	ts=$(date +%s.%N)
	sleep 1.5
	t0=$(date +%s.%N)
	rate=$(nsx tcpreplay -i v0 --topspeed -K --loop "$loops" "$pcap" 2>&1 |
		sed -n 's/.*Rated: .*, \([0-9.]*\) pps.*/\1/p' | tail -1)
	t1=$(date +%s.%N)
	if [ "$kind" = softflowd ]; then
		sleep 1
		nsx softflowctl -c "$work/sf.ctl" statistics >"$work/sf.stats" 2>&1 || true
	fi
	# give the receiver 3 s to finish what is queued, then stop it
	for _ in $(seq 30); do kill -0 "$rpid" 2>/dev/null || break; sleep 0.1; done
	stop_rx
	tend=$(date +%s.%N)
	wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	delivered=NA
	drops=NA
	case $kind in
	jcap)
		read -r delivered drops < <(/usr/bin/python3 -c '
import json, sys
s = None
for l in open(sys.argv[1]):
    if l.startswith("{"):
        s = json.loads(l)
k = s["kernel"] if s else None
print(s["packets_read"], k["drops"] + k["ifdrops"]) if s else print("NA NA")' "$work/rx.err")
		;;
	tcpdump)
		delivered=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$work/rx.err")
		drops=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$work/rx.err")
		;;
	softflowd)
		local rcv
		rcv=$(sed -n 's/^Packets received by libpcap: \([0-9]*\).*/\1/p' "$work/sf.stats")
		drops=$(sed -n 's/^Packets dropped by libpcap: \([0-9]*\).*/\1/p' "$work/sf.stats")
		[ -n "$rcv" ] && [ -n "$drops" ] && delivered=$((rcv - drops))
		;;
	esac
	# the last line: /usr/bin/time may first say how the command ended
	cpu=$(tail -1 "$work/time" 2>/dev/null | awk '{ printf "%.2f", $1 + $2 }')
	cpu=${cpu:-NA}
	idle_s=""
	if [ "$idle" = 1 ]; then
		idle_s=$(idle_cpu "$spec" "$(awk -v a="$ts" -v b="$tend" 'BEGIN { printf "%.2f", b - a }')")
		idle_s=${idle_s:-NA}
	fi
	/usr/bin/python3 - "$spec" "$total" "${rate:-0}" "$delivered" "$wall" "$drops" "$cpu" "$idle_s" \
		>>"$work/table.tsv" <<'EOF'
import sys
spec, total, rate, dlv, wall, drops, cpu, idle = sys.argv[1:]
build = ""
if spec.startswith("jcap@"):
    build = " (%s)" % spec[5:spec.index(":")]
    spec = "jcap" + spec[spec.index(":"):]
name = spec.replace(",", " ").replace("jcap:", "jcap -b ").replace(":", " w", 1).replace(":", " ")
name = " ".join(name.split()) + build
kpps = "%.0f" % (float(rate) / 1000)
dk = "%.0f" % (int(dlv) / float(wall) / 1000) if dlv not in ("NA", "") else "NA"
base = int(dlv) if dlv not in ("NA", "") else int(total)
per = "%.2f" % (float(cpu) / base * 1e6) if cpu != "NA" else "NA"
lost = str(int(total) - int(dlv)) if dlv not in ("NA", "") else "NA"
row = [name, total, kpps, dlv or "NA", dk, lost, drops or "NA", cpu, per]
if idle:
    net = "%.3f" % ((float(cpu) - float(idle)) / base * 1e6) if "NA" not in (cpu, idle) else "NA"
    row += [idle, net]
print("\t".join(row))
EOF
}

for _ in $(seq "$repeats"); do
	for r in $receivers; do
		run_one "$r"
		tail -1 "$work/table.tsv" >&2
	done
done

if [ -n "$out" ]; then
	cp "$work/table.tsv" "$out"
fi
echo
cat "$work/table.tsv"
echo
/usr/bin/python3 - "$work/table.tsv" <<'EOF'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
print("| " + " | ".join(rows[0]) + " |")
print("|" + "---|" * len(rows[0]))
for r in rows[1:]:
    print("| " + " | ".join(r) + " |")
EOF
