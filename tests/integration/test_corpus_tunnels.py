# SPDX-License-Identifier: BSD-3-Clause
"""jcap's inner flows against tshark's innermost dissection on the tunnel
captures of ../shared/corpus (issue 11). For every packet tshark gives
`-T fields -E occurrence=a`; the innermost IP header is the last ip/ipv6
layer of frame.protocols before any icmp layer (an ICMP error quotes
another IP header), its L4 the first tcp/udp/sctp/icmp layer after it. The
set of conversations (addresses, ports; ICMP keyed by type/code as jcap keys
it) and each one's packets and bytes per sending endpoint must equal jcap's
records summed per conversation. tshark runs with IPv4 reassembly off: jcap
does not reassemble, it meters a fragmented tunnel packet as its outer flow
(a later fragment gets the ports of its first), and so does this reference.
Without the corpus or tshark every test skips, saying which."""
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import jcaptest as jt  # noqa: E402
import pcapgen as g  # noqa: E402

CORPUS = os.path.join(jt.shared_dir(), "corpus")
FILES = [
    "ndpi/vxlan.pcap", "zeek/vxlan.pcap", "tcpdump/gso-ipv4-vxlan-ipv4.pcap",
    "pcapplusplus/gtp-u.pcap", "ndpi/ipv6_in_gtp.pcap",
    "zeek/gtp1_gn_normal_incl_fragmentation.pcap", "ndpi/4in4tunnel.pcap",
    "tcpdump/erspan-type-iii-ft-7.pcap", "zeek/erspan.pcap", "zeek/mixed-vlan-mpls.pcap",
    "pcapplusplus/MplsPackets.pcap", "tcpdump/pptp.pcap", "ndpi/teredo.pcap",
    "zeek/ayiya3.pcap",
]
FIELDS = ("frame.protocols", "ip.src", "ip.dst", "ip.len", "ip.proto", "ip.flags.mf",
          "ip.frag_offset", "ip.id", "ipv6.src", "ipv6.dst", "ipv6.plen", "ipv6.nxt",
          "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport", "sctp.srcport",
          "sctp.dstport", "icmp.type", "icmp.code", "icmpv6.type", "icmpv6.code")
L4 = {"tcp": 6, "udp": 17, "sctp": 132, "icmp": 1, "icmpv6": 58}


def tshark_rows(path):
    cmd = ["tshark", "-n", "-r", path, "-o", "ip.defragment:FALSE", "-T", "fields",
           "-E", "occurrence=a", "-E", "separator=|", "-E", "aggregator=,"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout
    rows = []
    for line in out.splitlines():
        vals = line.split("|")
        rows.append({f: (v.split(",") if v else []) for f, v in zip(FIELDS, vals)})
    return rows


def innermost(r, frags):
    """(ipver, proto, (src, sport), (dst, dport), bytes) of one tshark row."""
    layers = r["frame.protocols"][0].split(":")
    stop = next((i for i, x in enumerate(layers) if x in ("icmp", "icmpv6")), len(layers))
    ips = [i for i, x in enumerate(layers[:stop]) if x in ("ip", "ipv6")]
    if r["ip.src"] and (r["ip.flags.mf"][0] == "1" or r["ip.frag_offset"][0] != "0"):
        ips = ips[:1]  # an outer fragment: jcap meters the outer flow
    at = ips[-1]
    fam = layers[at]
    k = sum(1 for x in layers[:at] if x == fam)
    if fam == "ip":
        v, src, dst = 4, r["ip.src"][k], r["ip.dst"][k]
        size, proto = int(r["ip.len"][k]), int(r["ip.proto"][k])
    else:
        v, src, dst = 6, r["ipv6.src"][k], r["ipv6.dst"][k]
        size, proto = int(r["ipv6.plen"][k]) + 40, int(r["ipv6.nxt"][k])
    nxt = next((i for i in range(at + 1, len(layers)) if not layers[i].startswith("ipv6.")),
               None)  # the layer after the IP header and its extension headers
    l4 = nxt if nxt is not None and layers[nxt] in L4 else None
    sp = dp = 0
    if l4 is not None:
        name = layers[l4]
        n = sum(1 for x in layers[:l4] if x == name)
        proto = L4[name]
        if name in ("icmp", "icmpv6"):
            t, c = int(r[name + ".type"][n]), int(r[name + ".code"][n])
            sp = dp = g.icmp_key_port(proto, t, c)
        else:
            sp, dp = int(r[name + ".srcport"][n]), int(r[name + ".dstport"][n])
    if fam == "ip" and k == 0 and r["ip.flags.mf"][0] + r["ip.frag_offset"][0] != "00":
        fid = (src, dst, r["ip.id"][0], proto)
        if r["ip.frag_offset"][0] == "0":
            frags[fid] = (sp, dp)
        else:
            sp, dp = frags.get(fid, (None, None))
    return v, proto, (jt.ip_norm(src), sp), (jt.ip_norm(dst), dp), size


def conversations(items):
    """{(ipver, proto, endpoints): {sending endpoint: [packets, bytes]}}."""
    out = {}
    for v, proto, a, b, n, size in items:
        d = out.setdefault((v, proto, tuple(sorted([a, b]))), {})
        x = d.setdefault(a, [0, 0])
        x[0] += n
        x[1] += size
    return out


@pytest.mark.parametrize("name", FILES)
def test_inner_flows_match_tshark(name):
    path = os.path.join(CORPUS, name)
    if not os.path.exists(path):
        pytest.skip("%s not in the corpus (a clone without ../shared)" % name)
    if not shutil.which("tshark"):
        pytest.skip("tshark not installed")
    frags = {}
    ref = [innermost(r, frags) for r in tshark_rows(path)]
    recs, stats = jt.meter(path)
    assert sum(stats["skipped"].values()) == 0, stats["skipped"]
    assert stats["packets_read"] == len(ref)
    want = conversations((v, p, a, b, 1, size) for v, p, a, b, size in ref)
    got = []
    for r in recs:
        a = (jt.ip_norm(r["src_ip"]), r["src_port"])
        b = (jt.ip_norm(r["dst_ip"]), r["dst_port"])
        got.append((r["ip_version"], r["proto"], a, b, r["packets"], r["bytes"]))
        got.append((r["ip_version"], r["proto"], b, a, r["rev_packets"], r["rev_bytes"]))
    got = conversations(x for x in got if x[4])
    assert got == want


def test_tunnel_fields_on_corpus():
    """Tunnel type, id and outer addresses of a few known conversations."""
    path = os.path.join(CORPUS, "pcapplusplus/gtp-u.pcap")
    if not os.path.exists(path):
        pytest.skip("no corpus at %s" % CORPUS)
    recs, _ = jt.meter(path)
    tun = sorted((r["tunnel_type"], r["tunnel_id"], r.get("rev_tunnel_id"), r["outer_src_ip"],
                  r["outer_dst_ip"]) for r in recs if "tunnel_type" in r)
    assert tun and all(t[0] == "gtpu" for t in tun), tun
