# SPDX-License-Identifier: BSD-3-Clause
"""pcapgen itself: its files parse with tshark to exactly the packets and
fields it meant to write, in every format and link type; it is
deterministic; and its expected-flow model gives the stated records."""
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import pcapgen as g  # noqa: E402

TSHARK = shutil.which("tshark")
need_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark not installed")

C, S = "198.18.0.1", "198.19.0.1"
C6, S6 = "2001:2:0:1::1", "2001:2:0:2::1"


def tshark(path, *fields, opts=()):
    cmd = [TSHARK, "-n", "-r", str(path), "-o", "ip.defragment:FALSE",
           "-o", "ipv6.defragment:FALSE", "-o", "tcp.check_checksum:TRUE",
           "-o", "udp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
           "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,"]
    cmd += list(opts)
    for f in fields:
        cmd += ["-e", f]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return [line.split("|") for line in p.stdout.splitlines()]


def basic_scenario():
    """IPv4 + IPv6, TCP/UDP/ICMP, plus one ARP frame; no L2 extras."""
    sc = g.Scenario(seed=5)
    sc.tcp_session(0.0, C, S, 40000, 80, data=2, size=300)
    sc.udp_exchange(0.05, C6, S6, 40001, 53, count=3, size=70)
    sc.ping(0.1, C, S, count=1)
    sc.ping(0.12, C6, S6, count=1)
    return sc


def expect_rows(sc, link):
    """(frame.len, frame.cap_len, epoch ns, src ip, sport) per packet."""
    rows = []
    for p in sc.packets():
        data, wire = g.render(p, link)
        if p.key is None:  # ARP
            rows.append((wire, len(data), p.ts, "", None))
            continue
        proto, src, sport = p.key[1], p.key[2], p.key[3]
        rows.append((wire, len(data), p.ts, g.addr_text(src),
                     sport if proto in (6, 17) else None))
    return rows


def got_rows(path):
    out = []
    for fl, cl, ep, s4, s6, tp, up in tshark(path, "frame.len", "frame.cap_len",
                                            "frame.time_epoch", "ip.src", "ipv6.src",
                                            "tcp.srcport", "udp.srcport"):
        sec, _, frac = ep.partition(".")
        ns = int(sec) * 10**9 + int((frac + "000000000")[:9])
        port = tp or up
        out.append((int(fl), int(cl), ns, s4 or s6, int(port) if port else None))
    return out


VARIANTS = [
    ("pcap", "eth", False, False), ("pcap", "eth", True, True), ("pcap", "sll", False, True),
    ("pcap", "sll2", True, False), ("pcap", "raw", False, False), ("pcap", "null", True, False),
    ("pcap", "null", False, True), ("pcapng", "eth", False, False), ("pcapng", "sll", True, True),
    ("pcapng", "raw", False, True),
]


@need_tshark
@pytest.mark.parametrize("fmt,link,nano,big", VARIANTS)
def test_format_and_link_variants(tmp_path, fmt, link, nano, big):
    sc = basic_scenario()
    if link not in ("raw", "null"):
        sc.non_ip(0.2, "arp")
    f = tmp_path / ("v." + fmt)
    sc.write(f, fmt=fmt, link=link, nano=nano, big_endian=big, tsresol=9 if nano else None)
    exp = expect_rows(sc, link)
    got = got_rows(f)
    assert got == exp
    assert len(got) == (18 if link not in ("raw", "null") else 17)


@need_tshark
def test_file_headers(tmp_path):
    sc = basic_scenario()
    for name, kw, magic in (("us_le", {}, b"\xd4\xc3\xb2\xa1"),
                            ("ns_le", {"nano": True}, b"\x4d\x3c\xb2\xa1"),
                            ("us_be", {"big_endian": True}, b"\xa1\xb2\xc3\xd4"),
                            ("ns_be", {"nano": True, "big_endian": True}, b"\xa1\xb2\x3c\x4d")):
        img = sc.write(tmp_path / (name + ".pcap"), **kw)
        assert img[:4] == magic
    ng = sc.write(tmp_path / "x.pcapng", fmt="pcapng", big_endian=True)
    assert ng[:4] == b"\x0a\x0d\x0d\x0a" and ng[8:12] == b"\x1a\x2b\x3c\x4d"
    rows = tshark(tmp_path / "x.pcapng", "frame.encap_type")
    assert {r[0] for r in rows} == {"1"}
    # microsecond files refuse nanosecond timestamps instead of rounding them
    sc2 = g.Scenario(ns=True)
    sc2.ip(0.0000000123, C, S, 17, 1, 2)
    with pytest.raises(ValueError):
        sc2.write(tmp_path / "bad.pcap")
    sc2.write(tmp_path / "ok.pcap", nano=True)
    assert tshark(tmp_path / "ok.pcap", "frame.time_epoch")[0][0] == "1700000000.000000012"


