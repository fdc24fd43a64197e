#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Wrap every Ethernet frame of a classic pcap in Ethernet/IPv4/UDP/VXLAN
(VNI 100, one VTEP pair), for the tunnel benchmark: the inner flows and
their IP bytes stay exactly those of the input (and of its truth file).

usage: vxlan_wrap.py IN.pcap OUT.pcap"""
import struct
import sys

OUT_ETH = bytes.fromhex("020000000002" "020000000001" "0800")


def csum(b):
    s = sum(struct.unpack("!10H", b))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def main(src, dst):
    with open(src, "rb") as f, open(dst, "wb") as o:
        hdr = f.read(24)
        magic = struct.unpack("<I", hdr[:4])[0]
        if magic not in (0xA1B2C3D4, 0xA1B23C4D) or struct.unpack("<I", hdr[20:])[0] != 1:
            raise SystemExit("need a little-endian Ethernet pcap")
        o.write(hdr[:16] + struct.pack("<I", 262144) + hdr[20:])
        vx = struct.pack("!BxxxI", 0x08, 100 << 8)
        n = 0
        while True:
            rh = f.read(16)
            if len(rh) < 16:
                break
            ts, sub, cap, wire = struct.unpack("<IIII", rh)
            frame = f.read(cap)
            ulen = 8 + 8 + len(frame)
            sport = 49152 + (n & 0x3FFF)
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, n & 0xFFFF, 0, 64, 17, 0,
                             bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
            ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
            udp = struct.pack("!HHHH", sport, 4789, ulen, 0)
            pkt = OUT_ETH + ip + udp + vx + frame
            extra = len(pkt) - len(frame)
            o.write(struct.pack("<IIII", ts, sub, len(pkt), wire + extra) + pkt)
            n += 1


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
