# SPDX-License-Identifier: BSD-3-Clause
"""Live capture end to end: pcapgen traffic replayed into one end of a veth
pair in a private namespace while `jcap -i v1 -b BACKEND --count N` meters
the other end. Every flow must be metered exactly (packets and bytes of each
direction equal the generator's truth), no flow may be split across workers
(one record per 5-tuple, all fragments matched), conservation holds, the
kernel reports no drops (the ring holds the whole injection, so no drop can
come from scheduling), and one filter expression gives the same flows on
every backend as on the file. The live flags too: --user (ids, groups and
capabilities of the running process), --no-promisc (the interface's
promiscuity), --tstamp, and SIGINT/SIGTERM stopping a live run with an
encrypted --pcap-out that decrypts to every frame. jcap runs with -v and is
ready when it says "capture started" (everything is open then). Root only;
skips (77) name the reason.
"""

import grp
import os
import pwd
import select
import signal
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
needs_netns = pytest.mark.skipif(not OK, reason=WHY)
# the capture ring: 256 MiB, 128 blocks of 1 MiB per afpacket member (a block
# retires after 10 ms): the ~1500 frames injected fit even if jcap does not
# read at all for a second; AF_XDP's RX ring (16384) holds them all anyway
BUFFER = ("--buffer-mb", "256")


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


class Started:
    """jcap -v started in the namespace: stderr is read up to its "capture
    started" line (logged once the backend, its sockets or XDP program,
    fanout and filters are all in place, and the workers run)."""

    def __init__(self, ns, args, env=None, deadline=20.0):
        self.p = ns.popen([jcaptest.jcap_path(), "-v"] + [str(a) for a in args], env=env)
        self.err = b""
        fd = self.p.stderr.fileno()
        end = time.monotonic() + deadline
        while b"jcap: info: capture started: " not in self.err:
            left = end - time.monotonic()
            r, _, _ = select.select([fd], [], [], max(0, left))
            chunk = os.read(fd, 4096) if r else b""
            if not chunk:
                self.p.kill()
                out, err = self.p.communicate()
                raise AssertionError("jcap did not start (exit %s): %s" % (
                    self.p.returncode, (self.err.decode() + err)[-2000:]))
            self.err += chunk
        self.pid = int(self.p.pid)

    def finish(self, timeout=30, sig=None):
        """Wait for the exit (after @sig, if given); returns (stdout, stderr)."""
        if sig is not None:
            self.p.send_signal(sig)
        try:
            out, err = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, err = self.p.communicate()
            raise AssertionError("jcap did not stop: %s" % (self.err.decode() + err)[-2000:])
        return out, self.err.decode() + err


def jcap_pid(started):
    """The jcap process itself (ip netns exec execs it: same pid)."""
    with open("/proc/%d/cmdline" % started.pid, "rb") as f:
        assert f.read().split(b"\0")[0] == jcaptest.jcap_path().encode()
    return started.pid


def live_meter(ns, pcap, backend, workers, count, xdp_mode=None, extra=()):
    env = dict(os.environ)
    if xdp_mode:
        env["PC_XDP_MODE"] = xdp_mode
    args = ["-i", "v1", "-b", backend, "--workers", workers, "--count", count, "-F", "json",
            "--stats", "--no-progress"] + list(BUFFER) + list(extra)
    j = Started(ns, args, env=env)
    if backend == "afxdp":
        link = ns.link_show("v1")
        assert "prog/xdp" in link, link
        assert (" xdpgeneric" in link) == (xdp_mode == "generic"), link
    ns.inject("v0", pcap)
    out, err = j.finish()
    assert j.p.returncode == 0, "jcap exited %d: %s" % (j.p.returncode, err[-2000:])
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


@needs_netns
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


@needs_netns
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


@needs_netns
def test_bad_filter_refused_before_capture(backends):
    with netns.VethNetns() as ns:
        p = ns.run([jcaptest.jcap_path(), "-i", "v1", "-b", "afpacket", "--filter", "tcp and",
                    "--count", "1", "--no-progress"], timeout=20)
    assert p.returncode in (1, 2), p.stderr
    assert "invalid filter 'tcp and'" in p.stderr and "syntax error" in p.stderr, p.stderr