@need_tshark
def test_pcapng_extra_blocks(tmp_path):
    """Name resolution, custom and statistics blocks and packet options:
    tshark still reads every packet, with its comment."""
    sc = basic_scenario()
    for big in (False, True):
        f = tmp_path / ("extras%d.pcapng" % big)
        sc.write(f, fmt="pcapng", extras=True, big_endian=big)
        rows = tshark(f, "frame.len", "frame.comment")
        # tshark lists the 4 custom blocks as 8-byte records of their own
        assert [r for r in rows if not r[1]] == [["8", ""]] * 4
        rows = [r for r in rows if r[1]]
        assert len(rows) == 17
        assert [r[1] for r in rows] == ["packet %d" % i for i in range(17)]
        assert [int(r[0]) for r in rows] == [w for w, _, _, _, _ in expect_rows(sc, "eth")]


@need_tshark
def test_pcapng_multi_interface(tmp_path):
    """Three interfaces with different link types and resolutions."""
    sc = basic_scenario()
    ifs = [("eth", 6), ("sll2", 9), ("raw", None)]
    f = tmp_path / "multi.pcapng"
    sc.write(f, fmt="pcapng", interfaces=ifs, iface_of=lambda p: p.seq % 3)
    rows = tshark(f, "frame.interface_id", "frame.encap_type", "frame.len", "ip.src", "ipv6.src")
    pk = sc.packets()
    assert len(rows) == len(pk) == 17
    enc = {0: "1", 1: "210", 2: "7"}  # wiretap encapsulations: Ethernet, SLL2, raw IP
    for r, p in zip(rows, pk):
        i = p.seq % 3
        assert int(r[0]) == i
        assert r[1] == enc[i]
        assert int(r[2]) == len(g.render(p, ifs[i][0])[0])
        assert (r[3] or r[4]) == g.addr_text(p.key[2])


@need_tshark
def test_l2_encapsulations(tmp_path):
    sc = g.Scenario()
    sc.ip(0.0, C, S, 6, 1000, 80, flags=g.SYN, l2={"vlans": (100,)})
    sc.ip(0.001, C, S, 6, 1000, 80, flags=g.SYN, l2={"vlans": (300, 400),
                                                        "outer_tpid": g.ETH_QINQ})
    sc.ip(0.002, C, S, 6, 1000, 80, flags=g.SYN, l2={"vlans": (5, 6, 7)})
    sc.ip(0.003, C, S, 17, 1000, 4789 + 1, payload=8, l2={"mpls": (16, 17, 18)})
    sc.ip(0.004, C6, S6, 17, 1000, 4000, payload=8, l2={"mpls": (99,)})
    sc.ip(0.005, C, S, 6, 1000, 80, flags=g.ACK, l2={"pppoe": 0x1234})
    sc.ip(0.006, C6, S6, 6, 1000, 80, flags=g.ACK, l2={"pppoe": 0x22, "vlans": (9,)})
    f = tmp_path / "l2.pcap"
    sc.write(f)
    rows = tshark(f, "vlan.id", "ieee8021ad.id", "mpls.label", "mpls.bottom", "pppoe.session_id",
                  "ip.src", "ipv6.src", "tcp.checksum.status", "udp.checksum.status",
                  "ip.checksum.status")
    assert [r[:5] for r in rows] == [
        ["100", "", "", "", ""],
        ["400", "300", "", "", ""],
        ["5,6,7", "", "", "", ""],
        ["", "", "16,17,18", "0,0,1", ""],
        ["", "", "99", "1", ""],
        ["", "", "", "", "0x1234"],
        ["9", "", "", "", "0x0022"],
    ]
    for r in rows:
        assert (r[5] or r[6]) in (C, C6)
        # checksum status 1 = good (tcp or udp, and ip for IPv4)
        assert (r[7] or r[8]) == "1"
        assert r[9] in ("1", "")


