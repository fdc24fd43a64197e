# SPDX-License-Identifier: BSD-3-Clause
"""jcapd's GeoIP/ASN settings (issue 12): the config file's geoip_city and
geoip_asn apply to every session, a start request's "geoip_city"/"geoip_asn"
(confined to the allowed directories, "" for none) override them; the flows'
country/AS fields and the geoip lookups counter, exact. Uses MaxMind's test
databases that `make deps` puts in /var/cache/jcap-test/geoip."""
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import pcapgen  # noqa: E402
from geoipdb import ASN, CITY, GEO_KEYS, need_dbs  # noqa: E402
from apihttp import request, wait_end  # noqa: E402
from conftest import start_jcapd  # noqa: E402

P = "/packet_capture/capture"




def run_session(d, body):
    r = request(d.base, "POST", P + "/start", token=d.token, body=body)
    assert r.status == 200, (r.status, r.json)
    assert wait_end(d)["state"] == "done"
    flows = request(d.base, "GET", P + "/flows?state=all&limit=100", token=d.token).json
    m = request(d.base, "GET", P + "/metrics", token=d.token).json["total"]
    return {f["src_ip"]: f for f in flows["flows"]}, m


def geo(f):
    return {k: f[k] for k in GEO_KEYS if k in f}


def test_config_defaults_and_start_overrides(own_tmp):
    need_dbs()
    d = start_jcapd(own_tmp, config_lines=("geoip_city = " + CITY, "geoip_asn = " + ASN))
    try:
        sc = pcapgen.Scenario()
        sc.tcp_session(0.0, "81.2.69.142", "1.128.0.1", 40000, 443, data=1)
        sc.udp_exchange(0.1, "2001:218::1", "2600:7000::1", 5000, 53, count=2)
        path = os.path.join(d.data_dir, "geo.pcap")
        sc.write(path)
        assert request(d.base, "POST", P + "/flow/meter/enable", token=d.token,
                       body={"table_size": 65536}).status == 200
        # the config file's databases
        got, m = run_session(d, {"pcap_file": path})
        assert geo(got["81.2.69.142"]) == {"src_country": "GB", "dst_asn": 1221,
                                           "dst_as_org": "Telstra Pty Ltd"}
        assert geo(got["2001:218::1"]) == {"src_country": "JP", "dst_asn": 6939,
                                           "dst_as_org": "Hurricane Electric, Inc."}
        assert m["geoip"] == {"lookups": 8}
        # "" turns the city database off for this session
        got, m = run_session(d, {"pcap_file": path, "geoip_city": ""})
        assert geo(got["81.2.69.142"]) == {"dst_asn": 1221, "dst_as_org": "Telstra Pty Ltd"}
        assert m["geoip"] == {"lookups": 4}
        # a request names files inside an allowed directory only
        r = request(d.base, "POST", P + "/start", token=d.token,
                    body={"pcap_file": path, "geoip_asn": CITY})
        assert r.status == 403 and r.json.get("field") == "geoip_asn", (r.status, r.json)
        # one inside, given in the ASN database's place: refused with the reason
        mine = os.path.join(d.data_dir, "city.mmdb")
        shutil.copy(CITY, mine)
        r = request(d.base, "POST", P + "/start", token=d.token,
                    body={"pcap_file": path, "geoip_asn": mine})
        assert r.status == 400, (r.status, r.json)
        assert r.json["error"].endswith(
            "GeoIP ASN database %s: is a GeoLite2-City database, not an ASN one" % mine), r.json
        # and one that is fine
        got, m = run_session(d, {"pcap_file": path, "geoip_city": mine, "geoip_asn": ""})
        assert geo(got["81.2.69.142"]) == {"src_country": "GB"}
        assert m["geoip"] == {"lookups": 4}
    finally:
        rc = d.stop()
    d.assert_clean_exit(rc)
