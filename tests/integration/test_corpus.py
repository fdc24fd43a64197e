# SPDX-License-Identifier: BSD-3-Clause
"""jcap over every real capture of ../shared/corpus against tshark's counts
in REFERENCE.tsv (TShark 4.0.17, see the corpus README): every packet read
(packets and their wire bytes exactly), every IPv4 and IPv6 packet in a flow
of its version, conservation on every run; where jcap differs from tshark by
definition (tunnels tshark looks into, link types jcap does not decode,
packets jcap skips as malformed or as fragments without their first one),
the difference is stated per file below (tunnels: test_corpus_tunnels.py). The files that are not valid
captures get exit 1 and one stated line. Without the corpus (a clone without
../shared) every test here skips, saying so."""
import csv
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import jcaptest as jt  # noqa: E402

CORPUS = os.path.join(jt.shared_dir(), "corpus")
MANIFEST = os.path.join(CORPUS, "MANIFEST.tsv")
REFERENCE = os.path.join(CORPUS, "REFERENCE.tsv")

# Files that are not valid captures: the exact line jcap must print.
REFUSED = {
    # pcap major version 1 (libpcap's own test of a bad header); tshark
    # refuses it too (REFERENCE: all counts 0, tshark_status the error)
    "libpcap/pcap-invalid-version-1.pcap": "unsupported pcap version 1.4",
}

# Link types jcap does not decode: every packet is skipped as unsupported_link,
# none is metered, while tshark dissects the IP inside.
UNSUPPORTED_LINK = {
    "arkime/80211http.pcap": "IEEE 802.11 with radiotap (127)",
    "arkime/icmp-frame-relay.pcap": "Frame Relay (107)",
    "tcpdump/ipoib.pcap": "IP over InfiniBand (242)",
    "zeek/llc.pcap": "FDDI (10)",
}

# IPv6 tshark counts inside IPv4 packets that jcap meters as the outer IPv4
# flow. The constants are `tshark -n -r F -Y "ip && ipv6" | wc -l` (no file has
# IPv6 outside IPv4 beside them: "ipv6 && !ip" counts 0 in each).
INNER_IPV6 = {
    "akvorado/sflow_data-1140.pcap": 1,     # an IPv6 header inside an sFlow sample
    "ndpi/fuzz-2006-06-26-2594.pcap": 1,    # IPv6 in IPv4 (protocol 41), malformed
}

# IPv6 inside IPv4 tunnels jcap decapsulates (docs/TUNNELS.md): those packets
# are IPv6 flows, while tshark's "ip" counts them too (same tshark command;
# test_corpus_tunnels.py compares these files flow by flow).
TUNNELLED_IPV6 = {
    "ndpi/ipv6_in_gtp.pcap": 2,             # GTP-U
    "ndpi/teredo.pcap": 24,                 # Teredo (UDP 3544)
    "zeek/ayiya3.pcap": 32,                 # AYIYA (UDP 5072)
    "zeek/erspan.pcap": 6,                  # in Ethernet in GRE (0x6558)
}

# IP packets tshark counts that jcap skips by definition, by skip reason: the
# per-version counts then add up with these counters.
SKIPPED_IP = {
    # nDPI's bad packets: every IPv4 header is inconsistent (lengths)
    "ndpi/badpackets.pcap": (4, ("malformed",)),
    # a fuzzed trace: broken IPv4 headers, later fragments without their first
    "ndpi/fuzz-2006-06-26-2594.pcap": (4, ("malformed", "fragment_unmatched")),
    # a later fragment before the first fragment of its datagram
    "zeek/ipv6-fragmented-dns.pcap": (6, ("fragment_unmatched",)),
}


