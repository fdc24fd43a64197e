# SPDX-License-Identifier: BSD-3-Clause
"""The binding used the way a service uses it: a session that stays running
on a quiet input (a FIFO whose writer is still there), readers on a second
thread, close() while they read. Truth comes from the generator."""
import os
import shutil
import sys
import tempfile
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sanitize import prepare  # noqa: E402

prepare()

import packet_capture_py as pc  # noqa: E402
import pcapgen  # noqa: E402


def wait_for(cond, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.01)
    raise AssertionError("timed out waiting for " + what)


@pytest.fixture
def quiet_session():
    """A running session fed through a FIFO: three UDP conversations, then
    the writer stays open and sends nothing (a quiet link)."""
    d = tempfile.mkdtemp(prefix="pcpy-thr-")
    sc = pcapgen.Scenario(seed=5)
    sc.udp_exchange(1.0, "198.18.0.1", "198.19.0.1", 40001, 53, count=3)
    sc.udp_exchange(1.5, "198.18.0.2", "198.19.0.1", 40002, 53, count=2)
    sc.udp_exchange(2.0, "198.18.0.3", "198.19.0.2", 40003, 123, count=1)
    img = sc.write(os.path.join(d, "s.pcap"))
    exp = sc.expected()
    fifo = os.path.join(d, "in.pcap")
    os.mkfifo(fifo)
    wfd = os.open(fifo, os.O_RDWR)  # never blocks; keeps a writer present
    os.write(wfd, img)
    e = pc.PacketCaptureEngine(pcap_file=fifo, workers=1)
    e.enable_flow_metering(table_size=1 << 20, idle_timeout_sec=3600)
    e.start()
    try:
        yield e, exp, wfd
    finally:
        try:
            os.close(wfd)
        except OSError:
            pass
        e.close()
        shutil.rmtree(d, ignore_errors=True)


def test_snapshot_and_lookup_on_a_quiet_input(quiet_session):
    e, exp, wfd = quiet_session
    wait_for(lambda: e.get_metrics().packets_read == exp.packets_read, what="all packets read")
    assert e.state == "running"
    flows = e.get_flows(limit=0)
    got = sorted((f.src_ip, f.dst_ip, f.src_port, f.dst_port, f.packets, f.bytes,
                  f.rev_packets, f.rev_bytes, f.first_ns, f.last_ns) for f in flows)
    want = sorted((r["src_ip"], r["dst_ip"], r["src_port"], r["dst_port"], r["packets"],
                   r["bytes"], r["rev_packets"], r["rev_bytes"], r["first_ns"], r["last_ns"])
                  for r in exp.records)
    assert len(want) == 3
    assert got == want
    # the success path of a lookup, from either direction
    f = e.lookup_flow("198.19.0.1", "198.18.0.1", 53, 40001, proto=17)
    assert f is not None
    assert (f.packets + f.rev_packets, f.bytes + f.rev_bytes) == (3, 2 * (20 + 8 + 64) + 20 + 8 + 74)
    assert e.lookup_flow("198.18.0.9", "198.19.0.1", 40001, 53, proto=17) is None
    # end of input: the session finishes by itself with every flow exported
    os.close(wfd)
    assert e.wait(timeout=10) == "done"
    m = e.get_metrics()
    assert (m.packets_read, m.packets_in_flows, m.flows_exported) == (6, 6, 3)


def test_close_while_another_thread_reads(quiet_session):
    e, exp, _ = quiet_session
    wait_for(lambda: e.get_metrics().packets_read == exp.packets_read, what="all packets read")
    calls = [0]
    outcome = []

    def reader():
        try:
            while True:
                e.get_metrics(per_worker=True)
                e.get_status()
                e.get_flows(limit=5)
                calls[0] += 1
        except pc.PacketCaptureError as ex:
            outcome.append(ex)
        except Exception as ex:  # anything else is a failure of the binding
            outcome.append(ex)

    t = threading.Thread(target=reader)
    t.start()
    wait_for(lambda: calls[0] >= 20, what="the reader to be busy")
    e.close()  # frees the handle while the reader is mid-call
    t.join(timeout=10)
    assert not t.is_alive()
    assert len(outcome) == 1
    ex = outcome[0]
    assert isinstance(ex, pc.PacketCaptureError)
    assert "engine is closed" in str(ex)
    with pytest.raises(pc.PacketCaptureError, match="engine is closed"):
        e.get_metrics()


def test_first_metrics_rate_is_not_zero(quiet_session):
    e, exp, _ = quiet_session
    # wait without get_metrics(): its first call must give the rate since start
    wait_for(lambda: len(e.get_flows(limit=0)) == 3, what="three flows")
    m = e.get_metrics()
    assert m.packets_read == 6
    assert m.pps > 0.0
