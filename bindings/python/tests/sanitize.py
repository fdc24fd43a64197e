# SPDX-License-Identifier: BSD-3-Clause
"""Run a binding test file under the sanitizer the library was built with."""
import os
import shutil
import subprocess
import sys

import pytest


HERE = os.path.dirname(os.path.abspath(__file__))


def prepare(*extra):
    """What every binding test file does first: asan_reexec(), then the
    binding, tests/tools and @extra folders of tests/ (say "integration")
    on sys.path. Returns the source tree's root."""
    asan_reexec()
    src = os.environ.get("PC_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", "..", ".."))
    for p in [("bindings", "python"), ("tests", "tools")] + [("tests", e) for e in extra]:
        sys.path.insert(0, os.path.join(src, *p))
    return src


def asan_reexec():
    """A sanitized library cannot load into an unsanitized python unless the
    sanitizer's runtime comes first: run this test file again with it
    preloaded (PC_SANITIZED names the sanitizers: address,undefined or
    thread). Under TSan the real interpreter is needed, not a shim."""
    which = os.environ.get("PC_SANITIZED", "")
    if not which:
        return
    rt_name = "libtsan.so" if "thread" in which else "libasan.so"
    if rt_name[:-3] in os.environ.get("LD_PRELOAD", ""):
        return
    cc = shutil.which("cc") or shutil.which("gcc")
    rt = subprocess.run([cc, "-print-file-name=" + rt_name], capture_output=True,
                        text=True).stdout.strip() if cc else ""
    if not rt or not os.path.isabs(rt):
        pytest.skip("sanitized build and no %s to preload" % rt_name, allow_module_level=True)
    env = dict(os.environ, LD_PRELOAD=rt)
    if rt_name == "libasan.so":
        env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1:verify_asan_link_order=0"
    sys.stdout.flush()
    os.execve("/usr/bin/python3", ["/usr/bin/python3", "-m", "pytest"] + sys.argv[1:], env)
