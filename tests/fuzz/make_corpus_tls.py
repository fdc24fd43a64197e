#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Seeds of fuzz_tls (input layout in tests/fuzz/fuzz_tls.c).

  make_corpus_tls.py DIR      writes DIR/* (normally tests/fuzz/corpus/tls)

The hellos and the published QUIC Initials are read from the unit tests'
byte arrays (tests/unit/test_tls.c, tests/unit/test_quic.c), so seeds and
tests hold the same bytes; the frame seeds are plaintexts the harness seals.
"""

import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
UNIT = os.path.join(HERE, "..", "unit")


def c_hex(path, name):
    """The bytes of `static const char NAME[] = "..." "...";` in @path."""
    with open(path) as f:
        src = f.read()
    m = re.search(r"static const char %s\[\] =\s*((?:\s*\"[0-9a-f]*\")+)\s*;" % name, src)
    if not m:
        sys.exit("make_corpus_tls.py: %s not found in %s" % (name, path))
    return bytes.fromhex("".join(re.findall(r"\"([0-9a-f]*)\"", m.group(1))))


def server_hello(exts):
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x13\x01" + b"\x00"
    body += struct.pack("!H", len(exts)) + exts
    return b"\x02" + len(body).to_bytes(3, "big") + body


def varint2(v):
    return struct.pack("!H", 0x4000 | v)


def crypto(ch, lo, hi):
    return b"\x06" + varint2(lo) + varint2(hi - lo) + ch[lo:hi]


def framed(*chunks):
    return b"".join(struct.pack("!H", len(c)) + c for c in chunks)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_corpus_tls.py DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    tls_c = os.path.join(UNIT, "test_tls.c")
    quic_c = os.path.join(UNIT, "test_quic.c")
    h1, h2 = c_hex(tls_c, "hello1_hex"), c_hex(tls_c, "hello2_hex")
    q1, q2 = c_hex(quic_c, "rfc9001_a2"), c_hex(quic_c, "rfc9369_a2")
    # the ClientHello inside both QUIC Initials (RFC 9001 A.2, 241 bytes)
    ch = bytes.fromhex(
        "010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e86804fe3a47f06a2b69484c"
        "00000413011302010000c000000010000e00000b6578616d706c652e636f6dff01000100000a"
        "00080006001d0017001800100007000504616c706e000500050100000000003300260024001d"
        "00209370b2c9caa47fbabaf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b0003"
        "020304000d0010000e0403050306030203080408050806002d00020101001c00024001003900"
        "320408ffffffffffffffff05048000ffff07048000ffff0801100104800075300901100f0883"
        "94c8f03e51570806048000ffff")
    ack_ping = b"\x03\x00\x00\x01\x00\x00\x00\x01\x02\x03\x01"
    seeds = {
        # mode 0: [0][record size - 1][handshake message]
        "hs_chrome_like": b"\x00\x63" + h1,
        "hs_tls12_alpn_hex": b"\x00\x05" + h2,
        "hs_quic_hello_1byte_records": b"\x00\x00" + ch,
        "hs_server13": b"\x00\x10" + server_hello(b"\x00\x2b\x00\x02\x03\x04"),
        "hs_server12_alpn": b"\x00\x7f" + server_hello(
            b"\x00\x10\x00\x0b\x00\x09\x08http/1.1\xff\x01\x00\x01\x00"),
        # mode 1: [1][0] then [len][datagram]...
        "dg_rfc9001": b"\x01\x00" + framed(q1),
        "dg_rfc9369": b"\x04\x00" + framed(q2),
        # a Handshake packet alone (skipped), then the Initial with a 1-RTT tail
        "dg_handshake_then_rfc9001": b"\x01\x00" + framed(
            b"\xe0\x00\x00\x00\x01\x00\x00\x40\x30" + bytes(48), q1 + b"\x40" + bytes(24)),
        # mode 2: [2][0] then [len][plaintext frames]... sealed by the harness
        "frames_one": b"\x02\x00" + framed(crypto(ch, 0, len(ch))),
        "frames_split_reordered": b"\x02\x00" + framed(crypto(ch, 100, len(ch)),
                                                       ack_ping + crypto(ch, 0, 100)),
        "frames_three_overlap": b"\x02\x00" + framed(crypto(ch, 0, 90), crypto(ch, 60, 200),
                                                     crypto(ch, 150, len(ch))),
        "frames_close": b"\x02\x00" + framed(b"\x1c" + b"\x0a\x06\x03abc"),
    }
    for name, data in sorted(seeds.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
