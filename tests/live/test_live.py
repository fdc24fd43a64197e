# SPDX-License-Identifier: BSD-3-Clause
"""Live capture end to end: pcapgen traffic replayed into one end of a veth
pair in a private namespace while `jcap -i v1 -b BACKEND --count N` meters
the other end. Every flow must be metered exactly (packets and bytes of each
direction equal the generator's truth), no flow may be split across workers
(one record per 5-tuple, all fragments matched), conservation holds, the
kernel reports no drops, and one filter expression gives the same flows on
every backend as on the file. Root only; skips (77) name the reason.
"""

import json
import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jcaptest  # noqa: E402
import netns  # noqa: E402
import pcapgen  # noqa: E402

FILTER = "udp or (tcp and port 443)"

OK, WHY = netns.can_use_netns()
pytestmark = pytest.mark.skipif(not OK, reason=WHY)


def build_scenario():
    """~1500 packets: TCP and UDP over IPv4 and IPv6, some VLAN-tagged,
    ICMP echo, IPv4 and IPv6 fragmented datagrams mixed with whole ones of
    the same flow, and ARP frames (non-IP)."""
    sc = pcapgen.Scenario(seed=7)
    rng = sc.rng
    t = 0.0
    for i in range(120):
        v6 = i % 4 == 1
        cl = pcapgen.c6(i) if v6 else pcapgen.c4(i + 1)
        sv = pcapgen.s6(i % 40) if v6 else pcapgen.s4(i % 40 + 1)
        l2 = {"vlans": [100 + i % 7]} if i % 6 == 0 else None
        kind = i % 5
        if kind in (0, 1):
            sc.tcp_session(t, cl, sv, 20000 + i, rng.choice([80, 443]), data=rng.randint(1, 4),
                           gap=0.0001, close=rng.choice(["fin", "rst", None]), l2=l2,
                           size=rng.choice([40, 300, 700]))
        elif kind in (2, 3):
            dport = rng.choice([53, 443, 5060])
            sc.udp_exchange(t, cl, sv, 20000 + i, dport, count=rng.randint(1, 6), gap=0.0001,
                            l2=l2, size=rng.choice([30, 500, 1400]))
            if i % 10 == 3:
                # a fragmented datagram in a flow that also carries whole ones
                sc.fragments(t + 0.01, cl, sv, 17, 20000 + i, dport, size=3000, chunk=1200,
                             ident=i + 1, l2=l2)
        else:
            sc.ping(t, cl, sv, count=2, ident=i, l2=l2)
        t += 0.002
    for k in range(3):
        sc.non_ip(t + k * 0.001, "arp")
    return sc


@pytest.fixture(scope="module")
def traffic(tmp_path_factory):
    d = tmp_path_factory.mktemp("live")
    sc = build_scenario()
    pcap = str(d / "live.pcap")
    sc.write(pcap)
    exp = sc.expected()
    # the file backend with the filter gives the reference for the filter test
    frecs, fstats = jcaptest.meter(pcap, "--filter", FILTER)
    return {"pcap": pcap, "exp": exp, "frecs": frecs, "fstats": fstats}


@pytest.fixture(scope="module")
def backends():
    jcaptest.require_jcap()
    p = jcaptest.run(["backends", "-F", "json"])
    assert p.returncode == 0, p.stderr
    return {b["name"]: b for b in json.loads(p.stdout)}


