# SPDX-License-Identifier: BSD-3-Clause
"""Scoped tokens: a token file with a read, a control, an admin and a bare
token. Every operation of the daemon's own OpenAPI document is tried with each
of them, with none and with a wrong one, and must be allowed exactly when the
token's scope reaches the operation's x-required-scope; the audit file gets a
line for every POST and every 401/403, naming tokens by id, never by text.
Runs over HTTPS on loopback (the scopes do not depend on the transport)."""
import hashlib
import os
import signal
import subprocess
import time

import pytest

from apihttp import request
from conftest import build_dir, start_jcapd

P = "/packet_capture/capture"
RANK = {"none": 0, "read": 1, "control": 2, "admin": 3}


def token_file(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)


def tokens():
    return {s: "%s-%s" % (s, os.urandom(12).hex()) for s in ("read", "control", "admin",
                                                               "bare")}


def start(tmp, toks, extra=(), config_lines=("auth_reads = true",)):
    tf = os.path.join(tmp, "scoped-token")
    token_file(tf, ["# scoped tokens for test_jcapd_scopes.py",
                    "read " + toks["read"],
                    "",
                    "control\t" + toks["control"],
                    "  admin   " + toks["admin"] + "  ",
                    toks["bare"]])
    audit = os.path.join(tmp, "audit.log")
    d = start_jcapd(tmp, extra_args=["--token-file", tf, "--audit-log", audit] + list(extra),
                    config_lines=config_lines, tls=True)
    return d, tf, audit


def allowed(status):
    return status not in (401, 403)


def test_every_operation_with_every_scope(own_tmp):
    toks = tokens()
    d, tf, audit = start(own_tmp, toks)
    expect_audit = 0
    try:
        doc = request(d.base, "GET", "/openapi.json").json
        ops = [(m.upper(), p, o["x-required-scope"]) for p, item in doc["paths"].items()
               for m, o in item.items()]
        # the document's scopes are the ones the issue asks for
        for method, path, scope in ops:
            if path in ("/healthz", "/openapi.json"):
                want = "none"
            elif path.endswith("/firmware/verify"):
                want = "admin"
            elif method == "POST":
                want = "control"
            else:
                want = "read"
            assert scope == want, (method, path, scope)
        assert len(ops) == 13, ops
        for method, path, scope in ops:
            body = {} if method == "POST" else None
            r = request(d.base, method, path, body=body)
            assert allowed(r.status) == (scope == "none"), (method, path, r)
            if scope != "none":
                assert r.status == 401 and r.headers.get("WWW-Authenticate"), r
                expect_audit += 1
                r = request(d.base, method, path, body=body, token="x" + toks["admin"])
                assert r.status == 403 and r.json == {"error": "invalid token"}, r
                expect_audit += 1
            for who in ("read", "control", "admin", "bare"):
                have = "admin" if who == "bare" else who
                r = request(d.base, method, path, body=body, token=toks[who])
                ok = RANK[have] >= RANK[scope]
                assert allowed(r.status) == ok, (method, path, who, r)
                assert r.status != 500, r
                if not ok:
                    assert r.status == 403 and r.json == {
                        "error": "token scope '%s' does not allow %s %s (needs '%s')"
                                 % (have, method, path, scope)}, r
                if not ok or method == "POST" or scope == "admin":
                    expect_audit += 1
    finally:
        assert d.stop() == 0, d.log_text()[-2000:]
    with open(audit) as f:
        text = f.read()
    lines = text.splitlines()
    assert len(lines) == expect_audit, (len(lines), expect_audit)
    for t in toks.values():
        assert t not in text
    ids = {"read": "L2", "control": "L4", "admin": "L5", "bare": "L6"}
    for who, line in ids.items():
        h = hashlib.sha256(toks[who].encode()).hexdigest()[:8]
        scope = "admin" if who == "bare" else who
        assert "token=%s:%s scope=%s " % (line, h, scope) in text, (who, line)
    # a read token refused a POST, and an admin one allowed it, both audited
    stop = 'method="POST" path="%s/stop" status=' % P
    h = hashlib.sha256(toks["read"].encode()).hexdigest()[:8]
    assert sum(1 for ln in lines if "token=L2:%s scope=read %s403 " % (h, stop) in ln) == 1
    assert sum(1 for ln in lines if " scope=admin %s409 " % stop in ln) == 2


def test_read_scope_without_auth_reads_and_metrics_auth(own_tmp):
    """auth_reads off: the reads are open, the read token still cannot stop;
    metrics_auth = token makes /metrics (only) need a read token."""
    toks = tokens()
    d, tf, audit = start(own_tmp, toks, config_lines=("metrics_auth = token",))
    try:
        assert request(d.base, "GET", P + "/status").status == 200
        assert request(d.base, "GET", P + "/metrics").status == 200
        assert request(d.base, "GET", "/metrics").status == 401
        assert request(d.base, "GET", "/metrics", token="x" + toks["read"]).status == 403
        r = request(d.base, "GET", "/metrics", token=toks["read"])
        assert r.status == 200 and b"jcapd_" in r.raw, r
        r = request(d.base, "POST", P + "/stop", body={}, token=toks["read"])
        assert r.status == 403, r
    finally:
        assert d.stop() == 0, d.log_text()[-2000:]


