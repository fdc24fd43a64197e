# SPDX-License-Identifier: BSD-3-Clause
"""Helpers for the jcap end-to-end tests: find and run the binary, parse its
JSON lines and --stats object, compare flow records with pcapgen's truth and
check conservation. Standard library (+ pytest for skips) only."""

import base64
import hashlib
import ipaddress
import json
import os
import select
import struct
import subprocess
import time

import pytest

# The JSON flow record of the CLI contract, in order.
FLOW_FIELDS = ("src_ip", "dst_ip", "src_port", "dst_port", "proto", "ip_version", "vlan",
               "packets", "bytes", "rev_packets", "rev_bytes", "tcp_flags", "rev_tcp_flags",
               "first_ns", "last_ns", "icmp_type", "icmp_code", "end_reason", "worker")
# CSV columns after FLOW_FIELDS (link and path identity, docs/EXPORT.md)
CSV_PATH_FIELDS = ("community_id", "interface", "src_mac", "dst_mac", "vlan_inner",
                   "mpls_labels", "tunnel_type", "tunnel_id", "rev_tunnel_id", "outer_src_ip",
                   "outer_dst_ip", "tos", "dscp", "rev_tos", "rev_dscp", "min_ttl", "max_ttl",
                   "rev_min_ttl", "rev_max_ttl")
# then the transport health and application fields (issue 12), the JSON record's order
L7_FIELDS = ("payload_bytes", "rev_payload_bytes", "conn_state", "history",
             "retrans_packets", "retrans_bytes", "rev_retrans_packets", "rev_retrans_bytes",
             "ooo_packets", "rev_ooo_packets", "zero_win", "rev_zero_win", "rtt_us",
             "rtt_syn_us", "app", "app_category", "app_id", "app_master_id", "dpi_confidence",
             "tls_sni", "tls_alpn", "tls_version", "ja4", "ja3", "dns_qname", "dns_qtype",
             "dns_rcode", "dns_answers", "http_method", "http_host", "http_url",
             "http_user_agent", "http_status", "src_country", "dst_country", "src_asn",
             "src_as_org", "dst_asn", "dst_as_org")
SKIP_FIELDS = ("non_ip", "truncated", "malformed", "unsupported_link", "fragment_unmatched",
               "filtered", "flow_disabled", "sampled_out", "tunnel_too_deep")
EXPIRED_FIELDS = ("idle", "active", "end", "evicted", "shutdown")
STATS_FIELDS = ("packets_read", "bytes_read", "packets_in_flows", "bytes_in_flows",
                "flows_created", "flows_exported", "flows_active", "skipped", "expired",
                "export", "writer", "kernel", "workers")


def source_dir():
    d = os.environ.get("PC_SOURCE_DIR")
    if d:
        return d
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def build_dir():
    d = os.environ.get("PC_BUILD_DIR")
    if d:
        return d
    return os.path.join(source_dir(), "build")


def jcap_path():
    return os.path.join(build_dir(), "jcap")


def require_jcap():
    """Path of the jcap binary; skips the test when it is not built."""
    p = jcap_path()
    if not os.access(p, os.X_OK):
        pytest.skip("jcap not built at %s" % p)
    return p


def binding_env():
    """Environment for a python subprocess that loads the binding on this
    build's library: a sanitized library loads only after its runtime."""
    env = dict(os.environ, PACKET_CAPTURE_LIB=os.path.join(build_dir(), "libpacket_capture.so"))
    san = os.environ.get("PC_SANITIZED", "")
    if san:
        rt = "libtsan.so" if "thread" in san else "libasan.so"
        env["LD_PRELOAD"] = subprocess.run(["cc", "-print-file-name=" + rt],
                                           capture_output=True, text=True).stdout.strip()
        if rt == "libasan.so":
            env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1:verify_asan_link_order=0"
    return env


def shared_dir():
    return os.path.normpath(os.path.join(source_dir(), "..", "shared"))


def run(args, timeout=300, stdin=None):
    """Run jcap with @args; returns CompletedProcess (text mode)."""
    return subprocess.run([require_jcap()] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=timeout, stdin=stdin if stdin is not None
                          else subprocess.DEVNULL)


