# SPDX-License-Identifier: BSD-3-Clause
"""jcapd's export options (issue 13), as jcap has them: a start request's
"sample"/"sample_random" (the session), "fields"/"ipfix_pen", "export_rate"
and "sample_scale" (the config file's export targets), and the config key
export_opt (kafka.P=V / clickhouse.K=V lines handed to the targets, values
never in the log). Effects are checked exactly: sampled packet counts,
IPFIX template elements present or absent, the options record, scaled
counters, the exporter's pacing report, librdkafka's own error message, the
Kafka mock cluster's delivery counters. Every process started here is
stopped by PID; only loopback is used."""
import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
import pcapgen  # noqa: E402
from apihttp import request, wait_end  # noqa: E402
from conftest import build_dir, start_jcapd  # noqa: E402
import ipfixfile  # noqa: E402
from test_export import UdpSink, be, parse_sets  # noqa: E402

P = "/packet_capture/capture"
REV = 29305  # RFC 5103 reverse elements


def scenario(path, flows=40):
    sc = pcapgen.scenario_mixed(seed=13, flows=flows, duration=2.0)
    sc.write(path)
    return len(sc.packets())


def start(d, body, want=200):
    r = request(d.base, "POST", P + "/start", token=d.token, body=body)
    assert r.status == want, (r.status, r.json)
    if want != 200:
        return r.json
    assert wait_end(d)["state"] == "done"
    return request(d.base, "GET", P + "/metrics", token=d.token).json["total"]


def conserved(m, total):
    assert m["packets"] == total
    assert m["packets_in_flows"] + sum(m["skipped"].values()) == total


def test_sample_fields_and_scale_reach_the_config_exports(own_tmp):
    d = start_jcapd(own_tmp, config_lines=(
        "export = ipfix-file:" + os.path.join(own_tmp, "data", "out.ipfix"),))
    try:
        pcap = os.path.join(d.data_dir, "s.pcap")
        out = os.path.join(d.data_dir, "out.ipfix")
        total = scenario(pcap)
        assert request(d.base, "POST", P + "/flow/meter/enable", token=d.token,
                       body={"table_size": 65536}).status == 200
        # the default record: no MAC addresses, no sampling
        m = start(d, {"pcap_file": pcap})
        conserved(m, total)
        assert m["skipped"]["sampled_out"] == 0
        elems, flows, opts = ipfixfile.read(out)
        assert (0, 56) not in elems and (0, 80) not in elems
        assert sum(f[(0, 2)] + f.get((REV, 2), 0) for f in flows) == m["packets_in_flows"]
        # 1 in 4, every 4th from the first; +mac; counts scaled by 4
        m = start(d, {"pcap_file": pcap, "sample": 4, "fields": "+mac",
                      "sample_scale": True})
        conserved(m, total)
        assert m["skipped"]["sampled_out"] == total - (total + 3) // 4
        elems, flows, opts = ipfixfile.read(out)
        assert {(0, 56), (0, 80)} <= elems
        assert sum(f[(0, 2)] + f.get((REV, 2), 0) for f in flows) == 4 * m["packets_in_flows"]
        samp = [o for o in opts if (0, 305) in o]
        assert len(samp) == 1
        assert (samp[0][(0, 34)], samp[0][(0, 35)], samp[0][(0, 305)],
                samp[0][(0, 306)]) == (4, 1, 1, 3)
        # random sampling: some of each, every packet in a flow or a counter
        m = start(d, {"pcap_file": pcap, "sample": 3, "sample_random": True})
        conserved(m, total)
        assert 0 < m["skipped"]["sampled_out"] < total
        elems, flows, opts = ipfixfile.read(out)
        samp = [o for o in opts if (0, 311) in o]
        assert [(o[(0, 34)], o[(0, 35)], o[(0, 304)]) for o in samp] == [(3, 2, 4)]
        # refusals, each naming its field
        for body, field, msg in (
                ({"fields": "+colour"}, "fields",
                 "'fields' must be names from mac, vlan, mpls, tunnel, ttl, tos, interface, "
                 "community_id, app, tcp, payload, geo, all, none, each with an optional + or -, "
                 "separated by commas"),
                ({"sample_random": True}, "sample_random",
                 "'sample_random' needs 'sample' of 2 or more"),
                ({"sample": 0}, "sample", "'sample' must be in 1..4294967295"),
                ({"export_rate": "fast"}, "export_rate",
                 "'export_rate' must be records/s (an integer) or \"unpaced\"")):
            j = start(d, dict(body, pcap_file=pcap), want=400)
            assert (j["field"], j["error"]) == (field, msg), j
        # a field of jcap's own elements needs an enterprise number: the library says so
        r = request(d.base, "POST", P + "/start", token=d.token,
                    body={"pcap_file": pcap, "fields": "+app"})
        assert r.status == 400, (r.status, r.json)
        assert r.json["error"].endswith(
            "the fields tunnel, community_id, app, tcp and geo use jcap's own IPFIX "
            "elements: give an enterprise number (--ipfix-pen N)"), r.json
        start(d, {"pcap_file": pcap, "fields": "+app", "ipfix_pen": 32473})
        elems = ipfixfile.template_elements(out)
        assert (0, 95) in elems and any(pen == 32473 for pen, _ in elems)
    finally:
        assert d.stop() == 0, d.log_text()[-3000:]


