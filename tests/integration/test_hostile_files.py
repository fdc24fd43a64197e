# SPDX-License-Identifier: BSD-3-Clause
"""Hand-made hostile capture files through jcap: each gets its exact one-line
error and exit 1 (or, where the file is legal, exact flows); the good packets
before the damage are metered, printed and conserved in --stats; no file makes
jcap loop (every run has a deadline, far above what it needs even under a
sanitizer) or read a huge file through or into memory (bytes read and peak
RSS are measured, not time)."""
import os
import struct
import subprocess
import sys
import threading

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import jcaptest as jt  # noqa: E402

DEADLINE_S = 120        # a run still going then is stuck (a loop), not slow
U64 = (1 << 64) - 1
MIB = 1 << 20


@pytest.fixture(autouse=True)
def _jcap():
    jt.require_jcap()


# ---------------------------------------------------------------- packets

def _csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip4(proto, l4, src=(198, 18, 0, 1), dst=(198, 19, 0, 1)):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0, 64, proto, 0,
                    bytes(src), bytes(dst))
    return h[:10] + struct.pack("!H", _csum(h)) + h[12:] + l4


def tcp(sp, dp, flags, data=b""):
    return struct.pack("!HHIIBBHHH", sp, dp, 1, 0, 5 << 4, flags, 8192, 0, 0) + data


def udp(sp, dp, data=b""):
    return struct.pack("!HHHH", sp, dp, 8 + len(data), 0) + data


def eth(l3):
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + l3


SYN = eth(ip4(6, tcp(1000, 80, 0x02)))                               # 54 bytes, IP 40
SYNACK = eth(ip4(6, tcp(80, 1000, 0x12), (198, 19, 0, 1), (198, 18, 0, 1)))
ACK = eth(ip4(6, tcp(1000, 80, 0x10, b"GET /")))                      # IP 45
DNS = eth(ip4(17, udp(5353, 53, b"q")))                               # IP 29
GOOD3 = [SYN, SYNACK, ACK]        # one TCP flow, 3 packets, 125 IP bytes


# ---------------------------------------------------------------- files

def pcap_hdr(e="<", nsec=False, linktype=1):
    return struct.pack(e + "IHHiIII", 0xA1B23C4D if nsec else 0xA1B2C3D4, 2, 4, 0, 0,
                       65535, linktype)


def pcap_rec(data, sec=1700000000, frac=0, e="<", incl=None, orig=None):
    return struct.pack(e + "IIII", sec, frac, len(data) if incl is None else incl,
                       len(data) if orig is None else orig) + data


def pcap(pkts, e="<"):
    return pcap_hdr(e) + b"".join(pcap_rec(p, 1700000000 + i, 0, e) for i, p in enumerate(pkts))


def pad4(b):
    return b + b"\0" * (-len(b) % 4)


def block(btype, body, e="<", length=None, trailer=None):
    body = pad4(body)
    n = 12 + len(body)
    return struct.pack(e + "II", btype, n if length is None else length) + body + \
        struct.pack(e + "I", n if trailer is None else trailer)


def opt(code, val, e="<"):
    return struct.pack(e + "HH", code, len(val)) + pad4(val)


def shb(e="<"):
    return block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1), e)


def idb(linktype=1, tsresol=None, tsoffset=None, e="<", snap=65535):
    o = b""
    if tsresol is not None:
        o += opt(9, bytes([tsresol]), e)
    if tsoffset is not None:
        o += opt(14, struct.pack(e + "q", tsoffset), e)
    if o:
        o += struct.pack(e + "HH", 0, 0)
    return block(1, struct.pack(e + "HHI", linktype, 0, snap) + o, e)


def epb(data, ifid=0, ticks=0, e="<"):
    return block(6, struct.pack(e + "IIIII", ifid, ticks >> 32, ticks & 0xFFFFFFFF, len(data),
                                len(data)) + data, e)


def spb(data, e="<"):
    return block(3, struct.pack(e + "I", len(data)) + data, e)


def opb(data, ifid=0, ticks=0, e="<"):
    return block(2, struct.pack(e + "HHIIII", ifid, 0, ticks >> 32, ticks & 0xFFFFFFFF,
                                len(data), len(data)) + data, e)


def custom(e="<"):
    return block(0x00000BAD, struct.pack(e + "I", 32473) + b"hostile", e)


