# SPDX-License-Identifier: BSD-3-Clause
"""IPFIX/NetFlow v9 record fields (--fields, --ipfix-pen), packet sampling
(--sample) and UDP pacing (--export-rate), checked with real decoders:
libfixbuf's ipfixDump (by element name, with the information model the
project ships), tshark's cflow dissector and nfcapd/nfdump. Every value is
compared with jcap's own -F json of the same input. Only loopback is used;
every process started here is stopped by PID."""
import collections
import ipaddress
import os
import re
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
sys.path.insert(0, os.path.dirname(__file__))
import jcaptest as jt  # noqa: E402
import pcapgen as g  # noqa: E402
from test_export import (Nfcapd, UdpSink, be, parse_sets, record_fields,  # noqa: E402
                         write_pcap)

IPFIXDUMP = shutil.which("ipfixDump")
TSHARK = shutil.which("tshark")
NFCAPD = shutil.which("nfcapd")
NFDUMP = shutil.which("nfdump")
PEN = 32473  # RFC 5612's documentation number, as in the shipped model
MODEL = os.path.join(os.environ.get("PC_SOURCE_DIR", os.path.join(os.path.dirname(__file__),
                                                                   "..", "..")),
                     "docs", "ipfix", "jcap-elements.xml")
T = 60


@pytest.fixture(autouse=True)
def _jcap():
    jt.require_jcap()


def scenario():
    """QinQ, an MPLS stack, IPv6 ICMP, a one-way flow: fields of every group."""
    sc = g.Scenario()
    sc.tcp_session(0.0, "198.18.0.1", "198.19.0.1", 40000, 80,
                   l2={"vlans": (100, 200), "outer_tpid": g.ETH_QINQ})
    sc.udp_exchange(0.1, "198.18.0.2", "198.19.0.2", 5353, 53, l2={"mpls": (1000, 2000, 3)})
    sc.ping(0.2, "2001:db8::1", "2001:db8::2")
    sc.udp_exchange(0.3, "198.18.0.3", "198.19.0.3", 7000, 7001, count=3, one_way=True)
    # TOS and a TTL range each way, MACs of their own
    a, b = {"src_mac": g.mac(0x21), "dst_mac": g.mac(0x22)}, {"src_mac": g.mac(0x22),
                                                            "dst_mac": g.mac(0x21)}
    for i, ttl in enumerate((61, 59, 60)):
        sc.ip(0.4 + i * 0.01, "198.18.0.4", "198.19.0.4", 17, 9000, 9001, payload=20, l2=a,
              ttl=ttl, tos=0xb8)
        sc.ip(0.405 + i * 0.01, "198.19.0.4", "198.18.0.4", 17, 9001, 9000, payload=30, l2=b,
              ttl=250 - i, tos=0x01)
    return sc


def run_json(pcap, *extra):
    p = jt.run(["-r", pcap, "-F", "json", "--no-progress", "--stats"] + list(extra), timeout=T)
    assert p.returncode == 0, p.stderr
    return jt.parse_lines(p.stdout), jt.parse_stats(p.stderr)


def key(src, dst, sport, dport):
    """ipfixDump writes IPv6 with zero-padded groups: compare canonical forms."""
    return (str(ipaddress.ip_address(src)), str(ipaddress.ip_address(dst)), int(sport),
            int(dport))


def by_key(recs):
    return {key(r["src_ip"], r["dst_ip"], r["src_port"], r["dst_port"]): r for r in recs}


def ipfixdump(path):
    """[(tid, {name: text})] of the data records."""
    p = subprocess.run([IPFIXDUMP, "--in", str(path), "--element-file=" + MODEL, "--data"],
                       capture_output=True, text=True, timeout=T, env=dict(os.environ, TZ="UTC"))
    assert p.returncode == 0, p.stderr
    recs, cur = [], None
    for ln in p.stdout.splitlines():
        m = re.match(r"\s*count:\s*\d+\s+tid:\s*(\d+)", ln)
        if m:
            cur = (int(m.group(1)), {})
            recs.append(cur)
            continue
        m = re.match(r"\s*\([\d/]+\)\s*(?:\(S\)\s+)?(\S+)\s*:\s*(.*?)\s*$", ln)
        if m and cur is not None:
            cur[1][m.group(1)] = m.group(2)
    return recs


