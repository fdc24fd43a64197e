#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Export cost on the offline workload: the same file metered with no export,
# with IPFIX over UDP (to a loopback sink of this script), into Kafka
# (librdkafka's mock cluster, tests/tools/kafka_mock) and into ClickHouse
# (clickhouse-server started here on loopback with its own data directory).
# Prints, best of RUNS, the wall time, jcap's CPU time (user + system, all
# its threads: librdkafka's and the ClickHouse sender's included; the broker
# and the server are not), the records delivered, records/s over the whole
# run, and wall and CPU time against no export. On a shared machine the CPU
# time is the steadier figure.
#
# usage: bench/bench_kafka_clickhouse.sh [BUILD_DIR] [RUNS]
#   PCAP=FILE picks the input (default: workload b of bench_offline.sh,
#   BUILD_DIR/bench/offline-10000000-1000000.pcap, which it generates);
#   EXPORTS="kafka clickhouse" picks the exports (default: ipfix kafka clickhouse)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${2:-3}
JCAP=$BUILD/jcap
MOCK=$BUILD/tests/kafka_mock
PCAP=${PCAP:-$BUILD/bench/offline-10000000-1000000.pcap}
[ -x "$JCAP" ] && [ -x "$MOCK" ] || { echo "bench: build first ($JCAP, $MOCK)" >&2; exit 2; }
[ -r "$PCAP" ] || { echo "bench: $PCAP missing (bench/bench_offline.sh makes it)" >&2; exit 2; }
command -v clickhouse-server > /dev/null || { echo "bench: no clickhouse-server" >&2; exit 2; }
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
	wait 2> /dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# IPFIX sink: a UDP socket with a 4 MiB buffer that only counts datagrams
udp=$(free_port)
/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    s.recv(65536)
' "$udp" &
pids+=($!)

# Kafka: the mock cluster, 8 partitions
mkfifo "$tmp/kin"
"$MOCK" 1 flows 8 < "$tmp/kin" > "$tmp/kout" &
pids+=($!)
exec 9> "$tmp/kin"
for _ in $(seq 100); do [ -s "$tmp/kout" ] && break; sleep 0.05; done
kafka=$(head -1 "$tmp/kout")

# ClickHouse: its own config, users and data under $tmp
http=$(free_port)
tcp=$(free_port)
cat > "$tmp/config.xml" << EOF
<yandex><logger><level>warning</level><log>$tmp/ch.log</log><errorlog>$tmp/ch.err</errorlog>
<console>0</console></logger><http_port>$http</http_port><tcp_port>$tcp</tcp_port>
<listen_host>127.0.0.1</listen_host><path>$tmp/data/</path><tmp_path>$tmp/tmp/</tmp_path>
<user_files_path>$tmp/uf/</user_files_path><format_schema_path>$tmp/fs/</format_schema_path>
<users_config>users.xml</users_config><default_profile>default</default_profile>
<default_database>default</default_database><mark_cache_size>268435456</mark_cache_size></yandex>
EOF
cat > "$tmp/users.xml" << EOF
<yandex><profiles><default></default></profiles><users><default><password></password>
<networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota>
</default></users><quotas><default></default></quotas></yandex>
EOF
clickhouse-server --config-file="$tmp/config.xml" > /dev/null 2>&1 &
pids+=($!)
for _ in $(seq 200); do
	curl -s "http://127.0.0.1:$http/?query=SELECT%201" > /dev/null && break
	sleep 0.05
done

cat "$PCAP" > /dev/null # page cache
echo "# $(date -u +%FT%TZ) $(uname -r) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "# input $PCAP ($(stat -c %s "$PCAP") bytes), best of $RUNS"
printf '%-11s %8s %7s %7s %9s %10s %9s %9s\n' export wall_s cpu_s Mpps records \
	records/s wall+ cpu+
base=""
base_cpu=""
run() { # name, jcap args...
	local name=$1 best="" line
	shift
	for _ in $(seq "$RUNS"); do
		[ "$name" = clickhouse ] && curl -s --data-binary 'DROP TABLE IF EXISTS b.flows' \
			"http://127.0.0.1:$http/" > /dev/null
		local t0 t1
		t0=$(date +%s.%N)
		/usr/bin/time -o "$tmp/cpu" -f '%U %S' \
			"$JCAP" -r "$PCAP" -q --stats --no-progress "$@" 2> "$tmp/stats" || true
		t1=$(date +%s.%N)
		line=$(/usr/bin/python3 - "$t0" "$t1" "$tmp/stats" "$name" "$tmp/cpu" << 'PY'
import json, sys
t0, t1, path, name = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
cpu = sum(float(x) for x in open(sys.argv[5]).read().split()[-2:])
s = None
for l in open(path):
    if l.startswith("{"):
        s = json.loads(l)
x = s["export"]
n = {"none": s["flows_exported"], "ipfix": x["records"]}.get(name, x["delivered"])
print("%.3f %.2f %.2f %d" % (t1 - t0, cpu, s["packets_read"] / (t1 - t0) / 1e6, n))
PY
)
		if [ -z "$best" ] || awk -v a="${line%% *}" -v b="${best%% *}" 'BEGIN{exit !(a<b)}'; then
			best=$line
		fi
	done
	read -r wall cpu mpps n <<< "$best"
	[ -z "$base" ] && base=$wall && base_cpu=$cpu
	awk -v nm="$name" -v w="$wall" -v c="$cpu" -v m="$mpps" -v n="$n" -v b="$base" \
		-v bc="$base_cpu" 'BEGIN{printf "%-11s %8.3f %7.2f %7.2f %9d %10.0f %8.1f%% %8.1f%%\n",
		nm, w, c, m, n, n / w, (w / b - 1) * 100, (c / bc - 1) * 100}'
}
run none
for x in ${EXPORTS:-ipfix kafka clickhouse}; do
	case $x in
	ipfix) run ipfix --export "ipfix://127.0.0.1:$udp" ;;
	kafka) run kafka --export "kafka://$kafka/flows" ;;
	clickhouse) run clickhouse --clickhouse-create --export "clickhouse://127.0.0.1:$http/b.flows" ;;
	*) echo "bench: unknown export '$x' in EXPORTS" >&2 && exit 2 ;;
	esac
done
