# SPDX-License-Identifier: BSD-3-Clause
"""Shared pytest setup: where the build is, and CTest's skip convention.

A test file in which any test was skipped (and none failed) exits 77, so
CTest reports it as skipped ("Not Run") instead of a pass that hides the
tests that did not run; every skip prints its reason in the summary.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "tools"))


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    # -rs: one "SKIPPED [n] file:line: reason" line per skip, even with -q
    tr = config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None and "s" not in tr.reportchars:
        tr.reportchars += "s"


def pytest_sessionfinish(session, exitstatus):
    rep = session.config.pluginmanager.get_plugin("terminalreporter")
    if rep is None:
        return
    if rep.stats.get("skipped") and exitstatus == 0:
        session.exitstatus = 77
