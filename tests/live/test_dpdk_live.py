# SPDX-License-Identifier: BSD-3-Clause
"""The dpdk backend on live traffic: DPDK's net_af_packet vdev on one end of
a veth pair in a private namespace (qpairs=2: two RX queues and no RSS, read
as one backend queue and spread to 2 workers by the engine), the other end
replaying test_live's pcapgen scenario less its IP fragments: the PMD joins
its sockets to a fanout group with PACKET_FANOUT_FLAG_DEFRAG, so the kernel
hands it reassembled datagrams (fewer, larger packets: 732 of 744 here, the
3 KB ones cut at its 2048-byte frames). framecnt=2048: each socket's ring
holds the whole injection (with the default 512 frames, and 22.11's PMD not
counting the kernel's drops, a busy machine lost a few silently). Every flow
exact, none split across workers. Root only; skipped in a build without DPDK."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jcaptest  # noqa: E402
import netns  # noqa: E402
import test_live as tl  # noqa: E402

OK, WHY = netns.can_use_netns()


@pytest.mark.skipif(not OK, reason=WHY)
@pytest.mark.parametrize("qpairs,workers", [(1, 1), (2, 2)])
def test_af_packet_vdev_exact(backends, tmp_path, qpairs, workers):
    if backends["dpdk"]["reason"].startswith("not compiled in"):
        pytest.skip("jcap built without DPDK (libdpdk-dev missing or -DPC_DPDK=OFF)")
    sc = tl.build_scenario()
    sc.pkts = [p for p in sc.pkts if p.frag is None]
    pcap = str(tmp_path / "live.pcap")
    sc.write(pcap)
    exp = sc.expected()
    eal = ("--no-huge -m 256 --no-pci --iova-mode=va --no-shconf --no-telemetry "
           "--file-prefix pclive%d --vdev=net_af_packet0,iface=v1,qpairs=%d,framecnt=2048"
           % (os.getpid(), qpairs))
    with netns.VethNetns() as ns:
        j = tl.Started(ns, ["-i", "dpdk:net_af_packet0", "-b", "dpdk", "--dpdk-eal", eal,
                            "--workers", workers, "--count", exp.packets_read, "-F", "json",
                            "--stats", "--no-progress"])
        ns.inject("v0", pcap)
        out, err = j.finish()
    assert j.p.returncode == 0, err[-2000:]
    recs = jcaptest.parse_lines(out)
    st = jcaptest.parse_stats(err)
    jcaptest.check_conservation(st, recs)
    assert st["packets_read"] == exp.packets_read and st["workers"] == workers
    assert st["skipped"]["non_ip"] == 3 and sum(st["skipped"].values()) == 3, st["skipped"]
    assert jcaptest.sums_by_tuple(recs) == jcaptest.sums_by_tuple(exp.records)
    assert tl.check_no_split(recs, exp.records) == workers
    assert st["dpdk"]["imissed"] == 0 and st["dpdk"]["rx_nombuf"] == 0, st["dpdk"]
