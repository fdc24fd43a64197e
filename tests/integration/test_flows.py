# SPDX-License-Identifier: BSD-3-Clause
"""jcap end to end against pcapgen's truth: every record of every scenario
compared field by field (worker aside), every skip and expiry counter
compared exactly, conservation checked on every run."""
import csv
import io
import json
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import jcaptest as jt  # noqa: E402
import pcapgen as g  # noqa: E402

C, S = "198.18.0.1", "198.19.0.1"
C6, S6 = "2001:2:0:1::1", "2001:2:0:2::1"


@pytest.fixture(autouse=True)
def _jcap():
    jt.require_jcap()


def timeouts(sc):
    return ["--idle-timeout", str(sc.idle_ns // g.SEC), "--active-timeout",
            str(sc.active_ns // g.SEC)]


def check(tmp_path, sc, *opts, name="s", uniflow=False, exp=None, **write_kw):
    """Write @sc, meter it with jcap and compare everything with the truth."""
    f = tmp_path / (name + (".pcapng" if write_kw.get("fmt") == "pcapng" else ".pcap"))
    sc.write(f, **write_kw)
    if exp is None:
        exp = sc.expected(uniflow=uniflow)
    assert exp.ambiguous == [], "scenario has flows idle at end of file"
    args = timeouts(sc) + (["--uniflow"] if uniflow else []) + list(opts)
    recs, stats = jt.meter(f, *args)
    jt.assert_same_flows(recs, exp.records, name)
    jt.assert_stats(stats, exp)
    return recs, stats, exp


def test_mixed_ipv4_ipv6(tmp_path):
    sc = g.scenario_mixed(seed=11, flows=400)
    recs, stats, exp = check(tmp_path, sc, name="mixed")
    assert exp.skipped["non_ip"] == 3 and exp.skipped["truncated"] == 1
    assert exp.skipped["malformed"] == 1
    assert {r["ip_version"] for r in recs} == {4, 6}
    assert stats["flows_created"] == len(recs)


def test_icmp_type_code(tmp_path):
    sc = g.Scenario()
    sc.ping(0.0, C, S, count=2, ident=1)
    sc.ping(0.1, C6, S6, count=1, ident=2)
    sc.ip(0.2, S, C, 1, icmp_type=3, icmp_code=3, payload=28)  # unreachable
    sc.ip(0.3, "198.18.5.5", S, 1, icmp_type=13, payload=12)  # timestamp request
    recs, _, _ = check(tmp_path, sc, name="icmp")
    # type and code are in the key: the unreachable between the same hosts is
    # its own flow, the echo replies join their requests (ports type << 8 | code)
    assert sorted((r["proto"], r["icmp_type"], r["icmp_code"], r["packets"],
                   r["rev_packets"], r["src_port"], r["dst_port"]) for r in recs) == [
        (1, 3, 3, 1, 0, 0x303, 0x303), (1, 8, 0, 2, 2, 0x800, 0x800),
        (1, 13, 0, 1, 0, 0xd00, 0xd00), (58, 128, 0, 1, 1, 0x8000, 0x8000)]


def test_vlan_and_qinq(tmp_path):
    sc = g.Scenario()
    # the same 5-tuple on four different outer VLANs: four flows
    sc.tcp_session(0.0, C, S, 1000, 80, l2={"vlans": (100,)})
    sc.tcp_session(0.01, C, S, 1000, 80, l2={"vlans": (300, 400), "outer_tpid": g.ETH_QINQ})
    sc.tcp_session(0.02, C, S, 1000, 80, l2={"vlans": (5, 6, 7)})
    sc.tcp_session(0.03, C, S, 1000, 80)
    sc.udp_exchange(0.04, C6, S6, 1000, 53, count=5, l2={"vlans": (4094, 1),
                                                        "outer_tpid": g.ETH_QINQ})
    recs, _, _ = check(tmp_path, sc, name="vlan")
    assert sorted(r["vlan"] for r in recs) == [0, 5, 100, 300, 4094]


def test_mpls_and_pppoe(tmp_path):
    sc = g.Scenario()
    sc.tcp_session(0.0, C, S, 1001, 80, l2={"mpls": (16,)})
    sc.tcp_session(0.01, C, S, 1002, 80, l2={"mpls": (16, 17, 18, 19)})
    sc.udp_exchange(0.02, C6, S6, 1003, 53, l2={"mpls": (1000, 2000)})
    sc.tcp_session(0.03, C, S, 1004, 443, l2={"pppoe": 0x11})
    sc.udp_exchange(0.04, C6, S6, 1005, 53, l2={"pppoe": 0x12})
    sc.tcp_session(0.05, C, S, 1006, 443, l2={"vlans": (77,), "pppoe": 0x13})
    sc.tcp_session(0.06, C, S, 1007, 443, l2={"vlans": (78,), "mpls": (30,)})
    recs, _, _ = check(tmp_path, sc, name="mpls")
    assert len(recs) == 7
    assert sorted(r["vlan"] for r in recs) == [0, 0, 0, 0, 0, 77, 78]


def test_ipv4_options_and_ipv6_extension_headers(tmp_path):
    sc = g.Scenario()
    sc.tcp_session(0.0, C, S, 1001, 80, v4opts=g.ipv4_options_rr(3))
    sc.udp_exchange(0.01, C6, S6, 1002, 53, v6ext=("hop",))
    sc.udp_exchange(0.02, C6, S6, 1003, 53, v6ext=("hop", "routing", "dest"))
    sc.tcp_session(0.03, C6, S6, 1004, 80, v6ext=(("dest", 16),))
    sc.ping(0.04, C6, S6, count=1)
    recs, _, _ = check(tmp_path, sc, name="ext")
    r = [x for x in recs if x["src_port"] == 1003][0]
    assert r["bytes"] == 2 * (40 + 8 + 24 + 8 + 8 + 64)


def test_fragments(tmp_path):
    sc = g.Scenario()
    # IPv4 UDP in order, IPv4 TCP in order (flags only on the first)
    sc.fragments(0.0, C, S, 17, 2000, 53, 4000, 1480, ident=1)
    sc.fragments(0.01, C, S, 6, 2001, 80, 3000, 1200, ident=2, flags=g.PSH | g.ACK)
    # later fragment first: it is unmatched, the rest join the flow
    sc.fragments(0.02, C, S, 17, 2002, 53, 4000, 1480, ident=3, order=(2, 0, 1))
    sc.fragments(0.03, C, S, 17, 2003, 53, 4000, 1480, ident=4, order=(1, 2, 0))
    # IPv6, with and without an unfragmentable hop-by-hop header
    sc.fragments(0.04, C6, S6, 17, 2004, 53, 3000, 1232, ident=5)
    sc.fragments(0.05, C6, S6, 6, 2005, 80, 3000, 1232, ident=6, v6ext=("hop",),
                 flags=g.ACK)
    sc.fragments(0.06, C6, S6, 17, 2006, 53, 3000, 1232, ident=7, order=(1, 0, 2))
    # same ident, different source: independent datagrams
    sc.fragments(0.07, "198.18.0.2", S, 17, 2007, 53, 2000, 1480, ident=1)
    recs, stats, exp = check(tmp_path, sc, name="frag")
    assert exp.skipped["fragment_unmatched"] == 4
    by_port = {r["src_port"]: r for r in recs}
    assert by_port[2000]["packets"] == 3 and by_port[2000]["bytes"] == 1500 * 2 + 20 + 1048
    assert by_port[2001]["tcp_flags"] == g.PSH | g.ACK
    assert by_port[2002]["packets"] == 2 and by_port[2003]["packets"] == 1
    assert by_port[2006]["packets"] == 2


def test_fragment_timeout(tmp_path):
    """A later fragment more than 30 s after its first fragment is not
    given the first one's ports (fragment_unmatched)."""
    sc = g.Scenario(idle_timeout=120)
    a = sc.fragments(0.0, C, S, 17, 2000, 53, 3000, 1480, ident=1, order=(0, 1))
    b = sc.fragments(0.5, C6, S6, 17, 2001, 53, 3000, 1232, ident=2, order=(0, 1))
    late = sc.fragments(0.0, C, S, 17, 2000, 53, 3000, 1480, ident=1, order=(2,))
    late6 = sc.fragments(0.0, C6, S6, 17, 2001, 53, 3000, 1232, ident=2, order=(2,))
    late[0].ts = sc.t(40.0)
    late6[0].ts = sc.t(20.0)  # within 30 s: matched
    sc.ip(41.0, C, S, 17, 2000, 53)  # keeps the flows from idling
    sc.ip(41.0, C6, S6, 17, 2001, 53)
    _, _, exp = check(tmp_path, sc, name="fragtimeout")
    assert exp.skipped["fragment_unmatched"] == 1
    assert len(a) == len(b) == 2


def test_truncated_malformed_non_ip(tmp_path):
    sc = g.Scenario()
    sc.udp_exchange(0.0, C, S, 1, 2, count=2)
    for i, k in enumerate(("ip4", "tcp4", "udp4", "ip6", "tcp6")):
        sc.truncated(0.01 + i * 0.001, k)
    for i, k in enumerate(("ihl", "totlen", "ihl_gt_totlen", "totlen_gt_frame")):
        sc.malformed(0.02 + i * 0.001, k)
    sc.non_ip(0.03, "arp")
    sc.non_ip(0.031, "lldp")
    # a snaplen cut in the payload still meters the whole IP length
    p = sc.ip(0.04, C, S, 6, 3, 4, flags=g.ACK, payload=1000)
    p.cut = 20 + 20 + 10
    _, stats, exp = check(tmp_path, sc, name="bad")
    assert exp.skipped == {"non_ip": 2, "truncated": 5, "malformed": 4, "unsupported_link": 0,
                           "fragment_unmatched": 0, "filtered": 0, "flow_disabled": 0,
                           "sampled_out": 0, "tunnel_too_deep": 0}
    assert stats["packets_in_flows"] == 3 and stats["bytes_in_flows"] == 92 + 102 + 1040


def test_other_protocols_and_tso(tmp_path):
    sc = g.Scenario()
    sc.ip(0.0, C, S, 132, 5000, 36412, payload=b"\x01\x00\x00\x10" + bytes(12))  # SCTP INIT
    sc.ip(0.001, S, C, 132, 36412, 5000, payload=16)
    # GRE carrying WCCP (not a tunnel jcap decapsulates): no ports
    sc.ip(0.002, C, S, 47, payload=b"\x00\x00\x88\x3e" + bytes(40))
    sc.ip(0.003, C6, S6, 50, payload=64)  # ESP
    sc.ip(0.004, S6, C6, 50, payload=64)
    sc.ip(0.005, C6, S6, 59)  # no next header
    # TSO/GSO capture: IPv4 total length 0, the captured bytes count
    sc.ip(0.006, C, S, 6, 7000, 443, flags=g.ACK, payload=3000, total_len=0)
    recs, _, _ = check(tmp_path, sc, name="proto")
    got = sorted((r["proto"], r["src_port"], r["dst_port"], r["packets"], r["rev_packets"],
                  r["bytes"]) for r in recs)
    assert got == [(6, 7000, 443, 1, 0, 3040), (47, 0, 0, 1, 0, 64), (50, 0, 0, 1, 1, 104),
                   (59, 0, 0, 1, 0, 40), (132, 5000, 36412, 1, 1, 48)]


def test_tcp_teardown_and_reuse(tmp_path):
    sc = g.Scenario()
    sc.tcp_session(0.0, C, S, 1000, 80, close="fin")  # one record, "end"
    sc.tcp_session(0.1, C, S, 1001, 80, close="fin_noack")  # "end" too
    sc.tcp_session(0.2, C, S, 1002, 80, close="rst")
    sc.ip(0.25, S, C, 6, 80, 1002, flags=g.RST)  # late RST joins it
    sc.tcp_session(0.3, C, S, 1002, 80, close="fin")  # SYN reuses the 5-tuple
    sc.tcp_session(0.5, C, S, 1003, 80, close="fin")
    sc.ip(6.0, C, S, 6, 1003, 80, flags=g.ACK)  # > close timeout later: new flow
    sc.tcp_session(0.6, C, S, 1004, 80, close=None)  # open at the end
    sc.ip(0.7, S, C, 6, 80, 1005, flags=g.SYN | g.ACK)  # SYN-ACK first: src = client
    sc.ip(0.71, C, S, 6, 1005, 80, flags=g.ACK)
    sc.ip(0.8, S, C, 6, 81, 1006, flags=g.ACK)  # mid-stream, then a SYN from C
    sc.ip(0.81, C, S, 6, 1006, 81, flags=g.SYN)
    recs, _, exp = check(tmp_path, sc, name="tcp")
    got = sorted((r["src_port"] if r["src_ip"] == C else r["dst_port"], r["end_reason"],
                  r["packets"], r["rev_packets"], r["src_ip"]) for r in recs)
    assert got == [
        (1000, "end", 6, 4, C), (1001, "end", 5, 4, C), (1002, "end", 5, 4, C),
        (1002, "end", 6, 4, C), (1003, "end", 6, 4, C), (1003, "shutdown", 1, 0, C),
        (1004, "shutdown", 4, 3, C), (1005, "shutdown", 1, 1, C), (1006, "shutdown", 1, 1, C)]
    assert exp.expired["end"] == 5


@pytest.mark.parametrize("workers", [1, 2])
def test_idle_timeout(tmp_path, workers):
    sc = g.Scenario(idle_timeout=2)
    for k in range(20):
        cl, o = "198.18.1.%d" % (k + 1), k * 0.01
        sc.udp_exchange(0.0 + o, cl, S, 5000, 53, count=3, gap=0.5)  # 0 .. 1.0
        sc.udp_exchange(4.0 + o, cl, S, 5000, 53, count=2, gap=0.5)  # 3 s later: new
        sc.tcp_session(0.2 + o, cl, S, 6000, 80, close=None, gap=0.2)  # .. 1.4
        sc.ip(4.6 + o, cl, S, 6, 6000, 80, flags=g.ACK)  # 3.2 s later: new
        sc.tcp_session(1.6 + o, cl, S, 6001, 80, close=None, gap=0.2)  # .. 2.8
        sc.ip(4.6 + o, cl, S, 6, 6001, 80, flags=g.ACK)  # 1.8 s later: same
    recs, stats, exp = check(tmp_path, sc, "--workers", str(workers), name="idle")
    assert exp.expired["idle"] == 40 and exp.expired["shutdown"] == 60
    assert sorted({(r["proto"], r["packets"] + r["rev_packets"]) for r in recs}) == [
        (6, 1), (6, 7), (6, 8), (17, 2), (17, 3)]


@pytest.mark.parametrize("workers", [1, 2])
def test_active_timeout(tmp_path, workers):
    sc = g.Scenario(idle_timeout=30, active_timeout=3)
    for k in range(10):
        cl = "198.18.2.%d" % (k + 1)
        for i in range(15):  # every 0.7 s: 0 .. 9.8 -> splits at 3.5, 7.0
            if i % 3 == 2:
                sc.ip(k * 0.001 + i * 0.7, S, cl, 17, 53, 7000)
            else:
                sc.ip(k * 0.001 + i * 0.7, cl, S, 17, 7000, 53)
    recs, stats, exp = check(tmp_path, sc, "--workers", str(workers), name="active")
    assert exp.expired["active"] == 20 and exp.expired["shutdown"] == 10
    assert {r["packets"] + r["rev_packets"] for r in recs} == {5}


@pytest.mark.parametrize("workers", [1, 2])
def test_table_full_eviction(tmp_path, workers):
    sc = g.scenario_many(flows=10000, rounds=3)
    f = tmp_path / "many.pcap"
    sc.write(f)
    exp = sc.expected()
    recs, stats = jt.meter(f, "--table-size", "4096", "--workers", str(workers))
    assert stats["expired"]["evicted"] > 0
    assert any(r["end_reason"] == "evicted" for r in recs)
    assert stats["packets_read"] == 30000 and stats["packets_in_flows"] == 30000
    # per 5-tuple and direction, the records add up to the truth exactly
    assert jt.sums_by_tuple(recs) == jt.sums_by_tuple(exp.records)
    assert len(jt.sums_by_tuple(recs)) == 10000


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_workers_give_identical_records(tmp_path, workers):
    sc = g.scenario_mixed(seed=3, flows=600)
    sc.fragments(9.0, C, S, 17, 2000, 53, 4000, 1480, ident=9, order=(1, 0, 2))
    sc.fragments(9.1, C6, S6, 17, 2000, 53, 3000, 1232, ident=9)
    sc.tcp_session(9.2, C, S, 1000, 80, l2={"vlans": (10, 20), "outer_tpid": g.ETH_QINQ})
    recs, stats, _ = check(tmp_path, sc, "--workers", str(workers), name="w%d" % workers)
    assert stats["workers"] == workers
    assert {r["worker"] for r in recs} <= set(range(workers))


def test_uniflow(tmp_path):
    sc = g.Scenario()
    sc.udp_exchange(0.0, C, S, 1000, 53, count=5)
    sc.udp_exchange(0.01, C6, S6, 1001, 53, count=3, one_way=True)
    sc.ping(0.02, C, S, count=2)
    sc.tcp_session(0.03, C, S, 1002, 80, close="rst")
    sc.tcp_session(0.04, C, S, 1003, 80, close=None)
    recs, _, exp = check(tmp_path, sc, name="uni", uniflow=True)
    assert all(r["rev_packets"] == 0 and r["rev_bytes"] == 0 and r["rev_tcp_flags"] == 0
               for r in recs)
    assert len(recs) == 9


def test_uniflow_fin(tmp_path):
    """Uniflow: a direction that sent its FIN is closing, and ends "end"."""
    sc = g.Scenario()
    sc.tcp_session(0.0, C, S, 1000, 80, close="fin")
    recs, _, _ = check(tmp_path, sc, name="unifin", uniflow=True)
    assert sorted((r["src_ip"], r["packets"], r["end_reason"]) for r in recs) == [
        (C, 6, "end"), (S, 4, "end")]


def test_filter(tmp_path):
    sc = g.Scenario()
    for k in range(30):
        cl = "198.18.3.%d" % (k + 1)
        sc.tcp_session(k * 0.01, cl, S, 3000 + k, 80 if k % 3 else 443, close="fin")
        sc.udp_exchange(k * 0.01 + 0.005, cl, S, 3000 + k, 80, count=2)
    sc.ping(0.5, C, S)
    sc.non_ip(0.6, "arp")
    f = tmp_path / "filt.pcap"
    sc.write(f)

    def is_tcp80(p):
        return p.key is not None and p.key[1] == 6 and 80 in (p.key[3], p.key[5])
    exp = sc.expected(packet_filter=is_tcp80)
    recs, stats = jt.meter(f, "--filter", "tcp port 80")
    jt.assert_same_flows(recs, exp.records, "filter")
    jt.assert_stats(stats, exp)
    assert len(recs) == 20 and stats["skipped"]["filtered"] == len(sc.pkts) - 20 * 10


def test_filter_on_link_layer(tmp_path):
    """The BPF program sees the frame as captured: 'vlan 100' keeps exactly
    the flows tagged 100 (outer tag)."""
    sc = g.Scenario()
    for k in range(10):
        vl = {"vlans": (100,)} if k % 2 else {"vlans": (200, 100)} if k % 3 else {}
        sc.tcp_session(k * 0.01, "198.18.6.%d" % (k + 1), S, 1000 + k, 80, l2=vl)
    f = tmp_path / "vf.pcap"
    sc.write(f)

    def outer100(p):
        return bool(p.l2) and p.l2["vlans"][0] == 100
    exp = sc.expected(packet_filter=outer100)
    recs, stats = jt.meter(f, "--filter", "vlan 100")
    jt.assert_same_flows(recs, exp.records, "vlan filter")
    jt.assert_stats(stats, exp)
    assert len(recs) == 5 and {r["vlan"] for r in recs} == {100}


def unsupported_pkts_scenario():
    sc = g.Scenario(seed=2)
    for k in range(40):
        cl = "198.18.4.%d" % (k + 1)
        sc.tcp_session(k * 0.003, cl, S, 4000 + k, 443, close=["fin", "rst", None][k % 3])
        sc.udp_exchange(k * 0.003 + 0.001, C6, S6, 4000 + k, 53, count=k % 4 + 1)
    sc.fragments(0.2, C, S, 17, 9, 53, 3000, 1480, ident=3)
    sc.ping(0.3, C6, S6)
    sc.truncated(0.31, "tcp4")
    sc.malformed(0.32, "totlen")
    return sc


VARIANTS = [
    dict(fmt="pcap", link="eth"),
    dict(fmt="pcap", link="eth", nano=True, big_endian=True),
    dict(fmt="pcap", link="sll"),
    dict(fmt="pcap", link="sll2", big_endian=True),
    dict(fmt="pcap", link="raw", nano=True),
    dict(fmt="pcap", link="null"),
    dict(fmt="pcap", link="null", big_endian=True, af6=30),
    dict(fmt="pcap", link="null", af6=28),
    dict(fmt="pcap", link="null", big_endian=True, af6=10),
    dict(fmt="pcapng", link="eth"),
    dict(fmt="pcapng", link="sll", tsresol=9, big_endian=True),
    dict(fmt="pcapng", interfaces=[("eth", 6), ("sll2", 9), ("raw", None), ("null", 9)],
         iface_of=lambda p: p.seq % 4),
    dict(fmt="pcapng", link="eth", extras=True),
    dict(fmt="pcapng", link="sll", extras=True, big_endian=True, tsresol=9),
]


def test_every_format_gives_identical_flows(tmp_path):
    sc = unsupported_pkts_scenario()
    exp = sc.expected()
    ref = None
    for i, v in enumerate(VARIANTS):
        # the pcapng interface is in the flow key: several interfaces, other flows
        several = "iface_of" in v
        e = sc.expected(iface_of=v["iface_of"]) if several else exp
        recs, _, _ = check(tmp_path, sc, name="v%d" % i, exp=e, **v)
        if several:
            continue
        if ref is None:
            ref = sorted(jt.norm(r) for r in recs)
        assert sorted(jt.norm(r) for r in recs) == ref, v


def test_pcapng_several_sections(tmp_path):
    """Two sections back to back (the second big-endian, other interfaces):
    the same flows as one classic file."""
    sc = unsupported_pkts_scenario()
    recs_all = sc.records(["eth", "sll2"], iface_of=lambda p: p.seq % 2)
    half = len(recs_all) // 2
    img = g.pcapng_bytes(recs_all[:half], [(1, 6), (276, 9)]) + \
        g.pcapng_bytes(recs_all[half:], [(1, 9), (276, None)], big_endian=True)
    f = tmp_path / "sections.pcapng"
    f.write_bytes(img)
    exp = sc.expected(iface_of=lambda p: p.seq % 2)  # interface ids restart per section
    recs, stats = jt.meter(f)
    jt.assert_same_flows(recs, exp.records, "sections")
    jt.assert_stats(stats, exp)


def test_timestamp_resolutions(tmp_path):
    """Nanosecond times survive pcap-ns and pcapng if_tsresol 9 exactly;
    millisecond times survive if_tsresol 3."""
    sc = g.Scenario(ns=True)
    sc.ip(0.000000001, C, S, 17, 1, 2)
    sc.ip(0.123456789, S, C, 17, 2, 1)
    sc.tcp_session(0.2000000007, C6, S6, 3, 4, gap=0.000000333, close="rst")
    exp = sc.expected()
    assert exp.records[0]["last_ns"] - exp.records[0]["first_ns"] == 123456788
    check(tmp_path, sc, name="ns", nano=True)
    check(tmp_path, sc, name="ns_be", nano=True, big_endian=True)
    check(tmp_path, sc, name="ng9", fmt="pcapng", tsresol=9)
    ms = g.Scenario()
    ms.udp_exchange(0.001, C, S, 5, 6, count=4, gap=0.002)
    ms.udp_exchange(0.5, C6, S6, 5, 6, count=3, gap=0.25)
    check(tmp_path, ms, name="ng3", fmt="pcapng", tsresol=3)


def test_unsupported_link_type(tmp_path):
    """Packets of an interface with a link type jcap does not decode (147,
    USER0) are counted unsupported_link; the others are metered."""
    sc = unsupported_pkts_scenario()
    exp = sc.expected(unsupported=lambda p: p.seq % 2 == 1)
    check(tmp_path, sc, name="unsup", exp=exp, fmt="pcapng",
          interfaces=[("eth", 6), (147, 6)], iface_of=lambda p: p.seq % 2)
    assert exp.skipped["unsupported_link"] > 100
    # a classic pcap of that link type: every packet
    sc2 = g.Scenario()
    sc2.udp_exchange(0.0, C, S, 1, 2, count=4)
    f = tmp_path / "u147.pcap"
    with open(f, "wb") as fh:
        fh.write(g.pcap_bytes(sc2.records("eth"), 147))
    recs, stats = jt.meter(f)
    assert recs == [] and stats["skipped"]["unsupported_link"] == 4


def test_json_field_names(tmp_path):
    sc = g.Scenario()
    sc.tcp_session(0.0, C, S, 1000, 80)
    f = tmp_path / "j.pcap"
    sc.write(f)
    p = jt.run(["-r", f, "-F", "json", "--stats", "--no-progress", "--inspect", "none"])
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 1
    rec = json.loads(lines[0])
    # the record's fields, then the link and path identity that applies to a
    # TCP session over Ethernet without tunnel, inner VLAN or MPLS
    assert list(rec.keys()) == list(jt.FLOW_FIELDS) + [
        "community_id", "interface", "src_mac", "dst_mac", "tos", "dscp", "min_ttl", "max_ttl",
        "rev_tos", "rev_dscp", "rev_min_ttl", "rev_max_ttl", "payload_bytes",
        "rev_payload_bytes"]
    assert rec["community_id"] == jt.community_id(rec)
    assert rec["end_reason"] == "end" and rec["src_ip"] == C and rec["worker"] == 0
    for k in jt.FLOW_FIELDS:
        assert isinstance(rec[k], str if k in ("src_ip", "dst_ip", "end_reason") else int), k
    st = jt.parse_stats(p.stderr)
    assert set(jt.STATS_FIELDS) <= set(st.keys())
    assert list(st["skipped"].keys()) == list(jt.SKIP_FIELDS)
    assert list(st["expired"].keys()) == list(jt.EXPIRED_FIELDS)
    # without -F and with stdout not a terminal: JSON lines too
    p2 = jt.run(["-r", f, "--no-progress", "--inspect", "none"])
    assert p2.returncode == 0 and json.loads(p2.stdout.splitlines()[0]) == rec
    # -w FILE writes the same lines there
    out = tmp_path / "flows.json"
    p3 = jt.run(["-r", f, "-F", "json", "-w", out, "--no-progress", "--inspect", "none"])
    assert p3.returncode == 0 and p3.stdout == ""
    assert json.loads(out.read_text().splitlines()[0]) == rec


PROTO_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 58: "icmp6", 132: "sctp"}
TABLE_RIGHT = ("DURATION", "VLAN", "PKTS", "BYTES", "REV_PKTS", "REV_BYTES")


def table_units(v):
    """K/M/G (powers of 1000, one decimal) from 100000 up, else exact."""
    if v < 100000:
        return str(v)
    d, u = v / 1000.0, 0
    while d >= 999.95 and u < 5:
        d, u = d / 1000.0, u + 1
    return "%.1f%s" % (d, "KMGTPE"[u])


def table_text(recs):
    """The -F table text for @recs without a width limit (not a terminal,
    no COLUMNS), as jcap's man page documents the columns: local start time
    with ms, duration, protocol name, endpoints (port, ICMP type.code on the
    destination, IPv6 in brackets), TCP flags as nfdump's letters (both
    directions), VLAN when a flow has one, packets and bytes of both
    directions then of dst -> src (units from 100000 up), end reason;
    largest bytes first (forward + reverse), equal ones oldest first."""
    def ep(r, side):
        a = r[side + "_ip"]
        if r["proto"] in (6, 17, 132, 33, 136):
            return ("[%s]:%d" if r["ip_version"] == 6 else "%s:%d") % (a, r[side + "_port"])
        if r["proto"] in (1, 58) and side == "dst":
            return ("[%s]:%d.%d" if r["ip_version"] == 6 else "%s:%d.%d") % (
                a, r["icmp_type"], r["icmp_code"])
        return a

    def start(ns):
        t = time.localtime(ns // 10**9)
        return time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".%03d" % (ns // 10**6 % 1000)

    def flags(r):
        f = r["tcp_flags"] | r["rev_tcp_flags"]
        return "".join(c if f & (0x80 >> i) else "." for i, c in enumerate("CEUAPRSF"))

    order = sorted(recs, key=lambda r: (-(r["bytes"] + r["rev_bytes"]), r["first_ns"]))
    keys = [(r["bytes"] + r["rev_bytes"], r["first_ns"]) for r in order]
    assert len(set(keys)) == len(keys), "ties: the table order would be open"
    vlan = any(r["vlan"] for r in recs)
    tcp = any(r["proto"] == 6 for r in recs)
    heads = ["START", "DURATION", "PROTO", "SRC", "DST"] + (["FLAGS"] if tcp else []) + \
        (["VLAN"] if vlan else []) + ["PKTS", "BYTES", "REV_PKTS", "REV_BYTES", "END"]
    rows = [heads]
    for r in order:
        rows.append([start(r["first_ns"]), "%.3fs" % ((r["last_ns"] - r["first_ns"]) / 1e9),
                     PROTO_NAMES.get(r["proto"], str(r["proto"])), ep(r, "src"), ep(r, "dst")] +
                    ([flags(r) if r["proto"] == 6 else ""] if tcp else []) +
                    ([str(r["vlan"])] if vlan else []) +
                    [table_units(r["packets"] + r["rev_packets"]),
                     table_units(r["bytes"] + r["rev_bytes"]), table_units(r["rev_packets"]),
                     table_units(r["rev_bytes"]), r["end_reason"]])
    w = [max(len(row[c]) for row in rows) for c in range(len(heads))]
    lines = []
    for row in rows:
        cells = [(row[c].rjust(w[c]) if heads[c] in TABLE_RIGHT else row[c].ljust(w[c]))
                 for c in range(len(heads) - 1)]
        lines.append(" ".join(cells + [row[-1]]))
    return "\n".join(lines) + "\n"


def test_table_rows_exact(tmp_path):
    """Every protocol name, an IPv6 endpoint, a VLAN, each end reason: the
    table is exactly the truth's rows."""
    sc = g.Scenario(idle_timeout=5)
    sc.udp_exchange(0.0, "198.18.0.78", S, 6000, 123, count=1)
    sc.udp_exchange(6.0, "198.18.0.78", S, 6000, 123, count=2, size=99)  # 6 s later: idle
    sc.tcp_session(6.0, C, S, 40001, 443, data=3, close="fin", size=300)
    sc.tcp_session(6.1, C6, S6, 40002, 80, data=1, close="rst", l2={"vlans": (42,)})
    sc.udp_exchange(6.2, "198.18.0.77", S, 5353, 53, count=3, gap=0.25)
    sc.ping(6.3, C, S, count=2, gap=0.5, ident=9)
    sc.ping(6.4, C6, S6, count=1, ident=10)
    sc.ip(6.5, C, S, 132, 5000, 36412, payload=b"\x01\x00\x00\x10" + bytes(12))
    sc.ip(6.6, C, S, 47, payload=b"\x00\x00\x88\x3e" + bytes(40))  # GRE/WCCP
    f = tmp_path / "t.pcap"
    sc.write(f)
    exp = sc.expected()
    assert exp.ambiguous == []
    assert {r["end_reason"] for r in exp.records} == {"end", "idle", "shutdown"}
    p = jt.run(["-r", f, "-F", "table", "--idle-timeout", "5", "--no-progress", "--inspect",
                "none"])
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    assert p.stdout == table_text(exp.records)


def test_csv_and_table(tmp_path):
    sc = g.scenario_mixed(seed=4, flows=50)
    f = tmp_path / "c.pcap"
    sc.write(f)
    exp = sc.expected()
    p = jt.run(["-r", f, "-F", "csv", "--no-progress"])
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    assert len(rows) == len(exp.records)
    names = list(jt.FLOW_FIELDS) + list(jt.CSV_PATH_FIELDS) + list(jt.L7_FIELDS)
    assert list(rows[0].keys()) == names
    conv = [{k: (v if k in ("src_ip", "dst_ip", "end_reason") else int(v))
             for k, v in row.items() if k in jt.FLOW_FIELDS} for row in rows]
    jt.assert_same_flows(conv, exp.records, "csv")
    # the path columns: those JSON has, empty where JSON leaves a field out
    got = {jt.flow_key(c): row for c, row in zip(conv, rows)}
    for e in exp.records:
        row = got[jt.flow_key(e)]
        assert row["community_id"] == jt.community_id(e)
        for k in ("interface", "src_mac", "dst_mac", "vlan_inner", "tunnel_type", "tos",
                  "dscp", "rev_tos", "rev_dscp", "min_ttl", "max_ttl", "rev_min_ttl",
                  "rev_max_ttl"):
            assert row[k] == str(e.get(k, "")), (k, row, e)
        assert row["mpls_labels"] == "/".join(str(x) for x in e.get("mpls_labels", []))
    t = jt.run(["-r", f, "-F", "table", "--no-progress", "--inspect", "none"])
    assert t.returncode == 0, t.stderr
    assert t.stdout == table_text(exp.records)


@pytest.mark.parametrize("key", ["bytes", "packets", "duration"])
def test_top_and_sort(tmp_path, key):
    sc = g.scenario_mixed(seed=6, flows=120)
    f = tmp_path / "t.pcap"
    sc.write(f)
    allrecs, _ = jt.meter(f)

    def metric(r):
        if key == "bytes":
            return r["bytes"] + r["rev_bytes"]
        if key == "packets":
            return r["packets"] + r["rev_packets"]
        return r["last_ns"] - r["first_ns"]
    p = jt.run(["-r", f, "-F", "json", "--top", "10", "--sort", key, "--no-progress"])
    assert p.returncode == 0, p.stderr
    top = jt.parse_lines(p.stdout)
    assert len(top) == 10
    vals = [metric(r) for r in top]
    assert vals == sorted(vals, reverse=True)
    want = sorted((metric(r) for r in allrecs), reverse=True)[:10]
    assert vals == want
    assert all(jt.norm(r) in {jt.norm(a) for a in allrecs} for r in top)


def test_many_flows_exact(tmp_path):
    """20000 flows open at once over 100000 packets (TCP handshakes and UDP,
    both directions, default table): every record equals the truth."""
    sc = g.scenario_many(flows=20000, rounds=5)
    f = tmp_path / "many20k.pcap"
    sc.write(f)
    exp = sc.expected()
    assert exp.ambiguous == []
    recs, stats = jt.meter(f)
    assert stats["packets_read"] == 100000 == stats["packets_in_flows"]
    assert len(recs) == 20000
    jt.assert_same_flows(recs, exp.records, "20000 flows")
    jt.assert_stats(stats, exp)
