# SPDX-License-Identifier: BSD-3-Clause
"""Offline metering with several workers (src/engine/parallel.c): one reader,
workers that decode batches in turn and meter their own shard. The records of
--workers 2, 3 and 4 must be exactly those of --workers 1 (every field but
`worker`), with payload inspection on, over a file of mixed traffic long
enough to span many batches; conservation per worker and in total; packet
storage (-w) and --count give the same packets as one worker."""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import appgen as ag  # noqa: E402
import jcaptest as jt  # noqa: E402
import pcapgen as g  # noqa: E402
from tunnelgen import Tunnel  # noqa: E402

WORKERS = (1, 2, 3, 4)


@pytest.fixture(autouse=True)
def _jcap():
    jt.require_jcap()


def scenario():
    """~9000 packets (9 batches of 1024) over 12 s: mixed IPv4/IPv6/VLAN
    TCP (FIN, RST, open), UDP and ICMP, IPv4 and IPv6 fragments (in and out of
    order), tunnels, TLS/DNS/HTTP sessions, and flows split by idle gaps."""
    sc = ag.AppScenario(seed=5, idle_timeout=2, active_timeout=1800)
    rng = sc.rng
    for i in range(1300):
        at = rng.random() * 8
        v6 = i % 4 == 0
        cl, sv = (g.c6(i), g.s6(i % 40)) if v6 else (g.c4(i + 1), g.s4(i % 40 + 1))
        l2 = {"vlans": (100 + i % 3,)} if i % 5 == 0 else None
        kind = i % 7
        if kind < 3:
            sc.tcp_session(at, cl, sv, 1024 + i, rng.choice([80, 443, 22]),
                           data=rng.randint(1, 5), close=rng.choice(["fin", "rst", None]),
                           size=rng.choice([40, 200, 1200]), l2=l2)
        elif kind < 5:
            sc.udp_exchange(at, cl, sv, 1024 + i, rng.choice([53, 123, 5000]),
                            count=rng.randint(1, 6), gap=0.003, l2=l2)
        elif kind == 5:
            sc.ping(at, cl, sv, count=2, ident=i)
        else:
            # the same 5-tuple again after an idle gap: two flows
            sc.udp_exchange(at, cl, sv, 1024 + i, 7000, count=2, gap=0.001)
            sc.udp_exchange(at + 3.5, cl, sv, 1024 + i, 7000, count=2, gap=0.001)
    for i in range(60):
        at = rng.random() * 8
        src, dst = (g.c4(2000 + i), g.s4(i % 7 + 1)) if i % 2 else (g.c6(2000 + i),
                                                                       g.s6(i % 7))
        order = [2, 0, 1] if i % 3 == 0 else None
        sc.fragments(at, src, dst, 17, 3000 + i, 53, 2400, 1000, 100 + i, order=order)
        sc.fragments(at + 0.01, dst, src, 17, 53, 3000 + i, 2400, 1000, 400 + i)
    for i in range(10):
        # fragments seconds (thousands of packets, several batches) apart
        sc.fragments(0.5 + i * 0.2, g.c4(2500 + i), g.s4(9), 17, 3500 + i, 53, 2400, 1000,
                     900 + i, gap=5.0)
    with sc.tunnel(Tunnel("vxlan", "203.0.113.1", "203.0.113.2", id=5001)):
        for i in range(30):
            sc.tcp_session(rng.random() * 8, g.c4(3000 + i), g.s4(1), 30000 + i, 80, data=2)
    with sc.tunnel(Tunnel("gtpu", "203.0.113.3", "203.0.113.4", teid=(0x11, 0x22))):
        for i in range(30):
            sc.udp_exchange(rng.random() * 8, g.c4(3100 + i), g.s4(2), 31000 + i, 53, count=3)
    for i in range(40):
        at = rng.random() * 8
        sc.tls_session(at, g.c4(4000 + i), g.s4(3), 40000 + i, 443,
                       sni="host%d.example.com" % i, alpn=["h2"], server_alpn="h2",
                       split=1 + i % 3, seed=i)
        sc.dns_query(at + 0.2, g.c4(4100 + i), g.s4(4), 41000 + i, 53,
                     "q%d.example.org" % i, qtype=1, answers=1)
        sc.http_session(at + 0.4, g.c4(4200 + i), g.s4(5), 42000 + i, 80, "GET",
                        "www%d.example.net" % i, "/p%d" % i, "ua/1")
    for k in range(5):
        sc.non_ip(1.0 + k, "arp")
    sc.truncated(4.5, "tcp4")
    sc.malformed(5.5, "ihl")
    return sc


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    d = tmp_path_factory.mktemp("parallel")
    sc = scenario()
    f = d / "mixed.pcap"
    sc.write(f)
    assert len(sc.packets()) > 8 * 1024  # many batches for every worker
    return sc, f


