# SPDX-License-Identifier: BSD-3-Clause
"""packet_capture_py's export options as jcap has them (issue 13):
PacketCaptureEngine(sample=N, sample_random=) and add_export(fields=,
ipfix_pen=, export_rate=, export_rate_bits=, sample_scale=). Checked exactly:
sampled packet counts, IPFIX template elements present or absent, scaled
counters, the exporter's pacing report. And a UDP export whose datagram the
kernel refuses (EMSGSIZE: an --mtu above the 65,507 bytes an IPv4 UDP datagram
can carry) is counted and explained, and the records of the other datagrams
still arrive. Only loopback is used."""
import logging
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sanitize import prepare  # noqa: E402

prepare("integration")
import packet_capture_py as pc  # noqa: E402
import pcapgen as g  # noqa: E402
import ipfixfile  # noqa: E402
from test_export import UdpSink, be, parse_sets  # noqa: E402

REV = 29305
UDP4_MAX = 65507  # 65,535 less the IPv4 and UDP headers


def mixed(tmp_path, flows=40):
    sc = g.scenario_mixed(seed=17, flows=flows, duration=2.0)
    path = str(tmp_path / "m.pcap")
    sc.write(path)
    return path, len(sc.packets())


def meter(path, target, log_level=None, **kw):
    """One run: (metrics, flow records) with the export @target (a small table,
    no inspection: quicker to start under a sanitizer)."""
    eng_kw = {k: kw.pop(k) for k in ("sample", "sample_random") if k in kw}
    with pc.PacketCaptureEngine(pcap_file=path, log_level=log_level, **eng_kw) as eng:
        eng.enable_flow_metering(table_size=4096, inspect="none")
        eng.add_export(target, **kw)
        eng.start()
        assert eng.wait(timeout=120) == "done"
        flows = eng.get_flows(limit=0, include_finished=True)
        m = eng.get_metrics()
    return m, flows


def test_sample_fields_and_scale(tmp_path):
    path, total = mixed(tmp_path)
    out = str(tmp_path / "a.ipfix")
    m, _ = meter(path, "ipfix-file:" + out)
    elems, flows, _ = ipfixfile.read(out)
    assert (0, 56) not in elems and (0, 80) not in elems and m.skipped["sampled_out"] == 0
    m, recs = meter(path, "ipfix-file:" + out, sample=4, fields=["+mac"], sample_scale=True)
    assert m.skipped["sampled_out"] == total - (total + 3) // 4
    assert m.packets_in_flows + m.packets_skipped == m.packets_read == total
    elems, flows, opts = ipfixfile.read(out)
    assert {(0, 56), (0, 80)} <= elems
    assert sum(r.packets + r.rev_packets for r in recs) == m.packets_in_flows
    assert sum(f[(0, 2)] + f.get((REV, 2), 0) for f in flows) == 4 * m.packets_in_flows
    assert [(o[(0, 34)], o[(0, 35)]) for o in opts if (0, 305) in o] == [(4, 1)]
    m, _ = meter(path, "ipfix-file:" + out, sample=3, sample_random=True)
    assert 0 < m.skipped["sampled_out"] < total
    assert m.packets_in_flows + m.packets_skipped == total


def test_bad_options(tmp_path):
    path, _ = mixed(tmp_path, flows=5)
    with pytest.raises(ValueError, match="sample_random needs sample of 2 or more"):
        pc.PacketCaptureEngine(pcap_file=path, sample_random=True)
    with pc.PacketCaptureEngine(pcap_file=path) as eng:
        with pytest.raises(ValueError, match="fields must be names of mac"):
            eng.add_export("ipfix-file:" + str(tmp_path / "x"), fields="+colour")
        with pytest.raises(ValueError, match="export_rate must be records/s"):
            eng.add_export("ipfix://127.0.0.1:9", export_rate=-5)
        with pytest.raises(pc.PacketCaptureError) as ei:
            eng.add_export("ipfix://127.0.0.1:9", fields="+app")
        assert str(ei.value).endswith(
            "the fields tunnel, community_id, app, tcp and geo use jcap's own IPFIX "
            "elements: give an enterprise number (--ipfix-pen N)"), str(ei.value)
        eng.add_export("ipfix://127.0.0.1:9", fields="+app", ipfix_pen=32473)


def test_netflow_export_takes_fields(tmp_path):
    """enable_netflow_export takes add_export's record settings: +mac puts
    the MAC elements in an IPFIX file's template; jcap's own elements need
    an enterprise number, as with add_export."""
    path, total = mixed(tmp_path)
    out = str(tmp_path / "n.ipfix")
    with pc.PacketCaptureEngine(pcap_file=path) as eng:
        eng.enable_flow_metering(table_size=4096, inspect="none")
        with pytest.raises(pc.PacketCaptureError) as ei:
            eng.enable_netflow_export(collector="127.0.0.1", port=9, fields="+app")
        assert str(ei.value).endswith(
            "the fields tunnel, community_id, app, tcp and geo use jcap's own IPFIX "
            "elements: give an enterprise number (--ipfix-pen N)"), str(ei.value)
        with pytest.raises(ValueError, match="fields must be names of mac"):
            eng.enable_netflow_export(transport="file", path=out, fields="+colour")
        eng.enable_netflow_export(transport="file", path=out, fields=["+mac"])
        eng.start()
        assert eng.wait(timeout=120) == "done"
        m = eng.get_metrics()
    assert m.packets_in_flows + m.packets_skipped == m.packets_read == total
    elems, flows, _ = ipfixfile.read(out)
    assert {(0, 56), (0, 80)} <= elems
    assert sum(f[(0, 2)] + f.get((REV, 2), 0) for f in flows) == m.packets_in_flows


