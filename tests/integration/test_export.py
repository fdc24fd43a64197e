# SPDX-License-Identifier: BSD-3-Clause
"""NetFlow v5/v9 and IPFIX export against real decoders.

One jcap run over a pcapgen scenario exports to nfcapd (v5, v9, IPFIX), to
plain UDP sockets of this test (raw datagrams: sequence numbers, MTU bound,
options record, tshark), to an IPFIX file and to a TCP collector of this
test (both read back with libfixbuf's ipfixDump). Every flow that the
decoders report must equal the generator's truth, field by field as far as
the protocol carries it: addresses, ports, protocol, ICMP type/code, VLAN,
packets and bytes of each direction, TCP flags, first/last times and the
end reason. Template refresh is checked on a live run on lo. Only loopback
is used; every process started here is stopped by PID.
"""
import calendar
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import jcaptest as jt  # noqa: E402
import pcapgen as g  # noqa: E402

NFCAPD = shutil.which("nfcapd")
NFDUMP = shutil.which("nfdump")
TSHARK = shutil.which("tshark")
IPFIXDUMP = shutil.which("ipfixDump")
NFACCTD = shutil.which("nfacctd") or (os.access("/usr/sbin/nfacctd", os.X_OK)
                                      and "/usr/sbin/nfacctd")
JCAP_TIMEOUT = 60


@pytest.fixture(autouse=True)
def _jcap():
    jt.require_jcap()


def ip(s):
    return str(ipaddress.ip_address(s))


