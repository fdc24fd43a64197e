# SPDX-License-Identifier: BSD-3-Clause
"""jcapd sessions on the ebpf backend: the body keys ebpf_hook,
ebpf_map_flows and ebpf_drop (checked, then passed on), the config file's
ebpf_map_flows, exact counts of UDP datagrams sent over a veth pair, and the
jcap_ebpf_* Prometheus counters with their conservation. Root only."""
import os
import re
import subprocess
import time

import pytest

from apihttp import request
from apinet import Veth
from conftest import build_dir, start_jcapd

P = "/packet_capture/capture"
SEND = r"""
import socket, sys
for port in range(42000, 42040):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[1], port))
    for i in range(10):
        s.sendto(bytes(60), (sys.argv[2], 9300))
    s.close()
"""


def prom_value(text, name):
    m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
    assert m, name
    return int(m.group(1))


def test_config_key_checked(own_tmp):
    conf = os.path.join(own_tmp, "bad.conf")
    with open(conf, "w") as f:
        f.write("ebpf_map_flows = 1\n")
    exe = os.path.join(build_dir(), "jcapd")
    if not os.access(exe, os.X_OK):
        pytest.skip("jcapd not built")
    p = subprocess.run([exe, "--listen", "127.0.0.1:0", "--config", conf], capture_output=True,
                       text=True, timeout=20)
    assert p.returncode == 2, p
    assert p.stderr == "%s:1: ebpf_map_flows: expected an integer in 16..16777216, got '1'\n" \
        % conf, p.stderr


def test_ebpf_body_and_counters(own_tmp, monkeypatch):
    # one harvest for the whole run: the 40 flows meet in the 32-entry map
    monkeypatch.setenv("PC_EBPF_HARVEST_MS", "5000")
    d = start_jcapd(own_tmp, config_lines=["ebpf_map_flows = 32"])
    try:
        bk = {b["name"]: b for b in request(d.base, "GET", P + "/backends",
                                            token=d.token).json["backends"]}
        if not bk["ebpf"]["available"]:
            pytest.skip("ebpf unavailable: " + bk["ebpf"]["reason"])
        with Veth("e", subnet=79) as v:
            body = {"interface": v.host, "backend": "ebpf"}
            for bad, msg in [({"ebpf_hook": "kprobe"}, "'ebpf_hook' must be xdp or tc"),
                             ({"ebpf_map_flows": 8}, "ebpf_map_flows"),
                             ({"ebpf_drop": "yes"}, "ebpf_drop")]:
                r = request(d.base, "POST", P + "/start", token=d.token, body=dict(body, **bad))
                assert r.status == 400 and msg in r.json["error"], (bad, r.status, r.json)
            r = request(d.base, "POST", P + "/start", token=d.token,
                        body=dict(body, ebpf_hook="tc"))
            assert r.status == 200 and r.json["backend"] == "ebpf", r.json
            # 40 flows for a 32-entry map, in one go: 8 are handed up
            subprocess.run(["ip", "netns", "exec", v.ns, "/usr/bin/python3", "-c", SEND,
                            v.peer_ip, v.dst_ip], check=True, timeout=60)
            deadline = time.time() + 20
            while time.time() < deadline:
                m = request(d.base, "GET", P + "/metrics", token=d.token).json["total"]
                if m["packets_in_flows"] >= 400:
                    break
                time.sleep(0.2)
            prom = request(d.base, "GET", "/metrics", token=d.token).raw.decode()
            r = request(d.base, "POST", P + "/stop", token=d.token, body={"graceful": True})
            assert r.status == 200, r.json
            m = request(d.base, "GET", P + "/metrics", token=d.token).json["total"]
    finally:
        rc = d.stop()
    d.assert_clean_exit(rc)
    assert m["packets"] == m["packets_in_flows"] == 400, m
    seen = prom_value(prom, "jcap_ebpf_seen_total")
    metered = prom_value(prom, "jcap_ebpf_metered_total")
    full = prom_value(prom, "jcap_ebpf_up_map_full_total")
    assert seen == 400 and full > 0 and metered > 0, prom
    ups = sum(prom_value(prom, "jcap_ebpf_up_%s_total" % r) for r in (
        "non_ip", "vlan", "fragment", "tunnel", "ext_header", "malformed", "map_full",
        "filter"))
    assert seen == metered + ups + prom_value(prom, "jcap_ebpf_ring_full_total") + \
        prom_value(prom, "jcap_ebpf_errors_total")
    # the JSON metrics carry the same counters (read after the stop: nothing
    # was seen after the Prometheus read, when every packet was in a flow)
    e = m["ebpf"]
    assert (e["seen"], e["metered"], e["handed_up"]["map_full"]) == (seen, metered, full), e
    assert sum(e["handed_up"].values()) == ups, e
    assert e["seen"] == e["metered"] + sum(e["handed_up"].values()) + e["ring_full"] + \
        e["errors"], e
    assert e["harvests"] >= 1 and e["harvested_flows"] > 0, e
