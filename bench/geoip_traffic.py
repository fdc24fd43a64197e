#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Writes a pcap of FLOWS one-packet UDP flows (64-byte frames) whose addresses
lie in networks MaxMind's test databases hold (GeoLite2-City, GeoLite2-ASN:
see tests/integration/test_geoip.py), so every record's lookups walk the tree
and read data, as with a full database. Half the addresses hit the City
database, half the ASN one; IPv6 for --ipv6-share of the flows. Standard
library only. Usage: geoip_traffic.py OUT.pcap [FLOWS] [--ipv6-share X]"""
import argparse
import ipaddress
import random
import struct

# networks of the test databases (host bits are drawn at random)
V4 = ["81.2.69.144/28", "81.2.69.160/27", "89.160.20.128/25", "175.16.199.0/24",
      "202.196.224.0/20", "216.160.83.56/29", "67.43.156.0/24", "1.128.0.0/11",
      "12.81.92.0/22", "12.81.96.0/19"]
V6 = ["2001:218::/32", "2001:220::/32", "2001:250::/31", "2600:6000::/20",
      "2600:7000::/24", "2600:7100::/24"]


def host(rng, nets):
    n = ipaddress.ip_network(rng.choice(nets))
    return (n[rng.randrange(n.num_addresses)]).packed


def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s & 0xffff) + (s >> 16)
    return ~((s & 0xffff) + (s >> 16)) & 0xffff


def frame(src, dst, sport, dport):
    udp = struct.pack("!HHHH", sport, dport, 8 + 10, 0) + b"\0" * 10
    if len(src) == 4:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        return b"\x02\0\0\0\0\1\x02\0\0\0\0\2\x08\x00" + ip + udp
    ip = struct.pack("!IHBB16s16s", 0x60000000, len(udp), 17, 64, src, dst)
    return b"\x02\0\0\0\0\1\x02\0\0\0\0\2\x86\xdd" + ip + udp


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("flows", type=int, nargs="?", default=1000000)
    p.add_argument("--ipv6-share", type=float, default=0.2)
    a = p.parse_args()
    rng = random.Random(7)
    with open(a.out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        t = 1700000000 * 1000000
        for i in range(a.flows):
            nets = V6 if rng.random() < a.ipv6_share else V4
            fr = frame(host(rng, nets), host(rng, nets), 1024 + i % 60000, 53)
            f.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(fr), len(fr)) + fr)
            t += 10


if __name__ == "__main__":
    main()
