# SPDX-License-Identifier: BSD-3-Clause
"""The eBPF backend (-b ebpf) end to end: pcapgen traffic replayed into one
end of a veth pair in a private namespace while `jcap -i v1 -b ebpf` meters
the other end in the kernel (XDP generic and native, TC ingress). Every flow
must come out exact (packets, bytes and TCP flags of each direction equal the
generator's truth), also when the kernel map holds fewer flows than the
traffic has (the overflow is handed up and metered in user space, merged into
the same records); fragments, a GRE and a VXLAN tunnel, QinQ, IPv6 with
extension headers, truncated and malformed frames are mixed in and handed up
for their exact reasons; conservation holds across kernel and user space;
stop, restart and kill -9 leave no program behind and count no flow twice.
Root only; skips (77) name the reason.
"""

import os
import signal
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jcaptest  # noqa: E402
import netns  # noqa: E402
import pcapgen  # noqa: E402
import tunnelgen  # noqa: E402
from test_live import Started, build_scenario, skip_unavailable  # noqa: E402

OK, WHY = netns.can_use_netns()
needs_netns = pytest.mark.skipif(not OK, reason=WHY)

# hook, PC_XDP_MODE
HOOKS = [("xdp", "generic"), ("xdp", "native"), ("tc", None)]
IDS = ["xdp-generic", "xdp-native", "tc"]


def ebpf_scenario():
    """test_live's mix (TCP/UDP over IPv4/IPv6, VLAN, ICMP, fragments mixed
    with whole datagrams of the same flow, ARP) plus what the kernel program
    must hand up or walk: QinQ, a GRE and a VXLAN tunnel, IPv6 with hop-by-hop,
    routing and destination options headers, IPv4 options, truncated and
    malformed frames."""
    sc = build_scenario()
    t = 0.5
    for i in range(6):
        sc.tcp_session(t, pcapgen.c6(200 + i), pcapgen.s6(i), 30000 + i, 443, data=2,
                       gap=0.0001, close="fin", v6ext=(("hop", 8), ("routing", 24), "dest"),
                       size=200)
        sc.udp_exchange(t, pcapgen.c4(200 + i), pcapgen.s4(i + 1), 31000 + i, 53, count=3,
                        gap=0.0001, l2={"vlans": [300, 301 + i]}, size=80)
        sc.tcp_session(t, pcapgen.c4(220 + i), pcapgen.s4(i + 1), 32000 + i, 80, data=1,
                       gap=0.0001, close="rst", v4opts=pcapgen.ipv4_options_rr(2), size=60)
        t += 0.003
    with sc.tunnel(tunnelgen.Tunnel("gre", "198.18.77.1", "198.18.77.2", id=None)):
        sc.udp_exchange(t, "10.9.0.1", "10.9.0.2", 40000, 53, count=4, gap=0.0001, size=50)
    with sc.tunnel(tunnelgen.Tunnel("vxlan", "198.18.78.1", "198.18.78.2", id=5001)):
        sc.tcp_session(t, "10.9.1.1", "10.9.1.2", 40001, 80, data=2, gap=0.0001, close="fin")
    for k, kind in enumerate(("ip4", "tcp4", "udp4", "ip6", "tcp6")):
        sc.truncated(t + 0.01 + k * 0.0001, kind)
    for k, kind in enumerate(("ihl", "totlen", "totlen_gt_frame")):
        sc.malformed(t + 0.02 + k * 0.0001, kind)
    return sc


def handed_up(sc):
    """The kernel program's hand-up counts, by reason, for @sc's packets."""
    up = {"non_ip": 0, "vlan": 0, "fragment": 0, "tunnel": 0, "ext_header": 0, "malformed": 0}
    for p in sc.packets():
        if len(p.l2.get("vlans", ())) > 1:
            up["vlan"] += 1
        elif p.verdict == "non_ip":
            up["non_ip"] += 1
        elif p.verdict in ("truncated", "malformed"):
            up["malformed"] += 1
        elif p.tun is not None:
            up["tunnel"] += 1
        elif p.frag is not None:
            up["fragment"] += 1
    return up


def flags_by_tuple(records):
    """{(proto, vlan, endpoints sorted): {endpoint: TCP flags OR'd}}."""
    out = {}
    for r in records:
        a = (jcaptest.ip_norm(r["src_ip"]), r["src_port"])
        b = (jcaptest.ip_norm(r["dst_ip"]), r["dst_port"])
        d = out.setdefault((r["proto"], r["vlan"]) + tuple(sorted([a, b])), {})
        d[a] = d.get(a, 0) | r["tcp_flags"]
        d[b] = d.get(b, 0) | r["rev_tcp_flags"]
    for d in out.values():
        for ep in [e for e, v in d.items() if not v]:
            del d[ep]
    return out


