# SPDX-License-Identifier: BSD-3-Clause
"""integration.corpus_l7: jcap's application fields on the real captures of
../shared/corpus against tshark (4.0.17) on the same files, flow by flow.

For every record jcap exports, the frames tshark dissects as a TLS
ClientHello or ServerHello (TCP, or QUIC Initials, which tshark decrypts),
DNS or HTTP/1.x and that fall in the record's 5-tuple and time span give the
expected fields (tests/tools/tsharkl7.py): the first ClientHello's tls_sni,
first offered tls_alpn (the first ServerHello's ALPN instead when it has
one), tls_version (the ServerHello's selected version, else the highest
offered), JA4 computed here from tshark's cipher, extension, signature
algorithm, supported_versions and ALPN fields by FoxIO's spec, JA3 as tshark
computes it (TCP only: JA3 is not defined for QUIC), the first DNS message's
question name and type, the first response's rcode and answer count, the
first HTTP request's method, URL, Host and User-Agent and the first
response's status (1xx interim responses but 101 skipped). jcap must
report exactly those fields and no other, for every record, except the
differences listed per file in EXPECTED_DIFF with their reason. Without
the corpus every test skips, saying so."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import jcaptest as jt  # noqa: E402
import tsharkl7  # noqa: E402

CORPUS = os.path.join(jt.shared_dir(), "corpus")

APP_FIELDS = ("tls_sni", "tls_alpn", "tls_version", "ja3", "ja4", "dns_qname", "dns_qtype",
              "dns_rcode", "dns_answers", "http_method", "http_host", "http_url",
              "http_user_agent", "http_status")

# file -> records tshark gives application fields (the comparison is not
# vacuous: each count is checked). Left out: ndpi/badpackets.pcap and
# ndpi/fuzz-2006-06-26-2594.pcap (fuzzed DNS: tshark shows names from
# messages jcap's parser rejects as malformed, by design), arkime/sctp-www.pcap
# (HTTP over SCTP: jcap inspects TCP and UDP), pcapplusplus/pcapng-example.pcapng
# (time stamps past 2^64 ns, no time span to match frames to records), and,
# to keep the test short, files with one such record on link layers the
# files below already cover.
FILES = {
    "ipfixprobe/mixed.pcap": 7,
    "ipfixprobe/tls.pcap": 29,  # TLS and QUIC (v1 Initials: tshark decrypts them)
    "ndpi/1kxun.pcap": 145,
    "ndpi/KakaoTalk_talk.pcap": 5,
    "ndpi/gnutella.pcap": 16,
    "ndpi/vxlan.pcap": 4,
    "pcapplusplus/650HttpResponses.pcap": 296,
    "pcapplusplus/raw_ip.pcap": 7,
    "pcapplusplus/tls2.pcap": 323,
    "suricata-verify/decode-chdlc-01_hdlc-http_1tx.pcap": 1,
    "zeek/ayiya3.pcap": 1,
    "zeek/erspan.pcap": 22,
    "zeek/gtp1_gn_normal_incl_fragmentation.pcap": 1,
    "zeek/ipv6-fragmented-dns.pcap": 2,
    "zeek/mixed-vlan-mpls.pcap": 2,
    "zeek/nflog-http.pcap": 1,
    "zeek/pppoe-over-qinq.pcap": 1,
}

# tshark's decode-as rules where it gives a port another protocol
DECODE_AS = {
    "ndpi/KakaoTalk_talk.pcap": ["tcp.port==8080,tls"],  # TLS 1.0 to port 8080 (HTTP proxy)
    "ndpi/gnutella.pcap": ["tcp.port==6888,tls"],  # TLS to port 6888 (BitTorrent)
}

# Records whose fields differ from tshark's by definition: file ->
# {(src_ip, src_port, dst_ip, dst_port, first_ns): (fields jcap lacks,
# fields only jcap has, why)}; every other field of the record agrees.
MID_STREAM = "TLS starts after the application's own handshake (a TLS upgrade inside " \
    "the stream); jcap parses a hello only at the start of a TCP direction"
NO_RESP_START = "the server's first bytes (the first response's header) are not in the " \
    "capture; jcap reads the start of each direction, tshark finds a later response"
TLS_FIELDS = ("ja3", "ja4", "tls_version")
EXPECTED_DIFF = {
    "ndpi/1kxun.pcap": {
        ("192.168.2.126", 45422, "161.117.13.29", 80, 1654385140836422000):
            (("http_status",), (), NO_RESP_START),
        ("192.168.2.126", 49380, "14.136.136.108", 80, 1654385146276743000):
            (("http_status",), (), NO_RESP_START),
        ("192.168.2.126", 49412, "14.136.136.108", 80, 1654385146276790000):
            (("http_status",), (), NO_RESP_START),
    },
    "ndpi/KakaoTalk_talk.pcap": {
        ("10.24.82.188", 48489, "203.205.147.215", 80, 1430069159456549000):
            ((), ("http_status",), "two SYN-ACKs with different sequence numbers: tshark "
             "takes the response (frame 28, 'HTTP/1.1 200 OK') for a retransmission"),
    },
    "ndpi/gnutella.pcap": {
        ("10.0.2.15", 50300, "188.61.52.183", 11852, 90742816000): (TLS_FIELDS, (), MID_STREAM),
        ("10.0.2.15", 50316, "142.132.165.13", 30566, 90746613000): (TLS_FIELDS, (), MID_STREAM),
        ("10.0.2.15", 50318, "193.32.126.214", 59596, 90746915000): (TLS_FIELDS, (), MID_STREAM),
        ("10.0.2.15", 50319, "185.187.74.173", 53489, 90747070000): (TLS_FIELDS, (), MID_STREAM),
    },
    "zeek/erspan.pcap": {
        # the server->client records (each direction its own tunnel id)
        ("192.168.69.10", 49164, "192.168.69.2", 80, 1442310055848948000):
            (("http_status",), (), "the mirror cut every packet to 108 bytes: the response "
             "header is incomplete (tshark reads the status line alone)"),
        ("192.168.69.10", 49165, "192.168.69.2", 80, 1442310055848993000):
            (("http_status",), (), "the mirror cut every packet to 108 bytes: the response "
             "header is incomplete (tshark reads the status line alone)"),
    },
    "zeek/gtp1_gn_normal_incl_fragmentation.pcap": {
        ("10.131.47.185", 1923, "79.101.110.141", 80, 1333458850364667000):
            (("http_host", "http_method", "http_url", "http_user_agent"), (),
             "the request travels in IP fragments: jcap does not reassemble datagrams"),
    },
    "zeek/ipv6-fragmented-dns.pcap": {
        ("2001:470:1f11:81f:d138:5f55:6d4:1fe2", 51851, "2607:f740:b::f93", 53,
         1331084293592245000):
            (("dns_answers", "dns_rcode"), (),
             "the response travels in IPv6 fragments: jcap does not reassemble datagrams"),
    },
}


def need_corpus():
    if not os.path.isdir(CORPUS):
        pytest.skip("no corpus at %s (a clone without ../shared)" % CORPUS)
    jt.require_jcap()


def compare(name):
    path = os.path.join(CORPUS, name)
    recs, st = jt.meter(path)
    want, _ = tsharkl7.expected(tsharkl7.packets(path, DECODE_AS.get(name, ())), recs)
    diffs = {}
    for i, r in enumerate(recs):
        got = {k: r[k] for k in APP_FIELDS if k in r}
        exp = want.get(i, {})
        if r.get("ja4", "").startswith("q"):
            got.pop("ja3", None)  # JA3 is a TLS-over-TCP fingerprint
        if got != exp:
            diffs[(r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"], r["first_ns"])] = \
                (got, exp)
    return recs, want, diffs


@pytest.mark.parametrize("name", sorted(FILES))
def test_corpus_l7(name):
    need_corpus()
    recs, want, diffs = compare(name)
    stated = EXPECTED_DIFF.get(name, {})
    unexplained = {k: v for k, v in diffs.items() if k not in stated}
    assert unexplained == {}, "%s: %d of %d records differ from tshark:\n%s" % (
        name, len(unexplained), len(want), "\n".join(
            "  %s\n    jcap   %s\n    tshark %s" % (k, g, e)
            for k, (g, e) in sorted(unexplained.items(), key=str)[:20]))
    for k, (lacks, extra, why) in stated.items():
        assert k in diffs, ("stated difference gone", k, why)
        got, exp = diffs[k]
        assert (sorted(set(exp) - set(got)), sorted(set(got) - set(exp))) == \
            (sorted(lacks), sorted(extra)), (k, why, got, exp)
        assert [f for f in set(got) & set(exp) if got[f] != exp[f]] == [], (k, got, exp)
    assert len([w for w in want.values() if w]) == FILES[name]
    agree = len([i for i, w in want.items() if w]) - len(stated)
    print("%s: %d records with application fields, %d equal to tshark's, %d stated" % (
        name, FILES[name], agree, len(stated)))
