# SPDX-License-Identifier: BSD-3-Clause
"""jcapd's "pcap_files": several offline inputs (one of them gzip-compressed)
merged in time order meter exactly as the whole file; bad values are refused
with the field named."""
import gzip
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import pcapgen  # noqa: E402
from apihttp import request, wait_end  # noqa: E402

P = "/packet_capture/capture"


def test_pcap_files(daemon):
    d = daemon
    sc = pcapgen.Scenario()
    for i in range(6):
        sc.tcp_full(i * 0.01, "198.18.0.%d" % (i + 1), "198.19.0.1", 40000 + i, 443)
    recs = sc.records("eth")
    a = os.path.join(d.data_dir, "a.pcap")
    b = os.path.join(d.data_dir, "b.pcap.gz")
    with open(a, "wb") as f:
        f.write(pcapgen.pcap_bytes(recs[0::2], pcapgen.LINKTYPE["eth"], nano=True))
    with gzip.open(b, "wb") as f:
        f.write(pcapgen.pcap_bytes(recs[1::2], pcapgen.LINKTYPE["eth"], nano=True))
    for bad, why in (({"pcap_files": []}, "'pcap_files' must be an array of 1 to 64 "
                      "paths"),
                     ({"pcap_files": [a, 3]}, "'pcap_files' must be an array of 1 to 64 "
                      "paths"),
                     ({"pcap_files": [a], "pcap_file": a},
                      "give exactly one of 'interface', 'pcap_file' and 'pcap_files'")):
        r = request(d.base, "POST", P + "/start", token=d.token, body=bad)
        assert r.status == 400 and r.json["error"] == why, (bad, r.status, r.json)
        assert r.json["field"] == "pcap_files", r.json
    assert request(d.base, "POST", P + "/flow/meter/enable", token=d.token,
                   body={"table_size": 65536}).status == 200
    r = request(d.base, "POST", P + "/start", token=d.token, body={"pcap_files": [b, a]})
    assert r.status == 200, r.json
    st = wait_end(d)
    assert st["state"] == "done" and st["pcap_file"] == b + " (+1 more)", st
    exp = sc.expected()
    m = request(d.base, "GET", P + "/metrics", token=d.token).json["total"]
    assert (m["packets"], m["packets_in_flows"], m["bytes_in_flows"]) == \
        (len(recs), exp.packets_in_flows, exp.bytes_in_flows), m
    got = request(d.base, "GET", P + "/flows?state=all&limit=100",
                  token=d.token).json["flows"]
    assert sorted((f["src_port"], f["history"], f["first_ns"], f["last_ns"])
                  for f in got) == \
        sorted((f["src_port"], f["history"], f["first_ns"], f["last_ns"])
               for f in exp.records)
