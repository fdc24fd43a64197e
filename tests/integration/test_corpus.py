# SPDX-License-Identifier: BSD-3-Clause
"""jcap over every real capture of ../shared/corpus (MANIFEST.tsv): no
crash, conservation holds, packets_read equals the MANIFEST count; the
files that are not valid captures get exit 1 and one stated line."""
import csv
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import jcaptest as jt  # noqa: E402

CORPUS = os.path.join(jt.shared_dir(), "corpus")
MANIFEST = os.path.join(CORPUS, "MANIFEST.tsv")

# Files that are not valid captures: the exact line jcap must print.
REFUSED = {
    # pcap major version 1 (libpcap's own test of a bad header)
    "libpcap/pcap-invalid-version-1.pcap": "unsupported pcap version 1.4",
}


def rows():
    if not os.path.exists(MANIFEST):
        return []
    with open(MANIFEST, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


ROWS = rows()


def ids():
    return [r["file"] for r in ROWS] or ["no-corpus"]


@pytest.mark.parametrize("row", ROWS or [None], ids=ids())
def test_corpus_file(row):
    if row is None:
        pytest.skip("no corpus at %s" % CORPUS)
    jt.require_jcap()
    path = os.path.join(CORPUS, row["file"])
    p = jt.run(["-r", path, "-F", "json", "--stats", "--no-progress"], timeout=120)
    assert p.returncode in (0, 1), (p.returncode, p.stderr[-2000:])
    if row["file"] in REFUSED:
        lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
        assert p.returncode == 1
        assert lines == ["jcap: %s: %s" % (path, REFUSED[row["file"]])]
        assert p.stdout == ""
        return
    assert p.returncode == 0, p.stderr[-2000:]
    recs = jt.parse_lines(p.stdout)
    st = jt.parse_stats(p.stderr)
    jt.check_conservation(st, recs)
    assert st["packets_read"] == int(row["packets"]), (st["packets_read"], row["packets"])
    for r in recs:
        assert r["packets"] + r["rev_packets"] > 0
        assert r["first_ns"] <= r["last_ns"]
        assert r["end_reason"] in jt.EXPIRED_FIELDS


@pytest.mark.parametrize("workers", [2, 4])
def test_corpus_workers_agree(workers):
    """A few multi-flow files: the record set does not depend on --workers."""
    if not ROWS:
        pytest.skip("no corpus at %s" % CORPUS)
    jt.require_jcap()
    for name in ("ndpi/gnutella.pcap", "pcapplusplus/tls2.pcap", "ipfixprobe/mixed.pcap",
                 "pcapplusplus/ip4_fragments.pcap", "zeek/pcapng-multi-interface.pcapng"):
        path = os.path.join(CORPUS, name)
        if not os.path.exists(path):
            continue
        one, s1 = jt.meter(path)
        many, sn = jt.meter(path, "--workers", str(workers))
        # a flow idle at the end of the file may be swept ("idle") by one
        # worker's clock and flushed ("shutdown") by another's: compare the
        # rest of every record exactly
        strip = [dict(r, end_reason="-") for r in one]
        jt.assert_same_flows([dict(r, end_reason="-") for r in many], strip, name)
        assert s1["skipped"] == sn["skipped"]
