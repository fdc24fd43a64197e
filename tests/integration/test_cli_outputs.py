# SPDX-License-Identifier: BSD-3-Clause
"""jcap's inputs that stall and outputs that fail: a stop (SIGINT, SIGTERM)
ends a run within a second whatever a FIFO's writer does, and prints the
flows metered so far; an output that cannot be opened is refused before a
packet is read, and one that lost records makes the exit status 1, each with
one exact line; live JSON Lines leave as flows end, while jcap still runs.
Every wait polls for a condition against a deadline."""
import fcntl
import os
import select
import signal
import socket
import subprocess
import sys
import termios
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import jcaptest as jt  # noqa: E402
import pcapgen as g  # noqa: E402

C, S = "198.18.0.1", "198.19.0.1"
STOP_S = 1.0  # a stop must end the run within this, whatever the input does
WAIT_S = 10.0  # deadline for conditions that hold within milliseconds


@pytest.fixture(autouse=True)
def _jcap():
    jt.require_jcap()


def scenario():
    """15 packets, 3 flows, all ending at the end of input (no TCP close)."""
    sc = g.Scenario()
    sc.tcp_session(0.0, C, S, 1000, 80, data=1, size=200, close=None)  # 5 packets
    sc.udp_exchange(0.1, C, S, 1001, 53, count=4, size=100)            # 4
    sc.ping(0.2, C, S, count=3)                                         # 3 pairs
    return sc


def wait_for(cond, what, deadline_s=WAIT_S):
    t_end = time.monotonic() + deadline_s
    while time.monotonic() < t_end:
        v = cond()
        if v:
            return v
        time.sleep(0.005)
    raise AssertionError("timed out after %.0f s waiting for %s" % (deadline_s, what))


