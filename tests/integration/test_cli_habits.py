# SPDX-License-Identifier: BSD-3-Clause
"""tcpdump and nfdump habits of jcap (issue 15): the trailing filter
expression, -c/-s/-V/-n/-l/-U/-D, -w x.pcap's pointer to --pcap-out, the
human table (golden files at widths 80, 120 and 200, fixed TZ and COLUMNS),
ISO 8601 times in JSON and CSV, and the terminal-only lines on stderr (the
summary, the progress bar, the live status line) seen through a pty."""
import csv
import datetime
import io
import json
import os
import pty
import re
import select
import socket
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import jcaptest as jt  # noqa: E402
import pcapgen as g  # noqa: E402

C, S = "198.18.0.1", "198.19.0.1"
C6 = "2001:db8:1234:5678:9abc:def0:1234:5678"
S6 = "2001:db8:ffff:eeee:dddd:cccc:bbbb:aaaa"
GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
# local time is UTC+2 (POSIX TZ: the offset is west of Greenwich, so "-2")
ENV_TZ = {"TZ": "XST-2"}


@pytest.fixture(autouse=True)
def _jcap():
    jt.require_jcap()


def env(**kw):
    e = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    e.update(kw)
    return e


def run(args, **kw):
    return subprocess.run([jt.jcap_path()] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, env=env(**kw))


def small(path):
    """A TCP session to 443, DNS over UDP and a ping: 10 + 3 + 4 packets."""
    sc = g.Scenario()
    sc.tcp_session(0.0, C, S, 40001, 443, data=2, size=200)
    sc.udp_exchange(0.1, "198.18.0.77", S, 5353, 53, count=3)
    sc.ping(0.2, C, S, count=2)
    sc.write(path)
    return sc


def mixed(path):
    """Flows for the table: units (> 100000 bytes), long IPv6 endpoints, a
    VLAN, TCP flags, every protocol name the table knows."""
    sc = g.Scenario()
    sc.tcp_session(0.0, C, S, 40001, 443, data=60, size=2000)
    sc.tcp_session(0.5, C6, S6, 40002, 80, data=1, close="rst")
    sc.udp_exchange(1.0, "198.18.0.77", S, 5353, 53, count=3, l2={"vlans": (42,)})
    sc.ping(1.5, C, S, count=2, gap=0.25)
    sc.ip(2.0, C, S, 132, 5000, 36412, payload=b"\x01\x00\x00\x10" + bytes(12))
    sc.write(path)
    return sc


def flows(p):
    assert p.returncode == 0, p.stderr
    return sorted(p.stdout.splitlines())


# ---------------------------------------------------------------- tcpdump habits

def test_trailing_filter_expression(tmp_path):
    f = tmp_path / "s.pcap"
    small(f)
    base = ["-r", f, "-F", "json", "--no-progress"]
    words = run(base + ["udp", "and", "port", "53"])
    one = run(base + ["udp and port 53"])
    opt = run(base + ["--filter", "udp and port 53"])
    assert flows(words) == flows(one) == flows(opt)
    recs = [json.loads(x) for x in words.stdout.splitlines()]
    assert [(r["proto"], r["src_port"], r["dst_port"], r["packets"], r["rev_packets"])
            for r in recs] == [(17, 5353, 53, 2, 1)]
    # options may follow the expression, as getopt permutes them
    later = run(["-r", f, "tcp", "port", "443", "-F", "json", "--no-progress"])
    recs = [json.loads(x) for x in later.stdout.splitlines()]
    assert [(r["dst_port"], r["packets"] + r["rev_packets"]) for r in recs] == [(443, 10)]


def test_two_filters_refused(tmp_path):
    f = tmp_path / "s.pcap"
    small(f)
    p = run(["-r", f, "--filter", "udp", "tcp"])
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr == ("jcap: two filters: give the expression after the options or with "
                        "--filter, not both\n")


def test_bad_trailing_filter(tmp_path):
    f = tmp_path / "s.pcap"
    small(f)
    p = run(["-r", f, "-F", "json", "no", "such", "thing"])
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.startswith("jcap: invalid filter 'no such thing': ")


def test_count_letter(tmp_path):
    f = tmp_path / "s.pcap"
    small(f)
    short, _ = jt.meter(f, "-c", "5")
    long_, st = jt.meter(f, "--count", "5")
    assert sorted(map(jt.norm, short)) == sorted(map(jt.norm, long_))
    assert st["packets_read"] == 5