@pytest.fixture(scope="module")
def traffic(tmp_path_factory):
    d = tmp_path_factory.mktemp("ebpf")
    sc = ebpf_scenario()
    pcap = str(d / "ebpf.pcap")
    sc.write(pcap)
    return {"pcap": pcap, "exp": sc.expected(), "up": handed_up(sc), "n": len(sc.packets())}


def start(ns, hook, mode, extra=(), env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    if mode:
        env["PC_XDP_MODE"] = mode
    args = ["-i", "v1", "-b", "ebpf", "--ebpf-hook", hook, "-F", "json", "--stats",
            "--no-progress"] + list(extra)
    return Started(ns, args, env=env)


def attached(ns):
    """What of ours is on v1: 'xdp', 'tc' or None."""
    if "prog/xdp" in ns.link_show("v1"):
        return "xdp"
    if "fm_tc" in ns.run(["tc", "filter", "show", "dev", "v1", "ingress"]).stdout:
        return "tc"
    return None


def stop(j):
    out, err = j.finish(sig=signal.SIGINT)
    assert j.p.returncode == 0, "jcap exited %d: %s" % (j.p.returncode, err[-2000:])
    recs = jcaptest.parse_lines(out)
    stats = jcaptest.parse_stats(err)
    jcaptest.check_conservation(stats, recs)
    return recs, stats, err


def check_exact(traffic, recs, stats, map_full=False):
    exp = traffic["exp"]
    assert jcaptest.sums_by_tuple(recs) == jcaptest.sums_by_tuple(exp.records)
    assert flags_by_tuple(recs) == flags_by_tuple(exp.records)
    assert len(recs) == len(exp.records)
    for r in recs:
        assert 0 < r["first_ns"] <= r["last_ns"], r
    e, k = stats["ebpf"], stats["kernel"]
    up = dict(e["handed_up"])
    # conservation across kernel and user space
    assert e["seen"] == traffic["n"], e
    assert e["seen"] == e["metered"] + sum(up.values()) + e["ring_full"] + e["errors"], e
    assert e["ring_full"] == 0 and e["errors"] == 0, e
    assert stats["packets_read"] == e["seen"] == k["packets"], (stats["packets_read"], e, k)
    assert k["drops"] == 0, k
    if map_full is None:  # may or may not overflow: timing decides
        up.pop("map_full")
    elif map_full:
        assert up.pop("map_full") > 0, e
    else:
        assert up.pop("map_full") == 0, e
    assert up.pop("filter") == 0
    assert up.pop("ext_header") == 0, e  # hop, routing, dest: walked in the kernel
    want = dict(traffic["up"])
    want.pop("ext_header")
    assert up == want, (up, want)
    assert e["harvests"] >= 1 and e["harvested_flows"] >= 1, e
    # user space skipped exactly the frames it cannot meter either
    sk = stats["skipped"]
    assert sk["non_ip"] == traffic["up"]["non_ip"], sk
    assert sk["truncated"] + sk["malformed"] == traffic["up"]["malformed"], sk
    assert sk["fragment_unmatched"] == 0, sk


@needs_netns
@pytest.mark.parametrize("hook,mode", HOOKS, ids=IDS)
def test_every_flow_exact(traffic, backends, hook, mode):
    skip_unavailable(backends, "ebpf")
    with netns.VethNetns() as ns:
        j = start(ns, hook, mode)
        assert attached(ns) == hook
        assert ns.inject("v0", traffic["pcap"]) == traffic["n"]
        recs, stats, err = stop(j)
        assert attached(ns) is None, "program left on v1 after jcap stopped"
        assert ns.run(["tc", "qdisc", "show", "dev", "v1", "clsact"]).stdout.strip() == ""
    mode_said = {"generic": "xdp generic", "native": "xdp native", None: "tc ingress"}[mode]
    assert "ebpf: %s on v1" % mode_said in err, err
    check_exact(traffic, recs, stats)


@needs_netns
@pytest.mark.parametrize("hook,mode", [HOOKS[0], HOOKS[2]], ids=[IDS[0], IDS[2]])
def test_map_smaller_than_flows(traffic, backends, hook, mode):
    """16 kernel entries for ~150 flows: new flows beyond them go up, and
    the records are still exact (a flow's kernel and user-space parts merge)."""
    skip_unavailable(backends, "ebpf")
    with netns.VethNetns() as ns:
        j = start(ns, hook, mode, ["--ebpf-map-flows", "16"])
        ns.inject("v0", traffic["pcap"])
        recs, stats, _ = stop(j)
    check_exact(traffic, recs, stats, map_full=True)


@needs_netns
@pytest.mark.parametrize("flows", [None, "16"], ids=["map", "map16"])
def test_many_harvests_exact(traffic, backends, flows):
    """A harvest every 10 ms while the traffic trickles in over ~40 of
    them: the entries of flows with packets are zeroed in place and counted
    again from zero, the ones that stayed idle an interval are deleted (with a
    16-entry map, their room goes to new flows); every record stays exact."""
    skip_unavailable(backends, "ebpf")
    extra = ["--ebpf-map-flows", flows] if flows else []
    with netns.VethNetns() as ns:
        j = start(ns, "xdp", "generic", extra, {"PC_EBPF_HARVEST_MS": "10"})
        ns.inject("v0", traffic["pcap"], pps=traffic["n"] * 2)
        recs, stats, _ = stop(j)
    # 16 entries hold the flows of about three 10 ms intervals: whether the
    # trickle ever overflows them depends on timing (test_small_map covers
    # the overflow); what must hold is exactness and conservation
    check_exact(traffic, recs, stats, map_full=None if flows else False)
    e = stats["ebpf"]
    assert e["harvests"] >= 10, e


@needs_netns
@pytest.mark.parametrize("hook,mode", [HOOKS[0], HOOKS[2]], ids=[IDS[0], IDS[2]])
def test_kill_restart_no_leftover_no_double_count(traffic, backends, hook, mode):
    """kill -9 mid-run: the xdp link goes with the process; the tc filter
    stays and the next run replaces it (and says so). The second run counts
    only its own traffic: nothing metered by the killed run shows up."""
    skip_unavailable(backends, "ebpf")
    with netns.VethNetns() as ns:
        j = start(ns, hook, mode)
        ns.inject("v0", traffic["pcap"])
        j.p.send_signal(signal.SIGKILL)
        j.p.wait()
        assert attached(ns) == (None if hook == "xdp" else "tc")
        j = start(ns, hook, mode)
        if hook == "tc":
            assert "ebpf: removed stale TC filter" in j.err.decode(), j.err.decode()
        ns.inject("v0", traffic["pcap"])
        recs, stats, _ = stop(j)
        assert attached(ns) is None
        # a plain stop and a restart: again exactly one run's traffic
        j = start(ns, hook, mode)
        assert "stale" not in j.err.decode()
        ns.inject("v0", traffic["pcap"])
        recs2, stats2, _ = stop(j)
        assert attached(ns) is None
    check_exact(traffic, recs, stats)
    check_exact(traffic, recs2, stats2)


@needs_netns
def test_filter_hands_everything_up(traffic, backends):
    """A filter the program cannot run: every packet goes up (reason
    filter) and user space filters, with the same flows as the file."""
    skip_unavailable(backends, "ebpf")
    flt = "udp or (tcp and port 443)"
    frecs, _ = jcaptest.meter(traffic["pcap"], "--filter", flt)
    with netns.VethNetns() as ns:
        j = start(ns, "xdp", "generic", ["--filter", flt])
        ns.inject("v0", traffic["pcap"])
        recs, stats, _ = stop(j)
    e = stats["ebpf"]
    assert e["handed_up"]["filter"] == e["seen"] == traffic["n"] and e["metered"] == 0, e
    assert jcaptest.sums_by_tuple(recs) == jcaptest.sums_by_tuple(frecs)


@needs_netns
def test_foreign_xdp_program_refused(backends):
    """An XDP program that is not ours stays, and the error says how to go on."""
    skip_unavailable(backends, "ebpf")
    with netns.VethNetns() as ns:
        j = Started(ns, ["-i", "v1", "-b", "afxdp", "--no-progress"],
                    env=dict(os.environ, PC_XDP_MODE="generic"))
        try:
            p = ns.run([jcaptest.jcap_path(), "-i", "v1", "-b", "ebpf", "--no-progress"],
                       timeout=20)
        finally:
            j.finish(sig=signal.SIGINT)
    assert p.returncode == 1, p.stderr
    assert "ebpf: v1 already has XDP program 'xsk_def_prog'" in p.stderr, p.stderr
    assert "--ebpf-hook tc" in p.stderr, p.stderr



@needs_netns
def test_second_capture_refused(backends):
    """A running capture's program (held by its link) is not taken over."""
    skip_unavailable(backends, "ebpf")
    with netns.VethNetns() as ns:
        j = start(ns, "xdp", "generic")
        try:
            p = ns.run([jcaptest.jcap_path(), "-i", "v1", "-b", "ebpf", "--no-progress"],
                       timeout=20)
        finally:
            stop(j)
    assert p.returncode == 1, p.stderr
    assert "ebpf: v1 is already metered by another capture (XDP program 'fm_xdp' id" in \
        p.stderr, p.stderr


@needs_netns
def test_missing_capability_is_named(backends):
    if subprocess.run(["which", "setpriv"], capture_output=True).returncode != 0:
        pytest.skip("setpriv (util-linux) not installed")
    with netns.VethNetns() as ns:
        p = ns.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                    "--inh-caps=-all", jcaptest.jcap_path(), "-i", "v1", "-b", "ebpf",
                    "--no-progress"], timeout=20)
    assert p.returncode == 1, p.stderr
    assert "missing capability CAP_NET_ADMIN" in p.stderr, p.stderr


