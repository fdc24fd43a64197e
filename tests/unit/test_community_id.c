/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * unit.community_id: Community ID v1 against the spec's published baseline
 * (corelight/community-id-spec baseline/baseline_deflt.json and
 * baseline_seed1.json: TCP, UDP, SCTP, ICMP, ICMPv6, RSVP without ports,
 * seeds 0 and 1), the one-way ICMP rule, and the ICMP pairing of the key.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "packet_capture.h"
#include "flow/flow_key.h"

#include "check.h"

/* proto, saddr, daddr, sport, dport as the baseline lists them (for ICMP:
 * the type and its counterpart type, or the code of a one-way type), then
 * the IDs under seed 0 and seed 1 */
static const struct vec {
	uint8_t proto;
	const char *sa, *da;
	uint16_t sp, dp;
	const char *id0, *id1;
} baseline[] = {
	{ 58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 136,
	  "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=" },
	{ 58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 136, 135,
	  "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=" },
	{ 58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 135, 136,
	  "1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM=" },
	{ 58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 136, 135,
	  "1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM=" },
	{ 58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0,
	  "1:2ObVBgIn28oZvibYZhZMBgh7WdQ=", "1:lVEtCZpYu84Xqaa++3lXFyuu2n4=" },
	{ 58, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", 1, 4,
	  "1:hLZd0XGWojozrvxqE0dWB1iM6R0=", "1:W8MHwXpWzpoSTD+cGcaJr4u0ys8=" },
	{ 58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", 128, 129,
	  "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", "1:GfZxjAkDk2MkegpBYHV6tadtFXQ=" },
	{ 58, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", 129, 128,
	  "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", "1:GfZxjAkDk2MkegpBYHV6tadtFXQ=" },
	{ 58, "fe80::200:86ff:fe05:80da", "ff02::2", 133, 134,
	  "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=", "1:L7Ka0ZMYu+J3bL4ulW2PrqyXNo8=" },
	{ 58, "fe80::260:97ff:fe07:69ea", "ff02::1", 134, 133,
	  "1:pkvHqCL88/tg1k4cPigmZXUtL00=", "1:K/ee5UCqAMAQXDorP5nSa2CGLjc=" },
	{ 1, "192.168.0.89", "192.168.0.1", 8, 0,
	  "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA=" },
	{ 1, "192.168.0.1", "192.168.0.89", 0, 8,
	  "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA=" },
	{ 1, "10.0.0.1", "10.0.0.2", 11, 0,
	  "1:YHxtAirCG//0OzkcVAukqKQN9xM=", "1:XjUibYHaafLQ3pxQeiMI8g25q20=" },
	{ 6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25,
	  "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw=" },
	{ 6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943,
	  "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw=" },
	{ 132, "192.168.170.8", "192.168.170.56", 7, 7,
	  "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg=" },
	{ 132, "192.168.170.56", "192.168.170.8", 7, 7,
	  "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg=" },
	{ 6, "128.232.110.120", "66.35.250.204", 34855, 80,
	  "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc=" },
	{ 6, "66.35.250.204", "128.232.110.120", 80, 34855,
	  "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc=" },
	{ 17, "192.168.1.52", "8.8.8.8", 54585, 53,
	  "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=" },
	{ 17, "8.8.8.8", "192.168.1.52", 53, 54585,
	  "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=" },
	{ 46, "10.1.12.1", "10.1.12.2", 0, 0,
	  "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=", "1:rYir8gphR31noO9iDRQmF/BteEI=" },
	{ 46, "10.1.12.2", "10.1.12.1", 0, 0,
	  "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=", "1:rYir8gphR31noO9iDRQmF/BteEI=" },
};

static void flow_of(const struct vec *v, struct capture_flow *f)
{
	bool req;

	memset(f, 0, sizeof(*f));
	f->ip_version = strchr(v->sa, ':') ? 6 : 4;
	inet_pton(f->ip_version == 4 ? AF_INET : AF_INET6, v->sa, f->src_ip);
	inet_pton(f->ip_version == 4 ? AF_INET : AF_INET6, v->da, f->dst_ip);
	f->proto = v->proto;
	if (v->proto == 1 || v->proto == 58) {
		/* a record holds the type and code; a paired type's code is 0 here */
		f->icmp_type = (uint8_t)v->sp;
		f->icmp_code = pc_icmp_counterpart(v->proto, (uint8_t)v->sp, &req) < 0
				       ? (uint8_t)v->dp
				       : 0;
		/* what the flow key puts in the ports; the ID must not use it */
		f->src_port = f->dst_port = pc_icmp_key_port(v->proto, f->icmp_type, f->icmp_code);
	} else {
		f->src_port = v->sp;
		f->dst_port = v->dp;
	}
}

