# SPDX-License-Identifier: BSD-3-Clause
"""Kafka export against a real Kafka protocol implementation.

tests/tools/kafka_mock (librdkafka's mock cluster in a process of its own)
listens on loopback; jcap produces to it across TCP and Debian's kcat
consumes the topic. Every message must equal the -F json record of the same
run, field for field; one flow's records (both directions with --uniflow)
share a key and a partition. Broker errors and a broker that is down end in
counted failures, never a hang or a crash, and the counters add up:
records = delivered + failed + in_flight + buffer_drops. With format=ipfix
every message is one IPFIX message with its templates, read back by
libfixbuf's ipfixDump. Every process started here is stopped by PID.
"""
import calendar
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import jcaptest as jt  # noqa: E402
import pcapgen as g  # noqa: E402

KCAT = shutil.which("kcat")
IPFIXDUMP = shutil.which("ipfixDump")
TOPIC = "flows"
PARTITIONS = 4


@pytest.fixture(autouse=True)
def _jcap():
    jt.require_jcap()
    if not KCAT:
        pytest.fail("kcat is not installed (scripts/install-deps.sh installs it)")


class Cluster:
    """kafka_mock BROKERS TOPIC PARTITIONS, driven through its stdin."""

    def __init__(self, brokers=1):
        exe = os.path.join(jt.build_dir(), "tests", "kafka_mock")
        assert os.access(exe, os.X_OK), "kafka_mock not built at %s" % exe
        self.proc = subprocess.Popen([exe, str(brokers), TOPIC, str(PARTITIONS)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.bootstrap = self.proc.stdout.readline().strip()
        assert self.bootstrap.startswith("127.0.0.1:"), self.bootstrap

    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "ok", line

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()

    def consume(self):
        """Every message of the topic: [(partition, key, value dict)]."""
        p = subprocess.run([KCAT, "-C", "-b", self.bootstrap, "-t", TOPIC, "-e", "-q",
                            "-f", "%p\\t%k\\t%s\\n"], capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, p.stderr
        out = []
        for line in p.stdout.splitlines():
            part, key, value = line.split("\t", 2)
            out.append((int(part), key, json.loads(value)))
        return out

    def consume_raw(self):
        """Every message of the topic, binary-safe: [(partition, key, value bytes)]."""
        p = subprocess.run([KCAT, "-C", "-b", self.bootstrap, "-t", TOPIC, "-e", "-q",
                            "-f", "%p %k %S\\n%s"], capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr
        out, off, b = [], 0, p.stdout
        while off < len(b):
            nl = b.index(b"\n", off)
            part, key, size = b[off:nl].decode().split(" ")
            off = nl + 1 + int(size)
            out.append((int(part), key, b[nl + 1:off]))
        assert off == len(b)
        return out


@pytest.fixture
def cluster():
    c = Cluster()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def pcap(tmp_path_factory):
    """The capture and its -F json records, biflow and --uniflow (their match
    with pcapgen's truth is test_flows' and test_export's job)."""
    sc = g.scenario_mixed(seed=21, flows=150, duration=4.0)
    path = tmp_path_factory.mktemp("kafka") / "mixed.pcap"
    sc.write(path)
    recs, _ = jt.meter(str(path))
    assert len(recs) == len(sc.expected().records)
    uni, _ = jt.meter(str(path), "--uniflow")
    return str(path), recs, uni


def meter(pcap_path, *opts, timeout=120):
    """jcap -q with the Kafka export: (process, stats); the -F json records of
    the same input come from the pcap fixture."""
    p = jt.run(["-r", pcap_path, "-q", "--stats", "--no-progress"] + list(opts),
               timeout=timeout)
    stats = jt.parse_stats(p.stderr)
    jt.check_conservation(stats)
    return p, stats


def canon(r):
    """Both directions of a flow give the same value."""
    a = (jt.ip_norm(r["src_ip"]), r["src_port"])
    b = (jt.ip_norm(r["dst_ip"]), r["dst_port"])
    if r["proto"] in (1, 58):
        a, b = (a[0], 0), (b[0], 0)
    return (r["proto"], r["vlan"]) + tuple(sorted([a, b]))


def sort_key(r):
    return json.dumps(r, sort_keys=True)


def check_counters(stats, n, delivered=None):
    x = stats["export"]
    assert x["records"] == n, x
    assert x["delivered"] + x["failed"] + x["in_flight"] + x["buffer_drops"] == n, x
    assert x["in_flight"] == 0, x
    if delivered is not None:
        assert x["delivered"] == delivered, x


def test_every_record_equals_json(cluster, pcap):
    path, recs, _ = pcap
    p, stats = meter(path, "--export", "kafka://%s/%s" % (cluster.bootstrap, TOPIC))
    assert p.returncode == 0, p.stderr
    msgs = cluster.consume()
    assert sorted((m[2] for m in msgs), key=sort_key) == sorted(recs, key=sort_key)
    check_counters(stats, len(recs), delivered=len(recs))
    assert stats["export"]["failed"] == 0 and stats["export"]["buffer_drops"] == 0
    # one key per flow, one partition per key, and the flows spread out
    by_flow = {}
    for part, key, rec in msgs:
        by_flow.setdefault(canon(rec), set()).add((part, key))
    assert all(len(v) == 1 for v in by_flow.values()), by_flow
    assert len({k for v in by_flow.values() for _, k in v}) == len(by_flow)
    assert len({p for v in by_flow.values() for p, _ in v}) == PARTITIONS


def test_uniflow_directions_share_partition(cluster, pcap):
    path, _, recs = pcap
    p, stats = meter(path, "--uniflow", "--export",
                     "kafka://%s/%s?key=flow" % (cluster.bootstrap, TOPIC))
    assert p.returncode == 0, p.stderr
    msgs = cluster.consume()
    assert sorted((m[2] for m in msgs), key=sort_key) == sorted(recs, key=sort_key)
    check_counters(stats, len(recs), delivered=len(recs))
    by_flow = {}
    for part, key, rec in msgs:
        by_flow.setdefault(canon(rec), []).append((part, key, rec["src_ip"]))
    both = [v for v in by_flow.values() if len({s for _, _, s in v}) == 2]
    assert len(both) > 50, len(both)  # flows with replies: two records, two senders
    for v in by_flow.values():
        assert len({(p, k) for p, k, _ in v}) == 1, v


def test_community_id_key(cluster, pcap):
    path, recs, _ = pcap
    p, stats = meter(path, "--export",
                     "kafka://%s/%s?key=community_id" % (cluster.bootstrap, TOPIC))
    assert p.returncode == 0, p.stderr
    msgs = cluster.consume()
    assert len(msgs) == len(recs)
    for _, key, rec in msgs:
        assert key == rec["community_id"], (key, rec)


def test_produce_errors_are_retried(cluster, pcap):
    """Retriable errors (NOT_LEADER_FOR_PARTITION): librdkafka retries, all arrive."""
    path, recs, _ = pcap
    cluster.command("produce-errors 3 6")
    p, stats = meter(path, "--export", "kafka://%s/%s" % (cluster.bootstrap, TOPIC))
    assert p.returncode == 0, p.stderr
    assert len(cluster.consume()) == len(recs)
    check_counters(stats, len(recs), delivered=len(recs))


def test_fatal_produce_errors_are_counted(cluster, pcap):
    """Non-retriable errors (MSG_SIZE_TOO_LARGE) fail the batches they hit."""
    path, recs, _ = pcap
    cluster.command("produce-errors 1000 10")
    p, stats = meter(path, "--export", "kafka://%s/%s" % (cluster.bootstrap, TOPIC))
    check_counters(stats, len(recs), delivered=0)
    assert stats["export"]["failed"] == len(recs), stats["export"]
    assert "a record was not delivered: Broker: Message size too large" in p.stderr
    # records lost: the exit status says so, with the last line naming the output
    assert p.returncode == 1, p.stderr
    assert p.stderr.endswith("kafka://%s/%s: %d records not delivered\n"
                             % (cluster.bootstrap, TOPIC, len(recs))), p.stderr


def test_broker_down_fails_within_the_deadline(cluster, pcap):
    """Nothing reachable: the stop waits flush_ms, then every record is failed."""
    path, recs, _ = pcap
    cluster.command("down 1")
    p, stats = meter(path, "--export",
                     "kafka://%s/%s?flush_ms=1500" % (cluster.bootstrap, TOPIC))
    check_counters(stats, len(recs), delivered=0)
    assert stats["export"]["failed"] == len(recs), stats["export"]
    assert ("%d records not delivered within 1500 ms of the stop" % len(recs)) in p.stderr
    assert p.returncode == 1, p.stderr


def test_full_queue_drops_and_counts(cluster, pcap):
    """on_full=drop (live's default): what the queue cannot take is dropped."""
    path, recs, _ = pcap
    cluster.command("down 1")
    p, stats = meter(path, "--export-opt", "kafka.queue.buffering.max.messages=10",
                     "--export-opt", "kafka.message.timeout.ms=1000", "--export",
                     "kafka://%s/%s?on_full=drop" % (cluster.bootstrap, TOPIC))
    check_counters(stats, len(recs), delivered=0)
    x = stats["export"]
    assert x["failed"] == 10 and x["buffer_drops"] == len(recs) - 10, x
    assert p.returncode == 1, p.stderr


def test_full_queue_waits_for_a_file(cluster, pcap):
    """A file's default: wait for room, every record is delivered."""
    path, recs, _ = pcap
    p, stats = meter(path, "--export-opt", "kafka.queue.buffering.max.messages=10",
                     "--export", "kafka://%s/%s" % (cluster.bootstrap, TOPIC))
    assert p.returncode == 0, p.stderr
    check_counters(stats, len(recs), delivered=len(recs))
    assert len(cluster.consume()) == len(recs)


def test_properties_reach_librdkafka(cluster, pcap):
    path, recs, _ = pcap
    p, stats = meter(path, "--export-opt", "kafka.compression.type=zstd",
                     "--export-opt", "kafka.enable.idempotence=true", "--export",
                     "kafka://%s/%s" % (cluster.bootstrap, TOPIC))
    assert p.returncode == 0, p.stderr
    assert sorted((m[2] for m in cluster.consume()), key=sort_key) == \
        sorted(recs, key=sort_key)
    check_counters(stats, len(recs), delivered=len(recs))


@pytest.mark.parametrize("args,msg", [
    (["--export", "kafka://127.0.0.1:9/flows?format=avro"],
     "kafka format 'avro': use json or ipfix"),
    (["--export", "kafka://127.0.0.1:9/flows?key=port"],
     "kafka key 'port': use flow, community_id or none"),
    (["--export", "kafka://127.0.0.1:9/flows?colour=red"],
     "unknown kafka setting 'colour' (format, key, flush_ms, on_full or kafka.PROPERTY)"),
    (["--export-opt", "kafka.no.such.thing=1", "--export", "kafka://127.0.0.1:9/flows"],
     'kafka setting kafka.no.such.thing: No such configuration property: "no.such.thing"'),
    (["--export", "kafka://127.0.0.1:9"], "want HOST:PORT/NAME"),
    (["--export-opt", "compression=zstd", "--export", "kafka://127.0.0.1:9/t"],
     "--export-opt 'compression=zstd': want kafka.PROPERTY=VALUE or clickhouse.NAME=VALUE"),
])
def test_bad_settings(pcap, args, msg):
    p = jt.run(["-r", pcap[0], "-q"] + args, timeout=60)
    assert p.returncode != 0
    assert msg in p.stderr, p.stderr


# --------------------------------------------------------------------------
# format=ipfix


def ipfix_sets(msg):
    """Check one IPFIX message alone: header, and every data set's template
    defined earlier in the same message. Returns [(set id, record count)]."""
    ver, length, _, _, _ = struct.unpack("!HHIII", msg[:16])
    assert (ver, length) == (10, len(msg))
    tmpl, sets, off = {}, [], 16
    while off < len(msg):
        sid, slen = struct.unpack("!HH", msg[off:off + 4])
        body, off = msg[off + 4:off + slen], off + slen
        if sid in (2, 3):
            p = 0
            while p + 4 <= len(body):
                tid, nf = struct.unpack("!HH", body[p:p + 4])
                p += 6 if sid == 3 else 4
                rlen = 0
                for _ in range(nf):
                    fid, flen = struct.unpack("!HH", body[p:p + 4])
                    p += 8 if fid & 0x8000 else 4
                    rlen += flen
                tmpl[tid] = rlen
            sets.append((sid, 0))
        else:
            assert sid in tmpl, "set %d before its template" % sid
            sets.append((sid, len(body) // tmpl[sid]))
    return sets


def ipfixdump_ms(text):
    day, frac = text.split(".")
    return calendar.timegm(time.strptime(day, "%Y-%m-%d %H:%M:%S")) * 1000 + int(frac)


def ipfixdump(path):
    """The flow records (templates 256..259) ipfixDump reads from @path, as
    comparable tuples, and its file statistics."""
    p = subprocess.run([IPFIXDUMP, "--in", str(path)], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, TZ="UTC"))
    assert p.returncode == 0, p.stderr
    recs, cur = [], None
    for ln in p.stdout.splitlines():
        m = re.match(r"\s*count:\s*\d+\s+tid:\s*(\d+)", ln)
        if m:
            cur = {} if 256 <= int(m.group(1)) <= 259 else None  # biflow, uniflow
            if cur is not None:
                recs.append(cur)
            continue
        m = re.match(r"\s*\([\d/]+\)\s+(?:\(S\)\s+)?(\S+)\s*:\s*(.*?)\s*$", ln)
        if m and cur is not None and "data record" not in ln:
            cur[m.group(1)] = m.group(2)
    st = re.search(r"File Stats: (\d+) Messages, (\d+) Data Records, (\d+) Template Records",
                   p.stdout)
    assert st, p.stdout[-2000:]
    return [dump_rec(f) for f in recs], tuple(int(x) for x in st.groups())


def dump_rec(f):
    v4 = "sourceIPv4Address" in f
    proto = int(f["protocolIdentifier"])
    itc = int(f["icmpTypeCodeIPv4" if v4 else "icmpTypeCodeIPv6"])
    icmp = proto in (1, 58)
    return (jt.ip_norm(f["sourceIPv4Address" if v4 else "sourceIPv6Address"]),
            jt.ip_norm(f["destinationIPv4Address" if v4 else "destinationIPv6Address"]),
            None if icmp else int(f["sourceTransportPort"]),
            None if icmp else int(f["destinationTransportPort"]),
            proto, (itc >> 8, itc & 255) if icmp else None, int(f["vlanId"]),
            int(f["packetDeltaCount"]), int(f["octetDeltaCount"]),
            int(f.get("reversePacketDeltaCount", 0)), int(f.get("reverseOctetDeltaCount", 0)),
            int(f["tcpControlBits"]), int(f.get("reverseTcpControlBits", 0)),
            ipfixdump_ms(f["flowStartMilliseconds"]), ipfixdump_ms(f["flowEndMilliseconds"]))


def json_rec(r):
    """The same tuple from a -F json record."""
    icmp = r["proto"] in (1, 58)
    return (jt.ip_norm(r["src_ip"]), jt.ip_norm(r["dst_ip"]),
            None if icmp else r["src_port"], None if icmp else r["dst_port"],
            r["proto"], (r["icmp_type"], r["icmp_code"]) if icmp else None, r["vlan"],
            r["packets"], r["bytes"], r["rev_packets"], r["rev_bytes"],
            r["tcp_flags"], r["rev_tcp_flags"], r["first_ns"] // 1000000,
            r["last_ns"] // 1000000)


def ipfix_run(cluster, path, tmp_path, query, *opts):
    """Meter into format=ipfix: (messages, decoded records, ipfixDump stats, stats)."""
    p, stats = meter(path, *opts, "--export",
                     "kafka://%s/%s?format=ipfix%s" % (cluster.bootstrap, TOPIC, query))
    assert p.returncode == 0, p.stderr
    msgs = cluster.consume_raw()
    blob = tmp_path / "kafka.ipfix"
    blob.write_bytes(b"".join(m[2] for m in msgs))  # each a message: a valid file
    recs, dump_stats = ipfixdump(blob)
    assert stats["export"]["messages"] == len(msgs), stats["export"]
    return msgs, recs, dump_stats, stats


@pytest.mark.skipif(not IPFIXDUMP, reason="libfixbuf-tools (ipfixDump) not installed")
def test_ipfix_every_record_equals_json(cluster, pcap, tmp_path):
    """key=flow (the default): one flow per message, its templates first."""
    path, recs, _ = pcap
    msgs, got, (nmsg, ndata, ntmpl), stats = ipfix_run(cluster, path, tmp_path, "")
    assert sorted(got, key=str) == sorted((json_rec(r) for r in recs), key=str)
    check_counters(stats, len(recs), delivered=len(recs))
    assert nmsg == len(msgs) == len(recs) and ndata == len(recs)
    assert ntmpl == 3 * len(msgs)  # IPv4, IPv6 and the statistics options template
    for _, _, m in msgs:
        sets = ipfix_sets(m)
        assert sets[0] == (2, 0) and [n for sid, n in sets if sid >= 256] == [1], sets
    # each flow's key once, on one partition; the flows spread out
    assert len({k for _, k, _ in msgs}) == len(recs)
    assert len({p for p, _, _ in msgs}) == PARTITIONS


@pytest.mark.skipif(not IPFIXDUMP, reason="libfixbuf-tools (ipfixDump) not installed")
def test_ipfix_uniflow_directions_share_partition(cluster, pcap, tmp_path):
    path, _, recs = pcap
    msgs, got, _, stats = ipfix_run(cluster, path, tmp_path, "&key=flow", "--uniflow")
    assert sorted(got, key=str) == sorted((json_rec(r) for r in recs), key=str)
    check_counters(stats, len(recs), delivered=len(recs))
    parts = {}
    for part, key, m in msgs:
        assert [n for sid, n in ipfix_sets(m) if sid >= 256] == [1]
        parts.setdefault(key, set()).add(part)
    assert all(len(v) == 1 for v in parts.values()), parts
    assert len(parts) < len(msgs) - 50  # flows with replies: two messages, one key


@pytest.mark.skipif(not IPFIXDUMP, reason="libfixbuf-tools (ipfixDump) not installed")
def test_ipfix_unkeyed_messages_carry_many_flows(cluster, pcap, tmp_path):
    """key=none: as many flows as a message holds; sequence numbers count them."""
    path, recs, _ = pcap
    msgs, got, (nmsg, ndata, _), stats = ipfix_run(cluster, path, tmp_path, "&key=none")
    assert sorted(got, key=str) == sorted((json_rec(r) for r in recs), key=str)
    check_counters(stats, len(recs), delivered=len(recs))
    assert len(msgs) < len(recs) and ndata == len(recs)
    count = {struct.unpack("!I", m[8:12])[0]: sum(n for sid, n in ipfix_sets(m) if sid >= 256)
             for _, _, m in msgs}
    assert len(count) == len(msgs)
    seq = 0
    for s in sorted(count):  # each message's: the records of the messages before it
        assert s == seq, (s, seq)
        seq += count[s]
    assert seq == len(recs)


def test_ipfix_fields_need_a_pen(pcap):
    """--fields reach the IPFIX templates: jcap's own elements need --ipfix-pen."""
    p = jt.run(["-r", pcap[0], "-q", "--fields", "community_id", "--export",
                "kafka://127.0.0.1:9/flows?format=ipfix"], timeout=60)
    assert p.returncode != 0
    assert ("kafka://127.0.0.1:9/flows?format=ipfix: the fields tunnel, community_id, app, tcp "
            "and geo use jcap's own IPFIX elements: give an enterprise number (--ipfix-pen N)"
            ) in p.stderr


def test_ipfix_failures_count_records(cluster, pcap):
    """A refused message fails every record it carries (key=none: many)."""
    path, recs, _ = pcap
    cluster.command("produce-errors 1000 10")
    p, stats = meter(path, "--export",
                     "kafka://%s/%s?format=ipfix&key=none" % (cluster.bootstrap, TOPIC))
    check_counters(stats, len(recs), delivered=0)
    assert stats["export"]["failed"] == len(recs), stats["export"]
    assert stats["export"]["messages"] < len(recs), stats["export"]
    assert "a message was not delivered: Broker: Message size too large" in p.stderr


@pytest.mark.skipif(not IPFIXDUMP, reason="libfixbuf-tools (ipfixDump) not installed")
def test_ipfix_fields_and_message_max_bytes(cluster, pcap, tmp_path):
    """--fields reach the templates; key=none messages stay within
    kafka.message.max.bytes (less 512 bytes of Kafka headers)."""
    path, recs, _ = pcap
    msgs, got, _, stats = ipfix_run(cluster, path, tmp_path, "&key=none", "--fields", "mac",
                                    "--export-opt", "kafka.message.max.bytes=2000")
    assert sorted(got, key=str) == sorted((json_rec(r) for r in recs), key=str)
    check_counters(stats, len(recs), delivered=len(recs))
    assert max(len(m) for _, _, m in msgs) <= 1488 and len(msgs) >= len(recs) // 20
    p = subprocess.run([IPFIXDUMP, "--in", str(tmp_path / "kafka.ipfix")], capture_output=True,
                       text=True, timeout=60)
    macs = re.findall(r"sourceMacAddress\s*:\s*(\S+)", p.stdout)
    assert sorted(macs) == sorted(r["src_mac"] for r in recs)


def test_ipfix_templates_beyond_message_max_bytes(cluster, pcap):
    """Templates that cannot fit: every record failed, and said why."""
    path, recs, _ = pcap
    p, stats = meter(path, "--fields", "all", "--ipfix-pen", "32473", "--export-opt",
                     "kafka.message.max.bytes=1000", "--export",
                     "kafka://%s/%s?format=ipfix" % (cluster.bootstrap, TOPIC))
    check_counters(stats, len(recs), delivered=0)
    assert stats["export"]["failed"] == len(recs) and stats["export"]["messages"] == 0
    assert ("kafka.message.max.bytes leaves no room for the IPFIX templates and a record"
            in p.stderr)
