# SPDX-License-Identifier: BSD-3-Clause
"""jcapd's config file is checked whole at launch: every key's type and range,
the listen address, export target syntax, the capture user, keys given twice.
A bad file stops jcapd with exit status 2 and exactly one line on stderr,
FILE:LINE: problem; a file using every key starts and its values take effect."""
import os
import pwd
import signal
import subprocess
import time

import pytest

from apihttp import request
from conftest import build_dir

P = "/packet_capture/capture"
KINDS = ("ipfix://H:P, ipfix+tcp://H:P, ipfix-file:PATH, netflow9://H:P, netflow5://H:P, "
         "json:PATH, sqlite:PATH, kafka://H:P/TOPIC or clickhouse://H:P/DB.TABLE")

# (lines of the file, line of the problem, the problem)
BAD = [
    (["listen = 127.0.0.1:0", "nope = 1"], 2, "unknown key 'nope'"),
    (["# a comment", "listen"], 2, "expected key = value"),
    (["flow_table_size = 12k"], 1,
     "flow_table_size: expected 0 or an integer in 4096..16777216, got '12k'"),
    (["flow_table_size = 4095"], 1,
     "flow_table_size: expected 0 or an integer in 4096..16777216, got '4095'"),
    (["flow_table_size = 1"], 1,
     "flow_table_size: expected 0 or an integer in 4096..16777216, got '1'"),
    (["http_threads = -1"], 1, "http_threads: expected an integer in 1..64, got '-1'"),
    (["max_body_bytes = 99999999999999999999999"], 1,
     "max_body_bytes: expected an integer in 256..16777216, got '99999999999999999999999'"),
    (["max_connections_per_ip = 0"], 1,
     "max_connections_per_ip: expected an integer in 1..65536, got '0'"),
    (["", "request_timeout_sec = 3601"], 2,
     "request_timeout_sec: expected an integer in 1..3600, got '3601'"),
    (["syslog = maybe"], 1, "syslog: expected true or false, got 'maybe'"),
    (["log_level = verbose"], 1, "log_level: expected error, warn, info or debug, got 'verbose'"),
    (["export = json:/dev/null", "export = bogus"], 2,
     "export: invalid export target 'bogus': unknown kind (use %s)" % KINDS),
    (["export = ipfix://127.0.0.1:0"], 1, "export: invalid export target "
     "'ipfix://127.0.0.1:0': port must be a number from 1 to 65535"),
    (["export = ipfix://::1:4739"], 1, "export: invalid export target 'ipfix://::1:4739': "
     "IPv6 addresses must be written in brackets: [::1]:4739"),
    (["export = json:/dev/null"] * 9, 9, "export: more than 8 given"),
    (["listen = 127.0.0.1:99999"], 1,
     "listen: expected ADDR:PORT or [V6ADDR]:PORT, got '127.0.0.1:99999'"),
    (["listen = 300.1.1.1:80"], 1,
     "listen: expected ADDR:PORT or [V6ADDR]:PORT, got '300.1.1.1:80'"),
    (["listen = [::1]"], 1, "listen: expected ADDR:PORT or [V6ADDR]:PORT, got '[::1]'"),
    (["listen = 127.0.0.1:0", "syslog = false", "listen = 127.0.0.1:1"], 3,
     "listen given twice (first on line 1)"),
    (["token_file ="], 1, "token_file: empty value"),
    (["capture_user = no-such-user-jcapd"], 1,
     "capture_user: no such user 'no-such-user-jcapd'"),
    (["capture_user = " + "u" * 64], 1, "capture_user: longer than 63 bytes"),
    (["flow_active_timeout_sec = 60", "flow_idle_timeout_sec = 120"], 2,
     "flow_idle_timeout_sec 120 is longer than flow_active_timeout_sec 60"),
    (["# " + "x" * 9000], 1, "line longer than 8191 bytes"),
    (["syslog = true\0 # hidden"], 1, "NUL byte in the line"),
]


def jcapd_exe():
    exe = os.path.join(build_dir(), "jcapd")
    if not os.access(exe, os.X_OK):
        pytest.skip("jcapd not built at %s" % exe)
    return exe


