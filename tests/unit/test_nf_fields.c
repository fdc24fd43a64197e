/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The --fields layouts and encoder of the v9/IPFIX exporters: the names
 * capture_export_fields_parse() takes, which elements each group adds (and that
 * the default layout is the earlier release's), and the bytes of a record with
 * every group: MACs, QinQ, an MPLS stack, TOS/TTL, a VXLAN VNI, GTP-U TEIDs; the
 * stand-alone IPFIX messages (Kafka's format=ipfix) and the send-failure hints.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "export/ipfix_msg.h"
#include "export/nf_fields.h"

static void test_parse(void)
{
	uint32_t f = 0;

	CHECK_EQ(capture_export_fields_parse("", &f), 0);
	CHECK_EQ(f, 0);
	CHECK_EQ(capture_export_fields_parse("+mac,+mpls", &f), 0);
	CHECK_EQ(f, CAPTURE_FIELD_MAC | CAPTURE_FIELD_MPLS);
	CHECK_EQ(capture_export_fields_parse("ttl,-mac", &f), 0);
	CHECK_EQ(f, CAPTURE_FIELD_MPLS | CAPTURE_FIELD_TTL);
	CHECK_EQ(capture_export_fields_parse("all,-community_id", &f), 0);
	CHECK_EQ(f, CAPTURE_FIELD_ALL & ~CAPTURE_FIELD_COMMUNITY_ID);
	CHECK_EQ(capture_export_fields_parse("none,tos", &f), 0);
	CHECK_EQ(f, CAPTURE_FIELD_TOS);
	/* refused, and @f left as it was */
	CHECK_EQ(capture_export_fields_parse("mac,macs", &f), -CAPTURE_E_CONFIG);
	CHECK_EQ(capture_export_fields_parse("mac,", &f), -CAPTURE_E_CONFIG);
	CHECK_EQ(capture_export_fields_parse(",mac", &f), -CAPTURE_E_CONFIG);
	CHECK_EQ(capture_export_fields_parse("+", &f), -CAPTURE_E_CONFIG);
	CHECK_EQ(capture_export_fields_parse(NULL, &f), -CAPTURE_E_CONFIG);
	CHECK_EQ(f, CAPTURE_FIELD_TOS);
}

static size_t find(const struct nf_field *fl, size_t n, uint32_t pen, uint16_t id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (fl[i].pen == pen && fl[i].id == id)
			return i;
	return (size_t)-1;
}

static void test_layouts(void)
{
	struct nf_field fl[NF_MAX_FIELDS];
	struct nf_layout l = { .version = 10, .ipver = 4, .bi = true };
	size_t n;

	/* default: the 20 elements of earlier releases, 91 bytes */
	n = pc_nf_layout(&l, fl);
	CHECK_EQ(n, 20);
	CHECK_EQ(pc_nf_rec_len(fl, n), 91);
	l.bi = false;
	CHECK_EQ(pc_nf_rec_len(fl, pc_nf_layout(&l, fl)), 57);
	l.version = 9;
	n = pc_nf_layout(&l, fl);
	CHECK_EQ(n, 15);
	CHECK_EQ(pc_nf_rec_len(fl, n), 56);
	l.ipver = 6;
	CHECK_EQ(pc_nf_rec_len(fl, pc_nf_layout(&l, fl)), 80);

	/* v9 with everything: IANA elements only */
	l.fields = CAPTURE_FIELD_ALL;
	l.pen = 32473;
	n = pc_nf_layout(&l, fl);
	CHECK_EQ(n, 15 + 2 + 1 + 3 + 1 + 2 + 1);
	CHECK(find(fl, n, 32473, NF_IE_COMMUNITY_ID) == (size_t)-1);
	CHECK(find(fl, n, 0, 351) != (size_t)-1);

	/* IPFIX biflow, tunnel template with an IPv6 outer header */
	l = (struct nf_layout){ .version = 10,
				.ipver = 4,
				.outer = 6,
				.bi = true,
				.fields = CAPTURE_FIELD_ALL,
				.pen = 32473 };
	n = pc_nf_layout(&l, fl);
	CHECK(find(fl, n, 29305, 5) < find(fl, n, 0, 5)); /* reverse twins first */
	CHECK(find(fl, n, 29305, 52) < find(fl, n, 0, 52));
	CHECK(find(fl, n, 32473, NF_IE_TUNNEL_ID | NF_REVERSE_BIT) < find(fl, n, 32473, 2));
	CHECK_EQ(fl[find(fl, n, 32473, NF_IE_OUTER_SRC6)].len, 16);
	CHECK(find(fl, n, 32473, NF_IE_OUTER_SRC4) == (size_t)-1);
	CHECK_EQ(fl[n - 1].id, NF_IE_COMMUNITY_ID);
	CHECK_EQ(fl[n - 1].len, NF_CID_LEN);
	/* the base template of the same selection has no tunnel element */
	l.outer = 0;
	n = pc_nf_layout(&l, fl);
	CHECK(find(fl, n, 0, 351) == (size_t)-1);
	CHECK(find(fl, n, 32473, NF_IE_TUNNEL_TYPE) == (size_t)-1);
}

static void flow_v4(struct capture_flow *f)
{
	static const uint8_t sm[6] = { 0x02, 0, 0, 0, 0, 0x01 }, dm[6] = { 0x02, 0, 0, 0, 0, 0x02 };

	memset(f, 0, sizeof(*f));
	f->ip_version = 4;
	f->proto = 17;
	inet_pton(AF_INET, "198.18.0.1", f->src_ip);
	inet_pton(AF_INET, "198.19.0.1", f->dst_ip);
	f->src_port = 2152;
	f->dst_port = 2152;
	f->packets = 3;
	f->bytes = 300;
	f->rev_packets = 2;
	f->rev_bytes = 200;
	memcpy(f->src_mac, sm, 6);
	memcpy(f->dst_mac, dm, 6);
	f->vlan = 100;
	f->vlan_inner = 200;
	f->mpls_labels[0] = 1000 << 4 | 5 << 1;	    /* EXP 5 */
	f->mpls_labels[1] = 2000 << 4 | 0 << 1 | 1; /* bottom of stack */
	f->tos = 0xb8;
	f->rev_tos = 0x01;
	f->min_ttl = 60;
	f->max_ttl = 64;
	f->rev_min_ttl = 250;
	f->rev_max_ttl = 255;
	f->interface = 7;
}

/* The value of field @k of a record laid out by @fl. */
static const uint8_t *at(const struct nf_field *fl, size_t k, const uint8_t *rec)
{
	size_t i, off = 0;

	for (i = 0; i < k; i++)
		off += fl[i].len;
	return rec + off;
}

static void test_encode(void)
{
	struct nf_layout l = { .version = 10,
			       .ipver = 4,
			       .outer = 4,
			       .bi = true,
			       .fields = CAPTURE_FIELD_ALL,
			       .pen = 32473 };
	struct nf_field fl[NF_MAX_FIELDS];
	struct capture_flow f;
	struct nf_uni v[2];
	struct nf_enc enc = { .scale = 1 };
	uint8_t rec[512], *end;
	size_t n = pc_nf_layout(&l, fl);
	const uint8_t *p;

	flow_v4(&f);
	f.tunnel_type = CAPTURE_TUNNEL_GTPU;
	f.outer_ip_version = 4;
	f.tunnel_id = 0x11223344;
	f.rev_tunnel_id = 0x55667788;
	inet_pton(AF_INET, "192.0.2.1", f.outer_src_ip);
	inet_pton(AF_INET, "192.0.2.2", f.outer_dst_ip);
	pc_nf_bi_views(&f, v);
	end = pc_nf_encode(rec, fl, n, &f, &v[0], &v[1], &enc);
	CHECK_EQ(end - rec, pc_nf_rec_len(fl, n));
	/* MPLS stack entries as on the wire: label(20) EXP(3) S(1) */
	p = at(fl, find(fl, n, 0, 70), rec);
	CHECK(p[0] == 0x00 && p[1] == 0x3e && p[2] == 0x8a);
	p = at(fl, find(fl, n, 0, 71), rec);
	CHECK(p[0] == 0x00 && p[1] == 0x7d && p[2] == 0x01);
	p = at(fl, find(fl, n, 0, 72), rec);
	CHECK(p[0] == 0 && p[1] == 0 && p[2] == 0);
	CHECK(!memcmp(at(fl, find(fl, n, 0, 56), rec), f.src_mac, 6));
	CHECK(!memcmp(at(fl, find(fl, n, 0, 80), rec), f.dst_mac, 6));
	p = at(fl, find(fl, n, 0, 245), rec);
	CHECK_EQ(p[0] << 8 | p[1], 200);
	CHECK_EQ(*at(fl, find(fl, n, 0, 5), rec), 0xb8);
	CHECK_EQ(*at(fl, find(fl, n, 29305, 5), rec), 0x01);
	CHECK_EQ(*at(fl, find(fl, n, 0, 52), rec), 60);
	CHECK_EQ(*at(fl, find(fl, n, 29305, 53), rec), 255);
	p = at(fl, find(fl, n, 0, 10), rec);
	CHECK_EQ(p[3], 7);
	/* GTP-U: no layer2SegmentId, the TEID of each direction in jcapTunnelId */
	p = at(fl, find(fl, n, 0, 351), rec);
	CHECK(!memcmp(p, "\0\0\0\0\0\0\0\0", 8));
	CHECK_EQ(*at(fl, find(fl, n, 32473, NF_IE_TUNNEL_TYPE), rec), CAPTURE_TUNNEL_GTPU);
	CHECK(!memcmp(at(fl, find(fl, n, 32473, NF_IE_TUNNEL_ID), rec), "\x11\x22\x33\x44", 4));
	CHECK(!memcmp(at(fl, find(fl, n, 32473, NF_IE_TUNNEL_ID | NF_REVERSE_BIT), rec),
		      "\x55\x66\x77\x88", 4));
	CHECK(!memcmp(at(fl, find(fl, n, 32473, NF_IE_OUTER_DST4), rec), "\xc0\x00\x02\x02", 4));

	/* VXLAN: the VNI in layer2SegmentId (type 0x01), jcapTunnelId 0 */
	f.tunnel_type = CAPTURE_TUNNEL_VXLAN;
	f.tunnel_id = 4242;
	f.rev_tunnel_id = 4242;
	pc_nf_bi_views(&f, v);
	pc_nf_encode(rec, fl, n, &f, &v[0], &v[1], &enc);
	CHECK(!memcmp(at(fl, find(fl, n, 0, 351), rec), "\x01\0\0\0\0\0\x10\x92", 8));
	CHECK(!memcmp(at(fl, find(fl, n, 32473, NF_IE_TUNNEL_ID), rec), "\0\0\0\0", 4));

	/* uniflow reverse record: MACs, outer addresses and TEID swapped to its side;
	 * --sample-scale multiplies the counters */
	l.bi = false;
	n = pc_nf_layout(&l, fl);
	{
		struct nf_uni u[2];

		pc_nf_dirs(&f, u);
		enc.scale = 10;
		pc_nf_encode(rec, fl, n, &f, &u[1], &u[1], &enc);
		CHECK(!memcmp(at(fl, find(fl, n, 0, 56), rec), f.dst_mac, 6));
		CHECK(!memcmp(at(fl, find(fl, n, 32473, NF_IE_OUTER_SRC4), rec), "\xc0\x00\x02\x02",
			      4));
		p = at(fl, find(fl, n, 0, 2), rec);
		CHECK_EQ(p[7], 20);
		p = at(fl, find(fl, n, 0, 1), rec);
		CHECK_EQ(p[6] << 8 | p[7], 2000);
		CHECK_EQ(*at(fl, find(fl, n, 0, 52), rec), 250);
	}
}

static unsigned be16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* Walk the sets of an IPFIX message: template records (set 2/3) and data records
 * of data set @tid with record length @rlen. */
static void walk(const uint8_t *m, size_t len, unsigned tid, size_t rlen, unsigned *ntmpl,
		 unsigned *ndata)
{
	size_t off = 16;

	*ntmpl = *ndata = 0;
	while (off + 4 <= len) {
		unsigned id = be16(m + off), sl = be16(m + off + 2);

		if (sl < 4 || off + sl > len)
			break;
		if (id == 2 || id == 3)
			(*ntmpl)++; /* template sets */
		else if (id == tid)
			*ndata += (unsigned)((sl - 4) / rlen);
		off += sl;
	}
	CHECK_EQ(off, len);
}

/* Kafka's format=ipfix: each message carries the templates before its records. */
static void test_messages(void)
{
	struct capture_export_opts o = { .sz = sizeof(o),
					 .uniflow = true,
					 .observation_domain = 9 };
	struct pc_export_target t;
	struct pc_ipfix_msgs *b = NULL;
	struct capture_flow f[40];
	uint8_t buf[1400];
	char err[256];
	size_t len, taken, i;
	unsigned nt, nd;

	CHECK_EQ(pc_export_parse("ipfix-file:/dev/null", &o, &t, err, sizeof(err)), 0);
	CHECK_EQ(pc_ipfix_msgs_create(&b, &t, err, sizeof(err)), 0);
	for (i = 0; i < 40; i++)
		flow_v4(&f[i]); /* two directions each: two uniflow records */
	len = pc_ipfix_msgs_build(b, f, 40, &taken, buf, sizeof(buf), 1700000000ull * 1000000000);
	CHECK(len > 0 && len <= sizeof(buf));
	CHECK_EQ(be16(buf), 10);
	CHECK_EQ(be16(buf + 2), len);
	CHECK_EQ(buf[15], 9); /* observation domain */
	CHECK_EQ(buf[11], 0); /* sequence */
	walk(buf, len, 258, 57, &nt, &nd);
	CHECK_EQ(nt, 2); /* IPv4 and IPv6 templates; statistics options template */
	CHECK_EQ(nd, 2 * taken);
	CHECK(taken > 0 && taken < 40);
	len = pc_ipfix_msgs_build(b, f + taken, 40 - taken, &i, buf, sizeof(buf), 0);
	CHECK_EQ(buf[11], 2 * taken); /* data records before */
	walk(buf, len, 258, 57, &nt, &nd);
	CHECK_EQ(nt, 2);
	CHECK_EQ(nd, 2 * i);
	/* too small for the templates */
	CHECK_EQ(pc_ipfix_msgs_build(b, f, 1, &taken, buf, 64, 0), 0);
	CHECK_EQ(taken, 0);
	pc_ipfix_msgs_destroy(b);
	/* the PEN rule holds here too */
	o.fields = CAPTURE_FIELD_COMMUNITY_ID;
	CHECK_EQ(pc_export_parse("ipfix-file:/dev/null", &o, &t, err, sizeof(err)),
		 -CAPTURE_E_TARGET);
	pc_ipfix_msgs_destroy(NULL);
}

/* Send failures come with what to do about them. */
static void test_hints(void)
{
	struct nf_io io;
	char b[160];

	memset(&io, 0, sizeof(io));
	io.serr.msgsize_len = 9000;
	CHECK_STR(pc_nf_send_hint(&io, EMSGSIZE, b, sizeof(b)),
		  "; a 9000-byte datagram is larger than the path to the collector takes: lower "
		  "--mtu");
	CHECK_STR(pc_nf_send_hint(&io, ENOBUFS, b, sizeof(b)),
		  "; the socket's send queue is full and datagrams are dropped: lower "
		  "--export-rate or raise net.core.wmem_default");
	CHECK_STR(pc_nf_send_hint(&io, ECONNREFUSED, b, sizeof(b)), "");
}

int main(void)
{
	test_hints();
	test_parse();
	test_layouts();
	test_encode();
	test_messages();
	return check_finish("nf_fields");
}
