# SPDX-License-Identifier: BSD-3-Clause
"""Shared pytest setup: where the build is, and CTest's skip convention.

A test file whose every test was skipped exits 77 so CTest reports a skip
(with the reason printed), never a silent pass.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "tools"))


def pytest_sessionfinish(session, exitstatus):
    rep = session.config.pluginmanager.get_plugin("terminalreporter")
    if rep is None:
        return
    passed = len(rep.stats.get("passed", []))
    failed = len(rep.stats.get("failed", [])) + len(rep.stats.get("error", []))
    skipped = len(rep.stats.get("skipped", []))
    if skipped and not passed and not failed and exitstatus == 0:
        session.exitstatus = 77
