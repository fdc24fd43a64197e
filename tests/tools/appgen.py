# SPDX-License-Identifier: BSD-3-Clause
"""appgen: application payloads for pcapgen scenarios, with exact truth.

    sc = AppScenario()
    sc.tls_session(0.0, C, S, 40000, 443, sni="a.example", alpn=["h2"], split=3)
    sc.dns_query(1.0, C, S, 40001, 53, "www.example.org", qtype=1, answers=2)
    sc.http_session(2.0, C, S, 40002, 80, "GET", "h.example", "/x?y=1", "ua/1", 200)
    recs = sc.expected_app()   # pcapgen's records + the application fields

Payloads are real protocol messages (TLS 1.2/1.3 ClientHello and ServerHello
per RFC 8446 / 5246, DNS per RFC 1035, HTTP/1.1 per RFC 9112) inside TCP
sessions with consistent sequence numbers (no retransmission, no gap). The
truth of a flow is what a meter must report under the field names of jcap's
JSON (absent when not known): tls_sni, tls_alpn (the ServerHello's when it
sends one, else the first offered), tls_version (the ServerHello's selected
version, else the highest offered), ja3, ja4 (computed here from the fields:
FoxIO's JA4 spec, technical_details/JA4.md, and the JA3 definition), dns_*,
http_*, payload_bytes. ja4()/ja3() take the raw lists (GREASE included) so
other tests compute the fingerprints of tshark's fields with the same code.
QUIC is not generated (its Initials need AES-GCM, which the standard library
lacks): the QUIC tests use RFC 9001's vectors and the corpus.

As a program it writes the benchmark mix of bench/bench_app.sh:
    appgen.py -o mix.pcap --packets 1000000
"""

import hashlib
import struct

import pcapgen as g

# --------------------------------------------------------------------------
# fingerprints (GREASE: RFC 8701 values 0x?a?a with equal bytes)


GREASE = tuple(0x0A0A + 0x1010 * i for i in range(16))


def is_grease(v):
    return (v & 0x0F0F) == 0x0A0A and (v >> 8) == (v & 0xFF)


JA4_VERSION = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3",
               0x0002: "s2", 0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3"}


def _alnum(c):
    return 0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A


def ja4_alpn(first):
    """The two ALPN characters of JA4_a from the first offered value (bytes)."""
    if not first:
        return "00"
    if _alnum(first[0]) and _alnum(first[-1]):
        return chr(first[0]) + chr(first[-1])
    h = first.hex()
    return h[0] + h[-1]


def ja4(ciphers, extensions, sig_algs, legacy_version, supported_versions=None, alpn=None,
        proto="t"):
    """FoxIO JA4 of a ClientHello: @ciphers, @extensions (types in order),
    @sig_algs in order, @supported_versions (None: no such extension),
    @alpn: the first offered value (bytes) or None. GREASE is dropped here."""
    cs = [c for c in ciphers if not is_grease(c)]
    ex = [e for e in extensions if not is_grease(e)]
    sa = [s for s in sig_algs if not is_grease(s)]
    sv = [v for v in (supported_versions or []) if not is_grease(v)]
    ver = max(sv) if supported_versions is not None and sv else legacy_version
    a = "%s%s%s%02d%02d%s" % (proto, JA4_VERSION.get(ver, "00"), "d" if 0 in ex else "i",
                             min(len(cs), 99), min(len(ex), 99), ja4_alpn(alpn))
    b = "000000000000"
    if cs:
        b = hashlib.sha256(",".join("%04x" % c for c in sorted(cs)).encode()).hexdigest()[:12]
    c = "000000000000"
    exs = sorted(e for e in ex if e not in (0x0000, 0x0010))
    if exs:
        s = ",".join("%04x" % e for e in exs)
        if sa:
            s += "_" + ",".join("%04x" % x for x in sa)
        c = hashlib.sha256(s.encode()).hexdigest()[:12]
    return "%s_%s_%s" % (a, b, c)


