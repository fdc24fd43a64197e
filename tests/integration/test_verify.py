# SPDX-License-Identifier: BSD-3-Clause
"""`jcap verify-firmware` end to end: keys and signatures made with the openssl
command at test time (nothing committed), every result kind, exit codes, text
and JSON output."""
import json
import os
import shutil
import subprocess

import pytest

import pcapgen  # tests/tools, on the path through tests/conftest.py

BUILD = os.environ.get("PC_BUILD_DIR", "build")
JCAP = os.path.join(BUILD, "jcap")

pytestmark = [
    pytest.mark.skipif(not os.access(JCAP, os.X_OK), reason="jcap not built at " + JCAP),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl command missing"),
]


def ossl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def d(tmp_path_factory):
    p = tmp_path_factory.mktemp("verify")
    # 300 KiB: several read chunks for the streamed RSA path
    (p / "fw.bin").write_bytes(bytes((i * 7919) & 0xFF for i in range(300 * 1024 + 5)))
    for name, opts in [
        ("rsa4096", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096"]),
        ("rsa2048", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]),
        ("other", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]),
        ("rsa1024", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"]),
        ("ed", ["-algorithm", "ED25519"]),
        ("ec", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]),
    ]:
        ossl("genpkey", *opts, "-out", str(p / (name + ".pem")))
        ossl("pkey", "-in", str(p / (name + ".pem")), "-pubout", "-out", str(p / (name + ".pub")))
    return p


def jcap(*args):
    return subprocess.run([JCAP, "verify-firmware", *args], capture_output=True, text=True,
                          timeout=60)


def check(d, sig, key, *extra, fmt=None):
    args = ["--image", str(d / "fw.bin"), "--sig", str(d / sig), "--pubkey", str(d / key)]
    args += list(extra)
    if fmt:
        args += ["-F", fmt]
    return jcap(*args)


@pytest.mark.parametrize("digest", ["sha256", "sha384", "sha512"])
@pytest.mark.parametrize("padding", ["pkcs1", "pss"])
def test_rsa4096_digest_padding(d, digest, padding):
    sig = "rsa_%s_%s.sig" % (digest, padding)
    cmd = ["dgst", "-" + digest]
    if padding == "pss":
        cmd += ["-sigopt", "rsa_padding_mode:pss"]
    ossl(*cmd, "-sign", str(d / "rsa4096.pem"), "-out", str(d / sig), str(d / "fw.bin"))
    name = {"pkcs1": "RSASSA-PKCS1-v1_5", "pss": "RSASSA-PSS"}[padding]
    label = digest.upper().replace("SHA", "SHA-")

    r = check(d, sig, "rsa4096.pub", "--digest", digest, "--padding", padding)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "valid: %s %s signature verified with RSA-4096 key %s over %s " \
        "(307205 bytes)\n" % (name, label, d / "rsa4096.pub", d / "fw.bin")
    assert r.stderr == ""

    r = check(d, sig, "rsa4096.pub", "--digest", digest, "--padding", "auto")
    assert r.returncode == 0
    assert r.stdout.startswith("valid: %s %s" % (name, label))

    other = "pss" if padding == "pkcs1" else "pkcs1"
    r = check(d, sig, "rsa4096.pub", "--digest", digest, "--padding", other)
    assert r.returncode == 1
    assert r.stdout.startswith("invalid signature: ")
    assert r.stderr == "jcap: %s: invalid signature\n" % (d / "fw.bin")


def test_default_options_rsa2048_json(d):
    ossl("dgst", "-sha256", "-sign", str(d / "rsa2048.pem"), "-out", str(d / "r.sig"),
         str(d / "fw.bin"))
    r = check(d, "r.sig", "rsa2048.pub", fmt="json")
    assert r.returncode == 0
    o = json.loads(r.stdout)
    assert o == {
        "result": "valid", "valid": True, "image": str(d / "fw.bin"),
        "signature": str(d / "r.sig"), "pubkey": str(d / "rsa2048.pub"),
        "digest": "sha256", "padding": "pkcs1",
        "detail": "RSASSA-PKCS1-v1_5 SHA-256 signature verified with RSA-2048 key %s over %s "
                  "(307205 bytes)" % (d / "rsa2048.pub", d / "fw.bin"),
    }


