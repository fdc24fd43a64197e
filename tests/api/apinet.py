# SPDX-License-Identifier: BSD-3-Clause
"""A veth pair for the API tests: one end (HOST) in the test's namespace where
jcapd captures, the peer inside a network namespace of the test's own, from
which exactly the packets the test asks for are sent. Addresses come from
198.18.0.0/15 only; IPv6 is off on both ends and the destination has a static
neighbour entry, so no ARP, ND, MLD or ICMP reply adds a packet. Everything is
removed on exit, even when the test fails."""
import os
import shutil
import subprocess

import pytest


def need_root():
    if os.geteuid() != 0:
        pytest.skip("live capture on a veth pair needs root (CAP_NET_ADMIN, CAP_NET_RAW)")
    if not shutil.which("ip"):
        pytest.skip("iproute2 'ip' not found")


def _ip(*args, check=True):
    return subprocess.run(["ip"] + list(args), capture_output=True, text=True, check=check)


SENDER = r"""
import socket, sys
n, dport, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
s.bind((sys.argv[4], int(sys.argv[5])))
payload = bytes(size)
for i in range(n):
    while True:
        try:
            s.sendto(payload, (sys.argv[6], dport))
            break
        except BlockingIOError:
            pass
        except OSError as e:
            if e.errno != 105:   # ENOBUFS: the qdisc is full, retry
                raise
"""


class Veth:
    """with Veth(tag) as v: capture on v.host; v.send(...) from the peer namespace."""

    def __init__(self, tag, subnet=77):
        need_root()
        suffix = "%s%d" % (tag, os.getpid() % 100000)
        self.ns = "jca" + suffix
        self.host = ("ja" + suffix)[:15]
        self.peer = ("jb" + suffix)[:15]
        self.host_ip = "198.18.%d.1" % subnet
        self.peer_ip = "198.18.%d.2" % subnet
        self.dst_ip = "198.18.%d.3" % subnet	# no one has it: nothing answers
        self.up = False

    def __enter__(self):
        try:
            _ip("netns", "add", self.ns)
            _ip("link", "add", self.host, "type", "veth", "peer", "name", self.peer)
            _ip("link", "set", self.peer, "netns", self.ns)
            for path in ("/proc/sys/net/ipv6/conf/%s/disable_ipv6" % self.host,):
                if os.path.exists(path):
                    with open(path, "w") as f:
                        f.write("1\n")
            subprocess.run(["ip", "netns", "exec", self.ns, "sh", "-c",
                            "echo 1 > /proc/sys/net/ipv6/conf/%s/disable_ipv6" % self.peer],
                           check=False, capture_output=True)
            _ip("addr", "add", self.host_ip + "/24", "dev", self.host)
            _ip("link", "set", self.host, "up")
            _ip("-n", self.ns, "addr", "add", self.peer_ip + "/24", "dev", self.peer)
            _ip("-n", self.ns, "link", "set", self.peer, "up")
            _ip("-n", self.ns, "link", "set", "lo", "up")
            _ip("-n", self.ns, "neigh", "replace", self.dst_ip, "lladdr", "02:00:00:00:00:03",
                "dev", self.peer, "nud", "permanent")
            self.up = True
        except subprocess.CalledProcessError as e:
            self.__exit__(None, None, None)
            pytest.skip("cannot create a veth pair / netns: %s" % (e.stderr or e))
        return self

    def send_udp(self, n, sport=40000, dport=9999, size=64):
        """Send exactly @n UDP datagrams peer_ip:sport -> dst_ip:dport."""
        subprocess.run(["ip", "netns", "exec", self.ns, "/usr/bin/python3", "-c", SENDER,
                        str(n), str(dport), str(size), self.peer_ip, str(sport), self.dst_ip],
                       check=True, timeout=120)

    def __exit__(self, *exc):
        _ip("link", "del", self.host, check=False)
        _ip("netns", "del", self.ns, check=False)
        return False
