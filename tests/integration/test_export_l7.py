# SPDX-License-Identifier: BSD-3-Clause
"""IPFIX / NetFlow v9 elements of the --fields groups app, tcp, payload and geo,
decoded by libfixbuf's ipfixDump (with the shipped information model) and by
tshark's cflow dissector:

- hand-filled records (every application, TCP health and GeoIP field known:
  test_nf_fields --write-ipfix runs them through the real IPFIX file exporter),
  exact values element by element, and which elements a record lacks;
- end to end: generator sessions (TLS ClientHello/ServerHello, DNS, HTTP) metered
  by jcap, each decoded element equal to the generator's truth and to -F json.
Only loopback is used; every process started here is stopped by PID."""
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
sys.path.insert(0, os.path.dirname(__file__))
import appgen as ag  # noqa: E402
import jcaptest as jt  # noqa: E402
from test_export import UdpSink, write_pcap  # noqa: E402
from test_export_fields import PEN, T, by_key, ipfixdump, key, run_json  # noqa: E402

IPFIXDUMP = shutil.which("ipfixDump")
TSHARK = shutil.which("tshark")
# tshark 4.0 drops templates of more than 60 elements unless told otherwise
TSHARK_OPTS = ["-o", "cflow.max_template_fields:128"]

# -F json name -> ipfixDump name of the element that carries it
ELEMENTS = {
    "payload_bytes": "transportOctetDeltaCount",
    "rev_payload_bytes": "reverseTransportOctetDeltaCount",
    "app": "applicationName", "app_category": "jcapAppCategory",
    "dpi_confidence": "jcapDpiConfidence",
    "tls_sni": "jcapTlsServerName", "tls_alpn": "jcapTlsAlpn", "tls_version": "jcapTlsVersion",
    "ja4": "jcapJa4", "ja3": "jcapJa3",
    "dns_qname": "jcapDnsQueryName", "dns_qtype": "jcapDnsQueryType",
    "dns_rcode": "jcapDnsResponseCode", "dns_answers": "jcapDnsAnswerCount",
    "http_method": "httpRequestMethod", "http_host": "httpRequestHost",
    "http_url": "httpRequestTarget", "http_user_agent": "httpUserAgent",
    "http_status": "httpStatusCode",
    "conn_state": "jcapConnState", "history": "jcapConnHistory",
    "retrans_packets": "jcapRetransmittedPacketCount",
    "rev_retrans_packets": "reverseJcapRetransmittedPacketCount",
    "retrans_bytes": "jcapRetransmittedOctetCount",
    "rev_retrans_bytes": "reverseJcapRetransmittedOctetCount",
    "ooo_packets": "jcapOutOfOrderPacketCount",
    "rev_ooo_packets": "reverseJcapOutOfOrderPacketCount",
    "zero_win": "jcapZeroWindowCount", "rev_zero_win": "reverseJcapZeroWindowCount",
    "rtt_us": "jcapRttMicroseconds", "rtt_syn_us": "jcapRttSynMicroseconds",
    "src_asn": "bgpSourceAsNumber", "dst_asn": "bgpDestinationAsNumber",
    "src_country": "jcapSourceCountry", "dst_country": "jcapDestinationCountry",
    "src_as_org": "jcapSourceAsOrganization", "dst_as_org": "jcapDestinationAsOrganization",
}


@pytest.fixture(autouse=True)
def _jcap():
    jt.require_jcap()


def value(text):
    """ipfixDump's text of an element: strings as '(len: N) s', numbers plain."""
    if text.startswith("(len: "):
        n, s = text[6:].split(") ", 1) if ") " in text else (text[6:-1], "")
        assert len(s.encode()) == int(n), text
        return s
    return int(text)


def app_id_hex(text):
    """applicationId's 7 octets: ipfixDump 2.4 prints an octetArray of up to 8
    octets as a number read in host (little-endian) order."""
    return int(text).to_bytes(7, "little").hex()