def netflow(d, body, want=200):
    r = request(d.base, "POST", P + "/netflow/export/enable", token=d.token, body=body)
    assert r.status == want, (r.status, r.json)
    return r.json


def test_netflow_enable_takes_fields_and_pacing(own_tmp):
    """/netflow/export/enable takes the same record and pacing settings as
    the config file's targets: an IPFIX file with +mac carries the MAC
    elements, an IPFIX/UDP exporter paced to 500 records/s says so when it
    closes and delivers every record; settings that cannot apply are refused
    naming their field."""
    sink = UdpSink()
    d = start_jcapd(own_tmp)
    try:
        pcap = os.path.join(d.data_dir, "s.pcap")
        out = os.path.join(d.data_dir, "nf.ipfix")
        total = scenario(pcap)
        for body, field, msg in (
                ({"version": 5, "collector": "127.0.0.1", "port": sink.port, "fields": "+mac"},
                 "fields", "'fields' applies to NetFlow v9 and IPFIX (v5 records are fixed)"),
                ({"version": 10, "transport": "file", "path": out, "export_rate": 100},
                 "export_rate", "'export_rate' paces UDP exports only"),
                ({"version": 10, "transport": "file", "path": out, "fields": "+colour"},
                 "fields", "'fields' must be names from mac, vlan, mpls, tunnel, ttl, tos, "
                 "interface, community_id, app, tcp, payload, geo, all, none, each with an "
                 "optional + or -, separated by commas"),
                ({"version": 10, "collector": "127.0.0.1", "port": sink.port,
                  "export_rate": "fast"}, "export_rate",
                 "'export_rate' must be records/s (an integer) or \"unpaced\"")):
            j = netflow(d, body, want=400)
            assert (j["field"], j["error"]) == (field, msg), j
        # jcap's own elements without an enterprise number
        j = netflow(d, {"version": 10, "transport": "file", "path": out, "fields": "+app"},
                    want=400)
        assert (j["field"], j["error"]) == (
            "ipfix_pen", "the fields tunnel, community_id, app, tcp and geo use jcap's own "
            "IPFIX elements: give an enterprise number ('ipfix_pen')"), j
        netflow(d, {"version": 10, "transport": "file", "path": out, "fields": "+mac"})
        netflow(d, {"version": 10, "collector": "127.0.0.1", "port": sink.port,
                    "export_rate": 500})
        m = start(d, {"pcap_file": pcap})
        conserved(m, total)
        flows = m["flows"]["exported"]
        elems, recs, _ = ipfixfile.read(out)
        assert {(0, 56), (0, 80)} <= elems
        assert sum(f[(0, 2)] + f.get((REV, 2), 0) for f in recs) == m["packets_in_flows"]
    finally:
        assert d.stop() == 0, d.log_text()[-3000:]
        dgrams = sink.stop()
    lines = paced_lines(d)
    assert len(lines) == 1 and "paced to 500 records/s, 0 bits/s: waited " in lines[0], lines
    templates, n = {}, 0
    for dg in dgrams:
        _, _, data = parse_sets(dg, 16, be(dg, 2, 2), 10, templates)
        n += sum(len(v) for k, v in data.items() if k in (256, 257))
    assert n == flows


def test_export_settings_need_config_exports(own_tmp):
    d = start_jcapd(own_tmp)
    try:
        pcap = os.path.join(d.data_dir, "s.pcap")
        total = scenario(pcap, flows=10)
        for k, v in (("fields", "+mac"), ("export_rate", 100),
                     ("ipfix_pen", 1), ("sample_scale", True)):
            j = start(d, {"pcap_file": pcap, k: v}, want=400)
            assert (j["field"], j["error"]) == (
                k, "'%s' applies to the export targets of the config file (export = ...); "
                "none is configured" % k), j
        m = start(d, {"pcap_file": pcap, "sample": 2})
        assert m["skipped"]["sampled_out"] == total // 2
        assert m["packets_in_flows"] + sum(m["skipped"].values()) == total
    finally:
        assert d.stop() == 0, d.log_text()[-3000:]


def paced_lines(d):
    return [ln for ln in d.log_text().splitlines() if "paced to" in ln]


@pytest.mark.parametrize("rate,want", [(500, "paced to 500 records/s, 0 bits/s: waited "),
                                       ("unpaced", None)])
