# SPDX-License-Identifier: BSD-3-Clause
"""integration.geoip: GeoIP/ASN enrichment (issue 12) with MaxMind's published
test databases (GeoLite2-City.mmdb, GeoLite2-ASN.mmdb), which `make deps`
(scripts/install-deps.sh) takes out of a Debian package into
/var/cache/jcap-test/geoip (or $PC_GEOIP_TEST_DIR). The addresses are ones
those databases hold; they only appear inside generated pcap files (nothing
is sent). Exact country, AS number and organisation per flow, absent fields
where a database has nothing, inner addresses of tunnelled flows, the
geoip_lookups counter, and the errors for missing, corrupt and swapped files."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import jcaptest as jt  # noqa: E402
import pcapgen as g  # noqa: E402
import tunnelgen as tg  # noqa: E402
from geoipdb import ASN, CITY, GEO_KEYS, need_dbs  # noqa: E402


@pytest.fixture(autouse=True)
def dbs():
    need_dbs()


# src, dst -> the geo fields the record must carry (no others). What the test
# databases say: 81.2.69.142 country GB (registered US: country wins);
# 89.160.20.112 SE (registered DE); 216.160.83.57 US (registered GB);
# 2001:218::1 JP; 2a02:d500::1 a City entry without any country;
# 1.128.0.1 AS1221 Telstra; 12.81.92.1 AS7018 AT&T Services; 12.81.96.1
# AS7018 without an organisation; 2600:7000::1 AS6939 Hurricane Electric.
FLOWS = [
    ("81.2.69.142", "1.128.0.1",
     {"src_country": "GB", "dst_asn": 1221, "dst_as_org": "Telstra Pty Ltd"}),
    ("89.160.20.112", "12.81.92.1",
     {"src_country": "SE", "dst_asn": 7018, "dst_as_org": "AT&T Services"}),
    ("12.81.96.1", "81.2.69.142",
     {"src_asn": 7018, "dst_country": "GB"}),
    ("2001:218::1", "2600:7000::1",
     {"src_country": "JP", "dst_asn": 6939, "dst_as_org": "Hurricane Electric, Inc."}),
    ("2a02:d500::1", "2001:db8::1", {}),
    ("198.18.0.1", "198.19.0.1", {}),
]
# VXLAN whose outer endpoints are in the databases (GB, Telstra): the record's
# fields are the inner conversation's
TUN_OUTER = ("81.2.69.143", "1.128.0.9")
TUN_FLOW = ("216.160.83.57", "12.81.92.2",
            {"src_country": "US", "dst_asn": 7018, "dst_as_org": "AT&T Services"})


def scenario():
    sc = g.Scenario()
    t = 0.0
    for i, (a, b, _) in enumerate(FLOWS):
        if i % 2:
            sc.udp_exchange(t, a, b, 40000 + i, 53, count=2)
        else:
            sc.tcp_session(t, a, b, 40000 + i, 443, data=1)
        t += 0.1
    with sc.tunnel(tg.Tunnel("vxlan", TUN_OUTER[0], TUN_OUTER[1], id=42)):
        sc.udp_exchange(t, TUN_FLOW[0], TUN_FLOW[1], 5000, 53, count=2)
    return sc


def geo_of(rec):
    return {k: rec[k] for k in GEO_KEYS if k in rec}


def by_pair(recs):
    return {(jt.ip_norm(r["src_ip"]), jt.ip_norm(r["dst_ip"])): r for r in recs}


def lookups(recs, dbs):
    """One lookup per database for each distinct address: answers are cached
    for the session (81.2.69.142 is in two flows here)."""
    return dbs * len({jt.ip_norm(r[k]) for r in recs for k in ("src_ip", "dst_ip")})


@pytest.fixture(scope="module")
def pcap(tmp_path_factory):
    f = tmp_path_factory.mktemp("geoip") / "geo.pcap"
    scenario().write(f)
    return f


def test_countries_and_asns_exact(pcap):
    recs, st = jt.meter(pcap, "--geoip-city", CITY, "--geoip-asn", ASN)
    got = by_pair(recs)
    assert len(recs) == len(FLOWS) + 1
    for a, b, geo in FLOWS + [TUN_FLOW]:
        r = got[(jt.ip_norm(a), jt.ip_norm(b))]
        assert geo_of(r) == geo, (a, b, r)
    tun = got[(jt.ip_norm(TUN_FLOW[0]), jt.ip_norm(TUN_FLOW[1]))]
    assert (tun["tunnel_type"], tun["outer_src_ip"]) == ("vxlan", TUN_OUTER[0])
    assert lookups(recs, 2) == 2 * 13
    assert st["geoip"] == {"lookups": lookups(recs, 2)}


def test_enrichment_adds_only_its_fields(pcap):
    plain, st0 = jt.meter(pcap)
    assert st0["geoip"] == {"lookups": 0}
    assert all(not geo_of(r) for r in plain)
    asn_only, st1 = jt.meter(pcap, "--geoip-asn", ASN)
    assert st1["geoip"] == {"lookups": lookups(plain, 1)}
    full, _ = jt.meter(pcap, "--geoip-city", CITY, "--geoip-asn", ASN)
    p, a, f = by_pair(plain), by_pair(asn_only), by_pair(full)
    assert p.keys() == a.keys() == f.keys()
    for k, r in f.items():
        rest = {x: v for x, v in r.items() if x not in GEO_KEYS and x != "worker"}
        assert rest == {x: v for x, v in p[k].items() if x != "worker"}
        assert geo_of(a[k]) == {x: v for x, v in geo_of(r).items() if "country" not in x}


def test_uniflow_records_each_enriched(pcap):
    recs, st = jt.meter(pcap, "--uniflow", "--geoip-city", CITY, "--geoip-asn", ASN)
    got = by_pair(recs)
    a, b, geo = FLOWS[0]
    back = got[(jt.ip_norm(b), jt.ip_norm(a))]
    assert geo_of(back) == {"dst_country": "GB", "src_asn": 1221, "src_as_org": "Telstra Pty Ltd"}
    assert geo_of(got[(jt.ip_norm(a), jt.ip_norm(b))]) == geo
    assert len(recs) == 2 * (len(FLOWS) + 1)
    assert st["geoip"] == {"lookups": lookups(recs, 2)}


def test_csv_carries_the_fields(pcap):
    p = jt.run(["-r", pcap, "-F", "csv", "--no-progress", "--geoip-city", CITY,
                "--geoip-asn", ASN])
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    head = lines[0].split(",")
    if "src_country" not in head:
        pytest.fail("CSV header lacks the geo columns: %s" % lines[0])
    import csv
    rows = list(csv.DictReader(lines))
    row = [r for r in rows if r["src_ip"] == "81.2.69.142"][0]
    assert (row["src_country"], row["dst_asn"], row["dst_as_org"]) == \
        ("GB", "1221", "Telstra Pty Ltd")
    assert row["dst_country"] == "" and row["src_asn"] == ""


def run_err(*args):
    p = jt.run(["-r", args[0], "-F", "json", "--no-progress"] + list(args[1:]))
    return p.returncode, p.stdout, p.stderr.strip()


def test_missing_database_is_a_usage_error(pcap, tmp_path):
    missing = tmp_path / "nope.mmdb"
    rc, out, err = run_err(pcap, "--geoip-city", missing)
    assert (rc, out) == (2, "")
    assert err == ("jcap: GeoIP city database %s: Error opening the specified MaxMind DB "
                   "file (No such file or directory)" % missing), err


def test_corrupt_database_is_a_usage_error(pcap, tmp_path):
    bad = tmp_path / "bad.mmdb"
    with open(ASN, "rb") as f:
        bad.write_bytes(f.read()[:1500])  # cut before its metadata
    rc, out, err = run_err(pcap, "--geoip-asn", bad)
    assert (rc, out) == (2, "")
    assert err == ("jcap: GeoIP ASN database %s: The MaxMind DB file contains invalid "
                   "metadata" % bad), err
    # a pcap file is no database either
    rc, out, err = run_err(pcap, "--geoip-city", pcap)
    assert (rc, out) == (2, "")
    assert err == ("jcap: GeoIP city database %s: The MaxMind DB file contains invalid "
                   "metadata" % pcap), err


def test_damaged_tree_or_data_finds_nothing(pcap, tmp_path):
    """A database whose metadata is sound but whose search tree or data
    section is garbage opens; its lookups fail and the records carry no
    fields from it (and nothing reads out of bounds: the ASan run)."""
    with open(ASN, "rb") as f:
        db = f.read()
    meta = db.rfind(b"\xab\xcd\xefMaxMind.com")
    tree = 389 * 7 + 16  # node_count 389, 28-bit records (7 bytes a node), separator
    bad_tree, bad_data = tmp_path / "tree.mmdb", tmp_path / "data.mmdb"
    bad_tree.write_bytes(b"\xff" * tree + db[tree:])
    bad_data.write_bytes(db[:tree] + b"\xff" * (meta - tree) + db[meta:])
    for bad in (bad_tree, bad_data):
        recs, st = jt.meter(pcap, "--geoip-city", CITY, "--geoip-asn", bad)
        assert st["geoip"] == {"lookups": lookups(recs, 2)}
        got = by_pair(recs)
        for a, b, geo in FLOWS + [TUN_FLOW]:
            want = {k: v for k, v in geo.items() if "country" in k}
            assert geo_of(got[(jt.ip_norm(a), jt.ip_norm(b))]) == want, bad


def test_swapped_databases_are_refused(pcap):
    rc, out, err = run_err(pcap, "--geoip-city", ASN, "--geoip-asn", CITY)
    assert (rc, out) == (2, "")
    assert err == ("jcap: GeoIP city database %s: is a GeoLite2-ASN database, not a City or "
                   "Country one" % ASN), err
    rc, out, err = run_err(pcap, "--geoip-city", CITY, "--geoip-asn", CITY)
    assert (rc, out) == (2, "")
    assert err == ("jcap: GeoIP ASN database %s: is a GeoLite2-City database, not an ASN "
                   "one" % CITY), err


def test_version_names_libmaxminddb():
    p = jt.run(["version"])
    assert p.returncode == 0
    lines = [x for x in p.stdout.splitlines() if x.startswith("library libmaxminddb ")]
    assert len(lines) == 1 and lines[0].split()[2][0].isdigit(), p.stdout