def ja3_string(legacy_version, ciphers, extensions, groups, point_formats):
    def dash(xs):
        return "-".join(str(x) for x in xs if not is_grease(x))
    return "%d,%s,%s,%s,%s" % (legacy_version, dash(ciphers), dash(extensions), dash(groups),
                               "-".join(str(x) for x in point_formats))


def ja3(legacy_version, ciphers, extensions, groups, point_formats):
    """JA3: MD5 (lower-case hex) of version,ciphers,extensions,groups,formats."""
    s = ja3_string(legacy_version, ciphers, extensions, groups, point_formats)
    return hashlib.md5(s.encode()).hexdigest()


# --------------------------------------------------------------------------
# TLS messages

EXT_SNI, EXT_GROUPS, EXT_EC_FORMATS, EXT_SIG_ALGS, EXT_ALPN = 0x0000, 0x000A, 0x000B, 0x000D, 0x0010
EXT_SESSION_TICKET, EXT_VERSIONS, EXT_KEY_SHARE, EXT_RENEG = 0x0023, 0x002B, 0x0033, 0xFF01
EXT_EMS, EXT_PSK_MODES, EXT_PADDING = 0x0017, 0x002D, 0x0015

CIPHERS_13 = (0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013,
              0xC014, 0x009C, 0x009D, 0x002F, 0x0035)
CIPHERS_12 = (0xC02B, 0xC02F, 0xC00A, 0xC009, 0xC013, 0xC014, 0x0033, 0x0039, 0x002F, 0x0035,
              0x000A, 0x00FF)
SIG_ALGS = (0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)
GROUPS = (0x001D, 0x0017, 0x0018)


def _u8list(xs):
    b = bytes(xs)
    return struct.pack("!B", len(b)) + b


def _u16list(xs):
    b = b"".join(struct.pack("!H", x) for x in xs)
    return struct.pack("!H", len(b)) + b


def _vec16(b):
    return struct.pack("!H", len(b)) + b


def _handshake(htype, body):
    return struct.pack("!B", htype) + struct.pack("!I", len(body))[1:] + body