NG_HEAD = shb() + idb()            # 28 + 20 = 48 bytes


# ---------------------------------------------------------------- running

def run_piped(args, data):
    """jcap ARGS reading @data from a pipe on stdin."""
    p = subprocess.run([jt.require_jcap()] + args, input=data, capture_output=True,
                       timeout=DEADLINE_S)
    return subprocess.CompletedProcess(p.args, p.returncode, p.stdout.decode(),
                                       p.stderr.decode())


def by_key(recs):
    return sorted(recs, key=lambda r: (r["src_ip"], r["dst_ip"], r["src_port"], r["dst_port"],
                                       r["proto"]))


def run(args, stdin=None):
    """jcap ARGS with a deadline (a hang fails the test)."""
    return jt.run(args, timeout=DEADLINE_S, stdin=stdin)


def meter(path, *extra):
    return run(["-r", path, "-F", "json", "--stats", "--no-progress"] + list(extra))


def err_lines(p):
    return [ln for ln in p.stderr.splitlines() if ln.strip() and not ln.startswith("{")]


def refused(path, msg, good=0, flows=None, extra=()):
    """jcap must exit 1 with exactly 'jcap: PATH: msg'; the @good packets
    before the damage are read, metered into @flows (list of (packets,
    ip bytes)) and conserved."""
    p = meter(path, *extra)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert err_lines(p) == ["jcap: %s: %s" % (path, msg)]
    st = jt.parse_stats(p.stderr)
    recs = jt.parse_lines(p.stdout)
    jt.check_conservation(st, recs)
    assert st["packets_read"] == good, st
    if flows is not None:
        got = sorted((r["packets"] + r["rev_packets"], r["bytes"] + r["rev_bytes"]) for r in recs)
        assert got == sorted(flows)
    return p, st, recs


def accepted(path, *extra):
    p = meter(path, *extra)
    assert p.returncode == 0, p.stderr
    assert err_lines(p) == []
    recs = jt.parse_lines(p.stdout)
    st = jt.parse_stats(p.stderr)
    jt.check_conservation(st, recs)
    return st, recs


def write(tmp_path, name, data):
    f = tmp_path / name
    f.write_bytes(data)
    return str(f)


# ---------------------------------------------------------------- classic pcap

def test_record_claims_huge_length(tmp_path):
    f = write(tmp_path, "huge.pcap", pcap(GOOD3[:2]) +
              pcap_rec(b"x" * 100, incl=0x7FFFFFFF, orig=0x7FFFFFFF))
    refused(f, "packet 3: capture length 2147483647 is impossible (file damaged?)", 2,
            [(2, 80)])
    # one byte over the 64 MiB limit: refused before any read or allocation
    f = write(tmp_path, "over.pcap", pcap(GOOD3[:2]) +
              pcap_rec(b"x" * 100, incl=(64 << 20) + 1))
    refused(f, "packet 3: capture length 67108865 is impossible (file damaged?)", 2)


def test_record_legal_length_but_file_ends(tmp_path):
    # header 24 + 2 records of 16 + 54 = 164: the third record header is there
    f = write(tmp_path, "short.pcap", pcap(GOOD3[:2]) + pcap_rec(b"x" * 100, incl=64 << 20))
    refused(f, "truncated: packet 3 needs 67108864 bytes, 100 left at offset 164", 2, [(2, 80)])


@pytest.mark.parametrize("e", ["<", ">"])
def test_cut_record_header_and_body(tmp_path, e):
    whole = pcap(GOOD3, e)
    f = write(tmp_path, "hdrcut.pcap", whole[:24 + 2 * 70 + 9])
    refused(f, "truncated: record header of packet 3 cut at offset 164", 2, [(2, 80)])
    f = write(tmp_path, "bodycut.pcap", whole[:-7])
    refused(f, "truncated: packet 3 needs 59 bytes, 52 left at offset 164", 2, [(2, 80)])


def test_zero_filled_tail(tmp_path):
    """A capture whose tail was preallocated and never written."""
    f = write(tmp_path, "tail.pcap", pcap(GOOD3) + b"\0" * 4096)
    refused(f, "packet 4: empty record at offset 239 (zero-filled file?)", 3, [(3, 125)])