def mpls_hex(labels, i):
    """The 3-byte stack entry jcap sends for label @i (EXP 0), as ipfixDump's hexdump."""
    if i >= len(labels):
        return "000000"
    bos = 1 if i == len(labels) - 1 else 0
    return "%06x" % (labels[i] << 4 | bos)


def hexdump_val(text):
    """The wire bytes of a 3-byte octetArray in hex: ipfixDump 2.4 prints an
    octetArray of up to 8 bytes as a number read in host (little-endian) order."""
    return int(text).to_bytes(3, "little").hex()


@pytest.mark.skipif(not IPFIXDUMP, reason="libfixbuf-tools (ipfixDump) not installed")
def test_ipfix_all_fields_by_name(tmp_path):
    """--fields all: every element ipfixDump names from IANA's registry and the
    shipped model equals -F json's value for that flow, both directions."""
    pcap = tmp_path / "s.pcap"
    scenario().write(pcap)
    out = tmp_path / "a.ipfix"
    recs, _ = run_json(pcap, "--export", "ipfix-file:%s" % out, "--fields", "all",
                       "--ipfix-pen", str(PEN))
    js = by_key(recs)
    # flows with application sections known have templates of their own (270 on)
    got = [f for tid, f in ipfixdump(out) if tid in (256, 257) or tid >= 270]
    assert len(got) == len(js) == 5
    mpls_of = {key("198.18.0.2", "198.19.0.2", 5353, 53): (1000, 2000, 3)}
    for f in got:
        v4 = "sourceIPv4Address" in f
        k = key(f["sourceIPv4Address" if v4 else "sourceIPv6Address"],
                f["destinationIPv4Address" if v4 else "destinationIPv6Address"],
                f["sourceTransportPort"], f["destinationTransportPort"])
        if not v4:  # ICMP: ports carry type/code in JSON, 0 in IPFIX
            k = next(x for x in js if x[0] == k[0] and x[1] == k[1])
        r = js[k]
        assert f["sourceMacAddress"] == r["src_mac"]
        assert f["destinationMacAddress"] == r["dst_mac"]
        assert int(f["dot1qCustomerVlanId"]) == r.get("vlan_inner", 0)
        assert int(f["vlanId"]) == r["vlan"]
        labels = mpls_of.get(k, ())
        assert r.get("mpls_labels", []) == list(labels)
        for i, name in enumerate(("mplsTopLabelStackSection", "mplsLabelStackSection2",
                                  "mplsLabelStackSection3")):
            assert hexdump_val(f[name]) == mpls_hex(labels, i), (name, f[name])
        assert int(f["ipClassOfService"]) == r["tos"]
        assert int(f["minimumTTL"]) == r["min_ttl"] and int(f["maximumTTL"]) == r["max_ttl"]
        assert int(f["reverseIpClassOfService"]) == r.get("rev_tos", 0)
        assert int(f["reverseMinimumTTL"]) == r.get("rev_min_ttl", 0)
        assert int(f["reverseMaximumTTL"]) == r.get("rev_max_ttl", 0)
        assert int(f["ingressInterface"]) == r["interface"]
        assert f["jcapCommunityId"] == "(len: 30) " + r["community_id"]
        assert int(f["packetDeltaCount"]) == r["packets"]
        assert int(f["reversePacketDeltaCount"]) == r["rev_packets"]


@pytest.mark.skipif(not IPFIXDUMP, reason="libfixbuf-tools (ipfixDump) not installed")
def test_default_record_unchanged(tmp_path):
    """Without --fields the templates are the earlier releases' (20 elements)."""
    pcap = tmp_path / "s.pcap"
    scenario().write(pcap)
    out = tmp_path / "a.ipfix"
    run_json(pcap, "--export", "ipfix-file:%s" % out)
    blob = out.read_bytes()
    templates = {}
    off = 0
    while off < len(blob):
        n = be(blob, off + 2, 2)
        parse_sets(blob, off + 16, off + n, 10, templates)
        off += n
    assert sorted(templates) == [256, 257, 260]
    assert [len(templates[t]) for t in (256, 257)] == [20, 20]
    assert all(pen in (0, 29305) for t in templates.values() for pen, _, _ in t)


