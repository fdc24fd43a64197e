# SPDX-License-Identifier: BSD-3-Clause
"""python.flow_fields: FlowStats carries the transport health and application
fields (issue 12) as the JSON record does: a hand-filled record with every field
and hostile bytes gives to_dict() == the library's JSON line, field for field and
in order; a metered file gives, flow for flow, what `jcap -F json` prints."""
import ctypes
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sanitize import prepare  # noqa: E402

prepare()

import jcaptest  # noqa: E402
import packet_capture_py as pc  # noqa: E402
import pcapgen as g  # noqa: E402

ALL_FLAGS = (1 << 15) - 1


def lib_json(f):
    buf = ctypes.create_string_buffer(8192)
    n = pc.load_library().capture_flow_to_json(ctypes.byref(f), buf, len(buf))
    assert n > 0
    return json.loads(buf.raw[:n].decode("utf-8"))


def reason(r):
    return pc.load_library().capture_end_reason_name(r).decode()


def filled():
    f = pc.CaptureFlow()
    f.ip_version, f.proto, f.src_port, f.dst_port, f.end_reason = 4, 6, 40000, 443, 3
    f.src_ip[:4] = [198, 18, 0, 1]
    f.dst_ip[:4] = [198, 19, 0, 1]
    f.packets, f.bytes = 4, 500
    f.l7_flags = ALL_FLAGS
    for k in ("payload_bytes", "rev_payload_bytes", "retrans_packets", "retrans_bytes",
              "rev_retrans_packets", "rev_retrans_bytes", "ooo_packets", "rev_ooo_packets",
              "zero_win", "rev_zero_win", "rtt_us", "rtt_syn_us", "app_id", "app_master_id",
              "tls_version", "dns_qtype", "dns_rcode", "dns_answers", "http_status", "src_asn",
              "dst_asn"):
        setattr(f, k, len(k) * 7)
    f.conn_state, f.dpi_confidence = 3, 4  # SF, dpi
    f.history = b"ShADadFf"
    f.app, f.app_category = b"TLS.YouTube", b"Media"
    f.tls_sni = b"a\"b\\c\n\x01\x7f"            # escaped by JSON
    f.tls_alpn = b"h2"
    f.ja4, f.ja3 = b"t13d1516h2_8daaf6152771_e5627efa2ab1", b"0" * 32
    f.dns_qname = b"caf\xc3\xa9.\xf0\x9f\x98\x80.example"  # valid UTF-8
    f.http_method, f.http_host = b"GET", b"M\xfcller\xc0\xaf.example"  # not UTF-8
    f.http_url, f.http_user_agent = b"/\xed\xa0\x80\xe2\x82", b"curl/8"
    f.src_country, f.dst_country = b"DE", b"US"
    f.src_as_org, f.dst_as_org = b"Org, \"quoted\"", b"X" * 47
    return f


def test_every_field_as_the_json_line():
    f = filled()
    want = lib_json(f)
    got = pc.FlowStats._from_c(f, reason).to_dict()
    assert list(got) == list(want)
    assert got == want
    assert got["http_host"] == "M\u00fcller\u00c0\u00af.example"
    assert got["dns_qname"] == "caf\u00e9.\U0001f600.example"
    # nothing known: only the payload octets, no None and no ""
    f.l7_flags = 0
    got = pc.FlowStats._from_c(f, reason).to_dict()
    assert got == lib_json(f)
    assert [k for k in got if k in pc.L7_FIELDS] == []
    assert got["payload_bytes"] == len("payload_bytes") * 7


@pytest.fixture(scope="module")
def tmp():
    d = tempfile.mkdtemp(prefix="pcpy-l7-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_metered_flows_equal_jcap_json(tmp):
    jcap = os.path.join(os.environ.get("PC_BUILD_DIR", ""), "jcap")
    if not os.access(jcap, os.X_OK):
        pytest.skip("no jcap in PC_BUILD_DIR")
    sc = g.Scenario()
    sc.tcp_session(0.0, "198.18.0.1", "198.19.0.1", 40001, 443, data=3, size=100)
    sc.tcp_session(0.1, "198.18.0.2", "198.19.0.1", 40002, 80, data=1, close="rst")
    sc.udp_exchange(0.2, "198.18.0.3", "198.19.0.1", 5353, 53, count=4)
    path = os.path.join(tmp, "s.pcap")
    sc.write(path)
    with pc.PacketCaptureEngine(pcap_file=path) as eng:
        eng.enable_flow_metering(table_size=65536)
        eng.start()
        assert eng.wait(timeout=120) == "done"
        flows = eng.get_flows(limit=0, include_finished=True)
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    p = subprocess.run([jcap, "-r", path, "-F", "json", "--no-progress"], capture_output=True,
                       text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    js = {jcaptest.flow_key(r): r for r in jcaptest.parse_lines(p.stdout)}
    assert len(flows) == len(js) == 3
    for f in flows:
        d = f.to_dict()
        assert d == js[jcaptest.flow_key(d)]
        assert d["payload_bytes"] > 0