def write_hand_filled(tmp_path, uniflow):
    exe = os.path.join(jt.build_dir(), "tests", "test_nf_fields")
    assert os.access(exe, os.X_OK), "%s is built with the tests" % exe
    out = tmp_path / "hand.ipfix"
    p = subprocess.run([exe, "--write-ipfix-uniflow" if uniflow else "--write-ipfix",
                        str(out)], capture_output=True, text=True, timeout=T)
    assert p.returncode == 0, p.stderr
    return out


TLS = {"applicationName": "TLS.YouTube", "jcapAppCategory": "Media",
       "jcapDpiConfidence": "dpi", "jcapTlsServerName": "www.youtube.com",
       "jcapTlsAlpn": "h2", "jcapTlsVersion": 0x0304,
       "jcapJa4": "t13d1516h2_8daaf6152771_02713d6af862",
       "jcapJa3": "e7d705a3286e19ea42f587b344ee6865",
       "jcapConnState": "SF", "jcapConnHistory": "ShADadFf",
       "jcapRttMicroseconds": 1500, "jcapRttSynMicroseconds": 1000}
TLS_FWD = {"transportOctetDeltaCount": 5000, "jcapRetransmittedPacketCount": 2,
           "jcapRetransmittedOctetCount": 2000, "jcapOutOfOrderPacketCount": 1,
           "jcapZeroWindowCount": 0, "bgpSourceAsNumber": 64496,
           "bgpDestinationAsNumber": 64511, "jcapSourceCountry": "SE",
           "jcapDestinationCountry": "US", "jcapSourceAsOrganization": "Example Net",
           "jcapDestinationAsOrganization": "Documentation AS"}
TLS_REV = {"transportOctetDeltaCount": 60000, "jcapRetransmittedPacketCount": 1,
           "jcapRetransmittedOctetCount": 100, "jcapOutOfOrderPacketCount": 0,
           "jcapZeroWindowCount": 3, "bgpSourceAsNumber": 64511,
           "bgpDestinationAsNumber": 64496, "jcapSourceCountry": "US",
           "jcapDestinationCountry": "SE", "jcapSourceAsOrganization": "Documentation AS",
           "jcapDestinationAsOrganization": "Example Net"}
DNS = {"jcapDnsQueryName": "example.org", "jcapDnsQueryType": 28,
       "jcapDnsResponseCode": 3, "jcapDnsAnswerCount": 0}
HTTP = {"httpRequestMethod": "GET", "httpRequestHost": "www.example.com",
        "httpRequestTarget": "/index.html?q=1", "httpUserAgent": "curl/7.88.1",
        "httpStatusCode": 404, "jcapConnState": "RSTR", "jcapConnHistory": "ShADdr"}
L7_NAMES = set(ELEMENTS.values()) | {"applicationId"}


def l7_of(f):
    return {n: value(v) for n, v in f.items() if n in L7_NAMES}


@pytest.mark.skipif(not IPFIXDUMP, reason="libfixbuf-tools (ipfixDump) not installed")
@pytest.mark.parametrize("uniflow", [False, True])
def test_hand_filled_by_name(tmp_path, uniflow):
    """Every element of the groups, by name, to the value the record holds; a
    record carries exactly the parts its flow has known."""
    recs = ipfixdump(write_hand_filled(tmp_path, uniflow))
    by_port = {}
    for tid, f in recs:
        if tid == 260:  # the statistics options record
            continue
        by_port.setdefault(int(f["sourceTransportPort"]), []).append((tid, f))
    # TLS flow 40000 -> 443: nDPI, TLS, TCP health, RTT, GeoIP
    (tid, f), = by_port[40000]
    assert tid >= 270
    assert app_id_hex(f["applicationId"]) == "1400008b30007c"  # engine 20, PEN 35632, 124
    want = dict(TLS, applicationId=f["applicationId"], **TLS_FWD)
    if not uniflow:
        want.update({"reverseTransportOctetDeltaCount": 60000,
                     "reverseJcapRetransmittedPacketCount": 1,
                     "reverseJcapRetransmittedOctetCount": 100,
                     "reverseJcapOutOfOrderPacketCount": 0, "reverseJcapZeroWindowCount": 3})
    want["applicationId"] = int(want["applicationId"])
    assert l7_of(f) == want
    if uniflow:  # the reverse record: its own counters, the sides swapped
        (tid, r), = by_port[443]
        want = dict(TLS, applicationId=int(f["applicationId"]), **TLS_REV)
        assert l7_of(r) == want
    # DNS over IPv6: question and response, nothing else
    (tid, f), = by_port[5353]
    want = dict(DNS, transportOctetDeltaCount=29)
    if not uniflow:
        want["reverseTransportOctetDeltaCount"] = 45
    assert l7_of(f) == want
    assert f["sourceIPv6Address"].replace(":0", ":").startswith("2001:db8")
    # HTTP: IANA's elements 459-461, 468, 457; health without RTT; no nDPI verdict
    (tid, f), = by_port[40001]
    got = l7_of(f)
    assert {k: got[k] for k in HTTP} == HTTP
    assert "applicationName" not in got and "jcapRttMicroseconds" not in got
    assert "bgpSourceAsNumber" not in got
    # nothing known: the default template with the payload octets only
    tid, f = by_port[2152][0]
    assert tid == (258 if uniflow else 256)
    assert l7_of(f) == ({"transportOctetDeltaCount": 216} if uniflow else
                        {"transportOctetDeltaCount": 216,
                         "reverseTransportOctetDeltaCount": 144})


