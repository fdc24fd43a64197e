# SPDX-License-Identifier: BSD-3-Clause
"""The daemon quick starts (README.md and docs/JCAPD.md) run as written: their
token steps, under the usual umask 022, leave a token file only its owner can
read, and jcapd starts on it without warning that others can read it."""
import os
import signal
import subprocess
import time

import pytest

from conftest import build_dir

SRC = os.environ.get("PC_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))


def token_steps(doc, heading):
    """The shell lines of the first code block under @heading in @doc that come
    before jcapd is started."""
    with open(os.path.join(SRC, doc)) as f:
        text = f.read()
    assert heading in text, (doc, heading)
    block = text.split(heading, 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    steps = []
    for line in block.splitlines():
        if "jcapd --listen" in line:
            return steps
        if line.strip() and not line.lstrip().startswith("#"):
            steps.append(line)
    raise AssertionError("%s: no jcapd start in the quick start" % doc)


@pytest.mark.parametrize("doc,heading", [("README.md", "## The daemon: jcapd"),
                                         ("docs/JCAPD.md", "## Daemon quick start")],
                         ids=["README", "JCAPD"])
def test_quick_start_token_is_private(own_tmp, doc, heading):
    exe = os.path.join(build_dir(), "jcapd")
    if not os.access(exe, os.X_OK):
        pytest.skip("jcapd not built at %s" % exe)
    lib = os.path.join(own_tmp, "lib")
    steps = [s.replace("/var/lib/jcapd", lib) for s in token_steps(doc, heading)]
    assert any(lib + "/token" in s for s in steps), steps
    subprocess.run(["bash", "-ec", "umask 022\n" + "\n".join(steps)], check=True, timeout=30)
    token = os.path.join(lib, "token")
    assert os.stat(token).st_mode & 0o777 == 0o600, oct(os.stat(token).st_mode)
    log = os.path.join(own_tmp, "jcapd.log")
    with open(log, "w") as logf:
        proc = subprocess.Popen([exe, "--listen", "127.0.0.1:0", "--token-file", token,
                                 "--allow-dir", lib], stdout=logf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        text = ""
        while "listening on" not in text and proc.poll() is None and \
                time.monotonic() < deadline:
            time.sleep(0.02)
            with open(log) as f:
                text = f.read()
        assert "listening on http://127.0.0.1:" in text, text
        assert "readable by others" not in text, text
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
