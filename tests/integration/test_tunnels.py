# SPDX-License-Identifier: BSD-3-Clause
"""Tunnels end to end (issue 11): pcapgen wraps flows in every tunnel jcap
decapsulates (tunnelgen) and knows the exact records: the inner
conversations, their packets and bytes both ways, the tunnel type and id,
the outer addresses, MACs, MPLS labels, TOS/TTL and the interface; every
skip and expiry counter; conservation on every run. Also: two tenants with
the same inner 5-tuple under two VNIs are two flows, a GTP-U session with a
TEID per direction is one biflow, --decap none meters the outer flows,
--decap LIST and --tunnel-ports select, and nesting past the depth limit is
counted as tunnel_too_deep."""
import os
import struct
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import jcaptest as jt  # noqa: E402
import pcapgen as g  # noqa: E402
from tunnelgen import Tunnel  # noqa: E402

C, S = "198.18.0.1", "198.19.0.1"
C6, S6 = "2001:2:0:1::1", "2001:2:0:2::1"
O4A, O4B = "203.0.113.1", "203.0.113.2"
O6A, O6B = "2001:db8::a", "2001:db8::b"

# the issue-11 fields compared beside jcaptest's FLOW_FIELDS; each must be
# present exactly where the truth has it
PATH_FIELDS = ("interface", "src_mac", "dst_mac", "vlan_inner", "mpls_labels", "mpls_exp",
               "tunnel_type", "tunnel_id", "rev_tunnel_id", "outer_src_ip", "outer_dst_ip",
               "tos", "dscp", "min_ttl", "max_ttl", "rev_tos", "rev_dscp", "rev_min_ttl",
               "rev_max_ttl")


@pytest.fixture(autouse=True)
def _jcap():
    jt.require_jcap()


def path_of(r):
    return {k: r[k] for k in PATH_FIELDS if k in r}


def ident(r):
    return jt.norm(r) + (str(sorted(path_of(r).items())),)


def compare(recs, exp, what):
    """Every record equal to the truth: FLOW_FIELDS and PATH_FIELDS."""
    jt.assert_same_flows(recs, exp.records, what)
    got = sorted(ident(r) for r in recs)
    want = sorted(ident(r) for r in exp.records)
    if got != want:
        gp = sorted((jt.flow_key(r), sorted(path_of(r).items())) for r in recs)
        wp = sorted((jt.flow_key(r), sorted(path_of(r).items())) for r in exp.records)
        lines = ["%s: path fields differ" % what]
        for a, b in zip(gp, wp):
            if a != b:
                lines.append("  got  %s\n  want %s" % (a, b))
        raise AssertionError("\n".join(lines))


def run(tmp_path, sc, *opts, name="t", exp=None, **write_kw):
    f = tmp_path / (name + (".pcapng" if write_kw.get("fmt") == "pcapng" else ".pcap"))
    sc.write(f, **write_kw)
    if exp is None:
        exp = sc.expected()
    recs, stats = jt.meter(f, *opts)
    compare(recs, exp, name)
    jt.assert_stats(stats, exp)
    return recs, stats


def traffic(sc, at, layers, c=C, s=S, cport=40000):
    """A TCP session, a UDP exchange and a ping inside @layers."""
    with sc.tunnel(*layers):
        t = sc.tcp_session(at, c, s, cport, 80, data=2, gap=0.001)
        sc.udp_exchange(t + 0.01, c, s, cport + 1, 53, count=3, gap=0.001)
        v6 = ":" in c
        sc.ping(t + 0.02, c, s, count=2, gap=0.001)
        if not v6:
            sc.ip(t + 0.03, s, c, 1, 0, 0, icmp_type=3, icmp_code=3, payload=28)
    return t + 0.04