def test_linktype_upper_bits_and_unknown_link(tmp_path):
    # FCS-length bits above the link type are ignored; an unknown link type
    # is a per-packet skip, not a file error
    f = write(tmp_path, "fcs.pcap", pcap_hdr()[:20] + struct.pack("<I", 0x1 | (4 << 28)) +
              pcap_rec(SYN))
    st, recs = accepted(f)
    assert st["packets_in_flows"] == 1
    f = write(tmp_path, "lt.pcap", pcap_hdr(linktype=4242) + pcap_rec(SYN) + pcap_rec(ACK))
    st, recs = accepted(f)
    assert st["skipped"]["unsupported_link"] == 2 and recs == []


# ---------------------------------------------------------------- pcapng blocks

@pytest.mark.parametrize("length", [0, 4, 8, 13, 14, 0x7FFFFFFC])
def test_pcapng_block_length_loops(tmp_path, length):
    """0, under 12 or not a multiple of 4 would loop or misalign; over 64 MiB
    is refused before reading."""
    data = NG_HEAD + epb(SYN) + struct.pack("<II", 6, length) + b"\0" * 64
    f = write(tmp_path, "len%d.pcapng" % length, data)
    refused(f, "bad block length %d at offset 136 (file damaged?)" % length, 1, [(1, 40)])


def test_pcapng_trailing_length_differs(tmp_path):
    f = write(tmp_path, "trailer.pcapng", NG_HEAD + epb(SYN) +
              block(6, epb(ACK)[8:-4], trailer=12) + epb(ACK))
    refused(f, "block at offset 136: trailing length 12 differs from 92 (file damaged?)", 1)


def test_pcapng_block_cut(tmp_path):
    f = write(tmp_path, "cut.pcapng", (NG_HEAD + epb(SYN) + epb(SYNACK))[:-10])
    refused(f, "truncated: block of 88 bytes cut at offset 136", 1, [(1, 40)])
    f = write(tmp_path, "hdrcut.pcapng", NG_HEAD + epb(SYN) + b"\x06\0\0\0\x58")
    refused(f, "truncated: block header cut at offset 136", 1, [(1, 40)])


def test_section_header_in_the_middle(tmp_path):
    """A second section (other byte order) resets the interfaces: its own
    interface 0 is raw IPv4; interface ids of the first section are gone."""
    second = shb(">") + idb(228, e=">") + epb(SYNACK[14:], 0, 2_000_000, e=">")
    f = write(tmp_path, "twosec.pcapng", NG_HEAD + epb(SYN, 0, 1_000_000) + second +
              epb(ACK[14:], 0, 3_000_000, e=">"))
    st, recs = accepted(f)
    assert [(r["packets"], r["rev_packets"], r["bytes"] + r["rev_bytes"], r["first_ns"],
             r["last_ns"]) for r in recs] == [(2, 1, 125, 1_000_000_000, 3_000_000_000)]
    f = write(tmp_path, "stale.pcapng", NG_HEAD + idb() + epb(SYN, 1) + second +
              epb(ACK, 1, e=">"))
    # two SYNs on interfaces 0 and 1: two flows (the interface is in the key)
    refused(f, "packet 3: interface 1 not described (1 defined)", 2, [(1, 40), (1, 40)])


def test_interface_id_out_of_range(tmp_path):
    f = write(tmp_path, "ifid.pcapng", NG_HEAD + epb(SYN) + epb(SYNACK, 3))
    refused(f, "packet 2: interface 3 not described (1 defined)", 1, [(1, 40)])
    f = write(tmp_path, "noif.pcapng", shb() + epb(SYN))
    refused(f, "packet 1: interface 0 not described (0 defined)")
    f = write(tmp_path, "noifspb.pcapng", shb() + spb(SYN))
    refused(f, "simple packet before any interface")
    f = write(tmp_path, "opb.pcapng", NG_HEAD + opb(SYN, 0, 5) + opb(SYNACK, 0xFFFF))
    refused(f, "packet 2: interface 65535 not described (1 defined)", 1, [(1, 40)])


def test_too_many_interfaces(tmp_path):
    f = write(tmp_path, "ifs.pcapng", shb() + idb() * 257 + epb(SYN))
    refused(f, "more than 256 interfaces")


