# SPDX-License-Identifier: BSD-3-Clause
"""jcapd under clients that hold sockets without finishing requests: idle
sockets from one address, a slow-loris sending a byte a second (in its headers
or its body), clients that vanish mid-request. The operator on another address
(127.0.0.1; the attacker is 127.0.0.2, both on lo) must still get in at once.
Every test runs over plain HTTP and over HTTPS (a certificate made for it), and
starts a daemon of its own, stopped by PID."""
import re
import select
import ssl
import threading
import time

import pytest

from apihttp import connect, need_second_loopback_address, request
from conftest import start_jcapd

OVER = pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])

P = "/packet_capture/capture"
ATTACKER = "127.0.0.2"
OPERATOR = "127.0.0.1"


def closed_by_server(s, wait=0.0):
    """True when the daemon has closed @s (EOF or reset) within @wait seconds."""
    r, _, _ = select.select([s], [], [], wait)
    if not r:
        return False
    try:
        if isinstance(s, ssl.SSLSocket):
            s.setblocking(False)
            try:
                return s.recv(1) == b""
            except ssl.SSLWantReadError:
                return False	# a TLS record without data (a session ticket)
            finally:
                s.settimeout(5)
        return s.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
        return True


def get_on(s, path):
    """GET @path on the kept-alive raw socket @s: (status, body)."""
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        assert chunk, "connection closed by the daemon before a reply: %r" % buf
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    n = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))
    while len(body) < n:
        chunk = s.recv(4096)
        assert chunk, "connection closed by the daemon mid-reply"
        body += chunk
    assert len(body) == n, (head, body)
    return int(head.split()[1]), body


def timed(fn):
    t0 = time.monotonic()
    out = fn()
    return out, time.monotonic() - t0


@OVER
def test_one_address_cannot_take_every_connection(own_tmp, tls):
    """Defaults: max_connections 64, max_connections_per_ip 16. An address that
    opens all 64 keeps 16; the operator's token request answers at once. Over
    HTTPS the attacker's sockets never start their handshake."""
    need_second_loopback_address()
    d = start_jcapd(own_tmp, tls=tls)
    held = []
    try:
        for _ in range(64):
            held.append(connect(d.base, source=ATTACKER, handshake=False))
        deadline = time.monotonic() + 3
        while True:
            still = [s for s in held if not closed_by_server(s)]
            if len(still) <= 16 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert len(still) == 16, "the daemon kept %d of 64 idle sockets from %s" % (
            len(still), ATTACKER)
        # the 17th from the same address is closed at once
        extra = connect(d.base, source=ATTACKER, handshake=False)
        try:
            assert closed_by_server(extra, wait=1.0), "17th socket from one address kept"
        finally:
            extra.close()
        # the operator, with the token, on another address: a mutating request
        # (nothing to stop: 409) and health, each well within a second
        r, t_stop = timed(lambda: request(d.base, "POST", P + "/stop", body={},
                                          token=d.token, source=OPERATOR, timeout=5))
        assert r.status == 409 and r.json["error"], r
        r, t_health = timed(lambda: request(d.base, "GET", "/healthz", source=OPERATOR,
                                            timeout=5))
        assert r.status == 200 and r.json["status"] == "ok", r
        # locked out, they would wait for the idle sockets' 10 s request deadline;
        # a TLS handshake (two of them under a sanitizer on a busy machine) takes longer
        limit = 5.0 if tls else 1.0
        assert t_stop < limit and t_health < limit, (t_stop, t_health)
        print("operator while 16 idle sockets are held: POST /stop %.1f ms, GET /healthz "
              "%.1f ms" % (t_stop * 1e3, t_health * 1e3))
        assert not any(closed_by_server(s) for s in still), "held sockets closed early"
    finally:
        for s in held:
            s.close()
    try:
        # once the daemon has seen them go, the address gets in again
        deadline = time.monotonic() + 3
        while True:
            try:
                r = request(d.base, "GET", "/healthz", source=ATTACKER, timeout=5)
                assert r.status == 200, r
                break
            except (ConnectionError, ssl.SSLError):	# refused while the closes are in flight
                assert time.monotonic() < deadline, "%s never let in again" % ATTACKER
                time.sleep(0.05)
    finally:
        assert d.stop() == 0, d.log_text()[-2000:]


def slow_loris(base, payload, prefix=b"", source=OPERATOR, limit=12.0):
    """Send @prefix at once, then @payload one byte a second. Returns the seconds
    from the connect until the daemon closed the connection, None if it never
    did within @limit."""
    s = connect(base, source=source)
    t0 = time.monotonic()
    try:
        if prefix:
            s.sendall(prefix)
        for i in range(len(payload)):
            try:
                s.send(payload[i:i + 1])
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                return time.monotonic() - t0
            if closed_by_server(s, wait=1.0):
                return time.monotonic() - t0
            if time.monotonic() - t0 > limit:
                return None
        return None
    finally:
        s.close()


