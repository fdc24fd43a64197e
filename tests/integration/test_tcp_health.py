# SPDX-License-Identifier: BSD-3-Clause
"""TCP health end to end (issue 12): pcapgen's hand-built conversations (SYN
only, rejected, SYN then FIN or RST, full close, reset by either side, half
close by either side, midstream, retransmissions across the sequence wrap,
out-of-order segments, zero windows; IPv4 and IPv6) metered by jcap, each
record's conn_state, history, retransmitted packets and bytes, out-of-order
packets, zero windows, handshake RTT and payload bytes exactly as the
generator states them, and conservation. Also: --inspect without tcp turns
the fields off, uniflow records describe one side, and tshark's
tcp.analysis.retransmission count equals ours on the same capture."""
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import jcaptest as jt  # noqa: E402
import pcapgen as g  # noqa: E402

C, S = "198.18.0.1", "198.19.0.1"
C6, S6 = "2001:2:0:1::1", "2001:2:0:2::1"

HEALTH = ("conn_state", "history", "retrans_packets", "retrans_bytes", "rev_retrans_packets",
          "rev_retrans_bytes", "ooo_packets", "rev_ooo_packets", "zero_win", "rev_zero_win",
          "rtt_us", "rtt_syn_us", "payload_bytes", "rev_payload_bytes")
# present on every TCP record metered with TCP health on
ALWAYS = ("conn_state", "history", "retrans_packets", "retrans_bytes", "rev_retrans_packets",
          "rev_retrans_bytes", "ooo_packets", "rev_ooo_packets", "zero_win", "rev_zero_win")


@pytest.fixture(autouse=True)
def _jcap():
    jt.require_jcap()


def scenario():
    """Every TCP-health conversation once (client port tells them apart),
    a UDP exchange beside them, and two conversations over IPv6."""
    sc = g.Scenario()
    t = 0.0
    for port, make in (
            (40001, lambda t, p: sc.tcp_syn_only(t, C, S, p, 80)),
            (40002, lambda t, p: sc.tcp_rejected(t, C, S, p, 80)),
            (40003, lambda t, p: sc.tcp_syn_abort(t, C, S, p, 80, flag=g.FIN)),
            (40004, lambda t, p: sc.tcp_syn_abort(t, C, S, p, 80, flag=g.RST)),
            (40005, lambda t, p: sc.tcp_full(t, C, S, p, 80, data=3)),
            (40006, lambda t, p: sc.tcp_reset(t, C, S, p, 80, by=0)),
            (40007, lambda t, p: sc.tcp_reset(t, C, S, p, 80, by=1)),
            (40008, lambda t, p: sc.tcp_half_close(t, C, S, p, 80, by=0)),
            (40009, lambda t, p: sc.tcp_half_close(t, C, S, p, 80, by=1)),
            (40010, lambda t, p: sc.tcp_midstream(t, C, S, p, 80)),
            (40011, lambda t, p: sc.tcp_retransmit(t, C, S, p, 80)),
            (40012, lambda t, p: sc.tcp_out_of_order(t, C, S, p, 80)),
            (40013, lambda t, p: sc.tcp_zero_window(t, C, S, p, 80)),
            (40014, lambda t, p: sc.tcp_full(t, C6, S6, p, 443, data=1, gap=0.0025)),
            (40015, lambda t, p: sc.tcp_retransmit(t, C6, S6, p, 443, isn=(7, 0xFFFFFFF0))),
    ):
        t = make(t, port) + 0.01
    sc.udp_exchange(t, C, S, 40100, 53, count=2)
    return sc


def health_of(r):
    return {k: r[k] for k in HEALTH if k in r}


def by_port(recs):
    return {r["src_port"]: r for r in recs}