@needs_netns
def test_buffer_size_out_of_range(backends):
    with netns.VethNetns() as ns:
        p = ns.run([jcaptest.jcap_path(), "-i", "v1", "-b", "afpacket", "--buffer-mb", "4096",
                    "--count", "1", "--no-progress"], timeout=20)
    assert p.returncode in (1, 2), p.stderr
    assert "4096" in p.stderr and "64..2048" in p.stderr, p.stderr


@needs_netns
def test_backends_listing(backends):
    assert list(backends) == ["dpdk", "pfring", "afxdp", "ebpf", "afpacket", "pcap", "file"]
    assert backends["dpdk"]["available"] is False
    # no hugepages and no bound NIC here, or a build without DPDK
    assert backends["dpdk"]["reason"].startswith(("not compiled in (", "DPDK "))
    assert backends["pfring"]["available"] is False
    assert backends["pfring"]["reason"].startswith("not built with PF_RING support")
    assert backends["afpacket"]["available"] is True
    assert backends["file"]["preference"] == 0
    prefs = [b["preference"] for b in backends.values()]
    assert prefs == sorted(prefs, reverse=True)


def proc_status(pid):
    """Uid, Gid (real, effective, saved, fs), Groups and the capability sets
    of a running process, from /proc/PID/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Uid", "Gid", "Groups"):
                out[k] = [int(x) for x in v.split()]
            elif k in ("CapEff", "CapPrm", "CapInh", "CapAmb"):
                out[k] = int(v, 16)
    return out


@needs_netns
def test_user_drops_privileges_after_open(traffic, backends):
    """--user nobody: sockets opened as root, then the running process has
    nobody's uid and primary gid (real, effective, saved, fs), exactly
    nobody's supplementary groups (as initgroups gives them), and no
    capability left; metering goes on unchanged."""
    exp = traffic["exp"]
    pw = pwd.getpwnam("nobody")
    groups = sorted(set(os.getgrouplist("nobody", pw.pw_gid)))
    with netns.VethNetns() as ns:
        j = Started(ns, ["-i", "v1", "-b", "afpacket", "--workers", 2, "--user", "nobody",
                         "--count", exp.packets_read, "-F", "json", "--stats", "--no-progress"]
                    + list(BUFFER))
        st = proc_status(jcap_pid(j))
        ns.inject("v0", traffic["pcap"])
        out, err = j.finish()
    assert j.p.returncode == 0, err
    assert st["Uid"] == [pw.pw_uid] * 4, st
    assert st["Gid"] == [pw.pw_gid] * 4, st
    assert sorted(st["Groups"]) == groups, (st, grp.getgrgid(pw.pw_gid).gr_name)
    assert (st["CapEff"], st["CapPrm"], st["CapInh"], st["CapAmb"]) == (0, 0, 0, 0), st
    recs, stats = jcaptest.parse_lines(out), jcaptest.parse_stats(err)
    assert stats["packets_read"] == exp.packets_read
    assert jcaptest.sums_by_tuple(recs) == jcaptest.sums_by_tuple(exp.records)


@needs_netns
def test_unknown_user_is_refused(backends):
    with netns.VethNetns() as ns:
        p = ns.run([jcaptest.jcap_path(), "-i", "v1", "-b", "afpacket", "--user",
                    "pc-no-such-user", "--count", "1", "-F", "json", "--no-progress"],
                   timeout=30)
    assert (p.returncode, p.stdout, p.stderr) == \
        (1, "", "jcap: unknown user 'pc-no-such-user'\n")


def promiscuity(ns, dev):
    """(the promiscuity counter of `ip -d link`, IFF_PROMISC in sysfs flags)."""
    link = ns.link_show(dev)
    words = link.split()
    count = int(words[words.index("promiscuity") + 1])
    flags = int(ns.run(["cat", "/sys/class/net/%s/flags" % dev], check=True).stdout, 16)
    return count, bool(flags & 0x100)


PROMISC = [pytest.param(b, w, pr, id="%s-w%d-%s" % (b, w, "default" if pr else "no-promisc"))
           for b, w in (("afpacket", 1), ("afpacket", 2), ("pcap", 1), ("afxdp", 1))
           for pr in (True, False)]


@needs_netns
@pytest.mark.parametrize("backend,workers,promisc", PROMISC)
def test_promiscuous_mode(backends, backend, workers, promisc):
    """By default every capture socket puts the interface in promiscuous mode
    (the kernel counts one per socket); --no-promisc leaves it alone. Either
    way it is back to 0 after jcap exits (SIGINT)."""
    skip_unavailable(backends, backend)
    with netns.VethNetns() as ns:
        assert promiscuity(ns, "v1") == (0, False)
        j = Started(ns, ["-i", "v1", "-b", backend, "--workers", workers, "-F", "json",
                         "--no-progress"] + ([] if promisc else ["--no-promisc"]))
        during = promiscuity(ns, "v1")
        _, err = j.finish(sig=signal.SIGINT)
        after = promiscuity(ns, "v1")
    assert j.p.returncode == 0, err
    assert during == ((workers, True) if promisc else (0, False))
    assert after == (0, False)


def small_scenario():
    """100 packets: TCP and UDP, IPv4 and IPv6, 10 flows."""
    sc = pcapgen.Scenario(seed=9)
    for i in range(5):
        sc.tcp_session(i * 0.001, pcapgen.c4(i + 1), pcapgen.s4(1), 30000 + i, 443, data=2,
                       close="fin", gap=0.0001)
        sc.udp_exchange(i * 0.001, pcapgen.c6(i), pcapgen.s6(1), 30000 + i, 53, count=10,
                        gap=0.0001)
    assert len(sc.pkts) == 100
    return sc


@needs_netns
@pytest.mark.parametrize("src", ["kernel", "hardware", "ptp", "ntp"])
def test_tstamp_sources(tmp_path, backends, src):
    """--tstamp SRC on a veth (no NIC clock: hardware falls back to the
    kernel's stamps, ptp too unless there is a /dev/ptp0, whose time the
    stamps are then moved to): every flow exact, every record's times within
    the span of the run on that clock."""
    off = 0
    if src == "ptp" and os.path.exists("/dev/ptp0"):
        # the PHC's offset from the wall clock, as the library measures it
        fd = os.open("/dev/ptp0", os.O_RDONLY)
        try:
            a = time.time_ns()
            phc = time.clock_gettime_ns((~fd << 3) | 3)   # FD_TO_CLOCKID
            off = phc - (a + time.time_ns()) // 2
        finally:
            os.close(fd)
    sc = small_scenario()
    pcap = str(tmp_path / "ts.pcap")
    sc.write(pcap)
    exp = sc.expected()
    with netns.VethNetns() as ns:
        t0 = time.time_ns()
        j = Started(ns, ["-i", "v1", "-b", "afpacket", "--tstamp", src, "--count",
                         exp.packets_read, "-F", "json", "--stats", "--no-progress"])
        ns.inject("v0", pcap)
        out, err = j.finish()
        t1 = time.time_ns()
    assert j.p.returncode == 0, err
    # the stamps in use are said when capture starts: a veth has no NIC
    # clock, so hardware (and ptp without a PHC) fall back to the kernel's
    used = {"kernel": "kernel", "hardware": "kernel", "ntp": "ntp",
            "ptp": "ptp" if os.path.exists("/dev/ptp0") else "kernel"}[src]
    started = [ln for ln in err.splitlines() if "capture started: " in ln]
    assert len(started) == 1 and "; time stamps: %s (" % used in started[0], started
    recs, stats = jcaptest.parse_lines(out), jcaptest.parse_stats(err)
    jcaptest.check_conservation(stats, recs)
    assert stats["packets_read"] == exp.packets_read
    assert jcaptest.sums_by_tuple(recs) == jcaptest.sums_by_tuple(exp.records)
    assert sorted(r["end_reason"] for r in recs) == sorted(r["end_reason"] for r in exp.records)
    slack = 100 * 10**6 if off else 0    # a PHC drifts from the wall clock meanwhile
    for r in recs:
        assert t0 + off - slack <= r["first_ns"] <= r["last_ns"] <= t1 + off + slack, (t0, r, t1)


def test_tstamp_unknown_source():
    p = jcaptest.run(["-i", "lo", "--tstamp", "gps", "--count", "1"])
    assert (p.returncode, p.stdout) == (2, "")
    assert p.stderr == "jcap: --tstamp: unknown source 'gps' (kernel, hardware, ptp, ntp)\n"




@needs_netns
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_stops_live_run(tmp_path, backends, sig):
    """A live run without --count or --duration, stopped by SIGINT/SIGTERM
    once it has read every injected frame (the record that the last frame
    ended is on stdout): exit 0, every flow printed with the truth's
    counts, and its encrypted --pcap-out file decrypts (`jcap decrypt`) to a
    pcap of exactly the injected frames, in order."""
    sc = small_scenario()
    # the last frame reuses a closed TCP 5-tuple: its first record ends then
    last = sc.ip(0.1, pcapgen.c4(1), pcapgen.s4(1), 6, 30000, 443, flags=pcapgen.SYN)
    assert sc.packets()[-1] is last
    exp = sc.expected()
    first = [r for r in exp.records if r["src_port"] == 30000 and r["proto"] == 6 and
             r["end_reason"] == "end"]
    assert len(first) == 1
    pcap = str(tmp_path / "sig.pcap")
    sc.write(pcap)
    key = tmp_path / "k.hex"
    key.write_text("5a" * 32 + "\n")
    store = tmp_path / "store"
    with netns.VethNetns() as ns:
        j = Started(ns, ["-i", "v1", "-b", "afpacket", "-F", "json", "--stats",
                         "--no-progress", "--pcap-out", store, "--encrypt-key", key])
        ns.inject("v0", pcap)
        rec = jcaptest.read_json_line(j.p, time.monotonic() + 30)
        assert jcaptest.sums_by_tuple([rec]) == jcaptest.sums_by_tuple(first)
        assert rec["end_reason"] == "end"
        assert j.p.poll() is None
        out, err = j.finish(sig=sig)
    assert j.p.returncode == 0, err
    recs = [rec] + jcaptest.parse_lines(out)
    stats = jcaptest.parse_stats(err)
    jcaptest.check_conservation(stats, recs)
    assert stats["packets_read"] == exp.packets_read
    assert jcaptest.sums_by_tuple(recs) == jcaptest.sums_by_tuple(exp.records)
    assert sorted(r["end_reason"] for r in recs) == sorted(r["end_reason"] for r in exp.records)
    assert stats["writer"]["queue_drops"] == 0 and stats["writer"]["errors"] == 0
    (name,) = os.listdir(store)
    assert name.endswith(".pcap.enc"), name
    plain = str(tmp_path / "dec.pcap")
    p = jcaptest.run(["decrypt", "--key", key, store / name, plain])
    assert p.returncode == 0 and p.stderr == "", p.stderr
    assert netns.read_pcap(plain) == [data for _, data, _, _ in sc.records()]


@needs_netns
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
print("ready", flush=True)
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


@needs_netns
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
                                     str(4 * n)], stdout=subprocess.PIPE, text=True)
            ns.procs.append(echo)
            # the client's first datagram must find the echo socket bound
            assert echo.stdout.readline() == "ready\n"
            # --duration: the exchange takes milliseconds, the run 4 s
            j = Started(ns, ["-i", "v1", "-b", "afpacket", "--workers", 2, "--duration", 4,
                             "-F", "json", "--stats", "--no-progress", "--filter", "udp"])
            r = ns.run([sys.executable, "-c", CLIENT, str(n)], timeout=30)
            assert r.returncode == 0, r.stderr
            out, err = j.finish()
            p = j.p
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
