#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Plain seeds of the fuzz targets, written into a corpus root (make_corpus.sh
runs this, then encrypts some of what it wrote with the library).

  make_corpus.py ROOT      writes ROOT/{export_target,cidr,keyfile,jcapd_config,pcapreader}/,
                           the tunnel seeds ROOT/decode/tun_*
                           and ROOT/plain/ (captures for make_corpus.sh to encrypt)

Captures come from tests/tools/pcapgen.py (small scenarios, each file format,
link type and byte order the reader knows); the other seeds are the documented
syntax of each input, a few refusals next to each accepted form.
"""

import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import pcapgen  # noqa: E402

TEST_KEY_HEX = b"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"


def write(root, sub, name, data):
    d = os.path.join(root, sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def export_opts(size, domain=7, refresh=30, mtu=1400, rows=0, age=0, uniflow=True):
    """A capture_export_opts image of @size bytes (x86-64 layout, 40 bytes)."""
    img = struct.pack("<QIIIxxxxQI?xxx", size, domain, refresh, mtu, rows, age, uniflow)
    return (img + b"\0" * 64)[:size]


def export_targets(root):
    plain = {
        "ipfix_v4": "ipfix://127.0.0.1:4739",
        "ipfix_tcp_v6": "ipfix+tcp://[::1]:4739",
        "ipfix_udp_name": "ipfix+udp://collector.example:9995",
        "ipfix_noport": "ipfix://192.0.2.1",
        "ipfix_file": "ipfix-file:/tmp/out.ipfix",
        "nf9": "netflow9://10.0.0.1:2055",
        "nf5_v6_noport": "netflow5://[2001:db8::1]",
        "json_stdout": "json:-",
        "json_path": "json:/var/log/jcap/flows.json",
        "sqlite": "sqlite:flows.db",
        "bad_v6_nobracket": "ipfix://::1:4739",
        "bad_bracket": "ipfix://[::1:4739",
        "bad_port0": "netflow5://host:0",
        "bad_port_big": "netflow9://host:65536",
        "bad_kind": "sflow://host:6343",
        "bad_nohost": "ipfix://:4739",
        "bad_nopath": "json:",
    }
    for name, spec in plain.items():
        write(root, "export_target", name, b"\0\0" + spec.encode())
    # capture_export_opts from this library's callers, an older and a newer one
    for name, size, spec in (("opts_current", 40, "ipfix://[::1]:4739"),
                             ("opts_older", 20, "netflow9://10.0.0.2"),
                             ("opts_newer_zero", 48, "ipfix-file:/tmp/a.ipfix"),
                             ("opts_sqlite", 40, "sqlite:/tmp/s.db")):
        img = export_opts(size, rows=1000 if "sqlite" in spec else 0)
        write(root, "export_target", name, bytes([1, size]) + img + spec.encode())
    img = bytearray(export_opts(48))
    img[44] = 1  # a field this library does not know, set: refused
    write(root, "export_target", "opts_newer_set", bytes([1, 48]) + bytes(img) + b"json:-")


def cidrs(root):
    seeds = {
        "v4_net": "10.0.0.0/8",
        "v4_host": "192.168.1.7",
        "v4_host_bits": "198.18.3.4/22",
        "v4_all": "0.0.0.0/0",
        "v4_32": "203.0.113.9/32",
        "v6_net": "2001:db8::/32",
        "v6_host": "2001:db8:0:0:0:0:0:1",
        "v6_all": "::/0",
        "v6_128": "fe80::1/128",
        "v6_mapped": "::ffff:1.2.3.4/120",
        "bad_v4_33": "10.1.2.3/33",
        "bad_v6_129": "::1/129",
        "bad_empty_prefix": "1.2.3.4/",
        "bad_scope": "fe80::1%eth0",
        "bad_sign": "10.0.0.0/+8",
    }
    for name, s in seeds.items():
        write(root, "cidr", name, s.encode())


def keyfiles(root):
    raw = bytes(range(32))
    seeds = {
        "hex_newline": TEST_KEY_HEX + b"\n",
        "hex_upper_crlf": b"  " + TEST_KEY_HEX.upper() + b"\r\n",
        "raw32": raw,
        "raw32_newlines": b"\n" * 32,  # 32 bytes: raw, whatever they are
        "bad_hex63": TEST_KEY_HEX[:63] + b"\n",
        "bad_hex_char": TEST_KEY_HEX[:10] + b"g" + TEST_KEY_HEX[11:],
        "bad_raw33": raw + b"\n",
        "hex_padded_256": b" " * 96 + TEST_KEY_HEX + b"\t" * 96,
        "bad_257": b" " * 97 + TEST_KEY_HEX + b"\t" * 96,
        "bad_empty": b"",
    }
    for name, s in seeds.items():
        write(root, "keyfile", name, s)


def jcapd_configs(root):
    """jcapd config files: docs/JCAPD.md's example, every key, and the
    refusals tests/api/test_jcapd_config.py checks."""
    seeds = {
        "doc_example": "# jcapd settings\nlisten = 127.0.0.1:8000\n"
                       "token_file = /var/lib/jcapd/token\nallow_dir = /var/lib/jcapd\n"
                       "syslog = true\nflow_table_size = 1048576\nended_ring_size = 1048576\n"
                       "export = ipfix://collector.example:4739\n",
        "every_key": "listen = [::1]:8080\r\ntoken_file = /tmp/t\nallow_dir = /a\n"
                     "allow_dir = /b\nsyslog = no\nlog_level = debug\n"
                     "max_body_bytes = 256\nhttp_threads = 64\nhttp_nice = 19\n"
                     "max_connections = 65536\nmax_connections_per_ip = 1\n"
                     "connection_timeout_sec = 3600\nrequest_timeout_sec = 1\n"
                     "auth_reads = on\nflow_metering = off\nflow_table_size = 4096\n"
                     "flow_idle_timeout_sec = 1\nflow_active_timeout_sec = 604800\n"
                     "ended_ring_size = 0\nrate_window_sec = 60\nflows_scan_max = 33554432\n"
                     "capture_user = root\nexport = json:-\nexport = netflow5://[::1]\n",
        "listen_port_only": "  listen\t=  :9000  \n# trailing comment line",
        "bad_unknown_key": "listen = 127.0.0.1:0\nnope = 1\n",
        "bad_no_equals": "# a comment\nlisten\n",
        "bad_range": "flow_table_size = 4095\n",
        "bad_bool": "syslog = maybe\n",
        "bad_export": "export = json:/dev/null\nexport = ipfix://::1:4739\n",
        "bad_twice": "listen = 127.0.0.1:0\nsyslog = false\nlisten = 127.0.0.1:1\n",
        "bad_idle_over_active": "flow_active_timeout_sec = 60\nflow_idle_timeout_sec = 120\n",
        "bad_nul": "syslog = true\0 # hidden\n",
        "bad_user": "capture_user = no-such-user-jcapd\n",
        "bad_listen": "listen = 300.1.1.1:80\n",
    }
    for name, s in seeds.items():
        write(root, "jcapd_config", name, s.encode())


def scenario(v6=False, frags=False):
    sc = pcapgen.Scenario(seed=1)
    a, b = ("2001:2:0:1::1", "2001:2:0:2::1") if v6 else ("198.18.0.1", "198.19.0.1")
    sc.tcp_session(0.0, a, b, 40000, 443, data=1, close="fin", size=20)
    sc.udp_exchange(0.01, a, b, 5353, 53, count=2, size=12)
    sc.ping(0.02, a, b, count=1, size=8)
    if frags:
        sc.fragments(0.03, a, b, 17, 7000, 9000, size=120, chunk=48, ident=77)
    return sc


def captures(root):
    """pcapreader seeds; the ones also encrypted go to plain/ as well."""
    out = {}
    sc4, sc6 = scenario(), scenario(v6=True)
    out["pcap_us_le_eth"] = pcapgen.pcap_bytes(sc4.records("eth"), 1)
    out["pcap_ns_be_sll"] = pcapgen.pcap_bytes(sc6.records("sll", big_endian=True), 113,
                                               nano=True, big_endian=True)
    out["pcap_raw_frags"] = pcapgen.pcap_bytes(scenario(frags=True).records("raw"), 101)
    out["pcap_null_v6"] = pcapgen.pcap_bytes(sc6.records("null"), 0)
    out["pcap_sll2"] = pcapgen.pcap_bytes(sc4.records("sll2"), 276)
    out["ng_eth_us"] = pcapgen.pcapng_bytes(sc4.records("eth"), [(1, None)])
    out["ng_be_ns_extras"] = pcapgen.pcapng_bytes(sc6.records("eth", big_endian=True),
                                                  [(1, 9)], big_endian=True, extras=True)
    two = scenario()
    recs = two.records(["eth", "raw"], iface_of=lambda p: p.seq % 2)
    out["ng_two_ifs"] = pcapgen.pcapng_bytes(recs, [(1, 6), (101, 9)])
    # cut inside a record and inside a block: the reader's truncation errors
    out["pcap_cut_record"] = out["pcap_us_le_eth"][:-7]
    out["ng_cut_block"] = out["ng_eth_us"][:-9]
    for name, img in out.items():
        write(root, "pcapreader", name, img)
    for name in ("pcap_us_le_eth", "ng_be_ns_extras"):
        write(root, "plain", name, out[name])


def tunnel_seeds(root):
    """decode/ seeds of every tunnel kind (tests/tools/tunnelgen.py): byte 0
    picks Ethernet, then one frame; plus a nested and a too-deep one."""
    import tunnelgen as tg

    cases = {k: [tg.Tunnel(k, id=5)] for k in tg.KINDS if k != "teredo"}
    cases["teredo"] = [tg.Tunnel("teredo")]
    cases["nested_gre_vxlan"] = [tg.Tunnel("gre", id=1), tg.Tunnel("vxlan", "10.0.0.1",
                                                                  "10.0.0.2", id=2)]
    cases["gtpu_ext6"] = [tg.Tunnel("gtpu", "2001:db8::1", "2001:db8::2", gtp_ext=True)]
    cases["too_deep"] = [tg.Tunnel("ipip", "10.9.%d.1" % i, "10.9.%d.2" % i) for i in range(5)]
    for name, layers in sorted(cases.items()):
        sc = pcapgen.Scenario()
        with sc.tunnel(*layers):
            if name == "teredo":
                sc.ip(0.0, "2001:2::1", "2001:2::2", 6, 1024, 80, flags=pcapgen.SYN)
            else:
                sc.ip(0.0, "198.18.0.1", "198.19.0.1", 6, 1024, 80, flags=pcapgen.SYN)
        frame = sc.records("eth")[0][1]
        write(root, "decode", "tun_" + name, b"\0" + frame)


def main():
    if len(sys.argv) != 2:
        print("usage: make_corpus.py ROOT", file=sys.stderr)
        return 2
    root = sys.argv[1]
    export_targets(root)
    cidrs(root)
    keyfiles(root)
    jcapd_configs(root)
    captures(root)
    tunnel_seeds(root)
    write(root, "plain", "test.key", TEST_KEY_HEX + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
