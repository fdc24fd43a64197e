# SPDX-License-Identifier: BSD-3-Clause
"""ClickHouse export against Debian's clickhouse-server (18.16).

The test starts a server of its own on free loopback ports, with a config,
users and data directory under its tmp dir; jcap creates the table
(--clickhouse-create) and inserts over HTTP. count(), sum(packets) and every
row must equal the -F json records of the same input; a wrong password and
a server killed mid-run end in counted failures and retries, never a hang
or a crash: records = delivered + failed + in_flight + buffer_drops. Every
process started here is stopped by PID. Skips only when clickhouse-server
is not installed.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import jcaptest as jt  # noqa: E402
import pcapgen as g  # noqa: E402

SERVER = shutil.which("clickhouse-server") or (
    os.access("/usr/sbin/clickhouse-server", os.X_OK) and "/usr/sbin/clickhouse-server")
PASSWORD = "s3cret-pw"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, base):
        if not SERVER:
            pytest.skip("clickhouse-server is not installed")
        self.base = base
        self.http = free_port()
        self.tcp = free_port()
        base.mkdir(exist_ok=True)
        d = str(base)
        (base / "config.xml").write_text(
            "<yandex><logger><level>warning</level><log>%s/log</log>"
            "<errorlog>%s/err</errorlog><console>0</console></logger>"
            "<http_port>%d</http_port><tcp_port>%d</tcp_port>"
            "<listen_host>127.0.0.1</listen_host><path>%s/data/</path>"
            "<tmp_path>%s/tmp/</tmp_path><user_files_path>%s/uf/</user_files_path>"
            "<format_schema_path>%s/fs/</format_schema_path>"
            "<users_config>users.xml</users_config><default_profile>default</default_profile>"
            "<default_database>default</default_database>"
            "<mark_cache_size>268435456</mark_cache_size>"
            "<remote_servers><flows><shard><replica><host>127.0.0.1</host><port>%d</port>"
            "</replica></shard></flows></remote_servers></yandex>\n"
            % (d, d, self.http, self.tcp, d, d, d, d, self.tcp))
        user = ("<%s><password>%s</password><networks><ip>127.0.0.1</ip></networks>"
                "<profile>default</profile><quota>default</quota></%s>")
        (base / "users.xml").write_text(
            "<yandex><profiles><default></default></profiles><users>%s%s</users>"
            "<quotas><default></default></quotas></yandex>\n"
            % (user % ("default", "", "default"), user % ("jcap", PASSWORD, "jcap")))
        self.start()

    def start(self):
        self.proc = subprocess.Popen([SERVER, "--config-file=%s" % (self.base / "config.xml")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                assert self.query("SELECT 1") == "1\n"
                return
            except (OSError, urllib.error.URLError):
                assert self.proc.poll() is None, "clickhouse-server exited: %s" % \
                    (self.base / "err").read_text()[-2000:]
                assert time.monotonic() < deadline, "clickhouse-server did not answer"
                time.sleep(0.05)

    def query(self, sql):
        url = "http://127.0.0.1:%d/?output_format_json_quote_64bit_integers=0" % self.http
        with urllib.request.urlopen(url, data=sql.encode(), timeout=30) as r:
            return r.read().decode()

    def rows(self, sql):
        return [json.loads(x) for x in self.query(sql + " FORMAT JSONEachRow").splitlines()]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    jt.require_jcap()
    s = Server(tmp_path_factory.mktemp("ch") / "srv")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def pcap(tmp_path_factory):
    sc = g.scenario_mixed(seed=31, flows=150, duration=4.0)
    path = tmp_path_factory.mktemp("chpcap") / "mixed.pcap"
    sc.write(path)
    recs, _ = jt.meter(str(path))
    assert len(recs) == len(sc.expected().records)
    return str(path), recs


def meter(pcap_path, *opts, timeout=120):
    p = jt.run(["-r", pcap_path, "-q", "--stats", "--no-progress"] + list(opts),
               timeout=timeout)
    stats = jt.parse_stats(p.stderr)
    jt.check_conservation(stats)
    return p, stats


def check_counters(stats, n, delivered=None):
    x = stats["export"]
    assert x["records"] == n, x
    assert x["delivered"] + x["failed"] + x["in_flight"] + x["buffer_drops"] == n, x
    assert x["in_flight"] == 0, x
    if delivered is not None:
        assert x["delivered"] == delivered, x


# a field -F json leaves out of a record is the column's default in the table
DEFAULTS = {"community_id": "", "src_mac": "", "dst_mac": "", "vlan_inner": 0,
            "mpls_labels": [], "mpls_exp": [], "tunnel_type": "", "tunnel_id": 0,
            "rev_tunnel_id": 0, "outer_src_ip": "", "outer_dst_ip": "", "tos": 0, "dscp": 0,
            "min_ttl": 0, "max_ttl": 0, "rev_tos": 0, "rev_dscp": 0, "rev_min_ttl": 0,
            "rev_max_ttl": 0}
# issue 12's fields: an unknown name is "", an unknown number 0
_L7_TEXT = ("conn_state", "history", "app", "app_category", "dpi_confidence", "tls_sni",
            "tls_alpn", "ja4", "ja3", "dns_qname", "http_method", "http_host", "http_url",
            "http_user_agent", "src_country", "dst_country", "src_as_org", "dst_as_org")
DEFAULTS.update({k: "" if k in _L7_TEXT else 0 for k in jt.L7_FIELDS})


def as_row(rec, columns):
    assert set(rec) <= set(columns), set(rec) - set(columns)
    return {c: rec.get(c, DEFAULTS.get(c)) for c in columns}


def test_rows_equal_json(server, pcap, tmp_path):
    path, recs = pcap
    auth = tmp_path / "auth"
    auth.write_text("jcap:%s\n" % PASSWORD)
    p, stats = meter(path, "--clickhouse-create", "--export-opt",
                     "clickhouse.user_file=%s" % auth, "--export",
                     "clickhouse://127.0.0.1:%d/jcap.flows?batch=40" % server.http)
    assert p.returncode == 0, p.stderr
    n = len(recs)
    check_counters(stats, n, delivered=n)
    assert stats["export"]["messages"] == (n + 39) // 40  # one insert per batch
    assert server.query("SELECT count() FROM jcap.flows") == "%d\n" % n
    assert server.query("SELECT sum(packets) FROM jcap.flows") == \
        "%d\n" % sum(r["packets"] for r in recs)
    cols = [c["name"] for c in server.rows("DESCRIBE TABLE jcap.flows")
            if c["default_type"] != "MATERIALIZED"]  # time: not in SELECT *
    got = sorted(server.rows("SELECT * FROM jcap.flows"), key=json.dumps)
    want = sorted((as_row(r, cols) for r in recs), key=json.dumps)
    for a, b in zip(got, want):
        assert a == b, {k: (a[k], b[k]) for k in a if a[k] != b[k]}
    assert len(got) == len(want)
    # the DateTime column, and one partition per day
    t = server.rows("SELECT min(time) = toDateTime(intDiv(min(first_ns), 1000000000)) AS ok,"
                    " uniqExact(_partition_id) AS parts FROM jcap.flows")
    assert t == [{"ok": 1, "parts": 1}]


def test_wrong_password_is_counted(server, pcap, tmp_path):
    path, recs = pcap
    auth = tmp_path / "auth"
    auth.write_text("jcap:wrong\n")
    server.query("CREATE DATABASE IF NOT EXISTS jcap")
    p, stats = meter(path, "--export-opt", "clickhouse.user_file=%s" % auth,
                     "--export-opt", "clickhouse.retries=2", "--export",
                     "clickhouse://127.0.0.1:%d/jcap.flows2?batch=100" % server.http)
    n = len(recs)
    check_counters(stats, n, delivered=0)
    assert stats["export"]["failed"] == n
    assert stats["export"]["retries"] == 2 * 2  # two batches, two retries each
    assert "Wrong password for user jcap" in p.stderr
    assert p.returncode == 1, p.stderr  # records lost: said in the exit status
    assert p.stderr.endswith("jcap.flows2?batch=100: 2 errors, %d records not delivered\n"
                             % n), p.stderr


def test_server_killed_mid_run(tmp_path, pcap):
    """Inserts fail once the server is gone: retried, then counted failed."""
    path, recs = pcap
    srv = Server(tmp_path / "srv")
    try:
        srv.query("CREATE DATABASE IF NOT EXISTS k")
        target = "clickhouse://127.0.0.1:%d/k.flows?batch=50&create=1&retries=1" % srv.http
        # the first run makes the table; then the server goes away
        p, stats = meter(path, "--export", target)
        assert p.returncode == 0, p.stderr
        check_counters(stats, len(recs), delivered=len(recs))
        srv.kill()
        p, stats = meter(path, "--export", target.replace("create=1", "create=0"))
        n = len(recs)
        check_counters(stats, n, delivered=0)
        x = stats["export"]
        assert x["failed"] == n and x["retries"] == 3, x  # 3 batches, 1 retry each
        assert "Couldn't connect to server" in p.stderr
        assert p.returncode == 1, p.stderr
    finally:
        srv.kill()


def test_full_buffer(server, pcap):
    """on_full=drop: batches over buffer_rows are dropped while the server is
    unreachable; on_full=wait (a file's default): none are."""
    path, recs = pcap
    n = len(recs)
    dead = "clickhouse://127.0.0.1:%d/jcap.nope?batch=10&buffer_rows=20&retries=1" % free_port()
    p, stats = meter(path, "--export", dead + "&on_full=drop")
    check_counters(stats, n, delivered=0)
    x = stats["export"]
    assert x["buffer_drops"] > 0 and x["failed"] + x["buffer_drops"] == n, x
    p, stats = meter(path, "--clickhouse-create", "--export",
                     "clickhouse://127.0.0.1:%d/jcap.small?batch=10&buffer_rows=20" % server.http)
    check_counters(stats, n, delivered=n)
    assert server.query("SELECT count() FROM jcap.small") == "%d\n" % n


def test_create_without_server_fails_clearly(pcap):
    port = free_port()
    p = jt.run(["-r", pcap[0], "-q", "--clickhouse-create", "--export",
                "clickhouse://127.0.0.1:%d/a.b" % port], timeout=60)
    assert p.returncode != 0
    assert "cannot create a.b: Couldn't connect to server" in p.stderr, p.stderr


@pytest.mark.parametrize("target,msg", [
    ("clickhouse://127.0.0.1:8123/flows", "want clickhouse://HOST:PORT/DB.TABLE"),
    ("clickhouse://127.0.0.1:8123/a.b;drop", "want clickhouse://HOST:PORT/DB.TABLE"),
    ("clickhouse://127.0.0.1:8123/a.b?batch=0", "clickhouse batch '0': a number from 1 to"),
    ("clickhouse://h1:8123,h2:8123/a.b", "one ClickHouse server per target"),
])
def test_bad_targets(pcap, target, msg):
    p = jt.run(["-r", pcap[0], "-q", "--export", target], timeout=60)
    assert p.returncode != 0
    assert msg in p.stderr, p.stderr


def test_scaling_ddl(server, pcap):
    """docs/SCALING.md's DDL, as far as one server without ZooKeeper allows."""
    path, recs = pcap
    with open(os.path.join(jt.source_dir(), "docs", "SCALING.md")) as f:
        blocks = re.findall(r"```sql\n-- scaling-ddl: (\w+)\n(.*?)```", f.read(), re.S)
    assert [b[0] for b in blocks] == ["local", "queue", "pump", "all"]
    server.query("CREATE DATABASE IF NOT EXISTS jcap")
    try:
        for _, sql in blocks:
            sql = re.sub(r"ReplicatedMergeTree\([^)]*\)", "MergeTree", sql)
            server.query(sql.replace("KAFKA_BROKERS", "127.0.0.1:9"))
        p, stats = meter(path, "--export", "clickhouse://127.0.0.1:%d/jcap.flows_local"
                         % server.http)
        assert p.returncode == 0, p.stderr
        check_counters(stats, len(recs), delivered=len(recs))
        assert server.query("SELECT count(), sum(packets) FROM jcap.flows_all") == \
            "%d\t%d\n" % (len(recs), sum(r["packets"] for r in recs))
    finally:
        server.query("DROP TABLE IF EXISTS jcap.flows_mv")
        server.query("DROP TABLE IF EXISTS jcap.flows_queue")
