# SPDX-License-Identifier: BSD-3-Clause
"""api.jcapd_inspect: the start keys "inspect" and "inspect_flows" reach the
engine (its inspection counters in /metrics and Prometheus say what was
inspected), bad values are 400s naming the key."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import appgen as ag  # noqa: E402
from apihttp import request, wait_end  # noqa: E402
from conftest import start_jcapd  # noqa: E402

P = "/packet_capture/capture"




def run(d, path, **keys):
    r = request(d.base, "POST", P + "/start", token=d.token, body=dict(pcap_file=path, **keys))
    assert r.status == 200, (r.status, r.json)
    assert wait_end(d)["state"] == "done"
    return request(d.base, "GET", P + "/metrics", token=d.token).json["total"]["inspect"]


def test_inspect_keys(own_tmp):
    d = start_jcapd(own_tmp)
    try:
        sc = ag.AppScenario()
        for i in range(3):
            sc.dns_query(0.1 * i, "198.18.3.%d" % (1 + i), "198.19.3.1", 46000 + i, 53,
                         "q%d.example.org" % i)
        for i in range(2):
            sc.http_session(1.0 + 0.1 * i, "198.18.3.%d" % (10 + i), "198.19.3.2", 47000 + i,
                            80, "GET", "h.example", "/", "ua", 200)
        path = os.path.join(d.data_dir, "i.pcap")
        sc.write(path)
        assert run(d, path, inspect="none") == {
            "flows": 0, "pool_full": 0, "dpi_flows": 0, "dpi_pool_full": 0,
            "dpi_identified": 0, "tcp_reassembly_gaps": 0, "reclaimed": 0}
        got = run(d, path, inspect="dns")
        assert (got["flows"], got["dpi_flows"]) == (3, 0)
        got = run(d, path, inspect="http,dns", inspect_flows=1)
        assert (got["flows"], got["pool_full"]) == (5, 0)
        prom = request(d.base, "GET", "/metrics", token=d.token).raw.decode()
        assert "\njcap_inspect_flows_total 5\n" in prom, prom[-3000:]
        for body, field, msg in (
                ({"inspect": "dns,smtp"}, "inspect",
                 "'inspect' must be all, none or names separated by commas "
                 "(dpi, tls, quic, dns, http, tcp)"),
                ({"inspect_flows": 0}, "inspect_flows", None)):
            r = request(d.base, "POST", P + "/start", token=d.token,
                        body=dict(pcap_file=path, **body))
            assert r.status == 400 and r.json["field"] == field, (body, r.status, r.json)
            if msg:
                assert r.json["error"] == msg
    finally:
        d.stop()
