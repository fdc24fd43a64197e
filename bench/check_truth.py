#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Compare jcap's JSON flows with gen_traffic.py's truth: every flow exact.

usage: check_truth.py TRUTH.json FLOWS.json
Flows are matched by 5-tuple (src = the client, as gen_traffic's fwd side);
packets and IP bytes must be equal in both directions, summed over the
records of a 5-tuple. Prints a one-line verdict; exit 0 when all match.
"""
import collections
import json
import sys


def main():
    truth, flows = sys.argv[1], sys.argv[2]
    agg = collections.defaultdict(lambda: [0, 0, 0, 0, 0])
    nrec = 0
    with open(flows) as fp:
        for line in fp:
            r = json.loads(line)
            nrec += 1
            a = agg[(r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"], r["proto"])]
            a[0] += r["packets"]
            a[1] += r["bytes"]
            a[2] += r["rev_packets"]
            a[3] += r["rev_bytes"]
            a[4] += 1
    bad = split = n = 0
    with open(truth) as fp:
        t = json.load(fp)
    for f in t["flows"]:
        n += 1
        proto = {"tcp": 6, "udp": 17}.get(f["proto"], f["proto"])
        k = (f["src"], f["sport"], f["dst"], f["dport"], proto)
        want = [f["fwd"]["packets"], f["fwd"]["ip_bytes"], f["rev"]["packets"], f["rev"]["ip_bytes"]]
        got = agg.pop(k, None)
        if got is None or got[:4] != want:
            bad += 1
            if bad <= 5:
                print("mismatch", k, "got", got, "want", want, file=sys.stderr)
        elif got[4] > 1:
            split += 1
    extra = len(agg)
    ok = bad == 0 and extra == 0
    print(f"truth_flows={n} records={nrec} mismatched={bad} unknown={extra} "
          f"split_by_timeouts={split} exact={'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
