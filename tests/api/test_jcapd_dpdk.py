# SPDX-License-Identifier: BSD-3-Clause
"""jcapd sessions on the dpdk backend (DPDK's net_pcap vdev, --no-huge): the
port counters in /metrics and the Prometheus text, a session that failed to
open followed by ones that run in the same daemon with exact counts, and
the dpdk_eal checks (no driver loading, no file outside the allowed
directories). Skipped only in a build without DPDK."""
import os

import pytest

import pcapgen
from apihttp import request, wait_end
from conftest import start_jcapd

P = "/packet_capture/capture"




def test_dpdk_sessions(own_tmp):
    d = start_jcapd(own_tmp)
    try:
        bk = {b["name"]: b for b in request(d.base, "GET", P + "/backends",
                                            token=d.token).json["backends"]}
        if bk["dpdk"]["reason"].startswith("not compiled in"):
            pytest.skip("jcapd built without DPDK (libdpdk-dev missing or PC_DPDK=OFF)")
        sc = pcapgen.scenario_many(seed=9, flows=400)
        path = os.path.join(d.data_dir, "in.pcap")
        sc.write(path)
        exp, n = sc.expected(), len(sc.pkts)
        eal = ("--no-huge -m 256 --no-pci --iova-mode=va --no-shconf --no-telemetry "
               "--file-prefix pcapi%d --vdev=net_pcap0,rx_pcap=%s" % (os.getpid(), path))
        body = {"interface": "dpdk:net_pcap0", "backend": "dpdk", "dpdk_eal": eal,
                "max_packets": n}
        for bad, code, msg in [
                ("-d /tmp/librte_x.so " + eal, 403,
                 "'dpdk_eal': loading drivers (-d) is not allowed"),
                (eal.replace(path, "/etc/hostname"), 403,
                 "'dpdk_eal' is outside the allowed directories"),
                (eal + ",tx_pcap=" + path + ".out", 403,
                 "'dpdk_eal': only rx_pcap= may name a file")]:
            r = request(d.base, "POST", P + "/start", token=d.token,
                        body=dict(body, dpdk_eal=bad))
            assert r.status == code and r.json["error"] == msg, (r.status, r.json)
        # a port that is not there: the session fails, the EAL stays up
        r = request(d.base, "POST", P + "/start", token=d.token,
                    body=dict(body, interface="dpdk:net_pcap7"))
        assert r.status >= 400 and "dpdk: unknown port 'net_pcap7' (ports: net_pcap0)" in (
            r.json["error"]), (r.status, r.json)
        assert request(d.base, "POST", P + "/flow/meter/enable", token=d.token,
                       body={"table_size": 65536}).status == 200
        for _ in range(2):
            r = request(d.base, "POST", P + "/start", token=d.token, body=body)
            assert r.status == 200, r.json
            st = wait_end(d)
            assert st["state"] == "stopped" and st["backend"] == "dpdk", st
            m = request(d.base, "GET", P + "/metrics", token=d.token).json["total"]
            assert m["packets"] == n and m["packets_in_flows"] == exp.packets_in_flows
            assert m["dpdk"] == {"ipackets": n, "imissed": 0, "rx_nombuf": 0, "ierrors": 0}
            prom = request(d.base, "GET", "/metrics", token=d.token).raw.decode()
            assert "\njcap_dpdk_ipackets_total %d\n" % n in prom, prom[-2000:]
            assert "\njcap_dpdk_imissed_total 0\n" in prom
            assert "\njcap_kernel_packets_total %d\n" % n in prom
    finally:
        rc = d.stop()
    d.assert_clean_exit(rc)
