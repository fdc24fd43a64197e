# SPDX-License-Identifier: BSD-3-Clause
"""api.jcapd_app_fields: REST /flows carries the transport health and application
fields (issue 12) exactly as `jcap -F json` prints them, and filters by app, sni,
dns_name (globs, as jcap query's), country and asn, with 400s naming the bad
parameter."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import jcaptest as jt  # noqa: E402
import pcapgen  # noqa: E402
from apihttp import request, wait_end  # noqa: E402
from conftest import build_dir, start_jcapd  # noqa: E402

P = "/packet_capture/capture"




def flows(d, query=""):
    r = request(d.base, "GET", P + "/flows?state=all&limit=0" + query, token=d.token)
    return r.status, r.json


def keys(recs):
    return sorted(jt.flow_key(r) for r in recs)


def test_flows_fields_and_filters(own_tmp):
    d = start_jcapd(own_tmp)
    try:
        sc = pcapgen.Scenario()
        sc.tcp_session(0.0, "198.18.0.1", "198.19.0.1", 40001, 443, data=2, size=120)
        sc.tcp_session(0.1, "198.18.0.2", "198.19.0.1", 40002, 80, data=1)
        sc.udp_exchange(0.2, "198.18.0.3", "198.19.0.1", 5353, 53, count=2)
        path = os.path.join(d.data_dir, "a.pcap")
        sc.write(path)
        assert request(d.base, "POST", P + "/flow/meter/enable", token=d.token,
                       body={"table_size": 65536}).status == 200
        r = request(d.base, "POST", P + "/start", token=d.token, body={"pcap_file": path})
        assert r.status == 200, (r.status, r.json)
        assert wait_end(d)["state"] == "done"
        st, got = flows(d)
        assert st == 200 and got["returned"] == 3
        p = subprocess.run([os.path.join(build_dir(), "jcap"), "-r", path, "-F", "json",
                            "--no-progress"], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        want = {jt.flow_key(x): x for x in jt.parse_lines(p.stdout)}
        for f in got["flows"]:
            w = dict(want[jt.flow_key(f)])
            f = dict(f)
            f.pop("worker"), w.pop("worker")
            assert f == w
            assert f["payload_bytes"] > 0
        recs = got["flows"]
        apps = {x.get("app") for x in recs} - {None}
        for a in apps:
            st, one = flows(d, "&app=" + a)
            assert st == 200 and keys(one["flows"]) == keys(x for x in recs
                                                          if x.get("app") == a), a
            if a.lower() != a:  # app: case counts
                assert flows(d, "&app=" + a.lower())[1]["flows"] == []
        st, some = flows(d, "&app=*")
        assert keys(some["flows"]) == keys(x for x in recs if "app" in x)
        for q in ("&sni=*", "&dns_name=*", "&country=de", "&asn=3320"):
            st, none = flows(d, q)  # no TLS names, DNS payloads or GeoIP here
            assert st == 200 and none["flows"] == [], q
        for q, field, msg in (
                ("&country=DEU", "country", "'country' must be a two-letter ISO 3166 code"),
                ("&asn=x", "asn", "'asn' must be 0..4294967295"),
                ("&sni=", "sni", "'sni' must be a pattern of 1 to 127 bytes"),
                ("&app=" + "x" * 128, "app", "'app' must be a pattern of 1 to 127 bytes")):
            st, err = flows(d, q)
            assert st == 400 and err == {"error": msg, "field": field}, (q, err)
    finally:
        assert d.stop() == 0
