# SPDX-License-Identifier: BSD-3-Clause
"""integration.record_fields: the link and path identity of flow records
(issue 11) end to end: MACs, TOS and TTL ranges per direction, the interface
in the key, ICMP type/code in the key, tunnels, Community ID (and its seed),
the SQLite store's columns, its schema upgrade and `jcap query --community-id
/--tunnel-id/--mac`. Inputs come from tests/tools/pcapgen.py with exact truth."""
import json
import os
import sqlite3
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import jcaptest as jt  # noqa: E402
import pcapgen as g  # noqa: E402
import tunnelgen as tg  # noqa: E402

C, S = "198.18.0.1", "198.19.0.1"
C6, S6 = "2001:2:0:1::1", "2001:2:0:2::1"
MAC_C, MAC_S, MAC_R = b"\x02\x00\x5e\x00\x00\x0c", b"\x02\x00\x5e\x00\x00\x05", \
    b"\x02\x00\x5e\x00\x00\x0f"


def same_records(got, exp, seed=0):
    """Every field of every record, as the truth has it; community_id as an
    independent implementation of the spec computes it."""
    by = {jt.flow_key(r): r for r in got}
    assert len(by) == len(got) == len(exp), (len(got), len(exp))
    for e in exp:
        r = dict(by[jt.flow_key(e)])
        assert r.pop("community_id") == jt.community_id(e, seed), e
        r.pop("worker")
        for k in jt.L7_FIELDS:  # issue 12's fields: integration.app_outputs
            r.pop(k, None)
        assert r == e


def link_scenario():
    sc = g.Scenario()
    # client -> router MAC first, server replies from its own MAC; TTLs vary
    fwd = {"src_mac": MAC_C, "dst_mac": MAC_R}
    rev = {"src_mac": MAC_S, "dst_mac": MAC_C}
    sc.ip(0.0, C, S, 6, 40000, 443, flags=g.SYN, l2=fwd, ttl=64, tos=0xb8)
    sc.ip(0.001, S, C, 6, 443, 40000, flags=g.SYN | g.ACK, l2=rev, ttl=57, tos=0x2e)
    sc.ip(0.002, C, S, 6, 40000, 443, flags=g.ACK, l2=fwd, ttl=61, tos=0)
    sc.ip(0.003, S, C, 6, 443, 40000, flags=g.ACK, l2=rev, ttl=59, tos=0)
    # IPv6 UDP with a QinQ stack (inner VLAN 7) and hop limits 3 and 250
    qinq = {"vlans": (100, 7), "outer_tpid": g.ETH_QINQ}
    sc.ip(0.01, C6, S6, 17, 5000, 53, l2=qinq, ttl=3, tos=0x01)
    sc.ip(0.02, C6, S6, 17, 5000, 53, l2=qinq, ttl=250)
    # echo and an unreachable between the same two hosts: two flows
    sc.ping(0.1, C, S, count=2, ident=1)
    sc.ip(0.2, S, C, 1, icmp_type=3, icmp_code=1, payload=28)
    return sc


def test_macs_tos_ttl_icmp_exact(tmp_path):
    sc = link_scenario()
    f = tmp_path / "link.pcap"
    sc.write(f)
    exp = sc.expected()
    recs, _ = jt.meter(f)
    same_records(recs, exp.records)
    tcp = [r for r in recs if r["proto"] == 6][0]
    assert (tcp["src_mac"], tcp["dst_mac"]) == ("02:00:5e:00:00:0c", "02:00:5e:00:00:0f")
    assert (tcp["tos"], tcp["dscp"], tcp["rev_tos"], tcp["rev_dscp"]) == (0xb8, 46, 0x2e, 11)
    assert (tcp["min_ttl"], tcp["max_ttl"], tcp["rev_min_ttl"], tcp["rev_max_ttl"]) == \
        (61, 64, 57, 59)
    udp = [r for r in recs if r["proto"] == 17][0]
    assert (udp["vlan"], udp["vlan_inner"], udp["min_ttl"], udp["max_ttl"]) == (100, 7, 3, 250)
    assert "rev_tos" not in udp and "tunnel_type" not in udp and "mpls_labels" not in udp
    icmp = sorted((r["icmp_type"], r["icmp_code"], r["packets"], r["rev_packets"])
                  for r in recs if r["proto"] == 1)
    assert icmp == [(3, 1, 1, 0), (8, 0, 2, 2)]
    # another seed: every ID changes, each still the spec's
    recs5, _ = jt.meter(f, "--community-id-seed", "5")
    same_records(recs5, exp.records, seed=5)
    assert {r["community_id"] for r in recs5}.isdisjoint({r["community_id"] for r in recs})


