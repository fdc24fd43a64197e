# SPDX-License-Identifier: BSD-3-Clause
"""tunnelgen: encapsulation layers for pcapgen scenarios, with exact truth.

    sc = pcapgen.Scenario()
    with sc.tunnel(Tunnel("vxlan", "203.0.113.1", "203.0.113.2", id=100)):
        sc.tcp_session(0.0, C, S, 1000, 80)

Every packet added inside the block is wrapped in the layers (outermost
first). Side a of a layer sends the packets whose inner source is the first
inner source seen in the block; b sends the others. Pkt.tun then carries what
the meter must report: the innermost tunnel's type and id (as JSON names
it), the TEID of the direction, the outermost IP endpoints, the innermost
Ethernet MACs, the MPLS labels of the outermost stack, the nesting depth, and
the outer flow's key and IP length (for --decap none).
Formats: RFC 7348 (VXLAN), RFC 8926 (Geneve), RFC 2784/2890 (GRE), RFC 7637
(NVGRE), ERSPAN types I/II/III, 3GPP TS 29.281 (GTP-U v1), RFC 2003/2473
(IP-in-IP), RFC 7510 (MPLS over UDP), RFC 4448/4385 (Ethernet pseudowire with
control word), RFC 4380 (Teredo) and AYIYA.
"""

import struct

import pcapgen as g

KINDS = ("vxlan", "geneve", "gre", "nvgre", "erspan1", "erspan2", "erspan3", "gtpu", "ipip",
         "mplsudp", "mplspw", "teredo", "ayiya")

# JSON tunnel_type of each kind, and whether its key carries an id
TYPE_NAME = {"vxlan": "vxlan", "geneve": "geneve", "gre": "gre", "nvgre": "nvgre",
             "erspan1": "erspan", "erspan2": "erspan", "erspan3": "erspan", "gtpu": "gtpu",
             "ipip": "ipip", "mplsudp": "mplsudp", "mplspw": "mplspw", "teredo": "teredo",
             "ayiya": "ayiya"}
HAS_ID = ("vxlan", "geneve", "gre", "nvgre", "erspan", "pptp", "gtpu")
ETHERNET_INSIDE = ("vxlan", "geneve", "nvgre", "erspan1", "erspan2", "erspan3", "mplspw")

ETH_TEB, ETH_ERSPAN2, ETH_ERSPAN3 = 0x6558, 0x88BE, 0x22EB
GRE_C, GRE_K, GRE_S = 0x8000, 0x2000, 0x1000
OUTER_TTL = 40  # outer headers' TTL; inner packets keep pcapgen's (64 by default)


def label_stack(labels, exp=0):
    out = b""
    for i, lab in enumerate(labels):
        out += struct.pack("!I", lab << 12 | exp << 9 | (i == len(labels) - 1) << 8 | 64)
    return out


def lse(label, exp=0, bos=0):
    """A label stack entry as the meter keeps it: label << 4 | exp << 1 | s."""
    return label << 4 | exp << 1 | bos


