# SPDX-License-Identifier: BSD-3-Clause
"""packet_capture_py: struct layouts equal the C header's, offline replay gives
the same flows as `jcap -r F -F json`, errors carry the library's codes and
messages, and engines release every thread, descriptor and byte they took."""
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("PC_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", "..", ".."))


def _asan_reexec():
    """A sanitized library cannot load into an unsanitized python unless the
    ASan runtime comes first: run this file again with it preloaded."""
    if not os.environ.get("PC_SANITIZED") or "libasan" in os.environ.get("LD_PRELOAD", ""):
        return
    cc = shutil.which("cc") or shutil.which("gcc")
    rt = subprocess.run([cc, "-print-file-name=libasan.so"], capture_output=True,
                        text=True).stdout.strip() if cc else ""
    if not rt or not os.path.isabs(rt):
        pytest.skip("sanitized build and no libasan.so to preload", allow_module_level=True)
    env = dict(os.environ, LD_PRELOAD=rt,
               ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:verify_asan_link_order=0")
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, "-m", "pytest"] + sys.argv[1:], env)


_asan_reexec()
sys.path.insert(0, os.path.join(SRC, "bindings", "python"))
sys.path.insert(0, os.path.join(SRC, "tests", "tools"))

import jcaptest  # noqa: E402
import packet_capture_py as pc  # noqa: E402

GEN = os.path.join(jcaptest.shared_dir(), "bench", "gen_traffic.py")
METER = dict(table_size=65536, idle_timeout_sec=30, active_timeout_sec=1800)
JCAP_METER = ("--workers", "1", "--table-size", "65536", "--idle-timeout", "30",
              "--active-timeout", "1800")