def run_jcapd(*args):
    """jcapd @args expected to refuse to start: (exit status, stderr)."""
    try:
        p = subprocess.run([jcapd_exe()] + list(args), capture_output=True, text=True,
                           timeout=10, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:	# run() killed it
        raise AssertionError("jcapd %s started instead of refusing:\n%s" % (args, e.stderr))
    return p.returncode, p.stderr


@pytest.mark.parametrize("lines,lineno,problem", BAD,
                         ids=["%d-%s" % (i, b[2].split(":")[0].split(" ")[0][:24])
                              for i, b in enumerate(BAD)])
def test_bad_config_names_file_and_line(own_tmp, lines, lineno, problem):
    conf = os.path.join(own_tmp, "jcapd.conf")
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    rc, err = run_jcapd("--config", conf)
    assert (rc, err) == (2, "%s:%d: %s\n" % (conf, lineno, problem))


def test_bad_command_line_and_missing_file(own_tmp):
    rc, err = run_jcapd("--listen", "127.0.0.1:0", "--export", "bogus")
    assert (rc, err) == (2, "jcapd: command line: export: invalid export target 'bogus': "
                            "unknown kind (use %s)\n" % KINDS)
    rc, err = run_jcapd("--listen", "127.0.0.1:0", "--max-connections-per-ip", "0")
    assert (rc, err) == (2, "jcapd: command line: max_connections_per_ip: expected an "
                            "integer in 1..65536, got '0'\n")
    rc, err = run_jcapd("--listen", "localhost:70000")
    assert (rc, err) == (2, "jcapd: command line: listen: expected ADDR:PORT or "
                            "[V6ADDR]:PORT, got 'localhost:70000'\n")
    rc, err = run_jcapd("--listen", "127.0.0.1:0", "--flow-idle-timeout-sec", "4000")
    assert (rc, err) == (2, "jcapd: flow_idle_timeout_sec 4000 is longer than "
                            "flow_active_timeout_sec 1800\n")
    missing = os.path.join(own_tmp, "missing.conf")
    rc, err = run_jcapd("--config", missing)
    assert (rc, err) == (2, "%s: No such file or directory\n" % missing)


def test_every_key_in_a_good_config(own_tmp):
    """A file with every key (none at its default) is enough to start jcapd,
    and the values are the ones in force."""
    data = os.path.join(own_tmp, "data")
    os.makedirs(data)
    os.makedirs(os.path.join(own_tmp, "data2"))
    token = os.urandom(24).hex()
    with open(os.path.join(own_tmp, "token"), "w") as f:
        f.write(token + "\n")
    os.chmod(os.path.join(own_tmp, "token"), 0o600)
    conf = os.path.join(own_tmp, "jcapd.conf")
    with open(conf, "w") as f:
        f.write("""# every key jcapd knows
listen = 127.0.0.1:0
token_file = {tmp}/token
allow_dir = {tmp}/data
allow_dir = {tmp}/data2
syslog = no
log_level = debug
max_body_bytes = 300
http_threads = 3
http_nice = 0
max_connections = 20
  max_connections_per_ip   =   5
connection_timeout_sec = 60
request_timeout_sec = 5
auth_reads = on
flow_metering = true
flow_table_size = 8192
flow_idle_timeout_sec = 20
flow_active_timeout_sec = 600
ended_ring_size = 1000
community_id_seed = 9
rate_window_sec = 5
flows_scan_max = 8192
capture_user = {user}
export = json:{tmp}/data/flows.jsonl
export = ipfix://[::1]:4739
export = netflow9://localhost
""".format(tmp=own_tmp, user=pwd.getpwuid(os.getuid()).pw_name))
    log = os.path.join(own_tmp, "jcapd.log")
    with open(log, "w") as logf:
        proc = subprocess.Popen([jcapd_exe(), "--config", conf], stdout=logf,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        base = None
        deadline = time.monotonic() + 20
        while base is None and proc.poll() is None and time.monotonic() < deadline:
            with open(log) as f:
                for line in f:
                    if "listening on http://" in line:
                        base = line.split("listening on ")[1].split()[0]
            time.sleep(0.02)
        with open(log) as f:
            assert base, "jcapd did not start:\n" + f.read()
        # auth_reads: reads need the token too
        assert request(base, "GET", P + "/status").status == 401
        assert request(base, "GET", P + "/status", token=token).status == 200
        # max_body_bytes = 300
        r = request(base, "POST", P + "/stop", raw=b"{}" + b" " * 299, token=token)
        assert r.status == 413 and r.json == {"error": "request body larger than 300 bytes"}
        # the flow settings are the defaults of /flow/meter/enable
        r = request(base, "POST", P + "/flow/meter/enable", body={}, token=token)
        assert r.status == 200, r
        assert r.json["flow_metering"] == {"enabled": True, "table_size": 8192,
                                           "idle_timeout_sec": 20, "active_timeout_sec": 600,
                                           "uniflow": False, "ended_ring_size": 1000,
                                           "community_id_seed": 9}
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
        rc = proc.wait(timeout=30)
    assert rc == 0
