# SPDX-License-Identifier: BSD-3-Clause
"""The dpdk backend through the binding, several sessions in one process:
the EAL starts once (a refused start can be retried with good arguments,
other arguments later are refused by name), a port serves one session at a
time, and a port used again reads its vdev afresh with exact counts. On
DPDK's net_pcap and net_null vdevs (--no-huge: no NIC, no hugepages).
Skipped only in a build without DPDK."""
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sanitize import prepare  # noqa: E402

prepare()

import packet_capture_py as pc  # noqa: E402
import pcapgen as g  # noqa: E402


def dpdk_built():
    for b in pc.list_backends():
        if b.name == "dpdk":
            return not b.reason.startswith("not compiled in")
    return False


pytestmark = pytest.mark.skipif(not dpdk_built(),
                                reason="built without DPDK (libdpdk-dev missing or PC_DPDK=OFF)")


def engine(port, eal, **kw):
    e = pc.PacketCaptureEngine(interface="dpdk:" + port, backend="dpdk", dpdk_eal=eal, **kw)
    e.enable_flow_metering(table_size=65536, idle_timeout_sec=86400)
    return e


def test_sessions_in_one_process(tmp_path):
    sc = g.scenario_many(seed=5, flows=300)
    f = str(tmp_path / "many.pcap")
    sc.write(f)
    exp = sc.expected()
    n = len(sc.pkts)
    eal = ("--no-huge -m 256 --no-pci --iova-mode=va --no-shconf --no-telemetry "
           "--file-prefix pcpy%d --vdev=net_pcap0,rx_pcap=%s --vdev=net_null0"
           % (os.getpid(), f))

    # a refused start leaves the EAL startable
    bad = engine("net_pcap0", "--no-huge --bogus-option")
    with pytest.raises(pc.PacketCaptureError) as ei:
        bad.start()
    assert str(ei.value).endswith(
        "dpdk: EAL initialisation failed with '--no-huge --bogus-option': Invalid argument: "
        "EAL: Invalid 'command line' arguments."), str(ei.value)
    bad.close()

    # the same port twice in a row: the vdev reads its file afresh each time
    for _ in range(2):
        with engine("net_pcap0", eal, max_packets=n) as e:
            e.start()
            assert e.wait(timeout=60) == "stopped"
            m = e.get_metrics()
            assert m.packets_read == n and m.packets_in_flows == exp.packets_in_flows
            assert m.bytes_in_flows == exp.bytes_in_flows
            assert (m.dpdk_ipackets, m.dpdk_imissed, m.dpdk_rx_nombuf) == (n, 0, 0)
            assert m.kernel_packets == n
            st = e.get_status()
            assert st["backend"] == "dpdk" and st["tstamp_source"] == "pmd", st

    # one session per port
    with engine("net_null0", eal) as a:
        a.start()
        deadline = time.monotonic() + 30
        while a.get_metrics().packets_read == 0:
            assert time.monotonic() < deadline, "net_null0 delivered nothing"
            time.sleep(0.01)
        with engine("net_null0", eal) as b:
            with pytest.raises(pc.PacketCaptureError) as ei:
                b.start()
            assert str(ei.value).endswith(
                "dpdk: port net_null0 is already in use by another capture"), str(ei.value)
        a.stop()
    with engine("net_null0", eal, max_packets=1000) as c:
        c.start()
        assert c.wait(timeout=60) == "stopped"
        m = c.get_metrics()
        assert m.packets_read == 1000 and m.skipped["non_ip"] == 1000

    # the EAL runs with the first arguments for the rest of the process
    other = eal.replace("-m 256", "-m 128")
    with engine("net_pcap0", other) as d:
        with pytest.raises(pc.PacketCaptureError) as ei:
            d.start()
        assert str(ei.value).endswith(
            "dpdk: the EAL already runs in this process with '%s' (it starts once per "
            "process; '%s' needs a new process)" % (eal, other)), str(ei.value)