def wait_ready(ns, backend, workers, xdp_mode, deadline=10.0):
    """Until the capture is open in the namespace (packet sockets or the XDP
    program are there), so no injected frame can be missed."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < deadline:
        if backend == "afxdp":
            link = ns.link_show("v1")
            if "prog/xdp" in link:
                assert (" xdpgeneric" in link) == (xdp_mode == "generic"), link
                time.sleep(0.5)
                return
        else:
            want = workers if backend == "afpacket" else 1
            if ns.packet_sockets() >= want:
                time.sleep(0.5)	# fanout join and filter swap follow the sockets
                return
        time.sleep(0.05)
    raise AssertionError("%s did not open its capture within %.0f s" % (backend, deadline))


def live_meter(ns, pcap, backend, workers, count, xdp_mode=None, extra=()):
    env = dict(os.environ)
    if xdp_mode:
        env["PC_XDP_MODE"] = xdp_mode
    args = [jcaptest.jcap_path(), "-i", "v1", "-b", backend, "--workers", workers,
            "--count", count, "-F", "json", "--stats", "--no-progress"] + list(extra)
    p = ns.popen(args, env=env)
    try:
        wait_ready(ns, backend, workers, xdp_mode)
    except AssertionError:
        p.kill()
        out, err = p.communicate()
        raise AssertionError("jcap: %s" % err[-2000:])
    ns.inject("v0", pcap)
    try:
        out, err = p.communicate(timeout=30)
    except Exception:
        p.kill()
        out, err = p.communicate()
        raise AssertionError("jcap did not stop after %d packets: %s" % (count, err[-2000:]))
    assert p.returncode == 0, "jcap exited %d: %s" % (p.returncode, err[-2000:])
    recs = jcaptest.parse_lines(out)
    stats = jcaptest.parse_stats(err)
    jcaptest.check_conservation(stats, recs)
    return recs, stats


def check_no_split(recs, exp_recs):
    """As many records per 5-tuple as expected, all of a tuple on one worker."""
    def key(r):
        a = (jcaptest.ip_norm(r["src_ip"]), r["src_port"])
        b = (jcaptest.ip_norm(r["dst_ip"]), r["dst_port"])
        return (r["proto"], r["vlan"]) + tuple(sorted([a, b]))

    got, want, workers = {}, {}, {}
    for r in recs:
        got[key(r)] = got.get(key(r), 0) + 1
        workers.setdefault(key(r), set()).add(r["worker"])
    for r in exp_recs:
        want[key(r)] = want.get(key(r), 0) + 1
    assert got == want, "records per 5-tuple differ"
    split = {k: w for k, w in workers.items() if len(w) > 1}
    assert not split, "flows split across workers: %s" % list(split.items())[:5]
    return len({w for s in workers.values() for w in s})


CASES = [
    ("pcap", 1, None),
    ("afpacket", 1, None),
    ("afpacket", 2, None),
    ("afxdp", 1, "native"),
    ("afxdp", 1, "generic"),
    ("afxdp", 2, "native"),
]


def skip_unavailable(backends, name):
    b = backends.get(name)
    if not b or not b["available"]:
        pytest.skip("%s unavailable: %s" % (name, b["reason"] if b else "not listed"))


@pytest.mark.parametrize("backend,workers,xdp_mode", CASES,
                         ids=["%s-w%d%s" % (b, w, "-" + m if m else "") for b, w, m in CASES])
def test_every_flow_exact(traffic, backends, backend, workers, xdp_mode):
    skip_unavailable(backends, backend)
    exp = traffic["exp"]
    with netns.VethNetns() as ns:
        recs, stats = live_meter(ns, traffic["pcap"], backend, workers, exp.packets_read,
                                 xdp_mode)
        assert backend != "afxdp" or "prog/xdp" not in ns.link_show("v1"), \
            "XDP program left on v1 after jcap stopped"
    assert stats["packets_read"] == exp.packets_read
    assert stats["workers"] == workers
    assert stats["skipped"]["non_ip"] == 3
    assert stats["skipped"]["fragment_unmatched"] == 0
    assert sum(stats["skipped"].values()) == 3, stats["skipped"]
    assert jcaptest.sums_by_tuple(recs) == jcaptest.sums_by_tuple(exp.records)
    used = check_no_split(recs, exp.records)
    if workers > 1:
        assert used == workers, "only %d of %d workers metered flows" % (used, workers)
    k = stats["kernel"]
    assert k["drops"] == 0 and k["freeze_q"] == 0 and k["ifdrops"] == 0, k
    assert k["xdp_rx_ring_full"] == 0 and k["xdp_fill_ring_empty"] == 0, k
    # the kernel saw exactly what it delivered (afxdp: delivered + dropped)
    assert k["packets"] == exp.packets_read, k


@pytest.mark.parametrize("backend,workers,xdp_mode", CASES,
                         ids=["%s-w%d%s" % (b, w, "-" + m if m else "") for b, w, m in CASES])
def test_filter_same_flows_as_file(traffic, backends, backend, workers, xdp_mode):
    skip_unavailable(backends, backend)
    frecs, fstats = traffic["frecs"], traffic["fstats"]
    want = fstats["packets_read"] - fstats["skipped"]["filtered"]
    assert 0 < want < traffic["exp"].packets_read
    with netns.VethNetns() as ns:
        recs, stats = live_meter(ns, traffic["pcap"], backend, workers, want, xdp_mode,
                                 extra=["--filter", FILTER])
    assert stats["packets_read"] == want
    assert jcaptest.sums_by_tuple(recs) == jcaptest.sums_by_tuple(frecs)
    check_no_split(recs, frecs)
    assert stats["kernel"]["drops"] == 0


def test_bad_filter_refused_before_capture(backends):
    with netns.VethNetns() as ns:
        p = ns.run([jcaptest.jcap_path(), "-i", "v1", "-b", "afpacket", "--filter", "tcp and",
                    "--count", "1", "--no-progress"], timeout=20)
    assert p.returncode in (1, 2), p.stderr
    assert "invalid filter 'tcp and'" in p.stderr and "syntax error" in p.stderr, p.stderr


def test_buffer_size_out_of_range(backends):
    with netns.VethNetns() as ns:
        p = ns.run([jcaptest.jcap_path(), "-i", "v1", "-b", "afpacket", "--buffer-mb", "4096",
                    "--count", "1", "--no-progress"], timeout=20)
    assert p.returncode in (1, 2), p.stderr
    assert "4096" in p.stderr and "64..2048" in p.stderr, p.stderr


def test_backends_listing(backends):
    assert list(backends) == ["dpdk", "pfring", "afxdp", "afpacket", "pcap", "file"]
    assert backends["dpdk"]["available"] is False
    assert backends["dpdk"]["reason"].startswith("not built with DPDK support (libdpdk-dev ")
    assert backends["pfring"]["available"] is False
    assert backends["pfring"]["reason"].startswith("not built with PF_RING support")
    assert backends["afpacket"]["available"] is True
    assert backends["file"]["preference"] == 0
    prefs = [b["preference"] for b in backends.values()]
    assert prefs == sorted(prefs, reverse=True)


def uid_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    return None


def test_user_drops_privileges_after_open(traffic, backends):
    """--user nobody: sockets opened as root, then every uid is nobody's and
    metering goes on unchanged."""
    exp = traffic["exp"]
    with netns.VethNetns() as ns:
        args = [jcaptest.jcap_path(), "-i", "v1", "-b", "afpacket", "--workers", 2,
                "--user", "nobody", "--count", exp.packets_read, "-F", "json", "--stats",
                "--no-progress"]
        p = ns.popen(args)
        wait_ready(ns, "afpacket", 2, None)
        uids = uid_of(p.pid)
        ns.inject("v0", traffic["pcap"])
        out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert uids == [65534] * 4, uids
    recs, stats = jcaptest.parse_lines(out), jcaptest.parse_stats(err)
    assert stats["packets_read"] == exp.packets_read
    assert jcaptest.sums_by_tuple(recs) == jcaptest.sums_by_tuple(exp.records)


def test_missing_capability_is_named(backends):
    """Without CAP_NET_RAW the error says which capability is missing."""
    if subprocess.run(["which", "setpriv"], capture_output=True).returncode != 0:
        pytest.skip("setpriv (util-linux) not installed")
    with netns.VethNetns() as ns:
        for b in ("afpacket", "pcap"):
            p = ns.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "--inh-caps=-all", jcaptest.jcap_path(), "-i", "v1", "-b", b,
                        "--count", "1", "--no-progress"], timeout=20)
            assert p.returncode == 1, (b, p.returncode, p.stderr)
            assert "missing capability CAP_NET_RAW" in p.stderr, (b, p.stderr)


ECHO = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.254.1", 7777))
s.settimeout(10)
for _ in range(int(sys.argv[1])):
    data, peer = s.recvfrom(2048)
    s.sendto(data, peer)
"""