def test_enterprise_fields_need_a_pen(tmp_path):
    pcap = tmp_path / "s.pcap"
    scenario().write(pcap)
    for fields in ("+tunnel", "community_id", "all", "app", "tcp", "geo"):
        p = jt.run(["-r", pcap, "-q", "--no-progress", "--export",
                    "ipfix-file:%s" % (tmp_path / "x"), "--fields", fields], timeout=T)
        assert p.returncode == 2, p.stderr
        assert ("the fields tunnel, community_id, app, tcp and geo use jcap's own IPFIX "
                "elements: give an enterprise number (--ipfix-pen N)") in p.stderr
    p = jt.run(["-r", pcap, "-q", "--fields", "mac,bogus"], timeout=T)
    assert p.returncode == 2
    assert "--fields: 'mac,bogus': expected names from mac" in p.stderr


@pytest.mark.skipif(not TSHARK, reason="tshark not installed")
def test_v9_fields_tshark(tmp_path):
    """NetFlow v9 with mac,vlan,mpls,ttl,tos: tshark decodes each record's
    elements to the JSON values of its direction."""
    pcap = tmp_path / "s.pcap"
    scenario().write(pcap)
    sink = UdpSink()
    try:
        recs, _ = run_json(pcap, "--export", "netflow9://127.0.0.1:%d" % sink.port,
                           "--fields", "mac,vlan,mpls,ttl,tos")
    finally:
        dgrams = sink.stop()
    cap = tmp_path / "v9.pcap"
    write_pcap(dgrams, sink.port, cap)
    p = subprocess.run([TSHARK, "-n", "-r", str(cap), "-d", "udp.port==%d,cflow" % sink.port,
                        "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=;",
                        "-e", "cflow.srcaddr", "-e", "cflow.srcport", "-e", "cflow.srcmac",
                        "-e", "cflow.dstmac", "-e", "cflow.dot1q_customer_vlan_id",
                        "-e", "cflow.ttl_min", "-e", "cflow.ttl_max", "-e", "cflow.tos",
                        "-e", "cflow.mpls_label"],
                       capture_output=True, text=True, timeout=T)
    assert p.returncode == 0, p.stderr
    rows = []
    for ln in p.stdout.splitlines():
        cols = [c.split(";") if c else [] for c in ln.split("\t")]
        for i in range(len(cols[2])):
            rows.append(tuple(c[i] if i < len(c) else "" for c in cols[:8]))
    expect = []
    for r in recs:
        if r["ip_version"] != 4:
            continue
        for fwd in (True, False):
            if not (r["packets"] if fwd else r["rev_packets"]):
                continue
            pre = "" if fwd else "rev_"
            expect.append((r["src_ip"] if fwd else r["dst_ip"],
                           str(r["src_port"] if fwd else r["dst_port"]),
                           r["src_mac"] if fwd else r["dst_mac"],
                           r["dst_mac"] if fwd else r["src_mac"],
                           str(r.get("vlan_inner", 0)), str(r[pre + "min_ttl"]),
                           str(r[pre + "max_ttl"]), "0x%02x" % r[pre + "tos"]))
    v4rows = [x for x in rows if x[0]]
    assert sorted(v4rows) == sorted(expect)
    labels = [c for ln in p.stdout.splitlines() for c in ln.split("\t")[8].split(";") if c]
    assert sorted(set(labels)) == ["0", "1000", "2000", "3"], labels


TUNNEL_TYPE = {"vxlan": 1, "geneve": 2, "gre": 3, "nvgre": 4, "erspan": 5, "pptp": 6,
               "gtpu": 7, "ipip": 8, "mplsudp": 9, "mplspw": 10, "teredo": 11, "ayiya": 12}


def tunnel_scenario():
    """VXLAN over IPv4, GTP-U over IPv6 (a TEID each way), IPv6 in GRE with a key."""
    import tunnelgen as tg
    sc = g.Scenario()
    with sc.tunnel(tg.Tunnel("vxlan", "203.0.113.1", "203.0.113.2", id=4242)):
        sc.tcp_session(0.0, "10.0.0.1", "10.0.0.2", 1000, 80)
    with sc.tunnel(tg.Tunnel("gtpu", "2001:db8:1::1", "2001:db8:1::2", teid=(0x1001, 0x2002))):
        sc.udp_exchange(0.1, "10.0.1.1", "10.0.1.2", 5000, 53)
    with sc.tunnel(tg.Tunnel("gre", "203.0.113.5", "203.0.113.6", id=77)):
        sc.ping(0.2, "2001:db8::5", "2001:db8::6")
    sc.udp_exchange(0.3, "198.18.0.3", "198.19.0.3", 7000, 7001)  # not tunnelled
    return sc