def test_raw_ip_has_no_macs(tmp_path):
    sc = g.Scenario()
    sc.udp_exchange(0.0, C, S, 7000, 53, count=2)
    f = tmp_path / "raw.pcap"
    sc.write(f, link="raw")
    exp = sc.expected(link="raw")
    recs, _ = jt.meter(f)
    same_records(recs, exp.records)
    assert "src_mac" not in recs[0] and "dst_mac" not in recs[0]


def test_interface_is_in_the_key(tmp_path):
    """The same 5-tuple on two pcapng interfaces is two flows, each with its
    interface id."""
    sc = g.Scenario()
    sc.udp_exchange(0.0, C, S, 6000, 123, count=2)
    sc.udp_exchange(0.0005, C, S, 6000, 123, count=2)
    f = tmp_path / "two.pcapng"

    def iface_of(p):
        return 1 if p.ts >= sc.t(0.0005) and p.seq % 2 == 0 else 0
    sc.write(f, fmt="pcapng", interfaces=[("eth", None), ("eth", None)], iface_of=iface_of)
    exp = sc.expected(iface_of=iface_of)
    recs, _ = jt.meter(f)
    assert sorted(r["interface"] for r in recs) == sorted(r["interface"] for r in exp.records)
    assert {r["interface"] for r in recs} == {0, 1}
    same_records(recs, exp.records)


def tunnel_scenario():
    sc = g.Scenario()
    # two tenants, the same inner 5-tuple, VNIs 100 and 200
    with sc.tunnel(tg.Tunnel("vxlan", "203.0.113.1", "203.0.113.2", id=100)):
        sc.tcp_session(0.0, C, S, 1000, 80)
    with sc.tunnel(tg.Tunnel("vxlan", "203.0.113.1", "203.0.113.2", id=200)):
        sc.tcp_session(0.0001, C, S, 1000, 80)
    # GTP-U: one biflow, a TEID each way
    with sc.tunnel(tg.Tunnel("gtpu", "203.0.113.9", "203.0.113.10", teid=(0x1001, 0x2002))):
        sc.udp_exchange(0.01, C6, S6, 4000, 53, count=2)
    return sc


def test_tunnel_fields(tmp_path):
    sc = tunnel_scenario()
    f = tmp_path / "tun.pcap"
    sc.write(f)
    exp = sc.expected()
    recs, _ = jt.meter(f)
    same_records(recs, exp.records)
    vx = sorted((r["tunnel_type"], r["tunnel_id"], r["outer_src_ip"], r["outer_dst_ip"])
                for r in recs if r["proto"] == 6)
    assert vx == [("vxlan", 100, "203.0.113.1", "203.0.113.2"),
                  ("vxlan", 200, "203.0.113.1", "203.0.113.2")]
    gt = [r for r in recs if r["proto"] == 17][0]
    assert (gt["tunnel_type"], gt["tunnel_id"], gt["rev_tunnel_id"]) == ("gtpu", 0x1001, 0x2002)
    # identical inner tuples: the same Community ID (the spec has no tunnel in it)
    assert len({r["community_id"] for r in recs if r["proto"] == 6}) == 1


V1_SCHEMA = """CREATE TABLE flows (id INTEGER PRIMARY KEY, ip_version INTEGER NOT NULL,
 src_ip BLOB NOT NULL, dst_ip BLOB NOT NULL, src_port INTEGER NOT NULL,
 dst_port INTEGER NOT NULL, proto INTEGER NOT NULL, vlan INTEGER NOT NULL,
 packets INTEGER NOT NULL, bytes INTEGER NOT NULL, rev_packets INTEGER NOT NULL,
 rev_bytes INTEGER NOT NULL, tcp_flags INTEGER NOT NULL, rev_tcp_flags INTEGER NOT NULL,
 icmp_type INTEGER NOT NULL, icmp_code INTEGER NOT NULL, end_reason INTEGER NOT NULL,
 worker INTEGER NOT NULL, first_ns INTEGER NOT NULL, last_ns INTEGER NOT NULL,
 rev_first_ns INTEGER NOT NULL, rev_last_ns INTEGER NOT NULL, fwd_first_ns INTEGER NOT NULL,
 fwd_last_ns INTEGER NOT NULL);
PRAGMA application_id = %d; PRAGMA user_version = 1;""" % 0x6a636170  # "jcap"