def test_wrong_key_and_tampering(d):
    ossl("dgst", "-sha256", "-sign", str(d / "rsa2048.pem"), "-out", str(d / "t.sig"),
         str(d / "fw.bin"))
    r = check(d, "t.sig", "other.pub", fmt="json")
    assert r.returncode == 1
    o = json.loads(r.stdout)
    assert o["result"] == "invalid_signature" and o["valid"] is False
    assert "does not match" in o["detail"]

    img = bytearray((d / "fw.bin").read_bytes())
    img[150000] ^= 0x80
    (d / "fw_flipped.bin").write_bytes(bytes(img))
    r = jcap("--image", str(d / "fw_flipped.bin"), "--sig", str(d / "t.sig"),
             "--pubkey", str(d / "rsa2048.pub"))
    assert r.returncode == 1
    assert r.stdout.startswith("invalid signature: RSASSA-PKCS1-v1_5 SHA-256 signature ")
    assert r.stderr == "jcap: %s: invalid signature\n" % (d / "fw_flipped.bin")

    sig = bytearray((d / "t.sig").read_bytes())
    sig[3] ^= 0x01
    (d / "t_flipped.sig").write_bytes(bytes(sig))
    r = check(d, "t_flipped.sig", "rsa2048.pub", "--padding", "auto")
    assert r.returncode == 1
    assert r.stdout.startswith("invalid signature: neither RSASSA-PKCS1-v1_5 nor RSASSA-PSS")


def test_ed25519(d):
    ossl("pkeyutl", "-sign", "-inkey", str(d / "ed.pem"), "-rawin", "-in", str(d / "fw.bin"),
         "-out", str(d / "ed.sig"))
    r = check(d, "ed.sig", "ed.pub")
    assert r.returncode == 0
    assert r.stdout == "valid: Ed25519 signature verified with key %s over %s (307205 bytes)\n" \
        % (d / "ed.pub", d / "fw.bin")
    r = check(d, "ed.sig", "rsa2048.pub")
    assert r.returncode == 1
    assert "is 64 bytes; an RSA-2048 signature is 256 bytes" in r.stdout
    sig = bytearray((d / "ed.sig").read_bytes())
    sig[60] ^= 0x04
    (d / "ed_bad.sig").write_bytes(bytes(sig))
    r = check(d, "ed_bad.sig", "ed.pub", fmt="json")
    assert r.returncode == 1
    assert json.loads(r.stdout)["result"] == "invalid_signature"


def test_weak_key(d):
    ossl("dgst", "-sha256", "-sign", str(d / "rsa1024.pem"), "-out", str(d / "w.sig"),
         str(d / "fw.bin"))
    r = check(d, "w.sig", "rsa1024.pub")
    assert r.returncode == 1
    assert r.stdout == "weak key: public key %s is RSA-1024: RSA keys under 2048 bits are " \
        "refused\n" % (d / "rsa1024.pub")
    assert r.stderr == "jcap: %s: weak key\n" % (d / "fw.bin")


def test_wrong_key_type(d):
    ossl("dgst", "-sha256", "-sign", str(d / "ec.pem"), "-out", str(d / "ec.sig"),
         str(d / "fw.bin"))
    r = check(d, "ec.sig", "ec.pub", fmt="json")
    assert r.returncode == 1
    o = json.loads(r.stdout)
    assert o["result"] == "wrong_key_type"
    assert o["detail"] == "public key %s is an EC (prime256v1) key; only RSA (>= 2048 bits) " \
        "and Ed25519 are accepted" % (d / "ec.pub")
    r = check(d, "ec.sig", "rsa2048.pem")
    assert r.returncode == 1
    assert r.stdout.startswith("wrong key type: public key %s holds a private key"
                               % (d / "rsa2048.pem"))
    assert r.stderr == "jcap: %s: wrong key type\n" % (d / "fw.bin")


