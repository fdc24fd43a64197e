# SPDX-License-Identifier: BSD-3-Clause
"""Which packets each live backend sees, by direction, against libpcap's rule:
on the loopback device a packet socket sees every packet twice (leaving and
arriving) and libpcap keeps only the arriving copy; on any other interface it
keeps both directions. N UDP datagrams are sent on a quiet link (IPv6 off,
static neighbours, a bound receiver so no ICMP answers) while
`jcap --duration` runs, and every backend must report exactly:

    lo (namespace's own)        pcap N, afpacket N (1 or 2 workers, with or
                                without a filter), auto N, afxdp N (ingress)
    veth, arriving on v1        N for every backend
    veth, sent out of v1        pcap N, afpacket N, afxdp 0 (XDP sees only
                                what arrives)

Also the messages for an interface that is missing or down. Root only;
every namespace is the test's own and is deleted afterwards.
"""

import os
import select
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jcaptest  # noqa: E402
import netns  # noqa: E402

OK, WHY = netns.can_use_netns()
pytestmark = pytest.mark.skipif(not OK, reason=WHY)

N = 100
PAYLOAD = 64
SPORT, DPORT = 40000, 9999
DURATION = 3  # s: the capture's own stop; the sender needs ~0.1 s of it

# N datagrams from SRC:40000 to DST:9999; with "sink", bind DST:9999 first
# in the same process (lo: a receiver, so the kernel sends no ICMP back)
SEND = r"""
import socket, sys
src, dst, n, sink = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "sink"
if sink:
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r.bind((dst, %d))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, %d))
for _ in range(n):
    s.sendto(bytes(%d), (dst, %d))
print(n)
""" % (DPORT, SPORT, PAYLOAD, DPORT)

# a bound receiver on the far side of the veth (no ICMP port unreachable
# among the counted frames) until its stdin closes
SINK = r"""
import socket, sys
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
r.bind((sys.argv[1], %d))
print("ready", flush=True)
sys.stdin.read()
""" % DPORT


def skip_unavailable(backends, name):
    if name == "auto":
        return
    b = backends.get(name)
    if not b or not b["available"]:
        pytest.skip("%s unavailable: %s" % (name, b["reason"] if b else "not listed"))


def read_until(p, word, deadline):
    """stderr lines of @p up to the one containing @word (within @deadline s)."""
    got = []
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        r, _, _ = select.select([p.stderr], [], [], max(0.0, end - time.monotonic()))
        if not r:
            break
        line = p.stderr.readline()
        if not line:
            break
        got.append(line)
        if word in line:
            return got
    p.kill()
    out, err = p.communicate()
    raise AssertionError("no '%s' from jcap (exit %s):\n%s" % (word, p.returncode,
                                                               "".join(got) + err))


def capture(ns, iface, backend, send, workers=1, xdp_mode=None, extra=()):
    """Run `jcap -i IFACE -b BACKEND --duration` in @ns; once it logs that the
    capture started, call @send(). Returns (backend used, records, stats)."""
    env = dict(os.environ)
    if xdp_mode:
        env["PC_XDP_MODE"] = xdp_mode
    args = [jcaptest.jcap_path(), "-i", iface, "-b", backend, "--workers", workers,
            "--duration", DURATION, "-F", "json", "--stats", "--no-progress", "-v"]
    p = ns.popen(args + list(extra), env=env)
    head = read_until(p, "capture started", 20)
    t0 = time.monotonic()
    send()
    took = time.monotonic() - t0
    out, err = p.communicate(timeout=DURATION + 30)
    err = "".join(head) + err
    assert p.returncode == 0, "jcap exited %d:\n%s" % (p.returncode, err[-3000:])
    # all sent while the capture ran, or the count means nothing
    assert took < DURATION - 1, "sending took %.1f s of the %d s capture" % (took, DURATION)
    used = head[-1].split("backend ", 1)[1].split(",", 1)[0]
    recs, stats = jcaptest.parse_lines(out), jcaptest.parse_stats(err)
    jcaptest.check_conservation(stats, recs)
    return used, recs, stats


