# SPDX-License-Identifier: BSD-3-Clause
"""Flow store end to end: `jcap -r F --store DB -F json -w flows.json`, then
`jcap query DB ...` must give exactly the JSON flows filtered the same way in
Python, for every filter kind; retention by rows and by age; the database is
WAL, indexed, consistent; errors and usage exit codes."""
import ipaddress
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import threading
import time

import pytest

import jcaptest
import pcapgen

T0 = pcapgen.T0_NS  # 2023-11-14T22:13:20Z


def query(db, *args):
    return jcaptest.run(["query", db] + [str(a) for a in args], timeout=120)


def query_json(db, *args):
    p = query(db, "-F", "json", *args)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    return [line for line in p.stdout.splitlines() if line]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    jcaptest.require_jcap()
    d = tmp_path_factory.mktemp("store")
    pcap = d / "mixed.pcap"
    sc = pcapgen.scenario_mixed(seed=5, flows=400)
    sc.write(str(pcap))
    db = d / "flows.db"
    out = d / "flows.json"
    p = jcaptest.run(["-r", pcap, "--store", db, "-F", "json", "-w", out, "--no-progress"])
    assert p.returncode == 0, p.stderr
    lines = [line for line in out.read_text().splitlines() if line]
    assert len(lines) == 400
    recs = [json.loads(line) for line in lines]
    return {"dir": d, "pcap": pcap, "db": str(db), "lines": lines, "recs": recs}


def matches(r, since=None, until=None, ip=None, port=None, proto=None):
    if since is not None and r["last_ns"] < since:
        return False
    if until is not None and r["first_ns"] > until:
        return False
    if ip is not None:
        net = ipaddress.ip_network(ip, strict=False)
        if r["ip_version"] != net.version:
            return False
        if ipaddress.ip_address(r["src_ip"]) not in net and \
                ipaddress.ip_address(r["dst_ip"]) not in net:
            return False
    if port is not None and port not in (r["src_port"], r["dst_port"]):
        return False
    if proto is not None and r["proto"] != proto:
        return False
    return True


def expect(store, **flt):
    return [line for line, r in zip(store["lines"], store["recs"]) if matches(r, **flt)]


def check_result(got, want, limit=None):
    """Same records (exact JSON lines), newest (last_ns) first."""
    lasts = [json.loads(x)["last_ns"] for x in got]
    assert lasts == sorted(lasts, reverse=True), "not newest first"
    if limit is None:
        assert sorted(got) == sorted(want), (len(got), len(want))
    else:
        assert len(got) == min(limit, len(want))
        assert set(got) <= set(want)
        assert lasts == sorted((json.loads(x)["last_ns"] for x in want), reverse=True)[:limit]


