/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * QUIC client Initial decryption (src/inspect/quic.c): the published client
 * Initials of RFC 9001 A.2 (v1) and RFC 9369 A.2 (v2) decrypted and their
 * ClientHello read; a ClientHello spread over Initial packets (out of order,
 * coalesced with other long-header packets) sealed here with the RFC 9001 A.1
 * client keys; forged, cut and foreign datagrams refused.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "check.h"
#include "l7_util.h"
#include "inspect/l7.h"

/* RFC 9001 A.2: the protected client Initial (DCID 8394c8f03e515708,
 * packet number 2, CRYPTO frame with the ClientHello, PADDING to 1200). */
static const char rfc9001_a2[] = "c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11"
				 "d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399"
				 "1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c"
				 "8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212"
				 "30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5"
				 "457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208"
				 "4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec"
				 "4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3"
				 "485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db"
				 "059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c"
				 "7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8"
				 "9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556"
				 "be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74"
				 "68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a"
				 "c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00"
				 "f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632"
				 "291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964"
				 "25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd"
				 "14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff"
				 "ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198"
				 "e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd"
				 "c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73"
				 "203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f"
				 "cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e"
				 "fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade"
				 "a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047"
				 "90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2"
				 "162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4"
				 "40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0"
				 "6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e"
				 "8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0"
				 "be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400"
				 "54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab"
				 "760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9"
				 "f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4"
				 "056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064"
				 "7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241"
				 "e221af44860018ab0856972e194cd934";

/* RFC 9369 A.2: the same ClientHello in a QUIC v2 client Initial. */
static const char rfc9369_a2[] = "d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485"
				 "dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad04"
				 "9f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d"
				 "250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a"
				 "12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500"
				 "cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68"
				 "18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff33"
				 "12ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3"
				 "d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd"
				 "6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520"
				 "bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045"
				 "636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f"
				 "ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c12"
				 "16ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e5"
				 "4df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4"
				 "fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b"
				 "8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de7"
				 "14d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9"
				 "9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91"
				 "abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd"
				 "80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db"
				 "848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18"
				 "d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15"
				 "c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc"
				 "7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61"
				 "f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e70710"
				 "10d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b"
				 "3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e"
				 "06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce"
				 "8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1"
				 "34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1"
				 "e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd"
				 "5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3"
				 "8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89"
				 "d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53"
				 "6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19"
				 "9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b"
				 "a18b2faa745b6fe189cf772a9f84cbfc";

/* RFC 9001 A.1 / RFC 9369 A.1: the client Initial keys of that DCID. */
static const char v1_key[] = "1f369613dd76d5467730efcbe3b1a22d";
static const char v1_iv[] = "fa044b2f42a3fd3b46fb255c";
static const char v1_hp[] = "9f50449e04a0e810283a1e9933adedd2";
static const char v2_key[] = "8b1a0bc121284290a29e0971b5cd045d";
static const char v2_iv[] = "91f73e2351d8fa91660e909f";
static const char v2_hp[] = "45b95e15235d6f45a6b19cbcb0294ba9";
static const uint8_t dcid[8] = { 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08 };

/* The ClientHello of both (RFC 9001 A.2, 241 bytes): SNI example.com, ALPN
 * "alpn", supported_versions 0304, ciphers 1301,1302, 11 extensions.
 * JA4 derived by hand and checked with Python's hashlib:
 *   a: q 13 d 02 ciphers 11 extensions, ALPN "alpn" -> "an"
 *   b: sha256("1301,1302")[:12]
 *   c: sha256("0005,000a,000d,001c,002b,002d,0033,0039,ff01_0403,0503,0603,
 *      0203,0804,0805,0806")[:12]
 * JA3 of "771,4865-4866,0-65281-10-16-5-51-43-13-45-28-57,29-23-24," (MD5). */
#define RFC_JA4 "q13d0211an_62ed6f6ca7ad_4d634acda6c0"
#define RFC_JA3 "41bc9ae914d6cb3bd0bd0a5453ab7d7f"

static bool same_hex(const uint8_t *b, size_t n, const char *hex)
{
	uint8_t want[64];

	return unhex(hex, want, sizeof(want)) == n && !memcmp(b, want, n);
}

/* From an exact-size heap copy: ASan sees any read past the datagram. */
static int parse(struct pc_quic_ctx *q, struct pc_quic_flow *f, const uint8_t *p, size_t n,
		 struct pc_tls_hello *out)
{
	uint8_t *c = malloc(n ? n : 1);
	int rc;

