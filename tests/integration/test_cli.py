# SPDX-License-Identifier: BSD-3-Clause
"""jcap command line: exit codes and the exact one-line messages for bad
files, bad filters and bad option values; --help names every option."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import jcaptest as jt  # noqa: E402
import pcapgen as g  # noqa: E402

C, S = "198.18.0.1", "198.19.0.1"


@pytest.fixture(autouse=True)
def _jcap():
    jt.require_jcap()


def err_line(p):
    """stderr must be exactly one line (no --stats here); returns it."""
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, p.stderr
    return lines[0]


def ten_packets():
    sc = g.Scenario()
    sc.tcp_session(0.0, C, S, 1000, 80, data=2, size=200, close=None)  # 7 packets
    sc.udp_exchange(0.1, C, S, 1001, 53, count=3, size=100)
    return sc


def run_file(f, *extra):
    return jt.run(["-r", f, "-F", "json", "--no-progress"] + list(extra))


def test_zero_length_file(tmp_path):
    f = tmp_path / "empty.pcap"
    f.write_bytes(b"")
    p = run_file(f)
    assert p.returncode == 1
    assert err_line(p) == "jcap: %s: empty file (0 bytes), not a capture" % f
    assert p.stdout == ""


def test_not_a_capture(tmp_path):
    f = tmp_path / "text.pcap"
    f.write_bytes(b"hello, this is not a capture file\n" * 4)
    p = run_file(f)
    assert p.returncode == 1
    assert err_line(p) == "jcap: %s: not a capture file (unknown magic 0x6c6c6568)" % f
    f2 = tmp_path / "tiny"
    f2.write_bytes(b"\xd4\xc3")
    p = run_file(f2)
    assert p.returncode == 1
    assert err_line(p) == "jcap: %s: too short to be a capture file" % f2


def test_bad_version(tmp_path):
    sc = ten_packets()
    f = tmp_path / "v1.pcap"
    f.write_bytes(g.pcap_bytes(sc.records(), 1, version=(1, 0)))
    p = run_file(f)
    assert p.returncode == 1
    assert err_line(p) == "jcap: %s: unsupported pcap version 1.0" % f


def test_truncated_file_header(tmp_path):
    img = ten_packets().write(tmp_path / "full.pcap")
    f = tmp_path / "hdr.pcap"
    f.write_bytes(img[:10])
    p = run_file(f)
    assert p.returncode == 1
    assert err_line(p) == "jcap: %s: truncated: file header is 10 of 24 bytes" % f


def cut_expectations(sc, keep):
    """Expected records for only the first @keep packets of @sc."""
    part = g.Scenario()
    part.pkts = sc.packets()[:keep]
    return part.expected()


@pytest.mark.parametrize("where", ["data", "header"])
def test_record_cut_mid_packet(tmp_path, where):
    """The packets before the cut are metered and reported; the cut is
    stated in one line and the exit status says the input was damaged."""
    sc = ten_packets()
    recs = sc.records()
    img = sc.write(tmp_path / "full.pcap")
    # offset of packet 8's record header
    off = 24 + sum(16 + len(r[1]) for r in recs[:7])
    cut = off + 16 + 5 if where == "data" else off + 9
    f = tmp_path / "cut.pcap"
    f.write_bytes(img[:cut])
    p = jt.run(["-r", f, "-F", "json", "--stats", "--no-progress"])
    exp = cut_expectations(sc, 7)
    got = jt.parse_lines(p.stdout)
    jt.assert_same_flows(got, exp.records, "cut")
    st = jt.parse_stats(p.stderr)
    assert st["packets_read"] == 7
    jt.check_conservation(st, got)
    msg = [ln for ln in p.stderr.splitlines() if ln.startswith("jcap:")]
    if where == "data":
        want = "jcap: %s: truncated: packet 8 needs %d bytes, 5 left at offset %d" % (
            f, len(recs[7][1]), off)
    else:
        want = "jcap: %s: truncated: record header of packet 8 cut at offset %d" % (f, off)
    assert msg == [want]
    assert p.returncode == 1


def test_pcapng_block_cut(tmp_path):
    sc = ten_packets()
    img = sc.write(tmp_path / "full.pcapng", fmt="pcapng")
    f = tmp_path / "cut.pcapng"
    f.write_bytes(img[:-20])  # inside the last packet block
    p = jt.run(["-r", f, "-F", "json", "--stats", "--no-progress"])
    st = jt.parse_stats(p.stderr)
    assert st["packets_read"] == 9
    got = jt.parse_lines(p.stdout)
    jt.assert_same_flows(got, cut_expectations(sc, 9).records, "ngcut")
    last_len = 12 + 20 + len(sc.records()[-1][1]) + (-len(sc.records()[-1][1])) % 4
    msg = [ln for ln in p.stderr.splitlines() if ln.startswith("jcap:")]
    assert msg == ["jcap: %s: truncated: block of %d bytes cut at offset %d" % (
        f, last_len, len(img) - last_len)]
    assert p.returncode == 1


@pytest.mark.parametrize("count", [1, 5, 9])
def test_count_stops_after_n_packets(tmp_path, count):
    sc = ten_packets()
    f = tmp_path / "ok.pcap"
    sc.write(f)
    recs, st = jt.meter(f, "--count", str(count))
    assert st["packets_read"] == count
    jt.assert_same_flows(recs, cut_expectations(sc, count).records, "count")


def test_missing_file_and_directory(tmp_path):
    f = tmp_path / "nope.pcap"
    p = run_file(f)
    assert p.returncode == 1
    assert err_line(p) == "jcap: %s: cannot open: No such file or directory" % f
    # -r DIR reads the directory's capture files (issue 16): none is a usage error
    p = run_file(tmp_path)
    assert p.returncode == 2
    assert err_line(p) == "jcap: -r %s: no capture files in the directory" % tmp_path


@pytest.mark.parametrize("expr,libpcap", [
    ("xxx", "can't parse filter expression: syntax error"),
    ("tcp port 99999", "illegal port number 99999 > 65535"),
    ("tcp port foo", "unknown port 'foo'"),
])
def test_bad_filter(tmp_path, expr, libpcap):
    f = tmp_path / "ok.pcap"
    ten_packets().write(f)
    p = run_file(f, "--filter", expr)
    assert p.returncode in (1, 2)
    line = err_line(p)
    assert line.startswith("jcap: ") and ("invalid filter '%s': %s" % (expr, libpcap)) in line


@pytest.mark.parametrize("opt,val", [
    ("--table-size", "4095"), ("--table-size", "16777217"), ("--table-size", "abc"),
    ("--table-size", "-1"), ("--workers", "0"), ("--workers", "x"), ("--idle-timeout", "-5"),
    ("--active-timeout", "1s"), ("--top", "-1"), ("--sort", "color"), ("-F", "xml"),
    ("--snaplen", "63"), ("-b", "carrier-pigeon"),
])
def test_bad_option_values(tmp_path, opt, val):
    f = tmp_path / "ok.pcap"
    ten_packets().write(f)
    p = run_file(f, opt, val)
    assert p.returncode == 2, (opt, val, p.returncode, p.stderr)
    line = err_line(p)
    assert line.startswith("jcap: ") and (opt.lstrip("-") in line or val in line), line
    assert p.stdout == ""


def test_usage_errors():
    p = jt.run([])
    assert p.returncode == 2 and "usage: jcap -r FILE | -i IFACE" in p.stderr
    assert p.stdout == ""
    p = jt.run(["--no-such-option"])
    assert p.returncode == 2 and "no-such-option" in p.stderr
    p = jt.run(["-r"])
    assert p.returncode == 2


def test_table_size_limits_accepted(tmp_path):
    f = tmp_path / "ok.pcap"
    sc = ten_packets()
    sc.write(f)
    exp = sc.expected()
    for n in ("4096", "16777216"):
        recs, st = jt.meter(f, "--table-size", n)
        jt.assert_same_flows(recs, exp.records, n)


OPTIONS = ("-r", "-i", "-F", "-w", "--top", "--sort", "--idle-timeout", "--active-timeout",
           "--table-size", "--uniflow", "--filter", "--workers", "--stats", "--no-progress",
           "-b", "--buffer-mb", "--duration", "--count", "--snaplen", "--no-promisc",
           "--tstamp", "--user", "--key", "--export", "--observation-domain",
           "--template-refresh", "--mtu", "--pcap-out", "--pcap-format", "--rotate-size",
           "--rotate-seconds", "--max-files", "--pcap-filter", "--encrypt-key", "--cipher",
           "--store", "--store-max-rows", "--store-max-age", "--verify")
SUBCOMMANDS = ("backends", "decrypt", "verify-firmware", "query", "version")


def test_help_lists_every_option():
    p = jt.run(["--help"])
    assert p.returncode == 0, p.stderr
    text = p.stdout
    words = set(text.replace(",", " ").replace("=", " ").replace("[", " ").replace("]", " ")
                .split())
    missing = [o for o in OPTIONS if o not in words]
    assert not missing, missing
    assert all(s in text for s in SUBCOMMANDS)


def _pkg_version(name):
    import subprocess
    r = subprocess.run(["pkg-config", "--modversion", name], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def test_version():
    p = jt.run(["version"])
    assert p.returncode == 0 and p.stdout.strip()
    lines = p.stdout.splitlines()
    assert lines[:2] == ["jcap 0.1.0", "libpacket_capture 0.1.0"]
    assert ("exporters ipfix+tcp:// ipfix+udp:// ipfix:// ipfix-file: netflow9:// "
            "netflow5:// json: sqlite: kafka:// clickhouse://") in lines
    libs = dict(ln.split()[1:3] for ln in lines if ln.startswith("library "))
    # libmaxminddb (GeoIP) and nDPI are there when the build found them
    assert sorted(set(libs) - {"libmaxminddb", "ndpi"}) == \
        ["libcurl", "libpcap", "librdkafka", "openssl", "sqlite"]
    assert ("libmaxminddb" in libs) == (_pkg_version("libmaxminddb") is not None)
    # the versions the library runs on are the ones installed
    for name, pc in (("librdkafka", "rdkafka"), ("libcurl", "libcurl"), ("sqlite", "sqlite3"),
                     ("libpcap", "libpcap"), ("openssl", "openssl"),
                     ("libmaxminddb", "libmaxminddb")):
        want = _pkg_version(pc)
        if want:
            assert libs[name] == want, (name, libs[name], want)


def block_ends(img, fmt):
    """File offsets where each packet record ends (pcap or one-section pcapng)."""
    ends = []
    if fmt == "pcap":
        o = 24
        while o < len(img):
            incl = int.from_bytes(img[o + 8:o + 12], "little")
            o += 16 + incl
            ends.append(o)
        return ends
    o = 0
    while o < len(img):
        t = int.from_bytes(img[o:o + 4], "little")
        ln = int.from_bytes(img[o + 4:o + 8], "little")
        o += ln
        if t == 6:
            ends.append(o)
    return ends


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_cut_anywhere(tmp_path, fmt):
    """Cut the file at many offsets: exit 0 exactly at a record boundary,
    else exit 1 with one line; the complete records before the cut are
    always metered."""
    sc = ten_packets()
    img = sc.write(tmp_path / ("full." + fmt), fmt=fmt)
    ends = block_ends(img, fmt)
    first = 24 if fmt == "pcap" else ends[0] - (ends[1] - ends[0])
    # every 29th byte, and each record boundary with the bytes either side of
    # it and inside its header (the fuzz replays cut at every byte, without
    # the command line around the reader)
    near = {e + d for e in ends for d in (-1, 1, 4, 15) if first < e + d < len(img)}
    offsets = sorted(set(range(first, len(img), 29)) | set(ends) | near)
    f = tmp_path / ("cut." + fmt)
    for cut in offsets:
        f.write_bytes(img[:cut])
        # (no nDPI: its start is most of a run's time, and the reader is what
        # this test is about; test_corrupted_packets_never_crash keeps it)
        p = jt.run(["-r", f, "-F", "json", "--stats", "--no-progress", "--table-size", "4096",
                    "--no-dpi"])
        st = jt.parse_stats(p.stderr)
        complete = sum(1 for e in ends if e <= cut)
        assert st["packets_read"] == complete, (cut, st["packets_read"], complete)
        jt.check_conservation(st, jt.parse_lines(p.stdout))
        msgs = [ln for ln in p.stderr.splitlines() if ln.startswith("jcap:")]
        if cut in ends or cut == first:
            assert p.returncode == 0 and msgs == [], (cut, p.stderr)
        else:
            assert p.returncode == 1 and len(msgs) == 1 and "truncated" in msgs[0], (cut,
                                                                                  p.stderr)


def test_corrupted_packets_never_crash(tmp_path):
    """Random bytes overwritten inside packet data (record headers intact):
    exit 0, every packet read, conservation; anywhere in the file: exit 0
    or 1 with one line, never a crash or sanitizer report."""
    sc = g.scenario_mixed(seed=9, flows=60)
    sc.fragments(5.0, C, S, 17, 9, 53, 3000, 1480, ident=3)
    sc.fragments(5.1, "2001:2:0:1::9", "2001:2:0:2::9", 6, 9, 80, 3000, 1232, ident=4,
                 v6ext=("hop",))
    sc.ip(5.2, "2001:2:0:1::9", "2001:2:0:2::9", 17, 1, 2, v6ext=("hop", "routing", "dest"))
    sc.ip(5.3, C, S, 6, 1, 2, l2={"vlans": (1, 2, 3), "mpls": (5, 6)})
    sc.ip(5.4, C, S, 6, 1, 2, l2={"pppoe": 1})
    recs = sc.records()
    img = bytearray(sc.write(tmp_path / "base.pcap"))
    spans = []
    o = 24
    for r in recs:
        spans.append((o + 16, o + 16 + len(r[1])))
        o += 16 + len(r[1])
    import random
    rng = random.Random(1)
    f = tmp_path / "bad.pcap"
    for i in range(40):
        b = bytearray(img)
        for _ in range(rng.randint(1, 200)):
            a, e = spans[rng.randrange(len(spans))]
            pos = rng.randrange(a, min(e, a + 80))  # mostly headers
            b[pos] = rng.randrange(256)
        f.write_bytes(bytes(b))
        p = jt.run(["-r", f, "-F", "json", "--stats", "--no-progress", "--workers",
                    str(1 + i % 3), "--table-size", "4096"])
        assert p.returncode == 0, p.stderr[-2000:]
        st = jt.parse_stats(p.stderr)
        assert st["packets_read"] == len(recs)
        jt.check_conservation(st, jt.parse_lines(p.stdout))
    for i in range(30):
        b = bytearray(img)
        for _ in range(rng.randint(1, 20)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        f.write_bytes(bytes(b))
        p = jt.run(["-r", f, "-F", "json", "--stats", "--no-progress", "--table-size", "4096"])
        assert p.returncode in (0, 1), p.stderr[-2000:]
        assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
        msgs = [ln for ln in p.stderr.splitlines() if ln.startswith("jcap:")]
        assert len(msgs) == (p.returncode == 1), p.stderr
