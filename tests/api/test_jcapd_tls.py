# SPDX-License-Identifier: BSD-3-Clause
"""jcapd on a network address: clear text refused at launch, HTTPS with a
certificate made by the docs/JCAPD.md recipe, reached with curl from a private
network namespace over a veth pair (198.18.0.0/15 only), plain HTTP to the TLS
port closed, mutual TLS refusing a certificate from another authority, and the
certificate replaced on SIGHUP under a running daemon (on loopback)."""
import hashlib
import http.client
import os
import signal
import socket
import ssl
import subprocess
import time

import pytest

from apihttp import request, use_tls
from apinet import Veth
from conftest import build_dir, make_cert, start_jcapd

P = "/packet_capture/capture"
SRC = os.environ.get("PC_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
REFUSED = ("jcapd: refusing clear-text HTTP on non-loopback %s: give --tls-cert FILE and "
           "--tls-key FILE (or --insecure-http to send tokens and flows unencrypted)\n")


def jcapd_exe():
    exe = os.path.join(build_dir(), "jcapd")
    if not os.access(exe, os.X_OK):
        pytest.skip("jcapd not built at %s" % exe)
    return exe


def refused(*args):
    """jcapd @args, which must refuse to start: (exit status, stderr)."""
    try:
        p = subprocess.run([jcapd_exe()] + list(args), capture_output=True, text=True,
                           timeout=10, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("jcapd %s started instead of refusing:\n%s" % (args, e.stderr))
    return p.returncode, p.stderr


def curl(v, *args):
    """curl inside the test's namespace: (exit status, stdout, stderr)."""
    p = subprocess.run(["ip", "netns", "exec", v.ns, "curl", "-sS", "--noproxy", "*",
                        "--max-time", "10"] + list(args),
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def audit_lines(path):
    with open(path) as f:
        return f.read().splitlines()


def doc_https_block():
    """The sh block of docs/JCAPD.md's HTTPS section."""
    with open(os.path.join(SRC, "docs", "JCAPD.md")) as f:
        text = f.read()
    section = text.split("\n## HTTPS\n", 1)[1]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def test_clear_text_refused_on_a_network_address(own_tmp):
    """Exit 2 and one line saying why and how, from the command line or the
    config file; the other TLS options are checked together too."""
    with Veth("t", subnet=81) as v:
        addr = "%s:8443" % v.host_ip
        tok = os.path.join(own_tmp, "token")
        with open(tok, "w") as f:
            f.write(os.urandom(24).hex() + "\n")
        os.chmod(tok, 0o600)
        assert refused("--listen", addr, "--token-file", tok) == (2, REFUSED % addr)
        conf = os.path.join(own_tmp, "jcapd.conf")
        with open(conf, "w") as f:
            f.write("listen = %s\ntoken_file = %s\n" % (addr, tok))
        assert refused("--config", conf) == (2, REFUSED % addr)
        assert refused("--listen", addr, "--tls-cert", tok) == (
            2, "jcapd: tls_cert given without tls_key: HTTPS needs both\n")
        assert refused("--listen", "127.0.0.1:0", "--tls-client-ca", tok) == (
            2, "jcapd: tls_client_ca needs tls_cert and tls_key (client certificates are "
               "part of HTTPS)\n")
        # said explicitly, clear text is served (from the namespace, by curl)
        d = start_jcapd(own_tmp, listen=v.host_ip + ":0", extra_args=["--insecure-http"])
        try:
            assert d.base.startswith("http://%s:" % v.host_ip), d.base
            rc, out, err = curl(v, d.base + "/healthz")
            assert rc == 0 and '"status":"ok"' in out, (rc, out, err)
        finally:
            assert d.stop() == 0, d.log_text()[-2000:]


def test_bad_tls_files_and_priorities(own_tmp):
    cert, key = make_cert(own_tmp)
    other_cert, other_key = make_cert(own_tmp, name="other")
    base = ["--listen", "127.0.0.1:0"]
    assert refused(*base, "--tls-cert", cert, "--tls-key", other_key) == (
        2, "jcapd: tls_key %s is not the key of tls_cert %s\n" % (other_key, cert))
    missing = os.path.join(own_tmp, "missing.pem")
    rc, err = refused(*base, "--tls-cert", missing, "--tls-key", key)
    assert (rc, err) == (2, "jcapd: tls_cert %s: Error while reading file.\n" % missing)
    rc, err = refused(*base, "--tls-cert", key, "--tls-key", key)
    assert rc == 2 and err.startswith("jcapd: tls_cert %s: " % key), err
    rc, err = refused(*base, "--tls-cert", cert, "--tls-key", key,
                      "--tls-priorities", "NORMAL:+BOGUS")
    assert (rc, err) == (2, "jcapd: tls_priorities: invalid from '+BOGUS': The request is "
                            "invalid.\n")
    # TLS 1.1 asked for alone: the floor leaves nothing, which is said at start
    rc, err = refused(*base, "--tls-cert", cert, "--tls-key", key,
                      "--tls-priorities", "NORMAL:-VERS-ALL:+VERS-TLS1.1")
    assert (rc, err) == (2, "jcapd: tls_priorities: 'NORMAL:-VERS-ALL:+VERS-TLS1.1' leaves "
                            "no protocol version (TLS 1.2 or later)\n")
    # the other new keys are checked at launch too
    assert refused(*base, "--audit-log", "audit.log") == (
        2, "jcapd: audit_log: 'audit.log': expected an absolute path or syslog\n")
    assert refused(*base, "--audit-log", own_tmp + "/no/such/dir/audit.log") == (
        2, "jcapd: audit_log: %s/no/such/dir/audit.log: No such file or directory\n" % own_tmp)
    assert refused(*base, "--metrics-auth", "anyone") == (
        2, "jcapd: command line: metrics_auth: expected token, loopback or open, got "
           "'anyone'\n")


def test_https_from_a_namespace(own_tmp):
    """The documented recipe's certificate; curl --cacert from the namespace
    reads and controls; without --cacert curl refuses the self-signed
    certificate; plain HTTP to the port is closed and the daemon serves on."""
    with Veth("h", subnet=82) as v:
        etc = os.path.join(own_tmp, "etc")
        steps = doc_https_block().replace("/etc/jcapd", etc).replace("192.0.2.10", v.host_ip)
        lines = steps.replace("\\\n", " ").splitlines()
        # the recipe up to the daemon, then the curl lines as the workstation runs them
        recipe = [ln for ln in lines if ln.startswith(("install", "openssl", "chmod"))]
        curls = [ln for ln in lines if ln.startswith("curl")]
        assert len(recipe) == 3 and len(curls) == 2, lines
        subprocess.run(["bash", "-ec", "\n".join(recipe)], check=True, timeout=60,
                       capture_output=True)
        cert, key = os.path.join(etc, "tls", "cert.pem"), os.path.join(etc, "tls", "key.pem")
        assert os.stat(key).st_mode & 0o777 == 0o600
        audit = os.path.join(own_tmp, "audit.log")
        d = start_jcapd(own_tmp, listen=v.host_ip + ":0", config_lines=["metrics_auth = loopback"],
                        extra_args=["--tls-cert", cert, "--tls-key", key, "--audit-log", audit])
        try:
            assert d.base.startswith("https://%s:" % v.host_ip), d.base
            port = d.base.rsplit(":", 1)[1]
            ws = os.path.join(own_tmp, "ws")
            os.makedirs(ws)
            subprocess.run(["cp", cert, os.path.join(ws, "cert.pem")], check=True)
            for ln in curls:
                ln = ln.replace(":8443", ":" + port)
                p = subprocess.run(["ip", "netns", "exec", v.ns, "bash", "-ec",
                                    "cd %s; export TOKEN=%s; %s --noproxy '*' -sS"
                                    % (ws, d.token, ln)],
                                   capture_output=True, text=True, timeout=30)
                assert p.returncode == 0, (ln, p.stderr)
                if "healthz" in ln:
                    assert '"status":"ok"' in p.stdout, p.stdout
                else:
                    assert p.stdout == '{"error":"no capture session to stop"}\n', p.stdout
            rc, out, err = curl(v, d.base + "/healthz")
            assert rc == 60, (rc, out, err)	# the self-signed certificate is not trusted
            rc, out, err = curl(v, "http://%s:%s/healthz" % (v.host_ip, port))
            assert (rc, out) == (52, ""), (rc, out, err)	# empty reply: closed
            rc, out, err = curl(v, "--cacert", cert, d.base + P + "/status")
            assert rc == 0 and '"state":"idle"' in out, (rc, out, err)
            # metrics_auth = loopback: a client on the network needs a token
            m = ["--cacert", cert, "-o", "/dev/null", "-w", "%{http_code}", d.base + "/metrics"]
            assert curl(v, *m)[:2] == (0, "401")
            assert curl(v, "-H", "Authorization: Bearer " + d.token, *m)[:2] == (0, "200")
            lines = audit_lines(audit)
            assert len(lines) == 2, lines
            assert lines[1].endswith('client="%s" subject="" token=- scope=none method="GET" '
                                     'path="/metrics" status=401 session=0 state=idle'
                                     % v.peer_ip), lines
            assert ('client="%s" subject="" token=L1:' % v.peer_ip) in lines[0], lines
            assert lines[0].endswith('method="POST" path="%s/stop" status=409 session=0 '
                                     'state=idle' % P), lines
            assert d.token not in open(audit).read()
        finally:
            assert d.stop() == 0, d.log_text()[-2000:]


def test_mutual_tls_from_a_namespace(own_tmp):
    """--tls-client-ca: the workstation's certificate gets in and its subject
    is audited; one from another authority, or none, is refused in the
    handshake (curl sees the connection closed) and audited."""
    with Veth("m", subnet=83) as v:
        cert, key = make_cert(own_tmp, ips=(v.host_ip,))
        make_cert(own_tmp, name="ca", cn="jcapd test CA", ips=())
        good = make_cert(own_tmp, name="ws", cn="/CN=soc-workstation/O=ops", ips=(), ca="ca")
        make_cert(own_tmp, name="rogue_ca", cn="rogue CA", ips=())
        bad = make_cert(own_tmp, name="rogue", cn="/CN=soc-workstation/O=ops", ips=(),
                        ca="rogue_ca")
        audit = os.path.join(own_tmp, "audit.log")
        d = start_jcapd(own_tmp, listen=v.host_ip + ":0",
                        extra_args=["--tls-cert", cert, "--tls-key", key, "--audit-log", audit,
                                    "--tls-client-ca", os.path.join(own_tmp, "ca.pem")])
        try:
            tls = ["--cacert", cert]
            rc, out, err = curl(v, *tls, "--cert", good[0], "--key", good[1],
                                "-X", "POST", "-H", "Authorization: Bearer " + d.token,
                                d.base + P + "/stop")
            assert (rc, out) == (0, '{"error":"no capture session to stop"}\n'), (rc, err)
            # TLS 1.3: the server judges the client's certificate after the
            # client's handshake is done and closes; curl then sees an empty
            # reply (52), or a send/receive failure (55/56) when the close
            # wins the race with its request. The audit lines below say why.
            rejected = (52, 55, 56)
            rc, out, err = curl(v, *tls, "--cert", bad[0], "--key", bad[1], d.base + "/healthz")
            assert rc in rejected and out == "", (rc, out, err)
            rc, out, err = curl(v, *tls, d.base + "/healthz")
            assert rc in rejected and out == "", (rc, out, err)
            lines = audit_lines(audit)
            assert len(lines) == 3, lines
            assert ('client="%s" subject="O=ops,CN=soc-workstation" token=L1:' % v.peer_ip
                    in lines[0]) and lines[0].endswith(
                'method="POST" path="%s/stop" status=409 session=0 state=idle' % P), lines
            assert lines[1].endswith(
                'client="%s" subject="O=ops,CN=soc-workstation" token=- scope=none method=- '
                'path=- status=tls reason="client certificate not signed by tls_client_ca '
                '(or expired)"' % v.peer_ip), lines
            assert lines[2].endswith(
                'client="%s" subject="" token=- scope=none method=- path=- status=tls '
                'reason="no client certificate"' % v.peer_ip), lines
        finally:
            assert d.stop() == 0, d.log_text()[-2000:]


def peer_der(base, ctx):
    """The certificate a new TLS connection to @base is given (DER)."""
    host, port = base.split("//")[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname=host) as t:
            return t.getpeercert(binary_form=True)


def der_of(pem):
    with open(pem) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def wait_log(d, text, timeout=10):
    deadline = time.monotonic() + timeout
    while text not in d.log_text():
        assert time.monotonic() < deadline, "no %r in the log:\n%s" % (text, d.log_text())
        time.sleep(0.02)


def test_certificate_replaced_on_sighup(own_tmp):
    """New connections get the new certificate, one opened before keeps
    working; a key that does not match keeps the pair in use."""
    a_cert, a_key = make_cert(own_tmp, name="a")
    b_cert, b_key = make_cert(own_tmp, name="b")
    cert, key = os.path.join(own_tmp, "cert.pem"), os.path.join(own_tmp, "key.pem")
    for src, dst in ((a_cert, cert), (a_key, key)):
        subprocess.run(["cp", src, dst], check=True)
    both = os.path.join(own_tmp, "both.pem")
    with open(both, "w") as f:
        f.write(open(a_cert).read() + open(b_cert).read())
    d = start_jcapd(own_tmp, extra_args=["--tls-cert", cert, "--tls-key", key])
    try:
        ctx = use_tls(d.base, both)
        assert peer_der(d.base, ctx) == der_of(a_cert)
        host, port = d.base.split("//")[1].rsplit(":", 1)
        kept = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=5)
        kept.request("GET", "/healthz")
        assert kept.getresponse().read().startswith(b'{"status":"ok"')
        for src, dst in ((b_cert, cert), (b_key, key)):
            subprocess.run(["cp", src, dst], check=True)
        os.kill(d.proc.pid, signal.SIGHUP)
        wait_log(d, "SIGHUP: certificate reloaded")
        assert peer_der(d.base, ctx) == der_of(b_cert)
        # the connection opened under the old certificate goes on
        kept.request("GET", "/healthz")
        assert kept.getresponse().read().startswith(b'{"status":"ok"')
        kept.close()
        # a key from another pair: refused, the pair in use stays
        subprocess.run(["cp", a_key, key], check=True)
        os.kill(d.proc.pid, signal.SIGHUP)
        wait_log(d, "SIGHUP: certificate not reloaded: tls_key %s is not the key of "
                    "tls_cert %s" % (key, cert))
        assert peer_der(d.base, ctx) == der_of(b_cert)
        assert request(d.base, "GET", "/healthz").status == 200
    finally:
        assert d.stop() == 0, d.log_text()[-2000:]
    log = d.log_text()
    assert "ERROR: AddressSanitizer" not in log and "ThreadSanitizer" not in log, log


def test_token_hash_in_the_audit_is_sha256_prefix(own_tmp):
    """The id is the token file line and sha256(token)[:8]: an operator can
    tell which token acted (sha256sum) while the log holds nothing to replay."""
    audit = os.path.join(own_tmp, "audit.log")
    d = start_jcapd(own_tmp, extra_args=["--audit-log", audit], tls=True)
    try:
        r = request(d.base, "POST", P + "/stop", body={}, token=d.token)
        assert r.status == 409, r
    finally:
        assert d.stop() == 0, d.log_text()[-2000:]
    lines = audit_lines(audit)
    want = "token=L1:%s scope=admin" % hashlib.sha256(d.token.encode()).hexdigest()[:8]
    assert len(lines) == 1 and want in lines[0], (lines, want)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def s_client(port, *args):
    """openssl s_client's handshake line ("New, TLSv1.2, Cipher is ...") and status."""
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port] + list(args),
                       input="", capture_output=True, text=True, timeout=20)
    new = [ln for ln in p.stdout.splitlines() if ln.startswith("New, ")]
    return p.returncode, new[0] if new else ""