class Tunnel:
    """One encapsulation layer (KINDS). a, b: outer endpoints (IPv4 or IPv6
    text). id: VNI, GRE key (None: no key), NVGRE VSID, ERSPAN session.
    teid: GTP-U TEIDs (a -> b, b -> a). labels: MPLS stack (mplsudp,
    mplspw). seq/csum: GRE sequence number / checksum fields. gtp_ext: a
    GTP-U PDU session container extension header. opts: Geneve option
    words. mpls_in_gre: GRE carries an MPLS stack (labels) before the IP."""

    def __init__(self, kind, a="203.0.113.1", b="203.0.113.2", id=0, teid=(0x1001, 0x2002),
                 labels=(1000,), seq=False, csum=False, gtp_ext=False, opts=0, sport=None,
                 mpls_in_gre=False):
        if kind not in KINDS:
            raise ValueError("unknown tunnel kind " + kind)
        self.kind, self.a, self.b, self.id = kind, a, b, id
        self.teid, self.labels, self.seq, self.csum = teid, tuple(labels), seq, csum
        self.gtp_ext, self.opts, self.mpls_in_gre = gtp_ext, opts, mpls_in_gre
        self.sport = sport if sport is not None else 49152 + (id or 0) % 4096
        self.mac_a, self.mac_b = g.mac(0xA0 + (id or 0) % 16, 0x0A), g.mac(0xB0, 0x0A)

    @property
    def type_name(self):
        if self.kind == "gre" and self.mpls_in_gre:
            return "gre"
        return TYPE_NAME[self.kind]

    def key_id(self):
        """tunnel_id in the flow key (0 where the tunnel has none in it)."""
        if self.kind in ("vxlan", "geneve", "nvgre", "erspan2", "erspan3"):
            return self.id
        if self.kind == "gre":
            return self.id or 0
        return 0

    def has_ip_outer(self):
        return self.kind != "mplspw"

    def mpls(self):
        """Label stack entries this layer adds (top three), [] if none."""
        if self.kind in ("mplsudp", "mplspw") or (self.kind == "gre" and self.mpls_in_gre):
            n = len(self.labels)
            return [lse(lab, 0, i == n - 1) for i, lab in enumerate(self.labels)][:3]
        return []

    def macs(self, fwd):
        return (self.mac_a, self.mac_b) if fwd else (self.mac_b, self.mac_a)

    # ---- wire
    def _eth(self, inner, et, fwd):
        s, d = self.macs(fwd)
        return g.ethernet(inner, et, src_mac=s, dst_mac=d, pad=False)

    def _gre(self, proto, payload, key=None, seq=False):
        fl = (GRE_C if self.csum else 0) | (GRE_K if key is not None else 0) | \
            (GRE_S if seq else 0)
        hdr = struct.pack("!HH", fl, proto)
        if self.csum:
            hdr += struct.pack("!HH", 0, 0)
        if key is not None:
            hdr += struct.pack("!I", key)
        if seq:
            hdr += struct.pack("!I", 7)
        return hdr + payload

    def ports(self, fwd):
        """Outer UDP (sport, dport) of a direction."""
        dport = {"vxlan": 4789, "geneve": 6081, "gtpu": 2152, "mplsudp": 6635,
                 "ayiya": 5072}.get(self.kind)
        if self.kind == "gtpu":
            return 2152, 2152
        if self.kind == "ayiya":
            return 5072, 5072
        if self.kind == "teredo":
            return (3544, 40000) if fwd else (40000, 3544)
        return self.sport, dport

    def payload(self, inner, et, fwd):
        """(outer L4 proto, its payload) around @inner (an IP packet of
        ethertype @et) for direction @fwd (a -> b)."""
        k = self.kind
        if k == "vxlan":
            return 17, struct.pack("!BxxxI", 0x08, self.id << 8) + self._eth(inner, et, fwd)
        if k == "geneve":
            opt = b"".join(struct.pack("!HBBI", 0x0102, 0x80, 1, i) for i in range(self.opts))
            hdr = struct.pack("!BBHI", (2 * self.opts) & 0x3F, 0, ETH_TEB, self.id << 8)
            return 17, hdr + opt + self._eth(inner, et, fwd)
        if k == "gre":
            if self.mpls_in_gre:
                return 47, self._gre(g.ETH_MPLS, label_stack(self.labels) + inner, self.id,
                                     self.seq)
            return 47, self._gre(et, inner, self.id, self.seq)
        if k == "nvgre":
            return 47, self._gre(ETH_TEB, self._eth(inner, et, fwd), self.id << 8 | 0x5A)
        if k == "erspan1":
            return 47, self._gre(ETH_ERSPAN2, self._eth(inner, et, fwd))
        if k == "erspan2":
            hdr = struct.pack("!HHI", 1 << 12, self.id & 0x3FF, 0)
            return 47, self._gre(ETH_ERSPAN2, hdr + self._eth(inner, et, fwd), seq=True)
        if k == "erspan3":
            hdr = struct.pack("!HHIHH", 2 << 12, self.id & 0x3FF, 12345, 0, 1 << 4)
            return 47, self._gre(ETH_ERSPAN3, hdr + self._eth(inner, et, fwd), seq=True)
        if k == "gtpu":
            teid = self.teid[0] if fwd else self.teid[1]
            body = inner
            fl = 0x30
            if self.gtp_ext:  # sequence, N-PDU, next type 0x85; one 4-byte extension
                fl |= 0x04
                body = struct.pack("!HBB", 1, 0, 0x85) + bytes([1, 0, 9, 0]) + inner
            return 17, struct.pack("!BBHI", fl, 0xFF, len(body), teid) + body
        if k == "ipip":
            return (4 if et == g.ETH_IPV4 else 41), inner
        if k == "mplsudp":
            return 17, label_stack(self.labels) + inner
        if k == "teredo":
            if et != g.ETH_IPV6:
                raise ValueError("Teredo carries IPv6")
            return 17, inner
        if k == "ayiya":
            nh = 41 if et == g.ETH_IPV6 else 4
            hdr = struct.pack("!BBBBI", 4 << 4 | 1, 5 << 4 | 2, 1 << 4 | 1, nh, 1700000000)
            return 17, hdr + b"\x11" * 16 + b"\x22" * 20 + inner
        raise ValueError("mplspw is a link-level layer")

    def wrap(self, inner, et, fwd, vlan=0):
        """(outer IP packet or None, its ethertype, outer key, frame) where
        frame is (ethertype, payload) for a pseudowire, else None."""
        if self.kind == "mplspw":
            body = label_stack(self.labels) + b"\0\0\0\0" + self._eth(inner, et, fwd)
            return None, g.ETH_MPLS, None, (g.ETH_MPLS, body)
        proto, pl = self.payload(inner, et, fwd)
        src, dst = (self.a, self.b) if fwd else (self.b, self.a)
        v, s = g.addr(src)
        _, d = g.addr(dst)
        sp = dp = 0
        if proto == 17:
            sp, dp = self.ports(fwd)
            pl = g.udp(src, dst, sp, dp, pl)
        if v == 4:
            pkt = g.ipv4(src, dst, proto, pl, ttl=OUTER_TTL)
            oet = g.ETH_IPV4
        else:
            pkt = g.ipv6(src, dst, proto, pl, hlim=OUTER_TTL)
            oet = g.ETH_IPV6
        return pkt, oet, (v, proto, s, sp, d, dp, vlan), None