@pytest.mark.skipif(not TSHARK, reason="tshark not installed")
def test_hand_filled_tshark(tmp_path):
    """tshark's cflow dissector reads the IANA elements of the same records:
    applicationId's engine and selector, applicationName, the HTTP elements,
    the BGP AS numbers and transportOctetDeltaCount."""
    out = write_hand_filled(tmp_path, False)
    fields = ["cflow.appl_id.classification_engine_id", "cflow.appl_id.selector_id",
              "cflow.appl_name", "cflow.http_request_method", "cflow.http_request_host",
              "cflow.http_request_target", "cflow.http_user_agent", "cflow.http_statuscode",
              "cflow.srcas", "cflow.dstas", "cflow.transport_octet_delta_count"]
    p = subprocess.run([TSHARK, "-n", "-r", str(out)] + TSHARK_OPTS +
                       ["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=;"] +
                       sum((["-e", x] for x in fields), []),
                       capture_output=True, text=True, timeout=T)
    assert p.returncode == 0, p.stderr
    rows = [dict(zip(fields, ln.split("\t"))) for ln in p.stdout.splitlines()]
    got = {f: ";".join(r[f] for r in rows if r[f]) for f in fields}
    assert got == {
        "cflow.appl_id.classification_engine_id": "20",
        "cflow.appl_id.selector_id": "00008b30007c",
        "cflow.appl_name": "TLS.YouTube",
        "cflow.http_request_method": "GET", "cflow.http_request_host": "www.example.com",
        "cflow.http_request_target": "/index.html?q=1",
        "cflow.http_user_agent": "curl/7.88.1", "cflow.http_statuscode": "404",
        "cflow.srcas": "64496", "cflow.dstas": "64511",
        # reverse then forward: TLS, HTTP, the plain flow (one message), then DNS
        "cflow.transport_octet_delta_count": "60000;5000;60000;5000;144;216;45;29",
    }, p.stdout


def app_scenario():
    c, s = "198.18.0.1", "198.19.0.1"
    sc = ag.AppScenario()
    sc.tls_session(0.0, c, s, 40000, 443, sni="a.example", alpn=["h2"], split=3)
    sc.dns_query(1.0, c, s, 40001, 53, "www.example.org", qtype=1, answers=2)
    sc.http_session(2.0, c, s, 40002, 80, "GET", "h.example", "/x?y=1", "ua/1", 200)
    sc.udp_exchange(3.0, c, s, 7000, 7001)
    return sc


TRUTH = {  # the generator's: what the sessions carry
    443: {"jcapTlsServerName": "a.example", "jcapTlsAlpn": "h2"},
    53: {"jcapDnsQueryName": "www.example.org", "jcapDnsQueryType": 1,
         "jcapDnsAnswerCount": 2},
    80: {"httpRequestMethod": "GET", "httpRequestHost": "h.example",
         "httpRequestTarget": "/x?y=1", "httpUserAgent": "ua/1", "httpStatusCode": 200},
}