CASES = {
    "vxlan": [Tunnel("vxlan", O4A, O4B, id=5001)],
    "vxlan6": [Tunnel("vxlan", O6A, O6B, id=0xABCDEF)],
    "geneve": [Tunnel("geneve", O4A, O4B, id=77, opts=2)],
    "gre": [Tunnel("gre", O4A, O4B, id=None)],
    "gre_key": [Tunnel("gre", O4A, O4B, id=0xDEADBEEF, seq=True, csum=True)],
    "gre_mpls": [Tunnel("gre", O4A, O4B, id=9, mpls_in_gre=True, labels=(300, 301))],
    "nvgre": [Tunnel("nvgre", O4A, O4B, id=0x123456)],
    "erspan1": [Tunnel("erspan1", O4A, O4B)],
    "erspan2": [Tunnel("erspan2", O4A, O4B, id=513)],
    "erspan3": [Tunnel("erspan3", O6A, O6B, id=1023)],
    "gtpu": [Tunnel("gtpu", O4A, O4B, teid=(0x11111111, 0x22222222))],
    "gtpu_ext": [Tunnel("gtpu", O6A, O6B, teid=(7, 8), gtp_ext=True)],
    "ipip4": [Tunnel("ipip", O4A, O4B)],
    "ipip6in4": [Tunnel("ipip", O4A, O4B)],
    "ipip4in6": [Tunnel("ipip", O6A, O6B)],
    "mplsudp": [Tunnel("mplsudp", O4A, O4B, labels=(16, 17, 18, 19))],
    "mplspw": [Tunnel("mplspw", labels=(100, 200))],
    "ayiya": [Tunnel("ayiya", O4A, O4B)],
    "nested": [Tunnel("gre", O4A, O4B, id=3), Tunnel("vxlan", "10.1.0.1", "10.1.0.2", id=42)],
    "pw_vxlan": [Tunnel("mplspw", labels=(55,)), Tunnel("vxlan", "10.1.0.1", "10.1.0.2", id=4)],
}
INNER6 = ("ipip6in4", "vxlan6", "erspan3")


@pytest.mark.parametrize("case", sorted(CASES))
def test_tunnel(tmp_path, case):
    """Each tunnel: the inner flows exactly, both directions, with their
    tunnel type and id, outer addresses, MACs and labels; and with --decap
    none the outer flows exactly."""
    sc = g.Scenario()
    c, s = (C6, S6) if case in INNER6 else (C, S)
    traffic(sc, 0.0, CASES[case], c, s)
    recs, _ = run(tmp_path, sc, name=case)
    kind = CASES[case][-1].type_name
    assert recs and all(r.get("tunnel_type") == kind for r in recs), recs
    # the ICMP echo exchange and the unreachable are separate flows
    icmp = sorted((r["src_port"], r["packets"], r["rev_packets"]) for r in recs
                  if r["proto"] in (1, 58))
    assert icmp == ([(0x0303, 1, 0), (0x0800, 2, 2)] if c == C else [(0x8000, 2, 2)])
    exp = sc.expected(decap=False)
    recs, stats = run(tmp_path, sc, "--decap", "none", name=case + "_none", exp=exp)
    assert not any("tunnel_type" in r for r in recs)
    if case.startswith("mplspw"):
        assert recs == [] and stats["skipped"]["non_ip"] == len(sc.pkts)


def test_teredo(tmp_path):
    sc = g.Scenario()
    with sc.tunnel(Tunnel("teredo", O4A, O4B)):
        sc.tcp_session(0.0, C6, S6, 40000, 80)
        sc.udp_exchange(0.1, C6, S6, 40001, 53, count=2)
    recs, _ = run(tmp_path, sc, name="teredo")
    assert sorted(r["proto"] for r in recs) == [6, 17]
    run(tmp_path, sc, "--decap", "none", name="teredo_none", exp=sc.expected(decap=False))