def test_simple_packets_and_other_blocks(tmp_path):
    """Simple packet blocks take the time of the packet before them (they
    carry none); custom, statistics and unknown blocks are stepped over, even
    a hundred thousand of them in a row."""
    f = write(tmp_path, "spb.pcapng", NG_HEAD + epb(SYN, 0, 7_000_000) + custom() * 100000 +
              spb(SYNACK) + block(0x12345678, b"?" * 8) + block(5, b"\0" * 12) + spb(ACK))
    st, recs = accepted(f)
    assert [(r["packets"], r["rev_packets"], r["first_ns"], r["last_ns"]) for r in recs] == \
        [(2, 1, 7_000_000_000, 7_000_000_000)]


# ---------------------------------------------------------------- timestamps

def test_tsresol_extremes(tmp_path):
    """2^-63 s and 10^-18 s ticks: the finest resolutions there are."""
    f = write(tmp_path, "fine.pcapng", shb() + idb(1, 0x80 | 63) + idb(1, 18) +
              epb(SYN, 0, 1 << 62) + epb(SYNACK, 0, U64) +
              epb(ACK, 1, 1_700_000_000_123_456_789 * 10))
    st, recs = accepted(f)
    # 2^62 ticks of 2^-63 s = 0.5 s; 2^64-1 ticks = 1.999999999 s;
    # 17000000001234567890 ticks of 10^-18 s = 17.000000001 s
    # the interface is in the flow key: the ACK of interface 1 is a flow of its own
    assert sorted((r["first_ns"], r["last_ns"], r["packets"] + r["rev_packets"])
                  for r in recs) == [(500_000_000, 1_999_999_999, 2), (17_000_000_001,
                                                                        17_000_000_001, 1)]


@pytest.mark.parametrize("code,shown", [(19, "0x13"), (0x80 | 64, "0xc0"), (0xFF, "0xff")])
def test_tsresol_unsupported(tmp_path, code, shown):
    f = write(tmp_path, "res.pcapng", NG_HEAD + epb(SYN) + idb(1, code) + epb(ACK))
    refused(f, "interface 1: unsupported timestamp resolution %s" % shown, 1, [(1, 40)])


def test_timestamps_overflowing_64bit_ns_are_clamped(tmp_path):
    """Real files carry stamps beyond 2554 (all-ones high words): the
    packets are kept, their time clamped to the 64-bit range, one warning."""
    f = write(tmp_path, "over.pcapng", shb() + idb(1, 0) + epb(SYN, 0, 1_700_000_000) +
              epb(SYNACK, 0, 1 << 40) + epb(ACK, 0, U64))
    p = meter(f, "-v")
    assert p.returncode == 0, p.stderr
    warn = [ln for ln in err_lines(p) if "warning" in ln]
    assert warn == ["jcap: warning: %s: packet 2: timestamp outside 1970..2554 clamped to "
                    "2554 (later ones are not reported)" % f]
    recs = jt.parse_lines(p.stdout)
    jt.check_conservation(jt.parse_stats(p.stderr), recs)
    # the jump of centuries ends the first flow (idle); the clamped two meet
    assert sorted((r["first_ns"], r["last_ns"], r["packets"] + r["rev_packets"])
                  for r in recs) == [(1_700_000_000 * 10**9, 1_700_000_000 * 10**9, 1),
                                     (U64, U64, 2)]
    # if_tsoffset of +-2^62 s
    f = write(tmp_path, "offs.pcapng", shb() + idb(1, tsoffset=-(1 << 62)) + epb(SYN, 0, 5) +
              idb(1, tsoffset=1 << 62) + epb(DNS, 1, 5))
    p = meter(f)
    assert p.returncode == 0, p.stderr
    assert err_lines(p) == ["jcap: warning: %s: packet 1: timestamp outside 1970..2554 "
                            "clamped to 1970 (later ones are not reported)" % f]
    recs = jt.parse_lines(p.stdout)
    jt.check_conservation(jt.parse_stats(p.stderr), recs)
    assert sorted((r["first_ns"], r["last_ns"]) for r in recs) == [(0, 0), (U64, U64)]
    # an in-range negative offset is applied exactly
    f = write(tmp_path, "neg.pcapng", shb() + idb(1, tsoffset=-10) + epb(SYN, 0, 10_000_001))
    st, recs = accepted(f)
    assert [(r["first_ns"], r["last_ns"]) for r in recs] == [(1000, 1000)]


