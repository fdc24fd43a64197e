#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""pcapgen: deterministic test traffic with exact per-flow truth.

Standard library only. Three layers:

* packet builders (IPv4 with options, IPv6 with extension headers, TCP, UDP,
  ICMP, ICMPv6, IPv4/IPv6 fragmentation, Ethernet with VLAN/QinQ tags, MPLS
  and PPPoE, Linux SLL/SLL2, BSD null, raw IP) with correct checksums;
* file writers: classic pcap (micro/nanosecond magic, either byte order) and
  pcapng (one or several interfaces, a link type and if_tsresol each);
* a Scenario that collects packets described at the IP layer, renders them
  for any link type and computes the flow records a meter must report.

Expiry model of Scenario.expected() (the same as src/flow/flow.h states;
the meter under test must agree). Packets are taken in file order; the flow
of a packet is keyed by the unordered address/port pair + proto + outer VLAN
(uniflow: the ordered pair). Before a packet is counted, its flow ends when
  - now - last > idle_timeout: "idle" ("end" if the flow was closing);
  - the flow is closing and now - last > close_timeout (5 s): "end";
  - the flow is closing and the packet is a SYN without ACK: "end";
  - now - first >= active_timeout: "active";
and the packet then starts a new record. A TCP flow is closing once it has
seen an RST, or a FIN from both sides (uniflow: a FIN); later packets (the
last ACK of a FIN/FIN teardown) still count in it. At the end of the file
closing flows end "end" and the others "shutdown". Scenarios keep clear of
the boundaries (gaps equal to a timeout; flows already idle at the end of
the file, listed in Expected.ambiguous), so an engine that also expires by
sweeping its table gives the same records.
src is the sender of a record's first packet, except TCP: the sender of a
SYN (the receiver of a SYN-ACK) if the record has one. bytes are IP-layer
octets (IPv4 total length, IPv6 payload length + 40). Non-first fragments
belong to the flow of their first fragment when that was seen before them
(within frag_timeout), else they are skipped as fragment_unmatched; they
carry no TCP flags.
"""

import argparse
import contextlib
import ipaddress
import json
import random
import struct
import sys

# --------------------------------------------------------------------------
# constants

LINKTYPE = {"null": 0, "eth": 1, "raw": 101, "sll": 113, "sll2": 276}
LINK_NAMES = {v: k for k, v in LINKTYPE.items()}

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80

ETH_IPV4, ETH_IPV6, ETH_ARP, ETH_VLAN, ETH_QINQ = 0x0800, 0x86DD, 0x0806, 0x8100, 0x88A8
ETH_MPLS, ETH_PPPOE_SES, ETH_LLDP = 0x8847, 0x8864, 0x88CC

SKIP_REASONS = ("non_ip", "truncated", "malformed", "unsupported_link",
                "fragment_unmatched", "filtered", "flow_disabled", "sampled_out",
                "tunnel_too_deep")

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D

TUNNEL_DEPTH = 4  # decapsulations per packet; deeper: tunnel_too_deep

T0_NS = 1_700_000_000 * 10**9
SEC = 10**9
MS = 10**6
US = 10**3


# --------------------------------------------------------------------------
# helpers


def checksum(data):
    """Internet checksum (RFC 1071) of bytes."""
    if len(data) & 1:
        data = data + b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


# ICMP/ICMPv6 replies and their requests (Community ID's pairs): the meter
# keys both halves of an exchange by the request's type.
ICMP_REQUEST_OF = {1: {0: 8, 14: 13, 16: 15, 9: 10, 18: 17},
                   58: {129: 128, 134: 133, 136: 135, 131: 130, 140: 139, 145: 144}}


def icmp_key_port(proto, itype, code):
    """Both key ports of an ICMP message: type << 8 | code, a reply's type
    mapped to its request's."""
    return ICMP_REQUEST_OF.get(proto, {}).get(itype, itype) << 8 | code


def addr(a):
    """Text or bytes address -> (version, packed bytes)."""
    if isinstance(a, (bytes, bytearray)):
        return (4 if len(a) == 4 else 6), bytes(a)
    ip = ipaddress.ip_address(a)
    return ip.version, ip.packed


def addr_text(packed):
    return str(ipaddress.ip_address(packed))


def _pseudo(src, dst, proto, length):
    v, s = addr(src)
    _, d = addr(dst)
    if v == 4:
        return s + d + struct.pack("!BBH", 0, proto, length)
    return s + d + struct.pack("!IxxxB", length, proto)


# --------------------------------------------------------------------------
# L4 builders (checksums over the pseudo header of src/dst)


