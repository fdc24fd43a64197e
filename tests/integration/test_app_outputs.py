# SPDX-License-Identifier: BSD-3-Clause
"""integration.app_outputs: the transport health and application fields (issue 12)
in every form jcap writes a record: exact payload octets of generated sessions; the
CSV columns equal to the JSON fields (empty where JSON has none); the SQLite store
and `jcap query -F json` giving back every record field for field; the query
filters --app/--sni/--dns-name/--country/--asn and the --by app report agreeing
with the records; the table's APP column and the documented order in which a
narrow terminal drops columns. Inputs from tests/tools/pcapgen.py."""
import csv
import io
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import appgen  # noqa: E402
import jcaptest as jt  # noqa: E402
import pcapgen as g  # noqa: E402

C, S = "198.18.0.1", "198.19.0.1"
C6, S6 = "2001:2:0:1::1", "2001:2:0:2::1"

L7_FIELDS = jt.L7_FIELDS
# the documented drop order of the table (jcap --help, man jcap)
DROP_ORDER = ("END", "VLAN", "REV_PKTS", "REV_BYTES", "DURATION", "TUNNEL", "FLAGS", "PKTS",
              "APP")


def sessions(path):
    """TCP to 443 and 80 (v4, v6), DNS over UDP, a ping: payload sizes known."""
    sc = g.Scenario()
    sc.tcp_session(0.0, C, S, 40001, 443, data=3, size=100)
    sc.tcp_session(0.1, C6, S6, 40002, 80, data=2, size=50, close="rst")
    sc.udp_exchange(0.2, C, S, 5353, 53, count=4, size=64)
    sc.ping(0.3, C, S, count=2, size=56)
    sc.write(path)
    return sc


def meter_all(tmp_path):
    f = tmp_path / "s.pcap"
    sc = sessions(f)
    recs, _ = jt.meter(f)
    jt.assert_same_flows(recs, sc.expected().records, "json")
    return f, recs


def by_key(recs):
    return {jt.flow_key(r): r for r in recs}


def test_payload_bytes_exact(tmp_path):
    _, recs = meter_all(tmp_path)
    got = {(r["proto"], r["dst_port"]): (r["payload_bytes"], r["rev_payload_bytes"])
           for r in recs}
    # TCP: the segments' payloads; UDP: datagram payloads; ICMP: the IP payload
    assert got == {(6, 443): (300, 600), (6, 80): (100, 200), (17, 53): (128, 148),
                   (1, g.icmp_key_port(1, 8, 0)): (128, 128)}
    for r in recs:
        for k in L7_FIELDS:
            assert r.get(k, None) != "", (k, r)  # absent, never an empty string


def test_csv_columns_equal_json(tmp_path):
    f, recs = meter_all(tmp_path)
    p = jt.run(["-r", f, "-F", "csv", "--no-progress"])
    assert p.returncode == 0 and p.stderr == ""
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    names = list(jt.FLOW_FIELDS) + list(jt.CSV_PATH_FIELDS) + list(L7_FIELDS)
    assert list(rows[0].keys()) == names
    js = by_key(recs)
    assert len(rows) == len(recs)
    for row in rows:
        conv = {k: (v if k in ("src_ip", "dst_ip", "end_reason") else int(v))
                for k, v in row.items() if k in jt.FLOW_FIELDS}
        r = js[jt.flow_key(conv)]
        for k in L7_FIELDS:
            assert row[k] == str(r.get(k, "")), (k, row, r)


def test_store_and_query_give_back_every_field(tmp_path):
    f, recs = meter_all(tmp_path)
    db = tmp_path / "s.db"
    stored, _ = jt.meter(f, "--store", db)
    q = jt.run(["query", db, "-F", "json"])
    assert q.returncode == 0, q.stderr
    got = jt.parse_lines(q.stdout)
    assert len(got) == len(recs)
    js = by_key(stored)
    for r in got:
        assert r == js[jt.flow_key(r)]


def query_keys(db, *args):
    q = jt.run(["query", db, "-F", "json"] + list(args))
    assert q.returncode == 0, q.stderr
    return sorted(jt.flow_key(r) for r in jt.parse_lines(q.stdout))


