# SPDX-License-Identifier: BSD-3-Clause
"""End to end: jcap --pcap-out with rotation, max-files, pcapng and snaplen;
encryption at rest (every cipher) checked against the documented container
format, `jcap decrypt` byte-identical to a plain run, `jcap -r FILE.enc --key`
giving the same flows, and the exact errors for a wrong key, a flipped bit, a
truncated file, a plain file and a bad key file; --pcap-filter stores exactly
the matching packets; SIGINT and SIGTERM stop a run whose input has not ended
and leave an encrypted file that decrypts to every packet read."""

import datetime
import hashlib
import hmac
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import zlib

import pytest

import jcaptest
import pcapgen

MB = 1000000          # --rotate-size unit
HDR = 64
REC = 8 + 16          # chunk record overhead
CIPHERS = ("aes-256-gcm", "aes-128-gcm", "chacha20-poly1305")


@pytest.fixture(scope="module")
def env():
    jcaptest.require_jcap()
    d = tempfile.mkdtemp(prefix="test_storage.")
    sc = pcapgen.Scenario(seed=7)
    for i in range(120):    # ~3.8 MB over ~6.5 s of packet time
        sc.udp_exchange(i * 0.05, pcapgen.c4(i + 1), pcapgen.s4(i % 20 + 1), 2000 + i, 53,
                        count=30, gap=0.01, size=1000)
    for i in range(20):
        sc.tcp_session(0.5 + i * 0.2, pcapgen.c6(i), pcapgen.s6(i % 5), 40000 + i, 443)
    sc.non_ip(1.0)
    sc.malformed(2.0)
    inp = os.path.join(d, "in.pcap")
    sc.write(inp)
    key = os.path.join(d, "k.key")
    with open(key, "wb") as f:
        f.write(bytes(range(0xa0, 0xc0)))
    other = os.path.join(d, "other.key")
    with open(other, "w") as f:
        f.write("ff" * 32 + "\n")
    yield {"dir": d, "in": inp, "key": key, "other": other, "keybytes": bytes(range(0xa0, 0xc0))}
    shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------- readers

def read_pcap(path):
    """[(ts_ns, caplen, wirelen, data)] of a classic pcap (us or ns)."""
    with open(path, "rb") as f:
        b = f.read()
    magic = struct.unpack_from("<I", b, 0)[0]
    assert magic in (0xA1B2C3D4, 0xA1B23C4D), "%s: magic %x" % (path, magic)
    mult = 1000 if magic == 0xA1B2C3D4 else 1
    out, off = [], 24
    while off < len(b):
        assert off + 16 <= len(b), "%s: cut record header" % path
        s, sub, cap, wire = struct.unpack_from("<IIII", b, off)
        assert off + 16 + cap <= len(b), "%s: cut record" % path
        out.append((s * 10**9 + sub * mult, cap, wire, b[off + 16:off + 16 + cap]))
        off += 16 + cap
    return out


def read_pcapng(path):
    with open(path, "rb") as f:
        b = f.read()
    assert struct.unpack_from("<II", b, 0)[0] == 0x0A0D0D0A
    out, off = [], 0
    while off < len(b):
        t, n = struct.unpack_from("<II", b, off)
        assert n >= 12 and off + n <= len(b) and struct.unpack_from("<I", b, off + n - 4)[0] == n
        if t == 6:
            _, hi, lo, cap, wire = struct.unpack_from("<IIIII", b, off + 8)
            out.append(((hi << 32) | lo, cap, wire, b[off + 28:off + 28 + cap]))
        off += n
    return out


def tool_count(tool, path):
    if tool == "tcpdump":
        cmd = ["tcpdump", "-nn", "-r", path]
    else:
        cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-e", "frame.number"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 0, "%s -r %s: %s" % (tool, path, p.stderr)
    return len([ln for ln in p.stdout.splitlines() if ln.strip()])


def files(d):
    return sorted(n for n in os.listdir(d))


def store(env, name, *opts):
    """jcap -r in.pcap --pcap-out DIR OPTS: (dir, records, stats)."""
    out = os.path.join(env["dir"], name)
    shutil.rmtree(out, ignore_errors=True)
    recs, stats = jcaptest.meter(env["in"], "--pcap-out", out, *opts)
    return out, recs, stats