def parse_stats(stderr):
    """The --stats object: the last stderr line that is a JSON object."""
    for line in reversed(stderr.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError("no --stats JSON object on stderr:\n" + stderr[-2000:])


def parse_lines(stdout):
    out = []
    for line in stdout.splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


def meter(pcap, *opts, timeout=300):
    """jcap -r PCAP -F json --stats --no-progress OPTS: (records, stats).
    Asserts exit 0 and conservation."""
    p = run(["-r", pcap, "-F", "json", "--stats", "--no-progress"] + list(opts),
            timeout=timeout)
    assert p.returncode == 0, "jcap %s exited %d:\n%s" % (opts, p.returncode, p.stderr[-3000:])
    recs = parse_lines(p.stdout)
    stats = parse_stats(p.stderr)
    check_conservation(stats, recs)
    return recs, stats


def check_conservation(stats, records=None, uniflow=False):
    """packets_read == packets_in_flows + sum(skipped); when @records are
    given, packets_in_flows/bytes_in_flows equal their sums and every
    exported record is counted once in 'expired'."""
    sk = stats["skipped"]
    assert stats["packets_read"] == stats["packets_in_flows"] + sum(sk.values()), stats
    if records is not None:
        pk = sum(r["packets"] + r["rev_packets"] for r in records)
        by = sum(r["bytes"] + r["rev_bytes"] for r in records)
        assert stats["packets_in_flows"] == pk, (stats["packets_in_flows"], pk)
        assert stats["bytes_in_flows"] == by, (stats["bytes_in_flows"], by)
        assert sum(stats["expired"].values()) == len(records), (stats["expired"], len(records))
        assert stats["flows_exported"] == len(records)
        assert stats["flows_active"] == 0
        for reason in EXPIRED_FIELDS:
            n = sum(1 for r in records if r["end_reason"] == reason)
            assert stats["expired"][reason] == n, (reason, stats["expired"], n)


# Community ID v1 (corelight community-id-spec), written from the spec text
# independently of the C code: request/reply type pairs as Zeek pairs them
_ICMP_PAIRS = {1: {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17},
               58: {128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131,
                    131: 130, 139: 140, 140: 139, 144: 145, 145: 144}}


def community_id(rec, seed=0):
    """The Community ID of a JSON flow record (its src/dst, proto, ports or
    ICMP type/code)."""
    a = ipaddress.ip_address(rec["src_ip"]).packed
    b = ipaddress.ip_address(rec["dst_ip"]).packed
    proto, one_way, ports = rec["proto"], False, True
    if proto in (1, 58):
        t = rec["icmp_type"]
        pair = _ICMP_PAIRS[proto].get(t)
        sp, dp = t, (rec["icmp_code"] if pair is None else pair)
        one_way = pair is None
    elif proto in (6, 17, 132):
        sp, dp = rec["src_port"], rec["dst_port"]
    else:
        sp = dp = 0
        ports = False
    if not one_way and (a, sp) > (b, dp):
        a, b, sp, dp = b, a, dp, sp
    data = struct.pack(">H", seed) + a + b + bytes([proto, 0])
    if ports:
        data += struct.pack(">HH", sp, dp)
    return "1:" + base64.b64encode(hashlib.sha1(data).digest()).decode()


def ip_norm(s):
    return str(ipaddress.ip_address(s))


def norm(rec):
    """A comparable tuple of a record's contract fields (worker left out)."""
    return tuple((ip_norm(rec[f]) if f in ("src_ip", "dst_ip") else rec[f])
                 for f in FLOW_FIELDS if f != "worker")


def flow_key(r):
    """5-tuple + vlan + first_ns: the identity used in mismatch reports."""
    return (r["proto"], ip_norm(r["src_ip"]), r["src_port"], ip_norm(r["dst_ip"]),
            r["dst_port"], r["vlan"], r["first_ns"])


def assert_same_flows(got, exp, what=""):
    """The complete set of records must match field by field."""
    g = sorted(norm(r) for r in got)
    e = sorted(norm(r) for r in exp)
    if g == e:
        return
    gk = {}
    for r in got:
        gk.setdefault(flow_key(r), []).append(r)
    ek = {}
    for r in exp:
        ek.setdefault(flow_key(r), []).append(r)
    lines = ["%s: %d records, expected %d" % (what, len(got), len(exp))]
    for k in sorted(set(gk) | set(ek), key=str):
        a = sorted(norm(r) for r in gk.get(k, []))
        b = sorted(norm(r) for r in ek.get(k, []))
        if a != b:
            names = [f for f in FLOW_FIELDS if f != "worker"]
            if len(a) == 1 and len(b) == 1:
                diff = ["%s=%r (want %r)" % (n, x, y) for n, x, y in zip(names, a[0], b[0])
                        if x != y]
                lines.append("  %s: %s" % (k, ", ".join(diff)))
            else:
                lines.append("  %s: got %s\n      want %s" % (k, a, b))
        if len(lines) > 25:
            lines.append("  ...")
            break
    raise AssertionError("\n".join(lines))


def assert_stats(stats, exp):
    """Skip counters and totals as pcapgen's Expected says."""
    assert stats["packets_read"] == exp.packets_read, (stats["packets_read"], exp.packets_read)
    for r in SKIP_FIELDS:
        assert stats["skipped"][r] == exp.skipped[r], (r, stats["skipped"], exp.skipped)
    assert stats["packets_in_flows"] == exp.packets_in_flows
    assert stats["bytes_in_flows"] == exp.bytes_in_flows
    for r in EXPIRED_FIELDS:
        assert stats["expired"][r] == exp.expired[r], (r, stats["expired"], exp.expired)


def sums_by_tuple(records):
    """{(proto, vlan, (ep_a, ep_b) sorted): {endpoint: [packets, bytes]}}
    summed over every record of the 5-tuple, per sending endpoint."""
    out = {}
    for r in records:
        a = (ip_norm(r["src_ip"]), r["src_port"])
        b = (ip_norm(r["dst_ip"]), r["dst_port"])
        k = (r["proto"], r["vlan"]) + tuple(sorted([a, b]))
        d = out.setdefault(k, {})
        x = d.setdefault(a, [0, 0])
        x[0] += r["packets"]
        x[1] += r["bytes"]
        y = d.setdefault(b, [0, 0])
        y[0] += r["rev_packets"]
        y[1] += r["rev_bytes"]
    for d in out.values():
        for ep in [e for e, v in d.items() if v == [0, 0]]:
            del d[ep]
    return out


def read_json_line(proc, deadline):
    """The next line of @proc's stdout as JSON, waiting until @deadline (monotonic)."""
    buf = b""
    fd = proc.stdout.fileno()
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        assert left > 0, "no complete line on stdout in time (have %r)" % buf
        r, _, _ = select.select([fd], [], [], left)
        if r:
            b = os.read(fd, 1)
            assert b, "stdout closed (jcap exited %s)" % proc.poll()
            buf += b
    return json.loads(buf)
