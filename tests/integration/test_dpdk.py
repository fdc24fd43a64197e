# SPDX-License-Identifier: BSD-3-Clause
"""The dpdk backend on DPDK's net_pcap vdev replaying a generator file (no
NIC and no hugepages needed: --no-huge): the same flows, packets and bytes
as `jcap -r` of that file, conservation, --count N exact, the BPF filter,
the port counters, and the exact errors. Skipped only in a build without
DPDK (libdpdk-dev missing or -DPC_DPDK=OFF)."""
import json
import os
import struct
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import jcaptest as jt  # noqa: E402
import pcapgen as g  # noqa: E402

# every flow of the file must still be open at the end: the live session
# ends at the wall clock, long after the file's last packet
IDLE = ["--idle-timeout", "86400"]


def backends():
    p = jt.run(["backends", "-F", "json"])
    assert p.returncode == 0, p.stderr
    return {b["name"]: b for b in json.loads(p.stdout)}


@pytest.fixture(scope="module", autouse=True)
def _dpdk():
    jt.require_jcap()
    if backends()["dpdk"]["reason"].startswith("not compiled in"):
        pytest.skip("jcap built without DPDK (libdpdk-dev not found or -DPC_DPDK=OFF)")


def eal(pcap, extra=""):
    return ("--no-huge -m 256 --no-pci --iova-mode=va --no-shconf --no-telemetry "
            "--file-prefix pct%d --vdev=net_pcap0,rx_pcap=%s%s" % (os.getpid(), pcap, extra))


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """scenario_mixed moved to end 10 s ago (so no flow is older than the
    active timeout at the live session's end); microsecond stamps, as
    net_pcap gives them. Returns (path, packet count)."""
    sc = g.scenario_mixed(seed=7, flows=300)
    now = time.time_ns() // 1000 * 1000
    shift = now - 10 * g.SEC - max(p.ts for p in sc.pkts)
    for p in sc.pkts:
        p.ts += shift
    path = str(tmp_path_factory.mktemp("dpdk") / "mixed.pcap")
    sc.write(path)
    return path, len(sc.pkts)


def captured_bytes(pcap):
    """Sum of the records' captured lengths (little-endian pcap)."""
    with open(pcap, "rb") as f:
        data = f.read()
    off, total = 24, 0
    while off < len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        total += incl
        off += 16 + incl
    return total