def test_snaplen_letter(tmp_path):
    f = tmp_path / "s.pcap"
    small(f)
    whole = sorted(map(jt.norm, jt.meter(f)[0]))
    assert sorted(map(jt.norm, jt.meter(f, "-s", "0")[0])) == whole
    assert sorted(map(jt.norm, jt.meter(f, "-s", "262144")[0])) == whole
    p = run(["-r", f, "-s", "63"])
    assert p.returncode == 2
    assert p.stderr == "jcap: --snaplen: 63 out of range (0 or 64..262144)\n"


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version_flag(flag):
    p = run([flag])
    v = run(["version"])
    assert p.returncode == 0 and p.stderr == ""
    lines = p.stdout.splitlines()
    assert re.fullmatch(r"jcap (\d+\.\d+\.\d+)", lines[0]), p.stdout
    assert lines[1] == "libpacket_capture " + lines[0].split()[1]
    backends = json.loads(run(["backends", "-F", "json"]).stdout)
    nb = len(backends)
    assert lines[2:2 + nb] == ["backend %-9s %-3s %s" % (
        b["name"], "yes" if b["available"] else "no", b["reason"]) for b in backends]
    # then the exporters and the libraries (checked against pkg-config in test_cli.py)
    assert lines[2 + nb].startswith("exporters ipfix+tcp:// ")
    assert all(ln.startswith("library ") for ln in lines[3 + nb:]) and lines[3 + nb:]
    assert p.stdout == v.stdout


@pytest.mark.parametrize("name", ["x.pcap", "x.PCAPNG", "dump.cap"])
def test_w_packets_points_to_pcap_out(tmp_path, name):
    f = tmp_path / "s.pcap"
    small(f)
    p = run(["-r", f, "-w", tmp_path / name])
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr == ("jcap: -w %s: -w writes flow records (JSON, CSV or a table), not "
                        "packets; store packets with --pcap-out DIR\n" % (tmp_path / name))
    assert not (tmp_path / name).exists()
    h = run(["--help"]).stdout
    assert "(packets are stored with --pcap-out DIR)" in h


def test_n_l_U_accepted(tmp_path):
    f = tmp_path / "s.pcap"
    small(f)
    want = run(["-r", f, "-F", "csv", "--no-progress"])
    for flags in (["-n"], ["-l"], ["-U"], ["-n", "-l"]):
        p = run(["-r", f, "-F", "csv", "--no-progress"] + flags)
        assert p.returncode == 0 and p.stderr == ""
        assert sorted(p.stdout.splitlines()) == sorted(want.stdout.splitlines())


def test_list_interfaces():
    p = run(["-D"])
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    names = sorted(n for _, n in socket.if_nameindex())
    got = []
    live = [b["name"] for b in json.loads(run(["backends", "-F", "json"]).stdout)
            if b["available"] and b["name"] != "file"]
    for i, line in enumerate(lines):
        m = re.fullmatch(r"(\d+)\.(\S+) \[(Up|Down)((?:, Running)?)((?:, Loopback)?)\] \((.*)\)",
                         line)
        assert m, line
        assert int(m.group(1)) == i + 1
        got.append(m.group(2))
        if m.group(3) == "Down":
            assert m.group(6) == "none while down"
        else:
            assert m.group(6) == ", ".join(live)
        assert bool(m.group(5)) == (m.group(2) == "lo")
    assert sorted(got) == names


# ---------------------------------------------------------------- the table

@pytest.mark.parametrize("width", [80, 120, 200])
def test_table_golden(tmp_path, width):
    f = tmp_path / "m.pcap"
    mixed(f)
    p = run(["-r", f, "-F", "table", "--no-progress", "--inspect", "none"], COLUMNS=str(width),
            **ENV_TZ)
    assert p.returncode == 0 and p.stderr == ""
    with open(os.path.join(GOLDEN, "table_%d.txt" % width)) as gf:
        want = gf.read()
    assert p.stdout == want
    assert max(len(x) for x in p.stdout.splitlines()) <= width


def test_table_wide_and_unlimited(tmp_path):
    """--wide and a pipe without COLUMNS: every column, nothing shortened."""
    f = tmp_path / "m.pcap"
    mixed(f)
    with open(os.path.join(GOLDEN, "table_200.txt")) as gf:
        full = gf.read()
    p = run(["-r", f, "-F", "table", "--no-progress", "--wide", "--inspect", "none"],
            COLUMNS="80", **ENV_TZ)
    assert p.stdout == full
    p = run(["-r", f, "-F", "table", "--no-progress", "--inspect", "none"], **ENV_TZ)
    assert p.stdout == full