def table(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


ROWS = table(MANIFEST)
REF = {r["file"]: r for r in table(REFERENCE)}


def ids():
    return [r["file"] for r in ROWS] or ["no-corpus"]


def need_corpus():
    if not ROWS:
        pytest.skip("no corpus at %s (a clone without ../shared)" % CORPUS)
    jt.require_jcap()


def test_tables_agree():
    """MANIFEST and REFERENCE list the same files; the named exceptions exist."""
    need_corpus()
    assert sorted(REF) == sorted(r["file"] for r in ROWS)
    for name in (list(REFUSED) + list(UNSUPPORTED_LINK) + list(INNER_IPV6) +
                 list(TUNNELLED_IPV6) + list(SKIPPED_IP)):
        assert name in REF, name
    for r in ROWS:
        if r["file"] not in REFUSED:
            assert r["packets"] == REF[r["file"]]["packets"], r["file"]


@pytest.mark.parametrize("row", ROWS or [None], ids=ids())
def test_corpus_file(row):
    need_corpus()
    name = row["file"]
    ref = REF[name]
    path = os.path.join(CORPUS, name)
    p = jt.run(["-r", path, "-F", "json", "--stats", "--no-progress"], timeout=120)
    assert p.returncode in (0, 1), (p.returncode, p.stderr[-2000:])
    if name in REFUSED:
        lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
        assert p.returncode == 1
        assert lines == ["jcap: %s: %s" % (path, REFUSED[name])]
        assert p.stdout == ""
        assert ref["tshark_status"] != "ok" and ref["packets"] == "0"
        return
    assert ref["tshark_status"] == "ok", ref
    assert p.returncode == 0, p.stderr[-2000:]
    recs = jt.parse_lines(p.stdout)
    st = jt.parse_stats(p.stderr)
    jt.check_conservation(st, recs)
    # every packet tshark reads, and its length on the wire
    assert (st["packets_read"], st["bytes_read"]) == (int(ref["packets"]), int(ref["bytes"]))
    for r in recs:
        assert r["packets"] + r["rev_packets"] > 0
        assert r["first_ns"] <= r["last_ns"]
        assert r["end_reason"] in jt.EXPIRED_FIELDS
    # packets per IP version: tshark's display filters "ip" and "ipv6"
    v4 = sum(r["packets"] + r["rev_packets"] for r in recs if r["ip_version"] == 4)
    v6 = sum(r["packets"] + r["rev_packets"] for r in recs if r["ip_version"] == 6)
    want4, want6 = int(ref["ipv4_packets"]), int(ref["ipv6_packets"])
    sk = st["skipped"]
    if name in UNSUPPORTED_LINK:
        assert (v4, v6, sk["unsupported_link"]) == (0, 0, int(ref["packets"])), \
            UNSUPPORTED_LINK[name]
        assert want4 + want6 > 0
        return
    assert sk["unsupported_link"] == 0, sk
    want6 -= INNER_IPV6.get(name, 0)
    want4 -= TUNNELLED_IPV6.get(name, 0)
    if name in SKIPPED_IP:
        ver, reasons = SKIPPED_IP[name]
        n = sum(sk[x] for x in reasons)
        assert n > 0, (name, sk)
        if ver == 4:
            want4 -= n
        else:
            want6 -= n
    assert (v4, v6) == (want4, want6), (name, "skipped", sk)


@pytest.mark.parametrize("workers", [2, 4])
def test_corpus_workers_agree(workers):
    """A few multi-flow files: the record set does not depend on --workers."""
    need_corpus()
    for name in ("ndpi/gnutella.pcap", "pcapplusplus/tls2.pcap", "ipfixprobe/mixed.pcap",
                 "pcapplusplus/ip4_fragments.pcap", "zeek/pcapng-multi-interface.pcapng"):
        path = os.path.join(CORPUS, name)
        assert os.path.exists(path), path
        one, s1 = jt.meter(path)
        many, sn = jt.meter(path, "--workers", str(workers))
        # a flow idle at the end of the file may be swept ("idle") by one
        # worker's clock and flushed ("shutdown") by another's: compare the
        # rest of every record exactly
        strip = [dict(r, end_reason="-") for r in one]
        jt.assert_same_flows([dict(r, end_reason="-") for r in many], strip, name)
        assert s1["skipped"] == sn["skipped"]
        assert sn["packets_read"] == int(REF[name]["packets"])