@pytest.mark.parametrize("rate", [300, "unpaced"])
def test_export_rate(tmp_path, caplog, rate):
    """300 records/s makes the exporter wait for 40 flows' records and say
    so when it closes; unpaced never waits. Every record arrives."""
    path, _ = mixed(tmp_path)
    sink = UdpSink()
    try:
        with caplog.at_level(logging.INFO, logger="packet_capture"):
            m, recs = meter(path, "ipfix://127.0.0.1:%d" % sink.port, log_level="info",
                            export_rate=rate)
    finally:
        dgrams = sink.stop()
    paced = [r.getMessage() for r in caplog.records if "paced to" in r.getMessage()]
    if rate == "unpaced":
        assert paced == []
    else:
        assert len(paced) == 1 and "paced to 300 records/s, 0 bits/s: waited " in paced[0]
    templates, n = {}, 0
    for d in dgrams:
        _, _, data = parse_sets(d, 16, be(d, 2, 2), 10, templates)
        n += sum(len(v) for k, v in data.items() if k in (256, 257))
    assert n == len(recs) == m.flows_exported and m.export_errors == 0


def record_lens(tmp_path, selections):
    """Length of an IPv4 biflow data record (template 256) with each field
    selection: one run with an IPFIX file export per selection."""
    sc = g.Scenario()
    sc.udp_exchange(0.0, "198.18.0.1", "198.19.0.1", 1000, 2000, count=2)
    path = str(tmp_path / "one.pcap")
    sc.write(path)
    outs = [str(tmp_path / ("one-%d.ipfix" % i)) for i in range(len(selections))]
    with pc.PacketCaptureEngine(pcap_file=path) as eng:
        eng.enable_flow_metering(table_size=4096, inspect="none")
        for out, fields in zip(outs, selections):
            eng.add_export("ipfix-file:" + out, fields=fields or None)
        eng.start()
        assert eng.wait(timeout=120) == "done"
    lens = []
    for out in outs:
        templates = {}
        for msg in ipfixfile.messages(out):
            parse_sets(msg, 16, len(msg), 10, templates)
        lens.append(sum(f[2] for f in templates[256]))
    return lens


def test_emsgsize_counted_and_explained(tmp_path, caplog):
    """An IPFIX message the size of --mtu: IPv4 data messages hold
    n = (mtu - 20) // R records of R bytes. With 20 + n * R above 65,507
    bytes the first (full) message is refused by the kernel; the 7 records of
    the last one arrive, its sequence number counting the n lost."""
    selections = ("", "+tos", "+ttl", "+ttl,+tos", "+vlan", "+vlan,+tos", "+vlan,+ttl",
                  "+vlan,+ttl,+tos", "+mac", "+mac,+tos", "+mac,+ttl", "+mac,+vlan")
    choice = None
    for fields, r in zip(selections, record_lens(tmp_path, selections)):
        n = (65535 - 20) // r
        if 20 + n * r > UDP4_MAX:
            choice = (fields, r, n)
            break
    assert choice, "no field selection gives a full message above 65,507 bytes"
    fields, r, n = choice
    size = 20 + n * r
    sc = g.Scenario()
    for i in range(n + 7):
        sc.udp_exchange(i * 1e-4, "198.18.%d.%d" % (i >> 8, i & 255), "198.19.0.1",
                        1024 + i, 53, count=2)
    path = str(tmp_path / "many.pcap")
    sc.write(path)
    sink = UdpSink()
    try:
        with caplog.at_level(logging.INFO, logger="packet_capture"):
            m, recs = meter(path, "ipfix://127.0.0.1:%d" % sink.port, log_level="info",
                            fields=fields or None, mtu=size, export_rate="unpaced")
    finally:
        dgrams = sink.stop()
    assert len(recs) == m.flows_exported == n + 7
    assert m.export_errors == 1
    logs = [x.getMessage() for x in caplog.records]
    where = "127.0.0.1:%d" % sink.port
    assert any(x.endswith("send to %s: Message too long; a %d-byte datagram is larger than "
                          "the path to the collector takes: lower --mtu" % (where, size))
               for x in logs), logs
    assert any(x.endswith("1 datagrams not sent to %s: 0 send queue full (ENOBUFS), 1 too "
                          "large (EMSGSIZE), 0 refused (ECONNREFUSED), 0 other" % where)
               for x in logs), logs
    # what arrived: every datagram within the limit, the last n + 7 - n records,
    # numbered after the n that were lost
    assert all(len(d) <= UDP4_MAX for d in dgrams)
    # (the sequence number counts every data record before, options records too)
    templates, got, before = {}, [], 0
    for d in dgrams:
        _, _, data = parse_sets(d, 16, be(d, 2, 2), 10, templates)
        if 256 in data:
            got.append((be(d, 8, 4) - before, len(data[256])))
        before += sum(len(v) for v in data.values())
    assert got == [(n, 7)]
