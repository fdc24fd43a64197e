# SPDX-License-Identifier: BSD-3-Clause
"""integration.app_fields: TLS, DNS and HTTP fields of flow records end to
end against the exact truth of tests/tools/appgen.py (real ClientHellos with
and without GREASE, SNI, ALPN, split over TCP segments and TLS records; DNS
over UDP and TCP; HTTP/1.1), with the truth itself checked against tshark's
dissection of the same file (JA3 as tshark computes it, JA4 from tshark's
fields by FoxIO's spec). --inspect none reports none of the fields."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import appgen as ag  # noqa: E402
import jcaptest as jt  # noqa: E402
import tsharkl7  # noqa: E402

# the fields this file checks: present exactly when the truth has them
APP_FIELDS = ("tls_sni", "tls_alpn", "tls_version", "ja3", "ja4", "dns_qname", "dns_qtype",
              "dns_rcode", "dns_answers", "http_method", "http_host", "http_url",
              "http_user_agent", "http_status")
# every issue-12 application field --inspect none must leave out
ALL_L7 = APP_FIELDS + ("app", "app_category", "app_id", "app_master_id", "dpi_confidence",
                       "conn_state", "history", "rtt_us", "rtt_syn_us", "retrans_packets",
                       "retrans_bytes", "rev_retrans_packets", "rev_retrans_bytes",
                       "ooo_packets", "rev_ooo_packets", "zero_win", "rev_zero_win")

C, S = "198.18.1.%d", "198.19.1.%d"
C6, S6 = "2001:2:0:1::%x", "2001:2:0:2::%x"
LONG_URL = "/search?q=" + "x" * 100 + "&page=2"  # 117 bytes: under the 127 kept


def scenario():
    sc = ag.AppScenario()
    t = 0.0
    # TLS 1.3 browser-like hellos, with and without GREASE, server picks h2
    sc.tls_session(t, C % 1, S % 1, 40001, 443, sni="www.example.com", alpn=["h2", "http/1.1"],
                   server_alpn="h2")
    sc.tls_session(t + 0.1, C % 2, S % 2, 40002, 443, sni="grease.example.net",
                   alpn=["h2", "http/1.1"], grease=True, seed=3)
    # the ClientHello over 3 TCP segments, and over 2 TLS records in 4 segments
    sc.tls_session(t + 0.2, C % 3, S % 3, 40003, 443, sni="split.example.org", alpn=["h2"],
                   grease=True, seed=7, split=3, padding=300)
    sc.tls_session(t + 0.3, C % 4, S % 4, 40004, 8443, sni="records.example.org",
                   alpn=["http/1.1"], records=2, split=4, server_alpn="http/1.1")
    # TLS 1.2 only: no supported_versions, no ALPN, SCSV; server 1.2
    sc.tls_session(t + 0.4, C % 5, S % 5, 40005, 443, sni="legacy.example.com", alpn=None,
                   ciphers=ag.CIPHERS_12, versions=None, server_version=0x0303,
                   server_alpn=None)
    # no SNI (JA4 'i'), no signature_algorithms, an ALPN whose ends are not
    # alphanumeric (JA4 hex form); no ServerHello seen
    sc.tls_session(t + 0.5, C % 6, S % 6, 40006, 443, sni=None, alpn=["-x-"], sig_algs=None,
                   server_hello_sent=False)
    # IPv6
    sc.tls_session(t + 0.6, C6 % 7, S6 % 7, 40007, 443, sni="v6.example.com", alpn=["h2"],
                   grease=True, seed=11, server_alpn="h2")
    # DNS: UDP A with answers, AAAA NXDOMAIN, MX query without response, over TCP, IPv6
    sc.dns_query(t + 1.0, C % 10, S % 10, 50010, 53, "www.example.org", qtype=1, answers=2)
    sc.dns_query(t + 1.1, C % 11, S % 10, 50011, 53, "nothing.example", qtype=28, rcode=3,
                 answers=0)
    sc.dns_query(t + 1.2, C % 12, S % 10, 50012, 53, "mail.example.com", qtype=15,
                 response=False)
    sc.dns_query(t + 1.3, C % 13, S % 10, 50013, 53, "tcp.example.net", qtype=16, answers=1,
                 tcp=True)
    sc.dns_query(t + 1.4, C6 % 14, S6 % 10, 50014, 53, "v6.dns.example", qtype=28, answers=3)
    # HTTP: GET with a long URL, POST split over 2 segments, a request
    # without Host or User-Agent (HTTP/1.0 style), no response
    sc.http_session(t + 2.0, C % 20, S % 20, 50020, 80, "GET", "www.example.com", LONG_URL,
                    "Mozilla/5.0 (X11; Linux x86_64) pcapgen", 200)
    sc.http_session(t + 2.1, C % 21, S % 20, 50021, 8080, "POST", "api.example.com:8080",
                    "/v1/items", "curl/7.88.1", 404, split=2, body=b'{"a":1}')
    sc.http_session(t + 2.2, C % 22, S % 20, 50022, 80, "HEAD", None, "/", None, 301)
    sc.http_session(t + 2.3, C6 % 23, S6 % 20, 50023, 80, "GET", "v6.example.com", "/idx",
                    "ua/6", response=False)
    return sc


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    sc = scenario()
    f = tmp_path_factory.mktemp("app") / "app.pcap"
    sc.write(f)
    return sc, f


def app_of(rec):
    return {k: rec[k] for k in APP_FIELDS if k in rec}


def test_ja4_spec_example():
    """FoxIO's worked example (technical_details/JA4.md)."""
    c = [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
         0x009c, 0x009d, 0x002f, 0x0035]
    e = [0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012,
         0x002b, 0xff01, 0x000b, 0x000a, 0x0015]
    s = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]
    assert ag.ja4(c, e, s, 0x0303, [0x0304, 0x0303], b"h2") == \
        "t13d1516h2_8daaf6152771_e5627efa2ab1"
    assert ag.ja4(c, e, [], 0x0303, [0x0304, 0x0303], b"h2") == \
        "t13d1516h2_8daaf6152771_6d807ffa2a79"
    # GREASE anywhere does not count; no ciphers / extensions: zeros
    assert ag.ja4([0x0a0a] + c, [0x1a1a] + e + [0xfafa], [0x2a2a] + s, 0x0303,
                  [0x3a3a, 0x0304], b"h2") == "t13d1516h2_8daaf6152771_e5627efa2ab1"
    assert ag.ja4([], [], [], 0x0301, None, None) == "t10i000000_000000000000_000000000000"
    assert [ag.ja4_alpn(x) for x in (b"\xab", b"\xab\xcd", b"\x30\xab", b"\x30\x31\xab\xcd",
                                     b"\x30\xab\xcd\x31", b"http/1.1", b"")] == \
        ["ab", "ad", "3b", "3d", "01", "h1", "00"]