@pytest.mark.skipif(not IPFIXDUMP, reason="libfixbuf-tools (ipfixDump) not installed")
@pytest.mark.parametrize("uniflow", [False, True])
def test_ipfix_tunnel_fields(tmp_path, uniflow):
    """Tunnelled flows use the tunnel templates (inner x outer IP version),
    the others the plain ones; layer2SegmentId holds the VXLAN VNI, jcap's
    elements the type, the other ids (a GTP-U TEID each way) and the outer
    addresses, all as -F json has them."""
    pcap = tmp_path / "t.pcap"
    tunnel_scenario().write(pcap)
    out = tmp_path / "t.ipfix"
    extra = ["--uniflow"] if uniflow else []
    recs, _ = run_json(pcap, "--export", "ipfix-file:%s" % out, "--fields",
                       "tunnel,community_id", "--ipfix-pen", str(PEN), *extra)
    base = 258 if uniflow else 256
    tun = 266 if uniflow else 262
    dump = [(tid, f) for tid, f in ipfixdump(out) if tid not in (260, 261)]
    assert len(dump) == len(recs) == (8 if uniflow else 4)
    for tid, f in dump:
        v4 = "sourceIPv4Address" in f
        src = f["sourceIPv4Address" if v4 else "sourceIPv6Address"]
        dst = f["destinationIPv4Address" if v4 else "destinationIPv6Address"]
        r = next(x for x in recs if key(x["src_ip"], x["dst_ip"], 0, 0)[:2] ==
                 key(src, dst, 0, 0)[:2])
        assert f["jcapCommunityId"] == "(len: 30) " + r["community_id"]
        if "tunnel_type" not in r:
            assert tid == base + (0 if v4 else 1)
            assert "layer2SegmentId" not in f and "jcapTunnelType" not in f
            continue
        o6 = ":" in r["outer_src_ip"]
        assert tid == tun + (0 if v4 else 2) + (1 if o6 else 0)
        assert int(f["jcapTunnelType"]) == TUNNEL_TYPE[r["tunnel_type"]]
        vni = r["tunnel_type"] == "vxlan"
        assert int(f["layer2SegmentId"]) == ((1 << 56 | r["tunnel_id"]) if vni else 0)
        assert int(f["jcapTunnelId"]) == (0 if vni else r["tunnel_id"])
        if not uniflow:
            assert int(f["reverseJcapTunnelId"]) == \
                (0 if vni else r.get("rev_tunnel_id", r["tunnel_id"]))
        o = "IPv6Address" if o6 else "IPv4Address"
        assert ipaddress.ip_address(f["jcapOuterSource" + o]) == \
            ipaddress.ip_address(r["outer_src_ip"])
        assert ipaddress.ip_address(f["jcapOuterDestination" + o]) == \
            ipaddress.ip_address(r["outer_dst_ip"])


def mpls_nfdump(labels, i):
    """nfdump's "label-exp-S" of stack entry @i."""
    if i >= len(labels):
        return "0-0-0"
    return "%d-0-%d" % (labels[i], 1 if i == len(labels) - 1 else 0)


@pytest.mark.skipif(not (NFCAPD and NFDUMP), reason="nfdump not installed")
@pytest.mark.parametrize("kind", ["ipfix", "netflow9"])
def test_nfdump_link_fields(tmp_path, kind):
    """nfdump 1.7 shows MACs, MPLS labels, the outer VLAN, TOS and the
    interface of each uniflow record as -F json --uniflow has them (it does
    not decode dot1qCustomerVlanId, TTLs or jcap's own elements)."""
    pcap = tmp_path / "s.pcap"
    scenario().write(pcap)
    nf = Nfcapd(tmp_path, kind)
    try:
        recs, _ = run_json(pcap, "--uniflow", "--fields",
                           "all,-tunnel,-community_id,-app,-tcp,-geo",
                           "--export", "%s://127.0.0.1:%d" % (kind, nf.port))
    finally:
        flows, log = nf.stop()
    js = by_key(recs)
    assert len(flows) == len(js) == 9, log
    for n in flows:
        src, dst = n.get("src4_addr") or n["src6_addr"], n.get("dst4_addr") or n["dst6_addr"]
        if "src4_addr" in n:
            r = js[key(src, dst, n["src_port"], n["dst_port"])]
        else:
            r = next(v for k, v in js.items() if k[:2] == key(src, dst, 0, 0)[:2])
        labels = r.get("mpls_labels", [])
        assert (n["in_src_mac"], n["in_dst_mac"], n["src_vlan"], n["src_tos"],
                n["input_snmp"], n["in_packets"], n["in_bytes"]) == \
            (r["src_mac"], r["dst_mac"], r["vlan"], r["tos"], r["interface"], r["packets"],
             r["bytes"])
        assert [n["mpls_%d" % (i + 1)] for i in range(3)] == \
            [mpls_nfdump(labels, i) for i in range(3)]