@OVER
def test_slow_loris_cut_by_request_deadline(own_tmp, tls):
    """request_timeout_sec = 2: a client trickling its headers, or its body,
    one byte a second is closed 2 s after it connected (checked within 2 s more);
    libmicrohttpd's idle timeout (30 s) alone never fires for it."""
    d = start_jcapd(own_tmp, config_lines=["request_timeout_sec = 2"], tls=tls)
    try:
        head = b"GET " + P.encode() + b"/status HTTP/1.1\r\nHost: x\r\nUser-Agent: slow\r\n" \
            b"Accept: */*\r\nX-Pad: " + b"a" * 40 + b"\r\n\r\n"
        post = ("POST %s/stop HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                "Content-Type: application/json\r\nContent-Length: 40\r\n\r\n"
                % (P, d.token)).encode()
        got = {}

        def run(what, payload, prefix=b""):
            got[what] = slow_loris(d.base, payload, prefix=prefix)

        body = b'{"graceful": false' + b" " * 21 + b"}"
        runs = [threading.Thread(target=run, args=("headers", head)),
                threading.Thread(target=run, args=("body", body, post))]
        for t in runs:
            t.start()
        # meanwhile a prompt client is served at once
        r, took = timed(lambda: request(d.base, "GET", "/healthz", timeout=5))
        assert r.status == 200 and took < 1.0, (r, took)
        for t in runs:
            t.join(timeout=20)
        for what in ("headers", "body"):
            t = got.get(what)
            assert t is not None, "slow %s never closed by the daemon" % what
            assert 1.5 <= t <= 4.0, "slow %s closed after %.2f s (deadline 2 s)" % (what, t)
        # logged just after the sockets are shut down
        deadline = time.monotonic() + 2
        while "request not complete within 2 s" not in d.log_text() and \
                time.monotonic() < deadline:
            time.sleep(0.02)
        assert "request not complete within 2 s" in d.log_text()
        # a kept-alive connection whose requests each arrive in time is not cut,
        # however long it lives: the deadline restarts after every reply
        s = connect(d.base)
        try:
            for _ in range(4):
                assert get_on(s, "/healthz")[0] == 200
                time.sleep(1.0)
        finally:
            s.close()
    finally:
        assert d.stop() == 0, d.log_text()[-2000:]


def vanish(base, raw, source):
    """Send @raw (part of a request) and close the socket without reading.
    While the daemon has not yet seen earlier vanished sockets of @source go,
    the address may be at its connection cap and this one refused (over
    HTTPS: a reset handshake): tried again for up to 3 s."""
    deadline = time.monotonic() + 3
    while True:
        try:
            s = connect(base, source=source)
            break
        except (ConnectionError, ssl.SSLError):
            assert time.monotonic() < deadline, "%s never let in again" % source
            time.sleep(0.05)
    s.sendall(raw)
    s.close()


@OVER
def test_client_vanishing_mid_request(own_tmp, tls):
    """Clients that send half a body (announced by Content-Length, or chunked),
    or a whole request to an endpoint served off the HTTP threads, then close.
    Connections opened next (on the descriptor numbers the vanished ones had)
    are served past the vanished requests' deadline (2 s) without being cut,
    and the clients' address gets its connection slots back: a vanished chunked
    upload is only noticed by the deadline, not when the client goes."""
    need_second_loopback_address()
    d = start_jcapd(own_tmp, config_lines=["request_timeout_sec = 2",
                                            "max_connections_per_ip = 4"], tls=tls)
    try:
        half = ("POST %s/start HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n"
                % (P, d.token)).encode() + b'{"pcap_file": "' + b"x" * 80
        chunked = ("POST %s/flow/meter/enable HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s"
                   "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "10\r\n{\"table_size\": 6" % (P, d.token)).encode()
        whole = ("POST %s/stop HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                 "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
                 % (P, d.token)).encode()
        for i in range(12):	# three times the per-address cap
            vanish(d.base, (half, chunked, whole)[i % 3], ATTACKER)
        t_vanish = time.monotonic()	# the last one's deadline: 2 s from here
        time.sleep(0.3)
        # kept-alive connections from the other address, opened now, get the
        # descriptors of the vanished ones and live past their deadlines untouched
        kept = [connect(d.base, source=OPERATOR) for _ in range(4)]
        try:
            while time.monotonic() < t_vanish + 3.5:
                for s in kept:
                    status, body = get_on(s, "/healthz")
                    assert status == 200, body
                time.sleep(0.25)
        finally:
            for s in kept:
                s.close()
        # past the deadline every slot of the vanished clients' address is free
        for source in (ATTACKER, OPERATOR):
            held = [connect(d.base, source=source) for _ in range(4)]
            try:
                assert not any(closed_by_server(s, wait=0.3) for s in held), source
            finally:
                for s in held:
                    s.close()
            time.sleep(0.2)	# the daemon sees those four go
            for _ in range(6):
                r, took = timed(lambda: request(d.base, "POST", P + "/stop", body={},
                                                token=d.token, source=source, timeout=5))
                assert r.status == 409 and took < 1.0, (source, r, took)
                r = request(d.base, "GET", P + "/status", source=source, timeout=5)
                assert r.status == 200 and r.json["state"] == "idle", r
        # nothing half-received changed a setting: the flow defaults still hold
        r = request(d.base, "POST", P + "/flow/meter/enable", body={}, token=d.token)
        assert r.status == 200 and r.json["flow_metering"]["table_size"] == 65536, r
    finally:
        assert d.stop() == 0, d.log_text()[-2000:]