def tls_records(msg, records=1, ctype=22, version=0x0301):
    """@msg cut into @records TLS records of (nearly) equal size."""
    out, n = b"", len(msg)
    step = -(-n // records)
    for off in range(0, n, step):
        part = msg[off:off + step]
        out += struct.pack("!BHH", ctype, version, len(part)) + part
    return out


def json_text(b):
    """@b as jcap's JSON gives it back: valid UTF-8 decoded, any other byte
    as the character of the same number (written \\u00XX)."""
    t = b.decode("utf-8", "surrogateescape")
    return "".join(chr(ord(c) - 0xdc00) if 0xdc80 <= ord(c) <= 0xdcff else c for c in t)


class ClientHello:
    """A ClientHello from its fields. sni/alpn None: extension absent;
    versions None: no supported_versions (a TLS <= 1.2 client); sig_algs
    None: no signature_algorithms; grease: GREASE values first in the
    ciphers, extensions (one empty extension first, one 1-byte extension
    last), groups, versions and sig_algs, as Chrome sends them; extra:
    further (type, body) extensions before padding."""

    def __init__(self, sni=None, alpn=None, ciphers=CIPHERS_13, versions=(0x0304, 0x0303),
                 sig_algs=SIG_ALGS, groups=GROUPS, point_formats=(0,), grease=False,
                 legacy_version=0x0303, extra=(), padding=0, seed=0):
        self.sni, self.alpn = sni, list(alpn) if alpn is not None else None
        gv = GREASE[seed % 16]
        gr = [gv] if grease else []
        self.ciphers = gr + list(ciphers)
        self.versions = (gr + list(versions)) if versions is not None else None
        self.sig_algs = (gr + list(sig_algs)) if sig_algs is not None else None
        self.groups = gr + list(groups)
        self.point_formats = list(point_formats)
        self.legacy_version = legacy_version
        self.grease, self.gv = grease, gv
        self.extra, self.padding = list(extra), padding
        self.random = hashlib.sha256(b"client%d" % seed).digest()

    def extensions(self):
        """[(type, body)] in the order sent."""
        ex = []
        if self.grease:
            ex.append((self.gv, b""))
        if self.sni is not None:
            # bytes: sent as they are (names that are not UTF-8)
            name = self.sni if isinstance(self.sni, bytes) else self.sni.encode()
            ex.append((EXT_SNI, _vec16(b"\0" + _vec16(name))))
        ex.append((EXT_EMS, b""))
        ex.append((EXT_RENEG, b"\0"))
        ex.append((EXT_GROUPS, _u16list(self.groups)))
        if self.point_formats:
            ex.append((EXT_EC_FORMATS, _u8list(self.point_formats)))
        ex.append((EXT_SESSION_TICKET, b""))
        if self.alpn is not None:
            ex.append((EXT_ALPN, _vec16(b"".join(_u8list(a) for a in self.alpn_bytes))))
        if self.sig_algs is not None:
            ex.append((EXT_SIG_ALGS, _u16list(self.sig_algs)))
        if self.versions is not None:
            ex.append((EXT_KEY_SHARE, _vec16(struct.pack("!HH", 0x001D, 32) + bytes(range(32)))))
            ex.append((EXT_PSK_MODES, b"\x01\x01"))
            vs = b"".join(struct.pack("!H", v) for v in self.versions)
            ex.append((EXT_VERSIONS, struct.pack("!B", len(vs)) + vs))
        ex.extend(self.extra)
        if self.grease:
            ex.append((GREASE[(GREASE.index(self.gv) + 1) % 16], b"\0"))
        if self.padding:
            ex.append((EXT_PADDING, b"\0" * self.padding))
        return ex

    @property
    def alpn_bytes(self):
        return [a.encode() if isinstance(a, str) else bytes(a) for a in self.alpn or []]

    def message(self):
        """The handshake message (type 1)."""
        exts = b"".join(struct.pack("!H", t) + _vec16(b) for t, b in self.extensions())
        body = struct.pack("!H", self.legacy_version) + self.random + _u8list(b"\x11" * 32)
        body += _u16list(self.ciphers) + b"\x01\x00" + _vec16(exts)
        return _handshake(1, body)

    def truth(self):
        types = [t for t, _ in self.extensions()]
        first = self.alpn_bytes[0] if self.alpn_bytes else None
        sv = [v for v in self.versions or [] if not is_grease(v)]
        out = {"ja4": ja4(self.ciphers, types, self.sig_algs or [], self.legacy_version,
                          self.versions, first),
               "ja3": ja3(self.legacy_version, self.ciphers, types, self.groups,
                          self.point_formats),
               "tls_version": max(sv) if sv else self.legacy_version}
        if self.sni:
            # as jcap's JSON gives it back: bytes that are not UTF-8 as \u00XX
            out["tls_sni"] = self.sni if isinstance(self.sni, str) else json_text(self.sni)
        if first:
            out["tls_alpn"] = first.decode()
        return out


def server_hello(version=0x0304, cipher=0x1301, alpn=None, seed=0):
    """A ServerHello selecting @version (TLS 1.3: in supported_versions)."""
    ex = b""
    if alpn is not None:
        ex += struct.pack("!H", EXT_ALPN) + _vec16(_vec16(_u8list(alpn.encode())))
    if version == 0x0304:
        ex += struct.pack("!HHH", EXT_VERSIONS, 2, 0x0304)
        ex += struct.pack("!H", EXT_KEY_SHARE) + _vec16(struct.pack("!HH", 0x001D, 32) +
                                                        bytes(32))
    legacy = 0x0303 if version >= 0x0303 else version
    body = struct.pack("!H", legacy) + hashlib.sha256(b"server%d" % seed).digest()
    body += _u8list(b"\x11" * 32) + struct.pack("!HB", cipher, 0) + _vec16(ex)
    return _handshake(2, body)


# --------------------------------------------------------------------------
# DNS and HTTP messages

def _rdata(qtype, i):
    """Answer @i's RDATA: A, AAAA, MX, TXT; other types a name (the question's)."""
    if qtype == 1:
        return bytes([198, 51, 100, i & 255])
    if qtype == 28:
        return bytes.fromhex("20010db8") + bytes(11) + bytes([i & 255])
    if qtype == 15:
        return struct.pack("!HH", 10 + i, 0xC00C)
    if qtype == 16:
        return b"\x07pcapgen"
    return struct.pack("!H", 0xC00C)


def dns_name(name):
    out = b""
    for label in name.split(".") if name else []:
        out += _u8list(label.encode())
    return out + b"\0"


def dns_message(ident, qname, qtype, response=False, rcode=0, answers=0):
    """A query (RD) or a response (QR RD RA, @answers records naming the
    question through a compression pointer)."""
    flags = 0x0100 | ((0x8080 | rcode) if response else 0)
    msg = struct.pack("!HHHHHH", ident, flags, 1, answers if response else 0, 0, 0)
    msg += dns_name(qname) + struct.pack("!HH", qtype, 1)
    for i in range(answers if response else 0):
        rd = _rdata(qtype, i)
        msg += struct.pack("!HHHIH", 0xC00C, qtype, 1, 300, len(rd)) + rd
    return msg


def http_request(method, host, url, user_agent=None, body=b""):
    h = "%s %s HTTP/1.1\r\n" % (method, url)
    if host is not None:
        h += "Host: %s\r\n" % host
    if user_agent is not None:
        h += "User-Agent: %s\r\n" % user_agent
    h += "Accept: */*\r\n"
    if body:
        h += "Content-Length: %d\r\n" % len(body)
    return (h + "\r\n").encode() + body


def http_response(status, body=b"hello\n"):
    reason = {200: "OK", 301: "Moved Permanently", 404: "Not Found", 500: "Internal Server Error"}
    h = "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % (
        status, reason.get(status, "Status"), len(body))
    return h.encode() + body