PY = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import packet_capture_py as pc
with pc.PacketCaptureEngine(interface="v1", backend="ebpf", ebpf_hook="tc",
                            ebpf_map_flows=64) as c:
    c.enable_flow_metering(ended_ring_size=4096)
    c.start()
    print("ready", flush=True)
    sys.stdin.readline()
    time.sleep(0.2)
    c.stop()
    m = c.get_metrics()
    flows = c.get_flows(limit=100000, include_finished=True)
print(json.dumps({"seen": m.ebpf_seen, "metered": m.ebpf_metered, "map_full": m.ebpf_up_map_full,
                  "read": m.packets_read, "in_flows": m.packets_in_flows,
                  "pk": sum(f.packets + f.rev_packets for f in flows)}))
"""


@needs_netns
def test_python_binding(traffic, backends):
    """PacketCaptureEngine(backend="ebpf", ebpf_hook=, ebpf_map_flows=) and its counters."""
    skip_unavailable(backends, "ebpf")
    lib = os.path.join(jcaptest.build_dir(), "libpacket_capture.so")
    if not os.path.exists(lib):
        pytest.skip("libpacket_capture.so not built")
    binding = os.path.join(jcaptest.source_dir(), "bindings", "python")
    with netns.VethNetns() as ns:
        p = ns.popen([sys.executable, "-c", PY, binding], env=jcaptest.binding_env(),
                     stdin=subprocess.PIPE)
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
        ns.inject("v0", traffic["pcap"])
        out, err = p.communicate("go\n", timeout=60)
    assert p.returncode == 0, err
    r = __import__("json").loads(out.strip().splitlines()[-1])
    assert r["seen"] == traffic["n"] == r["read"], r
    assert r["map_full"] > 0 and r["metered"] > 0, r
    assert r["in_flows"] == r["pk"] == traffic["exp"].packets_in_flows, r


@needs_netns
def test_several_workers_refused(backends):
    """The kernel's flows go to one worker's table: more workers are refused
    (the engine would dispatch packets to shards without the kernel's part)."""
    skip_unavailable(backends, "ebpf")
    with netns.VethNetns() as ns:
        p = ns.run([jcaptest.jcap_path(), "-i", "v1", "-b", "ebpf", "--workers", "2",
                    "--no-progress"], timeout=20)
        assert attached(ns) is None
    assert p.returncode == 1, p.stderr
    assert p.stderr == ("jcap: ebpf: one worker only (--workers 1): the flows metered in the "
                        "kernel are applied by a single worker's flow table\n"), p.stderr


TAP = r"""
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind(("v1", 0))
s.settimeout(0.2)
print("ready", flush=True)
sys.stdin.readline()
n = 0
try:
    while True:
        s.recv(65536)
        n += 1
except socket.timeout:
    pass
print(n)
"""


@needs_netns
def test_drop_after_metering(traffic, backends):
    """--ebpf-drop (xdp): every packet is metered exactly, then dropped before
    the stack: a packet socket on the interface sees none of them."""
    skip_unavailable(backends, "ebpf")
    with netns.VethNetns() as ns:
        j = start(ns, "xdp", "generic", ["--ebpf-drop"])
        tap = ns.popen([sys.executable, "-c", TAP], stdin=subprocess.PIPE)
        assert tap.stdout.readline().strip() == "ready"
        ns.inject("v0", traffic["pcap"])
        out, _ = tap.communicate("go\n", timeout=30)
        recs, stats, _ = stop(j)
    assert int(out.strip()) == 0, out
    check_exact(traffic, recs, stats)