@pytest.fixture(scope="module")
def tmp():
    d = tempfile.mkdtemp(prefix="pcpy-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def gen(path, packets, flows, seed=3):
    if not os.path.exists(GEN):
        pytest.skip("gen_traffic.py not found")
    subprocess.run([sys.executable, GEN, "-o", path, "--packets", str(packets), "--flows",
                    str(flows), "--ipv6-share", "0.3", "--vlan-share", "0.2", "--udp-share",
                    "0.3", "--duration", "90", "--seed", str(seed), "-q"], check=True)
    return path


@pytest.fixture(scope="module")
def trace(tmp):
    return gen(os.path.join(tmp, "trace.pcap"), 4000, 120)


@pytest.fixture(scope="module")
def small(tmp):
    return gen(os.path.join(tmp, "small.pcap"), 60, 4, seed=5)


# ---------------------------------------------------------------- layouts

def test_struct_layouts_match_c(tmp):
    """sizeof and every field offset, as the C compiler lays out the header."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    lines = ["#include <stddef.h>", "#include <stdio.h>", '#include "packet_capture.h"',
             "int main(void)", "{"]
    for cname, cls in pc.STRUCTS.items():
        lines.append('\tprintf("%s %%zu\\n", sizeof(struct %s));' % (cname, cname))
        for f, _t in cls._fields_:
            lines.append('\tprintf("%s.%s %%zu\\n", offsetof(struct %s, %s));'
                         % (cname, f, cname, f))
    lines += ["\treturn 0;", "}"]
    src = os.path.join(tmp, "layout.c")
    exe = os.path.join(tmp, "layout")
    with open(src, "w") as f:
        f.write("\n".join(lines) + "\n")
    subprocess.run([cc, "-std=c11", "-Wall", "-Werror", "-I", os.path.join(SRC, "include"),
                    "-o", exe, src], check=True)
    c = {}
    for line in subprocess.run([exe], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        k, v = line.split()
        c[k] = int(v)
    import ctypes
    mism = []
    for cname, cls in pc.STRUCTS.items():
        if ctypes.sizeof(cls) != c[cname]:
            mism.append("%s: sizeof %d, C %d" % (cname, ctypes.sizeof(cls), c[cname]))
        for f, _t in cls._fields_:
            off = getattr(cls, f).offset
            if off != c["%s.%s" % (cname, f)]:
                mism.append("%s.%s: offset %d, C %d" % (cname, f, off, c[cname + "." + f]))
    assert not mism, "\n".join(mism)
    assert len(c) == len(pc.STRUCTS) + sum(len(x._fields_) for x in pc.STRUCTS.values())


# ---------------------------------------------------------------- replay

def test_backends():
    allb = pc.list_backends()
    names = [b.name for b in allb]
    assert len(names) == len(set(names)) and "file" in names
    for b in allb:
        assert b.reason, b
    avail = pc.get_available_backends()
    assert avail == [b.name for b in sorted(allb, key=lambda b: -b.preference) if b.available]
    assert "file" in avail
    assert pc.library_version() == "0.1.0"


def test_offline_replay_same_flows_as_jcap(trace):
    ref, stats = jcaptest.meter(trace, *JCAP_METER)
    got_cb = []
    with pc.PacketCaptureEngine(pcap_file=trace, on_flow=got_cb.extend) as eng:
        eng.enable_flow_metering(**METER)
        assert eng.state == "idle"
        eng.start()
        assert eng.wait(timeout=120) == "done"
        flows = eng.get_flows(limit=0, include_finished=True)
        jcaptest.assert_same_flows([f.to_dict() for f in flows], ref, "binding vs jcap")
        # the callback saw every expired record once
        jcaptest.assert_same_flows([f.to_dict() for f in got_cb], ref, "flow callback")
        for f in flows:
            assert list(f.to_dict()) == list(jcaptest.FLOW_FIELDS)
        m = eng.get_metrics(per_worker=True)
        assert m.packets_read == stats["packets_read"] == 4000
        assert m.bytes_read == stats["bytes_read"]
        assert m.packets_in_flows == stats["packets_in_flows"]
        assert m.bytes_in_flows == stats["bytes_in_flows"]
        assert m.skipped == stats["skipped"] and m.expired == stats["expired"]
        assert m.packets_read == m.packets_in_flows + m.packets_skipped
        assert m.flows_created == len(ref) and m.flows_active == 0
        assert m.workers == 1 and len(m.per_worker) == 1
        assert m.per_worker[0].packets_read == 4000
        # active flows: none left at the end of the file
        assert eng.get_flows() == []
        # sorting and limits
        for key, fn in (("bytes", lambda f: f["bytes"] + f["rev_bytes"]),
                        ("packets", lambda f: f["packets"] + f["rev_packets"]),
                        ("duration", lambda f: f["last_ns"] - f["first_ns"]),
                        ("last_seen", lambda f: f["last_ns"])):
            top = eng.get_flows(limit=5, sort_by=key, include_finished=True)
            assert len(top) == 5
            assert [fn(f.to_dict()) for f in top] == sorted(map(fn, ref), reverse=True)[:5]
        assert len(eng.get_flows(include_finished=True)) == 10
        st = eng.get_status()
        assert st["state"] == "done" and st["backend"] == "file" and st["workers"] == 1
        assert st["pcap_file"] == trace
        eng.stop()


def test_lookup_during_live_like_replay(small):
    """lookup_flow finds an active flow; a 5-tuple never seen gives None."""
    ref, _ = jcaptest.meter(small, *JCAP_METER)
    f0 = ref[0]
    with pc.PacketCaptureEngine(pcap_file=small) as eng:
        eng.enable_flow_metering(**METER)
        eng.start()
        assert eng.wait(timeout=60) == "done"
        # after the end of input the flow left the table: lookups miss
        assert eng.lookup_flow(f0["src_ip"], f0["dst_ip"], f0["src_port"], f0["dst_port"],
                               f0["proto"], f0["vlan"]) is None
        with pytest.raises(ValueError):
            eng.lookup_flow("198.18.0.1", "2001:2::1")


# ---------------------------------------------------------------- errors

def expect(exc, code, name, message, detail_part):
    assert exc.code == code and exc.name == name, (exc.code, exc.name)
    assert exc.message == message
    assert detail_part in exc.detail, exc.detail
    assert str(exc).endswith(exc.detail)


def test_errors_map(tmp, trace):
    with pytest.raises(pc.PacketCaptureError) as ei:
        pc.PacketCaptureEngine(pcap_file=trace, filter="tcp and")
    expect(ei.value, 1002, "CAPTURE_E_FILTER", "invalid filter expression", "syntax error")
    assert ei.value.call == "capture_init"

    missing = os.path.join(tmp, "missing.pcap")
    with pc.PacketCaptureEngine(pcap_file=missing) as eng:
        with pytest.raises(pc.PacketCaptureError) as ei:
            eng.start()
    expect(ei.value, 2, "ENOENT", os.strerror(2), missing)

    bad = os.path.join(tmp, "bad.pcap")
    with open(bad, "wb") as f:
        f.write(b"this is not a capture file at all")
    with pc.PacketCaptureEngine(pcap_file=bad) as eng:
        with pytest.raises(pc.PacketCaptureError) as ei:
            eng.start()
    expect(ei.value, 1003, "CAPTURE_E_FORMAT", "not a capture file", bad)

    short = os.path.join(tmp, "short.pcap")
    with open(trace, "rb") as f:
        data = f.read(24 + 16 + 10)	# file header, record header, part of a packet
    with open(short, "wb") as f:
        f.write(data)
    with pc.PacketCaptureEngine(pcap_file=short) as eng:
        eng.enable_flow_metering(**METER)
        eng.start()
        with pytest.raises(pc.PacketCaptureError) as ei:
            eng.wait(timeout=30)
        assert eng.state == "failed"
    expect(ei.value, 1004, "CAPTURE_E_TRUNCATED", "truncated capture file", "truncated")

    with pc.PacketCaptureEngine(pcap_file=trace) as eng:
        eng.start()
        with pytest.raises(pc.PacketCaptureError) as ei:
            eng.start()
        expect(ei.value, 1000, "CAPTURE_E_STATE", "operation not valid in the current state",
               "")
        with pytest.raises(pc.PacketCaptureError) as ei:
            eng.add_export("bogus:x")
        expect(ei.value, 1011, "CAPTURE_E_TARGET", "invalid export target", "bogus:x")

    with pc.PacketCaptureEngine(interface="nosuch0") as eng:
        with pytest.raises(pc.PacketCaptureError) as ei:
            eng.start()
    expect(ei.value, 1005, "CAPTURE_E_BACKEND", "capture backend unavailable",
           "no such interface 'nosuch0'")

    # arguments Python can judge never reach the library
    for kw in (dict(), dict(interface="lo", pcap_file=trace), dict(pcap_file=trace, backend="x"),
               dict(pcap_file=trace, workers=0), dict(pcap_file=trace, tstamp="gps")):
        with pytest.raises((ValueError, TypeError)):
            pc.PacketCaptureEngine(**kw)
    with pc.PacketCaptureEngine(pcap_file=trace) as eng:
        with pytest.raises(ValueError):
            eng.enable_flow_metering(table_size=100)
        with pytest.raises(ValueError):
            eng.get_flows(sort_by="size")
        with pytest.raises(ValueError):
            eng.get_flows(limit=-1)
        with pytest.raises(ValueError):
            eng.enable_netflow_export(collector="127.0.0.1", version=7)
    eng.close()
    with pytest.raises(pc.PacketCaptureError) as ei:
        eng.get_metrics()
    assert ei.value.code == 9 and ei.value.name == "EBADF"

    # a firmware verdict is a value, not an exception
    v = pc.verify_firmware(missing, missing, missing)
    assert v.valid is False and v.result == "unreadable" and v.code == 3
    assert missing in v.detail


def test_callback_exception_surfaces(small):
    def boom(recs):
        raise RuntimeError("from the callback")
    with pc.PacketCaptureEngine(pcap_file=small, on_flow=boom) as eng:
        eng.enable_flow_metering(**METER)
        eng.start()
        with pytest.raises(RuntimeError, match="from the callback"):
            eng.wait(timeout=60)


def test_encrypted_storage_round_trip(tmp, small):
    out = os.path.join(tmp, "store")
    os.makedirs(out)
    key = os.path.join(tmp, "key.hex")
    with open(key, "w") as f:
        f.write(os.urandom(32).hex())
    with pc.PacketCaptureEngine(pcap_file=small) as eng:
        eng.enable_flow_metering(**METER)
        eng.enable_pcap_output(out, format="pcapng")
        eng.enable_encryption(key, algorithm="chacha20-poly1305")
        eng.start()
        assert eng.wait(timeout=60) == "done"
        eng.stop()
        m = eng.get_metrics()
    assert m.writer_packets == 60 and m.writer_files == 1 and m.writer_errors == 0
    (name,) = os.listdir(out)
    with pytest.raises(ValueError):
        list(pc.read_pcap(os.path.join(out, name)))	# encrypted: not a pcap
    wrong = os.path.join(tmp, "wrong.hex")
    with open(wrong, "w") as f:
        f.write("00" * 32)
    with pytest.raises(pc.PacketCaptureError) as ei:
        pc.decrypt_file(wrong, os.path.join(out, name), os.path.join(tmp, "x"))
    assert ei.value.name == "CAPTURE_E_WRONG_KEY"
    assert not os.path.exists(os.path.join(tmp, "x"))
    plain = os.path.join(tmp, "plain.pcapng")
    pc.decrypt_file(key, os.path.join(out, name), plain)
    got = list(pc.read_pcap(plain))
    want = list(pc.read_pcap(small))
    assert len(got) == len(want) == 60
    assert [(p.timestamp_ns, p.length, p.data) for p in got] == \
        [(p.timestamp_ns, p.length, p.data) for p in want]


# ---------------------------------------------------------------- resources

def _usage():
    fds = len(os.listdir("/proc/self/fd"))
    threads = len(os.listdir("/proc/self/task"))
    with open("/proc/self/status") as f:
        rss = next(int(x.split()[1]) for x in f if x.startswith("VmRSS:"))
    return fds, threads, rss


def _cycle(path):
    with pc.PacketCaptureEngine(pcap_file=path) as eng:
        eng.enable_flow_metering(table_size=4096, ended_ring_size=1024)
        eng.start()
        assert eng.wait(timeout=30) == "done"
        assert len(eng.get_flows(limit=0, include_finished=True)) == 4
        eng.stop()


def test_resources_released(small):
    if os.environ.get("PC_SANITIZED"):
        pytest.skip("RSS under ASan measures the sanitizer's quarantine, not the engine")
    for _ in range(10):
        _cycle(small)
    fd0, th0, rss0 = _usage()
    for _ in range(150):
        _cycle(small)
    # an engine abandoned without close() is released by the garbage collector
    eng = pc.PacketCaptureEngine(pcap_file=small)
    eng.start()
    eng.wait(timeout=30)
    del eng
    fd1, th1, rss1 = _usage()
    assert fd1 == fd0, "descriptors leaked: %d -> %d" % (fd0, fd1)
    assert th1 == th0, "threads leaked: %d -> %d" % (th0, th1)
    assert rss1 - rss0 < 4096, "RSS grew %d KiB over 150 sessions" % (rss1 - rss0)