static void test_baseline(void)
{
	char id[CAPTURE_COMMUNITY_ID_LEN];
	struct capture_flow f;
	size_t i;

	for (i = 0; i < sizeof(baseline) / sizeof(baseline[0]); i++) {
		flow_of(&baseline[i], &f);
		CHECK_EQ(capture_flow_community_id(&f, 0, id), 0);
		CHECK_STR(id, baseline[i].id0);
		CHECK_EQ(capture_flow_community_id(&f, 1, id), 0);
		CHECK_STR(id, baseline[i].id1);
	}
}

/* Values from an independent Python implementation of the spec text
 * (hashlib.sha1 over the packed fields, base64). */
static void test_one_way_and_order(void)
{
	static const struct vec unreach_hi = { 1, "10.0.0.2", "10.0.0.1", 3, 1, NULL, NULL };
	static const struct vec unreach_lo = { 1, "10.0.0.1", "10.0.0.2", 3, 1, NULL, NULL };
	static const struct vec tcp_a = { 6, "10.0.0.1", "127.0.0.1", 1234, 80, NULL, NULL };
	static const struct vec tcp_b = { 6, "127.0.0.1", "10.0.0.1", 80, 1234, NULL, NULL };
	char id[CAPTURE_COMMUNITY_ID_LEN];
	struct capture_flow f;

	/* a one-way type keeps its sender first: no swap to the lower address */
	flow_of(&unreach_hi, &f);
	CHECK_EQ(capture_flow_community_id(&f, 0, id), 0);
	CHECK_STR(id, "1:JHjlyD5IJJjl3wHWOMj46lLWZag=");
	flow_of(&unreach_lo, &f);
	CHECK_EQ(capture_flow_community_id(&f, 0, id), 0);
	CHECK_STR(id, "1:gkoOC4ouXvyYq0Ek/WqwbLoqcxM=");
	/* the spec's example: both directions order into 10.0.0.1, 127.0.0.1, 1234, 80 */
	flow_of(&tcp_a, &f);
	CHECK_EQ(capture_flow_community_id(&f, 0, id), 0);
	CHECK_STR(id, "1:F/BCgQTUT/FXrTnSBgdsKwJ26iE=");
	flow_of(&tcp_b, &f);
	CHECK_EQ(capture_flow_community_id(&f, 0, id), 0);
	CHECK_STR(id, "1:F/BCgQTUT/FXrTnSBgdsKwJ26iE=");
	/* seed in big-endian order: 7 = 00 07 */
	memset(&f, 0, sizeof(f));
	f.ip_version = 4;
	inet_pton(AF_INET, "198.18.0.1", f.src_ip);
	inet_pton(AF_INET, "198.19.255.254", f.dst_ip);
	f.proto = 6;
	f.src_port = 40000;
	f.dst_port = 443;
	CHECK_EQ(capture_flow_community_id(&f, 7, id), 0);
	CHECK_STR(id, "1:9FHffcGORrpQcHfYedc5yKJItjQ=");
	f.ip_version = 0;
	CHECK_EQ(capture_flow_community_id(&f, 0, id), -EINVAL);
	CHECK_EQ(capture_flow_community_id(NULL, 0, id), -EINVAL);
}

/* The key pairs a reply with its request and keeps one-way types apart. */
static void test_icmp_key(void)
{
	bool req;

	CHECK_EQ(pc_icmp_key_port(1, 8, 0), 8 << 8);
	CHECK_EQ(pc_icmp_key_port(1, 0, 0), 8 << 8);	  /* echo reply -> echo */
	CHECK_EQ(pc_icmp_key_port(1, 3, 1), 3 << 8 | 1);  /* host unreachable */
	CHECK_EQ(pc_icmp_key_port(58, 129, 0), 128 << 8); /* ICMPv6 echo reply */
	CHECK_EQ(pc_icmp_key_port(58, 136, 0), 135 << 8); /* NA -> NS */
	CHECK_EQ(pc_icmp_key_port(58, 1, 4), 1 << 8 | 4); /* unreachable */
	CHECK_EQ(pc_icmp_counterpart(1, 9, &req), 10);	  /* router adv. -> solicitation */
	CHECK(!req);
	CHECK_EQ(pc_icmp_counterpart(1, 17, &req), 18);
	CHECK(req);
	CHECK_EQ(pc_icmp_counterpart(1, 128, &req), -1); /* an ICMPv6 type, not ICMP */
	CHECK_EQ(pc_icmp_counterpart(58, 8, &req), -1);
}

int main(void)
{
	test_baseline();
	test_one_way_and_order();
	test_icmp_key();
	return check_finish("unit.community_id");
}
