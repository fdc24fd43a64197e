/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Bounded application-protocol parsers: TLS handshake (and JA3/JA4), QUIC
 * client Initial, DNS, HTTP/1.x. Each reads only the bytes it is given,
 * allocates nothing, and fills a fixed-size result; strings are cut to the
 * result's array size less one and NUL-terminated (bytes outside printable
 * ASCII are kept as they are: exporters escape them).
 *
 * Return convention of the parse functions: 1 parsed (the result is filled),
 * 0 not enough bytes yet (the caller may call again with more), -1 not this
 * protocol or malformed (the caller stops trying it on this flow).
 */
#ifndef PC_INSPECT_L7_H
#define PC_INSPECT_L7_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet_capture.h"

/* ------------------------------------------------------------------ TLS */

struct pc_tls_hello {
	bool client;		     /* ClientHello (else ServerHello) */
	uint16_t version;	     /* client: highest offered (supported_versions, GREASE
			     skipped; else legacy_version); server: selected */
	char sni[CAPTURE_NAME_LEN];  /* client: server_name host_name; "" if none */
	char alpn[CAPTURE_ALPN_LEN]; /* client: first offered; server: selected */
	char ja4[CAPTURE_JA4_LEN];   /* client: FoxIO JA4 ("t13d1516h2_..._...") */
	char ja3[CAPTURE_JA3_LEN];   /* client: JA3 MD5 in lower-case hex */
};

/*
 * One TLS ClientHello or ServerHello from the start of a TCP stream: @p holds
 * the stream's first @n bytes (TLS records; the handshake message may span
 * records). @quic: false. Returns 1/0/-1 as above; 0 while the message is
 * not complete within @n (the caller stops waiting at its buffer bound).
 */
int pc_tls_parse_stream(const uint8_t *p, size_t n, struct pc_tls_hello *out);

/*
 * One handshake message (4-byte header: type 1 or 2, 24-bit length, body) at
 * @p, @n bytes. @quic: from QUIC CRYPTO frames (JA4's first letter 'q').
 * Messages over 8 KiB are refused (-1); @out is written only on 1.
 */
int pc_tls_parse_handshake(const uint8_t *p, size_t n, bool quic, struct pc_tls_hello *out);

/* ----------------------------------------------------------------- QUIC */

/* Per-worker cipher contexts, created once (no allocation per packet). */
struct pc_quic_ctx;
struct pc_quic_ctx *pc_quic_ctx_create(void);
void pc_quic_ctx_destroy(struct pc_quic_ctx *q);

/* Per-flow reassembly of the client's Initial CRYPTO stream (bounded). */
#define PC_QUIC_CRYPTO_MAX 4096
struct pc_quic_flow {
	uint8_t dcid[20]; /* the client's first Destination Connection ID */
	uint8_t dcid_len;
	uint8_t packets; /* Initial packets taken */
	uint32_t version;
	uint16_t have;			     /* contiguous CRYPTO bytes from offset 0 */
	uint8_t buf[PC_QUIC_CRYPTO_MAX];     /* CRYPTO stream, offset 0 on */
	uint8_t got[PC_QUIC_CRYPTO_MAX / 8]; /* bitmap of bytes received */
	/* client Initial keys (RFC 9001 5.2), derived once from dcid */
	bool keyed;
	uint8_t key[16], iv[12], hp[16];
};

/*
 * One UDP datagram @p (@n bytes) sent by the client of @f: decrypts each
 * client Initial packet in it (QUIC v1 RFC 9001, v2 RFC 9369: initial
 * secrets from the first packet's DCID with HKDF-SHA256, AES-128-ECB header
 * protection, AES-128-GCM payload), gathers its CRYPTO frames and, once the
 * ClientHello is complete, parses it with pc_tls_parse_handshake(quic=true).
 * @f must be zeroed before the flow's first datagram. Returns 1/0/-1: -1 when
 * the datagram does not start with a v1/v2 long header, a packet does not
 * authenticate (keys of the first DCID, or after a Retry of the packet's own
 * DCID), a frame is malformed or not allowed in an Initial, the ClientHello
 * is longer than PC_QUIC_CRYPTO_MAX, or 16 Initials did not complete it.
 */
int pc_quic_parse_initial(struct pc_quic_ctx *q, struct pc_quic_flow *f, const uint8_t *p, size_t n,
			  struct pc_tls_hello *out);

/* ------------------------------------------------------------------ DNS */

struct pc_dns_msg {
	bool response;		      /* QR bit */
	uint8_t rcode;		      /* response: RCODE */
	uint16_t qtype;		      /* first question's type */
	uint16_t answers;	      /* ANCOUNT */
	char qname[CAPTURE_NAME_LEN]; /* first question, dotted, no trailing dot
					 ("" for the root); compression pointers
					 followed with a loop bound */
};

/* One DNS message: @p is the UDP payload, or for TCP (@tcp) the stream start
 * with its 2-byte length prefix. Needs a question (QDCOUNT >= 1). 1 as soon
 * as the first question is in (the rest of a long TCP message is not
 * awaited); 0 while it is not (UDP: the capture cut the datagram short); -1
 * for a header that is not DNS's or a malformed name (docs/INSPECTION.md). */
int pc_dns_parse(const uint8_t *p, size_t n, bool tcp, struct pc_dns_msg *out);

/* ----------------------------------------------------------------- HTTP */

struct pc_http_msg {
	bool response;
	uint16_t status;		      /* response */
	char method[CAPTURE_HTTP_METHOD_LEN]; /* request */
	char url[CAPTURE_NAME_LEN];	      /* request target as sent */
	char host[CAPTURE_NAME_LEN];	      /* Host header (request) */
	char user_agent[CAPTURE_NAME_LEN];    /* User-Agent header (request) */
};

/* The start of an HTTP/1.x request or response stream (@p, @n bytes).
 * Returns 1 once the header block is complete (or @n reaches the caller's
 * bound: then call with @final set and get what the bytes held), 0 to wait
 * for more, -1 not HTTP/1.x. A response needs only its status line (1xx
 * interim responses but 101 are passed over). With @final: 1 or -1, never 0.
 * -1 comes as soon as a byte rules HTTP/1.x out. */
int pc_http_parse(const uint8_t *p, size_t n, bool final, struct pc_http_msg *out);

#endif
