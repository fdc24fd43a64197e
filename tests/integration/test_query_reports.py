# SPDX-License-Identifier: BSD-3-Clause
"""`jcap query DB` reports (issue 15): --top N --by KEY, --aggregate KEYS,
--bin DUR and --summary, computed by SQLite, checked exactly against
Python's own aggregation of the same store's `-F json` records."""
import collections
import datetime
import json
import os
import random
import subprocess

import pytest

import jcaptest
import pcapgen

KEYS = ("src_ip", "dst_ip", "src_port", "dst_port", "proto", "ip_version", "vlan", "end_reason")
MIN = 60 * 10**9


def query(db, *args, **env):
    e = dict(os.environ)
    e.update(env)
    return subprocess.run([jcaptest.require_jcap(), "query", str(db)] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=120, env=e,
                          stdin=subprocess.DEVNULL)


def rows(db, *args):
    p = query(db, "-F", "json", *args)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    return [json.loads(x) for x in p.stdout.splitlines()]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """400 flows over 20 minutes: few clients, servers and ports, so that
    groups hold many flows; v4 and v6, VLANs, TCP/UDP/ICMP."""
    jcaptest.require_jcap()
    d = tmp_path_factory.mktemp("reports")
    rng = random.Random(15)
    sc = pcapgen.Scenario(idle_timeout=30)
    for i in range(400):
        t = i * 3.0 + rng.random()
        v6 = rng.random() < 0.2
        c = ("2001:db8::%d" % rng.randint(1, 5)) if v6 else "198.18.0.%d" % rng.randint(1, 6)
        s = ("2001:db8:1::%d" % rng.randint(1, 3)) if v6 else "198.19.0.%d" % rng.randint(1, 4)
        l2 = {"vlans": (rng.choice((10, 20)),)} if rng.random() < 0.3 else None
        kind = rng.random()
        if kind < 0.5:
            sc.tcp_session(t, c, s, 30000 + i, rng.choice((80, 443, 22)),
                           data=rng.randint(0, 4), size=rng.randint(50, 900), l2=l2,
                           close=rng.choice(("fin", "rst")))
        elif kind < 0.85:
            sc.udp_exchange(t, c, s, 40000 + i, rng.choice((53, 123)),
                            count=rng.randint(1, 5), size=rng.randint(40, 400), l2=l2)
        else:
            sc.ping(t, c, s, count=rng.randint(1, 3), ident=i, l2=l2)
    pcap = d / "r.pcap"
    sc.write(pcap)
    db = d / "r.db"
    p = jcaptest.run(["-r", pcap, "--store", db, "-q", "--no-progress"])
    assert p.returncode == 0, p.stderr
    recs = rows(db)
    assert len(recs) == len(sc.expected().records) > 300
    return {"db": db, "recs": recs, "pcap": pcap}


