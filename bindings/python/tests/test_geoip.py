# SPDX-License-Identifier: BSD-3-Clause
"""packet_capture_py's geoip_city=/geoip_asn= (issue 12): FlowStats carry the
country, AS number and organisation of MaxMind's test databases exactly
(absent fields are None), get_metrics() counts the lookups, and a missing
database is a PacketCaptureError naming the file. The databases are those
`make deps` puts in /var/cache/jcap-test/geoip ($PC_GEOIP_TEST_DIR)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sanitize import prepare  # noqa: E402

prepare()
import packet_capture_py as pc  # noqa: E402
import pcapgen as g  # noqa: E402
from geoipdb import ASN, CITY, need_dbs  # noqa: E402
from geoipdb import GEO_KEYS as GEO  # noqa: E402


@pytest.fixture(autouse=True)
def dbs():
    need_dbs()


def test_flowstats_geo_fields(tmp_path):
    sc = g.Scenario()
    sc.tcp_session(0.0, "81.2.69.142", "1.128.0.1", 40000, 443, data=1)
    sc.udp_exchange(0.1, "12.81.96.1", "89.160.20.112", 5000, 53, count=2)
    sc.udp_exchange(0.2, "198.18.0.1", "198.19.0.1", 5001, 53, count=2)
    path = str(tmp_path / "geo.pcap")
    sc.write(path)
    with pc.PacketCaptureEngine(pcap_file=path, geoip_city=CITY, geoip_asn=ASN) as eng:
        eng.enable_flow_metering(table_size=65536)
        eng.start()
        assert eng.wait(timeout=120) == "done"
        flows = {f.src_ip: f for f in eng.get_flows(limit=0, include_finished=True)}
        m = eng.get_metrics()
    assert len(flows) == 3
    got = {k: {n: getattr(f, n) for n in GEO} for k, f in flows.items()}
    assert got["81.2.69.142"] == dict.fromkeys(GEO) | {
        "src_country": "GB", "dst_asn": 1221, "dst_as_org": "Telstra Pty Ltd"}
    assert got["12.81.96.1"] == dict.fromkeys(GEO) | {"src_asn": 7018, "dst_country": "SE"}
    assert got["198.18.0.1"] == dict.fromkeys(GEO)
    # six distinct addresses, each in both databases once
    assert m.geoip_lookups == 12


def test_missing_database_names_the_file(tmp_path):
    missing = str(tmp_path / "none.mmdb")
    with pytest.raises(pc.PacketCaptureError) as ei:
        pc.PacketCaptureEngine(pcap_file=missing, geoip_asn=missing)
    e = ei.value
    assert (e.code, e.name) == (1001, "CAPTURE_E_CONFIG")
    assert e.detail == ("GeoIP ASN database %s: Error opening the specified MaxMind DB file "
                        "(No such file or directory)" % missing), e.detail
