# SPDX-License-Identifier: BSD-3-Clause
"""jcapd under the load a dashboard and an operator put on it together:
sessions with packet output started and stopped again and again while other
clients read /status, /metrics, /flows and the Prometheus text, and some
clients vanish mid-request. Every reply must be a documented status, the
counters of a session that ran to its end must equal the generator's truth,
and the daemon must exit cleanly (under ThreadSanitizer in make test: with no
report, since halt_on_error makes any race fatal)."""
import os
import socket
import threading
import time

import pcapgen
from apihttp import host_port, request
from conftest import start_jcapd

P = "/packet_capture/capture"
READS = [P + "/status", P + "/metrics", P + "/flows?state=all&limit=0",
         P + "/flows?limit=10&sort_by=bytes", P + "/flows?state=all&limit=5", "/metrics"]


def traffic(data_dir):
    """The input, inside the daemon's allowed directory."""
    sc = pcapgen.scenario_mixed(seed=11, flows=300, duration=20.0)
    path = os.path.join(data_dir, "in.pcap")
    sc.write(path)
    return path, sc.expected()


def vanish(base):
    """Send half a request and go away (from a second loopback address: a
    half request holds its connection until the request deadline, and the
    readers' address keeps its own slots)."""
    s = socket.create_connection(host_port(base), timeout=5, source_address=("127.0.0.2", 0))
    s.sendall(b"GET " + P.encode() + b"/flows?limit=10 HTTP/1.1\r\nHost: x\r\n")
    s.close()


def test_reads_while_sessions_start_and_stop(own_tmp):
    d = start_jcapd(own_tmp)
    path, exp = traffic(d.data_dir)
    out = os.path.join(d.data_dir, "pcap")
    os.makedirs(out)
    stop = threading.Event()
    bad = []
    counts = {"reads": 0}
    lock = threading.Lock()

    def reader(k):
        i = 0
        while not stop.is_set():
            r = request(d.base, "GET", READS[(i + k) % len(READS)], token=d.token)
            if r.status != 200:
                bad.append((READS[(i + k) % len(READS)], r.status, r.raw[:200]))
            if i % 50 == k:
                vanish(d.base)
            i += 1
            with lock:
                counts["reads"] += 1

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    try:
        assert request(d.base, "POST", P + "/flow/meter/enable", token=d.token,
                       body={"table_size": 65536, "idle_timeout_sec": 30,
                             "active_timeout_sec": 1800}).status == 200
        for n in range(8):
            body = {"pcap_file": path, "workers": 1 + n % 2,
                    "pcap_out": {"dir": out, "format": "pcapng" if n % 2 else "pcap"}}
            r = request(d.base, "POST", P + "/start", token=d.token, body=body)
            assert r.status == 200, r
            if n % 2:
                # stopped at once, whatever it had read: 200 (stopped) or 409
                # (it had already finished by itself)
                r = request(d.base, "POST", P + "/stop", token=d.token,
                            body={"graceful": n % 4 == 1})
                assert r.status in (200, 409), r
            deadline = time.time() + 30
            while time.time() < deadline:
                st = request(d.base, "GET", P + "/status", token=d.token).json
                if st["state"] in ("done", "stopped"):
                    break
                time.sleep(0.02)
            assert st["state"] in ("done", "stopped"), st
            if st["state"] == "done":
                m = request(d.base, "GET", P + "/metrics", token=d.token).json["total"]
                assert m["packets"] == exp.packets_read
                assert m["packets_in_flows"] == exp.packets_in_flows
                assert m["flows"]["created"] == len(exp.records)
                assert m["writer"]["packets"] == exp.packets_read, m["writer"]
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        rc = d.stop()
    log = d.log_text()
    assert counts["reads"] > 50
    assert bad == []
    assert rc == 0, log[-3000:]
    for marker in ("ThreadSanitizer", "AddressSanitizer", "runtime error:"):
        assert marker not in log, log[-4000:]