def test_table_cells(tmp_path):
    """The golden file's cells follow from the records: local start time
    with ms, units from 100000 up, nfdump's flag letters."""
    f = tmp_path / "m.pcap"
    sc = mixed(f)
    recs = sc.expected().records
    tcp = [r for r in recs if r["proto"] == 6 and r["ip_version"] == 4][0]
    with open(os.path.join(GOLDEN, "table_200.txt")) as gf:
        row = [x for x in gf.read().splitlines() if ":443" in x][0].split()
    start = datetime.datetime.fromtimestamp(tcp["first_ns"] / 1e9, datetime.timezone(
        datetime.timedelta(hours=2)))
    assert row[0] == start.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d" % (
        tcp["first_ns"] // 10**6 % 1000)
    assert row[1] == "%.3fs" % ((tcp["last_ns"] - tcp["first_ns"]) / 1e9)
    assert row[2:6] == ["tcp", "198.18.0.1:40001", "198.19.0.1:443", "...AP.SF"]
    assert tcp["bytes"] > 100000 and tcp["rev_bytes"] > 100000

    def units(v):
        if v < 100000:
            return str(v)
        for i, u in enumerate("KMGT"):
            d = v / 1000.0 ** (i + 1)
            if d < 999.95:
                return "%.1f%s" % (d, u)
    # VLAN (another flow has one), then both directions, then dst -> src
    assert row[6:11] == ["0", units(tcp["packets"] + tcp["rev_packets"]),
                         units(tcp["bytes"] + tcp["rev_bytes"]),
                         units(tcp["rev_packets"]), units(tcp["rev_bytes"])]
    assert row[11] == "end"


# ---------------------------------------------------------------- ISO times