@pytest.mark.skipif(not IPFIXDUMP, reason="libfixbuf-tools (ipfixDump) not installed")
def test_end_to_end_by_name(tmp_path):
    """Sessions metered by jcap: each flow's decoded elements are the generator's
    truth, and exactly -F json's application and health fields (an element
    where JSON has the field, none where it has not)."""
    pcap = tmp_path / "app.pcap"
    app_scenario().write(pcap)
    out = tmp_path / "e2e.ipfix"
    recs, _ = run_json(pcap, "--export", "ipfix-file:%s" % out, "--fields",
                       "app,tcp,payload,geo", "--ipfix-pen", str(PEN))
    js = by_key(recs)
    got = [(tid, f) for tid, f in ipfixdump(out) if tid != 260]
    assert len(got) == len(js) == 4
    for tid, f in got:
        k = key(f["sourceIPv4Address"], f["destinationIPv4Address"],
                f["sourceTransportPort"], f["destinationTransportPort"])
        r, el = js[k], l7_of(f)
        for name, want in TRUTH.get(k[3], {}).items():
            assert el.get(name) == want, (k, name, el)
        want = {ELEMENTS[n]: r[n] for n in ELEMENTS if n in r}
        if "app_id" in r:
            want["applicationId"] = int.from_bytes(
                bytes([20]) + (35632).to_bytes(4, "big") + r["app_id"].to_bytes(2, "big"),
                "little")
        if "app" in r:
            assert r["app_category"] and r["dpi_confidence"]
        # a TCP flow's health section has the history even when JSON leaves it out
        for n in ("history",):
            if "conn_state" in r and n not in r:
                want[ELEMENTS[n]] = ""
        assert el == want, (k, el, want)
        assert (tid >= 270) == any(n in r for n in ("app", "conn_state", "dns_qname",
                                                    "tls_sni", "http_method", "src_asn"))


@pytest.mark.skipif(not TSHARK, reason="tshark not installed")
def test_v9_app_tshark(tmp_path):
    """NetFlow v9 carries the fixed-length IANA elements (applicationId,
    httpStatusCode, BGP AS numbers, transportOctetDeltaCount) per direction;
    tshark decodes them to -F json's values."""
    pcap = tmp_path / "app.pcap"
    app_scenario().write(pcap)
    sink = UdpSink()
    try:
        recs, _ = run_json(pcap, "--export", "netflow9://127.0.0.1:%d" % sink.port,
                           "--fields", "app,tcp,payload,geo")
    finally:
        dgrams = sink.stop()
    cap = tmp_path / "v9.pcap"
    write_pcap(dgrams, sink.port, cap)
    fields = ["cflow.srcport", "cflow.dstport", "cflow.appl_id.classification_engine_id",
              "cflow.appl_id.selector_id", "cflow.http_statuscode", "cflow.srcas",
              "cflow.transport_octet_delta_count"]
    p = subprocess.run([TSHARK, "-n", "-r", str(cap), "-d", "udp.port==%d,cflow" % sink.port,
                        "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=;"] +
                       sum((["-e", x] for x in fields), []),
                       capture_output=True, text=True, timeout=T)
    assert p.returncode == 0, p.stderr
    got = {}
    for ln in p.stdout.splitlines():
        cols = [c.split(";") if c else [] for c in ln.split("\t")]
        for rec in zip(*cols):
            got[(int(rec[0]), int(rec[1]))] = rec[2:]
    want = {}
    for r in recs:
        sel = "00008b30%04x" % r.get("app_id", 0)
        st = str(r.get("http_status", 0))
        want[(r["src_port"], r["dst_port"])] = ("20", sel, st, "0", str(r["payload_bytes"]))
        want[(r["dst_port"], r["src_port"])] = ("20", sel, st, "0",
                                                str(r["rev_payload_bytes"]))
    assert got == want
    assert want[(40002, 80)][2] == "200" and want[(40000, 443)][1] == "00008b30005b"