def query(db, *args):
    p = jt.run(["query", db, "-F", "json"] + list(args))
    return p.returncode, jt.parse_lines(p.stdout) if p.returncode == 0 else p.stderr


def test_store_columns_and_query(tmp_path):
    sc = tunnel_scenario()
    sc.ip(0.5, C, S, 17, 9, 9, l2={"src_mac": MAC_C, "dst_mac": MAC_R}, ttl=33)
    f = tmp_path / "tun.pcap"
    sc.write(f)
    exp = sc.expected()
    db = tmp_path / "flows.db"
    recs, _ = jt.meter(f, "--store", db)
    # every field survives the store: jcap query prints the same records
    rc, stored = query(db)
    assert rc == 0, stored
    same_records(stored, exp.records)
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 3
    idx = {r[0] for r in con.execute("SELECT name FROM sqlite_schema WHERE type = 'index'")}
    assert {"flows_community_id", "flows_tunnel_id", "flows_src_mac", "flows_dst_mac"} <= idx
    rows = con.execute("SELECT tunnel_type, tunnel_id, rev_tunnel_id, hex(src_mac), "
                       "hex(outer_src_ip), min_ttl, community_id FROM flows "
                       "WHERE proto = 17 AND tunnel_type = 7").fetchall()
    gt = [r for r in recs if r["proto"] == 17 and r.get("tunnel_type") == "gtpu"][0]
    assert rows == [(7, 0x1001, 0x2002, "020000000001", "00000000000000000000FFFFCB007109", 64,
                     gt["community_id"])]
    plain = con.execute("SELECT tunnel_type, tunnel_id, outer_src_ip, mpls_labels, "
                        "hex(src_mac), hex(dst_mac), min_ttl FROM flows "
                        "WHERE src_port = 9").fetchall()
    assert plain == [(0, None, None, None, "02005E00000C", "02005E00000F", 33)]
    con.close()
    # the filters: a Community ID, a tunnel id (either direction), a MAC
    vx100 = [r for r in recs if r.get("tunnel_id") == 100][0]
    rc, got = query(db, "--community-id", vx100["community_id"])
    assert rc == 0 and sorted(r["tunnel_id"] for r in got) == [100, 200]
    rc, got = query(db, "--tunnel-id", "100")
    assert rc == 0 and [(r["tunnel_id"], r["proto"]) for r in got] == [(100, 6)]
    rc, got = query(db, "--tunnel-id", str(0x2002))
    assert rc == 0 and [r["rev_tunnel_id"] for r in got] == [0x2002]
    rc, got = query(db, "--mac", "02:00:5E:00:00:0F")
    assert rc == 0 and [r["src_port"] for r in got] == [9]
    rc, got = query(db, "--mac", "02:00:5e:00:00:0f", "--tunnel-id", "100")
    assert rc == 0 and got == []
    rc, err = query(db, "--mac", "02:00:5e:00:00")
    assert rc == 2 and "jcap: query: '02:00:5e:00:00' is not a MAC address" in err, err


def test_store_schema_v1_upgrade(tmp_path):
    db = tmp_path / "old.db"
    con = sqlite3.connect(db)
    con.executescript(V1_SCHEMA)
    con.execute("INSERT INTO flows VALUES (1, 4, ?, ?, 1, 2, 17, 0, 1, 60, 0, 0, 0, 0, 0, 0, "
                "4, 0, 10, 10, 0, 0, 10, 10)",
                (bytes(10) + b"\xff\xff\xc6\x12\x00\x01", bytes(10) + b"\xff\xff\xc6\x13\x00\x01"))
    con.commit()
    con.close()
    rc, err = query(db)
    assert rc == 1
    assert "flow store schema version 1, this build reads 3: store flows into it once" in err
    sc = g.Scenario()
    sc.udp_exchange(0.0, C, S, 7000, 53, count=2)
    f = tmp_path / "u.pcap"
    sc.write(f)
    jt.meter(f, "--store", db)
    rc, got = query(db)
    assert rc == 0 and len(got) == 2
    old = [r for r in got if r["src_port"] == 1][0]
    assert old["interface"] == 0 and "src_mac" not in old and old["bytes"] == 60
    assert old["community_id"] == jt.community_id(old)
    new = [r for r in got if r["src_port"] == 7000][0]
    assert new["src_mac"] == "02:00:00:00:00:01" and new["min_ttl"] == 64
    assert json.dumps(new)  # plain JSON values only
