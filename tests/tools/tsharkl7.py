# SPDX-License-Identifier: BSD-3-Clause
"""tsharkl7: the application fields of a capture as tshark dissects them,
per flow, in the form jcap's JSON records carry them, for tests that check
jcap against an independent dissector (tests/integration/test_corpus_l7.py
on real captures, test_app_fields.py on appgen's own).

packets(pcap) runs tshark once (-T fields, every occurrence) and gives one
dict per frame that carries TLS handshake, DNS or HTTP fields. expected(pkts,
records) assigns each such frame to the jcap record of its 5-tuple whose time
span holds it and derives, from the first relevant frame of each record, what
jcap should report (JA4 computed from tshark's raw fields by appgen.ja4)."""

import shutil
import subprocess

import appgen

SEP = "\x1f"  # between occurrences (user agents hold commas)

FIELDS = ("frame.time_epoch", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport",
          "tcp.dstport", "udp.srcport", "udp.dstport", "tls.handshake.type",
          "tls.handshake.version", "tls.handshake.ciphersuite", "tls.handshake.extension.type",
          "tls.handshake.extensions_server_name", "tls.handshake.extensions_alpn_str",
          "tls.handshake.sig_hash_alg_len", "tls.handshake.sig_hash_alg",
          "tls.handshake.extensions.supported_version", "tls.handshake.extensions_supported_group",
          "tls.handshake.extensions_ec_point_format", "tls.handshake.ja3", "quic.version",
          "dns.flags.response", "dns.qry.name", "dns.qry.type", "dns.flags.rcode",
          "dns.count.answers", "http.request.method", "http.request.uri", "http.host",
          "http.user_agent", "http.response.code")

NAME_MAX = 127  # CAPTURE_NAME_LEN - 1: jcap cuts longer names


def available():
    return shutil.which("tshark") is not None


def _int(s):
    return int(s, 0)


def packets(pcap, decode_as=(), timeout=300):
    """[{field: [occurrences]}] of the frames with application fields;
    @decode_as: tshark -d rules (a port tshark gives another protocol)."""
    cmd = ["tshark", "-n", "-r", str(pcap), "-T", "fields", "-E", "occurrence=a",
           "-E", "aggregator=" + SEP, "-E", "separator=\t",
           "-Y", "tls.handshake.type == 1 || tls.handshake.type == 2 || dns || mdns || "
           "llmnr || http",
           # a response where its header ends, not where its body does
           "-o", "http.desegment_body:FALSE"]
    for d in decode_as:
        cmd += ["-d", d]
    for f in FIELDS:
        cmd += ["-e", f]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       errors="surrogateescape")
    assert p.returncode == 0, p.stderr[-2000:]
    out = []
    for line in p.stdout.splitlines():
        cols = line.split("\t")
        cols += [""] * (len(FIELDS) - len(cols))
        out.append({f: (c.split(SEP) if c else []) for f, c in zip(FIELDS, cols)})
    return out


def _ns(epoch):
    sec, _, frac = epoch.partition(".")
    return int(sec) * 10**9 + int((frac + "000000000")[:9])


def flow_of(pk):
    """(proto, src, sport, dst, dport, ts_ns) of a frame: its innermost IP
    header (the last occurrence) and its transport ports."""
    if pk["tcp.srcport"]:
        proto, sp, dp = 6, pk["tcp.srcport"][-1], pk["tcp.dstport"][-1]
    elif pk["udp.srcport"]:
        proto, sp, dp = 17, pk["udp.srcport"][-1], pk["udp.dstport"][-1]
    else:
        return None
    if pk["ipv6.src"]:
        s, d = pk["ipv6.src"][-1], pk["ipv6.dst"][-1]
    else:
        s, d = pk["ip.src"][-1], pk["ip.dst"][-1]
    return proto, s, int(sp), d, int(dp), _ns(pk["frame.time_epoch"][0])