def started_jcap(args, what):
    """jcap -v running with @args, once it says "capture started" (it must
    still be running then): (process, its Output)."""
    p = subprocess.Popen([jt.require_jcap()] + [str(a) for a in args],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    o = Output(p)
    try:
        wait_for(lambda: "capture started" in o.err() or p.poll() is not None, what)
        assert p.poll() is None, o.err()
    except BaseException:
        if p.poll() is None:
            p.kill()
        p.wait()
        raise
    return p, o


def unread(fd):
    """Bytes in the FIFO that nobody has read yet."""
    buf = bytearray(4)
    fcntl.ioctl(fd, termios.FIONREAD, buf)
    return int.from_bytes(buf, sys.byteorder)


def has_open(pid, path):
    """Whether process @pid holds @path open."""
    d = "/proc/%d/fd" % pid
    try:
        return any(os.readlink(os.path.join(d, f)) == path for f in os.listdir(d))
    except OSError:
        return False


def stop(p, sig):
    """Send @sig to jcap (our child); returns (stdout, stderr, seconds to exit)."""
    t0 = time.monotonic()
    p.send_signal(sig)
    try:
        out, err = p.communicate(timeout=STOP_S + 5)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError("jcap ignored %s for %.0f s: %s" % (sig.name, STOP_S + 5, err))
    return out, err, time.monotonic() - t0


class Output:
    """What a child wrote on its pipes so far, read without blocking."""

    def __init__(self, p):
        self.p = p
        self.got = {p.stdout.fileno(): b"", p.stderr.fileno(): b""}

    def _drain(self, fd):
        while select.select([fd], [], [], 0)[0]:
            b = os.read(fd, 65536)
            if not b:
                break
            self.got[fd] += b
        return self.got[fd].decode()

    def out(self):
        return self._drain(self.p.stdout.fileno())

    def err(self):
        return self._drain(self.p.stderr.fileno())


def spawn(args, **kw):
    return subprocess.Popen([jt.require_jcap()] + [str(a) for a in args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


# ------------------------------------------------------- item 5: a stalled FIFO

@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stalled_fifo_stops_and_prints_what_was_read(tmp_path, sig, workers):
    """The writer sends the header, then every packet, then stalls with the
    FIFO open. jcap has read them all (the FIFO is empty): a stop ends it
    within a second, exit 0, with every flow of those packets printed."""
    sc = scenario()
    data = g.pcap_bytes(sc.records(), 1)
    exp = sc.expected()
    assert len(sc.packets()) <= 64  # one burst: read() and metering in one go
    fifo = str(tmp_path / "in.fifo")
    os.mkfifo(fifo)
    w = os.open(fifo, os.O_RDWR)  # a writer that never closes
    try:
        p = spawn(["-r", fifo, "-F", "json", "--no-progress", "--stats",
                   "--workers", workers])
        os.write(w, data[:24])  # the file header: read at open
        wait_for(lambda: has_open(p.pid, fifo) and unread(w) == 0, "the header read")
        os.write(w, data[24:])  # every packet, read by a worker
        wait_for(lambda: unread(w) == 0, "the packets read")
        assert p.poll() is None, p.communicate()
        out, err, took = stop(p, sig)
    finally:
        os.close(w)
    assert p.returncode == 0, err
    assert took < STOP_S, "%s took %.3f s to stop jcap" % (sig.name, took)
    jt.assert_same_flows(jt.parse_lines(out), exp.records, "stopped on a stalled FIFO")
    st = jt.parse_stats(err)
    jt.assert_stats(st, exp)
    assert st["packets_read"] == len(sc.packets())
    assert [ln for ln in err.splitlines() if not ln.startswith("{")] == []


@pytest.mark.parametrize("writer", ["none", "silent", "half-header"])
def test_fifo_without_a_header_stops(tmp_path, writer):
    """No writer ever (open would block), a writer that sends nothing, or
    one that stalls inside the 24-byte file header: SIGINT still ends jcap
    within a second, exit 0, nothing read and nothing printed."""
    fifo = str(tmp_path / "in.fifo")
    os.mkfifo(fifo)
    w = os.open(fifo, os.O_RDWR) if writer != "none" else None
    try:
        if writer == "half-header":
            os.write(w, g.pcap_bytes(scenario().records(), 1)[:10])
        p = spawn(["-r", fifo, "-F", "json", "--no-progress", "--stats"])
        wait_for(lambda: has_open(p.pid, fifo), "jcap to open the FIFO")
        if w is not None:
            wait_for(lambda: unread(w) == 0, "what was written to be read")
        out, err, took = stop(p, signal.SIGINT)
    finally:
        if w is not None:
            os.close(w)
    assert p.returncode == 0, err
    assert took < STOP_S, "SIGINT took %.3f s to stop jcap" % took
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert jt.parse_stats(err)["packets_read"] == 0


@pytest.mark.parametrize("what", ["capture", "text"])
def test_fifo_writer_that_starts_late(tmp_path, what):
    """jcap starts (no writer yet: the header is left to the first bursts),
    then a writer sends a whole capture, or text, and closes: the same
    records, or the same one-line error, as from a file."""
    sc = scenario()
    data = g.pcap_bytes(sc.records(), 1) if what == "capture" \
        else b"hello, this is not a capture file\n"
    fifo = str(tmp_path / "in.fifo")
    os.mkfifo(fifo)
    p, o = started_jcap(["-r", fifo, "-F", "json", "--no-progress", "-v"],
                        "the capture to start without a header")
    try:
        w = os.open(fifo, os.O_WRONLY)
        os.write(w, data)
        os.close(w)
        rc = p.wait(timeout=WAIT_S)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err = [ln for ln in o.err().splitlines() if not ln.startswith("jcap: info: ")]
    if what == "capture":
        assert rc == 0, err
        assert err == []
        jt.assert_same_flows(jt.parse_lines(o.out()), sc.expected().records, "late writer")
    else:
        assert rc == 1
        assert err == ["jcap: %s: not a capture file (unknown magic 0x6c6c6568)" % fifo]
        assert o.out() == ""


# ------------------------------------------------ item 6: outputs that fail

def run_file(tmp_path, *extra):
    f = tmp_path / "in.pcap"
    scenario().write(f)
    return jt.run(["-r", f, "--no-progress"] + [str(a) for a in extra])


def test_write_file_that_cannot_be_opened_is_refused(tmp_path):
    out = tmp_path / "missing" / "x.json"
    for fmt in ("json", "csv"):  # streamed, and printed at the end
        p = run_file(tmp_path, "-F", fmt, "-w", out)
        assert p.returncode == 1, (fmt, p.stderr)
        assert p.stderr == "jcap: %s: cannot open for writing: No such file or directory\n" \
            % out, fmt
        assert p.stdout == ""


def test_export_that_cannot_be_opened_is_refused_before_reading(tmp_path):
    """The other outputs open, but get nothing: no packet was read."""
    bad = tmp_path / "missing" / "x.json"
    ok = tmp_path / "ok.json"
    p = run_file(tmp_path, "-F", "json", "--export", "json:%s" % ok, "--export",
                 "json:%s" % bad)
    assert p.returncode == 1, p.stderr
    assert p.stderr == ("jcap: export json:%s: cannot open for writing: "
                        "No such file or directory\n" % bad)
    assert p.stdout == ""
    assert ok.read_bytes() == b""


def test_store_that_is_a_directory_is_refused(tmp_path):
    d = tmp_path / "adir"
    d.mkdir()
    p = run_file(tmp_path, "-q", "--store", d)
    assert p.returncode == 1, p.stderr
    assert p.stderr == "jcap: export sqlite:%s: Is a directory\n" % d
    assert list(d.iterdir()) == []


def test_every_output_that_cannot_be_opened_gets_its_line(tmp_path):
    d = tmp_path / "adir"
    d.mkdir()
    out = tmp_path / "missing" / "x.json"
    p = run_file(tmp_path, "-F", "json", "-w", out, "--store", d)
    assert p.returncode == 1, p.stderr
    assert sorted(p.stderr.splitlines()) == sorted([
        "jcap: %s: cannot open for writing: No such file or directory" % out,
        "jcap: export sqlite:%s: Is a directory" % d])


def in_private_netns():
    """Whether this test may make a network namespace of its own (root)."""
    if os.geteuid() != 0:
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not in_private_netns(), reason="needs root for a private netns")
def test_unresolvable_collector_is_refused(tmp_path):
    """Run in a network namespace of its own (only lo, down): the name
    lookup cannot leave the machine. The reason is whatever the C library
    says for that lookup there, asked the same way."""
    f = tmp_path / "in.pcap"
    scenario().write(f)
    why = subprocess.run(
        ["unshare", "-n", sys.executable, "-c",
         "import socket\n"
         "try:\n"
         "    socket.getaddrinfo('no-such-host.invalid', '4739', 0, socket.SOCK_DGRAM)\n"
         "except socket.gaierror as e:\n"
         "    print(e.strerror)\n"], capture_output=True, text=True, check=True).stdout.strip()
    assert why
    target = "ipfix://no-such-host.invalid:4739"
    p = subprocess.run(["unshare", "-n", jt.require_jcap(), "-r", str(f), "-F", "json",
                        "--no-progress", "--export", target], capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 1, p.stderr
    assert p.stderr == "jcap: export %s: cannot resolve no-such-host.invalid: %s\n" \
        % (target, why)
    assert p.stdout == ""


def test_stdout_that_cannot_be_written_exits_1(tmp_path):
    f = tmp_path / "in.pcap"
    sc = scenario()
    sc.write(f)
    n = len(sc.expected().records)
    with open("/dev/full", "w") as full:
        p = subprocess.run([jt.require_jcap(), "-r", str(f), "-F", "json", "--no-progress",
                            "--stats"], stdout=full, stderr=subprocess.PIPE, text=True,
                           timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 1, p.stderr
    st = jt.parse_stats(p.stderr)
    errs = st["export"]["errors"]
    assert errs >= 1 and st["export"]["records"] == 0
    lines = [ln for ln in p.stderr.splitlines() if not ln.startswith("{")]
    assert lines == ["jcap: stdout: %d error%s, %d of %d records lost"
                     % (errs, "" if errs == 1 else "s", n, n)]


def test_export_file_that_cannot_be_written_exits_1(tmp_path):
    sc = scenario()
    n = len(sc.expected().records)
    p = run_file(tmp_path, "-q", "--stats", "--export", "json:/dev/full")
    assert p.returncode == 1, p.stderr
    errs = jt.parse_stats(p.stderr)["export"]["errors"]
    assert errs >= 1
    lines = [ln for ln in p.stderr.splitlines() if not ln.startswith("{")]
    assert lines == ["jcap: export json:/dev/full: %d error%s, %d of %d records lost"
                     % (errs, "" if errs == 1 else "s", n, n)]


def test_outputs_that_work_exit_0(tmp_path):
    sc = scenario()
    out = tmp_path / "x.json"
    p = run_file(tmp_path, "-F", "json", "-w", out, "--export", "json:%s" % (tmp_path / "y"),
                 "--store", tmp_path / "s.db")
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    jt.assert_same_flows(jt.parse_lines(out.read_text()), sc.expected().records)
    assert (tmp_path / "y").read_text() == out.read_text()


# ------------------------------------------- item 7: live JSON as flows end

def can_capture_lo():
    if os.geteuid() != 0:
        return False
    p = jt.run(["backends", "-F", "json"])
    return p.returncode == 0 and '"name":"pcap","available":true' in p.stdout


@pytest.mark.skipif(not can_capture_lo(), reason="needs root and the pcap backend")
@pytest.mark.parametrize("to", ["file", "pipe"])
def test_live_json_leaves_as_flows_end(tmp_path, to):
    """UDP datagrams on lo (a receiver bound, so no ICMP): with a 1 s idle
    timeout the flow's record must be in the -w file (or on the stdout
    pipe) a moment later, while jcap still runs."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.bind(("127.0.0.1", 0))
    dport, sport = rx.getsockname()[1], tx.getsockname()[1]
    out = tmp_path / "live.json"
    args = ["-i", "lo", "-b", "pcap", "--idle-timeout", 1, "-F", "json", "-v",
            "--filter", "udp and port %d and port %d" % (dport, sport)]
    if to == "file":
        args += ["-w", out]
    p, o = started_jcap(args, "jcap to start capturing")
    try:
        for _ in range(3):
            tx.sendto(b"x" * 100, ("127.0.0.1", dport))

        def record():
            if to == "file":
                txt = out.read_text() if out.exists() else ""
            else:
                txt = o.out()
            return txt if txt.endswith("\n") else None
        line = wait_for(record, "the flow's record", deadline_s=10)
        assert p.poll() is None, "jcap ended before its record was read"
        recs = jt.parse_lines(line)
        assert len(recs) == 1, recs
        r = recs[0]
        assert (r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"], r["proto"]) == \
            ("127.0.0.1", sport, "127.0.0.1", dport, 17)
        assert (r["packets"], r["bytes"], r["rev_packets"], r["rev_bytes"]) == \
            (3, 3 * (20 + 8 + 100), 0, 0)
        assert r["end_reason"] == "idle"
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        rc = p.wait(timeout=STOP_S + 5)
        assert rc == 0, o.err()
        assert time.monotonic() - t0 < STOP_S
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
        rx.close()
        tx.close()
