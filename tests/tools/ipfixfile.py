# SPDX-License-Identifier: BSD-3-Clause
"""Readers of an RFC 5655 IPFIX file (jcap's ipfix-file: export) for tests,
on top of tests/integration/test_export.py's set parser: the template
elements and the flow and options records, as {(pen, id): int} each."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from test_export import be, parse_sets, record_fields, split_stream  # noqa: E402


def messages(path):
    with open(path, "rb") as f:
        return split_stream(f.read())


def read(path):
    """(template elements {(pen, id)}, flow records, options records). Flow
    records are those of templates 256 and 257 (IPv4, IPv6): fixed-length
    records only (a template with variable-length fields fails here)."""
    templates, elems, flows, opts = {}, set(), [], []
    for m in messages(path):
        tids, _, data = parse_sets(m, 16, len(m), 10, templates)
        for t in tids:
            elems |= {(pen, fid) for pen, fid, _ in templates[t]}
        for tid, recs in data.items():
            rows = [record_fields(templates[tid], r) for r in recs]
            (flows if tid in (256, 257) else opts).extend(rows)
    return elems, flows, opts


def template_elements(path):
    """{(pen, id)} of every template of the file; data sets (which may hold
    variable-length fields) are skipped."""
    templates, elems = {}, set()
    for m in messages(path):
        off = 16
        while off + 4 <= len(m):
            sid, slen = be(m, off, 2), be(m, off + 2, 2)
            if sid == 2:
                for t in parse_sets(m, off, off + slen, 10, templates)[0]:
                    elems |= {(pen, fid) for pen, fid, _ in templates[t]}
            off += slen
    return elems
