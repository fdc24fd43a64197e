#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Report benchmark: times of `jcap query DB --top/--aggregate/--bin/--summary`
(GROUP BY in SQLite) on a store of FLOWS flows (default 10M), and of the same
top-10 computed in Python from `jcap query DB -F json` for scale.

    bench/bench_reports.py [BUILD_DIR] [FLOWS]

The store is made by jcap itself (--store) from a generated capture of 2000
flows, then doubled in SQL (each copy shifted by 10 minutes and its source
port changed) up to FLOWS rows: the rows are real records of the schema, with
its indexes. Prints one line per report: rows, seconds."""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "tools"))
import pcapgen  # noqa: E402

REPORTS = (["--top", "10", "--by", "dst_port"],
           ["--top", "10", "--by", "src_ip", "--order", "bytes"],
           ["--top", "10", "--aggregate", "src_ip,dst_port"],
           ["--bin", "5m"],
           ["--summary"])


def grow(db, flows):
    con = sqlite3.connect(db)
    cols = [r[1] for r in con.execute("PRAGMA table_info(flows)") if r[1] != "id"]
    shifted = ["first_ns + ?" if c in ("first_ns", "last_ns") else
               "(src_port + ?) % 65536" if c == "src_port" else c for c in cols]
    n = con.execute("SELECT COUNT(*) FROM flows").fetchone()[0]
    k = 1
    while n < flows:
        take = min(n, flows - n)
        sql = "INSERT INTO flows (%s) SELECT %s FROM flows LIMIT %d" % (
            ", ".join(cols), ", ".join(shifted), take)
        # first_ns and last_ns take the same shift; src_port another
        params = []
        for c in cols:
            if c in ("first_ns", "last_ns"):
                params.append(k * 600 * 10**9)
            elif c == "src_port":
                params.append(k)
        con.execute(sql, params)
        con.commit()
        n += take
        k += 1
    con.close()
    return n


def timed(argv):
    t = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True)
    dt = time.monotonic() - t
    if p.returncode:
        sys.exit("bench_reports: %s: %s" % (" ".join(argv), p.stderr))
    return p.stdout, dt


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(SRC, "build")
    flows = int(float(sys.argv[2])) if len(sys.argv) > 2 else 10_000_000
    jcap = os.path.join(build, "jcap")
    with tempfile.TemporaryDirectory() as tmp:
        pcap, db = os.path.join(tmp, "b.pcap"), os.path.join(tmp, "b.db")
        pcapgen.scenario_mixed(seed=3, flows=2000).write(pcap)
        subprocess.run([jcap, "-r", pcap, "--store", db, "-q", "--no-progress"], check=True)
        t = time.monotonic()
        n = grow(db, flows)
        print("# %s; store of %d flows made in %.1f s (%.0f MiB)" % (
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), n, time.monotonic() - t,
            os.path.getsize(db) / 2**20))
        for args in REPORTS:
            out, dt = timed([jcap, "query", db, "-F", "json"] + args)
            print("jcap query DB %-45s %4d rows %7.2f s" % (" ".join(args),
                                                             len(out.splitlines()), dt))
        t = time.monotonic()
        p = subprocess.Popen([jcap, "query", db, "-F", "json"], stdout=subprocess.PIPE)
        by = {}
        for line in p.stdout:
            r = json.loads(line)
            by[r["dst_port"]] = by.get(r["dst_port"], 0) + 1
        p.wait()
        top = sorted(by.items(), key=lambda kv: -kv[1])[:10]
        print("python over -F json: top 10 by dst_port %23d rows %7.2f s" % (
            len(top), time.monotonic() - t))


if __name__ == "__main__":
    main()