	memcpy(c, p, n);
	rc = pc_quic_parse_initial(q, f, c, n, out);
	free(c);
	return rc;
}

static void check_rfc_hello(const struct pc_tls_hello *h)
{
	CHECK(h->client);
	CHECK_EQ(h->version, 0x0304);
	CHECK_STR(h->sni, "example.com");
	CHECK_STR(h->alpn, "alpn");
	CHECK_STR(h->ja4, RFC_JA4);
	CHECK_STR(h->ja3, RFC_JA3);
}

static void test_rfc(struct pc_quic_ctx *q, const char *hex, uint32_t version, const char *key,
		     const char *iv, const char *hp)
{
	static struct pc_quic_flow f;
	uint8_t d[1200], bad[1200];
	struct pc_tls_hello h;
	size_t n = unhex(hex, d, sizeof(d)), i;

	CHECK_EQ(n, 1200);
	memset(&f, 0, sizeof(f));
	memset(&h, 0, sizeof(h));
	CHECK_EQ(parse(q, &f, d, n, &h), 1);
	check_rfc_hello(&h);
	CHECK_EQ(f.version, version);
	CHECK_EQ(f.packets, 1);
	CHECK_EQ(f.dcid_len, 8);
	CHECK(!memcmp(f.dcid, dcid, 8));
	CHECK(same_hex(f.key, 16, key));
	CHECK(same_hex(f.iv, 12, iv));
	CHECK(same_hex(f.hp, 16, hp));
	CHECK_EQ(f.have, 241);

	/* a flipped bit in the tag, the ciphertext or the (unmasked) header:
	 * the AEAD refuses it */
	for (i = 0; i < 3; i++) {
		static const size_t at[] = { 1199, 600, 16 };

		memcpy(bad, d, n);
		bad[at[i]] ^= 0x01;
		memset(&f, 0, sizeof(f));
		CHECK_EQ(parse(q, &f, bad, n, &h), -1);
	}
	/* every cut datagram: its Length runs past the end */
	for (i = 0; i < n; i++) {
		memset(&f, 0, sizeof(f));
		if (parse(q, &f, d, i, &h) != -1)
			break;
	}
	CHECK_EQ(i, n);
}

/* ------------------------------------------- Initials sealed in the test */

struct sealer {
	EVP_CIPHER_CTX *ecb, *gcm;
	uint8_t key[16], iv[12], hp[16];
};

/*
 * One v1 client Initial (DCID 8394c8f03e515708, no SCID, no token, 2-byte
 * packet number @pn) carrying @plen bytes of frames @pl, sealed with the RFC
 * 9001 A.1 keys; returns its size.
 */
static size_t seal(struct sealer *s, uint8_t *out, unsigned pn, const uint8_t *pl, size_t plen)
{
	uint8_t mask[32], nonce[12];
	size_t o = 0, pn_off, i;
	int ol;

	out[o++] = 0xc1; /* long header, fixed bit, Initial, 2-byte packet number */
	memcpy(out + o, "\0\0\0\x01\x08", 5);
	o += 5;
	memcpy(out + o, dcid, 8);
	o += 8;
	out[o++] = 0; /* SCID */
	out[o++] = 0; /* token */
	out[o++] = (uint8_t)(0x40 | (2 + plen + 16) >> 8);
	out[o++] = (uint8_t)(2 + plen + 16);
	pn_off = o;
	out[o++] = (uint8_t)(pn >> 8);
	out[o++] = (uint8_t)pn;
	memcpy(nonce, s->iv, 12);
	nonce[10] ^= (uint8_t)(pn >> 8);
	nonce[11] ^= (uint8_t)pn;
	EVP_EncryptInit_ex(s->gcm, EVP_aes_128_gcm(), NULL, s->key, nonce);
	EVP_EncryptUpdate(s->gcm, NULL, &ol, out, (int)o);
	EVP_EncryptUpdate(s->gcm, out + o, &ol, pl, (int)plen);
	EVP_EncryptFinal_ex(s->gcm, out + o + ol, &ol);
	EVP_CIPHER_CTX_ctrl(s->gcm, EVP_CTRL_GCM_GET_TAG, 16, out + o + plen);
	EVP_EncryptInit_ex(s->ecb, EVP_aes_128_ecb(), NULL, s->hp, NULL);
	EVP_CIPHER_CTX_set_padding(s->ecb, 0);
	EVP_EncryptUpdate(s->ecb, mask, &ol, out + pn_off + 4, 16);
	out[0] ^= mask[0] & 0x0f;
	for (i = 0; i < 2; i++)
		out[pn_off + i] ^= mask[1 + i];
	return o + plen + 16;
}