@need_tshark
def test_ip_options_ext_headers_fragments(tmp_path):
    sc = g.Scenario()
    sc.ip(0.0, C, S, 6, 1000, 80, flags=g.SYN, v4opts=g.ipv4_options_rr(2))
    sc.ip(0.001, C6, S6, 17, 1000, 9999, payload=12, v6ext=("hop", "routing", "dest"))
    f4 = sc.fragments(0.002, C, S, 17, 1001, 9999, 3000, 1480, ident=0x4242)
    f6 = sc.fragments(0.003, C6, S6, 6, 1002, 80, 2000, 1232, ident=0x55, flags=g.PSH | g.ACK)
    sc.ip(0.01, C, S, 1, icmp_type=8, payload=16)
    sc.ip(0.011, C6, S6, 58, icmp_type=128, payload=16)
    f = tmp_path / "l3.pcap"
    sc.write(f)
    rows = tshark(f, "ip.hdr_len", "ip.opt.type", "ipv6.nxt", "ip.flags.mf", "ip.frag_offset",
                  "ip.id", "ipv6.fraghdr.offset", "ipv6.fraghdr.more", "ipv6.fraghdr.ident",
                  "tcp.srcport", "udp.srcport", "ip.len", "ipv6.plen", "icmp.type",
                  "icmpv6.type", "ip.checksum.status", "icmp.checksum.status",
                  "icmpv6.checksum.status")
    assert len(rows) == 9
    assert rows[0][0] == "32" and rows[0][9] == "1000"
    assert rows[1][2] == "0" and rows[1][10] == "1000" and rows[1][12] == str(8 + 24 + 8 + 20)
    # IPv4 fragments: 1480 + 1480 + 48 bytes of the 3008-byte UDP datagram
    assert [(r[3], r[4], r[5], r[11]) for r in rows[2:5]] == [
        ("1", "0", "0x4242", "1500"), ("1", "185", "0x4242", "1500"),
        ("0", "370", "0x4242", "68")]  # tshark shows the offset in 8-byte units
    assert rows[2][10] == "1001" and rows[3][10] == "" and rows[4][10] == ""
    # IPv6 fragments of a 2020-byte TCP segment: 1232 + 788
    assert [(r[2], r[6], r[7], r[8], r[12]) for r in rows[5:7]] == [
        ("44", "0", "1", "0x00000055", str(8 + 1232)), ("44", "154", "0", "0x00000055",
                                                        str(8 + 788))]
    assert rows[5][9] == "1002"
    assert rows[7][13] == "8" and rows[7][16] == "1"
    assert rows[8][14] == "128" and rows[8][17] == "1"
    assert [p.ip_bytes for p in f4] == [1500, 1500, 68]
    assert [p.ip_bytes for p in f6] == [1280, 836]


@need_tshark
def test_bad_packets_as_tshark_sees_them(tmp_path):
    sc = g.Scenario()
    sc.non_ip(0.0, "arp")
    sc.non_ip(0.001, "lldp")
    sc.truncated(0.002, "ip4")
    sc.truncated(0.003, "tcp4")
    sc.truncated(0.004, "ip6")
    sc.malformed(0.005, "ihl")
    sc.malformed(0.006, "totlen")
    f = tmp_path / "bad.pcap"
    sc.write(f)
    rows = tshark(f, "frame.protocols", "frame.len", "frame.cap_len")
    assert rows[0][0] == "eth:ethertype:arp" and rows[1][0].startswith("eth:ethertype:lldp")
    # 14 + 20 + 20 (+ 40 zero bytes) for IPv4/TCP, 14 + 40 + 20 (+ 40) for IPv6
    assert [(int(r[1]), int(r[2])) for r in rows[2:5]] == [(94, 14 + 12), (94, 14 + 30),
                                                           (114, 14 + 30)]
    assert [p.verdict for p in sc.packets()] == ["non_ip"] * 2 + ["truncated"] * 3 + \
        ["malformed"] * 2


