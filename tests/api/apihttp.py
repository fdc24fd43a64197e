# SPDX-License-Identifier: BSD-3-Clause
"""A small HTTP client for the jcapd API tests (standard library only): one
request per connection, an optional client source address (127.0.0.2 on lo
is a second client), and the reply with its JSON body parsed. An https://
base is reached with the TLS context registered for it (use_tls)."""
import http.client
import json
import socket
import ssl
import time
import urllib.parse

import pytest


class Reply:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        self.json = None
        ct = headers.get("Content-Type", "")
        if ct.startswith("application/json") and raw:
            self.json = json.loads(raw)

    def __repr__(self):
        return "<%d %s>" % (self.status, self.raw[:300])


# base URL -> ssl.SSLContext trusting that daemon's certificate
TLS = {}


def use_tls(base, cafile, certfile=None, keyfile=None):
    """Trust @cafile for @base (and present a client certificate, if given)."""
    ctx = ssl.create_default_context(cafile=cafile)
    if certfile:
        ctx.load_cert_chain(certfile, keyfile)
    TLS[base.rstrip("/")] = ctx
    return ctx


def host_port(base):
    u = urllib.parse.urlsplit(base if "://" in base else "http://" + base)
    return u.hostname, u.port


def tls_of(base):
    return TLS.get(base.rstrip("/")) if base.startswith("https://") else None


def request(base, method, path, body=None, token=None, ctype="application/json", raw=None,
            headers=None, chunked=False, source=None, timeout=20):
    """One request on a fresh connection; @source: the client's address."""
    host, port = host_port(base)
    src = (source, 0) if source else None
    ctx = tls_of(base)
    if ctx:
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, source_address=src,
                                           context=ctx)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout, source_address=src)
    hdrs = {}
    if token:
        hdrs["Authorization"] = "Bearer " + token
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None and ctype:
        hdrs["Content-Type"] = ctype
    hdrs.update(headers or {})
    try:
        if chunked:
            conn.request(method, path, body=iter([data[i:i + 1000]
                                                  for i in range(0, len(data), 1000)]),
                         headers=hdrs, encode_chunked=True)
        else:
            conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        return Reply(r.status, dict(r.getheaders()), r.read())
    finally:
        conn.close()


def connect(base, source=None, timeout=5, handshake=True):
    """A connection to the daemon from @source (None: any address): TCP, with
    TLS on top for an https:// base unless @handshake is False (a socket that
    never starts its handshake)."""
    s = socket.create_connection(host_port(base), timeout=timeout,
                                 source_address=(source, 0) if source else None)
    ctx = tls_of(base)
    if ctx and handshake:
        try:
            s = ctx.wrap_socket(s, server_hostname=host_port(base)[0])
        except BaseException:
            s.close()
            raise
    return s


def need_second_loopback_address():
    """127.0.0.2 as a client address (Linux routes all of 127/8 to lo)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.2", 0))
    except OSError as e:
        pytest.skip("cannot bind a client socket to 127.0.0.2: %s" % e)
    finally:
        s.close()


def wait_end(d, timeout=60):
    """Poll the status of daemon @d until its session is done, stopped or failed."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = request(d.base, "GET", "/packet_capture/capture/status", token=d.token).json
        if st["state"] in ("done", "stopped", "failed"):
            return st
        time.sleep(0.05)
    raise AssertionError("session did not end: %s" % st)
