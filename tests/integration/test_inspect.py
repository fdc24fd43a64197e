# SPDX-License-Identifier: BSD-3-Clause
"""integration.inspect: the inspection engine end to end. Generated TLS,
DNS and HTTP flows (tests/tools/appgen.py) metered with one worker and with
two (the dispatcher ships each packet's first bytes to its shard) give the
same records; --no-dpi gives no app; --inspect none gives no application or
TCP-health field at all and the same counts; nDPI names DNS and HTTP flows;
a bounded inspection pool leaves the flows it has no room for uninspected,
counted; conservation holds in every run (jcaptest.meter checks it)."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import appgen as ag  # noqa: E402
import jcaptest as jt  # noqa: E402

C, S = "198.18.2.%d", "198.19.2.%d"

# every field of issue 12 the inspection or TCP health may add
L7 = ("app", "app_category", "app_id", "app_master_id", "dpi_confidence", "tls_sni",
      "tls_alpn", "tls_version", "ja4", "ja3", "dns_qname", "dns_qtype", "dns_rcode",
      "dns_answers", "http_method", "http_host", "http_url", "http_user_agent", "http_status",
      "conn_state", "history", "rtt_us", "rtt_syn_us", "retrans_packets", "retrans_bytes",
      "rev_retrans_packets", "rev_retrans_bytes", "ooo_packets", "rev_ooo_packets", "zero_win",
      "rev_zero_win")
APP = ("app", "app_category", "app_id", "app_master_id", "dpi_confidence")


def scenario():
    sc = ag.AppScenario()
    for i in range(6):
        sc.tls_session(0.1 * i, C % (1 + i), S % 1, 41000 + i, 443, sni="s%d.example.com" % i,
                       alpn=["h2"], split=1 + i % 3, server_alpn="h2", seed=i)
    for i in range(6):
        sc.dns_query(1.0 + 0.1 * i, C % (10 + i), S % 2, 42000 + i, 53,
                     "n%d.example.org" % i, qtype=1, answers=1 + i)
    for i in range(6):
        sc.http_session(2.0 + 0.1 * i, C % (20 + i), S % 3, 43000 + i, 80, "GET",
                        "h%d.example.net" % i, "/p/%d" % i, "ua/%d" % i, 200)
    # plain UDP, nothing to parse
    sc.udp_exchange(3.0, C % 30, S % 4, 44000, 9999, count=4)
    return sc


def write(tmp_path, sc, name="app.pcap"):
    f = tmp_path / name
    sc.write(f)
    return f


def by_tuple(recs):
    return {jt.flow_key(r): r for r in recs}


def without_worker(recs):
    out = {}
    for k, r in by_tuple(recs).items():
        r = dict(r)
        r.pop("worker")
        out[k] = r
    return out


def dpi_available():
    p = jt.run(["version"])
    assert p.returncode == 0
    return any(line.startswith("library ndpi ") for line in p.stdout.splitlines())


def test_two_workers_equal_one(tmp_path):
    f = write(tmp_path, scenario())
    one, st1 = jt.meter(f, "--workers", "1")
    two, st2 = jt.meter(f, "--workers", "2")
    assert len(one) == 19
    assert without_worker(one) == without_worker(two)
    assert st1["inspect"]["flows"] == st2["inspect"]["flows"] == 19 if dpi_available() else 18
    assert st1["inspect"]["tcp_reassembly_gaps"] == st2["inspect"]["tcp_reassembly_gaps"] == 0
    # what the parsers found is there (the exact truth: integration.app_fields)
    sni = sorted(r["tls_sni"] for r in one if "tls_sni" in r)
    assert sni == ["s%d.example.com" % i for i in range(6)]


def test_dpi_names_and_no_dpi(tmp_path):
    f = write(tmp_path, scenario())
    if dpi_available():
        recs, st = jt.meter(f)
        apps = {r["dst_port"]: r.get("app") for r in recs}
        assert apps[53] == "DNS"
        assert apps[80] == "HTTP"
        assert apps[443].startswith("TLS"), apps[443]
        assert st["inspect"]["dpi_flows"] == 19
        # every generated TLS/DNS/HTTP flow is named; plain UDP to 9999 may be
        # a port guess or nothing
        named = sum(1 for r in recs if "app" in r and r["dst_port"] in (53, 80, 443))
        assert named == 18
        assert st["inspect"]["dpi_identified"] >= 18
        for r in recs:
            if "app" in r:
                assert r["app_category"] and r["dpi_confidence"] in (
                    "unknown", "port", "ip", "cache", "dpi")
    else:
        p = jt.run(["-r", f, "--dpi"])
        assert p.returncode == 2
        assert "--dpi: this build has no nDPI" in p.stderr
    recs, st = jt.meter(f, "--no-dpi")
    assert not [r for r in recs if any(k in r for k in APP)]
    assert st["inspect"]["dpi_flows"] == 0
    assert sum(1 for r in recs if "dns_qname" in r) == 6
    assert sum(1 for r in recs if "http_host" in r) == 6


def test_inspect_none_same_counts(tmp_path):
    f = write(tmp_path, scenario())
    full, st_full = jt.meter(f)
    none, st_none = jt.meter(f, "--inspect", "none")
    assert not [(r["src_port"], k) for r in none for k in L7 if k in r]
    assert st_none["inspect"] == {"flows": 0, "pool_full": 0, "dpi_flows": 0,
                                  "dpi_pool_full": 0, "dpi_identified": 0,
                                  "tcp_reassembly_gaps": 0, "reclaimed": 0}
    keep = ("packets", "bytes", "rev_packets", "rev_bytes", "payload_bytes",
            "rev_payload_bytes", "first_ns", "last_ns", "end_reason")
    a = {k: tuple(r[x] for x in keep) for k, r in by_tuple(full).items()}
    b = {k: tuple(r[x] for x in keep) for k, r in by_tuple(none).items()}
    assert a == b
    for x in ("packets_read", "packets_in_flows", "bytes_in_flows", "flows_created"):
        assert st_full[x] == st_none[x]


def test_inspect_list_and_bad_list(tmp_path):
    f = write(tmp_path, scenario())
    recs, _ = jt.meter(f, "--inspect", "dns")
    assert sum(1 for r in recs if "dns_qname" in r) == 6
    assert not [r for r in recs if "tls_sni" in r or "http_host" in r or "app" in r]
    p = jt.run(["-r", f, "--inspect", "dns,smtp"])
    assert p.returncode == 2
    assert "--inspect: 'dns,smtp': expected all, none or names separated by commas " \
        "(dpi, tls, quic, dns, http, tcp)" in p.stderr
    p = jt.run(["-r", f, "--dpi", "--no-dpi"])
    assert p.returncode == 2
    assert "--dpi and --no-dpi contradict each other" in p.stderr


def test_pool_bound(tmp_path):
    """Five TLS connections open within 0.4 ms: with room for two inspected
    flows, three are left uninspected and counted, and their records say
    nothing about TLS; the two inspected ones are complete."""
    sc = ag.AppScenario()
    for i in range(5):
        sc.tls_session(0.0001 * i, C % (40 + i), S % 5, 45000 + i, 443,
                       sni="p%d.example.com" % i, alpn=["h2"], seed=i)
    f = write(tmp_path, sc, "pool.pcap")
    recs, st = jt.meter(f, "--no-dpi", "--inspect-flows", "2")
    assert len(recs) == 5
    assert st["inspect"]["flows"] == 2
    assert st["inspect"]["pool_full"] == 3
    sni = {r["src_port"]: r.get("tls_sni") for r in recs}
    assert sni == {45000: "p0.example.com", 45001: "p1.example.com", 45002: None,
                   45003: None, 45004: None}
    # sequential flows reuse the records: nothing is left out
    recs, st = jt.meter(write(tmp_path, scenario(), "seq.pcap"), "--no-dpi",
                        "--inspect-flows", "2")
    assert st["inspect"]["pool_full"] == 0
    assert sum(1 for r in recs if "tls_sni" in r) == 6


def test_version_lists_ndpi():
    p = jt.run(["version"])
    assert p.returncode == 0
    lines = [x for x in p.stdout.splitlines() if x.startswith("library ndpi")]
    assert len(lines) == 1
    assert lines[0] in ("library ndpi 4.2.0", "library ndpi not compiled in"), lines


def test_python_binding_inspect(tmp_path):
    """The binding's enable_flow_metering(inspect=, inspect_flows=, dpi=)
    reaches the engine (its counters say what was inspected)."""
    f = write(tmp_path, scenario())
    code = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import packet_capture_py as pc
out = {}
for name, kw in (("none", {"inspect": "none"}), ("nodpi", {"dpi": False}),
                 ("dns", {"inspect": ["dns"]}), ("pool", {"dpi": False, "inspect_flows": 1})):
    cap = pc.PacketCaptureEngine(pcap_file=sys.argv[2])
    cap.enable_flow_metering(**kw)
    cap.start()
    cap.wait()
    m = cap.get_metrics()
    out[name] = [m.packets_read, m.inspect_flows, m.inspect_pool_full, m.dpi_flows]
    cap.close()
try:
    pc.PacketCaptureEngine(pcap_file=sys.argv[2]).enable_flow_metering(inspect="bogus")
except ValueError as e:
    out["err"] = str(e)
print(json.dumps(out))
"""
    env = jt.binding_env()
    p = subprocess.run([sys.executable, "-c", code,
                        os.path.join(jt.source_dir(), "bindings", "python"), str(f)],
                       capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout)
    n = out["none"][0]
    assert out["none"] == [n, 0, 0, 0]
    # without nDPI the plain UDP flow is no parser's: 18 flows inspected
    assert out["nodpi"] == [n, 18, 0, 0]
    assert out["dns"] == [n, 6, 0, 0]
    # one record at a time: the flows are sequential but a TCP flow holds its
    # record until both directions are classified, so none waits
    assert out["pool"][1] + out["pool"][2] == 18
    assert out["err"].startswith("inspect must be 'all', 'none' or names")
