# SPDX-License-Identifier: BSD-3-Clause
"""Fixtures shared by the live tests."""
import json

import pytest

import jcaptest


@pytest.fixture(scope="module")
def backends():
    """jcap's backend list, by name (available or not, and why)."""
    jcaptest.require_jcap()
    p = jcaptest.run(["backends", "-F", "json"])
    assert p.returncode == 0, p.stderr
    return {b["name"]: b for b in json.loads(p.stdout)}