def test_export_rate_paces_the_udp_export(own_tmp, rate, want):
    """The exporter reports its pacing when it closes (the daemon's stop):
    500 records/s makes it wait for 40 flows' records; unpaced never does."""
    sink = UdpSink()
    d = start_jcapd(own_tmp, config_lines=("export = ipfix://127.0.0.1:%d" % sink.port,))
    try:
        pcap = os.path.join(d.data_dir, "s.pcap")
        scenario(pcap)
        m = start(d, {"pcap_file": pcap, "export_rate": rate})
        flows = m["flows"]["exported"]
    finally:
        assert d.stop() == 0, d.log_text()[-3000:]
        dgrams = sink.stop()
    lines = paced_lines(d)
    if want:
        assert len(lines) == 1 and want in lines[0], lines
    else:
        assert lines == []
    # every record arrived: pacing waits, it never drops
    assert m["export"]["errors"] == 0
    templates, n = {}, 0
    for dg in dgrams:
        _, _, data = parse_sets(dg, 16, be(dg, 2, 2), 10, templates)
        n += sum(len(v) for k, v in data.items() if k in (256, 257))
    assert n == flows


def run_jcapd_fails(tmp, line):
    """jcapd with one config line that it refuses: (exit status, its output)."""
    conf = os.path.join(tmp, "bad.conf")
    with open(conf, "w") as f:
        f.write(line + "\n")
    p = subprocess.run([os.path.join(build_dir(), "jcapd"), "--listen", "127.0.0.1:0",
                        "--config", conf], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


@pytest.mark.parametrize("line,msg", [
    ("export_opt = sasl.password=hunter2",
     "export_opt: expected kafka.PROPERTY=VALUE or clickhouse.NAME=VALUE, "
     "got 'sasl.password=...'"),
    ("export_opt = kafka.=hunter2",
     "export_opt: expected kafka.PROPERTY=VALUE or clickhouse.NAME=VALUE, got 'kafka.=...'"),
    ("export_opt = kafka.sasl.password",
     "export_opt: expected kafka.PROPERTY=VALUE or clickhouse.NAME=VALUE, got '=...'"),
])
def test_bad_export_opt_lines_stop_the_daemon(own_tmp, line, msg):
    if not os.access(os.path.join(build_dir(), "jcapd"), os.X_OK):
        pytest.skip("jcapd not built")
    rc, out = run_jcapd_fails(own_tmp, line)
    assert rc != 0 and msg in out, out
    assert "hunter2" not in out


def test_export_opt_reaches_librdkafka(own_tmp):
    """A property librdkafka does not know: the session does not start, and
    the reason is librdkafka's own message."""
    d = start_jcapd(own_tmp, config_lines=("export = kafka://127.0.0.1:9/flows",
                                           "export_opt = kafka.no.such.thing=1"))
    try:
        pcap = os.path.join(d.data_dir, "s.pcap")
        scenario(pcap, flows=5)
        r = request(d.base, "POST", P + "/start", token=d.token, body={"pcap_file": pcap})
        assert r.status == 400, (r.status, r.json)
        assert r.json["error"].endswith(
            'kafka setting kafka.no.such.thing: No such configuration property: '
            '"no.such.thing"'), r.json
    finally:
        assert d.stop() == 0, d.log_text()[-3000:]


def test_export_opt_secrets_stay_out_of_the_log(own_tmp):
    """Properties reach a producer that delivers every record to the mock
    cluster; the password given with them is nowhere in the daemon's log (at
    debug level) nor in its answers."""
    if "thread" in os.environ.get("PC_SANITIZED", ""):
        # librdkafka's own threads SEGV in TSan's allocator at their first
        # calloc (the runtime never saw them start): see python.binding
        pytest.skip("librdkafka 2.0.2 cannot run under ThreadSanitizer")
    exe = os.path.join(build_dir(), "tests", "kafka_mock")
    if not os.access(exe, os.X_OK):
        pytest.skip("kafka_mock not built at %s" % exe)
    mock = subprocess.Popen([exe, "1", "flows", "2"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        boot = mock.stdout.readline().strip()
        assert boot.startswith("127.0.0.1:"), boot
        d = start_jcapd(own_tmp, config_lines=(
            "export = kafka://%s/flows" % boot, "export_opt = kafka.compression.type=zstd",
            "export_opt = kafka.sasl.username=probe",
            "export_opt = kafka.sasl.password=hunter2-s3cret"))
        try:
            pcap = os.path.join(d.data_dir, "s.pcap")
            scenario(pcap, flows=20)
            m = start(d, {"pcap_file": pcap})
            deadline = time.time() + 30
            while m["export"]["in_flight"] and time.time() < deadline:
                time.sleep(0.1)
                m = request(d.base, "GET", P + "/metrics", token=d.token).json["total"]
            n = m["flows"]["exported"]
            assert n > 0 and m["export"]["records"] == n
            assert (m["export"]["delivered"], m["export"]["failed"],
                    m["export"]["buffer_drops"]) == (n, 0, 0), m["export"]
            st = request(d.base, "GET", P + "/status", token=d.token)
            assert "hunter2" not in st.raw.decode(errors="replace")
        finally:
            assert d.stop() == 0, d.log_text()[-3000:]
        log = d.log_text()
        assert "kafka://%s/flows" % boot in log  # the target is named...
        assert "hunter2" not in log  # ...its secrets are not
    finally:
        try:
            mock.stdin.write("quit\n")
            mock.stdin.close()
            mock.wait(timeout=10)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            mock.kill()
            mock.wait()