/* Frames: CRYPTO of the ClientHello bytes [@from, @to), then PADDING to 40. */
static size_t crypto_frames(uint8_t *f, const uint8_t *ch, size_t from, size_t to, bool ack)
{
	size_t o = 0;

	if (ack) { /* ACK largest 0, delay 0, 1 range, first 0; ECN form */
		memcpy(f, "\x03\x00\x00\x01\x00\x00\x00\x01\x02\x03\x01", 11);
		o = 11;
		f[o++] = 0x01; /* PING */
	}
	f[o++] = 0x06;
	f[o++] = (uint8_t)(0x40 | from >> 8);
	f[o++] = (uint8_t)from;
	f[o++] = (uint8_t)(0x40 | (to - from) >> 8);
	f[o++] = (uint8_t)(to - from);
	memcpy(f + o, ch + from, to - from);
	o += to - from;
	while (o < 40)
		f[o++] = 0;
	return o;
}

static void test_split(struct pc_quic_ctx *q)
{
	static struct pc_quic_flow f;
	struct sealer s = { .ecb = EVP_CIPHER_CTX_new(), .gcm = EVP_CIPHER_CTX_new() };
	uint8_t d[1200], ch[300], fr[400], dg[1500], junk[60];
	struct pc_tls_hello h;
	size_t n = unhex(rfc9001_a2, d, sizeof(d)), chn, fn, o;

	unhex(v1_key, s.key, 16);
	unhex(v1_iv, s.iv, 12);
	unhex(v1_hp, s.hp, 16);
	/* the ClientHello: decrypt the RFC packet and take it from the flow */
	memset(&f, 0, sizeof(f));
	CHECK_EQ(parse(q, &f, d, n, &h), 1);
	chn = f.have;
	memcpy(ch, f.buf, chn);
	CHECK_EQ(chn, 241);

	/* its second half first, then its first half coalesced with a Handshake
	 * packet (type 2, skipped by its Length) */
	memset(&f, 0, sizeof(f));
	memset(&h, 0, sizeof(h));
	fn = crypto_frames(fr, ch, 100, chn, false);
	o = seal(&s, dg, 0, fr, fn);
	CHECK_EQ(parse(q, &f, dg, o, &h), 0);
	CHECK_EQ(f.have, 0);
	fn = crypto_frames(fr, ch, 0, 100, true);
	o = seal(&s, dg, 1, fr, fn);
	memset(junk, 0xa5, sizeof(junk));
	memcpy(junk, "\xe0\0\0\0\x01\x00\x00\x40\x30", 9); /* Handshake, Length 48 */
	memcpy(dg + o, junk, 9 + 48);
	o += 9 + 48;
	CHECK_EQ(parse(q, &f, dg, o, &h), 1);
	CHECK_EQ(f.packets, 2);
	check_rfc_hello(&h);

	/* both halves coalesced in one datagram */
	memset(&f, 0, sizeof(f));
	memset(&h, 0, sizeof(h));
	fn = crypto_frames(fr, ch, 0, 120, false);
	o = seal(&s, dg, 0, fr, fn);
	fn = crypto_frames(fr, ch, 120, chn, false);
	o += seal(&s, dg + o, 1, fr, fn);
	CHECK_EQ(parse(q, &f, dg, o, &h), 1);
	CHECK_EQ(f.packets, 2);
	check_rfc_hello(&h);

	/* a frame an Initial cannot carry (STREAM, 0x08): refused */
	memset(&f, 0, sizeof(f));
	fn = crypto_frames(fr, ch, 0, 120, false);
	fr[fn++] = 0x08;
	o = seal(&s, dg, 0, fr, fn);
	CHECK_EQ(parse(q, &f, dg, o, &h), -1);
	/* a CRYPTO frame whose length runs past the packet: refused */
	memset(&f, 0, sizeof(f));
	fn = crypto_frames(fr, ch, 0, 20, false);
	fr[4] = 0x7f;
	o = seal(&s, dg, 0, fr, fn);
	CHECK_EQ(parse(q, &f, dg, o, &h), -1);
	EVP_CIPHER_CTX_free(s.ecb);
	EVP_CIPHER_CTX_free(s.gcm);
}

/* Bounds: a ClientHello longer than the CRYPTO buffer, and a flow that keeps
 * sending Initials without completing one (16 taken, the 17th refused). */