@pytest.mark.parametrize("workers", [1, 2])
def test_conversations(tmp_path, workers):
    """Every record equal to the truth, its TCP health fields included; the
    fields present exactly where they are known. Two workers: the
    dispatcher hands the shards the same sequence fields."""
    sc = scenario()
    f = tmp_path / "health.pcap"
    sc.write(f)
    exp = sc.expected()
    recs, stats = jt.meter(f, "--workers", workers)
    jt.assert_same_flows(recs, exp.records, "tcp health")
    jt.assert_stats(stats, exp)
    got = by_port(recs)
    for e in exp.records:
        r = got[e["src_port"]]
        if e["proto"] == 17:
            assert not set(ALWAYS + ("rtt_us", "rtt_syn_us")) & set(r), r
            continue
        want = {k: e[k] for k in HEALTH if k in e}
        assert health_of(r) == want, (e["src_port"], health_of(r), want)
    assert len([e for e in exp.records if e["proto"] == 6]) == 15


def test_health_off(tmp_path):
    """--inspect without tcp: no TCP health field on any record, the same
    packets and bytes."""
    sc = scenario()
    f = tmp_path / "off.pcap"
    sc.write(f)
    exp = sc.expected()
    for opt in ("none", "dpi,tls,quic,dns,http"):
        recs, stats = jt.meter(f, "--inspect", opt)
        jt.assert_same_flows(recs, exp.records, "--inspect " + opt)
        jt.assert_stats(stats, exp)
        for r in recs:
            assert not set(ALWAYS + ("rtt_us", "rtt_syn_us")) & set(r), (opt, r)


def test_uniflow(tmp_path):
    """--uniflow: a record per direction, its state from one side's packets
    (the other side is never seen in it), no RTT."""
    sc = g.Scenario()
    sc.tcp_full(0.0, C, S, 40005, 80, data=2)
    sc.tcp_rejected(1.0, C, S, 40002, 80)
    f = tmp_path / "uni.pcap"
    sc.write(f)
    recs, stats = jt.meter(f, "--uniflow")
    got = {(r["src_port"], r["dst_port"]): r for r in recs}
    want = {
        (40005, 80): ("SH", "SADF", 200),  # SYN, ACK, data, FIN
        (80, 40005): ("SH", "HDF", 400),   # SYN-ACK, data, FIN
        (40002, 80): ("S0", "S", 0),
        (80, 40002): ("OTH", "R", 0),      # an RST alone
    }
    assert sorted(got) == sorted(want)
    for k, (state, hist, pl) in want.items():
        r = got[k]
        assert (r["conn_state"], r["history"], r["payload_bytes"]) == (state, hist, pl), r
        assert "rtt_us" not in r and "rev_payload_bytes" in r and r["rev_payload_bytes"] == 0


def tshark_count(pcap, field):
    p = subprocess.run(["tshark", "-n", "-r", str(pcap), "-Y", field, "-T", "fields", "-e",
                        "tcp.srcport", "-e", "tcp.dstport"], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    out = {}
    for line in p.stdout.splitlines():
        if line.strip():
            k = tuple(int(x) for x in line.split("\t"))
            out[k] = out.get(k, 0) + 1
    return out


def test_against_tshark(tmp_path):
    """tshark's tcp.analysis.retransmission per direction equals our
    retrans_packets on the retransmission conversations (whole segments,
    an overlapping one, a keep-alive that is none, the sequence wrap, IPv4
    and IPv6): the definitions agree for segments resent after an RTO. They
    differ where tshark times segments (a repeat within the RTT is "out of
    order" to it) and for repeated SYNs and FINs without payload, which
    tshark counts and we do not: the capture has neither."""
    assert shutil.which("tshark"), "tshark not installed (scripts/install-deps.sh installs it)"
    sc = g.Scenario()
    sc.tcp_retransmit(0.0, C, S, 40011, 80)
    sc.tcp_retransmit(1.0, C6, S6, 40015, 443, isn=(7, 0xFFFFFFF0))
    sc.tcp_full(2.0, C, S, 40005, 80)
    f = tmp_path / "retrans.pcap"
    sc.write(f)
    recs, _ = jt.meter(f)
    ours = {}
    for r in recs:
        if r["retrans_packets"]:
            ours[(r["src_port"], r["dst_port"])] = r["retrans_packets"]
        if r["rev_retrans_packets"]:
            ours[(r["dst_port"], r["src_port"])] = r["rev_retrans_packets"]
    assert ours == {(40011, 80): 2, (80, 40011): 1, (40015, 443): 2, (443, 40015): 1}
    assert tshark_count(f, "tcp.analysis.retransmission") == ours