def iso(ns):
    t = datetime.datetime.fromtimestamp(ns // 10**9, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ns // 10**6 % 1000)


def test_time_format_iso_json_and_csv(tmp_path):
    f = tmp_path / "m.pcap"
    mixed(f)
    plain, _ = jt.meter(f)
    for extra in ([], ["--sort", "bytes"]):  # streamed, and collected then sorted
        recs, _ = jt.meter(f, "--time-format", "iso", *extra)
        assert len(recs) == len(plain) == 5
        for r in recs:
            assert list(r)[-2:] == ["start", "end"]
            assert r["start"] == iso(r["first_ns"]) and r["end"] == iso(r["last_ns"])
        stripped = [{k: v for k, v in r.items() if k not in ("start", "end")} for r in recs]
        assert sorted(map(json.dumps, stripped)) == sorted(map(json.dumps, plain))
    p = run(["-r", f, "-F", "csv", "--no-progress", "--time-format", "iso"])
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    assert list(rows[0])[-2:] == ["start", "end"]
    for row in rows:
        assert row["start"] == iso(int(row["first_ns"]))
        assert row["end"] == iso(int(row["last_ns"]))
    p = run(["-r", f, "--time-format", "local"])
    assert p.returncode == 2
    assert p.stderr == "jcap: --time-format: unknown time format 'local' (ns, iso)\n"


# ---------------------------------------------------------------- the terminal

def on_pty(args, **kw):
    """Run jcap with stderr on a pty (stdout a pipe): (rc, stdout, stderr)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([jt.jcap_path()] + [str(a) for a in args], stdout=subprocess.PIPE,
                         stderr=slave, stdin=subprocess.DEVNULL, env=env(**kw))
    os.close(slave)
    err = b""
    while True:
        r, _, _ = select.select([master], [], [], 60)
        if not r:
            p.kill()
            raise AssertionError("jcap on a pty: no output for 60 s")
        try:
            b = os.read(master, 65536)
        except OSError:  # EIO: the child closed its end
            b = b""
        if not b:
            break
        err += b
    out = p.stdout.read()
    p.wait(30)
    os.close(master)
    return p.returncode, out.decode(), err.decode().replace("\r\n", "\n")


def test_summary_line_on_a_terminal(tmp_path):
    f = tmp_path / "s.pcap"
    sc = small(f)
    rc, out, err = on_pty(["-r", f, "-F", "json"])
    assert rc == 0
    assert len(out.splitlines()) == len(sc.expected().records) == 3
    assert err == "17 packets read, 3 flows\n"
    # a packet in no flow is said so
    sc.non_ip(0.3)
    sc.write(f)
    rc, out, err = on_pty(["-r", f, "-F", "json"])
    assert err == "18 packets read (1 in no flow), 3 flows\n"
    # -q: no flows printed and no summary
    rc, out, err = on_pty(["-r", f, "-q"])
    assert rc == 0 and out == "" and err == ""
    # not a terminal: no summary
    p = run(["-r", f, "-F", "json"])
    assert p.stderr == ""


def test_progress_bar_mib_rate_eta(tmp_path):
    f = tmp_path / "big.pcap"
    sc = g.Scenario()
    for i in range(300):
        sc.tcp_session(i * 0.01, C, S, 20000 + i, 80, data=5, size=1400, gap=0.0001)
    sc.write(f)
    size = os.path.getsize(f)
    assert size > 4 << 20
    rc, out, err = on_pty(["-r", f, "-q"])
    assert rc == 0
    last = err.split("\r")[-1]
    mib = size / (1 << 20)
    assert re.fullmatch(r"\[#{40}\] 100%% %.1f/%.1f MiB \d+\.\d MiB/s ETA 0:00\n"
                        % (mib, mib), last), repr(err)
    # -q keeps the bar (it is not the status line); --no-progress drops it
    rc, out, err = on_pty(["-r", f, "-q", "--no-progress"])
    assert err == ""


def can_capture():
    return os.geteuid() == 0


def test_live_status_and_summary_lines():
    if not can_capture():
        pytest.skip("live capture on lo needs CAP_NET_RAW")
    # loopback traffic jcap sees: our own datagrams to a port nobody reads
    rc, out, err = on_pty(["-i", "lo", "-b", "afpacket", "--duration", "3", "-F", "json",
                           "udp", "port", "9"])
    assert rc == 0, err
    lines = err.split("\r")
    status = [x for x in lines if "packets/s" in x]
    assert status, repr(err)
    for x in status:
        assert re.fullmatch(r"\x1b\[K\d+ packets, \d+ packets/s, \d+ flows active, \d+ dropped",
                            x), repr(x)
    n = len(out.splitlines())
    assert re.fullmatch(r"\x1b\[K\d+ packets captured, 0 dropped by kernel, %d flows\n" % n,
                        lines[-1]), repr(lines[-1])
    rc, out, err = on_pty(["-i", "lo", "-b", "afpacket", "--duration", "2", "-q"])
    assert rc == 0 and err == ""


def test_any_device_sll():
    """-i any: libpcap's pseudo-device (auto picks the backend that has
    one), Linux cooked link headers decoded: our 5 datagrams are one flow."""
    if not can_capture():
        pytest.skip("live capture needs CAP_NET_RAW")
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.bind(("127.0.0.1", 0))
    dport, sport = rx.getsockname()[1], tx.getsockname()[1]
    p = subprocess.Popen([jt.jcap_path(), "-i", "any", "--duration", "3", "-F", "json", "-v",
                          "udp and port %d" % dport], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env())
    try:
        line = p.stderr.readline()
        assert "capture started: backend pcap" in line, line
        for _ in range(5):
            tx.sendto(b"x" * 30, ("127.0.0.1", dport))
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
        rx.close()
        tx.close()
    assert p.returncode == 0, err
    recs = [json.loads(x) for x in out.splitlines()]
    assert [(r["src_port"], r["dst_port"], r["packets"], r["bytes"], r["rev_packets"])
            for r in recs] == [(sport, dport, 5, 5 * 58, 0)]
    # a backend without the pseudo-device refuses it
    q = run(["-i", "any", "-b", "afpacket", "--duration", "1"])
    assert q.returncode == 1 and q.stderr == "jcap: afpacket: no such interface 'any'\n"


def test_interval_interim_records():
    """--interval 1s: a flow still going is printed as interim records
    ("interim": true, end_reason active_flow) with growing counts, then its
    record when the run ends; interim records are not the run's flows."""
    if not can_capture():
        pytest.skip("live capture needs CAP_NET_RAW")
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.bind(("127.0.0.1", 0))
    dport = rx.getsockname()[1]
    p = subprocess.Popen([jt.jcap_path(), "-i", "lo", "-b", "afpacket", "--duration", "4",
                          "-F", "json", "-v", "--interval", "1s", "--stats",
                          "udp and dst port %d" % dport], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env())
    try:
        line = p.stderr.readline()
        assert "capture started" in line, line
        for _ in range(25):  # 2.5 s of one datagram every 0.1 s
            tx.sendto(b"y" * 20, ("127.0.0.1", dport))
            select.select([], [], [], 0.1)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
        rx.close()
        tx.close()
    assert p.returncode == 0, err
    recs = [json.loads(x) for x in out.splitlines()]
    interim = [r for r in recs if r.get("interim")]
    final = [r for r in recs if "interim" not in r]
    assert len(final) == 1 and final[0]["packets"] == 25 and final[0]["end_reason"] == "shutdown"
    assert len(interim) >= 2, recs
    assert all(r["end_reason"] == "active_flow" and r["dst_port"] == dport for r in interim)
    counts = [r["packets"] for r in interim]
    assert counts == sorted(counts) and 0 < counts[0] < 25
    assert jt.parse_stats(err)["flows_exported"] == 1