def test_two_tenants_same_tuple(tmp_path):
    """The same inner 5-tuple under two VNIs (two tenants) is two flows; under
    one VNI from two VTEPs it is one."""
    sc = g.Scenario()
    traffic(sc, 0.0, [Tunnel("vxlan", O4A, O4B, id=100)])
    traffic(sc, 0.5, [Tunnel("vxlan", O4A, O4B, id=200)])
    recs, _ = run(tmp_path, sc, name="tenants")
    tcp = [r for r in recs if r["proto"] == 6]
    assert sorted(r["tunnel_id"] for r in tcp) == [100, 200]
    assert len({(r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"]) for r in tcp}) == 1
    # decapsulating only gre: the VXLAN packets are their outer UDP flows
    recs, _ = run(tmp_path, sc, "--decap", "gre,gtpu", name="tenants_gre",
                  exp=sc.expected(decap=False))
    assert {r["dst_port"] for r in recs if r["proto"] == 17} == {4789}


def test_gtpu_one_biflow(tmp_path):
    """GTP-U uplink and downlink carry different TEIDs: one biflow, the
    TEID of each direction in tunnel_id / rev_tunnel_id."""
    sc = g.Scenario()
    with sc.tunnel(Tunnel("gtpu", O4A, O4B, teid=(0xA, 0xB))):
        sc.tcp_session(0.0, C, S, 40000, 443, data=3)
    recs, _ = run(tmp_path, sc, name="gtp")
    assert len(recs) == 1
    r = recs[0]
    assert (r["tunnel_type"], r["tunnel_id"], r["rev_tunnel_id"]) == ("gtpu", 0xA, 0xB)
    assert (r["outer_src_ip"], r["outer_dst_ip"]) == (O4A, O4B)
    assert (r["packets"], r["rev_packets"]) == (7, 5)


def test_depth_limit(tmp_path):
    """Four nested tunnels are decapsulated; a fifth level is counted."""
    def chain(n):
        return [Tunnel("gre", "10.9.%d.1" % i, "10.9.%d.2" % i, id=i + 1) for i in range(n)]
    sc = g.Scenario()
    with sc.tunnel(*chain(4)):
        sc.udp_exchange(0.0, C, S, 1000, 53, count=2)
    with sc.tunnel(*chain(5)):
        sc.udp_exchange(0.1, C, S, 1001, 53, count=3)
    exp = sc.expected()
    assert exp.skipped["tunnel_too_deep"] == 3
    recs, stats = run(tmp_path, sc, name="deep", exp=exp)
    assert stats["skipped"]["tunnel_too_deep"] == 3
    assert [(r["tunnel_id"], r["outer_src_ip"]) for r in recs] == [(4, "10.9.0.1")]


def test_tunnel_ports(tmp_path):
    """--tunnel-ports moves VXLAN to another port; the default port is then
    plain UDP. A bad SPEC is a usage error naming the problem."""
    sc = g.Scenario()
    traffic(sc, 0.0, [Tunnel("vxlan", O4A, O4B, id=9)])
    f = tmp_path / "moved.pcap"
    sc.write(f)
    recs, _ = jt.meter(f, "--tunnel-ports", "vxlan=4790+8472")
    compare(recs, sc.expected(decap=False), "moved")
    recs, _ = jt.meter(f, "--tunnel-ports", "geneve=6082,vxlan=4789")
    compare(recs, sc.expected(), "moved back")
    for spec, msg in (
            ("vxlan=70000", "tunnel ports: bad port list '70000' for vxlan (1..65535, '+' between)"),
            ("gre=1", "tunnel ports: 'gre=1' is not NAME=PORT[+PORT] with NAME one of vxlan, "
                      "geneve, gtpu, mplsudp, teredo, ayiya"),
            ("vxlan=4789,gtpu=4789", "tunnel ports: UDP port 4789 given twice"),
            ("vxlan=1,vxlan=2", "tunnel ports: vxlan given twice")):
        p = jt.run(["-r", f, "-q", "--no-progress", "--tunnel-ports", spec])
        assert p.returncode == 2, (spec, p.returncode, p.stderr)
        assert msg in p.stderr, (spec, p.stderr)
    p = jt.run(["-r", f, "-q", "--no-progress", "--decap", "vxlan,bogus"])
    assert p.returncode == 2
    assert p.stderr.startswith("jcap: --decap: 'vxlan,bogus': expected all, none or tunnel "
                               "names"), p.stderr


def test_interface_in_key(tmp_path):
    """The same conversation on two pcapng interfaces is two flows, each
    with its interface id."""
    sc = g.Scenario()
    sc.udp_exchange(0.0, C, S, 1000, 53, count=4)
    traffic(sc, 0.1, [Tunnel("vxlan", O4A, O4B, id=1)])
    iface_of = lambda p: p.seq % 2  # noqa: E731
    exp = sc.expected(iface_of=iface_of)
    recs, _ = run(tmp_path, sc, name="ifaces", exp=exp, fmt="pcapng",
                  interfaces=[("eth", 6), ("eth", 9)], iface_of=iface_of)
    udp = sorted((r["interface"], r["packets"], r["rev_packets"]) for r in recs
                 if r["proto"] == 17 and "tunnel_type" not in r)
    # seq 0, 2 (client -> server) on interface 0; 1, 3 (the replies) on 1
    assert udp == [(0, 2, 0), (1, 2, 0)]


def test_link_identity(tmp_path):
    """QinQ inner VLAN, the outer link's MPLS labels, TOS and TTL range per
    direction, MACs: as the truth says, with and without a tunnel."""
    sc = g.Scenario()
    l2 = {"vlans": (10, 20), "outer_tpid": g.ETH_QINQ, "src_mac": g.mac(5), "dst_mac": g.mac(6)}
    sc.ip(0.0, C, S, 17, 1, 2, payload=10, l2=l2, ttl=63, tos=0xB8)
    sc.ip(0.001, C, S, 17, 1, 2, payload=10, l2=l2, ttl=60, tos=0)
    sc.ip(0.002, S, C, 17, 2, 1, payload=10, l2=l2, ttl=120, tos=1)
    with sc.tunnel(Tunnel("gtpu", O4A, O4B)):
        sc.ip(0.01, C, S, 6, 5, 6, flags=g.SYN, l2={"mpls": (1000, 2000, 3000, 4000)}, ttl=9)
        sc.ip(0.011, S, C, 6, 6, 5, flags=g.SYN | g.ACK, l2={"mpls": (7,)}, ttl=250)
    recs, _ = run(tmp_path, sc, name="link")
    by = {r["proto"]: r for r in recs}
    assert (by[17]["vlan"], by[17]["vlan_inner"], by[17]["tos"], by[17]["dscp"]) == \
        (10, 20, 0xB8, 0x2E)
    assert (by[17]["min_ttl"], by[17]["max_ttl"], by[17]["rev_min_ttl"]) == (60, 63, 120)
    assert by[17]["src_mac"] == "02:00:00:00:00:05"
    assert by[6]["mpls_labels"] == [1000, 2000, 3000]


def test_outer_fragments_counted(tmp_path):
    """A VXLAN and a GTP-U packet whose outer UDP datagrams are fragmented:
    not reassembled, metered as their outer flows, every fragment that got
    the tunnel port counted in stats fragments.tunnel; a plain fragmented
    DNS datagram and an unfragmented VXLAN packet are not counted."""
    sc = g.Scenario()
    inner = g.ipv4(C, S, 17, g.udp(C, S, 40000, 53, b"\x01" * 1200))
    vx = struct.pack("!BxxxI", 0x08, 5001 << 8) + g.ethernet(inner, g.ETH_IPV4)
    gtp = struct.pack("!BBHI", 0x30, 0xFF, len(inner), 0x1234) + inner
    sc.fragments(1.0, O4A, O4B, 17, 50000, 4789, 0, 512, ident=7, payload=vx)  # 3 fragments
    sc.fragments(1.1, O4A, O4B, 17, 2152, 2152, 0, 800, ident=8, payload=gtp)  # 2 fragments
    sc.fragments(1.2, C, S, 17, 40001, 53, 1600, 1480, ident=9)  # 2, not a tunnel
    with sc.tunnel(Tunnel("vxlan", O4A, O4B, id=5001)):
        sc.udp_exchange(1.3, C, S, 40002, 53, count=1)
    exp = sc.expected()
    recs, stats = run(tmp_path, sc, name="outer_frag", exp=exp)
    assert stats["fragments"]["tunnel"] == 5, stats["fragments"]
    outer = sorted((r["dst_port"], r["packets"]) for r in recs if r["dst_ip"] == O4B)
    assert outer == [(2152, 2), (4789, 3)], outer


@pytest.mark.parametrize("port", [4789, 8472, 6081, 2152, 3544, 5072, 6635])
def test_ordinary_udp_on_a_tunnel_port(tmp_path, port):
    """A tunnel on UDP is a guess from a port number: an ordinary datagram
    that uses the port (an ephemeral client port may well be 2152) and does
    not parse as that tunnel is metered as the UDP flow it is, never skipped."""
    sc = g.Scenario()
    sc.udp_exchange(0.0, C, S, port, 123, count=4, size=48)
    sc.udp_exchange(0.1, C, S, 40000, port, count=2, size=48)
    recs, stats = run(tmp_path, sc, name="port%d" % port)
    assert sorted((r["src_port"], r["dst_port"], r["packets"], r["rev_packets"])
                  for r in recs) == sorted([(port, 123, 2, 2), (40000, port, 1, 1)])
    assert not any("tunnel_type" in r for r in recs)
    assert sum(stats["skipped"].values()) == 0