def records_without_worker(recs):
    out = []
    for r in recs:
        r = dict(r)
        del r["worker"]
        out.append(json.dumps(r, sort_keys=True))
    return sorted(out)


def meter_workers(f, n, *opts):
    p = jt.run(["-r", f, "-F", "json", "--stats", "--no-progress", "--idle-timeout", "2",
                "--workers", str(n)] + list(opts))
    assert p.returncode == 0, p.stderr[-3000:]
    recs = jt.parse_lines(p.stdout)
    stats = jt.parse_stats(p.stderr)
    jt.check_conservation(stats, recs)
    assert stats["workers"] == n
    workers = {r["worker"] for r in recs}
    assert workers <= set(range(n))
    if len(recs) > 100:
        assert workers == set(range(n))
    return recs, stats


def test_same_records_as_one_worker(capture):
    sc, f = capture
    one, st1 = meter_workers(f, 1)
    want = records_without_worker(one)
    # the baseline is right: pcapgen's truth, where flows idle at the end of
    # the file (its "ambiguous") end idle, found by the final flush
    exp = sc.expected_app()
    amb = {jt.flow_key(r) for r in exp.ambiguous}
    assert len(amb) > 100
    jt.assert_same_flows([r for r in one if jt.flow_key(r) not in amb],
                         [r for r in exp.records if jt.flow_key(r) not in amb], "parallel-1")
    assert sorted(r["end_reason"] for r in one if jt.flow_key(r) in amb) == ["idle"] * len(amb)
    assert st1["skipped"]["non_ip"] == 5 and st1["skipped"]["fragment_unmatched"] == 20
    for field in ("tls_sni", "dns_qname", "http_host"):
        assert sum(1 for r in one if r.get(field)) == 40, field
    for n in WORKERS[1:]:
        recs, st = meter_workers(f, n)
        assert records_without_worker(recs) == want, "workers %d" % n
        for k in ("packets_read", "bytes_read", "packets_in_flows", "bytes_in_flows",
                  "flows_created", "skipped", "expired", "fragments"):
            assert st[k] == st1[k], (n, k, st[k], st1[k])


def test_same_records_inspection_off(capture):
    _, f = capture
    want = records_without_worker(meter_workers(f, 1, "--inspect", "none")[0])
    for n in (2, 4):
        recs, _ = meter_workers(f, n, "--inspect", "none")
        assert records_without_worker(recs) == want, "workers %d" % n


def test_filter_and_sampling(capture):
    _, f = capture
    for opts in (["--filter", "udp or icmp or arp"], ["--sample", "3"],
                 ["--sample", "5", "--filter", "not tcp port 443"]):
        one, st1 = meter_workers(f, 1, *opts)
        for n in (2, 3):
            recs, st = meter_workers(f, n, *opts)
            assert records_without_worker(recs) == records_without_worker(one), (opts, n)
            assert st["skipped"] == st1["skipped"], (opts, n)


def test_count(capture):
    _, f = capture
    for count in (1, 1025, 5000):
        one, st1 = meter_workers(f, 1, "--count", str(count))
        assert st1["packets_read"] == count
        for n in (2, 4):
            recs, st = meter_workers(f, n, "--count", str(count))
            assert st["packets_read"] == count
            assert records_without_worker(recs) == records_without_worker(one), (count, n)


def test_storage_keeps_file_order(capture, tmp_path):
    _, f = capture
    outs = {}
    for n in (1, 3):
        d = tmp_path / ("w%d" % n)
        d.mkdir()
        recs, _ = meter_workers(f, n, "--pcap-out", str(d), "--filter", "not icmp")
        files = sorted(os.listdir(d))
        assert len(files) == 1, files
        outs[n] = ((d / files[0]).read_bytes(), records_without_worker(recs))
    assert len(outs[1][0]) > 100000
    assert outs[3] == outs[1]