def test_query_filters_and_reports(tmp_path):
    f = tmp_path / "s.pcap"
    sessions(f)
    db = tmp_path / "s.db"
    recs, _ = jt.meter(f, "--store", db)
    apps = {r.get("app") for r in recs}
    for a in apps - {None}:
        want = sorted(jt.flow_key(r) for r in recs if r.get("app") == a)
        assert query_keys(db, "--app", a) == want, a
        # SQLite GLOB: case counts for app names
        if a.lower() != a:
            assert query_keys(db, "--app", a.lower()) == []
    assert query_keys(db, "--app", "*") == sorted(jt.flow_key(r) for r in recs if "app" in r)
    for opt, field in (("--sni", "tls_sni"), ("--dns-name", "dns_qname")):
        names = {r[field] for r in recs if field in r}
        for n in names:
            want = sorted(jt.flow_key(r) for r in recs if r.get(field, "").lower() ==
                          n.lower())
            assert query_keys(db, opt, n.upper()) == want, (opt, n)
        assert query_keys(db, opt, "no.such.name.invalid") == []
    # no GeoIP databases given: nothing has a country or an AS
    assert query_keys(db, "--country", "de") == []
    assert query_keys(db, "--asn", "3320") == []
    # the report's groups are the records' apps (unknown: the empty key)
    p = jt.run(["query", db, "--by", "app", "-F", "json"])
    assert p.returncode == 0, p.stderr
    rows = jt.parse_lines(p.stdout)
    assert {r["app"]: r["flows"] for r in rows} == {
        a or "": sum(1 for r in recs if r.get("app") == a) for a in apps}
    p = jt.run(["query", db, "--by", "country", "-F", "json"])
    assert [(r["country"], r["flows"]) for r in jt.parse_lines(p.stdout)] == \
        [("", 2 * len(recs))]


def test_query_filter_errors(tmp_path):
    f = tmp_path / "s.pcap"
    sessions(f)
    db = tmp_path / "s.db"
    jt.meter(f, "--store", db)
    for args, msg in ((["--country", "DEU"],
                       "'DEU' is not a country code (two letters, ISO 3166)"),
                      (["--sni", ""], "sni pattern must be 1 to 127 bytes"),
                      (["--app", "x" * 128], "app pattern must be 1 to 127 bytes")):
        p = jt.run(["query", db] + args)
        assert p.returncode == 2 and p.stdout == ""
        assert p.stderr == "jcap: query: %s\n" % msg
    p = jt.run(["query", db, "--asn", "4294967296"])
    assert p.returncode == 2 and "--asn" in p.stderr


def app_cell(r):
    for k in ("app", "tls_sni", "http_host", "dns_qname"):
        if k in r:
            return r[k]
    return ""


def header(tmp_path, f, width, *extra):
    env = dict(os.environ, COLUMNS=str(width), TZ="UTC")
    p = subprocess.run([jt.require_jcap(), "-r", str(f), "-F", "table", "--no-progress"] +
                       list(extra), capture_output=True, text=True, timeout=120, env=env,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0 and p.stderr == ""
    return p.stdout.splitlines()


def test_table_app_column_and_drop_order(tmp_path):
    f, recs = meter_all(tmp_path)
    if not any(app_cell(r) for r in recs):
        raise AssertionError("no flow has an application name: %s" % recs)
    lines = header(tmp_path, f, 400)
    cols = lines[0].split()
    assert cols[cols.index("DST") + 1] == "APP"
    # every row's APP cell is the record's app (else SNI, host, DNS name)
    at = lines[0].index("APP")
    cells = sorted(x[at:].split(" ")[0] for x in lines[1:])
    assert cells == sorted(app_cell(r) for r in recs)
    # narrower and narrower: what is gone is always a prefix of the documented order
    full = set(cols)
    seen = set()
    for width in range(130, 30, -5):
        got = header(tmp_path, f, width)[0].split()
        gone = [c for c in DROP_ORDER if c in full and c not in got]
        want = [c for c in DROP_ORDER if c in full][:len(gone)]
        assert gone == want, (width, got)
        seen.add(len(gone))
    assert max(seen) == len([c for c in DROP_ORDER if c in full])  # APP went last
    # --wide: every column, whatever the terminal
    wide = header(tmp_path, f, 40, "--wide")
    assert set(cols) <= set(wide[0].split())


def test_report_keys_keep_json_valid(tmp_path):
    """Names come off the wire: an SNI that is not UTF-8 is a report key too.
    `--by tls_sni -F json` writes it as the record's JSON does (\\u00XX for a
    byte that is not UTF-8, UTF-8 as it is), so every line parses."""
    names = [b"bad\xff.example", "caf\u00e9.example".encode(), b"ok.example"]
    sc = appgen.AppScenario()
    for i, n in enumerate(names):
        sc.tls_session(0.1 * i, C, S, 41000 + i, 443, sni=n, alpn=["h2"])
    f = tmp_path / "sni.pcap"
    sc.write(f)
    db = tmp_path / "sni.db"
    recs, _ = jt.meter(f, "--store", db)
    want = {appgen.json_text(n) for n in names}
    assert {r["tls_sni"] for r in recs if "tls_sni" in r} == want
    p = subprocess.run([jt.require_jcap(), "query", str(db), "--by", "tls_sni", "-F", "json"],
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    rows = [json.loads(ln) for ln in p.stdout.decode("utf-8").splitlines()]
    assert {r["tls_sni"]: r["flows"] for r in rows} == {n: 1 for n in want}
    assert b"\\u00ff" in p.stdout and "caf\u00e9".encode() in p.stdout
