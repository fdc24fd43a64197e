# SPDX-License-Identifier: BSD-3-Clause
"""Kafka export against a real Kafka protocol implementation.

tests/tools/kafka_mock (librdkafka's mock cluster in a process of its own)
listens on loopback; jcap produces to it across TCP and Debian's kcat
consumes the topic. Every message must equal the -F json record of the same
run, field for field; one flow's records (both directions with --uniflow)
share a key and a partition. Broker errors and a broker that is down end in
counted failures, never a hang or a crash, and the counters add up:
records = delivered + failed + in_flight + buffer_drops. Every process
started here is stopped by PID.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import jcaptest as jt  # noqa: E402
import pcapgen as g  # noqa: E402

KCAT = shutil.which("kcat")
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


def test_broker_down_fails_within_the_deadline(cluster, pcap):
    """Nothing reachable: the stop waits flush_ms, then every record is failed."""
    path, recs, _ = pcap
    cluster.command("down 1")
    p, stats = meter(path, "--export",
                     "kafka://%s/%s?flush_ms=1500" % (cluster.bootstrap, TOPIC))
    check_counters(stats, len(recs), delivered=0)
    assert stats["export"]["failed"] == len(recs), stats["export"]
    assert ("%d records not delivered within 1500 ms of the stop" % len(recs)) in p.stderr


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
     "kafka format 'avro': use json"),
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