def _sig_algs(pk):
    """signature_algorithms (0x000d) of a ClientHello frame: tshark lists
    signature_algorithms_cert (0x0032) values under the same field, so the
    lists are cut by their lengths, in extension order."""
    algs = [_int(x) for x in pk["tls.handshake.sig_hash_alg"]]
    lens = [_int(x) // 2 for x in pk["tls.handshake.sig_hash_alg_len"]]
    kinds = [t for t in (_int(x) for x in pk["tls.handshake.extension.type"])
             if t in (0x000D, 0x0032)]
    off = 0
    for kind, n in zip(kinds, lens):
        if kind == 0x000D:
            return algs[off:off + n]
        off += n
    return []


def client_hello(pk):
    """The truth of one ClientHello frame (its first hello if several)."""
    types = [_int(x) for x in pk["tls.handshake.extension.type"]]
    sv = pk["tls.handshake.extensions.supported_version"]
    alpn = pk["tls.handshake.extensions_alpn_str"]
    first = alpn[0].encode("utf-8", "surrogateescape") if alpn else None
    legacy = _int(pk["tls.handshake.version"][0])
    quic = bool(pk["quic.version"])
    out = {"ja4": appgen.ja4([_int(x) for x in pk["tls.handshake.ciphersuite"]], types,
                             _sig_algs(pk), legacy, [_int(x) for x in sv] if 0x002B in types
                             else None, first, proto="q" if quic else "t")}
    if pk["tls.handshake.ja3"] and not quic:
        out["ja3"] = pk["tls.handshake.ja3"][0]
    vers = [v for v in (_int(x) for x in sv) if not appgen.is_grease(v)]
    out["tls_version"] = max(vers) if vers else legacy
    if pk["tls.handshake.extensions_server_name"]:
        out["tls_sni"] = pk["tls.handshake.extensions_server_name"][0][:NAME_MAX]
    if alpn and alpn[0]:
        out["tls_alpn"] = alpn[0][:31]
    return out


def server_hello(pk):
    sv = pk["tls.handshake.extensions.supported_version"]
    out = {"tls_version": _int(sv[0]) if sv else _int(pk["tls.handshake.version"][0])}
    alpn = pk["tls.handshake.extensions_alpn_str"]
    if alpn and alpn[0]:
        out["tls_alpn"] = alpn[0][:31]
    return out


def frame_fields(pk):
    """[(group, {field: value})] of one frame, group in tls_client,
    tls_server, dns_query, dns_response, http_request, http_response (a
    final one: 1xx interim responses but 101 Switching Protocols do not
    count, as in Zeek's http.log)."""
    out = []
    ht = [_int(x) for x in pk["tls.handshake.type"]]
    if 1 in ht and pk["tls.handshake.ciphersuite"]:
        out.append(("tls_client", client_hello(pk)))
    elif 2 in ht and pk["tls.handshake.version"]:
        out.append(("tls_server", server_hello(pk)))
    if pk["dns.qry.name"]:
        q = {"dns_qname": pk["dns.qry.name"][0].rstrip(".")[:NAME_MAX],
             "dns_qtype": _int(pk["dns.qry.type"][0])}
        if q["dns_qname"] in ("<Root>", ""):
            del q["dns_qname"]
        out.append(("dns_query", q))
        if pk["dns.flags.response"] and pk["dns.flags.response"][0] in ("1", "True"):
            out.append(("dns_response", {"dns_rcode": _int(pk["dns.flags.rcode"][0]),
                                         "dns_answers": _int(pk["dns.count.answers"][0])}))
    if pk["http.request.method"]:
        h = {"http_method": pk["http.request.method"][0][:11]}
        if pk["http.request.uri"]:
            h["http_url"] = pk["http.request.uri"][0][:NAME_MAX]
        if pk["http.host"]:
            h["http_host"] = pk["http.host"][0][:NAME_MAX]
        if pk["http.user_agent"]:
            h["http_user_agent"] = pk["http.user_agent"][0][:NAME_MAX]
        out.append(("http_request", h))
    code = _int(pk["http.response.code"][0]) if pk["http.response.code"] else 0
    if code >= 200 or code == 101:
        out.append(("http_response", {"http_status": _int(pk["http.response.code"][0])}))
    return out


def _canon(proto, a, ap, b, bp):
    x, y = (a, ap), (b, bp)
    return (proto,) + ((x, y) if x <= y else (y, x))


def expected(pkts, records):
    """{index of a jcap record: {field: value}}: per record, the first frame
    of each group decides that group's fields (a ServerHello's version and
    ALPN over the ClientHello's). Frames of no record are returned as
    ('unmatched', [...])."""
    by = {}
    for i, r in enumerate(records):
        k = _canon(r["proto"], r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"])
        by.setdefault(k, []).append(i)
    groups = {}
    unmatched = []
    for pk in pkts:
        f = flow_of(pk)
        if f is None:
            continue
        proto, s, sp, d, dp, ts = f
        idx = None
        for i in by.get(_canon(proto, s, sp, d, dp), []):
            r = records[i]
            fwd = (r["src_ip"], r["src_port"]) == (s, sp)
            # records of one 5-tuple (tunnelled directions metered apart):
            # the one that holds the sender's packets at that time
            if r["first_ns"] <= ts <= r["last_ns"] and r["packets" if fwd else "rev_packets"]:
                idx = i
                break
        if idx is None:
            unmatched.append(f)
            continue
        for grp, vals in frame_fields(pk):
            groups.setdefault(idx, {}).setdefault(grp, vals)
    out = {}
    for idx, g in groups.items():
        t = {}
        for grp in ("tls_client", "tls_server", "dns_query", "dns_response", "http_request",
                    "http_response"):
            t.update(g.get(grp, {}))
        if "tls_server" in g and "tls_client" not in g:
            t = {k: v for k, v in t.items() if not k.startswith("tls_")}
        out[idx] = t
    return out, unmatched