def walk_container(b, keybytes, cipher):
    """Check a file against docs/STORAGE.md without decrypting; returns
    (plaintext length, [(offset, L, final)])."""
    assert b[:8] == b"\x89JCAPENC"
    assert b[8] == 1 and b[9] == cipher and b[10] == 1 and b[11] == 0
    assert struct.unpack_from(">I", b, 12)[0] == 65536
    assert b[16:24] == hmac.new(keybytes, b"jcap key id", hashlib.sha256).digest()[:8]
    assert b[56:64] == hashlib.sha256(b[:56]).digest()[:8]
    off, total, chunks = HDR, 0, []
    while off < len(b):
        word, crc = struct.unpack_from(">II", b, off)
        assert crc == zlib.crc32(b[off:off + 4])
        final, n = bool(word >> 31), word & 0x7FFFFFFF
        assert 1 <= n <= 65536 or (final and n == 0)
        chunks.append((off, n, final))
        total += n
        off += REC + n
        assert final == (off == len(b)), "final flag on the last chunk only"
    assert off == len(b) and chunks[-1][2]
    return total, chunks


def key_id(kb):
    return hmac.new(kb, b"jcap key id", hashlib.sha256).hexdigest()[:16]


# ---------------------------------------------------------------- tests

def test_rotation_plain(env):
    src = read_pcap(env["in"])
    out, _, stats = store(env, "plain", "--rotate-size", "1")
    names = files(out)
    got = []
    for n in names:
        assert n.startswith("jcap-") and n.endswith(".pcap"), n
        p = os.path.join(out, n)
        size = os.path.getsize(p)
        assert size <= MB, (n, size)
        pk = read_pcap(p)
        assert tool_count("tcpdump", p) == len(pk)
        assert tool_count("tshark", p) == len(pk)
        got += pk
    total = sum(os.path.getsize(os.path.join(out, n)) for n in names)
    # every file but the last was full: the next file's first record did not fit
    for a, b in zip(names, names[1:]):
        nxt = read_pcap(os.path.join(out, b))[0]
        assert os.path.getsize(os.path.join(out, a)) + 16 + nxt[1] > MB
    assert len(names) == 4
    assert [n[:12] for n in names] == ["jcap-%06d-" % i for i in range(1, 5)]
    assert got == src, "stored packets differ from the input"
    w = stats["writer"]
    assert w == {"packets": len(src), "bytes": total, "queue_drops": 0, "files": 4,
                 "errors": 0}
    # names carry the UTC time of each file's first packet
    for n in names:
        first = read_pcap(os.path.join(out, n))[0][0]
        when = datetime.datetime.fromtimestamp(first // 10**9, datetime.timezone.utc)
        assert n[12:] == when.strftime("%Y%m%dT%H%M%SZ") + ".pcap"


def test_max_files_and_time(env):
    plain = os.path.join(env["dir"], "plain")
    if not os.path.isdir(plain):
        store(env, "plain", "--rotate-size", "1")
    out, _, stats = store(env, "maxf", "--rotate-size", "1", "--max-files", "2")
    assert stats["writer"]["files"] == 4
    names = files(out)
    assert [n[:12] for n in names] == ["jcap-000003-", "jcap-000004-"]
    for n in names:
        with open(os.path.join(out, n), "rb") as a, open(os.path.join(plain, n), "rb") as b:
            assert a.read() == b.read()

    out, _, _ = store(env, "time", "--rotate-seconds", "1")
    src = read_pcap(env["in"])
    span = src[-1][0] - src[0][0]
    names = files(out)
    got, starts = [], []
    for n in names:
        pk = read_pcap(os.path.join(out, n))
        assert pk[-1][0] - pk[0][0] < 10**9
        starts.append(pk[0][0])
        got += pk
    assert got == src
    for a, b in zip(starts, starts[1:]):
        assert b - a >= 10**9
    assert len(names) >= span // 10**9


def test_pcapng_snaplen(env):
    src = read_pcap(env["in"])
    out, _, stats = store(env, "ng", "--pcap-format", "pcapng", "--snaplen", "96")
    names = files(out)
    assert len(names) == 1 and names[0].endswith(".pcapng")
    p = os.path.join(out, names[0])
    pk = read_pcapng(p)
    assert tool_count("tshark", p) == len(src)
    assert tool_count("tcpdump", p) == len(src)
    assert [(t, w) for t, _, w, _ in pk] == [(t, w) for t, _, w, _ in src]
    assert [d for _, _, _, d in pk] == [d[:96] for _, _, _, d in src]
    assert all(c == min(96, w) for _, c, w, _ in pk)
    assert stats["writer"]["packets"] == len(src)


@pytest.mark.parametrize("cipher", range(3))
def test_encrypted_round_trip(env, cipher):
    plain = os.path.join(env["dir"], "plain")
    if not os.path.isdir(plain):
        store(env, "plain", "--rotate-size", "1")
    out, _, stats = store(env, "enc%d" % cipher, "--rotate-size", "1", "--encrypt-key",
                          env["key"], "--cipher", CIPHERS[cipher])
    names = files(out)
    assert names == [n + ".enc" for n in files(plain)]
    assert stats["writer"]["packets"] == len(read_pcap(env["in"]))
    for n in names:
        src = os.path.join(out, n)
        with open(src, "rb") as f:
            b = f.read()
        with open(os.path.join(plain, n[:-4]), "rb") as f:
            want = f.read()
        total, chunks = walk_container(b, env["keybytes"], cipher)
        assert total == len(want)
        assert len(chunks) >= max(1, -(-len(want) // 65536))
        assert want[24:88] not in b, "plaintext visible in the encrypted file"
        dst = os.path.join(env["dir"], "dec.pcap")
        p = jcaptest.run(["decrypt", "--key", env["key"], src, dst])
        assert p.returncode == 0 and p.stderr == "", p.stderr
        with open(dst, "rb") as f:
            assert f.read() == want
        os.unlink(dst)


@pytest.mark.parametrize("fmt", ("pcap", "pcapng"))
def test_read_encrypted_same_flows(env, fmt):
    out, recs, _ = store(env, "one-" + fmt, "--encrypt-key", env["key"], "--pcap-format", fmt)
    names = files(out)
    assert len(names) == 1 and names[0].endswith("." + fmt + ".enc")
    enc = os.path.join(out, names[0])
    got, stats = jcaptest.meter(enc, "--key", env["key"])
    jcaptest.assert_same_flows(got, recs, "jcap -r FILE.enc --key")
    assert stats["packets_read"] == len(read_pcap(env["in"]))


def damaged_copies(env):
    out = os.path.join(env["dir"], "enc0")
    if not os.path.isdir(out):
        store(env, "enc0", "--rotate-size", "1", "--encrypt-key", env["key"])
    src = os.path.join(out, files(out)[0])
    with open(src, "rb") as f:
        b = f.read()
    _, chunks = walk_container(b, env["keybytes"], 0)
    return src, b, chunks


def decrypt_fails(env, data, key, rc=1):
    d = tempfile.mkdtemp(dir=env["dir"])
    src, dst = os.path.join(d, "in.enc"), os.path.join(d, "out.pcap")
    with open(src, "wb") as f:
        f.write(data)
    p = jcaptest.run(["decrypt", "--key", key, src, dst])
    assert p.returncode == rc, p.stderr
    assert os.listdir(d) == ["in.enc"], "output or temporary left behind"
    assert p.stdout == "" and p.stderr.count("\n") == 1, p.stderr
    return p.stderr.replace(src, "IN").rstrip("\n")


def test_decrypt_errors(env):
    src, b, chunks = damaged_copies(env)
    kid = key_id(env["keybytes"])
    oid = key_id(b"\xff" * 32)
    assert decrypt_fails(env, b, env["other"]) == (
        "jcap: IN: wrong key: encrypted under key id %s, the key given has id %s" % (kid, oid))
    c1 = chunks[1][0]
    flipped = bytearray(b)
    flipped[c1 + 8 + 500] ^= 0x10
    assert decrypt_fails(env, bytes(flipped), env["key"]) == (
        "jcap: IN: damaged: chunk 1 failed authentication (altered, reordered or foreign data)")
    flipped = bytearray(b)
    flipped[30] ^= 1
    assert decrypt_fails(env, bytes(flipped), env["key"]) == (
        "jcap: IN: damaged: container header checksum mismatch")
    swapped = b[:chunks[0][0]] + b[chunks[1][0]:chunks[2][0]] + \
        b[chunks[0][0]:chunks[1][0]] + b[chunks[2][0]:]
    assert decrypt_fails(env, swapped, env["key"]).startswith(
        "jcap: IN: damaged: chunk 0 failed authentication")
    last = len(chunks) - 1
    assert decrypt_fails(env, b[:chunks[-1][0]], env["key"]) == (
        "jcap: IN: truncated: file ends after chunk %d, its final chunk is missing" % (last - 1))
    cut = chunks[1][0] + 8 + 100
    assert decrypt_fails(env, b[:cut], env["key"]) == (
        "jcap: IN: truncated: file ends inside chunk 1 (100 of %d bytes)" % (chunks[1][1] + 16))
    assert decrypt_fails(env, b[:40], env["key"]) == (
        "jcap: IN: truncated: file ends inside the 64-byte header (40 bytes)")
    with open(env["in"], "rb") as f:
        assert decrypt_fails(env, f.read(), env["key"]) == (
            "jcap: IN: not an encrypted capture (no jcap container magic)")
    bad = os.path.join(env["dir"], "short.key")
    with open(bad, "wb") as f:
        f.write(b"x" * 31)
    assert decrypt_fails(env, b, bad) == (
        "jcap: %s: invalid key: need 32 raw bytes or 64 hex digits, file holds 31 bytes" % bad)
    # usage errors exit 2
    assert jcaptest.run(["decrypt", src, "x"]).returncode == 2
    assert jcaptest.run(["decrypt", "--key", env["key"], src]).returncode == 2


def test_read_encrypted_errors(env):
    src, b, chunks = damaged_copies(env)
    p = jcaptest.run(["-r", src, "--key", env["other"], "-F", "json", "--no-progress"])
    assert p.returncode == 1 and "wrong key" in p.stderr, p.stderr
    p = jcaptest.run(["-r", src, "-F", "json", "--no-progress"])
    assert p.returncode == 1 and "--key" in p.stderr, p.stderr
    d = tempfile.mkdtemp(dir=env["dir"])
    for name, data, word in (("flip", b[:chunks[1][0] + 600] + bytes([b[chunks[1][0] + 600] ^ 4])
                              + b[chunks[1][0] + 601:], "damaged"),
                             ("cut", b[:chunks[-1][0]], "truncated")):
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(data)
        p = jcaptest.run(["-r", path, "--key", env["key"], "-F", "json", "--no-progress"])
        assert p.returncode == 1 and word in p.stderr, (name, p.stderr)


# ---------------------------------------------------------------- --pcap-filter

def test_pcap_filter_stores_matching_packets(env):
    """--pcap-filter "tcp port 443 or arp": the stored file holds exactly the
    TCP packets to or from port 443 and the ARP frames, in order and whole;
    metering still sees every packet."""
    sc = pcapgen.Scenario(seed=3)
    for i in range(10):
        sc.tcp_session(i * 0.01, pcapgen.c4(i + 1), pcapgen.s4(1), 3000 + i, 443 if i % 2 else 80)
        sc.udp_exchange(i * 0.01 + 0.005, pcapgen.c6(i), pcapgen.s6(1), 3000 + i, 443, count=2)
    sc.ping(0.2, pcapgen.c4(99), pcapgen.s4(1))
    sc.non_ip(0.3, "arp")
    sc.non_ip(0.31, "lldp")
    inp = os.path.join(env["dir"], "pf.pcap")
    sc.write(inp)

    def stored(p):
        if p.key is None:
            return p.frame[0] == pcapgen.ETH_ARP
        return p.key[1] == 6 and 443 in (p.key[3], p.key[5])
    want = [(ts, wire, data) for (ts, data, wire, _), p in zip(sc.records(), sc.packets())
            if stored(p)]
    assert len(want) == 5 * 10 + 1
    out = os.path.join(env["dir"], "pf")
    recs, stats = jcaptest.meter(inp, "--pcap-out", out, "--pcap-filter", "tcp port 443 or arp")
    exp = sc.expected()
    jcaptest.assert_same_flows(recs, exp.records, "--pcap-filter")
    jcaptest.assert_stats(stats, exp)
    (name,) = files(out)
    got = [(t, w, d) for t, _, w, d in read_pcap(os.path.join(out, name))]
    assert got == want
    assert stats["writer"]["packets"] == len(want)
    assert tool_count("tcpdump", os.path.join(out, name)) == len(want)


def test_pcap_filter_invalid(env):
    out = os.path.join(env["dir"], "pfbad")
    p = jcaptest.run(["-r", env["in"], "--pcap-out", out, "--pcap-filter", "tcp and",
                      "-F", "json", "--no-progress"])
    assert p.returncode == 2, p.stderr
    assert p.stdout == ""
    assert p.stderr == "jcap: invalid filter 'tcp and': can't parse filter expression: " \
        "syntax error\n"


# ---------------------------------------------------------------- SIGINT / SIGTERM



@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_stops_gracefully(env, tmp_path, sig):
    """A run reading a FIFO whose writer stays open never ends by itself:
    once every packet is read (a flow that the last packet ended is printed),
    SIGINT or SIGTERM stops it. Exit 0, every flow printed (the rest flushed
    as at the end of a file), and the encrypted --pcap-out file is complete:
    `jcap decrypt` gives a pcap holding every packet, exactly."""
    sc = pcapgen.Scenario(seed=21)
    for i in range(30):
        sc.udp_exchange(i * 0.01, pcapgen.c4(i + 1), pcapgen.s4(2), 4000 + i, 53, count=4)
    sc.tcp_session(0.5, pcapgen.c6(1), pcapgen.s6(1), 40000, 443, close="fin")
    sc.non_ip(0.6, "arp")
    # the 5-tuple reused by a new SYN: its first record ends with this, the
    # last packet of the input, so that record on stdout means all was read
    last = sc.ip(0.7, pcapgen.c6(1), pcapgen.s6(1), 6, 40000, 443, flags=pcapgen.SYN)
    assert sc.packets()[-1] is last
    exp = sc.expected()
    first = [r for r in exp.records if r["src_port"] == 40000 and r["end_reason"] == "end"]
    assert len(first) == 1
    img = pcapgen.pcap_bytes(sc.records(), pcapgen.LINKTYPE["eth"])
    fifo = str(tmp_path / "in.fifo")
    os.mkfifo(fifo)
    wfd = os.open(fifo, os.O_RDWR)      # a writer from the start; never closed before the stop
    out = str(tmp_path / "store")
    proc = subprocess.Popen([jcaptest.jcap_path(), "-r", fifo, "-F", "json", "--stats",
                             "--no-progress", "--pcap-out", out, "--encrypt-key", env["key"]],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        view = memoryview(img)
        while view:
            n = os.write(wfd, view[:4096])
            view = view[n:]
        rec = jcaptest.read_json_line(proc, time.monotonic() + 60)
        jcaptest.assert_same_flows([rec], first, "the record the last packet ended")
        assert proc.poll() is None, "jcap ended with its input still open"
        proc.send_signal(sig)
        rest, err = proc.communicate(timeout=60)
    finally:
        os.close(wfd)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    err = err.decode()
    assert proc.returncode == 0, err
    recs = [rec] + jcaptest.parse_lines(rest.decode())
    jcaptest.assert_same_flows(recs, exp.records, "after the signal")
    stats = jcaptest.parse_stats(err)
    jcaptest.check_conservation(stats, recs)
    assert stats["packets_read"] == exp.packets_read
    assert [ln for ln in err.splitlines() if not ln.startswith("{")] == []
    (name,) = files(out)
    assert name.endswith(".pcap.enc"), name
    plain = str(tmp_path / "dec.pcap")
    p = jcaptest.run(["decrypt", "--key", env["key"], os.path.join(out, name), plain])
    assert p.returncode == 0 and p.stderr == "", p.stderr
    got = [(t, w, d) for t, _, w, d in read_pcap(plain)]
    assert got == [(ts, wire, data) for ts, data, wire, _ in sc.records()]
    assert len(got) == exp.packets_read == 30 * 4 + 10 + 1 + 1