@pytest.mark.parametrize("mode,status", [("open", 200), ("loopback", 200), ("token", 401)])
def test_metrics_auth_on_loopback(own_tmp, mode, status):
    """With auth_reads on, metrics_auth decides for /metrics alone: a
    loopback client (these tests) gets in without a token with open and
    loopback (test_jcapd_tls.py checks a client from a namespace)."""
    d, tf, audit = start(own_tmp, tokens(),
                         config_lines=("auth_reads = true", "metrics_auth = " + mode))
    try:
        assert request(d.base, "GET", "/metrics").status == status
        assert request(d.base, "GET", P + "/metrics").status == 401
    finally:
        assert d.stop() == 0, d.log_text()[-2000:]


def test_token_file_reloaded_with_new_scopes(own_tmp):
    toks = tokens()
    d, tf, audit = start(own_tmp, toks)
    try:
        r = request(d.base, "POST", P + "/stop", body={}, token=toks["read"])
        assert r.status == 403, r
        token_file(tf, ["control " + toks["read"]])
        os.kill(d.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "SIGHUP: token reloaded" not in d.log_text():
            assert time.monotonic() < deadline, d.log_text()
            time.sleep(0.02)
        r = request(d.base, "POST", P + "/stop", body={}, token=toks["read"])
        assert r.status == 409, r
        r = request(d.base, "POST", P + "/stop", body={}, token=toks["admin"])
        assert r.status == 403 and r.json == {"error": "invalid token"}, r
        # a bad file keeps the tokens in use: all or nothing
        token_file(tf, ["control " + toks["admin"], "superuser " + toks["bare"]])
        os.kill(d.proc.pid, signal.SIGHUP)
        want = "SIGHUP: token not reloaded: %s:2: scope must be read, control or admin" % tf
        while want not in d.log_text():
            assert time.monotonic() < deadline, d.log_text()
            time.sleep(0.02)
        assert request(d.base, "POST", P + "/stop", body={}, token=toks["read"]).status == 409
        assert request(d.base, "POST", P + "/stop", body={},
                       token=toks["admin"]).status == 403
    finally:
        assert d.stop() == 0, d.log_text()[-2000:]


BAD_FILES = [
    (["read"], 1, "token shorter than 16 bytes"),
    (["reader 0123456789abcdef0123"], 1, "scope must be read, control or admin"),
    (["# only a comment", ""], None, "no token in the file"),
    (["read 0123456789abcdef0123", "admin 0123456789abcdef0123"], 2,
     "the token of line 1 again"),
    (["read 0123456789abcdef\x01123"], 1, "token must be printable ASCII without spaces"),
    (["read 0123456789abcdef 0123"], 1, "token must be printable ASCII without spaces"),
    (["admin " + "a" * 1025], 1, "token longer than 1024 bytes"),
]


@pytest.mark.parametrize("lines,lineno,why", BAD_FILES, ids=[b[2][:20] for b in BAD_FILES])
def test_bad_token_file(own_tmp, lines, lineno, why):
    exe = os.path.join(build_dir(), "jcapd")
    if not os.access(exe, os.X_OK):
        pytest.skip("jcapd not built at %s" % exe)
    tf = os.path.join(own_tmp, "token")
    token_file(tf, lines)
    p = subprocess.run([exe, "--listen", "127.0.0.1:0", "--token-file", tf],
                       capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    where = "%s:%d" % (tf, lineno) if lineno else tf
    assert (p.returncode, p.stderr) == (1, "jcapd: error: token: %s: %s\n" % (where, why))


def test_audit_names_the_session(own_tmp):
    """session=N counts the sessions started; state= is the state after the request."""
    toks = tokens()
    d, tf, audit = start(own_tmp, toks)
    pcap = os.path.join(d.data_dir, "x.pcap")
    gen = os.path.join(os.path.dirname(__file__), "..", "tools", "pcapgen.py")
    subprocess.run(["/usr/bin/python3", gen, "-o", pcap, "--flows", "20"], check=True,
                   capture_output=True)
    try:
        for _ in range(2):
            r = request(d.base, "POST", P + "/start", body={"pcap_file": pcap},
                        token=toks["control"])
            assert r.status == 200, r
            r = request(d.base, "POST", P + "/stop", body={}, token=toks["control"])
            assert r.status == 200, r
        r = request(d.base, "POST", P + "/stop", body={}, token=toks["control"])
        assert r.status == 409, r
    finally:
        assert d.stop() == 0, d.log_text()[-2000:]
    tail = [ln.split(' method="POST" ')[1] for ln in open(audit).read().splitlines()]
    for i, (path, want) in enumerate([("start", "session=1 state="), ("stop", "session=1 "),
                                      ("start", "session=2 state="), ("stop", "session=2 "),
                                      ("stop", "session=2 ")]):
        assert tail[i].startswith('path="%s/%s" status=' % (P, path)), tail
        assert want in tail[i], tail
    assert tail[0].endswith(("state=running", "state=done")), tail
    assert tail[1].endswith("status=200 session=1 state=stopped"), tail
    assert tail[4].endswith("status=409 session=2 state=stopped"), tail
    assert len(tail) == 5, tail
