# SPDX-License-Identifier: BSD-3-Clause
"""MaxMind's published GeoIP/ASN test databases for the tests of issue 12:
`make deps` (scripts/install-deps.sh) takes them out of a Debian package into
/var/cache/jcap-test/geoip, or $PC_GEOIP_TEST_DIR. need_dbs() skips the
calling test where they are not installed."""
import os

import pytest

DB_DIR = os.environ.get("PC_GEOIP_TEST_DIR", "/var/cache/jcap-test/geoip")
CITY = os.path.join(DB_DIR, "GeoLite2-City.mmdb")
ASN = os.path.join(DB_DIR, "GeoLite2-ASN.mmdb")
GEO_KEYS = ("src_country", "dst_country", "src_asn", "dst_asn", "src_as_org", "dst_as_org")


def need_dbs():
    if not (os.path.isfile(CITY) and os.path.isfile(ASN)):
        pytest.skip("no GeoIP test databases in %s: run `make deps`" % DB_DIR)
