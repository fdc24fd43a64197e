# SPDX-License-Identifier: BSD-3-Clause
"""A private network namespace with a veth pair for live capture tests, and a
small AF_PACKET injector that replays a pcap into one end.

    with VethNetns() as ns:          # v0 <-> v1, 198.18.255.1/30 and .2/30
        ns.run(["ip", "link"])       # runs inside the namespace
        ns.inject("v0", "file.pcap") # every frame, in file order

    with VethNetns(peer=True) as ns: # v1 here, v0 in a second namespace
        ns.run_peer([...])           # traffic between them crosses the veth

The namespace (and with it both veths) is deleted on exit, also when the test
failed; processes started through popen() are stopped by PID first.
Standard library only. `python3 netns.py inject IFACE PCAP [PPS]` is the
injector itself (run inside the namespace by VethNetns.inject).
"""

import os
import signal
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.abspath(__file__)


def can_use_netns():
    """(True, "") or (False, reason) for a skip message."""
    if os.geteuid() != 0:
        return False, "needs root (CAP_NET_ADMIN, CAP_NET_RAW) to create a network namespace"
    for tool in ("ip",):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            return False, "iproute2 'ip' not installed"
    name = "pcprobe%d" % os.getpid()
    p = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if p.returncode != 0:
        return False, "cannot create a network namespace: %s" % p.stderr.strip()
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return True, ""


def sweep_stale():
    """Delete namespaces left by an earlier run that was killed (their name
    carries the pid of a process that no longer exists)."""
    p = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    for line in p.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if not name.startswith("pclive"):
            continue
        pid = name[len("pclive"):].split("_")[0]
        if pid.isdigit() and not os.path.exists("/proc/%s" % pid):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
            subprocess.run(["ip", "netns", "del", name + "p"], capture_output=True)


V0_MAC, V1_MAC = "02:00:c6:12:ff:01", "02:00:c6:12:ff:02"


class VethNetns:
    def __init__(self, mtu=1500, peer=False):
        self.name = "pclive%d_%d" % (os.getpid(), int(time.monotonic() * 1000) % 100000)
        self.mtu = mtu
        # v0 in a namespace of its own (name + "p"): traffic between the two
        # addresses then crosses the veth instead of staying on lo
        self.peer = self.name + "p" if peer else None
        self.procs = []

    def _ip(self, *args, ns=None):
        p = subprocess.run(["ip", "-n", ns or self.name] + list(args), capture_output=True,
                           text=True)
        if p.returncode != 0:
            raise RuntimeError("ip %s: %s" % (" ".join(args), p.stderr.strip()))
        return p.stdout

    def _quiet(self, ns):
        # no IPv6 neighbour discovery / MLD frames among the counted ones
        p = subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw",
                            "net.ipv6.conf.all.disable_ipv6=1",
                            "net.ipv6.conf.default.disable_ipv6=1"], capture_output=True,
                           text=True)
        if p.returncode != 0:
            raise RuntimeError("sysctl in %s: %s" % (ns, p.stderr.strip()))
        self._ip("link", "set", "lo", "up", ns=ns)

    def __enter__(self):
        sweep_stale()
        subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True)
        try:
            self._quiet(self.name)
            if self.peer:
                subprocess.run(["ip", "netns", "add", self.peer], check=True,
                               capture_output=True)
                self._quiet(self.peer)
                self._ip("link", "add", "v1", "address", V1_MAC, "type", "veth", "peer",
                         "name", "v0", "netns", self.peer, "address", V0_MAC)
            else:
                self._ip("link", "add", "v0", "type", "veth", "peer", "name", "v1")
            # frames above the MTU are dropped by the veth itself; native XDP
            # on a veth refuses an MTU above ~3.5 KB (ERANGE)
            for dev, a in (("v0", "198.18.255.1/30"), ("v1", "198.18.255.2/30")):
                ns = self.peer if dev == "v0" else None
                self._ip("link", "set", dev, "mtu", str(self.mtu), ns=ns)
                self._ip("addr", "add", a, "dev", dev, ns=ns)
                self._ip("link", "set", dev, "up", ns=ns)
            if self.peer:
                # static neighbours: no ARP frames among the counted ones
                self._ip("neigh", "replace", "198.18.255.1", "lladdr", V0_MAC, "dev", "v1",
                         "nud", "permanent")
                self._ip("neigh", "replace", "198.18.255.2", "lladdr", V1_MAC, "dev", "v0",
                         "nud", "permanent", ns=self.peer)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        self.procs = []
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        if self.peer:
            subprocess.run(["ip", "netns", "del", self.peer], capture_output=True)

    def argv(self, args, ns=None):
        return ["ip", "netns", "exec", ns or self.name] + [str(a) for a in args]

    def run(self, args, check=False, timeout=60, env=None, ns=None):
        return subprocess.run(self.argv(args, ns), capture_output=True, text=True, check=check,
                              timeout=timeout, env=env)

    def popen(self, args, env=None, ns=None, stdin=None):
        p = subprocess.Popen(self.argv(args, ns), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=stdin, text=True, env=env)
        self.procs.append(p)
        return p

    def run_peer(self, args, **kw):
        """run() in the peer namespace (VethNetns(peer=True))."""
        return self.run(args, ns=self.peer, **kw)

    def popen_peer(self, args, **kw):
        return self.popen(args, ns=self.peer, **kw)

    def link_set(self, dev, *args):
        """ip link set dev DEV ARGS in the namespace."""
        return self._ip("link", "set", "dev", dev, *args)

    def link_show(self, dev):
        return self._ip("-d", "link", "show", "dev", dev)

    def packet_sockets(self):
        """Packet sockets open in the namespace (any process)."""
        p = self.run(["cat", "/proc/net/packet"])
        return max(0, len(p.stdout.strip().splitlines()) - 1)

    def inject(self, dev, pcap, pps=20000):
        p = self.run([sys.executable, HERE, "inject", dev, pcap, str(pps)], timeout=120)
        if p.returncode != 0:
            raise RuntimeError("injector failed: %s" % p.stderr.strip())
        return int(p.stdout.strip())


def read_pcap(path):
    """Frames of a classic pcap file (either byte order, us or ns)."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        e = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        e = ">"
    else:
        raise ValueError("%s: not a pcap file" % path)
    off = 24
    frames = []
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        frames.append(data[off:off + incl])
        off += incl
    return frames


def inject(dev, pcap, pps):
    """Send every frame of @pcap out of @dev at about @pps; prints the count."""
    frames = read_pcap(pcap)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    s.bind((dev, 0))
    batch = 32
    t0 = time.monotonic()
    for i, fr in enumerate(frames):
        s.send(fr)
        if i % batch == batch - 1:
            ahead = (i + 1) / pps - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
    s.close()
    print(len(frames))


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "inject":
        inject(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 20000)
    else:
        print("usage: netns.py inject IFACE PCAP [PPS]", file=sys.stderr)
        sys.exit(2)
