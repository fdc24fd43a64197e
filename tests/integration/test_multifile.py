# SPDX-License-Identifier: BSD-3-Clause
"""Several inputs in one run (-r repeated, a directory, a glob), merged in
time order, and compressed inputs (gzip, zstd, lz4) read directly: the flows
are those of the single whole file, every field, and conservation holds;
damage gives the documented message and exit code and keeps what was
metered before it."""
import json
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import jcaptest as jt  # noqa: E402
import pcapgen as g  # noqa: E402

COMPRESSORS = {"gz": ["gzip", "-k", "-f", "-q"], "zst": ["zstd", "-k", "-f", "-q"],
               "lz4": ["lz4", "-k", "-f", "-q", "-B4"]}  # 64 KiB blocks (the CLI: 4 MiB)


@pytest.fixture(autouse=True)
def _jcap():
    jt.require_jcap()


def compress(path, ext):
    tool = COMPRESSORS[ext]
    if not shutil.which(tool[0]):
        pytest.skip("%s not installed (scripts/install-deps.sh)" % tool[0])
    out = "%s.%s" % (path, ext)
    subprocess.run(tool + [str(path), out] if ext == "lz4" else tool + [str(path)],
                   check=True)
    return out


def meter(inputs, *opts, rc=0):
    """jcap -r I1 -r I2 ... -F json --stats: (records, stats, stderr lines
    other than the stats object). Checks the exit code and conservation."""
    args = []
    for i in inputs:
        args += ["-r", i]
    p = jt.run(args + ["-F", "json", "--stats", "--no-progress"] + list(opts))
    assert p.returncode == rc, "exit %d:\n%s" % (p.returncode, p.stderr[-3000:])
    recs = jt.parse_lines(p.stdout)
    stats = jt.parse_stats(p.stderr)
    jt.check_conservation(stats, recs)
    msgs = [ln for ln in p.stderr.splitlines() if not ln.startswith("{")]
    return recs, stats, msgs


def canon(recs):
    return sorted(json.dumps(r, sort_keys=True) for r in recs)


def split_records(path):
    """A classic pcap file as (header, [record bytes]) in file order."""
    d = open(path, "rb").read()
    hdr, off, recs = d[:24], 24, []
    while off < len(d):
        incl = int.from_bytes(d[off + 8:off + 12], "little")
        recs.append(d[off:off + 16 + incl])
        off += 16 + incl
    return hdr, recs