CLIENT = r"""
import socket, sys
for host in range(10, 14):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("198.18.254.%d" % host, 40000))
    s.settimeout(5)
    for i in range(int(sys.argv[1])):
        s.sendto(bytes(100), ("198.18.254.1", 7777))
        s.recvfrom(2048)
    s.close()
"""


def test_host_traffic_both_directions_one_worker(backends):
    """Datagrams sent and received by the capturing host itself: outgoing
    frames start at the MAC header when the fanout program runs, incoming
    ones at the network header; both directions must still meet on one
    fanout member, in one flow, for each of 4 address pairs. The peer (v0)
    sits in a second namespace."""
    n = 20
    with netns.VethNetns() as ns:
        peer = ns.name + "p"
        subprocess.run(["ip", "netns", "add", peer], check=True)
        try:
            subprocess.run(["ip", "-n", ns.name, "link", "set", "v0", "netns", peer], check=True)
            subprocess.run(["ip", "-n", peer, "addr", "add", "198.18.254.1/24", "dev", "v0"],
                           check=True)
            subprocess.run(["ip", "-n", peer, "link", "set", "v0", "up"], check=True)
            for h in range(10, 14):
                subprocess.run(["ip", "-n", ns.name, "addr", "add", "198.18.254.%d/24" % h,
                                "dev", "v1"], check=True)
            echo = subprocess.Popen(["ip", "netns", "exec", peer, sys.executable, "-c", ECHO,
                                     str(4 * n)])
            ns.procs.append(echo)
            p = ns.popen([jcaptest.jcap_path(), "-i", "v1", "-b", "afpacket", "--workers", 2,
                          "--duration", 4, "-F", "json", "--stats", "--no-progress",
                          "--filter", "udp"])
            wait_ready(ns, "afpacket", 2, None)
            r = ns.run([sys.executable, "-c", CLIENT, str(n)], timeout=30)
            assert r.returncode == 0, r.stderr
            out, err = p.communicate(timeout=30)
            echo.wait(timeout=10)
        finally:
            subprocess.run(["ip", "netns", "del", peer], capture_output=True)
    assert p.returncode == 0, err
    recs = sorted(jcaptest.parse_lines(out), key=lambda r: r["src_ip"])
    assert [r["src_ip"] for r in recs] == ["198.18.254.%d" % h for h in range(10, 14)], recs
    for rec in recs:
        assert (rec["src_port"], rec["dst_ip"], rec["dst_port"]) == \
            (40000, "198.18.254.1", 7777), rec
        assert (rec["packets"], rec["rev_packets"]) == (n, n), rec
        assert (rec["bytes"], rec["rev_bytes"]) == (n * 128, n * 128), rec
