# SPDX-License-Identifier: BSD-3-Clause
"""jcapd REST API end to end: every endpoint on a real session (an offline pcap
file; as root also a live veth pair in a namespace of the test's own), every
error status, access control, path confinement, Prometheus text, and the
OpenAPI document checked against what the server actually answered."""
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time
import urllib.parse

import pytest

import jcaptest
import pcapgen
from apihttp import request
from conftest import start_jcapd

P = "/packet_capture/capture"
DEFAULT = object()
OBS = []		# (method, path, status, body) of every reply, for the OpenAPI check
FLOW_FIELDS = list(jcaptest.FLOW_FIELDS)


# ---------------------------------------------------------------- HTTP client

def call(d, method, path, body=None, token=DEFAULT, ctype="application/json", raw=None,
         headers=None, chunked=False, record=True):
    if token is DEFAULT:
        token = d.token
    rep = request(d.base, method, path, body=body, token=token, ctype=ctype, raw=raw,
                  headers=headers, chunked=chunked)
    if record:
        OBS.append((method, path.split("?")[0], rep.status, rep.json if rep.json is not None
                    else rep.raw))
    return rep


def ok(rep, status=200):
    assert rep.status == status, rep
    return rep.json


def err(rep, status, field=None, contains=None):
    assert rep.status == status, rep
    assert rep.headers.get("Content-Type", "").startswith("application/json"), rep.headers
    assert isinstance(rep.json, dict) and isinstance(rep.json.get("error"), str), rep
    assert rep.json["error"], rep
    if field is not None:
        assert rep.json.get("field") == field, rep
    if contains is not None:
        assert contains in rep.json["error"], rep
    return rep.json


def wait_state(d, states, timeout=30):
    deadline = time.time() + timeout
    st = None
    while time.time() < deadline:
        st = ok(call(d, "GET", P + "/status"))
        if st["state"] in states:
            return st
        time.sleep(0.05)
    raise AssertionError("state never became %s: %s" % (states, st))


# ---------------------------------------------------------------- inputs

