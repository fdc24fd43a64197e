/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DNS message parser (RFC 1035; mDNS and LLMNR share the format): the header
 * and the first question. Every read is checked against the bytes present;
 * a name costs at most 16 pointer hops and 255 octets of labels, whatever
 * its pointers do.
 */
#include <string.h>

#include "inspect/l7.h"

#define DNS_HDR 12
#define DNS_MIN_Q 5	  /* root name, type, class */
#define DNS_MIN_RR 11	  /* root name, type, class, TTL, RDLENGTH */
#define DNS_MAX_NAME 255  /* octets of a name in wire form (RFC 1035 2.3.4) */
#define DNS_MAX_LABEL 63  /* label length; 0x40 and 0x80 are other label types */
#define DNS_MAX_HOPS 16	  /* compression pointers followed in one name */
#define DNS_MAX_MSG 65535 /* the bound of a message's size, UDP or TCP */
#define DNS_FLAG_QR 0x8000u
#define DNS_FLAG_Z 0x0040u
#define DNS_RCODE_MAX 11     /* NOERROR .. DSOTYPENI; 12-15 are unassigned */
#define DNS_CLASS_QU 0x8000u /* mDNS: unicast-response / cache-flush bit */

static inline uint16_t rd16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

/*
 * The header says DNS: an opcode that carries a question (QUERY, NOTIFY,
 * UPDATE; IQUERY is obsolete and has none, STATUS was never defined, DSO has
 * none), the Z bit clear, RCODE 0 in a request and an assigned one in a
 * response, QDCOUNT >= 1, and all the records the counts announce able to fit
 * in @max bytes. Random bytes pass about 2.4 times in 10^7 (unit.dns).
 */
static bool header_ok(const uint8_t *m, size_t max)
{
	unsigned flags = rd16(m + 2), op = (flags >> 11) & 0xf, rcode = flags & 0xf;
	size_t qd = rd16(m + 4), rr = (size_t)rd16(m + 6) + rd16(m + 8) + rd16(m + 10);

	if (op != 0 && op != 4 && op != 5)
		return false;
	if (flags & DNS_FLAG_Z)
		return false;
	if (flags & DNS_FLAG_QR ? rcode > DNS_RCODE_MAX : rcode != 0)
		return false;
	return qd >= 1 && DNS_HDR + qd * DNS_MIN_Q + rr * DNS_MIN_RR <= max;
}

/* Appends label @l (@len bytes) to the dotted text @out of @osz bytes at
 * *@o, cutting it at @osz - 1 characters. */
static void put_label(char *out, size_t osz, size_t *o, const uint8_t *l, size_t len)
{
	size_t room;

	if (*o && *o < osz - 1)
		out[(*o)++] = '.';
	room = osz - 1 - *o;
	if (len > room)
		len = room;
	memcpy(out + *o, l, len);
	*o += len;
}

/*
 * The name at @off of message @m, of which @have bytes are present. Copies it
 * dotted into @out (cut, NUL-terminated; labels copied byte for byte, a '.'
 * inside a label included as it is); *@end: the offset right after the name
 * where it was met (after its first pointer). Pointers may go anywhere past
 * the header (RFC 1035 only ever points back; Wireshark follows any, and so
 * do we): a loop ends at DNS_MAX_HOPS or at the 255-octet bound. Returns 1,
 * 0 when it runs past @have, -1 when malformed (label type 0x40/0x80, a
 * pointer into the header, too many pointers, a name over 255 octets, a NUL
 * byte inside a label: it has no C-string form).
 */
static int read_name(const uint8_t *m, size_t have, size_t off, char *out, size_t osz, size_t *end)
{
	size_t wire = 1, o = 0;
	unsigned hops = 0;

	for (;;) {
		unsigned c;

		if (off >= have)
			return 0;
		c = m[off];
		if (c == 0)
			break;
		if ((c & 0xc0) == 0xc0) {
			if (off + 1 >= have)
				return 0;
			if (!hops)
				*end = off + 2;
			if (++hops > DNS_MAX_HOPS)
				return -1;
			off = (size_t)(c & 0x3f) << 8 | m[off + 1];
			if (off < DNS_HDR)
				return -1;
			continue;
		}
		if (c > DNS_MAX_LABEL)
			return -1;
		wire += c + 1;
		if (wire > DNS_MAX_NAME)
			return -1;
		if (off + 1 + c > have)
			return 0;
		if (memchr(m + off + 1, 0, c))
			return -1;
		put_label(out, osz, &o, m + off + 1, c);
		off += 1 + c;
	}
	if (!hops)
		*end = off + 1;
	out[o] = 0;
	return 1;
}

/* The question at @m's offset 12, @have bytes present. */
static int read_question(const uint8_t *m, size_t have, struct pc_dns_msg *out)
{
	size_t end = 0;
	unsigned cls;
	int r = read_name(m, have, DNS_HDR, out->qname, sizeof(out->qname), &end);

	if (r <= 0)
		return r;
	if (end + 4 > have)
		return 0;
	cls = rd16(m + end + 2) & ~DNS_CLASS_QU;
	/* IN, CH, HS, NONE (RFC 2136), ANY: most of what rejects random bytes */
	if (cls != 1 && cls != 3 && cls != 4 && cls != 254 && cls != 255)
		return -1;
	out->qtype = rd16(m + end);
	return 1;
}

int pc_dns_parse(const uint8_t *p, size_t n, bool tcp, struct pc_dns_msg *out)
{
	size_t have = n, max = DNS_MAX_MSG;
	bool whole = false;
	int r;

	memset(out, 0, sizeof(*out));
	if (tcp) {
		if (n < 2)
			return 0;
		max = rd16(p);
		if (max < DNS_HDR + DNS_MIN_Q)
			return -1;
		p += 2;
		have = n - 2;
		if (have >= max) {
			have = max;
			whole = true;
		}
	}
	if (have < DNS_HDR)
		return 0;
	if (!header_ok(p, max))
		return -1;
	r = read_question(p, have, out);
	if (r == 0 && whole)
		return -1; /* the question runs past the length the prefix declares */
	if (r <= 0)
		return r;
	out->response = rd16(p + 2) & DNS_FLAG_QR;
	out->rcode = out->response ? (p[3] & 0xf) : 0;
	out->answers = rd16(p + 6);
	return 1;
}