def run_dpdk(pcap, *opts, extra=""):
    p = jt.run(["-i", "dpdk:net_pcap0", "-b", "dpdk", "--dpdk-eal", eal(pcap, extra),
                "-F", "json", "--stats", "--no-progress"] + IDLE + list(opts), timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    recs = jt.parse_lines(p.stdout)
    stats = jt.parse_stats(p.stderr)
    jt.check_conservation(stats, recs)
    return recs, stats


@pytest.mark.parametrize("workers", [1, 2])
def test_same_flows_as_file(mixed, workers):
    path, n = mixed
    exp, est = jt.meter(path, *IDLE)
    got, st = run_dpdk(path, "--count", str(n), "--workers", str(workers))
    jt.assert_same_flows(got, exp, "dpdk net_pcap, %d workers" % workers)
    for k in ("packets_read", "packets_in_flows", "bytes_in_flows", "expired", "first_ns",
              "last_ns"):
        assert st[k] == est[k], (k, st[k], est[k])
    # net_pcap makes an mbuf of the captured bytes only: a truncated record's
    # wire length is lost (the file backend counts it in bytes_read), and the
    # packet, whose IP length now exceeds the frame, is malformed, not truncated
    assert st["bytes_read"] == captured_bytes(path) < est["bytes_read"]
    sk = dict(est["skipped"])
    assert sk["truncated"] == 1
    sk["malformed"] += sk["truncated"]
    sk["truncated"] = 0
    assert st["skipped"] == sk
    # the vdev read exactly the file; the counters sit beside the kernel ones
    assert st["dpdk"] == {"ipackets": n, "imissed": 0, "rx_nombuf": 0, "ierrors": 0}
    assert st["kernel"]["packets"] == n and st["kernel"]["drops"] == 0
    assert st["workers"] == workers


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """500 flows x 3 rounds of small packets: infinite_rx needs every packet
    in one mbuf (2048 bytes)."""
    sc = g.scenario_many(seed=3, flows=500)
    path = str(tmp_path_factory.mktemp("dpdk") / "small.pcap")
    sc.write(path)
    return path, len(sc.pkts)


def test_count_exact_and_filter(mixed, small):
    spath, sn = small
    # infinite_rx replays the file for ever: only --count ends it, exactly
    got, st = run_dpdk(spath, "--count", str(sn + 700), extra=",infinite_rx=1")
    assert st["packets_read"] == sn + 700
    assert st["dpdk"]["ipackets"] >= sn + 700
    # infinite_rx drops the file's stamps (TSC time): the second pass adds to
    # the first pass's flows, so each flow of the first 700 packets has more
    once, _ = jt.meter(spath, *IDLE)
    part, _ = jt.meter(spath, "--count", "700", *IDLE)
    want = {}
    for r in once + part:
        k = jt.flow_key(r)[:6]
        w = want.setdefault(k, [0, 0, 0, 0])
        for i, f in enumerate(("packets", "rev_packets", "bytes", "rev_bytes")):
            w[i] += r[f]
    have = {jt.flow_key(r)[:6]: [r["packets"], r["rev_packets"], r["bytes"], r["rev_bytes"]]
            for r in got}
    assert have == want
    path, n = mixed
    flt = "udp or icmp6"
    exp, est = jt.meter(path, "--filter", flt, *IDLE)
    got, st = run_dpdk(path, "--count", str(n), "--filter", flt)
    jt.assert_same_flows(got, exp, "dpdk with --filter")
    assert st["skipped"]["filtered"] == est["skipped"]["filtered"] > 0


def test_fixed_queues_without_rss(mixed, small):
    """net_pcap with two rx_pcap files has two RX queues and no RSS: both are
    read (as one backend queue), every packet of both files is metered."""
    (a, na), (b, nb) = mixed, small
    _, sa = jt.meter(a, *IDLE)
    _, sb = jt.meter(b, *IDLE)
    p = jt.run(["-i", "dpdk:net_pcap0", "-b", "dpdk", "--dpdk-eal", eal(a, ",rx_pcap=" + b),
                "-c", str(na + nb), "--workers", "2", "-q", "--no-progress", "--stats", "-v"] +
               IDLE)
    assert p.returncode == 0, p.stderr
    assert ("dpdk: port net_pcap0 (net_pcap) has no RSS: 2 RX queues read as one, the "
            "engine spreads packets to 2 workers by the symmetric flow hash") in p.stderr
    st = jt.parse_stats(p.stderr)
    jt.check_conservation(st)
    assert st["packets_read"] == na + nb == st["dpdk"]["ipackets"]
    assert st["packets_in_flows"] == sa["packets_in_flows"] + sb["packets_in_flows"]
    assert st["bytes_in_flows"] == sa["bytes_in_flows"] + sb["bytes_in_flows"]


def test_tstamp_reported(mixed):
    path, _ = mixed
    p = jt.run(["-i", "dpdk:net_pcap0", "-b", "dpdk", "--dpdk-eal", eal(path), "-c", "5",
                "-q", "--no-progress", "-v"])
    assert p.returncode == 0, p.stderr
    assert ("capture started: backend dpdk, 1 worker(s): dpdk: requested; DPDK 22.11"
            in p.stderr), p.stderr
    assert ("time stamps: pmd (net_pcap timestamp dynamic field (file stamps, "
            "microseconds); TSC for packets without one (infinite_rx))") in p.stderr, p.stderr
    # net_null: packets without any stamp
    null = eal(path).split(" --vdev=")[0] + " --vdev=net_null0"
    p = jt.run(["-i", "dpdk:net_null0", "-b", "dpdk", "--dpdk-eal", null, "-c", "5", "-q",
                "--no-progress", "-v", "--stats"])
    assert p.returncode == 0, p.stderr
    assert "time stamps: tsc (net_null offers no RX timestamps: TSC (" in p.stderr, p.stderr
    st = jt.parse_stats(p.stderr)
    assert st["packets_read"] == 5 and st["skipped"]["non_ip"] == 5, st


def one_error(p):
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode == 1 and len(lines) == 1, (p.returncode, p.stderr)
    assert p.stdout == ""
    return lines[0]


def test_errors(mixed):
    path, _ = mixed
    base = ["-b", "dpdk", "-c", "5", "-q", "--no-progress"]
    p = jt.run(["-i", "dpdk:net_pcap0", "--dpdk-eal", "--no-huge --bogus-option"] + base)
    assert one_error(p) == (
        "jcap: dpdk: EAL initialisation failed with '--no-huge --bogus-option': "
        "Invalid argument: EAL: Invalid 'command line' arguments.")
    p = jt.run(["-i", "dpdk:net_pcap9", "--dpdk-eal", eal(path)] + base)
    assert one_error(p) == "jcap: dpdk: unknown port 'net_pcap9' (ports: net_pcap0)"
    bad = eal("/nonexistent.pcap")
    p = jt.run(["-i", "dpdk:net_pcap0", "--dpdk-eal", bad] + base)
    assert one_error(p) == (
        "jcap: dpdk: the EAL started but found no port (no --vdev that probed, no NIC "
        "bound to vfio-pci; EAL arguments '%s')" % bad)
    p = jt.run(["-i", "lo", "--dpdk-eal", eal(path)] + base)
    assert one_error(p) == (
        "jcap: dpdk: 'lo' is not a DPDK port (name one as dpdk:PCI-ADDRESS or dpdk:VDEV, "
        "e.g. dpdk:0000:03:00.0, dpdk:net_pcap0)")
    p = jt.run(["-i", "dpdk:net_pcap0", "--dpdk-eal", eal(path), "--buffer-mb", "1024"] +
               base)
    assert one_error(p) == (
        "jcap: dpdk: --buffer-mb 1024: cannot allocate 441505 mbufs of 2176 bytes: Cannot "
        "allocate memory (EAL memory too small: raise -m or --socket-mem, reserve more "
        "hugepages, or lower --buffer-mb)")


def test_missing_hugepages(mixed):
    path, _ = mixed
    if any(int(open("/sys/kernel/mm/hugepages/%s/free_hugepages" % d).read())
           for d in os.listdir("/sys/kernel/mm/hugepages")):
        pytest.skip("this machine has free hugepages")
    p = jt.run(["-i", "dpdk:net_pcap0", "-b", "dpdk", "-q", "--dpdk-eal",
                eal(path).replace("--no-huge ", "")])
    assert one_error(p) == (
        "jcap: dpdk: no free hugepages (reserve some, e.g. echo 512 > "
        "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages, or add --no-huge -m 256 "
        "to --dpdk-eal)")


def test_auto_and_listing(mixed):
    path, n = mixed
    # a dpdk: name is auto's to open with dpdk; a kernel name never is
    p = jt.run(["-i", "dpdk:net_pcap0", "--dpdk-eal", eal(path), "-c", str(n), "-q",
                "--no-progress", "-v"] + IDLE)
    assert p.returncode == 0, p.stderr
    assert "capture started: backend dpdk, 1 worker(s): dpdk: DPDK 22.11" in p.stderr
    p = jt.run(["-i", "lo", "--dpdk-eal", eal(path), "-c", "1", "--duration", "1", "-q",
                "--no-progress", "-v"])
    assert "dpdk: 'lo' is not a DPDK port" in p.stderr and "backend dpdk" not in p.stderr
    b = backends()["dpdk"]
    assert b["available"] is False
    huge = any(int(open("/sys/kernel/mm/hugepages/%s/free_hugepages" % d).read())
               for d in os.listdir("/sys/kernel/mm/hugepages"))
    bound = any(os.path.isdir("/sys/bus/pci/drivers/" + d) and
                any(":" in e for e in os.listdir("/sys/bus/pci/drivers/" + d))
                for d in ("vfio-pci", "uio_pci_generic", "igb_uio"))
    if os.geteuid() == 0 and not huge and not bound:
        assert b["reason"] == (
            "DPDK 22.11.%s: no free hugepages, no ports bound to a DPDK driver (vfio-pci, "
            "uio_pci_generic); vdevs need -i dpdk:VDEV --dpdk-eal '--no-huge -m 256 "
            "--no-pci --vdev=...'" % b["reason"].split(":")[0].split(".")[-1])