def test_truth_agrees_with_tshark(capture):
    """The generator's truth is what tshark dissects from its packets."""
    if not tsharkl7.available():
        pytest.fail("tshark is a test dependency (scripts/install-deps.sh)")
    sc, f = capture
    exp = sc.expected_app()
    ts, unmatched = tsharkl7.expected(tsharkl7.packets(f), exp.records)
    assert unmatched == []
    assert len(ts) == len(exp.records) == 16
    for i, r in enumerate(exp.records):
        assert ts[i] == app_of(r), (r["src_ip"], r["src_port"])


def meter_app(f, *opts):
    recs, st = jt.meter(f, "--no-dpi", *opts)
    return recs, st


def test_app_fields_exact(capture):
    sc, f = capture
    exp = sc.expected_app()
    recs, st = meter_app(f)
    jt.assert_stats(st, exp)
    jt.assert_same_flows(recs, exp.records, "app")
    by = {jt.flow_key(r): r for r in recs}
    for e in exp.records:
        r = by[jt.flow_key(e)]
        assert app_of(r) == app_of(e), (e["src_ip"], e["src_port"])
        assert (r["payload_bytes"], r["rev_payload_bytes"]) == \
            (e["payload_bytes"], e["rev_payload_bytes"]), (e["src_ip"], e["src_port"])
    # every flow carries payload; nothing is missing from any stream
    assert (st["inspect"]["flows"], st["inspect"]["pool_full"],
            st["inspect"]["tcp_reassembly_gaps"]) == (len(exp.records), 0, 0)