# ---------------------------------------------------------------- big and odd inputs

def run_rusage(args, stdin=None):
    """jcap ARGS; returns (returncode, stderr, bytes it read with read(2)
    and the like (rchar), max RSS in MiB)."""
    p = subprocess.Popen([jt.require_jcap()] + args, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, stdin=stdin or subprocess.DEVNULL)
    timer = threading.Timer(DEADLINE_S, p.kill)     # stuck (a loop): killed, and fails
    timer.start()
    try:
        err = p.stderr.read()
        # exited, not reaped: /proc/PID/io of the process can still be read
        os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
    finally:
        timer.cancel()
        p.stderr.close()
    with open("/proc/%d/io" % p.pid) as f:
        rchar = next(int(x.split()[1]) for x in f if x.startswith("rchar:"))
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    assert p.returncode != -9, "jcap %s still running after %d s" % (args, DEADLINE_S)
    return p.returncode, err.decode(), rchar, ru.ru_maxrss / 1024


@pytest.mark.parametrize("head,msg", [
    (b"", "not a capture file (unknown magic 0x00000000)"),
    (pcap_hdr(), "packet 1: empty record at offset 24 (zero-filled file?)"),
    (NG_HEAD, "bad block length 0 at offset 48 (file damaged?)"),
    (pcap_hdr() + pcap_rec(b"", incl=64 << 20),
     "packet 2: empty record at offset 67108904 (zero-filled file?)"),
])
def test_sparse_gigabyte_of_zeros_fails_fast(tmp_path, head, msg):
    f = tmp_path / "sparse.bin"
    with open(f, "wb") as fh:
        fh.write(head)
        fh.truncate(1 << 30)
    rc, err, rchar, rss = run_rusage(["-r", str(f), "-F", "json", "--no-progress"])
    assert rc == 1, err
    assert err.splitlines() == ["jcap: %s: %s" % (f, msg)]
    # the gigabyte is not read through: at most the 64 MiB record and a buffer
    assert rchar < 80 * MIB, rchar
    # the buffer holds one record at most (64 MiB when one claims that)
    assert rss < 512, rss


def test_stdin_and_fifo(tmp_path):
    good = write(tmp_path, "good.pcapng", NG_HEAD + epb(SYN, 0, 1) + epb(SYNACK, 0, 2) +
                 epb(ACK, 0, 3) + epb(DNS, 0, 4))
    st_file, recs_file = accepted(good)
    assert st_file["packets_read"] == 4
    with open(good, "rb") as fh:       # stdin a regular file
        p = run(["-r", "-", "-F", "json", "--stats", "--no-progress"], stdin=fh)
    assert p.returncode == 0, p.stderr
    assert by_key(jt.parse_lines(p.stdout)) == by_key(recs_file)
    assert jt.parse_stats(p.stderr)["packets_read"] == 4
    p = run_piped(["-r", "-", "-F", "json", "--stats", "--no-progress"],
                  open(good, "rb").read())      # stdin a pipe
    assert p.returncode == 0, p.stderr
    assert by_key(jt.parse_lines(p.stdout)) == by_key(recs_file)

    bad = pcap(GOOD3)[:-7]
    p = run_piped(["-r", "-", "-F", "json", "--stats", "--no-progress"], bad)
    assert p.returncode == 1
    assert err_lines(p) == ["jcap: stdin: truncated: packet 3 needs 59 bytes, 52 left at "
                            "offset 164"]
    st = jt.parse_stats(p.stderr)
    jt.check_conservation(st, jt.parse_lines(p.stdout))
    assert st["packets_read"] == 2

    p = run_piped(["-r", "-"], b"")
    assert p.returncode == 1
    assert err_lines(p) == ["jcap: stdin: empty input (0 bytes), not a capture"]

    fifo = str(tmp_path / "fifo")
    for data, rc, msg, n in [
            (open(good, "rb").read(), 0, None, 4),
            (NG_HEAD + epb(SYN) + epb(SYNACK, 3), 1,
             "packet 2: interface 3 not described (1 defined)", 1),
            (pcap_hdr() + pcap_rec(SYN) + pcap_rec(b"", incl=40 << 20) + b"\0" * 4096, 1,
             "truncated: packet 2 needs 41943040 bytes, 4096 left at offset 94", 1)]:
        os.mkfifo(fifo)

        def feed(d=data):
            with open(fifo, "wb") as w:
                try:
                    w.write(d)
                except BrokenPipeError:
                    pass
        t = threading.Thread(target=feed, daemon=True)
        t.start()
        p = meter(fifo)
        if t.is_alive():       # jcap never opened it: release the writer
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        t.join(10)
        os.unlink(fifo)
        assert p.returncode == rc, p.stderr
        assert err_lines(p) == ([] if msg is None else ["jcap: %s: %s" % (fifo, msg)])
        st = jt.parse_stats(p.stderr)
        jt.check_conservation(st, jt.parse_lines(p.stdout))
        assert st["packets_read"] == n