# --------------------------------------------------------------------------
# the scenario


def _chunks(data, n):
    step = -(-len(data) // n)
    return [data[i:i + step] for i in range(0, len(data), step)]


class AppScenario(g.Scenario):
    """pcapgen.Scenario plus application sessions. Each session's truth is
    kept by its 5-tuple; expected_app() merges it into pcapgen's records."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.truth = {}

    def _key(self, proto, client, cport, server, sport):
        return (proto, g.addr(client)[1], cport, g.addr(server)[1], sport)

    def _note(self, key, **fields):
        self.truth.setdefault(key, {"payload_bytes": 0, "rev_payload_bytes": 0}).update(fields)

    def _count(self, key, fwd, n):
        self.truth[key]["payload_bytes" if fwd else "rev_payload_bytes"] += n

    def tcp_stream(self, at, client, server, cport, sport, turns, gap=0.001, close="fin"):
        """A TCP connection carrying @turns: [(from_client, [segment bytes])]
        in order, each segment ACKed by the peer's next packet or a pure ACK.
        close: 'fin', 'rst' or None. Returns the time (s) of the last packet."""
        key = self._key(6, client, cport, server, sport)
        self._note(key)
        c2s = (client, server, 6, cport, sport)
        s2c = (server, client, 6, sport, cport)
        seq = {True: 1000, False: 7000}
        t = at
        self.ip(t, *c2s, flags=g.SYN, seq=seq[True] - 1)
        t += gap
        self.ip(t, *s2c, flags=g.SYN | g.ACK, seq=seq[False] - 1, ack=seq[True])
        t += gap
        self.ip(t, *c2s, flags=g.ACK, seq=seq[True], ack=seq[False])
        for from_client, segs in turns:
            for s in segs:
                t += gap
                hdr = c2s if from_client else s2c
                self.ip(t, *hdr, flags=g.PSH | g.ACK, payload=s, seq=seq[from_client],
                        ack=seq[not from_client])
                seq[from_client] += len(s)
                self._count(key, from_client, len(s))
            t += gap
            hdr = s2c if from_client else c2s
            self.ip(t, *hdr, flags=g.ACK, seq=seq[not from_client], ack=seq[from_client])
        if close == "fin":
            t += gap
            self.ip(t, *c2s, flags=g.FIN | g.ACK, seq=seq[True], ack=seq[False])
            t += gap
            self.ip(t, *s2c, flags=g.FIN | g.ACK, seq=seq[False], ack=seq[True] + 1)
            t += gap
            self.ip(t, *c2s, flags=g.ACK, seq=seq[True] + 1, ack=seq[False] + 1)
        elif close == "rst":
            t += gap
            self.ip(t, *c2s, flags=g.RST | g.ACK, seq=seq[True], ack=seq[False])
        return t

    def tls_session(self, at, client, server, cport, sport=443, hello=None, split=1, records=1,
                    server_version=0x0304, server_alpn=None, server_hello_sent=True, seed=0,
                    **hello_kw):
        """TCP handshake, a ClientHello (@hello or ClientHello(**hello_kw)) in
        @records TLS records over @split segments, the ServerHello (plus
        ChangeCipherSpec and opaque application data) unless
        @server_hello_sent is False, then a FIN close."""
        ch = hello or ClientHello(seed=seed, **hello_kw)
        cbytes = tls_records(ch.message(), records)
        turns = [(True, _chunks(cbytes, split))]
        truth = ch.truth()
        if server_hello_sent:
            sh = tls_records(server_hello(server_version, alpn=server_alpn, seed=seed))
            sh += tls_records(b"\x01", ctype=20, version=0x0303)
            sh += tls_records(bytes(range(200)), ctype=23, version=0x0303)
            turns.append((False, [sh]))
            turns.append((True, [tls_records(bytes(90), ctype=23, version=0x0303)]))
            truth["tls_version"] = server_version
            if server_alpn is not None:
                truth["tls_alpn"] = server_alpn
        key = self._key(6, client, cport, server, sport)
        self._note(key, **truth)
        return self.tcp_stream(at, client, server, cport, sport, turns)

    def dns_query(self, at, client, server, cport, sport=53, qname="www.example.org", qtype=1,
                  rcode=0, answers=1, response=True, tcp=False, ident=0x1234, gap=0.002):
        """A DNS query and (unless @response is False) its response, over UDP
        or TCP (length-prefixed, RFC 1035 4.2.2)."""
        q = dns_message(ident, qname, qtype)
        r = dns_message(ident, qname, qtype, True, rcode, answers)
        proto = 6 if tcp else 17
        key = self._key(proto, client, cport, server, sport)
        self._note(key, dns_qname=qname, dns_qtype=qtype)
        if response:
            self._note(key, dns_rcode=rcode, dns_answers=answers)
        if tcp:
            turns = [(True, [struct.pack("!H", len(q)) + q])]
            if response:
                turns.append((False, [struct.pack("!H", len(r)) + r]))
            return self.tcp_stream(at, client, server, cport, sport, turns, gap=gap)
        self.ip(at, client, server, 17, cport, sport, payload=q)
        self._count(key, True, len(q))
        if response:
            self.ip(at + gap, server, client, 17, sport, cport, payload=r)
            self._count(key, False, len(r))
            return at + gap
        return at

    def http_session(self, at, client, server, cport, sport=80, method="GET", host="example.org",
                     url="/", user_agent="pcapgen/1.0", status=200, split=1, body=b"",
                     response=True):
        """An HTTP/1.1 request (over @split segments) and its response."""
        req = http_request(method, host, url, user_agent, body)
        turns = [(True, _chunks(req, split))]
        key = self._key(6, client, cport, server, sport)
        truth = {"http_method": method, "http_url": url}
        if host is not None:
            truth["http_host"] = host
        if user_agent is not None:
            truth["http_user_agent"] = user_agent
        if response:
            turns.append((False, [http_response(status)]))
            truth["http_status"] = status
        self._note(key, **truth)
        return self.tcp_stream(at, client, server, cport, sport, turns)

    def app_truth(self, rec):
        """The application truth of an expected/metered record (by 5-tuple,
        either direction), {} for flows no helper made."""
        a, b = g.addr(rec["src_ip"])[1], g.addr(rec["dst_ip"])[1]
        k = (rec["proto"], a, rec["src_port"], b, rec["dst_port"])
        if k in self.truth:
            return dict(self.truth[k])
        k = (rec["proto"], b, rec["dst_port"], a, rec["src_port"])
        if k in self.truth:
            t = dict(self.truth[k])
            t["payload_bytes"], t["rev_payload_bytes"] = t["rev_payload_bytes"], t["payload_bytes"]
            return t
        return {}

    def expected_app(self, **kw):
        """pcapgen's expected records (Expected), each with its truth merged."""
        exp = self.expected(**kw)
        for r in exp.records:
            r.update(self.app_truth(r))
        return exp


# --------------------------------------------------------------------------
# the benchmark mix (bench/bench_app.sh): TLS, DNS and HTTP sessions with
# real payloads, written in time-ordered chunks so a million packets need
# little memory

SNI_NAMES = ("www.youtube.com", "www.google.com", "github.com", "www.netflix.com",
             "www.facebook.com", "api.example.com", "cdn.example.net", "login.example.org",
             "www.wikipedia.org", "static.example.com", "mail.example.com", "update.example.net")


def imix_chunk(sc, rng, first, flows, t0, span):
    """@flows sessions numbered from @first starting in [t0, t0 + span)."""
    for i in range(first, first + flows):
        at = t0 + rng.random() * span
        cl, sv = g.c4(i % 60000 + 1), g.s4(i % 1000 + 1)
        cport = 1024 + i // 60000 % 60000
        kind = rng.random()
        name = SNI_NAMES[rng.randrange(len(SNI_NAMES))]
        if kind < 0.45:
            ch = ClientHello(sni=name, alpn=["h2", "http/1.1"], grease=rng.random() < 0.5,
                             seed=i, padding=rng.choice((0, 0, 200, 500)))
            bulk = tls_records(bytes(1200), ctype=23, version=0x0303)
            turns = [(True, [tls_records(ch.message())]),
                     (False, [tls_records(server_hello(alpn="h2", seed=i))]),
                     (False, [bulk] * rng.randint(0, 8)), (True, [bulk[:300]])]
            sc.tcp_stream(at, cl, sv, cport, 443, [t for t in turns if t[1]], gap=0.0005)
        elif kind < 0.80:
            sc.dns_query(at, cl, sv, cport, 53, name, qtype=rng.choice((1, 28)),
                         answers=rng.randint(0, 3))
        elif kind < 0.85:
            sc.dns_query(at, cl, sv, cport, 53, name, qtype=16, answers=1, tcp=True)
        else:
            body = bytes(rng.randint(0, 4) * 1400)
            turns = [(True, [http_request("GET", name, "/i/%d" % i, "bench/1.0")]),
                     (False, [http_response(200, body)[k:k + 1400]
                              for k in range(0, len(body) + 100, 1400)])]
            sc.tcp_stream(at, cl, sv, cport, 80, turns, gap=0.0005)


def write_imix(path, packets, seed=1, chunk_flows=2000):
    """About @packets packets of the mix (whole sessions) into a pcap file.
    Returns (packets, flows) written."""
    import random
    rng = random.Random(seed)
    n = flows = 0
    t = 0.0
    with open(path, "wb") as f:
        while n < packets:
            sc = AppScenario(seed=seed)
            imix_chunk(sc, rng, flows, chunk_flows, t, 0.9)
            img = g.pcap_bytes(sc.records(), g.LINKTYPE["eth"])
            f.write(img if n == 0 else img[24:])
            n += len(sc.pkts)
            flows += chunk_flows
            t += 1.0
    return n, flows


def main(argv=None):
    import argparse
    import sys
    ap = argparse.ArgumentParser(description="TLS/DNS/HTTP benchmark mix with real payloads")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--packets", type=int, default=1000000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--chunk-flows", type=int, default=2000,
                    help="sessions per second of capture (written together)")
    a = ap.parse_args(argv)
    n, flows = write_imix(a.out, a.packets, a.seed, a.chunk_flows)
    print("%s: %d packets, %d flows" % (a.out, n, flows), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