# --------------------------------------------------------------------------
# sampling


def sampled_truth(sc, n):
    """Deterministic 1-in-@n over the file's packets, one worker: the kept
    packets per address pair (both directions together)."""
    out = collections.Counter()
    for i, p in enumerate(sc.packets()):
        if i % n == 0 and p.key and p.verdict == "ok":
            k = p.key
            out[tuple(sorted([(k[2], k[3]), (k[4], k[5])]))] += 1
    return out


def test_sample_deterministic_exact(tmp_path):
    sc = g.scenario_mixed(seed=5, flows=60)
    pcap = tmp_path / "s.pcap"
    sc.write(pcap)
    total = len(sc.packets())
    recs, st = run_json(pcap, "--sample", "4")
    kept = (total + 3) // 4
    assert st["skipped"]["sampled_out"] == total - kept
    assert st["packets_read"] == total
    assert st["packets_in_flows"] + sum(st["skipped"].values()) == total
    want = sampled_truth(sc, 4)
    got = collections.Counter()
    for r in recs:
        a, b = g.addr(r["src_ip"])[1], g.addr(r["dst_ip"])[1]
        k = tuple(sorted([(a, r["src_port"]), (b, r["dst_port"])]))
        got[k] += r["packets"] + r["rev_packets"]
    assert sum(got.values()) == sum(want.values()) == st["packets_in_flows"]
    assert got == want


def test_sample_random_conserves(tmp_path):
    sc = g.scenario_mixed(seed=6, flows=80)
    pcap = tmp_path / "s.pcap"
    sc.write(pcap)
    total = len(sc.packets())
    recs, st = run_json(pcap, "--sample", "3:random")
    assert 0 < st["skipped"]["sampled_out"] < total
    assert st["packets_in_flows"] + sum(st["skipped"].values()) == total
    assert sum(r["packets"] + r["rev_packets"] for r in recs) == st["packets_in_flows"]


@pytest.mark.skipif(not IPFIXDUMP, reason="libfixbuf-tools (ipfixDump) not installed")
@pytest.mark.parametrize("scale", [False, True])
def test_sampling_options_ipfix(tmp_path, scale):
    """The options record says 1 in 4, systematic; --sample-scale multiplies
    the counters by 4 (JSON keeps the metered counts)."""
    sc = g.scenario_mixed(seed=7, flows=30)
    pcap = tmp_path / "s.pcap"
    sc.write(pcap)
    out = tmp_path / "a.ipfix"
    recs, _ = run_json(pcap, "--sample", "4", "--export", "ipfix-file:%s" % out,
                       *(["--sample-scale"] if scale else []))
    dump = ipfixdump(out)
    samp = [f for tid, f in dump if tid == 261]
    assert len(samp) == 1
    s = samp[0]
    assert (s["samplingInterval"], s["samplingAlgorithm"], s["selectorAlgorithm"],
            s["samplingPacketInterval"], s["samplingPacketSpace"]) == ("4", "1", "1", "1", "3")
    mult = 4 if scale else 1
    flows = [f for tid, f in dump if tid in (256, 257)]
    assert sum(int(f["packetDeltaCount"]) + int(f["reversePacketDeltaCount"])
               for f in flows) == mult * sum(r["packets"] + r["rev_packets"] for r in recs)
    assert sum(int(f["octetDeltaCount"]) + int(f["reverseOctetDeltaCount"])
               for f in flows) == mult * sum(r["bytes"] + r["rev_bytes"] for r in recs)