def tcp(src, dst, sport, dport, flags, payload=b"", seq=0, ack=0, win=65535, doff=None,
        options=b""):
    """A TCP segment (header + payload) with a correct checksum."""
    if len(options) % 4:
        options += b"\x01" * (4 - len(options) % 4)
    off = doff if doff is not None else 5 + len(options) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      off << 4, flags, win, 0, 0) + options
    seg = hdr + payload
    c = checksum(_pseudo(src, dst, 6, len(seg)) + seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp(src, dst, sport, dport, payload=b""):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    c = checksum(_pseudo(src, dst, 17, len(seg)) + seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def icmp(itype, code=0, ident=0, seq=0, payload=b""):
    msg = struct.pack("!BBHHH", itype, code, 0, ident, seq) + payload
    c = checksum(msg)
    return msg[:2] + struct.pack("!H", c) + msg[4:]


def icmpv6(src, dst, itype, code=0, ident=0, seq=0, payload=b""):
    msg = struct.pack("!BBHHH", itype, code, 0, ident, seq) + payload
    c = checksum(_pseudo(src, dst, 58, len(msg)) + msg)
    return msg[:2] + struct.pack("!H", c) + msg[4:]


def sctp_common(sport, dport, vtag=1, chunks=b""):
    """SCTP common header (checksum left zero: meters do not verify it)."""
    return struct.pack("!HHII", sport, dport, vtag, 0) + chunks


# --------------------------------------------------------------------------
# L3 builders


def ipv4_options_rr(slots=2):
    """Record-route option padded to a multiple of 4 bytes."""
    ln = 3 + 4 * slots
    opt = struct.pack("!BBB", 7, ln, 4) + b"\0" * (4 * slots)
    return opt + b"\x00" * ((4 - len(opt) % 4) % 4)


def ipv4(src, dst, proto, payload, ident=0, ttl=64, df=False, mf=False, frag_off=0,
         options=b"", tos=0, total_len=None, ihl=None, version=4):
    """An IPv4 packet; frag_off in bytes (multiple of 8); checksum correct."""
    if len(options) % 4:
        raise ValueError("IPv4 options must be padded to 4 bytes")
    h_ihl = ihl if ihl is not None else 5 + len(options) // 4
    tl = total_len if total_len is not None else 20 + len(options) + len(payload)
    fl = (0x4000 if df else 0) | (0x2000 if mf else 0) | (frag_off // 8)
    _, s = addr(src)
    _, d = addr(dst)
    hdr = struct.pack("!BBHHHBBH4s4s", (version << 4) | h_ihl, tos, tl, ident, fl, ttl, proto,
                      0, s, d) + options
    c = checksum(hdr)
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


EXT_HOP, EXT_ROUTING, EXT_FRAG, EXT_DEST = 0, 43, 44, 60


def ipv6_ext(kind, nh, size=8):
    """One IPv6 extension header of @size bytes (multiple of 8) whose next
    header is @nh. kind: 'hop', 'dest' (PadN options) or 'routing' (type 0
    0, segments left 0, listing (size - 8) / 16 addresses)."""
    if size % 8 or size < 8:
        raise ValueError("extension header size must be a multiple of 8")
    body = size - 2
    if kind in ("hop", "dest"):
        opts = struct.pack("!BB", 1, body - 2) + b"\0" * (body - 2)  # PadN
        return struct.pack("!BB", nh, size // 8 - 1) + opts
    if kind == "routing":
        # type 0, segments left 0, then (size - 8) / 16 addresses (all used)
        if (size - 8) % 16:
            raise ValueError("routing header size must be 8 + 16 * n")
        n = (size - 8) // 16
        return struct.pack("!BBBBI", nh, size // 8 - 1, 0, 0, 0) + \
            b"".join(struct.pack("!QQ", 0x20010002000000FF, i + 1) for i in range(n))
    raise ValueError("unknown extension header " + kind)


_EXT_NUM = {"hop": EXT_HOP, "routing": EXT_ROUTING, "dest": EXT_DEST}


def ipv6(src, dst, nh, payload, ext=(), hlim=64, flow=0, plen=None, tclass=0):
    """An IPv6 packet; ext: sequence of 'hop'|'routing'|'dest' or (kind, size)."""
    chain = []
    for e in ext:
        chain.append(e if isinstance(e, tuple) else (e, 24 if e == "routing" else 8))
    body = payload
    nxt = nh
    for kind, size in reversed(chain):
        body = ipv6_ext(kind, nxt, size) + body
        nxt = _EXT_NUM[kind]
    _, s = addr(src)
    _, d = addr(dst)
    pl = plen if plen is not None else len(body)
    return struct.pack("!IHBB16s16s", (6 << 28) | (tclass << 20) | flow, pl, nxt, hlim,
                       s, d) + body


def fragment_ipv4(src, dst, proto, l4, chunk, ident, **kw):
    """Split the L4 bytes @l4 into IPv4 fragments of @chunk payload bytes
    (multiple of 8). Returns the list of IP packets, first fragment first."""
    if chunk % 8:
        raise ValueError("fragment chunk must be a multiple of 8")
    out = []
    for off in range(0, len(l4), chunk):
        piece = l4[off:off + chunk]
        out.append(ipv4(src, dst, proto, piece, ident=ident, mf=off + chunk < len(l4),
                        frag_off=off, **kw))
    return out


def fragment_ipv6(src, dst, nh, l4, chunk, ident, ext=()):
    """Split @l4 into IPv6 fragments (fragment header after the optional
    unfragmentable @ext headers)."""
    if chunk % 8:
        raise ValueError("fragment chunk must be a multiple of 8")
    out = []
    for off in range(0, len(l4), chunk):
        piece = l4[off:off + chunk]
        more = off + chunk < len(l4)
        fh = struct.pack("!BBHI", nh, 0, off | (1 if more else 0), ident)
        chain = list(ext)
        body = fh + piece
        nxt = EXT_FRAG
        for e in reversed(chain):
            kind, size = e if isinstance(e, tuple) else (e, 24 if e == "routing" else 8)
            body = ipv6_ext(kind, nxt, size) + body
            nxt = _EXT_NUM[kind]
        _, s = addr(src)
        _, d = addr(dst)
        out.append(struct.pack("!IHBB16s16s", 6 << 28, len(body), nxt, 64, s, d) + body)
    return out


# --------------------------------------------------------------------------
# L2 builders


def mac(n, oui=0x02):
    return bytes([oui, 0, (n >> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255])


def ethernet(payload, ethertype, src_mac=b"\x02\0\0\0\0\x01", dst_mac=b"\x02\0\0\0\0\x02",
             vlans=(), outer_tpid=ETH_VLAN, mpls=(), pppoe=None, pad=True):
    """Ethernet II frame. vlans: VIDs outermost first (the outermost uses
    @outer_tpid, 0x88a8 for 802.1ad QinQ, the others 0x8100); mpls: label
    stack (top first) below the tags; pppoe: session id (PPPoE session
    stage, PPP protocol IPv4/IPv6). Frames pad to 60 bytes like a NIC."""
    inner = payload
    et = ethertype
    if pppoe is not None:
        ppp = {ETH_IPV4: 0x0021, ETH_IPV6: 0x0057}.get(ethertype, 0xC021)
        body = struct.pack("!H", ppp) + inner
        inner = struct.pack("!BBHH", 0x11, 0, pppoe, len(body)) + body
        et = ETH_PPPOE_SES
    if mpls:
        stack = b""
        for i, label in enumerate(mpls):
            bos = 1 if i == len(mpls) - 1 else 0
            stack += struct.pack("!I", (label << 12) | (bos << 8) | 64)
        inner = stack + inner
        et = ETH_MPLS
    tags = b""
    for i, vid in enumerate(vlans):
        tpid = outer_tpid if i == 0 else ETH_VLAN
        nxt = struct.pack("!H", vid & 0xFFF)
        tags += struct.pack("!H", tpid) + nxt
    if tags:
        # each tag is TPID + TCI; the TPID of tag i+1 follows TCI i, and the
        # real ethertype follows the last TCI
        frame = dst_mac + src_mac + tags + struct.pack("!H", et) + inner
    else:
        frame = dst_mac + src_mac + struct.pack("!H", et) + inner
    if pad and len(frame) < 60:
        frame += b"\0" * (60 - len(frame))
    return frame


def eth_header_len(vlans=(), mpls=(), pppoe=None):
    return 14 + 4 * len(vlans) + 4 * len(mpls) + (8 if pppoe is not None else 0)


def sll(payload, proto, pkttype=0, hatype=1, lladdr=b"\x02\0\0\0\0\x01"):
    """Linux cooked capture v1 header (16 bytes) + payload."""
    a = lladdr[:8].ljust(8, b"\0")
    return struct.pack("!HHH8sH", pkttype, hatype, len(lladdr), a, proto) + payload


def sll2(payload, proto, ifindex=2, pkttype=0, hatype=1, lladdr=b"\x02\0\0\0\0\x01"):
    """Linux cooked capture v2 header (20 bytes) + payload."""
    a = lladdr[:8].ljust(8, b"\0")
    return struct.pack("!HHIHBB8s", proto, 0, ifindex, hatype, pkttype, len(lladdr), a) + payload


NULL_AF_INET, NULL_AF_INET6 = 2, 24


def null(payload, family, big_endian=False):
    """BSD loopback header: 4-byte address family in the writer's byte order."""
    return struct.pack(">I" if big_endian else "<I", family) + payload


# --------------------------------------------------------------------------
# writers. A record is (ts_ns, data, wirelen, iface).


def pcap_bytes(records, linktype, nano=False, big_endian=False, snaplen=65535, version=(2, 4)):
    """Classic pcap image. Raises ValueError when a microsecond file would
    lose timestamp precision."""
    e = ">" if big_endian else "<"
    magic = PCAP_MAGIC_NS if nano else PCAP_MAGIC_US
    out = [struct.pack(e + "IHHiIII", magic, version[0], version[1], 0, 0, snaplen, linktype)]
    div = 1 if nano else 1000
    for ts, data, wirelen, _ in records:
        if ts % div:
            raise ValueError("timestamp %d not representable in microseconds" % ts)
        sub = (ts % SEC) // div
        out.append(struct.pack(e + "IIII", ts // SEC, sub, len(data), wirelen))
        out.append(data)
    return b"".join(out)


def _pad4(b):
    return b + b"\0" * ((4 - len(b) % 4) % 4)


def _block(e, btype, body):
    ln = 12 + len(body)
    return struct.pack(e + "II", btype, ln) + body + struct.pack(e + "I", ln)


def _opt(e, code, value):
    return struct.pack(e + "HH", code, len(value)) + _pad4(value)


def pcapng_bytes(records, interfaces, big_endian=False, extras=False):
    """pcapng image: one section, @interfaces a list of (linktype, tsresol
    decimal exponent or None for the default 6, snaplen). Records name
    their interface by index. @extras: also the blocks and options a reader
    must step over (a name resolution block, packet options, custom blocks,
    interface statistics)."""
    e = ">" if big_endian else "<"
    shb = struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1) + _opt(e, 4, b"pcapgen") + \
        struct.pack(e + "HH", 0, 0)
    out = [_block(e, 0x0A0D0D0A, shb)]
    res = []
    for iface in interfaces:
        iface = tuple(iface)
        lt = iface[0]
        tsres = iface[1] if len(iface) > 1 else None
        snap = iface[2] if len(iface) > 2 else 65535
        opts = b""
        if tsres is not None:
            opts += _opt(e, 9, bytes([tsres]))
        opts += _opt(e, 2, b"if%d" % len(res))
        opts += struct.pack(e + "HH", 0, 0)
        out.append(_block(e, 1, struct.pack(e + "HHI", lt, 0, snap) + opts))
        res.append(10 ** (tsres if tsres is not None else 6))
    if extras:
        nrb = struct.pack(e + "HH", 1, 4 + 10) + _pad4(bytes([198, 18, 0, 1]) + b"host.test\0")
        nrb += struct.pack(e + "HH", 0, 0)
        out.append(_block(e, 4, nrb))
    for n, (ts, data, wirelen, iface) in enumerate(records):
        per_sec = res[iface]
        if (ts * per_sec) % SEC:
            raise ValueError("timestamp %d not representable at 10^-%d" % (
                ts, len(str(per_sec)) - 1))
        units = ts * per_sec // SEC
        body = struct.pack(e + "IIIII", iface, units >> 32, units & 0xFFFFFFFF, len(data),
                           wirelen) + _pad4(data)
        if extras:
            body += _opt(e, 1, b"packet %d" % n) + _opt(e, 2, struct.pack(e + "I", 1))
            body += struct.pack(e + "HH", 0, 0)
            if n % 5 == 0:  # a custom block (copyable), PEN 32473 (documentation)
                out.append(_block(e, 0x00000BAD, struct.pack(e + "I", 32473) + b"pcapgen!"))
        out.append(_block(e, 6, body))
    if extras and records:
        ts = records[-1][0] * res[0] // SEC
        isb = struct.pack(e + "III", 0, ts >> 32, ts & 0xFFFFFFFF) + \
            _opt(e, 4, struct.pack(e + "Q", len(records))) + struct.pack(e + "HH", 0, 0)
        out.append(_block(e, 5, isb))
    return b"".join(out)


# --------------------------------------------------------------------------
# scenario: packets with their expected meter verdicts


class Pkt:
    """One scenario packet, described at the IP layer plus L2 options."""

    __slots__ = ("ts", "ip", "l2", "frame", "cut", "verdict", "key", "ip_bytes", "flags",
                 "icmp", "frag", "seq", "l3", "ttl", "tos", "tun", "health")

    def __init__(self, ts, ip=None, l2=None, frame=None, cut=None, verdict="ok", key=None,
                 ip_bytes=0, flags=0, icmp=(0, 0), frag=None, l3=None):
        self.ts = ts
        self.ip = ip  # the IP packet bytes (None for non-IP frames)
        self.l2 = l2 or {}  # vlans/outer_tpid/mpls/pppoe (Ethernet only)
        self.frame = frame  # (ethertype, payload) for non-IP frames
        self.cut = cut  # captured bytes of the IP packet (None: all)
        self.verdict = verdict  # "ok" or a skip reason
        self.key = key  # (ipver, proto, src, sport, dst, dport, vlan), src = sender
        self.ip_bytes = ip_bytes
        self.flags = flags
        self.icmp = icmp
        self.frag = frag  # None or (fragment id tuple, is_first)
        self.l3 = l3  # ethertype of the IP packet
        self.seq = 0
        self.ttl, self.tos = 64, 0  # the (innermost) IP header's
        self.tun = None  # encapsulation truth (Scenario.tunnel), None: plain
        self.health = None  # TCP health truth of the record this packet starts


def render(p, link, big_endian=False, af6=NULL_AF_INET6):
    """(captured frame bytes, wire length) of @p on @link; @af6: the BSD
    null link's IPv6 family value (24 BSD, 28 FreeBSD, 30 macOS, 10 Linux)."""
    if p.ip is not None:
        et = p.l3
        payload = p.ip
    else:
        et, payload = p.frame
    if p.l2 and link != "eth":
        raise ValueError("VLAN/MPLS/PPPoE frames only exist on Ethernet")
    if link == "eth":
        frame = ethernet(payload, et, **p.l2)
        hl = eth_header_len(p.l2.get("vlans", ()), p.l2.get("mpls", ()), p.l2.get("pppoe"))
    elif link == "sll":
        frame, hl = sll(payload, et), 16
    elif link == "sll2":
        frame, hl = sll2(payload, et), 20
    elif link == "raw":
        if p.ip is None:
            raise ValueError("raw IP links carry no non-IP frames")
        frame, hl = payload, 0
    elif link == "null":
        if p.ip is None:
            raise ValueError("null links carry no non-IP frames here")
        fam = NULL_AF_INET if et == ETH_IPV4 else af6
        frame, hl = null(payload, fam, big_endian), 4
    else:
        # an unsupported link type: the bytes are an Ethernet frame anyway
        frame, hl = ethernet(payload, et, **p.l2), 14
    wire = len(frame)
    if p.cut is not None:
        frame = frame[:hl + p.cut] if p.cut >= 0 else frame[:hl + p.cut]
    return frame, wire


class Record:
    """An expected flow record. Both directions are kept by endpoint
    (address, port); src is decided when the record is emitted."""

    __slots__ = ("ipver", "proto", "vlan", "ends", "st", "src", "locked", "first_ns",
                 "last_ns", "icmp_type", "icmp_code", "end_reason", "fin", "rst", "path", "side",
                 "iface", "tun", "first_src", "health")

    def __init__(self, p, iface=0, link="eth"):
        ipver, proto, src, sport, dst, dport, vlan = p.key
        self.ipver, self.proto, self.vlan = ipver, proto, vlan
        a, b = (src, sport), (dst, dport)
        self.ends = (a, b)
        # per endpoint: [packets, bytes, flags, first, last]
        self.st = {a: [0, 0, 0, 0, 0], b: [0, 0, 0, 0, 0]}
        self.src = a
        self.locked = False
        if proto == 6 and p.flags & SYN:
            # SYN: the sender is src; SYN-ACK: the receiver sent the SYN
            self.src = b if p.flags & ACK else a
            self.locked = True
        self.first_ns = self.last_ns = p.ts
        self.icmp_type, self.icmp_code = p.icmp
        self.end_reason = None
        self.fin = set()
        self.rst = False
        # link and path identity (docs/TUNNELS.md): the first packet's, and
        # per endpoint its first packet's TOS, MACs, TEID and its TTL range
        self.iface, self.tun, self.first_src = iface, p.tun, a
        self.health = p.health  # the TCP-health scenarios' truth (tcp_* methods)
        self.path = _path_of(p, link)
        self.side = {a: None, b: None}

    @property
    def closing(self):
        return self.rst or len(self.fin) == 2

    def add(self, p, link="eth"):
        snd = (p.key[2], p.key[3])
        x = self.side[snd]
        if x is None:
            macs = _path_of(p, link)["macs"]
            teid = p.tun["teid"] if p.tun else None
            self.side[snd] = [p.tos, p.ttl, p.ttl, macs, teid]
        else:
            x[1], x[2] = min(x[1], p.ttl), max(x[2], p.ttl)
        s = self.st[snd]
        s[0] += 1
        s[1] += p.ip_bytes
        s[2] |= p.flags
        s[3] = s[3] or p.ts
        s[4] = p.ts
        self.last_ns = p.ts
        if self.proto == 6:
            if p.flags & FIN:
                self.fin.add(snd)
            if p.flags & RST:
                self.rst = True
            if p.flags & (SYN | ACK) == SYN and not self.locked:
                self.src = snd
                self.locked = True

    def as_dict(self):
        a = self.src
        b = self.ends[1] if a == self.ends[0] else self.ends[0]
        f, r = self.st[a], self.st[b]
        return {
            "src_ip": addr_text(a[0]), "dst_ip": addr_text(b[0]),
            "src_port": a[1], "dst_port": b[1], "proto": self.proto,
            "ip_version": self.ipver, "vlan": self.vlan,
            "packets": f[0], "bytes": f[1], "rev_packets": r[0], "rev_bytes": r[1],
            "tcp_flags": f[2], "rev_tcp_flags": r[2],
            "first_ns": self.first_ns, "last_ns": self.last_ns,
            "icmp_type": self.icmp_type, "icmp_code": self.icmp_code,
            "end_reason": self.end_reason,
            **self._path_fields(a, b),
            **(self.health or {}),
        }

    def _path_fields(self, a, b):
        """The issue-11 fields, each only where it applies (as jcap's JSON)."""
        out = {"interface": self.iface}
        xa, xb = self.side[a], self.side[b]
        if xa and xa[3]:
            out["src_mac"], out["dst_mac"] = mac_text(xa[3][0]), mac_text(xa[3][1])
        elif xb and xb[3]:
            out["src_mac"], out["dst_mac"] = mac_text(xb[3][1]), mac_text(xb[3][0])
        if self.path["vlan_inner"]:
            out["vlan_inner"] = self.path["vlan_inner"]
        if self.path["mpls"]:
            out["mpls_labels"] = [e >> 4 for e in self.path["mpls"]]
            out["mpls_exp"] = [(e >> 1) & 7 for e in self.path["mpls"]]
        t = self.tun
        if t:
            out["tunnel_type"] = t["type"]
            if t["type"] in ("vxlan", "geneve", "gre", "nvgre", "erspan", "pptp", "gtpu"):
                tid = rid = t["key_id"]
                if t["teid"] is not None:
                    tid = xa[4] if xa else 0
                    rid = xb[4] if xb else 0
                out["tunnel_id"] = tid
                if xb and rid != tid:
                    out["rev_tunnel_id"] = rid
            if t["outer"]:
                o = t["outer"] if self.first_src == a else t["outer"][::-1]
                out["outer_src_ip"], out["outer_dst_ip"] = addr_text(o[0]), addr_text(o[1])
        for pre, x in (("", xa), ("rev_", xb)):
            if x:
                out.update({pre + "tos": x[0], pre + "dscp": x[0] >> 2, pre + "min_ttl": x[1],
                            pre + "max_ttl": x[2]})
        return out


def mac_text(m):
    return ":".join("%02x" % c for c in m)


def _path_of(p, link):
    """MACs, inner VLAN and MPLS stack the meter sees on packet @p."""
    l2 = p.l2 or {}
    eth = link == "eth"
    macs = None
    if p.tun and p.tun["macs"]:
        macs = p.tun["macs"]
    elif eth:
        macs = (l2.get("src_mac", b"\x02\0\0\0\0\x01"), l2.get("dst_mac", b"\x02\0\0\0\0\x02"))
    vl = l2.get("vlans", ()) if eth else ()
    mpls = None
    if eth and l2.get("mpls"):
        n = len(l2["mpls"])
        mpls = [lab << 4 | (i == n - 1) for i, lab in enumerate(l2["mpls"])][:3]
    elif p.tun and p.tun["mpls"]:
        mpls = p.tun["mpls"]
    return {"macs": macs, "vlan_inner": vl[1] if len(vl) > 1 else 0, "mpls": mpls}


def _canon(key):
    ipver, proto, src, sport, dst, dport, vlan = key
    a, b = (src, sport), (dst, dport)
    return (ipver, proto, vlan) + ((a, b) if a <= b else (b, a))


def _outer_view(p):
    """@p as a meter that does not decapsulate sees it: its outer flow."""
    q = Pkt(p.ts, ip=p.ip, l2=p.l2, frame=p.frame, cut=p.cut, verdict=p.verdict,
            key=p.tun["outer_key"], ip_bytes=p.tun["outer_bytes"], l3=p.l3)
    q.seq, q.ttl = p.seq, 40
    return q


class Expected:
    """What the meter must report for a scenario."""

    def __init__(self, records, skipped, packets_read, ambiguous):
        self.records = records  # list of dicts (contract JSON field names)
        self.skipped = skipped  # reason -> count (all SKIP_REASONS present)
        self.packets_read = packets_read
        self.ambiguous = ambiguous  # records whose EOF end reason depends on scanning
        self.expired = {r: 0 for r in ("idle", "active", "end", "evicted", "shutdown")}
        for r in records:
            self.expired[r["end_reason"]] += 1

    @property
    def packets_in_flows(self):
        return sum(r["packets"] + r["rev_packets"] for r in self.records)

    @property
    def bytes_in_flows(self):
        return sum(r["bytes"] + r["rev_bytes"] for r in self.records)


class Scenario:
    """Build traffic packet by packet or with session helpers, then write it
    in any format and ask for the expected flow records.

    Times are nanoseconds since T0_NS (default epoch 1700000000 s); helpers
    take seconds (float) or ns (int via *_ns). Unless ns=True every time is
    rounded to microseconds so every file format holds it exactly."""

    def __init__(self, seed=1, idle_timeout=30, active_timeout=1800, frag_timeout=30,
                 close_timeout=5, start_ns=T0_NS, ns=False):
        self.rng = random.Random(seed)
        self.close_ns = int(close_timeout * SEC)
        self.idle_ns = int(idle_timeout * SEC)
        self.active_ns = int(active_timeout * SEC)
        self.frag_ns = int(frag_timeout * SEC)
        self.start_ns = start_ns
        self.ns = ns
        self.pkts = []
        self._n = 0
        self._tun = None  # (layers, inner source of side a) inside tunnel()

    # ---- time
    def t(self, sec):
        v = int(round(sec * SEC))
        if not self.ns:
            v -= v % US
        return self.start_ns + v

    def _push(self, p):
        p.seq = self._n
        self._n += 1
        if self._tun is not None and p.ip is not None:
            self._wrap(p)
        self.pkts.append(p)
        return p

    @contextlib.contextmanager
    def tunnel(self, *layers):
        """Packets added inside `with sc.tunnel(layer, ...)` travel in these
        encapsulations (tunnelgen.Tunnel objects, outermost first); see
        tunnelgen for the truth each packet then carries."""
        prev = self._tun
        self._tun = [layers, None]
        try:
            yield self
        finally:
            self._tun = prev

    def _wrap(self, p):
        layers = self._tun[0]
        if self._tun[1] is None:
            self._tun[1] = p.key[2]
        fwd = p.key[2] == self._tun[1]
        vlan = p.key[6]
        inner, et, frame = p.ip, p.l3, None
        okey = None
        for layer in reversed(layers):
            if frame is not None:
                raise ValueError("a pseudowire must be the outermost layer")
            inner, et, okey2, frame = layer.wrap(inner, et, fwd, vlan)
            okey = okey2 or okey
        ip_outer = [x for x in layers if x.has_ip_outer()]
        eth = [x for x in layers if x.kind in ("vxlan", "geneve", "nvgre", "erspan1",
                                               "erspan2", "erspan3", "mplspw")]
        mpls = [x.mpls() for x in layers if x.mpls()]
        inn = layers[-1]
        outer = None
        if ip_outer:
            o = ip_outer[0]
            outer = (addr(o.a)[1], addr(o.b)[1]) if fwd else (addr(o.b)[1], addr(o.a)[1])
        p.tun = {
            "type": inn.type_name, "key_id": inn.key_id(), "depth": len(layers),
            "teid": (inn.teid[0] if fwd else inn.teid[1]) if inn.kind == "gtpu" else None,
            "outer": outer, "macs": eth[-1].macs(fwd) if eth else None,
            "mpls": mpls[0] if mpls else None,
            "outer_key": okey if layers[0].has_ip_outer() else None,
            "outer_bytes": len(inner) if inner is not None else 0,
        }
        if frame is not None:
            p.ip, p.frame = None, frame
        else:
            p.ip, p.l3 = inner, et

    # ---- single packets
    def ip(self, at, src, dst, proto, sport=0, dport=0, flags=0, payload=0, l2=None,
           v4opts=b"", v6ext=(), icmp_type=8, icmp_code=0, ident=0, seq=0, ack=0, cut=None,
           verdict="ok", total_len=None, ttl=64, tos=0, win=65535):
        """One IP packet at @at seconds (or absolute ns when int > T0/2).
        payload: bytes or a length of zero bytes; total_len: IPv4 total
        length field override (0 as in TSO captures: the meter counts the
        captured IP bytes). Returns the Pkt."""
        ts = at if isinstance(at, int) and at > self.start_ns // 2 else self.t(at)
        v, s = addr(src)
        _, d = addr(dst)
        pl = payload if isinstance(payload, (bytes, bytearray)) else b"\0" * payload
        if proto == 6:
            l4 = tcp(src, dst, sport, dport, flags, pl, seq=seq, ack=ack, win=win)
        elif proto == 17:
            l4 = udp(src, dst, sport, dport, pl)
        elif proto == 1:
            l4 = icmp(icmp_type, icmp_code, ident=sport, seq=dport, payload=pl)
        elif proto == 58:
            l4 = icmpv6(src, dst, icmp_type, icmp_code, ident=sport, seq=dport, payload=pl)
        elif proto == 132:
            l4 = sctp_common(sport, dport, chunks=pl)
        else:
            l4 = pl
        if v == 4:
            pkt = ipv4(src, dst, proto, l4, ident=ident, options=v4opts, total_len=total_len,
                       ttl=ttl, tos=tos)
            et = ETH_IPV4
        else:
            pkt = ipv6(src, dst, proto, l4, ext=v6ext, hlim=ttl, tclass=tos)
            et = ETH_IPV6
        ports = (sport, dport) if proto in (6, 17, 132) else (0, 0)
        itc = (icmp_type, icmp_code) if proto in (1, 58) else (0, 0)
        if proto in (1, 58):
            ports = (icmp_key_port(proto, icmp_type, icmp_code),) * 2
        vlan = 0
        if l2 and l2.get("vlans"):
            vlan = l2["vlans"][0]
        key = (v, proto, s, ports[0], d, ports[1], vlan)
        p = Pkt(ts, ip=pkt, l2=l2, cut=cut, verdict=verdict, key=key, ip_bytes=len(pkt),
                flags=flags if proto == 6 else 0, icmp=itc, l3=et)
        p.ttl, p.tos = ttl, tos
        return self._push(p)

    def fragments(self, at, src, dst, proto, sport, dport, size, chunk, ident, order=None,
                  gap=0.0001, l2=None, flags=0, v6ext=(), payload=None):
        """A UDP (17) or TCP (6) datagram of @size payload bytes sent as
        fragments of @chunk bytes; @order permutes them (indices into the
        fragment list); @payload: these bytes instead (@size ignored).
        Returns the Pkts in sending order."""
        v, s = addr(src)
        _, d = addr(dst)
        pl = payload if payload is not None else bytes((i * 7) & 255 for i in range(size))
        l4 = tcp(src, dst, sport, dport, flags, pl) if proto == 6 else udp(src, dst, sport,
                                                                          dport, pl)
        if v == 4:
            frags = fragment_ipv4(src, dst, proto, l4, chunk, ident)
            et = ETH_IPV4
            fid = (4, s, d, proto, ident)
        else:
            frags = fragment_ipv6(src, dst, proto, l4, chunk, ident, ext=v6ext)
            et = ETH_IPV6
            fid = (6, s, d, ident)
        vlan = l2["vlans"][0] if l2 and l2.get("vlans") else 0
        order = list(range(len(frags))) if order is None else list(order)
        base = at if isinstance(at, int) and at > self.start_ns // 2 else self.t(at)
        out = []
        for n, i in enumerate(order):
            ts = base + n * int(gap * SEC)
            key = (v, proto, s, sport, d, dport, vlan)
            p = Pkt(ts, ip=frags[i], l2=l2, key=key, ip_bytes=len(frags[i]),
                    flags=flags if (proto == 6 and i == 0) else 0, frag=(fid, i == 0), l3=et)
            out.append(self._push(p))
        return out

    def non_ip(self, at, kind="arp", l2=None):
        ts = self.t(at)
        if kind == "arp":
            body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac(1), bytes([198, 18, 0, 1]),
                               b"\0" * 6, bytes([198, 18, 0, 2]))
            fr = (ETH_ARP, body)
        elif kind == "lldp":
            fr = (ETH_LLDP, b"\x02\x07\x04" + mac(9) + b"\0\0")
        else:
            raise ValueError(kind)
        return self._push(Pkt(ts, frame=fr, l2=l2, verdict="non_ip"))

    def malformed(self, at, kind="ihl", src="198.18.9.1", dst="198.19.9.1"):
        """IP packets whose header fields contradict each other."""
        ts = self.t(at)
        l4 = udp(src, dst, 1000, 53, b"\0" * 20)
        if kind == "ihl":  # IHL 4 (< 5)
            pkt = ipv4(src, dst, 17, l4, ihl=4)
        elif kind == "totlen":  # total length 12 (< header)
            pkt = ipv4(src, dst, 17, l4, total_len=12)
        elif kind == "ihl_gt_totlen":  # IHL 15 (60 bytes) > total length 48
            pkt = ipv4(src, dst, 17, l4 + b"\0" * 60, ihl=15, total_len=48)
        elif kind == "totlen_gt_frame":  # total length 1500 in a 76-byte packet
            pkt = ipv4(src, dst, 17, l4 + b"\0" * 28, total_len=1500)
        else:
            raise ValueError(kind)
        return self._push(Pkt(ts, ip=pkt, l3=ETH_IPV4, verdict="malformed"))

    def truncated(self, at, kind="ip4", src="198.18.9.2", dst="198.19.9.2"):
        """Packets whose capture ends before the headers a meter needs."""
        ts = self.t(at)
        if kind in ("ip4", "tcp4", "udp4"):
            l4 = tcp(src, dst, 1000, 80, SYN) if kind != "udp4" else udp(src, dst, 1000, 53,
                                                                        b"\0" * 40)
            pkt = ipv4(src, dst, 6 if kind != "udp4" else 17, l4 + b"\0" * 40)
            cut = {"ip4": 12, "tcp4": 30, "udp4": 22}[kind]
            et = ETH_IPV4
        elif kind in ("ip6", "tcp6"):
            s6, d6 = "2001:2:0:9::2", "2001:2:0:a::2"
            pkt = ipv6(s6, d6, 6, tcp(s6, d6, 1000, 80, SYN) + b"\0" * 40)
            cut = {"ip6": 30, "tcp6": 50}[kind]
            et = ETH_IPV6
        else:
            raise ValueError(kind)
        return self._push(Pkt(ts, ip=pkt, l3=et, cut=cut, verdict="truncated"))

    # ---- sessions
    def tcp_session(self, at, client, server, cport, sport, data=2, gap=0.001, close="fin",
                    l2=None, size=100, v4opts=b"", v6ext=(), handshake=True):
        """SYN, SYN-ACK, ACK, @data request/response pairs, then close:
        'fin' (FIN-ACK both ways then the client's last ACK), 'fin_noack'
        (no last ACK), 'rst' (client RST-ACK) or None (left open).
        Returns the time (s) of the last packet."""
        t = at
        kw = dict(l2=l2, v4opts=v4opts, v6ext=v6ext)
        cs, ss = 1000, 5000
        c2s = (client, server, 6, cport, sport)
        s2c = (server, client, 6, sport, cport)
        if handshake:
            self.ip(t, *c2s, flags=SYN, seq=cs, **kw)
            t += gap
            self.ip(t, *s2c, flags=SYN | ACK, seq=ss, ack=cs + 1, **kw)
            t += gap
            self.ip(t, *c2s, flags=ACK, seq=cs + 1, ack=ss + 1, **kw)
        cs += 1
        ss += 1
        for _ in range(data):
            t += gap
            self.ip(t, *c2s, flags=PSH | ACK, payload=size, seq=cs, ack=ss, **kw)
            cs += size
            t += gap
            self.ip(t, *s2c, flags=PSH | ACK, payload=size * 2, seq=ss, ack=cs, **kw)
            ss += size * 2
        if close in ("fin", "fin_noack"):
            t += gap
            self.ip(t, *c2s, flags=FIN | ACK, seq=cs, ack=ss, **kw)
            t += gap
            self.ip(t, *s2c, flags=FIN | ACK, seq=ss, ack=cs + 1, **kw)
            if close == "fin":
                t += gap
                self.ip(t, *c2s, flags=ACK, seq=cs + 1, ack=ss + 1, **kw)
        elif close == "rst":
            t += gap
            self.ip(t, *c2s, flags=RST | ACK, seq=cs, ack=ss, **kw)
        elif close is not None:
            raise ValueError(close)
        return t

    def udp_exchange(self, at, client, server, cport, sport, count=4, gap=0.001, size=64,
                     l2=None, one_way=False, v4opts=b"", v6ext=()):
        """@count datagrams alternating client/server (client first)."""
        t = at
        for i in range(count):
            if i % 2 == 0 or one_way:
                self.ip(t, client, server, 17, cport, sport, payload=size, l2=l2,
                        v4opts=v4opts, v6ext=v6ext)
            else:
                self.ip(t, server, client, 17, sport, cport, payload=size + 10, l2=l2,
                        v4opts=v4opts, v6ext=v6ext)
            t += gap
        return t - gap

    def ping(self, at, a, b, count=2, gap=0.001, ident=7, l2=None, size=56):
        """ICMP(v6) echo request/reply pairs."""
        v, _ = addr(a)
        proto, req, rep = (1, 8, 0) if v == 4 else (58, 128, 129)
        t = at
        for i in range(count):
            self.ip(t, a, b, proto, ident, i, icmp_type=req, payload=size, l2=l2)
            t += gap
            self.ip(t, b, a, proto, ident, i, icmp_type=rep, payload=size, l2=l2)
            t += gap
        return t - gap

    # ---- TCP health (src/flow/tcp_health.h): conversations whose record
    # carries the exact conn_state, history, retransmission, out-of-order,
    # zero-window, RTT and payload fields given here (TcpConv.truth)
    def tcp_syn_only(self, at, client, server, cport, sport):
        """A SYN and nothing else: S0."""
        c = TcpConv(self, at, client, server, cport, sport)
        c.send(0, SYN)
        return c.truth("S0", "S", rtt=False)

    def tcp_rejected(self, at, client, server, cport, sport):
        """A SYN answered by an RST: REJ."""
        c = TcpConv(self, at, client, server, cport, sport)
        c.send(0, SYN)
        c.send(1, RST | ACK)
        return c.truth("REJ", "Sr", rtt=False)

    def tcp_syn_abort(self, at, client, server, cport, sport, flag=FIN):
        """A SYN, then the client's FIN (SH) or RST (RSTOS0), no reply."""
        c = TcpConv(self, at, client, server, cport, sport)
        c.send(0, SYN)
        c.send(0, flag)
        return c.truth(("SH", "SF") if flag == FIN else ("RSTOS0", "SR"), rtt=False)

    def tcp_full(self, at, client, server, cport, sport, data=2, size=100, gap=0.001):
        """Handshake, @data request/response pairs, FIN both ways, last ACK: SF."""
        c = TcpConv(self, at, client, server, cport, sport, gap=gap)
        c.handshake()
        c.pairs(data, size)
        c.send(0, FIN | ACK)
        c.send(1, FIN | ACK)
        c.send(0, ACK)
        return c.truth("SF", "ShADdFf")

    def tcp_reset(self, at, client, server, cport, sport, by=0):
        """Established, one exchange, then an RST from the client (by=0:
        RSTO) or the server (by=1: RSTR)."""
        c = TcpConv(self, at, client, server, cport, sport)
        c.handshake()
        c.pairs(1, 100)
        c.send(by, RST | ACK)
        return c.truth(("RSTO", "ShADdR") if by == 0 else ("RSTR", "ShADdr"))

    def tcp_half_close(self, at, client, server, cport, sport, by=0):
        """Established, one exchange, a FIN from one side that the other only
        acknowledges: S2 (by the client) or S3 (by the server)."""
        c = TcpConv(self, at, client, server, cport, sport)
        c.handshake()
        c.pairs(1, 100)
        c.send(by, FIN | ACK)
        c.send(1 - by, ACK)
        return c.truth(("S2", "ShADdFa") if by == 0 else ("S3", "ShADdf"))

    def tcp_midstream(self, at, client, server, cport, sport):
        """Data both ways without a SYN (the capture began mid-connection): OTH."""
        c = TcpConv(self, at, client, server, cport, sport)
        c.pairs(2, 100)
        return c.truth("OTH", "Dd", rtt=False)

    def tcp_retransmit(self, at, client, server, cport, sport, isn=(0xFFFFFF00, 5000)):
        """Client data across the 2^32 sequence wrap (isn): a whole segment
        sent again, then one overlapping 50 bytes sent and 50 new; the server
        sends its data twice; a keep-alive (1 byte at next - 1) is not a
        retransmission. Retransmissions come 200 ms after the previous
        packet, as an RTO would (tshark calls faster repeats out-of-order)."""
        c = TcpConv(self, at, client, server, cport, sport, isn=isn)
        c.handshake()
        c.send(0, PSH | ACK, 100)
        s2 = c.send(0, PSH | ACK, 100)
        s3 = c.send(0, PSH | ACK, 100)
        r1 = c.send(1, PSH | ACK, 200)
        c.send(0, PSH | ACK, 100, seq=c.seq_of(s2), wait=0.2)
        c.send(1, PSH | ACK, 200, seq=c.seq_of(r1), wait=0.2)
        c.send(0, PSH | ACK, 100, seq=c.seq_of(s3) + 50, wait=0.2)
        c.send(0, ACK, 1, seq=c.nxt[0] - 1, wait=0.2)
        c.send(0, FIN | ACK)
        c.send(1, FIN | ACK)
        c.send(0, ACK)
        return c.truth("SF", "ShADdTtFf", retrans_packets=2, retrans_bytes=150,
                       rev_retrans_packets=1, rev_retrans_bytes=200)

    def tcp_out_of_order(self, at, client, server, cport, sport):
        """Client segments 1 3 2 (2 fills the hole: out of order), then
        6 4 5 (4 and 5 fill the hole 6 left): 3 out-of-order packets."""
        c = TcpConv(self, at, client, server, cport, sport)
        c.handshake()
        x = c.nxt[0]
        for k in (0, 2, 1, 5, 3, 4):
            c.send(0, PSH | ACK, 100, seq=x + 100 * k)
        c.send(1, PSH | ACK, 200)
        c.send(0, FIN | ACK)
        c.send(1, FIN | ACK)
        c.send(0, ACK)
        return c.truth("SF", "ShADdFf", ooo_packets=3)

    def tcp_zero_window(self, at, client, server, cport, sport):
        """The server advertises a zero window twice, then opens it again."""
        c = TcpConv(self, at, client, server, cport, sport)
        c.handshake()
        c.send(0, PSH | ACK, 100)
        c.send(1, ACK, win=0)
        c.send(1, ACK, win=0)
        c.send(1, ACK)
        c.send(0, PSH | ACK, 100)
        c.send(1, PSH | ACK, 200)
        c.send(0, FIN | ACK)
        c.send(1, FIN | ACK)
        c.send(0, ACK)
        return c.truth("SF", "ShADawdFf", rev_zero_win=2)

    # ---- output
    def packets(self):
        """Packets in file order (time, then insertion order)."""
        return sorted(self.pkts, key=lambda p: (p.ts, p.seq))

    def records(self, link="eth", big_endian=False, iface_of=None, af6=NULL_AF_INET6):
        """[(ts, data, wirelen, iface)] for the writers."""
        out = []
        for p in self.packets():
            iface = iface_of(p) if iface_of else 0
            lk = link[iface] if isinstance(link, (list, tuple)) else link
            data, wire = render(p, lk, big_endian, af6)
            out.append((p.ts, data, wire, iface))
        return out

    def write(self, path, fmt="pcap", link="eth", nano=False, big_endian=False, tsresol=None,
              interfaces=None, iface_of=None, extras=False, af6=NULL_AF_INET6):
        """Write the scenario. fmt 'pcap': @link one name; 'pcapng': either one
        interface (@link, @tsresol) or @interfaces = [(link name, tsresol)]
        with @iface_of(pkt) -> index choosing the interface per packet."""
        if fmt == "pcap":
            img = pcap_bytes(self.records(link, big_endian, af6=af6), LINKTYPE[link], nano=nano,
                             big_endian=big_endian)
        elif fmt == "pcapng":
            if interfaces is None:
                interfaces = [(link, tsresol)]
            names = [i[0] for i in interfaces]
            lts = [(LINKTYPE[n] if isinstance(n, str) else n, r) for n, r in interfaces]
            lk = [n if isinstance(n, str) else "other" for n in names]
            img = pcapng_bytes(self.records(lk, big_endian, iface_of, af6), lts,
                               big_endian=big_endian, extras=extras)
        else:
            raise ValueError(fmt)
        with open(path, "wb") as f:
            f.write(img)
        return img

    def expected(self, uniflow=False, packet_filter=None, unsupported=None, verdict_of=None,
                 iface_of=None, link="eth", decap=True):
        """The records and skip counts a meter with this scenario's timeouts
        must report (model in the module docstring). packet_filter(pkt) ->
        False: the packet is skipped as 'filtered' before decoding;
        unsupported(pkt) -> True: it came on a link type the meter does not
        decode. uniflow: every direction is metered as its own flow (its
        own timeouts; TCP closing on an RST or on its own FIN). iface_of:
        as given to write() (the interface is in the flow key); link: the
        link written (MACs only on "eth"); decap=False: a meter run with
        --decap none (tunnelled packets are their outer flow)."""
        skipped = {r: 0 for r in SKIP_REASONS}
        table = {}
        frags = {}
        done = []
        pkts = self.packets()
        for p in pkts:
            if packet_filter is not None and not packet_filter(p):
                skipped["filtered"] += 1
                continue
            if unsupported is not None and unsupported(p):
                skipped["unsupported_link"] += 1
                continue
            verdict = verdict_of(p) if verdict_of else p.verdict
            if p.tun is not None and verdict == "ok":
                if not decap:
                    if p.tun["outer_key"] is None:
                        verdict = "non_ip"  # a pseudowire on the link
                    else:
                        p = _outer_view(p)
                elif p.tun["depth"] > TUNNEL_DEPTH:
                    verdict = "tunnel_too_deep"
            if verdict != "ok":
                skipped[verdict] += 1
                continue
            iface = iface_of(p) if iface_of else 0
            tkey = (p.tun["type"], p.tun["key_id"]) if p.tun else (None, 0)
            if p.frag is not None:
                fid, first = p.frag
                if first:
                    frags[fid] = p.ts
                elif fid not in frags or p.ts - frags[fid] > self.frag_ns:
                    skipped["fragment_unmatched"] += 1
                    continue
            ck = (p.key if uniflow else _canon(p.key)) + tkey + (iface,)
            rec = table.get(ck)
            if rec is not None:
                why = self._must_end(rec, p, uniflow)
                if why:
                    rec.end_reason = why
                    done.append(rec)
                    rec = None
            if rec is None:
                rec = Record(p, iface, link)
                if uniflow:
                    rec.src, rec.locked = rec.ends[0], True
                table[ck] = rec
            rec.add(p, link)
        ambiguous = []
        t_end = pkts[-1].ts if pkts else 0
        for rec in table.values():
            if self._closing(rec, uniflow):
                rec.end_reason = "end"
            else:
                rec.end_reason = "shutdown"
                if t_end - rec.last_ns > self.idle_ns:
                    ambiguous.append(rec.as_dict())
            done.append(rec)
        done.sort(key=lambda r: (r.first_ns, r.ipver, r.proto, r.src))
        recs = [r.as_dict() for r in done]
        return Expected(recs, skipped, len(pkts), ambiguous)

    @staticmethod
    def _closing(rec, uniflow):
        return rec.rst or len(rec.fin) == (1 if uniflow else 2)

    def _must_end(self, rec, p, uniflow):
        closing = self._closing(rec, uniflow)
        if p.ts - rec.last_ns > self.idle_ns:
            return "end" if closing else "idle"
        if closing:
            if p.ts - rec.last_ns > self.close_ns:
                return "end"
            if rec.proto == 6 and p.flags & (SYN | ACK) == SYN:
                return "end"  # 5-tuple reused
        if p.ts - rec.first_ns >= self.active_ns:
            return "active"
        return None


# --------------------------------------------------------------------------
# TCP conversations for the TCP-health scenarios


def seq_lt(a, b):
    """@a before @b in 32-bit sequence space (serial arithmetic)."""
    return a != b and ((b - a) & 0xFFFFFFFF) < 0x80000000


class TcpConv:
    """One TCP conversation, client (side 0) and server (side 1): each side's
    next sequence number, its payload octets, the packets @gap seconds apart.
    truth() attaches the record's expected TCP health to its first packet."""

    def __init__(self, sc, at, client, server, cport, sport, isn=(1000, 5000), gap=0.001):
        self.sc, self.at, self.gap = sc, at, gap
        self.ends = ((client, cport), (server, sport))
        self.nxt = [isn[0] & 0xFFFFFFFF, isn[1] & 0xFFFFFFFF]
        self.payload = [0, 0]
        self.pkts = []
        self.seqs = {}

    def send(self, side, flags, size=0, seq=None, win=65535, wait=None):
        """@side sends; @seq None: at its next sequence number; @wait: seconds
        after the previous packet (default @gap). Returns the Pkt."""
        if self.pkts:
            self.at += self.gap if wait is None else wait
        (a, ap), (b, bp) = self.ends[side], self.ends[1 - side]
        s = self.nxt[side] if seq is None else seq & 0xFFFFFFFF
        ack = self.nxt[1 - side] if flags & ACK else 0
        p = self.sc.ip(self.at, a, b, 6, ap, bp, flags=flags, payload=size, seq=s, ack=ack,
                       win=win)
        end = (s + size + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)) & 0xFFFFFFFF
        if seq is None or seq_lt(self.nxt[side], end):
            self.nxt[side] = end
        self.payload[side] += size
        self.pkts.append(p)
        self.seqs[id(p)] = s
        return p

    def seq_of(self, p):
        return self.seqs[id(p)]

    def handshake(self):
        self.send(0, SYN)
        self.send(1, SYN | ACK)
        self.send(0, ACK)

    def pairs(self, n, size):
        """@n requests of @size bytes, each answered with 2 * @size."""
        for _ in range(n):
            self.send(0, PSH | ACK, size)
            self.send(1, PSH | ACK, 2 * size)

    def truth(self, state, history=None, rtt=True, **counts):
        """The record's TCP health (jcap's JSON fields); @state may be a
        (state, history) pair. rtt: the handshake was the first three
        packets. Returns the time (s) of the last packet."""
        if history is None:
            state, history = state
        h = {"conn_state": state, "history": history, "payload_bytes": self.payload[0],
             "rev_payload_bytes": self.payload[1]}
        for k in ("retrans_packets", "retrans_bytes", "ooo_packets", "zero_win"):
            h[k] = counts.pop(k, 0)
            h["rev_" + k] = counts.pop("rev_" + k, 0)
        if counts:
            raise ValueError("unknown TCP health fields %s" % sorted(counts))
        if rtt:
            t0 = self.pkts[0].ts
            h["rtt_syn_us"] = (self.pkts[1].ts - t0) // US
            h["rtt_us"] = (self.pkts[2].ts - t0) // US
        self.pkts[0].health = h
        return self.at


# --------------------------------------------------------------------------
# canned scenarios (also used by the CLI and scripts/demo.sh)

C4 = "198.18.%d.%d"
S4 = "198.19.%d.%d"


def c4(n):
    return C4 % ((n >> 8) & 255, n & 255)


def s4(n):
    return S4 % ((n >> 8) & 255, n & 255)


def c6(n):
    return "2001:2:0:1::%x" % (n + 1)


def s6(n):
    return "2001:2:0:2::%x" % (n + 1)


def scenario_mixed(seed=1, flows=200, idle_timeout=30, active_timeout=1800, duration=10.0):
    """A mix of TCP (FIN, RST, open), UDP, ICMP, IPv4 and IPv6 flows spread
    over @duration seconds, plus a few non-IP, truncated and malformed
    packets. Every flow stays inside the idle/active timeouts."""
    sc = Scenario(seed=seed, idle_timeout=idle_timeout, active_timeout=active_timeout)
    rng = sc.rng
    for i in range(flows):
        at = rng.random() * duration * 0.8
        v6 = rng.random() < 0.25
        cl, sv = (c6(i), s6(i % 50)) if v6 else (c4(i + 1), s4(i % 50 + 1))
        kind = rng.random()
        cport = 1024 + i
        if kind < 0.55:
            close = rng.choice(["fin", "fin", "fin_noack", "rst", None])
            sc.tcp_session(at, cl, sv, cport, rng.choice([80, 443, 22]), data=rng.randint(1, 6),
                           gap=rng.choice([0.0005, 0.002, 0.01]), close=close,
                           size=rng.choice([40, 200, 1200]))
        elif kind < 0.9:
            sc.udp_exchange(at, cl, sv, cport, rng.choice([53, 123, 443]),
                            count=rng.randint(1, 8), gap=0.003, size=rng.choice([30, 120, 500]),
                            one_way=rng.random() < 0.2)
        else:
            sc.ping(at, cl, sv, count=rng.randint(1, 3), ident=i)
    for k in range(3):
        sc.non_ip(duration * (0.1 + 0.3 * k), "arp")
    sc.truncated(duration * 0.5, "tcp4")
    sc.malformed(duration * 0.6, "ihl")
    return sc


def scenario_many(seed=1, flows=10000, rounds=3, gap=0.00001, idle_timeout=30):
    """@flows UDP/TCP flows all open at once: each round sends one packet of
    every flow (alternating directions), so a small table must evict."""
    sc = Scenario(seed=seed, idle_timeout=idle_timeout)
    t = 0.0
    for r in range(rounds):
        for i in range(flows):
            cl, sv = c4(i + 1), s4(i % 200 + 1)
            if i % 4 == 3:
                flags = SYN if r == 0 else (SYN | ACK if r == 1 else ACK)
                if r % 2 == 0:
                    sc.ip(t, cl, sv, 6, 20000 + i % 40000, 443, flags=flags, payload=10 * r)
                else:
                    sc.ip(t, sv, cl, 6, 443, 20000 + i % 40000, flags=flags, payload=10 * r)
            else:
                if r % 2 == 0:
                    sc.ip(t, cl, sv, 17, 20000 + i % 40000, 53, payload=20 + r)
                else:
                    sc.ip(t, sv, cl, 17, 53, 20000 + i % 40000, payload=60 + r)
            t += gap
    return sc


SCENARIOS = {"mixed": scenario_mixed, "many": scenario_many}


def main(argv=None):
    ap = argparse.ArgumentParser(description="deterministic test pcap + expected flows")
    ap.add_argument("-o", "--out", required=True, help="output capture file")
    ap.add_argument("--scenario", choices=sorted(SCENARIOS), default="mixed")
    ap.add_argument("--flows", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--format", choices=("pcap", "pcapng"), default="pcap")
    ap.add_argument("--link", choices=sorted(LINKTYPE), default="eth")
    ap.add_argument("--nano", action="store_true", help="nanosecond pcap / if_tsresol 9")
    ap.add_argument("--big-endian", action="store_true")
    ap.add_argument("--idle-timeout", type=int, default=30)
    ap.add_argument("--active-timeout", type=int, default=1800)
    ap.add_argument("--truth", help="write expected records + skip counts as JSON here")
    a = ap.parse_args(argv)
    if a.scenario == "mixed":
        sc = scenario_mixed(a.seed, a.flows, a.idle_timeout, a.active_timeout)
    else:
        sc = scenario_many(a.seed, a.flows, idle_timeout=a.idle_timeout)
    if a.link in ("raw", "null"):
        sc.pkts = [p for p in sc.pkts if p.ip is not None]
    sc.write(a.out, fmt=a.format, link=a.link, nano=a.nano, big_endian=a.big_endian,
             tsresol=9 if a.nano else None)
    exp = sc.expected()
    if a.truth:
        with open(a.truth, "w") as f:
            json.dump({"packets": exp.packets_read, "skipped": exp.skipped,
                       "flows": exp.records}, f, indent=0, sort_keys=True)
    print("%s: %d packets, %d flows expected" % (a.out, exp.packets_read, len(exp.records)),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