def test_determinism(tmp_path):
    a = g.scenario_mixed(seed=7, flows=300)
    b = g.scenario_mixed(seed=7, flows=300)
    c = g.scenario_mixed(seed=8, flows=300)
    ia = a.write(tmp_path / "a.pcap")
    ib = b.write(tmp_path / "b.pcap")
    ic = c.write(tmp_path / "c.pcap")
    assert ia == ib and ia != ic
    assert a.expected().records == b.expected().records
    na = a.write(tmp_path / "a.pcapng", fmt="pcapng", nano=True, tsresol=9)
    nb = b.write(tmp_path / "b.pcapng", fmt="pcapng", nano=True, tsresol=9)
    assert na == nb
    # the CLI writes the same bytes too
    cli = os.path.join(os.path.dirname(g.__file__), "pcapgen.py")
    for out in ("x1.pcap", "x2.pcap"):
        subprocess.run([sys.executable, cli, "-o", str(tmp_path / out), "--seed", "7",
                        "--flows", "300"], check=True, capture_output=True)
    assert (tmp_path / "x1.pcap").read_bytes() == (tmp_path / "x2.pcap").read_bytes() == ia


# ---- the expected-flow model, checked by hand-computed records


def one(recs):
    assert len(recs) == 1, recs
    return recs[0]


def test_model_tcp_fin_fin_ack_is_one_record():
    sc = g.Scenario()
    sc.tcp_session(0.0, C, S, 40000, 80, data=1, size=100, gap=0.001)
    e = sc.expected()
    r = one(e.records)
    assert r["end_reason"] == "end"
    assert (r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"]) == (C, 40000, S, 80)
    # SYN, ACK, data, FIN, last ACK from the client; SYN-ACK, data, FIN from the server
    assert (r["packets"], r["rev_packets"]) == (5, 3)
    assert r["bytes"] == 40 * 4 + 140 and r["rev_bytes"] == 40 * 2 + 240
    assert r["tcp_flags"] == g.SYN | g.ACK | g.PSH | g.FIN
    assert r["rev_tcp_flags"] == g.SYN | g.ACK | g.PSH | g.FIN
    assert r["last_ns"] - r["first_ns"] == 7 * g.MS
    assert e.skipped["non_ip"] == 0 and e.packets_in_flows == 8


def test_model_rst_reuse_and_syn_ack_src():
    sc = g.Scenario()
    sc.tcp_session(0.0, C, S, 40000, 80, data=0, close="rst")
    sc.tcp_session(1.0, C, S, 40000, 80, data=0, close=None)  # SYN reuses the 5-tuple
    sc.ip(2.0, S, C, 6, 443, 40001, flags=g.SYN | g.ACK)  # first seen: SYN-ACK
    recs = sc.expected().records
    assert [(r["end_reason"], r["packets"], r["rev_packets"]) for r in recs] == [
        ("end", 3, 1), ("shutdown", 2, 1), ("shutdown", 0, 1)]
    assert (recs[2]["src_ip"], recs[2]["src_port"]) == (C, 40001)


def test_model_idle_active_close():
    sc = g.Scenario(idle_timeout=2, active_timeout=3)
    for i in range(4):
        sc.ip(i * 0.7, C, S, 17, 5000, 53)  # 0, .7, 1.4, 2.1
    for i in range(3):
        sc.ip(6.0 + i * 0.9, C, S, 17, 5000, 53)  # idle gap, then 6.0 .. 7.8
    sc.ip(9.5, C, S, 17, 5000, 53)  # 9.5 - 6.0 >= 3: active
    sc.tcp_session(10.0, C, S, 1, 2, data=0, close="fin_noack", gap=0.1)
    sc.ip(10.6, C, S, 6, 1, 2, flags=g.ACK)  # counts in the closing flow
    e = sc.expected()
    got = [(r["proto"], r["packets"], r["end_reason"]) for r in e.records]
    assert got == [(17, 4, "idle"), (17, 3, "active"), (17, 1, "shutdown"), (6, 4, "end")]
    assert e.expired == {"idle": 1, "active": 1, "end": 1, "evicted": 0, "shutdown": 1}
    assert e.ambiguous == []


def test_model_fragments_and_uniflow():
    sc = g.Scenario()
    sc.fragments(0.0, C, S, 17, 7, 9, 3000, 1480, ident=1, order=(1, 0, 2))
    e = sc.expected()
    r = one(e.records)
    assert e.skipped["fragment_unmatched"] == 1
    assert (r["packets"], r["bytes"]) == (2, 1500 + 68)
    sc2 = g.Scenario()
    sc2.udp_exchange(0.0, C, S, 7, 9, count=3, size=10)
    u = sc2.expected(uniflow=True).records
    assert [(r["src_ip"], r["packets"], r["bytes"], r["rev_packets"]) for r in u] == [
        (C, 2, 76, 0), (S, 1, 48, 0)]