def test_unreadable(d):
    ossl("dgst", "-sha256", "-sign", str(d / "rsa2048.pem"), "-out", str(d / "u.sig"),
         str(d / "fw.bin"))
    r = jcap("--image", str(d / "nope.bin"), "--sig", str(d / "u.sig"),
             "--pubkey", str(d / "rsa2048.pub"))
    assert r.returncode == 1
    assert r.stdout == "unreadable input: cannot read image %s: No such file or directory\n" \
        % (d / "nope.bin")
    assert r.stderr == "jcap: %s: unreadable input\n" % (d / "nope.bin")
    r = check(d, "nope.sig", "rsa2048.pub")
    assert r.returncode == 1
    assert r.stdout == "unreadable input: cannot read signature %s: No such file or " \
        "directory\n" % (d / "nope.sig")
    r = check(d, "u.sig", "nope.pub", fmt="json")
    assert r.returncode == 1
    o = json.loads(r.stdout)
    assert o["result"] == "unreadable"
    assert o["detail"] == "cannot read public key %s: No such file or directory" \
        % (d / "nope.pub")
    (d / "junk.pub").write_text("not a key\n")
    r = check(d, "u.sig", "junk.pub")
    assert r.returncode == 1
    assert r.stdout == "unreadable input: cannot read public key %s: not a PEM or DER " \
        "public key or certificate\n" % (d / "junk.pub")


@pytest.mark.parametrize("args,msg", [
    ([], "--image, --sig and --pubkey are required"),
    (["--image", "a", "--sig", "b"], "--image, --sig and --pubkey are required"),
    (["--image", "a", "--sig", "b", "--pubkey", "c", "--digest", "md5"], "unknown digest 'md5'"),
    (["--image", "a", "--sig", "b", "--pubkey", "c", "--padding", "x"], "unknown padding 'x'"),
    (["--image", "a", "--sig", "b", "--pubkey", "c", "-F", "xml"], "unknown format 'xml'"),
    (["--image", "a", "--sig", "b", "--pubkey", "c", "extra"], "unexpected argument 'extra'"),
    (["--image", "a", "--bogus"], "unknown option --bogus"),
    (["--image"], "option --image needs a value"),
])
def test_usage(args, msg):
    r = jcap(*args)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.startswith("jcap: verify-firmware: " + msg)


def test_capture_refuses_unverified_artifact(d):
    """jcap -r F --verify IMAGE:SIG:PUBKEY: metering runs only when every
    artifact verifies; a failure names the artifact and the reason."""
    pcap = d / "small.pcap"
    pcapgen.scenario_mixed(seed=2, flows=20).write(str(pcap))
    ossl("dgst", "-sha256", "-sign", str(d / "rsa2048.pem"), "-out", str(d / "a.sig"),
         str(d / "fw.bin"))
    ossl("pkeyutl", "-sign", "-inkey", str(d / "ed.pem"), "-rawin", "-in", str(d / "fw.bin"),
         "-out", str(d / "a_ed.sig"))
    ok1 = "%s:%s:%s" % (d / "fw.bin", d / "a.sig", d / "rsa2048.pub")
    ok2 = "%s:%s:%s" % (d / "fw.bin", d / "a_ed.sig", d / "ed.pub")
    r = subprocess.run([JCAP, "-r", str(pcap), "-F", "json", "--no-progress", "--verify", ok1,
                        "--verify", ok2], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert len([x for x in r.stdout.splitlines() if x]) == 20

    bad = "%s:%s:%s" % (d / "fw.bin", d / "a.sig", d / "other.pub")
    r = subprocess.run([JCAP, "-r", str(pcap), "-F", "json", "--no-progress", "--verify", ok1,
                        "--verify", bad], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert r.stdout == ""
    assert "artifact %s failed verification: invalid_signature" % (d / "fw.bin") in r.stderr
    assert str(d / "other.pub") in r.stderr

    weak = "%s:%s:%s" % (d / "fw.bin", d / "a.sig", d / "rsa1024.pub")
    r = subprocess.run([JCAP, "-r", str(pcap), "--no-progress", "--verify", weak],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "failed verification: weak_key" in r.stderr