def test_interval_needs_json(tmp_path):
    f = tmp_path / "s.pcap"
    small(f)
    p = run(["-r", f, "-F", "table", "--interval", "10s"])
    assert p.returncode == 2
    assert p.stderr == ("jcap: --interval prints interim records in the JSON stream: it needs "
                        "-F json and no --top, --sort, report or -q\n")


def test_config_file(tmp_path):
    """--config FILE: jcapd's `key = value` syntax; the command line wins,
    lists (--export) accumulate; errors are FILE:LINE: problem, exit 2."""
    f = tmp_path / "s.pcap"
    small(f)
    conf = tmp_path / "jcap.conf"
    conf.write_text("# flows as CSV, UDP only\nformat = csv\n\nno_progress = true\n"
                    "filter = udp\nexport = json:%s\n" % (tmp_path / "a.json"))
    p = run(["-r", f, "--config", conf])
    assert p.returncode == 0 and p.stderr == ""
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    assert [(r["proto"], r["dst_port"]) for r in rows] == [("17", "53")]
    p = run(["-r", f, "--config=%s" % conf, "-F", "json", "--export",
             "json:%s" % (tmp_path / "b.json")])
    assert p.returncode == 0
    assert [json.loads(x)["dst_port"] for x in p.stdout.splitlines()] == [53]
    for name in ("a.json", "b.json"):
        assert [json.loads(x)["dst_port"] for x in (tmp_path / name).read_text().splitlines()] \
            == [53]
    for text, msg in (("bogus = 1\n", "unknown key 'bogus'"),
                      ("# c\nfilter udp\n", "expected key = value"),
                      ("filter = udp\nfilter = tcp\n", "filter given twice"),
                      ("stats = yes\n", "stats: 'yes' is not true or false"),
                      ("format =\n", "format: empty value")):
        conf.write_text(text)
        p = run(["-r", f, "--config", conf])
        line = text.count("\n")
        assert p.returncode == 2 and p.stdout == ""
        assert p.stderr == "jcap: %s:%d: %s\n" % (conf, line, msg), p.stderr
    p = run(["-r", f, "--config", tmp_path / "none.conf"])
    assert p.returncode == 2
    assert p.stderr == "jcap: --config %s: No such file or directory\n" % (tmp_path / "none.conf")


def test_table_tunnel_column(tmp_path):
    """A TUNNEL column (kind:id) appears when a flow was tunnelled; the
    others leave it empty."""
    import tunnelgen
    sc = g.Scenario()
    with sc.tunnel(tunnelgen.Tunnel("vxlan", "203.0.113.1", "203.0.113.2", id=5001)):
        sc.udp_exchange(0.0, C, S, 5000, 53, count=2)
    sc.udp_exchange(0.1, "198.18.0.77", S, 5001, 53, count=1)
    f = tmp_path / "t.pcap"
    sc.write(f)
    p = run(["-r", f, "-F", "table", "--no-progress", "--inspect", "none"], **ENV_TZ)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    head = lines[0].split()
    # no TCP flow: no FLAGS column
    assert head == ["START", "DURATION", "PROTO", "SRC", "DST", "TUNNEL", "PKTS", "BYTES",
                    "REV_PKTS", "REV_BYTES", "END"]
    col = lines[0].index("TUNNEL")
    cells = {ln.split()[3]: ln[col:col + len("vxlan:5001")] for ln in lines[1:]}
    assert cells == {"198.18.0.1:5000": "vxlan:5001", "198.18.0.77:5001": " " * 10}
    # 80 columns: the date goes before the tunnel does
    narrow = run(["-r", f, "-F", "table", "--no-progress", "--inspect", "none"], COLUMNS="80",
                 **ENV_TZ)
    assert narrow.stdout.splitlines() == [
        "START        PROTO SRC              DST           TUNNEL     PKTS BYTES",
        "00:13:20.000 udp   198.18.0.1:5000  198.19.0.1:53 vxlan:5001    2   194",
        "00:13:20.100 udp   198.18.0.77:5001 198.19.0.1:53               1    92"]
