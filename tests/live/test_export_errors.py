# SPDX-License-Identifier: BSD-3-Clause
"""UDP export through a queue that overflows: a token-bucket qdisc (tc tbf,
1 Mbit/s, a 10 KB queue) on the interface towards the collector, and an
unpaced IPFIX export of 3000 flows. The kernel drops what the queue cannot
take and says so (ENOBUFS, reported because the exporter asks for errors
with IP_RECVERR): jcap counts each datagram lost, explains the cause once
with what to do, and every datagram is either counted sent (and arrives)
or counted lost; the exit status is 1, as for any export that lost
records. Without the qdisc the same run sends every datagram.
Both namespaces are the test's own (198.18.255.0/30) and deleted after."""

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jcaptest  # noqa: E402
import netns  # noqa: E402
import pcapgen  # noqa: E402

OK, WHY = netns.can_use_netns()
pytestmark = pytest.mark.skipif(not OK, reason=WHY)

COLLECTOR = "198.18.255.1"
PORT = 4739

SINK = r"""
import select, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
n, rd, wait = 0, [s, sys.stdin], 30
while True:
    r, _, _ = select.select(rd, [], [], wait)
    if s in r:
        s.recv(65536)
        n += 1
    elif sys.stdin in r:
        # the sender is done: what a queue still holds arrives within 1 s
        sys.stdin.read()
        rd, wait = [s], 1.0
    else:
        break
print(n, flush=True)
"""


def export_run(ns, pcap):
    """jcap in @ns exporting @pcap's flows to the sink in the peer namespace:
    (exit code, stats, stderr lines that are jcap's own, datagrams the sink got)."""
    sink = ns.popen_peer([sys.executable, "-c", SINK, COLLECTOR, PORT],
                         stdin=subprocess.PIPE)
    assert sink.stdout.readline().strip() == "ready"
    p = ns.run([jcaptest.jcap_path(), "-r", pcap, "-q", "--no-progress", "--stats",
                "--inspect", "none", "--export", "ipfix://%s:%d" % (COLLECTOR, PORT),
                "--export-rate", "unpaced"], timeout=120)
    # what the qdisc still held leaves at 1 Mbit/s: 10 KB in well under a second
    out, _ = sink.communicate(input="", timeout=90)
    msgs = [ln for ln in p.stderr.splitlines() if ln.startswith("jcap:")]
    return p.returncode, jcaptest.parse_stats(p.stderr), msgs, int(out.strip())


def test_enobufs_counted_and_explained(tmp_path):
    sc = pcapgen.scenario_mixed(seed=5, flows=3000, duration=2.0)
    pcap = str(tmp_path / "f.pcap")
    sc.write(pcap)
    with netns.VethNetns(peer=True) as ns:
        rc, st, msgs, got = export_run(ns, pcap)
        assert rc == 0 and msgs == [], (rc, msgs)
        ex = st["export"]
        sent = ex["messages"]
        assert ex["records"] == st["flows_exported"] == 3000 and ex["errors"] == 0, ex
        assert got == sent > 100, (got, sent)
        # the queue on the way out: 1 Mbit/s, 10 KB; everything past it is dropped
        ns.run(["tc", "qdisc", "add", "dev", "v1", "root", "tbf", "rate", "1mbit", "burst",
                "5000", "limit", "10000"], check=True)
        rc, st, msgs, got = export_run(ns, pcap)
    ex = st["export"]
    lost = ex["errors"]
    # the same datagrams (one worker, templates at the start): each sent or lost
    assert ex["records"] == 3000 and lost > 0 and ex["messages"] + lost == sent, (ex, sent)
    assert got == ex["messages"], (got, ex)
    target = "export ipfix://%s:%d" % (COLLECTOR, PORT)
    assert msgs == [
        "jcap: warning: %s: send to %s:%d: No buffer space available; a send queue on the "
        "way out (the socket's, or the interface's qdisc or device queue) is full and "
        "datagrams are dropped: lower --export-rate, or raise net.core.wmem_default or the "
        "interface's txqueuelen" % (target, COLLECTOR, PORT),
        "jcap: warning: %s: %d datagrams not sent to %s:%d: %d send queue full (ENOBUFS), "
        "0 too large (EMSGSIZE), 0 refused (ECONNREFUSED), 0 other" % (
            target, lost, COLLECTOR, PORT, lost),
        "jcap: %s: %d errors" % (target, lost)], msgs
    assert rc == 1, msgs  # an export that lost records: exit status 1