def scenario(seed=7, flows=80):
    """pcapgen's mixed traffic (TCP closed by FIN, RST or not at all, UDP, ICMP,
    IPv4 and IPv6, ARP, a truncated and a malformed packet) plus flows on three
    VLANs: every record and counter a meter must report is known exactly."""
    sc = pcapgen.scenario_mixed(seed=seed, flows=flows, duration=10.0)
    for i in range(flows // 8):
        l2 = {"vlans": [100 + i % 3]}
        sc.udp_exchange(1.0 + i * 0.1, pcapgen.c4(3000 + i), pcapgen.s4(100 + i % 4),
                        20000 + i, 53, count=3, l2=l2)
        sc.tcp_session(1.05 + i * 0.1, pcapgen.c4(3000 + i), pcapgen.s4(100 + i % 4),
                       21000 + i, 443, data=2, close="fin", l2=l2)
    return sc


def gen_pcap(path, seed=7, flows=80):
    """Write the scenario to @path (classic pcap, Ethernet); returns its truth."""
    sc = scenario(seed, flows)
    sc.write(path)
    exp = sc.expected()
    assert not exp.ambiguous, exp.ambiguous
    stats = {"packets_read": exp.packets_read,
             "bytes_read": sum(wire for _ts, _data, wire, _if in sc.records()),
             "packets_in_flows": exp.packets_in_flows, "bytes_in_flows": exp.bytes_in_flows,
             "skipped": dict(exp.skipped), "flows_created": len(exp.records),
             "expired": dict(exp.expired)}
    return exp.records, stats


@pytest.fixture(scope="module")
def traffic(daemon):
    if not daemon.data_dir:
        pytest.skip("--base-url without --data-dir: no input file the daemon may read")
    path = os.path.join(daemon.data_dir, "api.pcap")
    recs, stats = gen_pcap(path)
    return path, recs, stats


@pytest.fixture(scope="module")
def pcap(traffic):
    return traffic[0]


@pytest.fixture(scope="module")
def reference(traffic):
    """pcapgen's truth for the file, for the daemon's flow settings (table 65536,
    idle 30 s, active 1800 s): (records, counters)."""
    return traffic[1], traffic[2]


def pcap_count(path):
    """Packets in a classic pcap or pcapng file (enough parsing to count)."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    n = 0
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        off = 24
        while off + 16 <= len(data):
            incl = struct.unpack_from("<I", data, off + 8)[0]
            off += 16 + incl
            n += 1
        assert off == len(data), "trailing bytes in %s" % path
        return n
    if magic == b"\x0a\x0d\x0d\x0a":
        off = 0
        while off + 12 <= len(data):
            btype, blen = struct.unpack_from("<II", data, off)
            if btype in (3, 6):
                n += 1
            off += blen
        assert off == len(data)
        return n
    raise AssertionError("%s is not a pcap/pcapng file (magic %r)" % (path, magic))


# ---------------------------------------------------------------- basics

def test_healthz_openapi_backends(daemon):
    h = ok(call(daemon, "GET", "/healthz"))
    assert h["status"] == "ok" and h["version"] == "0.1.0"
    doc = ok(call(daemon, "GET", "/openapi.json"))
    assert doc["openapi"].startswith("3.0")
    b = ok(call(daemon, "GET", P + "/backends"))
    names = [x["name"] for x in b["backends"]]
    assert len(names) == len(set(names))
    for want in ("file", "pcap", "afpacket", "afxdp"):
        assert want in names, names
    for x in b["backends"]:
        assert x["reason"], x
    assert [x for x in b["backends"] if x["name"] == "file"][0]["available"] is True
    # HEAD is GET without a body
    r = call(daemon, "HEAD", "/healthz", record=False)
    assert r.status == 200 and r.raw == b""


def test_error_statuses(daemon):
    d = daemon
    err(call(d, "GET", P + "/nope"), 404)
    err(call(d, "GET", "/packet_capture"), 404)
    r = call(d, "GET", P + "/start")
    err(r, 405)
    assert r.headers["Allow"] == "POST"
    r = call(d, "POST", P + "/status", body={})
    err(r, 405)
    assert r.headers["Allow"] == "GET, HEAD"
    err(call(d, "DELETE", P + "/flows"), 405)
    # 415: a body that is not JSON, or JSON under another media type
    err(call(d, "POST", P + "/stop", raw=b"graceful=1", ctype="application/x-www-form-urlencoded"),
        415)
    err(call(d, "POST", P + "/stop", raw=b"{}", ctype="text/plain"), 415)
    err(call(d, "POST", P + "/stop", raw=b"{}", ctype=None), 415)
    for path in ("/start", "/flow/meter/enable", "/netflow/export/enable",
                 "/encryption/enable"):
        err(call(d, "POST", P + path, raw=b'{"a": 1}', ctype="text/json"), 415)
    err(call(d, "POST", P + "/start", raw=b'{}', ctype="application/jsonx"), 415)
    # 413: announced by Content-Length, and chunked without one
    big = json.dumps({"pcap_file": "/x" * 4000}).encode()
    err(call(d, "POST", P + "/start", raw=big), 413)
    err(call(d, "POST", P + "/start", raw=big, chunked=True), 413)
    err(call(d, "POST", P + "/flow/meter/enable", raw=big), 413)
    err(call(d, "POST", P + "/netflow/export/enable", raw=big), 413)
    err(call(d, "POST", P + "/encryption/enable", raw=big), 413)
    err(call(d, "POST", P + "/stop", raw=big), 413)
    # the daemon still answers after all that
    ok(call(d, "GET", "/healthz"))
    # 400: JSON syntax, shape, unknown fields, types, ranges
    err(call(d, "POST", P + "/start", raw=b'{"pcap_file": '), 400, contains="invalid JSON")
    err(call(d, "POST", P + "/start", raw=b'[1, 2]'), 400, contains="JSON object")
    err(call(d, "POST", P + "/start", raw=b'{"workers": 1, "workers": 2}'), 400)
    err(call(d, "POST", P + "/start", body={"interface": "x", "bogus": 1}), 400, "bogus")
    err(call(d, "POST", P + "/start", body={}), 400, "interface")
    err(call(d, "POST", P + "/start", body={"interface": "lo", "pcap_file": "/tmp/x"}), 400,
        "pcap_file")
    for field, val in (("buffer_size_mb", 63), ("buffer_size_mb", 2049), ("workers", 0),
                       ("workers", 65), ("snaplen", 10), ("workers", "2"),
                       ("workers", 1.5), ("promiscuous", 1), ("backend", "dpdk2"),
                       ("tstamp", "gps"), ("filter", 5)):
        err(call(d, "POST", P + "/start", body={"interface": "lo", field: val}), 400, field)
    for field, val in (("table_size", 4095), ("table_size", 16777217),
                       ("idle_timeout_sec", 0), ("active_timeout_sec", -1),
                       ("uniflow", "yes"), ("ended_ring_size", 2 ** 40)):
        err(call(d, "POST", P + "/flow/meter/enable", body={field: val}), 400, field)
    # table_size 0 is the library's default for the input (1M a file, 64K live)
    for val in (1, 4095):
        err(call(d, "POST", P + "/flow/meter/enable", body={"table_size": val}), 400,
            "table_size", "'table_size' must be 0 (1048576 for a file, 65536 live) or in "
            "4096..16777216")
    fm = ok(call(d, "POST", P + "/flow/meter/enable", body={"table_size": 0}))
    assert fm["flow_metering"]["table_size"] == 0
    ok(call(d, "POST", P + "/flow/meter/enable", body={}))  # the daemon's settings again
    err(call(d, "POST", P + "/flow/meter/enable",
             body={"idle_timeout_sec": 100, "active_timeout_sec": 50}), 400,
        "idle_timeout_sec")
    nf = {"version": 10, "collector": "127.0.0.1", "port": 4739}
    for field, val in (("version", 7), ("version", None), ("port", 0), ("port", 65536),
                       ("transport", "sctp"), ("mtu", 100),
                       ("observation_domain", 2 ** 32), ("template_refresh_sec", 0)):
        body = dict(nf)
        if val is None:
            del body[field]
        else:
            body[field] = val
        err(call(d, "POST", P + "/netflow/export/enable", body=body), 400, field)
    err(call(d, "POST", P + "/netflow/export/enable", body={"version": 5, "transport": "tcp",
                                                            "collector": "127.0.0.1"}),
        400, "transport")
    err(call(d, "POST", P + "/netflow/export/enable", body={"version": 9}), 400, "collector")
    err(call(d, "POST", P + "/netflow/export/enable",
             body={"version": 9, "collector": "no-such-host.invalid"}), 400, "collector")
    err(call(d, "POST", P + "/netflow/export/enable",
             body={"version": 9, "collector": "127.0.0.1", "uniflow": True}), 400, "uniflow")
    err(call(d, "POST", P + "/encryption/enable", body={"algorithm": "rot13",
                                                        "key_file": "/x"}), 400, "algorithm")
    err(call(d, "POST", P + "/encryption/enable", body={}), 400, "key_file")
    err(call(d, "POST", P + "/encryption/enable", body={"key": "00" * 32}), 400, "key")
    err(call(d, "POST", P + "/stop", body={"graceful": "yes"}), 400, "graceful")
    # query parameters
    for q, field in (("limit=-1", "limit"), ("limit=1000001", "limit"), ("limit=x", "limit"),
                     ("sort_by=size", "sort_by"), ("ip=300.1.1.1", "ip"),
                     ("ip=10.0.0.0/33", "ip"), ("port=65536", "port"),
                     ("proto=256", "proto"), ("proto=ipx", "proto"), ("state=ended", "state"),
                     ("bogus=1", "bogus"), ("limit=1&limit=2", "limit"),
                     ("tunnel_id=x", "tunnel_id"), ("tunnel_id=4294967296", "tunnel_id"),
                     ("mac=02:00:00:00:00", "mac"), ("mac=02:00:00:00:00:0g", "mac")):
        err(call(d, "GET", P + "/flows?" + q), 400, field)
    for path in (P + "/backends", P + "/status", P + "/metrics", "/metrics", "/healthz",
                 "/openapi.json"):
        err(call(d, "GET", path + "?verbose=1"), 400, "verbose")
    err(call(d, "GET", P + "/firmware/verify?image=/x"), 400, "signature")
    err(call(d, "GET", P + "/firmware/verify?x=1"), 400, "x")
    # 409: nothing to stop
    st = ok(call(d, "GET", P + "/status"))
    if st["state"] in ("idle", "stopped"):
        err(call(d, "POST", P + "/stop", body={}), 409)
    # nothing changed on the way
    assert ok(call(d, "GET", P + "/status"))["state"] == st["state"]


def test_access_control(daemon):
    d = daemon
    if not d.token:
        pytest.skip("daemon runs without a token")
    posts = [P + "/start", P + "/stop", P + "/flow/meter/enable",
             P + "/netflow/export/enable", P + "/encryption/enable"]
    verify = P + "/firmware/verify?image=/a&signature=/b&public_key=/c"
    for path in posts:
        r = call(d, "POST", path, body={}, token=None)
        err(r, 401)
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")
        err(call(d, "POST", path, body={}, token="wrong-" + d.token), 403)
    r = call(d, "GET", verify, token=None)
    err(r, 401)
    err(call(d, "GET", verify, token=d.token[:-1]), 403)
    err(call(d, "GET", verify, token=d.token + "x"), 403)
    err(call(d, "GET", verify, token=d.token.upper() if d.token.upper() != d.token else "A"),
        403)
    err(call(d, "POST", P + "/stop", body={}, token=None,
             headers={"Authorization": "Basic " + d.token}), 401)
    err(call(d, "POST", P + "/stop", body={}, token=None,
             headers={"Authorization": "Bearer "}), 401)
    # the token is checked before the media type and the body
    err(call(d, "POST", P + "/start", raw=b"nonsense", ctype="text/plain", token=None), 401)
    # reads need no token
    for path in (P + "/status", P + "/metrics", P + "/flows", P + "/backends", "/metrics"):
        assert call(d, "GET", path, token=None).status == 200


def test_path_confinement(daemon, tmp_path):
    d = daemon
    if not d.data_dir:
        pytest.skip("no --data-dir")
    outside = os.path.join(str(tmp_path), "outside.pcap")
    gen_pcap(outside, flows=8)
    link = os.path.join(d.data_dir, "link-out.pcap")
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(outside, link)
    inside_dir = os.path.join(d.data_dir, "sub")
    os.makedirs(inside_dir, exist_ok=True)
    before = ok(call(d, "GET", P + "/status"))
    for path in (outside, "/etc/passwd", d.data_dir + "/../token", link,
                 inside_dir + "/../../outside.pcap", "/nonexistent-dir/x.pcap"):
        err(call(d, "POST", P + "/start", body={"pcap_file": path}), 403, "pcap_file")
    err(call(d, "POST", P + "/start", body={"pcap_file": "relative.pcap"}), 400, "pcap_file")
    err(call(d, "POST", P + "/start", body={"pcap_file": d.data_dir + "/missing.pcap"}), 400,
        "pcap_file", contains="No such file")
    err(call(d, "POST", P + "/encryption/enable", body={"key_file": "/etc/hostname"}), 403,
        "key_file")
    err(call(d, "POST", P + "/netflow/export/enable",
             body={"version": 10, "transport": "file", "path": str(tmp_path) + "/x.ipfix"}),
        403, "path")
    err(call(d, "POST", P + "/start",
             body={"pcap_file": d.data_dir + "/api.pcap" if os.path.exists(
                 d.data_dir + "/api.pcap") else outside,
                 "pcap_out": {"dir": str(tmp_path)}}), 403)
    err(call(d, "GET", P + "/firmware/verify?image=/etc/passwd&signature=/etc/passwd"
             "&public_key=/etc/passwd"), 403, "image")
    # a refused request changes nothing
    after = ok(call(d, "GET", P + "/status"))
    assert after["state"] == before["state"] and after["start_ns"] == before["start_ns"]


def test_hostile_requests_never_crash(daemon):
    """Random bytes, odd JSON, deep nesting, bad UTF-8: always a 4xx, never a crash."""
    import random
    d = daemon
    rnd = random.Random(1234)
    posts = ["/start", "/stop", "/flow/meter/enable", "/netflow/export/enable",
             "/encryption/enable"]
    bodies = [b"[" * 3000 + b"]" * 3000, b'{"a":' * 1500 + b"1" + b"}" * 1500,
              b'{"pcap_file": "\\u0000"}', b'{"pcap_file": "\xff\xfe"}',
              b'{"workers": 1e400}', b'{"workers": 18446744073709551616}',
              b'{"table_size": -0}', b"\x00" * 100, b"{}" * 10, b'{"":1}']
    for _ in range(150):
        n = rnd.randrange(1, 300)
        bodies.append(bytes(rnd.randrange(256) for _ in range(n)))
        keys = ["interface", "pcap_file", "version", "collector", "key_file", "graceful",
                "table_size", "x" * rnd.randrange(1, 40)]
        obj = {rnd.choice(keys): rnd.choice([None, True, -1, 2 ** 70, 1.5, "", "a" * 500,
                                             [], {}, [1, [2]], {"k": "v"}])
               for _ in range(rnd.randrange(1, 5))}
        bodies.append(json.dumps(obj).encode())
    before = ok(call(d, "GET", P + "/status", record=False))
    for i, b in enumerate(bodies):
        path = P + posts[i % len(posts)]
        r = call(d, "POST", path, raw=b, record=False)
        assert r.status in (400, 403, 409, 413), (path, b[:80], r)
        assert isinstance(r.json.get("error"), str)
    for q in ("limit=%00", "ip=%ff%fe", "sort_by=" + "a" * 3000, "port=1%20", "proto=-1",
              "state=all&state=active", "limit=99999999999999999999999"):
        r = call(d, "GET", P + "/flows?" + q, record=False)
        assert r.status in (400, 414, 431), (q, r)
    after = ok(call(d, "GET", P + "/status", record=False))
    assert after["state"] == before["state"] and after["start_ns"] == before["start_ns"]


def test_nul_in_path_or_query_refused(daemon):
    """A %00 would cut the C string a route sees (a path or a filter silently
    shortened): the request is refused whole, naming the parameter."""
    d = daemon
    nul_ip = {"error": "query parameter 'ip' holds a NUL byte (%00)", "field": "ip"}
    assert err(call(d, "GET", P + "/flows?state=all&ip=198.18.0.1%00.7"), 400) == nul_ip
    assert err(call(d, "GET", P + "/flows?ip=%00&limit=0"), 400) == nul_ip
    image = (d.data_dir or "/srv") + "/fw.bin%00.txt"
    r = err(call(d, "GET", P + "/firmware/verify?signature=/s&public_key=/k&image=" + image),
            400)
    assert r == {"error": "query parameter 'image' holds a NUL byte (%00)", "field": "image"}
    r = err(call(d, "GET", P + "/flows?ip%00x=1"), 400)
    assert r == {"error": "a query parameter name holds a NUL byte (%00)"}
    # an undocumented path: not recorded for the OpenAPI check
    path_nul = {"error": "the request path holds a NUL byte (%00)"}
    assert err(call(d, "GET", "/healthz%00.json", record=False), 400) == path_nul
    assert err(call(d, "POST", P + "/stop%00", body={"graceful": True}, record=False),
               400) == path_nul
    # refused before anything happened; the daemon answers the next request
    assert ok(call(d, "GET", "/healthz"))["status"] == "ok"


# ---------------------------------------------------------------- a file session

def sort_key(name):
    if name == "bytes":
        return lambda f: f["bytes"] + f["rev_bytes"]
    if name == "packets":
        return lambda f: f["packets"] + f["rev_packets"]
    if name == "duration":
        return lambda f: f["last_ns"] - f["first_ns"]
    return lambda f: f["last_ns"]


def in_net(a, net):
    return ipaddress.ip_address(a) in net


def test_file_session(daemon, pcap, reference):
    d = daemon
    ref, ref_stats = reference
    fm = ok(call(d, "POST", P + "/flow/meter/enable",
                 body={"table_size": 65536, "idle_timeout_sec": 30, "active_timeout_sec": 1800,
                       "ended_ring_size": 65536}))
    assert fm["applies"] == "next_start"
    assert fm["flow_metering"] == {"enabled": True, "table_size": 65536,
                                   "idle_timeout_sec": 30, "active_timeout_sec": 1800,
                                   "uniflow": False, "ended_ring_size": 65536,
                                   "community_id_seed": 0}
    st = ok(call(d, "POST", P + "/start", body={"pcap_file": pcap, "workers": 1}))
    assert st["state"] in ("running", "done"), st
    assert st["backend"] == "file" and st["backend_requested"] == "auto"
    assert st["pcap_file"] == os.path.realpath(pcap)
    assert st["workers"] == 1 and st["start_ns"] > 0 and st["start_time"].endswith("Z")
    st = wait_state(d, ("done",))
    assert st["tstamp_source"] == "file" and st["stop_ns"] >= st["start_ns"]
    assert st["input_bytes"] == os.path.getsize(pcap) == st["input_done"]
    assert st["uptime_sec"] == pytest.approx((st["stop_ns"] - st["start_ns"]) / 1e9, abs=1e-6)

    m = ok(call(d, "GET", P + "/metrics"))
    t = m["total"]
    assert m["state"] == "done" and m["workers_count"] == 1 and len(m["workers"]) == 1
    assert t["packets"] == ref_stats["packets_read"]
    assert t["bytes"] == ref_stats["bytes_read"]
    assert t["packets_in_flows"] == ref_stats["packets_in_flows"]
    assert t["bytes_in_flows"] == ref_stats["bytes_in_flows"]
    assert t["packets"] == t["packets_in_flows"] + sum(t["skipped"].values())
    assert t["skipped"] == ref_stats["skipped"]
    assert t["flows"]["created"] == ref_stats["flows_created"] == len(ref)
    assert t["flows"]["expired"] == ref_stats["expired"]
    assert t["flows"]["active"] == 0 and t["ended_ring_records"] == len(ref)
    w0 = m["workers"][0]
    assert w0["worker"] == 0 and w0["packets"] == t["packets"]
    assert w0["flows"]["created"] == t["flows"]["created"]

    # active flows: none left after the end of input; all: every flow that ended
    fl = ok(call(d, "GET", P + "/flows"))
    assert fl["state"] == "active" and fl["flows"] == [] and fl["returned"] == 0
    every = ok(call(d, "GET", P + "/flows?state=all&limit=0"))
    assert every["matched"] == every["returned"] == len(ref) and not every["truncated"]
    for f in every["flows"]:
        assert list(f)[:len(FLOW_FIELDS)] == FLOW_FIELDS, list(f)
        assert f["community_id"] == jcaptest.community_id(f)
    jcaptest.assert_same_flows(every["flows"], ref, "GET /flows?state=all&limit=0")

    for sb in ("bytes", "packets", "duration", "last_seen"):
        got = ok(call(d, "GET", P + "/flows?state=all&limit=0&sort_by=" + sb))
        keys = [sort_key(sb)(f) for f in got["flows"]]
        assert keys == sorted((sort_key(sb)(f) for f in ref), reverse=True), sb
        top = ok(call(d, "GET", P + "/flows?state=all&limit=7&sort_by=" + sb))
        assert top["returned"] == 7 and top["flows"] == got["flows"][:7], sb
        assert top["sort_by"] == sb and top["limit"] == 7
    dflt = ok(call(d, "GET", P + "/flows?state=all"))
    assert dflt["returned"] == 10 and dflt["sort_by"] == "bytes"

    # filters: the same selection computed from pcapgen's records
    v4 = next(f for f in ref if f["ip_version"] == 4)
    v6 = next(f for f in ref if f["ip_version"] == 6)
    t4 = next(f for f in ref if f["ip_version"] == 4 and f["proto"] == 6)
    cases = [
        ("ip=" + v4["src_ip"], lambda f: v4["src_ip"] in (f["src_ip"], f["dst_ip"])),
        ("ip=" + v6["dst_ip"], lambda f: ipaddress.ip_address(v6["dst_ip"]) in
         (ipaddress.ip_address(f["src_ip"]), ipaddress.ip_address(f["dst_ip"]))),
        ("ip=198.19.0.0/16", lambda f: f["ip_version"] == 4 and (
            in_net(f["src_ip"], ipaddress.ip_network("198.19.0.0/16")) or
            in_net(f["dst_ip"], ipaddress.ip_network("198.19.0.0/16")))),
        ("ip=2001:2::/48", lambda f: f["ip_version"] == 6),
        ("port=%d" % v4["dst_port"], lambda f: v4["dst_port"] in (f["src_port"], f["dst_port"])),
        ("proto=udp", lambda f: f["proto"] == 17),
        ("proto=17", lambda f: f["proto"] == 17),
        ("proto=tcp", lambda f: f["proto"] == 6),
        ("proto=tcp&port=%d" % t4["src_port"],
         lambda f: f["proto"] == 6 and t4["src_port"] in (f["src_port"], f["dst_port"])),
        ("ip=%s&proto=udp" % v4["src_ip"], lambda f: f["proto"] == 17 and
         v4["src_ip"] in (f["src_ip"], f["dst_ip"])),
        # Community ID: '+', '/' and '=' percent-encoded
        ("community_id=" + urllib.parse.quote(jcaptest.community_id(t4), safe=""),
         lambda f: jcaptest.community_id(f) == jcaptest.community_id(t4)),
        ("mac=" + v4["src_mac"], lambda f: v4["src_mac"] in (f.get("src_mac"),
                                                              f.get("dst_mac"))),
    ]
    for q, pred in cases:
        got = ok(call(d, "GET", P + "/flows?state=all&limit=0&" + q))
        exp = [f for f in ref if pred(f)]
        assert exp, q
        assert got["matched"] == len(exp), q
        jcaptest.assert_same_flows(got["flows"], exp, q)
    assert ok(call(d, "GET", P + "/flows?state=all&ip=203.0.113.9"))["flows"] == []
    assert ok(call(d, "GET", P + "/flows?state=all&tunnel_id=0"))["flows"] == []
    assert ok(call(d, "GET", P + "/flows?state=all&mac=0a:00:00:00:00:09"))["flows"] == []

    # a finished session still stops (finalised); a second stop is a state error
    stop = ok(call(d, "POST", P + "/stop", body={"graceful": True}))
    assert stop["state"] == "stopped" and stop["graceful"] is True
    assert stop["stats"]["packets"] == ref_stats["packets_read"]
    err(call(d, "POST", P + "/stop", body={}), 409)
    st = ok(call(d, "GET", P + "/status"))
    assert st["state"] == "stopped" and st["graceful"] is True
    after = ok(call(d, "GET", P + "/flows?state=all&limit=0"))
    jcaptest.assert_same_flows(after["flows"], ref, "flows after stop")
    assert ok(call(d, "GET", "/healthz"))["session"] in ("stopped", "done")


# ---------------------------------------------------------------- Prometheus

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"^(%s)(\{(?:%s)(?:,%s)*\})? (\S+)$" % (NAME, LABEL, LABEL))
VALUE = re.compile(r"^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|"
                   r"[+-]?Inf|NaN)$")


def parse_prometheus(text):
    """Strict text exposition 0.0.4 parser: returns {name: {"type", "help",
    "samples": {labels_tuple: value}}}; raises on anything out of format."""
    assert text.endswith("\n"), "exposition must end with a newline"
    fams = {}
    cur = None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        assert line == line.strip() and line, "line %d: blank or padded: %r" % (n, line)
        if line.startswith("#"):
            m = re.match(r"^# (HELP|TYPE) (%s) (.+)$" % NAME, line)
            assert m, "line %d: bad comment %r" % (n, line)
            kind, name, rest = m.groups()
            fam = fams.setdefault(name, {"type": None, "help": None, "samples": {}})
            if kind == "HELP":
                assert fam["help"] is None, "line %d: second HELP for %s" % (n, name)
                fam["help"] = rest
            else:
                assert fam["type"] is None, "line %d: second TYPE for %s" % (n, name)
                assert not fam["samples"], "line %d: TYPE after samples of %s" % (n, name)
                assert rest in ("counter", "gauge", "histogram", "summary", "untyped"), rest
                fam["type"] = rest
            cur = name
            continue
        m = SAMPLE.match(line)
        assert m, "line %d: bad sample %r" % (n, line)
        name, labels, value = m.groups()
        assert name == cur, "line %d: sample %s outside its family %s" % (n, name, cur)
        assert VALUE.match(value), "line %d: bad value %r" % (n, value)
        lab = tuple(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', labels or ""))
        assert len({k for k, _ in lab}) == len(lab), "line %d: repeated label" % n
        fam = fams[name]
        assert lab not in fam["samples"], "line %d: duplicate series" % n
        fam["samples"][lab] = float(value)
    for name, fam in fams.items():
        assert fam["type"] and fam["help"], "%s lacks TYPE or HELP" % name
        if fam["type"] == "counter":
            assert name.endswith("_total"), "counter %s not named *_total" % name
        else:
            assert not name.endswith("_total"), "%s %s named *_total" % (fam["type"], name)
    return fams


def test_prometheus_metrics(daemon):
    d = daemon
    r = call(d, "GET", "/metrics")
    assert r.status == 200
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    fams = parse_prometheus(r.raw.decode())
    m = ok(call(d, "GET", P + "/metrics"))
    for name in ("jcap_packets_total", "jcap_bytes_total", "jcap_flows_active",
                 "jcap_flows_created_total", "jcap_packets_skipped_total",
                 "jcap_flows_expired_total", "jcap_kernel_drops_total",
                 "jcap_packets_per_second", "jcap_capture_running", "jcapd_http_responses_total",
                 "jcap_export_records_total", "jcap_writer_packets_total"):
        assert name in fams, name
    assert fams["jcap_flows_active"]["type"] == "gauge"
    assert fams["jcap_packets_total"]["type"] == "counter"
    nw = m["workers_count"]
    assert len(fams["jcap_packets_total"]["samples"]) == nw
    if nw:
        tot = sum(fams["jcap_packets_total"]["samples"].values())
        assert tot == m["total"]["packets"]
        sk = fams["jcap_packets_skipped_total"]["samples"]
        for reason, v in m["total"]["skipped"].items():
            assert sum(x for k, x in sk.items() if ("reason", reason) in k) == v
        ex = fams["jcap_flows_expired_total"]["samples"]
        for reason, v in m["total"]["flows"]["expired"].items():
            assert sum(x for k, x in ex.items() if ("reason", reason) in k) == v
    # replies are counted by status: this test's own 200, 404 and 413, one each
    before = fams["jcapd_http_responses_total"]["samples"]
    err(call(d, "GET", P + "/nope"), 404)
    err(call(d, "POST", P + "/stop", raw=b"{}" + b" " * 5000), 413)
    after = parse_prometheus(call(d, "GET", "/metrics").raw.decode())
    after = after["jcapd_http_responses_total"]["samples"]
    for code, n in (("200", 2), ("404", 1), ("413", 1), ("400", 0)):
        key = (("code", code),)
        assert after.get(key, 0) - before.get(key, 0) == n, (code, before, after)
    # the parser is strict: it refuses what Prometheus would
    for bad in ("x_total 1\n", "# TYPE a counter\na 1\n", "# HELP a h\n# TYPE a gauge\na{b=c} 1\n",
                "# HELP a h\n# TYPE a gauge\na 1 2 3\n"):
        with pytest.raises(AssertionError):
            parse_prometheus(bad)


# ---------------------------------------------------------------- export + encryption

def ipfix_records(datagrams, domain):
    """Count IPFIX flow data records (fixed-length templates) in UDP messages;
    records of options templates (exporter statistics) are not flows."""
    templates = {}
    options = set()
    n = 0
    for dg in datagrams:
        ver, length, _t, _seq, dom = struct.unpack_from(">HHIII", dg, 0)
        assert ver == 10 and length == len(dg) and dom == domain, (ver, length, dom)
        off = 16
        while off < length:
            sid, slen = struct.unpack_from(">HH", dg, off)
            assert slen >= 4 and off + slen <= length
            body = dg[off + 4:off + slen]
            if sid in (2, 3):
                p = 0
                while p + 4 <= len(body):
                    tid, cnt = struct.unpack_from(">HH", body, p)
                    p += 6 if sid == 3 else 4
                    rl = 0
                    for _ in range(cnt):
                        fid, flen = struct.unpack_from(">HH", body, p)
                        p += 4 + (4 if fid & 0x8000 else 0)
                        assert flen != 65535, "variable-length field"
                        rl += flen
                    templates[tid] = rl
                    if sid == 3:
                        options.add(tid)
                    if len(body) - p < 4:
                        break
            elif sid >= 256 and sid not in options:
                n += len(body) // templates[sid]
            off += slen
    return n


def test_export_and_encryption_session(own_tmp, pcap, reference):
    # a daemon of its own: exporters and encryption stay enabled for later sessions
    d = start_jcapd(own_tmp)
    try:
        shutil.copy(pcap, d.data_dir)
        export_and_encryption(d, os.path.join(d.data_dir, os.path.basename(pcap)),
                              reference[0], reference[1]["packets_read"])
    finally:
        rc = d.stop(timeout=20)
    assert rc == 0, d.log_text()[-2000:]


def export_and_encryption(d, pcap, ref, packets):
    coll = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    coll.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    coll.bind(("127.0.0.1", 0))
    coll.settimeout(0.5)
    port = coll.getsockname()[1]
    try:
        r = ok(call(d, "POST", P + "/netflow/export/enable",
                    body={"version": 10, "collector": "127.0.0.1", "port": port,
                          "observation_domain": 4242, "template_refresh_sec": 30}))
        assert r["applies"] == "next_start" and r["port"] == port and r["transport"] == "udp"
        key = os.path.join(d.data_dir, "key.hex")
        with open(key, "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        r = ok(call(d, "POST", P + "/encryption/enable",
                    body={"algorithm": "aes-256-gcm", "key_file": key}))
        assert r == {"algorithm": "aes-256-gcm", "key_file": os.path.realpath(key),
                     "applies": "next_start"}
        out = os.path.join(d.data_dir, "out")
        os.makedirs(out, exist_ok=True)
        st = ok(call(d, "POST", P + "/start",
                     body={"pcap_file": pcap, "pcap_out": {"dir": out, "format": "pcap"}}))
        assert st["encrypted"] is True
        wait_state(d, ("done",))
        ok(call(d, "POST", P + "/stop", body={"graceful": True}))
        m = ok(call(d, "GET", P + "/metrics"))["total"]
        assert m["export"]["records"] == len(ref) and m["export"]["errors"] == 0
        assert m["writer"]["packets"] == packets and m["writer"]["errors"] == 0
        dgrams = []
        while True:
            try:
                dgrams.append(coll.recv(65535))
            except socket.timeout:
                break
        assert m["export"]["messages"] == len(dgrams), \
            "export.messages %d, collector received %d" % (m["export"]["messages"], len(dgrams))
        assert ipfix_records(dgrams, 4242) == len(ref)
    finally:
        coll.close()
    # the stored capture is encrypted and decrypts to every packet
    files = sorted(os.listdir(out))
    assert files and len(files) == m["writer"]["files"], files
    total = 0
    for name in files:
        src = os.path.join(out, name)
        with open(src, "rb") as f:
            assert f.read(4) not in (b"\xd4\xc3\xb2\xa1", b"\x0a\x0d\x0d\x0a"), "plain text"
        dst = os.path.join(d.data_dir, "dec-" + name)
        p = jcaptest.run(["decrypt", "--key", key, src, dst])
        assert p.returncode == 0, p.stderr
        total += pcap_count(dst)
    assert total == packets


# ---------------------------------------------------------------- firmware

def make_firmware(fw):
    """A random image in @fw signed (RSA, SHA-256) by a fresh key with openssl.
    Returns the query string naming image, signature and public key."""
    if not shutil.which("openssl"):
        pytest.skip("openssl not found")
    os.makedirs(fw, exist_ok=True)
    img, sig, key, pub = (os.path.join(fw, n) for n in ("image.bin", "image.sig", "key.pem",
                                                        "pub.pem"))
    with open(img, "wb") as f:
        f.write(os.urandom(4096))
    for cmd in (["openssl", "genrsa", "-out", key, "2048"],
                ["openssl", "rsa", "-in", key, "-pubout", "-out", pub],
                ["openssl", "dgst", "-sha256", "-sign", key, "-out", sig, img]):
        subprocess.run(cmd, check=True, capture_output=True)
    return "?image=%s&signature=%s&public_key=%s" % (img, sig, pub), img


def test_firmware_verify(daemon):
    d = daemon
    if not d.data_dir:
        pytest.skip("no --data-dir")
    fw = os.path.join(d.data_dir, "fw")
    q, img = make_firmware(fw)
    r = ok(call(d, "GET", P + "/firmware/verify" + q))
    assert r["result"] == "valid" and r["valid"] is True and r["code"] == 0, r
    assert r["digest"] == "sha256" and r["image"] == os.path.realpath(img)
    r = ok(call(d, "GET", P + "/firmware/verify" + q + "&digest=sha512"))
    assert r["valid"] is False and r["result"] == "invalid_signature", r
    with open(img, "r+b") as f:
        f.seek(100)
        f.write(b"\x00tampered")
    r = ok(call(d, "GET", P + "/firmware/verify" + q))
    assert r["result"] == "invalid_signature" and r["valid"] is False and r["code"] == 1, r
    err(call(d, "GET", P + "/firmware/verify" + q + "&padding=oaep"), 400, "padding")
    err(call(d, "GET", P + "/firmware/verify" + q.replace(img, fw + "/missing.bin")), 400,
        "image")


# ---------------------------------------------------------------- own daemons

def test_exporter_limit_token_reload_start_refusals(own_tmp):
    d = start_jcapd(own_tmp)
    try:
        for i in range(8):
            r = ok(call(d, "POST", P + "/netflow/export/enable",
                        body={"version": 9, "collector": "127.0.0.1", "port": 20000 + i}))
            assert r["exporters"] == i + 1
        # the same one again replaces, a ninth is refused
        assert ok(call(d, "POST", P + "/netflow/export/enable",
                       body={"version": 9, "collector": "127.0.0.1",
                             "port": 20000}))["exporters"] == 8
        err(call(d, "POST", P + "/netflow/export/enable",
                 body={"version": 9, "collector": "127.0.0.1", "port": 30000}), 409)
        # SIGHUP reloads the token file: the old token stops working
        old = d.token
        new = os.urandom(24).hex()
        with open(os.path.join(own_tmp, "token"), "w") as f:
            f.write(new + "\n")
        os.kill(d.proc.pid, signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and "token reloaded" not in d.log_text():
            time.sleep(0.02)
        err(call(d, "POST", P + "/stop", body={}, token=old), 403)
        err(call(d, "POST", P + "/stop", body={}, token=new), 409)
        # a bad token file keeps the current token
        with open(os.path.join(own_tmp, "token"), "w") as f:
            f.write("short\n")
        os.kill(d.proc.pid, signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and "token not reloaded" not in d.log_text():
            time.sleep(0.02)
        assert "token shorter than 16 bytes" in d.log_text()
        err(call(d, "POST", P + "/stop", body={}, token=new), 409)
    finally:
        assert d.stop() == 0
    # config file errors: test_jcapd_config.py; these refuse to start with status 1
    exe = os.path.join(os.environ.get("PC_BUILD_DIR", ""), "jcapd")
    # (clear text there is refused first, with status 2: test_jcapd_tls.py)
    p = subprocess.run([exe, "--listen", "0.0.0.0:0", "--insecure-http"], capture_output=True,
                       text=True, timeout=20)
    assert p.returncode == 1
    assert "refusing to listen on non-loopback 0.0.0.0:0 without --token-file" in p.stderr
    p = subprocess.run([exe, "--listen", "[::1]:0", "--token-file", own_tmp + "/none"],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 1 and "No such file" in p.stderr, p.stderr


def test_ipv6_listen(own_tmp):
    if not socket.has_ipv6 or not os.path.exists("/proc/net/if_inet6"):
        pytest.skip("no IPv6 on this host")
    d = start_jcapd(own_tmp, listen="[::1]:0")
    try:
        assert d.base.startswith("http://[::1]:"), d.base
        h = ok(call(d, "GET", "/healthz", record=False))
        assert h["status"] == "ok"
    finally:
        assert d.stop() == 0


# ---------------------------------------------------------------- live (root)

def test_live_veth_session(daemon):
    from apinet import Veth
    d = daemon
    if d.proc is None:
        pytest.skip("--base-url daemon: its namespace is not ours")
    with Veth("l", subnet=77) as v:
        st = ok(call(d, "POST", P + "/start",
                     body={"interface": v.host, "backend": "afpacket", "workers": 2,
                           "buffer_size_mb": 64, "promiscuous": True,
                           "filter": "udp"}))
        assert st["state"] == "running" and st["backend"] == "afpacket"
        assert st["interface"] == v.host and st["workers"] == 2
        # no packet yet: an idle capture still answers flow reads at once
        t0 = time.monotonic()
        empty = ok(call(d, "GET", P + "/flows?state=all"))
        assert empty["flows"] == [] and empty["total"] == 0
        assert time.monotonic() - t0 < 2.0, "GET /flows took %.1f s" % (time.monotonic() - t0)
        err(call(d, "POST", P + "/start", body={"pcap_file": "/x"}), 403)
        err(call(d, "POST", P + "/start", body={"interface": v.host}), 409)
        fm = ok(call(d, "POST", P + "/flow/meter/enable", body={"table_size": 65536}))
        assert fm["applies"] == "next_start"
        v.send_udp(5000, sport=40001, dport=9001, size=100)
        v.send_udp(300, sport=40002, dport=9002, size=50)
        deadline = time.time() + 20
        while time.time() < deadline:
            m = ok(call(d, "GET", P + "/metrics"))
            if m["total"]["packets"] >= 5300:
                break
            time.sleep(0.1)
        assert m["total"]["packets"] == 5300, m["total"]
        assert m["total"]["drops"]["kernel"]["dropped"] == 0
        assert m["state"] == "running" and len(m["workers"]) == 2
        assert sum(w["packets"] for w in m["workers"]) == 5300
        fl = ok(call(d, "GET", P + "/flows?ip=%s&sort_by=packets" % v.peer_ip))
        assert fl["state"] == "active" and fl["returned"] == 2, fl
        a, b = fl["flows"]
        assert (a["src_ip"], a["dst_ip"], a["src_port"], a["dst_port"], a["proto"]) == \
            (v.peer_ip, v.dst_ip, 40001, 9001, 17)
        assert a["packets"] == 5000 and a["bytes"] == 5000 * 128 and a["rev_packets"] == 0
        assert a["end_reason"] == "active_flow" and b["end_reason"] == "active_flow"
        assert b["packets"] == 300 and b["dst_port"] == 9002
        only = ok(call(d, "GET", P + "/flows?port=9002"))
        assert [f["src_port"] for f in only["flows"]] == [40002]
        prom = parse_prometheus(call(d, "GET", "/metrics").raw.decode())
        assert prom["jcap_capture_running"]["samples"][()] == 1
        assert sum(prom["jcap_packets_total"]["samples"].values()) >= 5300
        stop = ok(call(d, "POST", P + "/stop", body={"graceful": True}))
        assert stop["stats"]["packets"] == 5300
        ended = ok(call(d, "GET", P + "/flows?state=all&limit=0&ip=" + v.peer_ip))
        assert sorted((f["packets"], f["end_reason"]) for f in ended["flows"]) == \
            [(300, "shutdown"), (5000, "shutdown")]
        assert ok(call(d, "GET", P + "/flows?ip=" + v.peer_ip))["flows"] == []


def test_sigterm_flushes_gracefully(own_tmp):
    from apinet import Veth
    out = os.path.join(own_tmp, "flows.jsonl")
    d = start_jcapd(own_tmp, config_lines=["export = json:" + out])
    try:
        with Veth("s", subnet=78) as v:
            ok(call(d, "POST", P + "/start", body={"interface": v.host, "backend": "afpacket"},
                    record=False))
            v.send_udp(1000, sport=41000, dport=9100, size=80)
            deadline = time.time() + 20
            while time.time() < deadline:
                m = ok(call(d, "GET", P + "/metrics", record=False))
                if m["total"]["packets"] >= 1000:
                    break
                time.sleep(0.1)
            rc = d.stop(signal.SIGTERM)
    finally:
        if d.proc.poll() is None:
            d.stop()
    log = d.log_text()
    assert rc == 0, log[-2000:]
    assert "session stopped gracefully at shutdown" in log, log[-2000:]
    with open(out) as f:
        recs = [json.loads(x) for x in f if x.strip()]
    mine = [r for r in recs if r["src_ip"] == v.peer_ip and r["src_port"] == 41000]
    assert len(mine) == 1, recs
    assert mine[0]["packets"] == 1000 and mine[0]["end_reason"] == "shutdown"


# ---------------------------------------------------------------- OpenAPI vs server

def deref(doc, s):
    while "$ref" in s:
        node = doc
        for part in s["$ref"].lstrip("#/").split("/"):
            node = node[part]
        s = node
    return s


def validate(doc, schema, v, where):
    s = deref(doc, schema)
    t = s.get("type")
    if t == "object":
        assert isinstance(v, dict), "%s: not an object: %r" % (where, v)
        for k in s.get("required", []):
            assert k in v, "%s: missing required %r" % (where, k)
        props = s.get("properties", {})
        for k, x in v.items():
            if k in props:
                validate(doc, props[k], x, where + "." + k)
            else:
                assert s.get("additionalProperties", True) is not False, \
                    "%s: undocumented field %r" % (where, k)
    elif t == "array":
        assert isinstance(v, list), where
        for i, x in enumerate(v):
            validate(doc, s["items"], x, "%s[%d]" % (where, i))
    elif t == "integer":
        assert isinstance(v, int) and not isinstance(v, bool), "%s: %r" % (where, v)
    elif t == "number":
        assert isinstance(v, (int, float)) and not isinstance(v, bool), "%s: %r" % (where, v)
    elif t == "string":
        assert isinstance(v, str), "%s: %r" % (where, v)
    elif t == "boolean":
        assert isinstance(v, bool), "%s: %r" % (where, v)
    if "enum" in s:
        assert v in s["enum"], "%s: %r not in %r" % (where, v, s["enum"])
    if isinstance(v, int) and not isinstance(v, bool):
        if "minimum" in s:
            assert v >= s["minimum"], where
        if "maximum" in s:
            assert v <= s["maximum"], where


def exercise_every_operation(d):
    """Make daemon @d (the test's own) answer every status the document lists
    for every operation; a 409 from start only while a live session runs."""
    tok = d.token
    big = b"{}" + b" " * 5000	# over the test daemons' max_body_bytes (4096)
    pcap = os.path.join(d.data_dir, "openapi.pcap")
    gen_pcap(pcap, flows=8)
    key = os.path.join(d.data_dir, "key.hex")
    with open(key, "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    q, _img = make_firmware(os.path.join(d.data_dir, "fw"))
    coll = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    coll.bind(("127.0.0.1", 0))
    nf = {"version": 10, "collector": "127.0.0.1", "port": coll.getsockname()[1]}
    try:
        for path in ("/start", "/stop", "/flow/meter/enable", "/netflow/export/enable",
                     "/encryption/enable"):
            err(call(d, "POST", P + path, body={}, token=None), 401)
            err(call(d, "POST", P + path, body={}, token="wrong-" + tok), 403)
            err(call(d, "POST", P + path, raw=big), 413)
            err(call(d, "POST", P + path, raw=b"{}", ctype="text/plain"), 415)
            err(call(d, "POST", P + path, body={"bogus": 1}), 400, "bogus")
        ok(call(d, "POST", P + "/flow/meter/enable", body={"table_size": 65536}))
        ok(call(d, "POST", P + "/encryption/enable", body={"key_file": key}))
        ok(call(d, "POST", P + "/netflow/export/enable", body=nf))
        ok(call(d, "POST", P + "/start", body={"pcap_file": pcap}))
        wait_state(d, ("done",))
        ok(call(d, "POST", P + "/stop", body={"graceful": True}))
        err(call(d, "POST", P + "/stop", body={}), 409)
        for i in range(7):
            ok(call(d, "POST", P + "/netflow/export/enable", body=dict(nf, port=20000 + i)))
        err(call(d, "POST", P + "/netflow/export/enable", body=dict(nf, port=30000)), 409)
    finally:
        coll.close()
    for path in (P + "/backends", P + "/status", P + "/metrics", P + "/flows", "/metrics",
                 "/healthz", "/openapi.json"):
        assert call(d, "GET", path).status == 200, path
        err(call(d, "GET", path + "?verbose=1"), 400, "verbose")
    ok(call(d, "GET", P + "/firmware/verify" + q))
    err(call(d, "GET", P + "/firmware/verify?x=1"), 400, "x")
    err(call(d, "GET", P + "/firmware/verify" + q, token=None), 401)
    err(call(d, "GET", P + "/firmware/verify" + q, token="wrong-" + tok), 403)
    if os.geteuid() == 0:
        from apinet import Veth
        with Veth("o", subnet=79) as v:
            ok(call(d, "POST", P + "/start", body={"interface": v.host, "backend": "afpacket"}))
            err(call(d, "POST", P + "/start", body={"interface": v.host}), 409)
            ok(call(d, "POST", P + "/stop", body={"graceful": True}))


def test_zz_openapi_matches_server(own_tmp):
    """Every reply any test of this module saw (and those of a daemon of its
    own, driven through every documented status) matches the document."""
    d = start_jcapd(own_tmp)
    try:
        exercise_every_operation(d)
        doc = ok(call(d, "GET", "/openapi.json", record=False))
    finally:
        assert d.stop() == 0, d.log_text()[-2000:]
    assert doc["openapi"] == "3.0.3"
    ops = {(m.upper(), p): o for p, item in doc["paths"].items() for m, o in item.items()}
    assert len([k for k in ops if k[1].startswith(P)]) == 10
    # every documented operation exists and every reply seen matches the document
    seen = {}
    for method, path, status, body in OBS:
        if method == "HEAD":
            continue
        key = (method, path)
        if status in (404, 405):
            assert key not in ops or status == 405, (key, status)
            continue
        assert key in ops, "undocumented operation answered: %s %s" % key
        assert status != 500, (key, body)
        resp = ops[key]["responses"].get(str(status))
        assert resp, "%s %s answered %d, not in the document" % (method, path, status)
        content = resp["content"]
        if "application/json" in content:
            validate(doc, content["application/json"]["schema"], body,
                     "%s %s %d" % (method, path, status))
        seen.setdefault(key, set()).add(status)
    live = os.geteuid() == 0
    for key, o in ops.items():
        want = {int(c) for c in o["responses"] if c != "default"}
        if not live and key == ("POST", P + "/start"):
            want.discard(409)	# only a live session is reliably running
        missing = want - seen.get(key, set())
        assert not missing, "%s %s: documented %s never observed" % (key[0], key[1], missing)
        # security is declared exactly where the server asks for a token
        assert bool(o.get("security")) == (key[0] == "POST" or key[1].endswith("/verify")), key
