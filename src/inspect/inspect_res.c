/* SPDX-License-Identifier: BSD-3-Clause */
/* Inspection results: packed when a flow is settled, unpacked into its record. */
#include <string.h>

#include "inspect/inspect_res.h"

/* Every string at its longest (its array less the NUL) still fits. */
_Static_assert(sizeof(struct pc_insp_res) + CAPTURE_APP_LEN + CAPTURE_APP_CATEGORY_LEN +
			       5 * CAPTURE_NAME_LEN + CAPTURE_ALPN_LEN + CAPTURE_JA4_LEN +
			       CAPTURE_JA3_LEN + CAPTURE_HTTP_METHOD_LEN - S_N <=
		       PC_INSP_RES_MAX,
	       "largest packed result");

size_t pc_insp_pack(const struct pc_insp_found *f, struct pc_insp_res *r)
{
	const char *s[S_N] = { "" };
	size_t n = 0;
	int i;

	memset(r, 0, sizeof(*r));
	r->l7 = f->l7;
	for (i = 0; i < S_N; i++)
		s[i] = "";
	if (f->l7 & CAPTURE_L7_APP) {
		r->app_id = f->dpi.app_id;
		r->master_id = f->dpi.master_id;
		r->confidence = f->dpi.confidence;
		s[S_APP] = f->dpi.app;
		s[S_CAT] = f->dpi.category;
	}
	if (f->l7 & CAPTURE_L7_TLS) {
		s[S_SNI] = f->ch.sni;
		s[S_ALPN] = f->ch.alpn;
		s[S_JA4] = f->ch.ja4;
		s[S_JA3] = f->ch.ja3;
		r->tls_version = f->ch.version;
	}
	if (f->l7 & CAPTURE_L7_TLS_SERVER) {
		if (f->sh.alpn[0])
			s[S_ALPN] = f->sh.alpn;
		r->tls_version = f->sh.version;
	}
	if (!r->tls_version)
		r->l7 &= ~(uint32_t)CAPTURE_L7_TLS_VERSION;
	if (f->l7 & CAPTURE_L7_DNS) {
		s[S_QNAME] = f->dns.qname;
		r->dns_qtype = f->dns.qtype;
	}
	if (f->l7 & CAPTURE_L7_DNS_RESPONSE) {
		r->dns_rcode = f->dns_rcode;
		r->dns_answers = f->dns_answers;
	}
	if (f->l7 & CAPTURE_L7_HTTP) {
		s[S_METHOD] = f->req.method;
		s[S_HOST] = f->req.host;
		s[S_URL] = f->req.url;
		s[S_UA] = f->req.user_agent;
	}
	if (f->l7 & CAPTURE_L7_HTTP_RESPONSE)
		r->http_status = f->http_status;
	for (i = 0; i < S_N; i++) {
		size_t l = strlen(s[i]);

		r->len[i] = (uint8_t)l;
		memcpy(r->data + n, s[i], l);
		n += l;
	}
	return sizeof(*r) + n;
}

static void cpy(char *dst, size_t cap, const char *src, size_t len)
{
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, src, len);
	dst[len] = 0;
}

void pc_insp_unpack(const struct pc_insp_res *r, struct capture_flow *o)
{
	char *dst[S_N] = { o->app,	 o->app_category, o->tls_sni,	     o->tls_alpn,
			   o->ja4,	 o->ja3,	  o->dns_qname,	     o->http_method,
			   o->http_host, o->http_url,	  o->http_user_agent };
	size_t cap[S_N] = { sizeof(o->app),
			    sizeof(o->app_category),
			    sizeof(o->tls_sni),
			    sizeof(o->tls_alpn),
			    sizeof(o->ja4),
			    sizeof(o->ja3),
			    sizeof(o->dns_qname),
			    sizeof(o->http_method),
			    sizeof(o->http_host),
			    sizeof(o->http_url),
			    sizeof(o->http_user_agent) };
	size_t n = 0;
	int i;

	o->l7_flags |= r->l7;
	if (r->l7 & CAPTURE_L7_APP) {
		o->app_id = r->app_id;
		o->app_master_id = r->master_id;
		o->dpi_confidence = r->confidence;
	}
	if (r->l7 & CAPTURE_L7_TLS_VERSION)
		o->tls_version = r->tls_version;
	if (r->l7 & CAPTURE_L7_DNS)
		o->dns_qtype = r->dns_qtype;
	if (r->l7 & CAPTURE_L7_DNS_RESPONSE) {
		o->dns_rcode = r->dns_rcode;
		o->dns_answers = r->dns_answers;
	}
	if (r->l7 & CAPTURE_L7_HTTP_RESPONSE)
		o->http_status = r->http_status;
	for (i = 0; i < S_N; i++) {
		if (r->len[i])
			cpy(dst[i], cap[i], r->data + n, r->len[i]);
		n += r->len[i];
	}
}