@pytest.mark.skipif(not TSHARK, reason="tshark not installed")
def test_sampling_options_v9_tshark(tmp_path):
    sc = g.scenario_mixed(seed=8, flows=10)
    pcap = tmp_path / "s.pcap"
    sc.write(pcap)
    sink = UdpSink()
    try:
        run_json(pcap, "--sample", "5:random", "--export", "netflow9://127.0.0.1:%d" % sink.port)
    finally:
        dgrams = sink.stop()
    cap = tmp_path / "v9.pcap"
    write_pcap(dgrams, sink.port, cap)
    p = subprocess.run([TSHARK, "-n", "-r", str(cap), "-d", "udp.port==%d,cflow" % sink.port,
                        "-T", "fields", "-e", "cflow.sampling_interval",
                        "-e", "cflow.sampling_algorithm"], capture_output=True, text=True,
                       timeout=T)
    assert p.returncode == 0, p.stderr
    vals = {tuple(ln.split("\t")) for ln in p.stdout.splitlines() if ln.strip("\t")}
    assert vals == {("5", "2")}, p.stdout


@pytest.mark.parametrize("mode,word", [("4", 1 << 14 | 4), ("4:random", 2 << 14 | 4)])
def test_sampling_v5_header(tmp_path, mode, word):
    """NetFlow v5: the header's sampling field, mode in the top two bits."""
    sc = g.scenario_mixed(seed=8, flows=10)
    pcap = tmp_path / "s.pcap"
    sc.write(pcap)
    sink = UdpSink()
    try:
        run_json(pcap, "--sample", mode, "--export", "netflow5://127.0.0.1:%d" % sink.port)
    finally:
        dgrams = sink.stop()
    assert dgrams and {be(d, 22, 2) for d in dgrams} == {word}


# --------------------------------------------------------------------------
# pacing


def nfdump_totals(nf):
    flows, log = nf.stop()
    return (len(flows), sum(f["in_packets"] for f in flows),
            sum(f["in_bytes"] for f in flows)), log


@pytest.mark.skipif(not (NFCAPD and NFDUMP), reason="nfdump not installed")
@pytest.mark.parametrize("kind", ["ipfix", "netflow9"])
def test_default_nfcapd_keeps_every_record(tmp_path, kind):
    """A file's uniflow records into a default-configured nfcapd on this
    machine: the default pacing lets it store every one, exactly."""
    sc = g.scenario_many(seed=3, flows=6000, rounds=1)
    pcap = tmp_path / "many.pcap"
    sc.write(pcap)
    nf = Nfcapd(tmp_path, kind)
    try:
        recs, st = run_json(pcap, "--uniflow", "--export",
                            "%s://127.0.0.1:%d" % (kind, nf.port))
    finally:
        got, log = nfdump_totals(nf)
    want = (len(recs), sum(r["packets"] for r in recs), sum(r["bytes"] for r in recs))
    assert want[0] == 6000
    assert st["export"]["errors"] == 0
    assert got == want, log[-2000:]


def test_export_rate_records_complete(tmp_path):
    """An explicit slow rate (records/s) and a bit rate: every record arrives,
    in complete messages (no timing asserted)."""
    sc = g.scenario_mixed(seed=9, flows=300)
    pcap = tmp_path / "s.pcap"
    sc.write(pcap)
    for rate in ("5000", "20mbit"):
        sink = UdpSink()
        try:
            recs, st = run_json(pcap, "--uniflow", "--export-rate", rate, "--export",
                                "ipfix://127.0.0.1:%d" % sink.port)
        finally:
            dgrams = sink.stop()
        templates, n = {}, 0
        for d in dgrams:
            assert be(d, 2, 2) == len(d)
            _, _, data = parse_sets(d, 16, len(d), 10, templates)
            n += sum(len(v) for t, v in data.items() if t in (258, 259))
            pk = [record_fields(templates[t], x) for t, v in data.items() if t in (258, 259)
                  for x in v]
            assert all(r[(0, 2)] > 0 for r in pk)
        assert n == sum((r["packets"] > 0) + (r["rev_packets"] > 0) for r in recs)
    p = jt.run(["-r", pcap, "-q", "--export-rate", "fast"], timeout=T)
    assert p.returncode == 2 and "--export-rate: 'fast': expected records/s" in p.stderr