def free_port(kind=socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def udp_bound(port):
    """True when some socket listens on UDP 127.0.0.1:@port (or any address)."""
    want = ("0100007F:%04X" % port, "00000000:%04X" % port)
    with open("/proc/net/udp") as f:
        return any(line.split()[1] in want for line in f.readlines()[1:])


def udp_rx_queue(port):
    """Bytes waiting in the receive queue of the UDP socket bound to @port."""
    with open("/proc/net/udp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if cols[1].endswith(":%04X" % port):
                return int(cols[4].split(":")[1], 16)
    return 0


def wait_bound(proc, port, name):
    """Wait until @proc listens on UDP @port; kills it (by PID) if it never does."""
    deadline = time.time() + 10
    while not udp_bound(port):
        if proc.poll() is not None or time.time() > deadline:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            raise AssertionError("%s did not start on port %d" % (name, port))
        time.sleep(0.05)


def is_icmp(proto):
    return proto in (1, 58)


# --------------------------------------------------------------------------
# collectors run by the test


class Nfcapd:
    """nfcapd on 127.0.0.1:PORT writing into its own directory."""

    def __init__(self, tmp, name):
        self.dir = tmp / ("nfcapd-" + name)
        self.dir.mkdir()
        self.port = free_port()
        self.logpath = self.dir / "log"
        self.log = open(self.logpath, "w")
        self.proc = subprocess.Popen([NFCAPD, "-w", str(self.dir), "-p", str(self.port), "-b",
                                      "127.0.0.1", "-t", "3600"], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_bound(self.proc, self.port, "nfcapd")

    def stop(self):
        """SIGTERM (nfcapd flushes its file), then the nfdump records and its log."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.log.close()
        files = sorted(p for p in self.dir.iterdir()
                       if p.name.startswith("nfcapd.") and "current" not in p.name)
        assert len(files) == 1, (list(self.dir.iterdir()), self.logpath.read_text())
        out = subprocess.run([NFDUMP, "-r", str(files[0]), "-o", "json"], capture_output=True,
                             text=True, timeout=60, env=dict(os.environ, TZ="UTC"))
        assert out.returncode == 0, out.stderr
        text = out.stdout.strip()
        return (json.loads(text) if text.startswith("[") else []), self.logpath.read_text()


class Nfacctd:
    """pmacct's nfacctd with a print plugin writing CSV; reverse counters are
    read through an aggregate_primitives file (PEN 29305 elements 1 and 2)."""

    def __init__(self, tmp):
        self.dir = tmp / "nfacctd"
        self.dir.mkdir()
        self.port = free_port()
        self.csv = self.dir / "flows.csv"
        (self.dir / "primitives.lst").write_text(
            "name=rev_packets field_type=29305:2 len=8 semantics=u_int\n"
            "name=rev_bytes field_type=29305:1 len=8 semantics=u_int\n")
        conf = self.dir / "nfacctd.conf"
        conf.write_text("\n".join([
            "daemonize: false", "nfacctd_ip: 127.0.0.1", "nfacctd_port: %d" % self.port,
            "nfacctd_time_new: true", "plugins: print[flows]",
            "aggregate_primitives: %s" % (self.dir / "primitives.lst"),
            "aggregate[flows]: src_host, dst_host, src_port, dst_port, proto, rev_packets, "
            "rev_bytes",
            "print_output[flows]: csv", "print_output_file[flows]: %s" % self.csv,
            "print_output_file_append[flows]: true", "print_refresh_time[flows]: 1", ""]))
        self.log = open(self.dir / "log", "w")
        self.proc = subprocess.Popen([NFACCTD, "-f", str(conf)], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_bound(self.proc, self.port, "nfacctd")

    def rows(self):
        import csv
        if not self.csv.exists():
            return []
        with open(self.csv) as f:
            return list(csv.DictReader(f))

    def stop(self, want_rows):
        """Call once the exporter has exited. Waits (at most 10 s) until the
        daemon has read every datagram (its socket's receive queue is
        empty) and its print plugin has written @want_rows rows (it does on
        its 1 s refresh, though not always), then stops it: SIGINT (the
        plugin writes what it still holds on the way out), SIGKILL if it
        lingers. Returns the rows, once @want_rows are there or 10 s after
        the stop (the plugin process may finish after the core)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and udp_rx_queue(self.port):
            time.sleep(0.05)
        while time.monotonic() < deadline and len(self.rows()) < want_rows:
            time.sleep(0.1)
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(self.rows()) < want_rows:
            time.sleep(0.1)
        return self.rows()


SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux asm-generic value


class UdpSink:
    """Keeps every datagram that reaches 127.0.0.1:PORT with the kernel's
    receive time (SO_TIMESTAMPNS, so a slow test thread cannot skew it)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.got = []
        self.running = True
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _recv(self):
        d, anc, _, _ = self.sock.recvmsg(65535, socket.CMSG_SPACE(16))
        t = None
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", data[:16])
                t = sec + nsec / 1e9
        assert t is not None, "no receive timestamp"
        self.got.append((t, d))

    def _run(self):
        while self.running:
            try:
                self._recv()
            except socket.timeout:
                continue
            except OSError:
                return

    def stop(self):
        """Call once the sender has exited: what it sent over loopback is in
        the socket's queue by then; take all of it."""
        self.running = False
        self.th.join()
        self.sock.setblocking(False)
        while True:
            try:
                self._recv()
            except BlockingIOError:
                break
        self.sock.close()
        return [d for _, d in self.got]


class TcpSink:
    """Accepts connections on 127.0.0.1:PORT and appends each stream to a file."""

    def __init__(self, path):
        self.path = path
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(4)
        self.ls.settimeout(0.1)
        self.port = self.ls.getsockname()[1]
        self.connections = 0
        self.running = True
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _run(self):
        with open(self.path, "wb") as out:
            while self.running:
                try:
                    c, _ = self.ls.accept()
                except socket.timeout:
                    continue
                self.connections += 1
                c.settimeout(None)
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    out.write(d)
                c.close()

    def stop(self):
        self.running = False
        self.th.join(timeout=10)
        self.ls.close()


# --------------------------------------------------------------------------
# decoding our own datagrams (sequence numbers, sizes, options record)


def be(b, off, n):
    return int.from_bytes(b[off:off + n], "big")


def parse_sets(b, off, end, version, templates):
    """Walk the sets of one v9/IPFIX message. Returns (template ids, options
    template ids, {template id: [record bytes]})."""
    tmpl_set, opt_set = (0, 1) if version == 9 else (2, 3)
    tids, otids, data = [], [], {}
    while off + 4 <= end:
        sid, slen = be(b, off, 2), be(b, off + 2, 2)
        assert slen >= 4 and off + slen <= end, "bad set length %d at %d" % (slen, off)
        p, send = off + 4, off + slen
        if sid in (tmpl_set, opt_set):
            while p + 4 <= send:
                tid, cnt = be(b, p, 2), be(b, p + 2, 2)
                if tid < 256:
                    break
                p += 4
                scope = 0
                if sid == opt_set:
                    scope = be(b, p, 2)
                    p += 2
                fields = []
                for _ in range(cnt):
                    fid, flen = be(b, p, 2), be(b, p + 2, 2)
                    p += 4
                    pen = 0
                    if fid & 0x8000:
                        pen = be(b, p, 4)
                        p += 4
                        fid &= 0x7FFF
                    fields.append((pen, fid, flen))
                templates[tid] = fields
                (otids if sid == opt_set else tids).append(tid)
        else:
            assert sid in templates, "data set %d without a template" % sid
            rl = sum(f[2] for f in templates[sid])
            while p + rl <= send:
                data.setdefault(sid, []).append(b[p:p + rl])
                p += rl
            assert send - p < 4, "set %d: %d bytes left over" % (sid, send - p)
        off = send
    assert off == end, "message length does not match its sets"
    return tids, otids, data


def record_fields(tmpl, rec):
    """{(pen, id): int value} of one data record."""
    out, p = {}, 0
    for pen, fid, flen in tmpl:
        out[(pen, fid)] = be(rec, p, flen)
        p += flen
    return out


def parse_v5_stream(dgrams):
    seq, recs = 0, []
    for d in dgrams:
        assert be(d, 0, 2) == 5
        cnt = be(d, 2, 2)
        assert len(d) == 24 + 48 * cnt
        assert be(d, 16, 4) == seq, "v5 flow_sequence"
        uptime, secs, nsecs = be(d, 4, 4), be(d, 8, 4), be(d, 12, 4)
        boot_ms = secs * 1000 + nsecs // 1000000 - uptime
        for i in range(cnt):
            r = d[24 + 48 * i:24 + 48 * (i + 1)]
            recs.append({"src": ip(r[0:4]), "dst": ip(r[4:8]), "packets": be(r, 16, 4),
                         "bytes": be(r, 20, 4), "first_ms": boot_ms + be(r, 24, 4),
                         "last_ms": boot_ms + be(r, 28, 4), "sport": be(r, 32, 2),
                         "dport": be(r, 34, 2), "flags": r[37], "proto": r[38]})
        seq += cnt
    return recs


def parse_v9_stream(dgrams):
    templates, out, tmpl_msgs = {}, [], 0
    for k, d in enumerate(dgrams):
        assert be(d, 0, 2) == 9
        assert be(d, 12, 4) == k, "v9 sequence = export packets before"
        tids, _, data = parse_sets(d, 20, len(d), 9, templates)
        assert be(d, 2, 2) == len(tids) + sum(len(v) for v in data.values()), "v9 count"
        if tids:
            assert sorted(tids) == [256, 257]
            tmpl_msgs += 1
        for tid, recs in data.items():
            out += [record_fields(templates[tid], r) for r in recs]
    return out, tmpl_msgs


def parse_ipfix_stream(dgrams, domain):
    """Messages in order: checks lengths and sequence numbers; returns (flow
    records, options records, number of messages that carried templates)."""
    templates, seq, flows, opts, tmpl_msgs = {}, 0, [], [], 0
    for d in dgrams:
        assert be(d, 0, 2) == 10 and be(d, 2, 2) == len(d)
        assert be(d, 8, 4) == seq, "IPFIX sequence = data records before"
        assert be(d, 12, 4) == domain
        tids, otids, data = parse_sets(d, 16, len(d), 10, templates)
        if tids or otids:
            assert sorted(tids) in ([256, 257], [258, 259]) and otids == [260]
            tmpl_msgs += 1
        for tid, recs in data.items():
            seq += len(recs)
            rows = [record_fields(templates[tid], r) for r in recs]
            (opts if tid == 260 else flows).extend(rows)
    return flows, opts, tmpl_msgs


def split_stream(blob):
    """IPFIX messages of a TCP stream or RFC 5655 file."""
    out, off = [], 0
    while off + 16 <= len(blob):
        n = be(blob, off + 2, 2)
        assert n >= 16 and off + n <= len(blob)
        out.append(blob[off:off + n])
        off += n
    assert off == len(blob)
    return out


def write_pcap(dgrams, port, path):
    """Wrap datagrams in Ethernet/IPv4/UDP frames for tshark."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, d in enumerate(dgrams):
            udp = struct.pack("!HHHH", 40000, port, 8 + len(d), 0) + d
            iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17,
                              0, b"\x7f\0\0\x01", b"\x7f\0\0\x01")
            s = sum(struct.unpack("!10H", iph))
            while s >> 16:
                s = (s & 0xFFFF) + (s >> 16)
            iph = iph[:10] + struct.pack("!H", ~s & 0xFFFF) + iph[12:]
            frame = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + iph + udp
            f.write(struct.pack("<IIII", 1700000000 + i, 0, len(frame), len(frame)))
            f.write(frame)


def tshark(path, port, *args):
    p = subprocess.run([TSHARK, "-n", "-r", str(path), "-d", "udp.port==%d,cflow" % port]
                       + list(args), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout


def tshark_check(dgrams, port, tmp, name):
    """No malformed packet, no expert note of any severity above chat, every
    data set decoded with its template. Returns the per-frame field lines."""
    path = tmp / (name + ".pcap")
    write_pcap(dgrams, port, path)
    expert = tshark(path, port, "-q", "-z", "expert,note")
    assert "Malformed" not in expert and "Errors" not in expert and "Warns" not in expert, \
        expert
    summary = tshark(path, port)
    assert "no template" not in summary.lower(), summary
    assert summary.count("CFLOW") == len(dgrams), summary
    return tshark(path, port, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,",
                  "-e", "cflow.template_id", "-e", "cflow.srcport", "-e", "cflow.dstport",
                  "-e", "cflow.protocol", "-e", "cflow.packets", "-e", "cflow.octets")


# --------------------------------------------------------------------------
# expected records: the generator's truth


MS = 10**6
# RFC 5102 flowEndReason of each end reason (shutdown: forced end)
END_CODE = {"idle": 1, "active": 2, "end": 3, "shutdown": 4, "evicted": 5}


class Truth:
    """pcapgen's records of a scenario, and the same flows one direction at a
    time (packets, IP bytes, TCP flags OR-ed, first and last packet time,
    ICMP type/code of the first packet) computed from its packets."""

    def __init__(self, sc):
        exp = sc.expected()
        assert exp.ambiguous == [], "a flow is idle at the end of the file"
        self.exp, self.recs, self.dirs = exp, exp.records, {}
        for p in sc.packets():
            if p.verdict != "ok":
                continue
            _, proto, s, sp, d, dp, vlan = p.key
            k = (ip(s), sp, ip(d), dp, proto, vlan)
            x = self.dirs.setdefault(k, {"packets": 0, "bytes": 0, "flags": 0, "first": p.ts,
                                         "icmp": p.icmp})
            x["packets"] += 1
            x["bytes"] += p.ip_bytes
            x["flags"] |= p.flags
            x["last"] = p.ts
        # every 5-tuple is one record here, so a direction is one record's side
        for r in self.recs:
            f, b = self.side(r, "src"), self.side(r, "dst")
            assert (f["packets"], f["bytes"], f["flags"]) == \
                (r["packets"], r["bytes"], r["tcp_flags"]), r
            assert (b["packets"], b["bytes"], b["flags"]) == \
                (r["rev_packets"], r["rev_bytes"], r["rev_tcp_flags"]), r

    def side(self, r, a):
        """The direction of record @r sent by its @a ("src" or "dst") end."""
        b = "dst" if a == "src" else "src"
        return self.dirs.get((ip(r[a + "_ip"]), r[a + "_port"], ip(r[b + "_ip"]), r[b + "_port"],
                              r["proto"], r["vlan"]), {"packets": 0, "bytes": 0, "flags": 0})

    def uni(self, fields, v4_only=False):
        """One record per direction with packets, as NetFlow v5/v9 send a
        biflow: tuples of @fields, sorted."""
        out = []
        for r in self.recs:
            if v4_only and r["ip_version"] != 4:
                continue
            for a, b in (("src", "dst"), ("dst", "src")):
                d = self.side(r, a)
                if not d["packets"]:
                    continue
                icmp = is_icmp(r["proto"])  # ports 0: type/code go in their own field
                v = {"src": ip(r[a + "_ip"]), "dst": ip(r[b + "_ip"]),
                     "sport": 0 if icmp else r[a + "_port"],
                     "dport": 0 if icmp else r[b + "_port"], "proto": r["proto"],
                     "icmp": d["icmp"] if is_icmp(r["proto"]) else None,
                     "packets": d["packets"], "bytes": d["bytes"], "flags": d["flags"],
                     "first_ms": d["first"] // MS, "last_ms": d["last"] // MS,
                     "vlan": r["vlan"], "end": END_CODE[r["end_reason"]]}
                out.append(tuple(v[f] for f in fields))
        return sorted(out, key=str)

    def bi(self, fields):
        """One record per flow, as IPFIX sends it (RFC 5103 biflow): the
        forward elements carry the record's counters and flags with the whole
        flow's first/last time, the reverse ones the reverse direction's
        (times 0 when it sent nothing)."""
        out = []
        for r in self.recs:
            rv = self.side(r, "dst")
            icmp = is_icmp(r["proto"])  # ports 0: type/code go in their own field
            v = {"src": ip(r["src_ip"]), "dst": ip(r["dst_ip"]),
                 "sport": 0 if icmp else r["src_port"],
                 "dport": 0 if icmp else r["dst_port"], "proto": r["proto"],
                 "icmp": (r["icmp_type"], r["icmp_code"]) if is_icmp(r["proto"]) else None,
                 "packets": r["packets"], "bytes": r["bytes"], "flags": r["tcp_flags"],
                 "first_ms": r["first_ns"] // MS, "last_ms": r["last_ns"] // MS,
                 "rpackets": r["rev_packets"], "rbytes": r["rev_bytes"],
                 "rflags": r["rev_tcp_flags"], "rfirst_ms": rv.get("first", 0) // MS,
                 "rlast_ms": rv.get("last", 0) // MS, "vlan": r["vlan"],
                 "end": END_CODE[r["end_reason"]]}
            out.append(tuple(v[f] for f in fields))
        return sorted(out, key=str)


UNI_V5 = ("src", "dst", "sport", "dport", "proto", "icmp", "packets", "bytes", "flags",
          "first_ms", "last_ms")
UNI_V9 = UNI_V5 + ("vlan", "end")
BI = ("src", "dst", "sport", "dport", "proto", "icmp", "packets", "bytes", "flags", "first_ms",
      "last_ms", "rpackets", "rbytes", "rflags", "rfirst_ms", "rlast_ms", "vlan", "end")


def nfdump_flags(v):
    """nfdump's tcp_flags text: CEUAPRSF, a dot for each bit not set."""
    return "".join(c if v & (0x80 >> i) else "." for i, c in enumerate("CEUAPRSF"))


def nfdump_time(ms):
    """nfdump's first/last text (nfdump runs with TZ=UTC here)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03d" % (ms % 1000)


def nfdump_rec(n, fields):
    """A record of `nfdump -o json` as a tuple of @fields (names as in Truth).
    ICMP: nfdump shows type and code instead of ports."""
    src = n.get("src4_addr") or n.get("src6_addr")
    dst = n.get("dst4_addr") or n.get("dst6_addr")
    icmp = is_icmp(n["proto"])
    v = {"src": ip(src), "dst": ip(dst), "sport": 0 if icmp else n.get("src_port", 0),
         "dport": 0 if icmp else n.get("dst_port", 0), "proto": n["proto"],
         "icmp": (n.get("icmp_type", 0), n.get("icmp_code", 0)) if icmp else None,
         "packets": n["in_packets"], "bytes": n["in_bytes"],
         "rpackets": n.get("out_packets", 0), "rbytes": n.get("out_bytes", 0),
         "flags": n.get("tcp_flags", nfdump_flags(0)), "first": n["first"], "last": n["last"],
         "vlan": n.get("src_vlan", 0)}
    return tuple(v[f] for f in fields)


def nfdump_truth(rows, fields):
    """Truth rows (tuples of @fields) with flags and times as nfdump prints them."""
    out = []
    for row in rows:
        d = dict(zip(fields, row))
        d["flags"] = nfdump_flags(d["flags"])
        d["first"] = nfdump_time(d.pop("first_ms"))
        d["last"] = nfdump_time(d.pop("last_ms"))
        out.append(d)
    return out


def ipfix_rec(f, fields=BI):
    """Our own decoding of a data record (template 256..259) as a tuple of @fields."""
    if (0, 8) in f:
        src, dst = ip(f[(0, 8)].to_bytes(4, "big")), ip(f[(0, 12)].to_bytes(4, "big"))
        itc = f[(0, 32)]
    else:
        src, dst = ip(f[(0, 27)].to_bytes(16, "big")), ip(f[(0, 28)].to_bytes(16, "big"))
        itc = f[(0, 139)]
    proto = f[(0, 4)]
    assert f[(0, 10)] == 0 and f[(0, 61)] == 0   # ingressInterface, flowDirection ingress
    v = {"src": src, "dst": dst, "sport": f[(0, 7)], "dport": f[(0, 11)], "proto": proto,
         "icmp": (itc >> 8, itc & 255) if is_icmp(proto) else None,
         "packets": f[(0, 2)], "bytes": f[(0, 1)], "flags": f[(0, 6)],
         "first_ms": f[(0, 152)], "last_ms": f[(0, 153)],
         "rpackets": f.get((29305, 2)), "rbytes": f.get((29305, 1)),
         "rflags": f.get((29305, 6)), "rfirst_ms": f.get((29305, 152)),
         "rlast_ms": f.get((29305, 153)), "vlan": f[(0, 58)], "end": f[(0, 136)]}
    return tuple(v[k] for k in fields)


# --------------------------------------------------------------------------
# the shared run


def scenario():
    sc = g.scenario_mixed(seed=11, flows=240, duration=6.0)
    # VLAN-tagged flows (vlanId / SRC_VLAN) and ICMPv6 too
    for i in range(6):
        vl = {"vlans": [100 + i]}
        sc.tcp_session(7.0 + i * 0.01, g.c4(900 + i), g.s4(7), 3000 + i, 443, data=2, l2=vl)
    sc.ping(7.2, g.c6(700), g.s6(3), count=2, ident=77)
    sc.udp_exchange(7.3, g.c6(701), g.s6(4), 5353, 53, count=3, gap=0.002)
    # a refused connection: the reverse direction has flags (RST) the forward lacks
    sc.ip(7.4, g.c4(950), g.s4(8), 6, 3333, 25, flags=g.SYN)
    sc.ip(7.401, g.s4(8), g.c4(950), 6, 25, 3333, flags=g.RST | g.ACK)
    return sc


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    for tool in (NFCAPD, NFDUMP):
        if not tool:
            pytest.skip("nfdump package not installed (scripts/install-deps.sh)")
    tmp = tmp_path_factory.mktemp("export")
    sc = scenario()
    pcap = tmp / "mixed.pcap"
    sc.write(pcap)
    col, acct, sink, tcp = {}, None, {}, None
    ipfix_file = tmp / "file.ipfix"
    ok = False
    try:
        for k in ("v5", "v9", "ipfix"):
            col[k] = Nfcapd(tmp, k)
        acct = Nfacctd(tmp) if NFACCTD else None
        for k in ("v5", "v9", "ipfix", "ipfix_small"):
            sink[k] = UdpSink()
        tcp = TcpSink(tmp / "stream.ipfix")
        args = ["-r", pcap, "-F", "json", "-w", tmp / "flows.json", "--stats", "--no-progress",
                "--observation-domain", "4242",
                "--export", "netflow5://127.0.0.1:%d" % col["v5"].port,
                "--export", "netflow9://127.0.0.1:%d" % col["v9"].port,
                "--export", "ipfix://127.0.0.1:%d" % col["ipfix"].port,
                "--export", "netflow5://127.0.0.1:%d" % sink["v5"].port,
                "--export", "netflow9://127.0.0.1:%d" % sink["v9"].port,
                "--export", "ipfix://127.0.0.1:%d" % sink["ipfix"].port,
                "--export", "ipfix+tcp://127.0.0.1:%d" % tcp.port,
                "--export", "ipfix-file:%s" % ipfix_file]
        if acct:
            args += ["--export", "ipfix://127.0.0.1:%d" % acct.port]
        p = jt.run(args, timeout=JCAP_TIMEOUT)
        small = jt.run(["-r", pcap, "-F", "json", "--no-progress", "--mtu", "576",
                        "--export", "ipfix://127.0.0.1:%d" % sink["ipfix_small"].port],
                       timeout=JCAP_TIMEOUT)
        ok = True
    finally:
        # stop everything that was started, even when a start or a stop failed
        got, failed = {}, None
        for k, c in col.items():
            try:
                got[k] = c.stop()
            except AssertionError as e:
                failed = failed or e
        acct_rows = acct.stop(len(sc.expected().records) if ok else 0) if acct else None
        raw = {k: s.stop() for k, s in sink.items()}
        if tcp:
            tcp.stop()
        if failed and ok:
            raise failed
    assert p.returncode == 0, p.stderr[-3000:]
    assert small.returncode == 0, small.stderr[-3000:]
    recs = jt.parse_lines((tmp / "flows.json").read_text())
    stats = jt.parse_stats(p.stderr)
    jt.check_conservation(stats, recs)
    return {"tmp": tmp, "sc": sc, "truth": Truth(sc), "recs": recs, "stats": stats,
            "nfcapd": got, "raw": raw,
            "tcp": tcp, "file": ipfix_file, "sink": sink, "nfacctd": acct_rows,
            "exporters": 10 if acct else 9}


def test_jcap_output_matches_truth(run):
    """jcap's own JSON of the run (-w) is the truth, record by record."""
    t = run["truth"]
    jt.assert_same_flows(run["recs"], t.recs, "jcap -w")
    jt.assert_stats(run["stats"], t.exp)
    assert {r["end_reason"] for r in t.recs} == {"end", "shutdown"}


def test_export_counters(run):
    recs, ex = run["truth"].recs, run["stats"]["export"]
    n6 = sum(1 for r in recs if r["ip_version"] == 6)
    # every exporter (the --export targets and -w, jcap's JSON exporter) takes every
    # record, except that both v5 exporters leave the IPv6 ones out
    assert ex["not_exportable"] == 2 * n6
    assert ex["records"] == run["exporters"] * len(recs) - 2 * n6
    assert ex["errors"] == 0
    assert ex["tcp_queue_drops"] == 0


@pytest.mark.parametrize("kind", ["v5", "v9", "ipfix"])
def test_nfcapd_reads_every_flow(run, kind):
    """nfdump shows every flow as the truth has it: per direction for v5/v9;
    for IPFIX one biflow (in/out counters) whose flags are the forward
    direction's and whose first/last span the whole flow."""
    flows, log = run["nfcapd"][kind]
    m = re.search(r"Sequence Errors: (\d+), Bad Packets: (\d+)", log)
    assert m, log
    assert m.groups() == ("0", "0"), log
    t = run["truth"]
    if kind == "ipfix":
        fields = ("src", "dst", "sport", "dport", "proto", "icmp", "packets", "bytes",
                  "rpackets", "rbytes", "flags", "first_ms", "last_ms", "vlan")
        want = nfdump_truth(t.bi(fields), fields)
    else:
        fields = UNI_V5 + (("vlan",) if kind == "v9" else ())
        want = nfdump_truth(t.uni(fields, v4_only=kind == "v5"), fields)
    names = list(want[0])
    got = sorted((nfdump_rec(n, names) for n in flows), key=str)
    assert got == sorted((tuple(d[k] for k in names) for d in want), key=str)


@pytest.mark.skipif(not NFACCTD, reason="pmacct (nfacctd) not installed")
def test_nfacctd_reads_every_flow(run):
    """pmacct aggregates by 5-tuple (ICMP flows have ports 0 there), so the
    comparison is per 5-tuple with packets, bytes and reverse counters."""
    got = sorted((ip(r["SRC_IP"]), ip(r["DST_IP"]), int(r["SRC_PORT"]), int(r["DST_PORT"]),
                  int(r["PACKETS"]), int(r["BYTES"]), int(r["rev_packets"]),
                  int(r["rev_bytes"])) for r in run["nfacctd"])
    exp = sorted((ip(r["src_ip"]), ip(r["dst_ip"]), 0 if is_icmp(r["proto"]) else r["src_port"],
                  0 if is_icmp(r["proto"]) else r["dst_port"], r["packets"], r["bytes"],
                  r["rev_packets"], r["rev_bytes"]) for r in run["truth"].recs)
    assert got == exp


def test_v5_datagrams(run):
    d = run["raw"]["v5"]
    recs = parse_v5_stream(d)
    assert all(len(x) <= 1400 for x in d)
    assert all(be(x, 2, 2) <= 28 for x in d)
    # ICMP: the type and code travel in the destination port
    got = sorted(((r["src"], r["dst"], 0 if r["proto"] == 1 else r["sport"],
                   0 if r["proto"] == 1 else r["dport"], r["proto"],
                   (r["dport"] >> 8, r["dport"] & 255) if r["proto"] == 1 else None,
                   r["packets"], r["bytes"], r["flags"], r["first_ms"], r["last_ms"])
                  for r in recs), key=str)
    assert got == run["truth"].uni(UNI_V5, v4_only=True)


def test_v9_datagrams(run):
    d = run["raw"]["v9"]
    recs, tmpl_msgs = parse_v9_stream(d)
    assert tmpl_msgs >= 1 and parse_sets(d[0], 20, len(d[0]), 9, {})[0] == [256, 257]
    assert all(len(x) <= 1400 for x in d)
    got = []
    for f in recs:
        if (0, 8) in f:
            src, dst = ip(f[(0, 8)].to_bytes(4, "big")), ip(f[(0, 12)].to_bytes(4, "big"))
        else:
            src, dst = ip(f[(0, 27)].to_bytes(16, "big")), ip(f[(0, 28)].to_bytes(16, "big"))
        proto, itc = f[(0, 4)], f[(0, 32)]
        assert f[(0, 10)] == 0 and f[(0, 61)] == 0      # INPUT_SNMP, DIRECTION ingress
        got.append((src, dst, f[(0, 7)], f[(0, 11)], proto,
                    (itc >> 8, itc & 255) if is_icmp(proto) else None, f[(0, 2)], f[(0, 1)],
                    f[(0, 6)], f[(0, 152)], f[(0, 153)], f[(0, 58)], f[(0, 136)]))
    assert sorted(got, key=str) == run["truth"].uni(UNI_V9)


def check_options(opts, run, nmsgs, records):
    """The final statistics record describes everything sent before it."""
    exp = run["truth"].exp
    last = opts[-1]
    assert last[(0, 144)] == 4242                      # exportingProcessId = domain
    assert last[(0, 41)] == nmsgs - 1                  # exportedMessageTotalCount
    assert last[(0, 42)] == records                    # exportedFlowRecordTotalCount
    assert last[(0, 164)] == sum(exp.skipped.values())  # ignoredPacketTotalCount
    assert last[(0, 166)] == 0 and last[(0, 167)] == 0  # notSent*


def test_ipfix_datagrams(run):
    d = run["raw"]["ipfix"]
    flows, opts, tmpl_msgs = parse_ipfix_stream(d, 4242)
    assert tmpl_msgs >= 1
    assert all(len(x) <= 1400 for x in d)
    assert sorted((ipfix_rec(f) for f in flows), key=str) == run["truth"].bi(BI)
    assert sum(run["truth"].exp.skipped.values()) == 5  # 3 non-IP, 1 truncated, 1 malformed
    check_options(opts, run, len(d), len(run["truth"].recs))
    assert sum(len(x) for x in d[:-1]) == opts[-1][(0, 40)]   # exportedOctetTotalCount


def test_ipfix_mtu_bound(run):
    d = run["raw"]["ipfix_small"]
    flows, _, _ = parse_ipfix_stream(d, 0)
    assert max(len(x) for x in d) <= 576
    assert len(d) > len(run["truth"].recs) // 6    # 4 IPv6 or 6 IPv4 biflows a message
    assert sorted((ipfix_rec(f) for f in flows), key=str) == run["truth"].bi(BI)


@pytest.mark.skipif(not TSHARK, reason="tshark not installed")
@pytest.mark.parametrize("kind", ["v5", "v9", "ipfix"])
def test_tshark_decodes(run, kind):
    d = run["raw"][kind]
    t = run["truth"]
    lines = tshark_check(d, run["sink"][kind].port, run["tmp"], kind).splitlines()
    assert len(lines) == len(d)
    tids = set()
    nrec = 0
    for ln in lines:
        cols = ln.split("\t")
        tids.update(x for x in cols[0].split(",") if x)
        nrec += len([x for x in cols[1].split(",") if x])
    if kind == "v5":
        assert nrec == len(t.uni(UNI_V5, v4_only=True))
    elif kind == "v9":
        assert tids == {"256", "257"}
        assert nrec == len(t.uni(UNI_V5))
        pk = sorted(int(x) for ln in lines for x in ln.split("\t")[4].split(",") if x)
        assert pk == sorted(u[0] for u in t.uni(("packets",)))
    else:
        assert tids == {"256", "257", "260"}
        assert nrec == len(t.recs)


def parse_ipfixdump(text):
    """Data records printed by ipfixDump: [(tid, {name: value})] and the file stats."""
    recs, cur = [], None
    for ln in text.splitlines():
        m = re.match(r"\s*count:\s*\d+\s+tid:\s*(\d+)", ln)
        if m:
            cur = (int(m.group(1)), {})
            recs.append(cur)
            continue
        m = re.match(r"\s*\([\d/]+\)\s+(?:\(S\)\s+)?(\S+)\s*:\s*(.*?)\s*$", ln)
        if m and cur is not None and "data record" not in ln:
            cur[1][m.group(1)] = m.group(2)
    m = re.search(r"File Stats: (\d+) Messages, (\d+) Data Records, (\d+) Template Records",
                  text)
    assert m, text[-2000:]
    return recs, tuple(int(x) for x in m.groups())


def ipfixdump_ms(text):
    """ipfixDump's UTC time text 'YYYY-MM-DD HH:MM:SS.mmm' in ms since the epoch."""
    day, frac = text.split(".")
    return calendar.timegm(time.strptime(day, "%Y-%m-%d %H:%M:%S")) * 1000 + int(frac)


def ipfixdump_flows(recs):
    out = []
    for tid, f in recs:
        if tid not in (256, 257):
            continue
        v4 = tid == 256
        src = f["sourceIPv4Address" if v4 else "sourceIPv6Address"]
        dst = f["destinationIPv4Address" if v4 else "destinationIPv6Address"]
        proto = int(f["protocolIdentifier"])
        itc = int(f["icmpTypeCodeIPv4" if v4 else "icmpTypeCodeIPv6"])
        v = {"src": ip(src), "dst": ip(dst), "sport": int(f["sourceTransportPort"]),
             "dport": int(f["destinationTransportPort"]), "proto": proto,
             "icmp": (itc >> 8, itc & 255) if is_icmp(proto) else None,
             "packets": int(f["packetDeltaCount"]), "bytes": int(f["octetDeltaCount"]),
             "flags": int(f["tcpControlBits"]),
             "first_ms": ipfixdump_ms(f["flowStartMilliseconds"]),
             "last_ms": ipfixdump_ms(f["flowEndMilliseconds"]),
             "rpackets": int(f["reversePacketDeltaCount"]),
             "rbytes": int(f["reverseOctetDeltaCount"]),
             "rflags": int(f["reverseTcpControlBits"]),
             "rfirst_ms": ipfixdump_ms(f["reverseFlowStartMilliseconds"]),
             "rlast_ms": ipfixdump_ms(f["reverseFlowEndMilliseconds"]),
             "vlan": int(f["vlanId"]), "end": int(f["flowEndReason"])}
        out.append(tuple(v[k] for k in BI))
    return sorted(out, key=str)


@pytest.mark.skipif(not IPFIXDUMP, reason="libfixbuf-tools (ipfixDump) not installed")
@pytest.mark.parametrize("kind", ["file", "tcp"])
def test_ipfixdump_reads(run, kind):
    path = run["file"] if kind == "file" else run["tcp"].path
    n = len(run["truth"].recs)
    if kind == "tcp":
        assert run["tcp"].connections == 1
    blob = path.read_bytes()
    msgs = split_stream(blob)
    flows, opts, tmpl_msgs = parse_ipfix_stream(msgs, 4242)
    assert tmpl_msgs == 1                       # once per file / connection
    assert len(opts) == 2                       # with the templates, and at close
    check_options(opts, run, len(msgs), n)
    p = subprocess.run([IPFIXDUMP, "--in", str(path)], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, TZ="UTC"))
    recs, (nmsg, ndata, ntmpl) = parse_ipfixdump(p.stdout)
    assert (nmsg, ndata, ntmpl) == (len(msgs), n + 2, 3)
    assert ipfixdump_flows(recs) == run["truth"].bi(BI)
    stats = [f for tid, f in recs if tid == 260]
    assert int(stats[-1]["exportedFlowRecordTotalCount"]) == n
    assert int(stats[-1]["exportingProcessId"]) == 4242


def test_unreachable_collector_is_counted(tmp_path):
    """UDP: refusals are logged and counted. TCP: nobody listens for the whole
    run; close() tries for 3 s, then every record counts as not delivered."""
    sc = g.scenario_mixed(seed=3, flows=40)
    pcap = tmp_path / "s.pcap"
    sc.write(pcap)
    port = free_port()
    tport = free_port(socket.SOCK_STREAM)
    t0 = time.monotonic()
    p = jt.run(["-r", pcap, "-F", "json", "--stats", "--no-progress", "--export",
                "netflow9://127.0.0.1:%d" % port, "--export", "ipfix://127.0.0.1:%d" % port,
                "--export", "ipfix+tcp://127.0.0.1:%d" % tport], timeout=JCAP_TIMEOUT)
    took = time.monotonic() - t0
    # outputs lost records: exit 1 (jcap --help, "Exit status"), the flows
    # are printed all the same
    assert p.returncode == 1, p.stderr
    recs = jt.parse_lines(p.stdout)
    exp = sc.expected()
    jt.assert_same_flows(recs, exp.records, "with unreachable collectors")
    n = len(exp.records)
    assert "127.0.0.1:%d: Connection refused" % port in p.stderr
    assert "connect to 127.0.0.1:%d: Connection refused" % tport in p.stderr
    assert "%d records not delivered to 127.0.0.1:%d" % (n, tport) in p.stderr
    ex = jt.parse_stats(p.stderr)["export"]
    assert ex["errors"] >= 3
    assert ex["tcp_queue_drops"] == n
    last = [ln for ln in p.stderr.splitlines() if not ln.startswith("{")][-1]
    assert last == ("jcap: %d errors among stdout, export netflow9://127.0.0.1:%d, export "
                    "ipfix://127.0.0.1:%d, export ipfix+tcp://127.0.0.1:%d, %d records not "
                    "delivered" % (ex["errors"], port, port, tport, n))
    # it did try for the 3 s (a lower bound only: a slow machine takes longer)
    assert took >= 3.0, took


def test_malformed_target_is_a_usage_error(tmp_path):
    sc = g.scenario_mixed(seed=3, flows=5)
    pcap = tmp_path / "s.pcap"
    sc.write(pcap)
    p = jt.run(["-r", pcap, "--export", "ipfix://127.0.0.1:99999"], timeout=JCAP_TIMEOUT)
    assert p.returncode == 2
    assert "ipfix://127.0.0.1:99999" in p.stderr


def have_cap_net_raw():
    """CAP_NET_RAW (bit 13) in this process's effective set: what a live
    capture on lo needs."""
    with open("/proc/self/status") as f:
        eff = next(int(x.split()[1], 16) for x in f if x.startswith("CapEff:"))
    return bool(eff & (1 << 13))


@pytest.mark.skipif(not have_cap_net_raw(),
                    reason="live capture on lo needs CAP_NET_RAW (run as root)")
def test_template_refresh_live(tmp_path):
    """--template-refresh 1 on a 3 s live run with no traffic: templates and
    statistics leave at start and again after each second, never sooner
    (kernel receive times), at least once more before the end."""
    sink = UdpSink()
    try:
        p = jt.run(["-i", "lo", "--duration", "3", "--no-progress", "-F", "json",
                    "--filter", "host 203.0.113.77", "--template-refresh", "1",
                    "--export", "ipfix://127.0.0.1:%d" % sink.port], timeout=JCAP_TIMEOUT)
    finally:
        sink.stop()
    assert p.returncode == 0, p.stderr
    got = sink.got
    assert got, "no datagram"
    tmpl = [t for t, d in got if be(d, 16, 2) == 2]     # messages opening with a template set
    assert be(got[0][1], 16, 2) == 2, "the first message carries the templates"
    assert len(tmpl) >= 2, [(t, len(d)) for t, d in got]
    gaps = [b - a for a, b in zip(tmpl, tmpl[1:])]
    assert min(gaps) >= 0.9, gaps
    flows, opts, _ = parse_ipfix_stream([d for _, d in got], 0)
    assert flows == [] and len(opts) == len(got)