def test_encrypted_input_from_a_pipe_is_refused(tmp_path):
    key = tmp_path / "key.hex"
    key.write_text("00" * 32 + "\n")
    src = write(tmp_path, "src.pcap", pcap(GOOD3))
    out = tmp_path / "out"
    p = run(["-r", src, "-F", "json", "--no-progress", "--pcap-out", str(out),
            "--encrypt-key", str(key)])
    assert p.returncode == 0, p.stderr
    (enc,) = list(out.iterdir())
    st, recs = accepted(str(enc), "--key", str(key))
    assert st["packets_read"] == 3
    p = run_piped(["-r", "-", "--key", str(key)], enc.read_bytes())
    assert p.returncode == 1
    assert err_lines(p) == ["jcap: stdin: encrypted captures are read from regular files, "
                            "not pipes"]
    # cut short (container: 64-byte header, chunks of an 8-byte header and
    # ciphertext + 16-byte tag): the packets of an authenticated chunk are
    # metered, nothing unauthenticated is parsed. The writer seals its data
    # chunk either when it is flushed (then an empty final chunk follows) or
    # at close (then the data chunk is the final one): both layouts occur.
    data = enc.read_bytes()
    body = len(pcap(GOOD3)) + 16
    cut = write(tmp_path, "cut1.enc", data[:len(data) - 5])
    if len(data) == 64 + 8 + body + 8 + 16:
        refused(cut, "truncated: file ends inside chunk 1 (11 of 16 bytes)", 3, [(3, 125)],
                ("--key", str(key)))
    else:
        assert len(data) == 64 + 8 + body
        p = meter(cut, "--key", str(key))    # refused at open: no packet, no stats
        assert p.returncode == 1
        assert err_lines(p) == ["jcap: %s: truncated: file ends inside chunk 0 (%d of %d bytes)"
                                % (cut, body - 5, body)]
        assert p.stdout == ""
    cut = write(tmp_path, "cut0.enc", data[:64 + 8 + 92])
    p = meter(cut, "--key", str(key))
    assert p.returncode == 1
    assert err_lines(p) == ["jcap: %s: truncated: file ends inside chunk 0 (92 of %d bytes)"
                            % (cut, body)]
    assert p.stdout == ""
    # a valid container header, then a sparse gigabyte of zeros
    sparse = tmp_path / "sparse.enc"
    with open(sparse, "wb") as fh:
        fh.write(data[:64])
        fh.truncate(1 << 30)
    rc, err, rchar, rss = run_rusage(["-r", str(sparse), "--key", str(key)])
    assert rc == 1
    assert err.splitlines() == ["jcap: %s: damaged: chunk 0 header checksum mismatch" % sparse]
    assert rchar < 16 * MIB and rss < 512, (rchar, rss)


def test_workers_see_the_same_damage(tmp_path):
    """The offline dispatcher (several workers) meters the good packets
    before the damage exactly like one worker does."""
    f = write(tmp_path, "w.pcap", pcap(GOOD3 + [DNS]) + pcap_rec(b"", incl=0x7FFFFFFF))
    for w in ("1", "2", "3"):
        p = meter(f, "--workers", w)
        assert p.returncode == 1
        assert err_lines(p) == ["jcap: %s: packet 5: capture length 2147483647 is impossible "
                                "(file damaged?)" % f]
        st = jt.parse_stats(p.stderr)
        recs = jt.parse_lines(p.stdout)
        jt.check_conservation(st, recs)
        assert st["packets_read"] == 4
        assert sorted(r["packets"] + r["rev_packets"] for r in recs) == [1, 3]