static void test_bounds(struct pc_quic_ctx *q)
{
	static struct pc_quic_flow f;
	struct sealer s = { .ecb = EVP_CIPHER_CTX_new(), .gcm = EVP_CIPHER_CTX_new() };
	uint8_t fr[64], dg[256];
	struct pc_tls_hello h;
	size_t o;
	unsigned i;

	unhex(v1_key, s.key, 16);
	unhex(v1_iv, s.iv, 12);
	unhex(v1_hp, s.hp, 16);
	memset(&f, 0, sizeof(f));
	memset(fr, 0, sizeof(fr));
	memcpy(fr, "\x06\x00\x04\x01\x00\x10\x00", 7); /* ClientHello of 4096 bytes */
	o = seal(&s, dg, 0, fr, 40);
	CHECK_EQ(parse(q, &f, dg, o, &h), -1);

	memset(&f, 0, sizeof(f));
	memset(fr, 0, sizeof(fr));
	fr[0] = 0x01; /* PING, then PADDING */
	for (i = 0; i < 16; i++) {
		o = seal(&s, dg, i, fr, 40);
		CHECK_EQ(parse(q, &f, dg, o, &h), 0);
	}
	o = seal(&s, dg, 16, fr, 40);
	CHECK_EQ(parse(q, &f, dg, o, &h), -1);
	EVP_CIPHER_CTX_free(s.ecb);
	EVP_CIPHER_CTX_free(s.gcm);
}

/* After a Retry the client's Initials use the server's new DCID and keys
 * derived from it: a flow keyed from an earlier DCID moves to the new one
 * once it opens a packet with it. */
static void test_retry(struct pc_quic_ctx *q)
{
	static struct pc_quic_flow f;
	struct pc_tls_hello h;
	uint8_t d[1200];
	size_t n = unhex(rfc9001_a2, d, sizeof(d));

	memset(&f, 0, sizeof(f));
	f.keyed = true; /* as if an Initial to DCID 0102030405 had come first */
	f.version = 1;
	f.dcid_len = 5;
	memcpy(f.dcid, "\x01\x02\x03\x04\x05", 5);
	memset(f.key, 0x11, sizeof(f.key));
	memset(f.iv, 0x22, sizeof(f.iv));
	memset(f.hp, 0x33, sizeof(f.hp));
	CHECK_EQ(parse(q, &f, d, n, &h), 1);
	check_rfc_hello(&h);
	CHECK_EQ(f.dcid_len, 8);
	CHECK(!memcmp(f.dcid, dcid, 8));
	CHECK(same_hex(f.key, 16, v1_key));
	CHECK(same_hex(f.hp, 16, v1_hp));
	/* a v2 packet on a v1 flow: refused */
	memset(&f, 0, sizeof(f));
	f.keyed = true;
	f.version = 0x6b3343cf;
	CHECK_EQ(parse(q, &f, d, n, &h), -1);
}

static void test_foreign(struct pc_quic_ctx *q)
{
	static struct pc_quic_flow f;
	struct pc_tls_hello h;
	uint8_t d[1200];
	size_t n = unhex(rfc9001_a2, d, sizeof(d));

	memset(&f, 0, sizeof(f));
	CHECK_EQ(parse(q, &f, (const uint8_t *)"", 0, &h), -1);
	CHECK_EQ(parse(q, &f, (const uint8_t *)"\x16\x03\x01\x00\x10", 5, &h), -1);
	d[0] = 0x40; /* a short header */
	CHECK_EQ(parse(q, &f, d, n, &h), -1);
	unhex(rfc9001_a2, d, sizeof(d));
	d[4] = 0x1d; /* version 0x0000001d: not one we know */
	CHECK_EQ(parse(q, &f, d, n, &h), -1);
	unhex(rfc9001_a2, d, sizeof(d));
	d[5] = 21; /* DCID over 20 bytes */
	CHECK_EQ(parse(q, &f, d, n, &h), -1);
}

int main(void)
{
	struct pc_quic_ctx *q = pc_quic_ctx_create();

	CHECK(q != NULL);
	if (!q)
		return check_finish("test_quic");
	test_rfc(q, rfc9001_a2, 0x00000001, v1_key, v1_iv, v1_hp);
	test_rfc(q, rfc9369_a2, 0x6b3343cf, v2_key, v2_iv, v2_hp);
	test_split(q);
	test_bounds(q);
	test_retry(q);
	test_foreign(q);
	pc_quic_ctx_destroy(q);
	pc_quic_ctx_destroy(NULL);
	return check_finish("test_quic");
}