def check_counts(recs, stats, n, src, dst, kernel_packets=None):
    """Exactly @n datagrams src -> dst in one flow, nothing else, no loss."""
    assert stats["packets_read"] == n, stats
    assert sum(stats["skipped"].values()) == 0, stats["skipped"]
    k = stats["kernel"]
    assert k["drops"] == 0 and k["ifdrops"] == 0, k
    assert k["packets"] == (n if kernel_packets is None else kernel_packets), k
    if n == 0:
        assert recs == [], recs
        return
    assert len(recs) == 1, recs
    r = recs[0]
    assert (r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"], r["proto"]) == \
        (src, SPORT, dst, DPORT, 17), r
    assert (r["packets"], r["rev_packets"]) == (n, 0), r
    assert (r["bytes"], r["rev_bytes"]) == (n * (20 + 8 + PAYLOAD), 0), r


def send_in(ns, src, dst, sink, peer=False):
    def send():
        r = ns.run([sys.executable, "-c", SEND, src, dst, N, "sink" if sink else "-"],
                   timeout=30, ns=ns.peer if peer else None)
        assert r.returncode == 0 and r.stdout.strip() == str(N), r.stderr
    return send


LO_CASES = [
    # backend, workers, xdp mode, extra args, backend expected to run
    ("pcap", 1, None, (), "pcap"),
    ("afpacket", 1, None, (), "afpacket"),
    ("afpacket", 2, None, (), "afpacket"),
    ("afpacket", 2, None, ("--filter", "udp"), "afpacket"),
    ("auto", 1, None, (), "afpacket"),
    ("afxdp", 1, "generic", (), "afxdp"),
]


def case_id(c):
    return "%s-w%d%s%s" % (c[0], c[1], "-" + c[2] if c[2] else "", "-filter" if c[3] else "")


@pytest.mark.parametrize("case", LO_CASES, ids=[case_id(c) for c in LO_CASES])
def test_loopback_once(backends, case):
    """lo: each datagram counted once (the arriving copy), as libpcap does."""
    backend, workers, xdp_mode, extra, want = case
    skip_unavailable(backends, backend)
    with netns.VethNetns() as ns:
        used, recs, stats = capture(ns, "lo", backend,
                                    send_in(ns, "127.0.0.1", "127.0.0.1", sink=True),
                                    workers, xdp_mode, extra)
    assert used == want
    # a live record names the interface by its index (lo is 1 in a namespace)
    assert {r["interface"] for r in recs} == {1}, recs
    # libpcap drops the outgoing copy only after the kernel counted it:
    # its ps_recv (kernel.packets) reads 2N there, what it delivers N
    check_counts(recs, stats, N, "127.0.0.1", "127.0.0.1",
                 kernel_packets=2 * N if backend == "pcap" else None)


VETH_CASES = [
    ("pcap", 1, None),
    ("afpacket", 1, None),
    ("afpacket", 2, None),
    ("afxdp", 1, "native"),
    ("afxdp", 1, "generic"),
]


@pytest.mark.parametrize("case", VETH_CASES, ids=[case_id(c + ((),)) for c in VETH_CASES])
@pytest.mark.parametrize("direction", ["inbound", "outbound"])
def test_veth_directions(backends, case, direction):
    """veth: what arrives on v1 is seen by every backend; what v1 sends is
    seen by pcap and afpacket (libpcap keeps outgoing frames off lo), not by
    afxdp (XDP runs on receive only)."""
    backend, workers, xdp_mode = case
    skip_unavailable(backends, backend)
    here, there = "198.18.255.2", "198.18.255.1"  # v1 (captured), v0 (peer)
    with netns.VethNetns(peer=True) as ns:
        # the receiving side binds the port first: no ICMP back
        sink = ns.popen([sys.executable, "-c", SINK, there if direction == "outbound" else here],
                        ns=ns.peer if direction == "outbound" else None,
                        stdin=subprocess.PIPE)
        assert sink.stdout.readline().strip() == "ready", sink.stderr.read()
        if direction == "inbound":
            send = send_in(ns, there, here, sink=False, peer=True)
        else:
            send = send_in(ns, here, there, sink=False)
        used, recs, stats = capture(ns, "v1", backend, send, workers, xdp_mode)
        ifindex = int(ns.run(["cat", "/sys/class/net/v1/ifindex"], check=True).stdout)
        sink.stdin.close()
        sink.wait(timeout=10)
    assert all(r["interface"] == ifindex for r in recs), (ifindex, recs)
    assert used == backend
    n = 0 if (backend == "afxdp" and direction == "outbound") else N
    src, dst = (there, here) if direction == "inbound" else (here, there)
    check_counts(recs, stats, n, src, dst)


def jcap_fails(ns, iface, backend):
    p = ns.run([jcaptest.jcap_path(), "-i", iface, "-b", backend, "--count", 1,
                "--duration", 5, "--no-progress"], timeout=30)
    return p.returncode, p.stdout, p.stderr


@pytest.mark.parametrize("backend", ["auto", "afpacket", "pcap", "afxdp"])
def test_interface_down(backends, backend):
    """A veth left down: 'interface v1 is down', exit 1, for every backend
    (afxdp used to capture nothing until --duration, afpacket said 'socket
    error (interface gone?)')."""
    skip_unavailable(backends, backend)
    with netns.VethNetns() as ns:
        ns.link_set("v1", "down")
        rc, out, err = jcap_fails(ns, "v1", backend)
    prefix = "" if backend == "auto" else backend + ": "
    assert (rc, out, err) == (1, "", "jcap: %sinterface v1 is down\n" % prefix)


@pytest.mark.parametrize("backend", ["auto", "afpacket", "pcap", "afxdp"])
def test_no_such_interface(backends, backend):
    """The real error alone: under auto it is no longer buried behind the
    reasons of five backends."""
    skip_unavailable(backends, backend)
    with netns.VethNetns() as ns:
        rc, out, err = jcap_fails(ns, "nosuch0", backend)
    prefix = "" if backend == "auto" else backend + ": "
    assert (rc, out, err) == (1, "", "jcap: %sno such interface 'nosuch0'\n" % prefix)


@pytest.mark.parametrize("backend", ["afpacket", "pcap"])
def test_interface_goes_down(backends, backend):
    """Down while capturing: the same message, not 'socket error (interface
    gone?)'. (afxdp is not told: its socket reports nothing, see
    docs/BACKENDS.md.)"""
    skip_unavailable(backends, backend)
    with netns.VethNetns() as ns:
        p = ns.popen([jcaptest.jcap_path(), "-i", "v1", "-b", backend, "--duration", 60,
                      "--no-progress", "-q", "-v"])
        read_until(p, "capture started", 20)
        ns.link_set("v1", "down")
        out, err = p.communicate(timeout=30)
    assert p.returncode == 1, err
    assert err.splitlines()[-1] == "jcap: %s: interface v1 is down" % backend, err