def group(recs, keys, bin_ns=0):
    out = collections.defaultdict(lambda: {"flows": 0, "packets": 0, "bytes": 0})
    for r in recs:
        k = tuple(r[x] for x in keys)
        if bin_ns:
            k = (r["first_ns"] // bin_ns * bin_ns,) + k
        g = out[k]
        g["flows"] += 1
        g["packets"] += r["packets"] + r["rev_packets"]
        g["bytes"] += r["bytes"] + r["rev_bytes"]
    return out


def as_dict(got, keys, bin_=False):
    d = {}
    for r in got:
        k = tuple(r[x] for x in keys)
        if bin_:
            k = (r["bin_ns"],) + k
        assert k not in d, k
        d[k] = {"flows": r["flows"], "packets": r["packets"], "bytes": r["bytes"]}
    return d


@pytest.mark.parametrize("key", KEYS)
def test_by_every_key_all_rows(store, key):
    got = rows(store["db"], "--by", key)
    want = group(store["recs"], (key,))
    assert as_dict(got, (key,)) == dict(want)
    assert [list(r) for r in got[:1]] == [[key, "flows", "packets", "bytes"]]
    flows = [r["flows"] for r in got]
    assert flows == sorted(flows, reverse=True)


@pytest.mark.parametrize("order", ["flows", "packets", "bytes"])
def test_top_n_by_dst_port_and_src_ip(store, order):
    for key in ("dst_port", "src_ip"):
        want = group(store["recs"], (key,))
        args = ["--top", 3, "--by", key] + (["--order", order] if order != "flows" else [])
        got = rows(store["db"], *args)
        assert len(got) == 3
        for r in got:
            assert {m: r[m] for m in ("flows", "packets", "bytes")} == want[(r[key],)]
        best = sorted((g[order] for g in want.values()), reverse=True)[:3]
        assert [r[order] for r in got] == best


def test_aggregate_two_keys(store):
    keys = ("src_ip", "dst_port")
    got = rows(store["db"], "--aggregate", ",".join(keys))
    assert as_dict(got, keys) == dict(group(store["recs"], keys))
    top = rows(store["db"], "--aggregate", "src_ip,dst_port", "--top", 4, "--order", "bytes")
    assert [r["bytes"] for r in top] == \
        sorted((g["bytes"] for g in group(store["recs"], keys).values()), reverse=True)[:4]


def test_bins(store):
    got = rows(store["db"], "--bin", "5m")
    want = group(store["recs"], (), 5 * MIN)
    assert as_dict(got, (), True) == dict(want)
    assert [r["bin_ns"] for r in got] == sorted(k[0] for k in want)
    for r in got:
        t = datetime.datetime.fromtimestamp(r["bin_ns"] // 10**9, datetime.timezone.utc)
        assert r["bin"] == t.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    # bins and a key together; 300 is 300 seconds
    got = rows(store["db"], "--bin", "300", "--by", "proto")
    assert as_dict(got, ("proto",), True) == dict(group(store["recs"], ("proto",), 5 * MIN))


def test_filters_apply(store):
    recs = [r for r in store["recs"] if r["proto"] == 17 and r["first_ns"] <= store["recs"][0][
        "first_ns"] + 10 * MIN]
    until = (pcapgen.T0_NS + 10 * MIN) / 1e9
    got = rows(store["db"], "--proto", "udp", "--until", "%.9f" % until, "--by", "dst_port")
    want = [r for r in store["recs"] if r["proto"] == 17 and r["first_ns"] <= int(until * 1e9)]
    assert recs or want
    assert as_dict(got, ("dst_port",)) == dict(group(want, ("dst_port",)))


def test_id_and_link_filters_apply(store):
    """Reports take the same filters as queries: Community ID and MAC too."""
    recs = store["recs"]
    cid = recs[7]["community_id"]
    want = [r for r in recs if r["community_id"] == cid]
    got = rows(store["db"], "--community-id", cid, "--by", "proto")
    assert as_dict(got, ("proto",)) == dict(group(want, ("proto",))) and want
    mac = recs[3]["src_mac"]
    want = [r for r in recs if mac in (r.get("src_mac"), r.get("dst_mac"))]
    got = rows(store["db"], "--mac", mac, "--by", "dst_port")
    assert as_dict(got, ("dst_port",)) == dict(group(want, ("dst_port",)))
    assert want  # the generator gives every host the same two MACs
    assert rows(store["db"], "--mac", "02:00:00:00:00:99", "--by", "dst_port") == []
    p = query(store["db"], "--mac", "zz", "--by", "proto")
    assert p.returncode == 2 or p.returncode == 1
    assert "'zz' is not a MAC address (aa:bb:cc:dd:ee:ff)" in p.stderr


def test_summary(store):
    recs = store["recs"]
    got = rows(store["db"], "--summary")
    assert len(got) == 1
    s = got[0]
    tot = group(recs, ())[()]
    assert {k: s[k] for k in ("flows", "packets", "bytes")} == tot
    assert s["first_ns"] == min(r["first_ns"] for r in recs)
    assert s["last_ns"] == max(r["last_ns"] for r in recs)
    by = group(recs, ("proto",))
    assert {(p["proto"],): {k: p[k] for k in ("flows", "packets", "bytes")}
            for p in s["protocols"]} == dict(by)
    assert [p["flows"] for p in s["protocols"]] == \
        sorted((g["flows"] for g in by.values()), reverse=True)
    t = datetime.datetime.fromtimestamp(s["first_ns"] // 10**9, datetime.timezone.utc)
    assert s["first"] == t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (
        s["first_ns"] // 10**6 % 1000)


def test_table_and_csv(store):
    p = query(store["db"], "--top", 2, "--by", "proto", "-F", "table")
    by = group(store["recs"], ("proto",))
    best = sorted(by.items(), key=lambda kv: -kv[1]["flows"])[:2]
    names = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmp6"}

    def units(v):
        return str(v) if v < 100000 else "%.1fK" % (v / 1000) if v < 999950 else \
            "%.1fM" % (v / 1e6)
    want = ["proto    FLOWS  PACKETS    BYTES"] + [
        "%-5s %8s %8s %8s" % (names[k[0]], units(g["flows"]), units(g["packets"]),
                             units(g["bytes"])) for k, g in best]
    assert p.returncode == 0 and p.stdout.splitlines() == want
    p = query(store["db"], "--top", 2, "--by", "proto", "-F", "csv")
    assert p.stdout.splitlines() == ["proto,flows,packets,bytes"] + [
        "%d,%d,%d,%d" % (k[0], g["flows"], g["packets"], g["bytes"]) for k, g in best]


@pytest.mark.parametrize("args,msg", [
    (["--by", "color"], "jcap: query: unknown key 'color' (src_ip, dst_ip, src_port, dst_port, "
     "proto, ip_version, vlan, end_reason, community_id, app, app_category, tls_sni, "
     "dns_qname, http_host, conn_state, src_country, dst_country, country, src_asn, dst_asn, "
     "asn)"),
    (["--top", "3"], "jcap: query: --top N needs --by KEY or --aggregate KEYS"),
    (["--by", "src_ip,dst_ip"], "jcap: query: --by takes one key; several: --aggregate"),
    (["--by", "src_ip", "--aggregate", "dst_ip"],
     "jcap: query: give --by KEY or --aggregate KEYS, not both"),
    (["--by", "src_ip", "--limit", "3"], "jcap: query: reports take --top N, not --limit"),
    (["--summary", "--by", "proto"], "jcap: query: --summary stands alone"),
    (["--bin", "5x"], "jcap: query: --bin: '5x' is not a duration (N, Ns, Nm, Nh or Nd, N > 0)"),
    (["--bin", "0"], "jcap: query: --bin: '0' is not a duration (N, Ns, Nm, Nh or Nd, N > 0)"),
    (["--aggregate", "src_ip,dst_ip,src_port,dst_port,proto"], "jcap: query: at most 4 keys"),
])
def test_report_usage_errors(store, args, msg):
    p = query(store["db"], *args)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.splitlines()[0] == msg


@pytest.mark.parametrize("args,fmt", [
    (["--top", 5, "--by", "dst_port"], "json"),
    (["--top", 5, "--by", "dst_port"], "csv"),
    (["--top", 5, "--by", "dst_port"], "table"),
    (["--by", "src_ip"], "json"),
    (["--aggregate", "src_ip,proto", "--top", 7, "--order", "bytes"], "json"),
    (["--aggregate", "dst_ip,vlan,end_reason", "--order", "packets"], "table"),
    (["--bin", "5m"], "json"),
    (["--bin", "2m", "--by", "proto"], "csv"),
    (["--summary"], "json"),
    (["--summary"], "table"),
])
def test_run_reports_equal_store_reports(store, args, fmt):
    """`jcap -r F --top N --by KEY`: the same report from the run's records,
    without a store, row for row and in the same order."""
    run = jcaptest.run(["-r", store["pcap"], "-F", fmt, "--no-progress"] + args)
    assert run.returncode == 0 and run.stderr == "", run.stderr
    q = query(store["db"], "-F", fmt, *args)
    assert q.returncode == 0, q.stderr
    assert run.stdout == q.stdout and run.stdout.count("\n") >= (1 if fmt == "json" else 2)


def test_run_report_usage_errors(store):
    for args, msg in (
            (["--by", "color"], "jcap: unknown key 'color' (src_ip, dst_ip, src_port, dst_port, "
             "proto, ip_version, vlan, end_reason, community_id, app, app_category, tls_sni, "
             "dns_qname, http_host, conn_state, src_country, dst_country, country, src_asn, "
             "dst_asn, asn)"),
            (["--by", "a,b"], "jcap: --by takes one key; several: --aggregate"),
            (["--by", "proto", "--aggregate", "vlan"],
             "jcap: give --by KEY or --aggregate KEYS, not both"),
            (["--bin", "1w"], "jcap: --bin: '1w' is not a duration (N, Ns, Nm, Nh or Nd, N > 0)"),
            (["--summary", "--by", "proto"], "jcap: --summary stands alone")):
        p = jcaptest.run(["-r", store["pcap"]] + args)
        assert p.returncode == 2 and p.stdout == "" and p.stderr == msg + "\n", (args, p.stderr)


def test_summary_of_nothing(tmp_path):
    """No flows: one summary of zeros, the same from a store and a run."""
    sc = pcapgen.Scenario()
    sc.non_ip(0.0)
    f, db = tmp_path / "n.pcap", tmp_path / "n.db"
    sc.write(f)
    assert jcaptest.run(["-r", f, "--store", db, "-q", "--no-progress"]).returncode == 0
    want = {"flows": 0, "packets": 0, "bytes": 0, "first_ns": 0, "last_ns": 0, "first": "",
            "last": "", "protocols": []}
    assert rows(db, "--summary") == [want]
    run = jcaptest.run(["-r", f, "--summary", "-F", "json", "--no-progress"])
    assert [json.loads(x) for x in run.stdout.splitlines()] == [want]
    assert rows(db, "--by", "dst_port") == []
