# SPDX-License-Identifier: BSD-3-Clause
"""jcapd's start settings for tunnels (issue 11): "decap" and "tunnel_ports".
A VXLAN capture is metered as its inner flows by default and as the outer
UDP flows with "decap": "none", with exact counts from pcapgen's truth; bad
values are refused with the field named."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import pcapgen  # noqa: E402
from apihttp import request, wait_end  # noqa: E402
from conftest import start_jcapd  # noqa: E402
from tunnelgen import Tunnel  # noqa: E402

P = "/packet_capture/capture"




def test_decap_settings(own_tmp):
    d = start_jcapd(own_tmp)
    try:
        sc = pcapgen.Scenario()
        with sc.tunnel(Tunnel("vxlan", "203.0.113.1", "203.0.113.2", id=21)):
            sc.tcp_session(0.0, "198.18.0.1", "198.19.0.1", 40000, 80)
            sc.udp_exchange(0.1, "198.18.0.1", "198.19.0.1", 40001, 53, count=3)
        path = os.path.join(d.data_dir, "vx.pcap")
        sc.write(path)
        body = {"pcap_file": path}
        r = request(d.base, "POST", P + "/start", token=d.token,
                    body=dict(body, decap="vxlan,bogus"))
        assert r.status == 400 and r.json["error"].startswith(
            "'decap' must be all, none or tunnel names"), (r.status, r.json)
        r = request(d.base, "POST", P + "/start", token=d.token,
                    body=dict(body, tunnel_ports="vxlan=0"))
        assert r.status == 400, (r.status, r.json)
        assert "tunnel ports: bad port list '0' for vxlan" in r.json["error"], r.json
        assert request(d.base, "POST", P + "/flow/meter/enable", token=d.token,
                       body={"table_size": 65536}).status == 200
        for decap, exp in (("all", sc.expected()), ("none", sc.expected(decap=False))):
            r = request(d.base, "POST", P + "/start", token=d.token,
                        body=dict(body, decap=decap))
            assert r.status == 200, r.json
            assert wait_end(d)["state"] == "done"
            m = request(d.base, "GET", P + "/metrics", token=d.token).json["total"]
            assert (m["packets_in_flows"], m["bytes_in_flows"]) == \
                (exp.packets_in_flows, exp.bytes_in_flows), (decap, m)
            got = request(d.base, "GET", P + "/flows?state=all&limit=100",
                          token=d.token).json["flows"]
            assert len(got) == len(exp.records), (decap, got)
            assert sorted((f["proto"], f["dst_port"]) for f in got) == \
                sorted((f["proto"], f["dst_port"]) for f in exp.records), decap
    finally:
        rc = d.stop()
    d.assert_clean_exit(rc)
