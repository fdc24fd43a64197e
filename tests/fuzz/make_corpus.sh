#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Regenerates the seed corpora of the fuzz targets added with it: export_target,
# cidr, keyfile, jcapd_config, pcapreader and cryptreader (decode and pcapfile
# keep their hand-made seeds). Plain seeds come from make_corpus.py (captures from
# tests/tools/pcapgen.py); encrypted ones from the library's own encrypting sink
# (fuzz_seed_encrypt, built with the tests) under the fixed test key of the
# harnesses. Each salt is random: encrypted seeds differ from run to run.
# Usage: tests/fuzz/make_corpus.sh [BUILD_DIR]     (default: build)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-$src/build}
enc=$build/tests/fuzz_seed_encrypt
if [ ! -x "$enc" ]; then
	echo "make_corpus.sh: $enc not found (cmake --build $build --target fuzz_seed_encrypt)" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$here/make_corpus.py" "$tmp"
key=$tmp/plain/test.key

# encrypt @1 (a file in plain/) with cipher @2, chunk size @3 into @4
seal() {
	"$enc" "$key" "$2" "$3" "$tmp/plain/$1" "$4"
}
# @1 flags byte (hex), then the file @2: a cryptreader seed @3
with_flags() {
	{ printf "\\x$1"; cat "$2"; } > "$tmp/cryptreader/$3"
}

mkdir -p "$tmp/cryptreader" "$tmp/enc"
: > "$tmp/plain/empty"
seal pcap_us_le_eth aes-256-gcm 64 "$tmp/enc/pcap_c64"
seal ng_be_ns_extras chacha20-poly1305 0 "$tmp/enc/ng_default"
seal pcap_us_le_eth aes-128-gcm 100 "$tmp/enc/pcap_aes128_c100"
seal empty aes-256-gcm 16 "$tmp/enc/empty"
with_flags 00 "$tmp/enc/pcap_c64" aes256_c64
with_flags 10 "$tmp/enc/ng_default" chacha_default_read4096
with_flags 08 "$tmp/enc/pcap_aes128_c100" aes128_c100_read16
with_flags 00 "$tmp/enc/empty" empty_final_only
with_flags 03 "$tmp/enc/pcap_c64" fixups_aes256_c64
head -c 300 "$tmp/enc/pcap_c64" > "$tmp/enc/cut"
with_flags 00 "$tmp/enc/cut" cut_inside_chunk
# plaintext mode: sealed by the sink and read back (0x40: one bit flipped)
head -c 200 "$tmp/plain/pcap_us_le_eth" > "$tmp/enc/pt"
with_flags 87 "$tmp/enc/pt" roundtrip_c50
with_flags a1 "$tmp/enc/pt" roundtrip_c8_flush
with_flags c3 "$tmp/enc/pt" roundtrip_c22_flip

seal pcap_us_le_eth aes-256-gcm 128 "$tmp/pcapreader/enc_pcap_c128"
seal ng_be_ns_extras chacha20-poly1305 0 "$tmp/pcapreader/enc_ng_chacha"
# the offline session target's hostile files feed the reader too
for f in "$here/corpus/pcapfile/"*; do
	cp "$f" "$tmp/pcapreader/pf_$(basename "$f")"
done

for t in export_target cidr keyfile jcapd_config pcapreader cryptreader; do
	rm -rf "${here:?}/corpus/$t"
	cp -r "$tmp/$t" "$here/corpus/$t"
	chmod 644 "$here/corpus/$t"/*
	echo "corpus/$t: $(ls "$here/corpus/$t" | wc -l) files, $(du -sk "$here/corpus/$t" | cut -f1) KiB"
done