@pytest.fixture(scope="module")
def pieces(tmp_path_factory):
    """A scenario written whole and cut by time into three files."""
    d = tmp_path_factory.mktemp("multi")
    sc = g.scenario_mixed(seed=16, flows=300)
    whole = d / "whole.pcap"
    sc.write(whole, nano=True)
    hdr, recs = split_records(whole)
    n = len(recs)
    cuts = [0, n // 3, 2 * n // 3, n]
    parts = []
    for i in range(3):
        p = d / ("part%d.pcap" % i)
        p.write_bytes(hdr + b"".join(recs[cuts[i]:cuts[i + 1]]))
        parts.append(str(p))
    base, _, _ = meter([str(whole)], "--idle-timeout", "30")
    assert len(base) == 300
    return d, str(whole), parts, base, n


def test_repeated_r(pieces):
    d, whole, parts, base, n = pieces
    recs, stats, msgs = meter(parts, "--idle-timeout", "30")
    assert canon(recs) == canon(base)
    assert stats["packets_read"] == n and msgs == []
    # the order on the command line does not matter: time does
    recs, _, _ = meter(parts[::-1], "--idle-timeout", "30")
    assert canon(recs) == canon(base)
    # two workers behind the one merged queue: the same flows (worker aside)
    recs, _, _ = meter(parts, "--idle-timeout", "30", "--workers", "2")
    assert canon([dict(r, worker=0) for r in recs]) == canon(base)


def test_directory_and_glob(pieces):
    d, whole, parts, base, n = pieces
    sub = d / "dir"
    sub.mkdir()
    for p in parts:
        shutil.copy(p, sub)
    (sub / "README").write_text("not a capture\n")
    (sub / ".hidden.pcap").write_bytes(open(parts[0], "rb").read())
    (sub / "nested").mkdir()
    recs, stats, msgs = meter([str(sub)], "--idle-timeout", "30")
    assert canon(recs) == canon(base) and stats["packets_read"] == n
    pre = "jcap: -r %s: 2 entries skipped (not a regular capture file): " % sub
    assert len(msgs) == 1 and msgs[0].startswith(pre), msgs
    assert sorted(msgs[0][len(pre):].split(", ")) == ["README", "nested"]
    recs, stats, msgs = meter([str(sub / "part*.pcap")], "--idle-timeout", "30")
    assert canon(recs) == canon(base) and msgs == []
    p = jt.run(["-r", str(sub / "*.nope")])
    assert p.returncode == 2
    assert p.stderr == "jcap: -r %s: no file matches the pattern\n" % (sub / "*.nope")
    empty = d / "empty"
    empty.mkdir()
    p = jt.run(["-r", str(empty)])
    assert p.returncode == 2
    assert p.stderr == "jcap: -r %s: no capture files in the directory\n" % empty


@pytest.mark.parametrize("ext", ["gz", "zst", "lz4"])
def test_compressed(pieces, ext):
    d, whole, parts, base, n = pieces
    recs, stats, _ = meter([compress(whole, ext)], "--idle-timeout", "30")
    assert canon(recs) == canon(base) and stats["packets_read"] == n
    # mixed: compressed and plain pieces merged
    mixed = [compress(parts[0], ext), parts[1], compress(parts[2], ext)]
    recs, stats, _ = meter(mixed, "--idle-timeout", "30")
    assert canon(recs) == canon(base) and stats["packets_read"] == n
    # from a pipe
    with open(whole + "." + ext, "rb") as f:
        p = jt.run(["-r", "-", "-F", "json", "--no-progress", "--idle-timeout", "30"], stdin=f)
    assert p.returncode == 0, p.stderr
    assert canon(jt.parse_lines(p.stdout)) == canon(base)


@pytest.mark.parametrize("ext", ["gz", "zst", "lz4"])
def test_damaged_compressed(pieces, ext, tmp_path):
    d, whole, parts, base, n = pieces
    img = open(compress(whole, ext), "rb").read()
    cut = tmp_path / ("cut.pcap." + ext)
    cut.write_bytes(img[:len(img) * 2 // 3])
    recs, stats, msgs = meter([str(cut)], "--idle-timeout", "30", rc=1)
    name = {"gz": "gzip", "zst": "zstd", "lz4": "lz4"}[ext]
    assert msgs == ["jcap: %s: %s stream truncated: it ends inside a frame after %d "
                    "compressed bytes" % (cut, name, len(img) * 2 // 3)]
    assert 0 < stats["packets_read"] < n and recs  # what came before is metered
    # the stream's checksum of its content (gzip's CRC-32, zstd's and lz4's
    # content checksums: the last 4 bytes of each, the CLIs write them) damaged
    bad = bytearray(img)
    bad[-8 if ext == "gz" else -4] ^= 0x5a
    broken = tmp_path / ("bad.pcap." + ext)
    broken.write_bytes(bytes(bad))
    recs, stats, msgs = meter([str(broken)], "--idle-timeout", "30", rc=1)
    why = {"gz": "incorrect data check", "zst": "Restored data doesn't match checksum",
           "lz4": "ERROR_contentChecksum_invalid"}[ext]
    assert msgs == ["jcap: %s: %s stream damaged: %s" % (broken, name, why)]
    if ext != "gz":
        # libzstd and liblz4 withhold the frame's last block when the
        # checksum after it fails (zlib hands out all before its CRC)
        assert 0 < stats["packets_read"] < n
    else:
        assert stats["packets_read"] == n and canon(recs) == canon(base)


def test_unsupported_compression(tmp_path):
    x = tmp_path / "a.pcap.xz"
    x.write_bytes(b"\xfd7zXZ\x00" + bytes(64))
    p = jt.run(["-r", x, "--no-progress"])
    assert p.returncode == 1
    assert p.stderr == ("jcap: %s: xz-compressed input is not read directly (gzip, zstd "
                        "and lz4 are): decompress it first\n" % x)


def test_interleaved_links(tmp_path):
    """Two captures of the same time (one pcap, one pcapng), every flow's
    packets alternating between them: first/last and TCP history are right
    only in time order."""
    sc = g.Scenario()
    for i in range(40):
        sc.tcp_full(i * 0.01, "198.18.0.%d" % (i + 1), "198.19.0.1", 40000 + i, 443,
                    data=3, gap=0.0003)
        sc.udp_exchange(i * 0.01 + 0.002, "198.18.1.%d" % (i + 1), "198.19.0.2", 50000 + i,
                        53, count=3, gap=0.0004)
    whole = tmp_path / "whole.pcap"
    sc.write(whole, nano=True)
    recs = sc.records("eth")
    a = [r for k, r in enumerate(recs) if k % 2 == 0]
    b = [r for k, r in enumerate(recs) if k % 2 == 1]
    fa, fb = tmp_path / "linkA.pcap", tmp_path / "linkB.pcapng"
    fa.write_bytes(g.pcap_bytes(a, g.LINKTYPE["eth"], nano=True))
    fb.write_bytes(g.pcapng_bytes(b, [(g.LINKTYPE["eth"], 9)]))
    base, _, _ = meter([str(whole)])
    got, stats, msgs = meter([str(fb), str(fa)])
    assert msgs == [] and stats["packets_read"] == len(recs)
    assert canon(got) == canon(base)
    exp = sc.expected()
    jt.assert_same_flows(got, exp.records, "interleaved")
    hist = {r["src_port"]: r["history"] for r in got if r["proto"] == 6}
    assert len(hist) == 40 and set(hist.values()) == {"ShADdFf"}
    # the second link is Linux cooked (SLL): each file's link type travels with
    # its packets (the byte counts then differ by the header; the rest not)
    sll = [r for k, r in enumerate(sc.records("sll")) if k % 2 == 1]
    fc = tmp_path / "linkC.pcapng"
    fc.write_bytes(g.pcapng_bytes(sll, [(g.LINKTYPE["sll"], 9)]))
    got2, stats, msgs = meter([str(fa), str(fc)])
    assert msgs == [] and stats["packets_read"] == len(recs)

    def order_fields(rs):
        return sorted((r["src_port"], r["packets"], r["rev_packets"], r["first_ns"],
                       r["last_ns"], r["tcp_flags"], r["rev_tcp_flags"], r.get("history"))
                      for r in rs)
    assert order_fields(got2) == order_fields(got)
    # one side alone: the history is that of half the packets (the order matters)
    half, _, _ = meter([str(fa)])
    assert {r["history"] for r in half if r["proto"] == 6} != {"ShADdFf"}


def test_truncated_middle_file(pieces, tmp_path):
    """A file cut inside its last record: a warning, the other inputs go on
    to their ends, then the run ends as a truncated single file does (exit 1,
    the same message), with everything readable metered."""
    d, whole, parts, base, n = pieces
    img = open(parts[1], "rb").read()
    cut = tmp_path / "part1.pcap"
    cut.write_bytes(img[:-10])
    _, recs1 = split_records(parts[1])
    last = len(recs1)
    off = len(img) - len(recs1[-1])
    need = len(recs1[-1]) - 16
    err = ("%s: truncated: packet %d needs %d bytes, %d left at offset %d"
           % (cut, last, need, need - 10, off))
    recs, stats, msgs = meter([parts[0], str(cut), parts[2]], "--idle-timeout", "30", rc=1)
    assert msgs == ["jcap: warning: %s; the other inputs go on" % err, "jcap: " + err]
    assert stats["packets_read"] == n - 1
    # a file that cannot be opened stops the run before anything is metered
    p = jt.run(["-r", parts[0], "-r", str(tmp_path / "missing.pcap"), "--stats"])
    assert p.returncode == 1
    assert p.stderr == "jcap: %s: cannot open: No such file or directory\n" % (
        tmp_path / "missing.pcap")