def start_gnutls_serv(tmp, cert, key, prio):
    """gnutls-serv on a free port, once it accepts on 127.0.0.1: (process, port).
    Its output goes to a file (it buffers stdout); a server that exits before
    listening (a port taken since free_port()) is retried on another port."""
    log = os.path.join(tmp, "gnutls-serv.log")
    for _ in range(3):
        port = free_port()
        with open(log, "w") as out:
            serv = subprocess.Popen(["gnutls-serv", "--port", str(port), "--x509certfile", cert,
                                     "--x509keyfile", key, "--priority", prio],
                                    stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while serv.poll() is None and time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return serv, port
            except OSError:
                time.sleep(0.05)
        if serv.poll() is None:
            serv.kill()
            serv.wait(timeout=10)
            break
    with open(log) as f:
        raise AssertionError("gnutls-serv (exit %s) did not listen on port %d:\n%s"
                             % (serv.returncode, port, f.read()[-2000:]))


def test_nothing_below_tls_1_2_even_when_asked(own_tmp):
    """--tls-priorities that adds TLS 1.1 still gets no TLS 1.1 handshake; the
    same client and string against gnutls-serv do get one (the client can)."""
    cert, key = make_cert(own_tmp)
    prio = "NORMAL:+VERS-TLS1.1"
    old = ["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"]
    serv, port = start_gnutls_serv(own_tmp, cert, key, prio)
    try:
        rc, new = s_client(port, *old)
        assert rc == 0 and new.startswith("New, TLSv1") and "(NONE)" not in new, (rc, new)
    finally:
        serv.terminate()
        serv.wait(timeout=10)
    d = start_jcapd(own_tmp, extra_args=["--tls-cert", cert, "--tls-key", key,
                                         "--tls-priorities", prio])
    try:
        port = int(d.base.rsplit(":", 1)[1])
        assert s_client(port, *old) == (1, "New, (NONE), Cipher is (NONE)")
        rc, new = s_client(port, "-tls1_2")
        assert rc == 0 and new.startswith("New, TLSv1.2, Cipher is ECDHE-"), (rc, new)
    finally:
        assert d.stop() == 0, d.log_text()[-2000:]
