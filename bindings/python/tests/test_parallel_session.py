# SPDX-License-Identifier: BSD-3-Clause
"""Offline with several workers (src/engine/parallel.c) on a quiet input: a
FIFO fed in parts, each part its own batch. Flow snapshots and lookups are
answered by every shard while the reader waits; a graceful stop flushes every
flow, a non-graceful one drops them; both end the session. Truth comes from
the generator."""
import contextlib
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sanitize import prepare  # noqa: E402

prepare()

import packet_capture_py as pc  # noqa: E402
import pcapgen  # noqa: E402
from test_threads import wait_for  # noqa: E402

WORKERS = 3
FLOWS = 90
PARTS = 5


def record_offsets(img):
    """Where each packet record of a classic little-endian pcap starts, and
    its end."""
    offs = [24]
    while offs[-1] < len(img):
        offs.append(offs[-1] + 16 + int.from_bytes(img[offs[-1] + 8:offs[-1] + 12], "little"))
    return offs


@pytest.fixture
def session(tmp_path):
    """A running 3-worker session fed through a FIFO in PARTS parts (the
    reader publishes a part's batch when the FIFO goes quiet); the writer
    stays open after the last part."""
    sc = pcapgen.Scenario(seed=9)
    for i in range(FLOWS):
        sc.udp_exchange(1.0 + i * 0.01, "198.18.1.%d" % (i + 1), "198.19.0.%d" % (i % 7 + 1),
                        40000 + i, 53, count=4, gap=0.001)
    img = sc.write(str(tmp_path / "s.pcap"))
    offs = record_offsets(img)
    assert len(offs) - 1 == FLOWS * 4 and offs[-1] == len(img)
    os.mkfifo(str(tmp_path / "in.pcap"))
    wfd = os.open(str(tmp_path / "in.pcap"), os.O_RDWR)  # a writer stays present
    os.write(wfd, img[:24])
    e = pc.PacketCaptureEngine(pcap_file=str(tmp_path / "in.pcap"), workers=WORKERS)
    e.enable_flow_metering(table_size=1 << 16, idle_timeout_sec=3600)
    e.start()
    try:
        for k in range(1, PARTS + 1):
            a, b = (len(offs) - 1) * (k - 1) // PARTS, (len(offs) - 1) * k // PARTS
            os.write(wfd, img[offs[a]:offs[b]])
            wait_for(lambda: e.get_metrics().packets_read == b, 60, "part %d read" % k)
        yield e, sc.expected(), wfd
    finally:
        e.close()
        with contextlib.suppress(OSError):
            os.close(wfd)


def test_snapshot_lookup_and_end_of_input(session):
    e, exp, wfd = session
    assert e.state == "running"
    m = e.get_metrics(per_worker=True)
    assert m.workers == WORKERS and len(m.per_worker) == WORKERS
    for w in m.per_worker:  # conservation per worker, every worker metering
        assert w.packets_read == w.packets_in_flows + w.packets_skipped
        assert w.flows_active > 0
    flows = e.get_flows(limit=0)
    got = sorted((f.src_ip, f.dst_ip, f.src_port, f.dst_port, f.packets, f.bytes,
                  f.rev_packets, f.rev_bytes, f.first_ns, f.last_ns) for f in flows)
    want = sorted((r["src_ip"], r["dst_ip"], r["src_port"], r["dst_port"], r["packets"],
                   r["bytes"], r["rev_packets"], r["rev_bytes"], r["first_ns"], r["last_ns"])
                  for r in exp.records)
    assert len(want) == FLOWS
    assert got == want
    f = e.lookup_flow("198.19.0.3", "198.18.1.10", 53, 40009, proto=17)
    assert f is not None and (f.packets, f.rev_packets) == (2, 2)
    assert e.lookup_flow("198.18.1.200", "198.19.0.1", 40001, 53, proto=17) is None
    os.close(wfd)  # end of input: the session finishes by itself
    assert e.wait(timeout=20) == "done"
    m = e.get_metrics()
    assert (m.packets_read, m.packets_in_flows, m.flows_exported, m.expired["shutdown"]) == (
        FLOWS * 4, FLOWS * 4, FLOWS, FLOWS)


@pytest.mark.parametrize("graceful", [True, False])
def test_stop_on_a_quiet_input(session, graceful):
    e, _, _ = session
    e.stop(graceful=graceful)
    assert e.wait(timeout=20) in ("done", "stopped")
    m = e.get_metrics()
    assert m.packets_read == FLOWS * 4
    if graceful:
        assert (m.flows_exported, m.expired["shutdown"], m.flows_dropped) == (FLOWS, FLOWS, 0)
    else:
        assert (m.flows_exported, m.flows_dropped) == (0, FLOWS)
