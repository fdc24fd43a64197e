# SPDX-License-Identifier: BSD-3-Clause
"""jcapd API test setup: --base-url targets a daemon already running (with
--token-file/--data-dir naming its token and one of its allow-dirs); without
it each test module starts its own jcapd on a free loopback port with a token
file and an allow-dir under a temporary directory, and stops it by PID."""
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from apihttp import use_tls  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--base-url", default=None,
                     help="test a running jcapd at this URL instead of starting one")
    parser.addoption("--token-file", default=None,
                     help="with --base-url: the daemon's bearer token file")
    parser.addoption("--data-dir", default=None,
                     help="with --base-url: a directory inside the daemon's --allow-dir")


def build_dir():
    d = os.environ.get("PC_BUILD_DIR")
    if d:
        return d
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "build"))


class Daemon:
    """A jcapd process this test started (or the one --base-url names)."""

    def __init__(self, base, token, data_dir, proc=None, log=None, tmp=None):
        self.base = base.rstrip("/")
        self.token = token
        self.data_dir = data_dir
        self.proc = proc
        self.log = log
        self.tmp = tmp

    def log_text(self):
        if not self.log:
            return ""
        with open(self.log, errors="replace") as f:
            return f.read()

    def assert_clean_exit(self, rc):
        """The daemon exited 0 and its log has no sanitizer report; returns the log."""
        log = self.log_text()
        assert rc == 0, log[-3000:]
        for marker in ("ThreadSanitizer", "AddressSanitizer", "runtime error:"):
            assert marker not in log, log[-4000:]
        return log

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Signal our own process by PID; returns its exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise AssertionError("jcapd did not exit within %d s of %s" % (timeout, sig))


def make_cert(tmp, name="server", cn="jcapd", ips=("127.0.0.1",), ca=None):
    """A P-256 certificate and key in @tmp with openssl: self-signed, or signed
    by @ca (its name). Returns (cert path, key path)."""
    cert, key = os.path.join(tmp, name + ".pem"), os.path.join(tmp, name + ".key")
    new = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key]
    subj = ["-subj", "/CN=%s" % cn if not cn.startswith("/") else cn]
    san = ["-addext", "subjectAltName=" + ",".join("IP:" + ip for ip in ips)] if ips else []
    if ca is None:
        cmd = ["openssl", "req", "-x509"] + new + ["-out", cert, "-days", "2"] + subj + san
        subprocess.run(cmd, check=True, capture_output=True)
    else:
        csr = os.path.join(tmp, name + ".csr")
        subprocess.run(["openssl", "req"] + new + ["-out", csr] + subj, check=True,
                       capture_output=True)
        subprocess.run(["openssl", "x509", "-req", "-in", csr,
                        "-CA", os.path.join(tmp, ca + ".pem"),
                        "-CAkey", os.path.join(tmp, ca + ".key"), "-set_serial", "2",
                        "-out", cert, "-days", "2"], check=True, capture_output=True)
    return cert, key


def start_jcapd(tmp, extra_args=(), config_lines=(), listen="127.0.0.1:0", token=True,
                tls=False):
    """Start jcapd with a token and allow-dir under @tmp; waits for its
    'listening on' line. @tls: serve HTTPS with a certificate made in @tmp
    (registered with apihttp). Returns a Daemon."""
    exe = os.path.join(build_dir(), "jcapd")
    if not os.access(exe, os.X_OK):
        pytest.skip("jcapd not built at %s (needs libmicrohttpd-dev, libjansson-dev)" % exe)
    data = os.path.join(tmp, "data")
    os.makedirs(data, exist_ok=True)
    tok = None
    args = [exe, "--listen", listen, "--allow-dir", data]
    if token:
        tok = os.urandom(24).hex()
        tf = os.path.join(tmp, "token")
        with open(tf, "w") as f:
            f.write(tok + "\n")
        os.chmod(tf, 0o600)
        args += ["--token-file", tf]
    conf = os.path.join(tmp, "jcapd.conf")
    with open(conf, "w") as f:
        f.write("# written by tests/api/conftest.py\n")
        f.write("ended_ring_size = 65536\nflow_table_size = 65536\nmax_body_bytes = 4096\n")
        f.write("log_level = debug\n")
        for line in config_lines:
            f.write(line + "\n")
    if tls:
        cert, key = make_cert(tmp)
        args += ["--tls-cert", cert, "--tls-key", key]
    args += ["--config", conf] + list(extra_args)
    log = os.path.join(tmp, "jcapd.log")
    logf = open(log, "w")
    proc = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    logf.close()
    deadline = time.time() + 20
    base = None
    while time.time() < deadline:
        with open(log, errors="replace") as f:
            for line in f:
                if "listening on http" in line:
                    base = line.split("listening on ")[1].split()[0]
        if base or proc.poll() is not None:
            break
        time.sleep(0.02)
    if not base:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        with open(log, errors="replace") as f:
            raise AssertionError("jcapd did not start:\n" + f.read()[-3000:])
    if tls:
        use_tls(base, cert)
    return Daemon(base, tok, data, proc, log, tmp)


@pytest.fixture(scope="module")
def daemon(request):
    base = request.config.getoption("--base-url")
    if base:
        tf = request.config.getoption("--token-file")
        dd = request.config.getoption("--data-dir")
        tok = None
        if tf:
            with open(tf) as f:
                tok = f.read().strip()
        yield Daemon(base, tok, dd)
        return
    tmp = tempfile.mkdtemp(prefix="jcapd-api-")
    d = start_jcapd(tmp)
    try:
        yield d
    finally:
        rc = d.stop()
        log = d.log_text()
        subprocess.run(["rm", "-rf", tmp])
        assert rc == 0, "jcapd exited %s on SIGTERM:\n%s" % (rc, log[-3000:])
        assert "ERROR: AddressSanitizer" not in log and "runtime error:" not in log, log[-4000:]


@pytest.fixture
def own_tmp():
    tmp = tempfile.mkdtemp(prefix="jcapd-api-")
    yield tmp
    subprocess.run(["rm", "-rf", tmp])