def test_split_client_hello(capture):
    """The ClientHello over 3 TCP segments gives its SNI and JA4."""
    sc, f = capture
    recs, _ = meter_app(f)
    r = [x for x in recs if x["src_port"] == 40003]
    assert len(r) == 1
    assert r[0]["tls_sni"] == "split.example.org"
    assert r[0]["ja4"] == sc.app_truth(r[0])["ja4"]
    assert r[0]["ja4"].startswith("t13d")


def test_inspect_none(capture):
    sc, f = capture
    exp = sc.expected_app()
    recs, st = meter_app(f, "--inspect", "none")
    jt.assert_same_flows(recs, exp.records, "inspect none")
    for r in recs:
        assert [k for k in ALL_L7 if k in r] == [], r
    assert st["inspect"]["flows"] == 0


def test_inspect_only_dns(capture):
    """--inspect dns: DNS fields only, exactly; no TLS or HTTP field."""
    sc, f = capture
    exp = sc.expected_app()
    recs, _ = meter_app(f, "--inspect", "dns")
    by = {jt.flow_key(r): r for r in recs}
    for e in exp.records:
        want = {k: v for k, v in app_of(e).items() if k.startswith("dns_")}
        assert app_of(by[jt.flow_key(e)]) == want, (e["src_ip"], e["src_port"])


# nDPI 4.2's verdicts on these flows (ndpiReader 4.2 -v 2 on the same file
# names the same protocols, categories and confidence): app, app_category,
# app_id, app_master_id, dpi_confidence
DPI_TRUTH = {
    41001: ("TLS.YouTube", "Media", 124, 91, "dpi"),
    41002: ("DNS.NetFlix", "Video", 133, 5, "dpi"),
    41003: ("HTTP.Facebook", "SocialNetwork", 119, 7, "dpi"),
    41004: ("TLS.Github", "Collaborative", 203, 91, "dpi"),
    41005: ("TLS", "Web", 91, 0, "dpi"),
}


def test_dpi_apps(tmp_path):
    sc = ag.AppScenario()
    sc.tls_session(0.0, C % 101, S % 101, 41001, 443, sni="www.youtube.com", alpn=["h2"],
                   grease=True, seed=5, server_alpn="h2")
    sc.dns_query(0.1, C % 102, S % 102, 41002, 53, "www.netflix.com", qtype=1, answers=1)
    sc.http_session(0.2, C % 103, S % 103, 41003, 80, "GET", "www.facebook.com", "/", "ua/1")
    sc.tls_session(0.3, C % 104, S % 104, 41004, 443, sni="github.com", alpn=["h2"],
                   server_alpn="h2")
    sc.tls_session(0.4, C % 105, S % 105, 41005, 443, sni="www.example.com", alpn=["h2"])
    f = tmp_path / "dpi.pcap"
    sc.write(f)
    exp = sc.expected_app()
    recs, st = jt.meter(f)
    jt.assert_same_flows(recs, exp.records, "dpi")
    by = {jt.flow_key(r): r for r in recs}
    for e in exp.records:
        r = by[jt.flow_key(e)]
        assert app_of(r) == app_of(e)
        assert (r["app"], r["app_category"], r["app_id"], r["app_master_id"],
                r["dpi_confidence"]) == DPI_TRUTH[e["src_port"]]
    assert (st["inspect"]["dpi_flows"], st["inspect"]["dpi_identified"],
            st["inspect"]["dpi_pool_full"]) == (5, 5, 0)
    # --no-dpi: the same protocol fields, no application
    recs, st = jt.meter(f, "--no-dpi")
    for r in recs:
        assert [k for k in ("app", "app_category", "app_id", "app_master_id",
                            "dpi_confidence") if k in r] == []
        assert app_of(r) == app_of(by[jt.flow_key(r)])
    assert st["inspect"]["dpi_flows"] == 0