def ns_text(ns):
    return "%d.%09d" % (ns // 10**9, ns % 10**9)


def test_everything_stored(store):
    got = query_json(store["db"])
    check_result(got, store["lines"])
    con = sqlite3.connect(store["db"])
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("SELECT count(*) FROM flows").fetchone()[0] == 400
        idx = {r[0] for r in con.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'flows'")}
        assert idx == {"flows_last_ns", "flows_src_ip", "flows_dst_ip",
                       "flows_src_port", "flows_dst_port", "flows_community_id", "flows_tunnel_id",
                       "flows_rev_tunnel_id", "flows_src_mac", "flows_dst_mac", "flows_app",
                       "flows_tls_sni", "flows_dns_qname", "flows_src_country",
                       "flows_dst_country", "flows_src_asn", "flows_dst_asn"}
        # addresses are 16-byte keys: IPv4 as ::ffff:a.b.c.d
        for ver, src in con.execute("SELECT ip_version, src_ip FROM flows LIMIT 50"):
            assert len(src) == 16
            if ver == 4:
                assert src[:12] == b"\0" * 10 + b"\xff\xff"
    finally:
        con.close()
    # a graceful stop left no WAL behind (checkpointed at close)
    assert not os.path.exists(store["db"] + "-wal") or \
        os.path.getsize(store["db"] + "-wal") == 0


def test_since_until(store):
    lasts = sorted(r["last_ns"] for r in store["recs"])
    firsts = sorted(r["first_ns"] for r in store["recs"])
    mid_last, mid_first = lasts[len(lasts) // 2], firsts[len(firsts) // 3]
    # boundaries are inclusive, to the nanosecond
    check_result(query_json(store["db"], "--since", ns_text(mid_last)),
                 expect(store, since=mid_last))
    check_result(query_json(store["db"], "--since", ns_text(mid_last + 1)),
                 expect(store, since=mid_last + 1))
    check_result(query_json(store["db"], "--until", ns_text(mid_first)),
                 expect(store, until=mid_first))
    check_result(query_json(store["db"], "--until", ns_text(mid_first - 1)),
                 expect(store, until=mid_first - 1))
    a, b = T0 + 2 * 10**9, T0 + 4 * 10**9 + 500_000_000
    want = expect(store, since=a, until=b)
    assert 0 < len(want) < 400
    check_result(query_json(store["db"], "--since", "1700000002", "--until", "1700000004.5"),
                 want)
    # the same instants in ISO-8601 UTC
    check_result(query_json(store["db"], "--since", "2023-11-14T22:13:22Z",
                            "--until", "2023-11-14T22:13:24.5Z"), want)
    assert query_json(store["db"], "--since", "2030-01-01T00:00:00Z") == []


def test_ip_filters(store):
    recs = store["recs"]
    v4 = [r for r in recs if r["ip_version"] == 4]
    v6 = [r for r in recs if r["ip_version"] == 6]
    assert v4 and v6
    a4, a6 = v4[7]["dst_ip"], v6[3]["src_ip"]
    cases = [a4, a4 + "/32", a6, a6 + "/128", "198.19.0.0/16", "198.18.0.0/24",
             "198.18.0.128/25", "0.0.0.0/0", "::/0", "2001:2:0:2::/64", "2001:2:0:1::/64",
             "2001:2:0:1::/120", "2001:2::/32", "203.0.113.0/24", "2001:db8::/32",
             v4[0]["src_ip"].rsplit(".", 1)[0] + ".77/20"]
    for ip in cases:
        want = expect(store, ip=ip)
        check_result(query_json(store["db"], "--ip", ip), want)
    # IPv4 flows are not found through their v4-mapped IPv6 form, nor the reverse
    assert query_json(store["db"], "--ip", "::ffff:0:0/96") == []
    assert len(expect(store, ip="0.0.0.0/0")) == len(v4)
    assert len(expect(store, ip="::/0")) == len(v6)


def test_port_proto_limit(store):
    recs = store["recs"]
    for port in (80, 53, 443, 123, 22, 0, recs[11]["src_port"], 65535):
        check_result(query_json(store["db"], "--port", port), expect(store, port=port))
    for name, num in (("tcp", 6), ("udp", 17), ("icmp", 1), ("58", 58), ("6", 6)):
        want = expect(store, proto=num)
        check_result(query_json(store["db"], "--proto", name), want)
    assert expect(store, proto=1) and expect(store, proto=17)
    for n in (1, 7, 399, 400, 1000):
        check_result(query_json(store["db"], "--limit", n), store["lines"], limit=n)
    check_result(query_json(store["db"], "--proto", "udp", "--limit", 5),
                 expect(store, proto=17), limit=5)


def test_combined(store):
    a, b = T0 + 1 * 10**9, T0 + 6 * 10**9
    want = expect(store, since=a, until=b, ip="198.19.0.0/16", port=443, proto=6)
    assert want
    check_result(query_json(store["db"], "--since", "1700000001", "--until", "1700000006",
                            "--ip", "198.19.0.0/16", "--port", "443", "--proto", "tcp"), want)
    want = expect(store, ip="2001:2:0:2::/64", proto=17)
    check_result(query_json(store["db"], "--ip", "2001:2:0:2::/64", "--proto", "udp",
                            "--limit", 3), want, limit=3)


def test_csv_and_table(store):
    p = query(store["db"], "-F", "csv", "--proto", "udp")
    assert p.returncode == 0, p.stderr
    rows = p.stdout.splitlines()
    want = expect(store, proto=17)
    assert rows[0].startswith("src_ip,dst_ip,src_port,dst_port,proto,")
    assert len(rows) == 1 + len(want)
    assert all(row.split(",")[4] == "17" for row in rows[1:])
    p = query(store["db"], "-F", "table", "--limit", 4)
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert lines[0].split()[:5] == ["START", "DURATION", "PROTO", "SRC", "DST"]
    assert len(lines) == 5
    # not a terminal: JSON Lines by default
    p = query(store["db"], "--limit", 2)
    assert [json.loads(x) for x in p.stdout.splitlines()] == \
        [json.loads(x) for x in query_json(store["db"], "--limit", 2)]


def test_query_errors(store, tmp_path):
    p = query(str(tmp_path / "missing.db"))
    assert p.returncode == 1
    assert p.stderr == "jcap: %s: No such file or directory\n" % (tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()
    (tmp_path / "text.db").write_text("not a database at all, but long enough for a header\n")
    p = query(str(tmp_path / "text.db"))
    assert p.returncode == 1
    assert p.stderr == "jcap: %s: file is not a database\n" % (tmp_path / "text.db")
    con = sqlite3.connect(str(tmp_path / "other.db"))
    con.execute("CREATE TABLE t (a)")
    con.commit()
    con.close()
    p = query(str(tmp_path / "other.db"))
    assert p.returncode == 1
    assert p.stderr == "jcap: %s: an SQLite database but not a jcap flow store\n" \
        % (tmp_path / "other.db")

    db = store["db"]
    usage = [
        ([], "jcap: query: the flow store DB is required"),
        ([db, "--ip", "10.0.0.0/33"], "jcap: query: '10.0.0.0/33' is not an IPv4/IPv6 "
         "address or CIDR"),
        ([db, "--ip", "10.0.0.1' OR '1'='1"], "jcap: query: '10.0.0.1' OR '1'='1' is not"),
        ([db, "--since", "yesterday"], "jcap: query: --since: 'yesterday' is not a time"),
        ([db, "--until", "2023-11-14T22:13:20"], "jcap: query: --until: "),
        ([db, "--until", "2023-02-29T00:00:00Z"], "jcap: query: --until: "),
        ([db, "--since", "1.0123456789"], "jcap: query: --since: "),
        ([db, "--since", "5", "--until", "4"], "jcap: query: since is after until"),
        ([db, "--port", "65536"], "jcap: --port: 65536 out of range (0..65535)"),
        ([db, "--port", "http"], "jcap: --port: 'http' is not a number"),
        ([db, "--proto", "bogus"], "jcap: --proto: 'bogus' is not a number"),
        ([db, "--proto", "256"], "jcap: --proto: 256 out of range (0..255)"),
        ([db, "--limit", "-1"], "jcap: --limit: '-1' is not a number"),
        ([db, "-F", "xml"], "jcap: query: unknown format 'xml' (table, json or csv)"),
        ([db, "extra"], "jcap: query: unexpected argument 'extra'"),
        ([db, "--bogus"], "jcap: query: unknown option --bogus"),
    ]
    for args, msg in usage:
        p = jcaptest.run(["query"] + args)
        assert p.returncode == 2, (args, p.returncode, p.stderr)
        assert p.stdout == ""
        assert p.stderr.startswith(msg), (args, p.stderr)
    # the table is intact after all that
    assert len(query_json(db)) == 400


def test_retention_rows(store):
    db = str(store["dir"] / "rows.db")
    p = jcaptest.run(["-r", store["pcap"], "--store", db, "--store-max-rows", "25",
                      "-F", "json", "--no-progress"])
    assert p.returncode == 0, p.stderr
    got = query_json(db)
    assert len(got) == 25
    check_result(got, store["lines"], limit=25)
    # a second run appends, and the limit still holds over both
    p = jcaptest.run(["-r", store["pcap"], "--store", db, "--store-max-rows", "30",
                      "-F", "json", "--no-progress"])
    assert p.returncode == 0, p.stderr
    got = query_json(db)
    assert len(got) == 30
    top = sorted((r["last_ns"] for r in store["recs"]), reverse=True)
    assert [json.loads(x)["last_ns"] for x in got] == sorted(top[:15] * 2, reverse=True)


def test_retention_age(tmp_path):
    """Flows two hours old and flows a minute old; --store-max-age 3600 keeps
    the recent ones (age is measured against the wall clock)."""
    jcaptest.require_jcap()
    now = time.time_ns()
    sc = pcapgen.Scenario(seed=9, start_ns=(now - 7200 * 10**9) // 10**6 * 10**6)
    for i in range(20):
        at = (7140.0 if i % 2 else 0.0) + i * 0.1
        sc.udp_exchange(at, pcapgen.c4(i + 1), pcapgen.s4(1), 2000 + i, 53, count=2)
    sc.write(str(tmp_path / "age.pcap"))
    db = str(tmp_path / "age.db")
    out = tmp_path / "age.json"
    p = jcaptest.run(["-r", tmp_path / "age.pcap", "--store", db, "--store-max-age", "3600",
                      "-F", "json", "-w", out, "--no-progress"])
    assert p.returncode == 0, p.stderr
    lines = [x for x in out.read_text().splitlines() if x]
    assert len(lines) == 20
    cutoff = time.time_ns() - 3600 * 10**9
    want = [x for x in lines if json.loads(x)["last_ns"] >= cutoff]
    assert len(want) == 10
    check_result(query_json(db), want)


def udp_pairs_pcap(nflows, t0_ns):
    """A classic pcap of @nflows UDP flows, one packet each way, 0.5 ms apart
    (written directly: pcapgen is too slow for this many)."""
    def csum(h):
        s = sum(struct.unpack("!10H", h))
        s = (s & 0xFFFF) + (s >> 16)
        s = (s & 0xFFFF) + (s >> 16)
        return ~s & 0xFFFF

    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    payload = b"\0" * 18
    for i in range(nflows):
        cl = bytes((198, 18, (i >> 8) & 255, i & 255))
        sv = bytes((198, 19, 0, i % 100 + 1))
        cport = 1024 + i % 60000
        for k, (a, b, sp, dp) in enumerate(((cl, sv, cport, 53), (sv, cl, 53, cport))):
            udp = struct.pack("!HHHH", sp, dp, 8 + len(payload), 0) + payload
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17,
                             0, a, b)
            ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
            frame = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + udp
            ts = t0_ns // 1000 + i * 500 + k * 100
            out.append(struct.pack("<IIII", ts // 10**6, ts % 10**6, len(frame), len(frame)))
            out.append(frame)
    return b"".join(out)


# Interposes sqlite3_prepare_v2 in `jcap query` (LD_PRELOAD): for the flow
# query, writes the SQL the library built and SQLite's EXPLAIN QUERY PLAN of
# it (on the same connection) to $PC_EQP_OUT, then prepares it as asked.
EQP_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*prep_fn)(sqlite3 *, const char *, int, sqlite3_stmt **, const char **);

int sqlite3_prepare_v2(sqlite3 *db, const char *sql, int n, sqlite3_stmt **st, const char **tail)
{
	prep_fn real = (prep_fn)dlsym(RTLD_NEXT, "sqlite3_prepare_v2");
	const char *out = getenv("PC_EQP_OUT");

	if (out && sql && strstr(sql, " FROM flows WHERE ")) {
		char *q = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sql);
		sqlite3_stmt *e = NULL;
		FILE *f = fopen(out, "a");

		if (f && q && real(db, q, -1, &e, NULL) == SQLITE_OK) {
			fprintf(f, "SQL %s\n", sql);
			while (sqlite3_step(e) == SQLITE_ROW)
				fprintf(f, "PLAN %s\n", (const char *)sqlite3_column_text(e, 3));
			fputs("END\n", f);
		}
		sqlite3_finalize(e);
		sqlite3_free(q);
		if (f)
			fclose(f);
	}
	return real(db, sql, n, st, tail);
}
"""


@pytest.fixture(scope="module")
def eqp_shim(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler to build the sqlite3_prepare_v2 shim")
    d = tmp_path_factory.mktemp("eqp")
    (d / "shim.c").write_text(EQP_SHIM)
    p = subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(d / "shim.so"), str(d / "shim.c"),
                        "-ldl"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return str(d / "shim.so")


def query_plan(shim, db, tmp, *args):
    """`jcap query DB ARGS` with the shim: (the SQL jcap ran, its plan rows)."""
    out = tmp / "eqp.txt"
    if out.exists():
        out.unlink()
    env = dict(os.environ, LD_PRELOAD=shim, PC_EQP_OUT=str(out))
    if "address" in os.environ.get("PC_SANITIZED", ""):
        # the ASan build's jcap links the runtime itself; the shim comes first
        env["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
    p = subprocess.run([jcaptest.jcap_path(), "query", db, "-F", "json"] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    assert out.exists(), "the shim saw no flow query (is sqlite3 linked statically?)"
    lines = out.read_text().splitlines()
    assert lines[0].startswith("SQL ") and lines[-1] == "END", lines
    assert sum(1 for x in lines if x.startswith("SQL ")) == 1, lines
    return lines[0][4:], {x[5:] for x in lines if x.startswith("PLAN ")}


def test_query_plans_use_indexes(store, eqp_shim, tmp_path):
    """Every documented filter of `jcap query` is answered through an index,
    never a full table scan: SQLite's plan of the very SQL the library builds
    (caught as jcap prepares it)."""
    cases = [
        (("--since", "1700000002"), " AND last_ns >= ?",
         {"SEARCH flows USING INDEX flows_last_ns (last_ns>?)"}),
        (("--until", "1700000002"), " AND first_ns <= ?",
         {"SCAN flows USING INDEX flows_last_ns"}),
        (("--since", "1700000001", "--until", "1700000004"), " AND last_ns >= ? AND first_ns <= ?",
         {"SEARCH flows USING INDEX flows_last_ns (last_ns>?)"}),
        (("--ip", "198.18.0.0/16"),
         " AND ip_version = ? AND (src_ip BETWEEN ? AND ? OR dst_ip BETWEEN ? AND ?)",
         {"SEARCH flows USING INDEX flows_src_ip (src_ip>? AND src_ip<?)",
          "SEARCH flows USING INDEX flows_dst_ip (dst_ip>? AND dst_ip<?)"}),
        (("--port", "53"), " AND (src_port = ? OR dst_port = ?)",
         {"SEARCH flows USING INDEX flows_src_port (src_port=?)",
          "SEARCH flows USING INDEX flows_dst_port (dst_port=?)"}),
        (("--proto", "udp"), " AND proto = ?", {"SCAN flows USING INDEX flows_last_ns"}),
        (("--limit", "5"), "", {"SCAN flows USING INDEX flows_last_ns"}),
        (("--community-id", "1:LQU9qZlK+B5F3KDmev6m5PMibrg="), " AND community_id = ?",
         {"SEARCH flows USING INDEX flows_community_id (community_id=?)"}),
        (("--tunnel-id", "100"), " AND (tunnel_id = ? OR rev_tunnel_id = ?)",
         {"SEARCH flows USING INDEX flows_tunnel_id (tunnel_id=?)",
          "SEARCH flows USING INDEX flows_rev_tunnel_id (rev_tunnel_id=?)"}),
        (("--mac", "02:00:00:00:00:01"), " AND (src_mac = ? OR dst_mac = ?)",
         {"SEARCH flows USING INDEX flows_src_mac (src_mac=?)",
          "SEARCH flows USING INDEX flows_dst_mac (dst_mac=?)"}),
    ]
    for args, where, want in cases:
        sql, plan = query_plan(eqp_shim, store["db"], tmp_path, *args)
        assert sql.endswith(" FROM flows WHERE 1" + where + " ORDER BY last_ns DESC, id DESC" +
                            (" LIMIT ?" if "--limit" in args else "")), (args, sql)
        assert want <= plan, (args, plan)
        assert "SCAN flows" not in plan, (args, plan)


OLD_SCHEMA = """
CREATE TABLE flows (id INTEGER PRIMARY KEY, ip_version INTEGER NOT NULL,
  src_ip BLOB NOT NULL, dst_ip BLOB NOT NULL, src_port INTEGER NOT NULL,
  dst_port INTEGER NOT NULL, proto INTEGER NOT NULL, vlan INTEGER NOT NULL,
  packets INTEGER NOT NULL, bytes INTEGER NOT NULL, rev_packets INTEGER NOT NULL,
  rev_bytes INTEGER NOT NULL, tcp_flags INTEGER NOT NULL, rev_tcp_flags INTEGER NOT NULL,
  icmp_type INTEGER NOT NULL, icmp_code INTEGER NOT NULL, end_reason INTEGER NOT NULL,
  worker INTEGER NOT NULL, first_ns INTEGER NOT NULL, last_ns INTEGER NOT NULL,
  rev_first_ns INTEGER NOT NULL, rev_last_ns INTEGER NOT NULL,
  fwd_first_ns INTEGER NOT NULL, fwd_last_ns INTEGER NOT NULL);
CREATE INDEX flows_first_ns ON flows(first_ns);
CREATE INDEX flows_last_ns ON flows(last_ns);
CREATE INDEX flows_src_ip ON flows(src_ip);
CREATE INDEX flows_dst_ip ON flows(dst_ip);
CREATE INDEX flows_src_port ON flows(src_port);
CREATE INDEX flows_dst_port ON flows(dst_port);
PRAGMA application_id = 1784897904;
PRAGMA user_version = 1;
"""


def test_older_store_keeps_rows_loses_unused_index(store, tmp_path):
    """A store written before flows_first_ns was dropped (4 KiB pages, six
    indexes) is written into: its row stays, the unused index goes, new rows
    are added, and the page size of an existing file is left alone."""
    db = str(tmp_path / "old.db")
    con = sqlite3.connect(db)
    con.executescript(OLD_SCHEMA)
    key = b"\0" * 10 + b"\xff\xff" + bytes((192, 0, 2, 7))
    con.execute("INSERT INTO flows VALUES (1, 4, ?, ?, 1234, 80, 6, 0, 3, 180, 2, 120, 2, 18,"
                " 0, 0, 1, 0, 5, 9, 6, 8, 5, 9)", (key, key))
    con.commit()
    assert con.execute("PRAGMA page_size").fetchone()[0] == 4096
    con.close()
    p = jcaptest.run(["-r", store["pcap"], "--store", db, "-F", "json", "-w", "/dev/null",
                      "--no-progress"])
    assert p.returncode == 0, p.stderr
    con = sqlite3.connect(db)
    try:
        idx = {r[0] for r in con.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'flows'")}
        assert idx == {"flows_last_ns", "flows_src_ip", "flows_dst_ip",
                       "flows_src_port", "flows_dst_port", "flows_community_id", "flows_tunnel_id",
                       "flows_rev_tunnel_id", "flows_src_mac", "flows_dst_mac", "flows_app",
                       "flows_tls_sni", "flows_dns_qname", "flows_src_country",
                       "flows_dst_country", "flows_src_asn", "flows_dst_asn"}
        assert con.execute("PRAGMA page_size").fetchone()[0] == 4096
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("PRAGMA user_version").fetchone()[0] == 3  # upgraded
        assert con.execute("SELECT count(*) FROM flows").fetchone()[0] == 401
        assert con.execute("SELECT interface, src_mac, tunnel_id, community_id FROM flows "
                           "WHERE id = 1").fetchone() == (0, None, None, None)
        assert con.execute("SELECT src_port, dst_port, packets, last_ns FROM flows "
                           "WHERE id = 1").fetchone() == (1234, 80, 3, 9)
    finally:
        con.close()
    # a new store gets 8 KiB pages
    con = sqlite3.connect(store["db"])
    try:
        assert con.execute("PRAGMA page_size").fetchone()[0] == 8192
    finally:
        con.close()
    got = query_json(db, "--ip", "192.0.2.7")
    assert len(got) == 1
    r = json.loads(got[0])
    assert (r["src_ip"], r["dst_ip"], r["src_port"], r["dst_port"], r["bytes"]) == \
        ("192.0.2.7", "192.0.2.7", 1234, 80, 180)


def test_kill9_mid_store(tmp_path):
    """jcap storing flows is killed with SIGKILL after its first batch is
    committed, while it goes on inserting: the database passes
    integrity_check, holds whole committed flow records only, and opens again.
    The input comes through a FIFO that is never closed, so jcap cannot finish
    before the kill however fast the store is."""
    jcaptest.require_jcap()
    db = str(tmp_path / "crash.db")
    fifo = str(tmp_path / "in.fifo")
    os.mkfifo(fifo)
    # 60000 two-packet UDP flows over 30 s of packet time: with a 1 s idle
    # timeout they expire (and are stored) all along the input
    nflows = 60000
    data = udp_pairs_pcap(nflows, T0)
    rec = (len(data) - 24) // (2 * nflows)  # every packet record has one size
    half = 24 + nflows * rec  # the first 30000 flows
    go, stop = threading.Event(), threading.Event()

    def feed():
        try:
            with open(fifo, "wb") as f:
                f.write(data[:half])
                f.flush()
                go.wait(60)
                f.write(data[half:])
                f.flush()
                stop.wait(60)  # never EOF: jcap has to be killed
        except (BrokenPipeError, OSError):
            pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    proc = subprocess.Popen([jcaptest.jcap_path(), "-r", fifo,
                             "--store", db, "--idle-timeout", "1", "-F", "json",
                             "--no-progress"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    rows = 0
    try:
        deadline = time.time() + 60
        while time.time() < deadline and rows == 0 and proc.poll() is None:
            time.sleep(0.01)
            if os.path.exists(db):
                try:
                    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
                    rows = c.execute("SELECT count(*) FROM flows").fetchone()[0]
                    c.close()
                except sqlite3.Error:
                    rows = 0
        go.set()  # the second half streams in and is being stored: kill now
        time.sleep(0.05)
        proc.kill()
        proc.wait(timeout=10)
    finally:
        go.set()
        stop.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        feeder.join(10)
    assert proc.returncode == -9, "jcap ended before it could be killed"
    assert rows > 0, "no committed rows seen before the kill"
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        n = con.execute("SELECT count(*) FROM flows").fetchone()[0]
        assert rows <= n < nflows
        bad = con.execute("SELECT count(*) FROM flows WHERE length(src_ip) != 16 OR "
                          "length(dst_ip) != 16 OR packets != 1 OR rev_packets != 1 OR "
                          "proto != 17").fetchone()[0]
        assert bad == 0
    finally:
        con.close()
    assert len(query_json(db)) == n
