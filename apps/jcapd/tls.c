/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcapd HTTPS: the certificate, key and client CAs, read from PEM files and handed
 * to libmicrohttpd per handshake by a callback (it cannot swap the ones given at
 * start), so SIGHUP replaces them under a running daemon. Every connection holds
 * the generation current when it opened; a replaced generation is freed once no
 * connection of it or of an older one is open. Client certificates are checked
 * during the handshake: a client without a valid one never gets to send a request.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "jcapd.h"
#include "tls.h"

#define CHAIN_MAX 8

/* what the daemon hands out; never changed once made, freed when retired and unused */
struct creds {
	gnutls_pcert_st pcert[CHAIN_MAX];
	unsigned n_pcert;
	gnutls_privkey_t key;
	gnutls_x509_trust_list_t client_ca; /* NULL: no client certificates asked for */
	unsigned users;			    /* open connections that opened under this one */
	struct creds *newer;		    /* retired: the next generation */
};

static struct {
	pthread_mutex_t mu;
	struct creds *cur;    /* newest; what handshakes get */
	struct creds *oldest; /* oldest generation still kept (== cur when none retired) */
	char prio[sizeof(g_opts.tls_priorities) + 64];
} tls = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
};

/* Lower than TLS 1.2 is taken out whatever the operator's string says. */
#define TLS_FLOOR ":-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1:-VERS-DTLS-ALL"

bool tls_enabled(void)
{
	return g_opts.tls_cert[0] != '\0';
}

const char *tls_priorities(void)
{
	return tls.prio;
}

static void creds_free(struct creds *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->n_pcert; i++)
		gnutls_pcert_deinit(&c->pcert[i]);
	gnutls_privkey_deinit(c->key);
	if (c->client_ca)
		gnutls_x509_trust_list_deinit(c->client_ca, 1);
	free(c);
}

static int fail(char *msg, size_t msglen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *msg, size_t msglen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	return rc;
}

/* The priority string with its floor, checked by GnuTLS itself. */
static int load_priorities(char *msg, size_t msglen)
{
	gnutls_priority_t p;
	const char *where = NULL;
	const unsigned *vers;
	int r;

	if ((size_t)snprintf(tls.prio, sizeof(tls.prio), "%s%s", g_opts.tls_priorities,
			     TLS_FLOOR) >= sizeof(tls.prio))
		return fail(msg, msglen, -EINVAL, "tls_priorities: too long");
	r = gnutls_priority_init(&p, tls.prio, &where);
	if (r == GNUTLS_E_NO_PRIORITIES_WERE_SET)
		goto no_version;
	if (r < 0) {
		size_t at = where ? (size_t)(where - tls.prio) : 0;

		/* name the place in the operator's string, not in the floor appended */
		if (at > strlen(g_opts.tls_priorities))
			at = 0;
		tls.prio[0] = '\0';
		return fail(msg, msglen, -EINVAL, "tls_priorities: invalid from '%s': %s",
			    g_opts.tls_priorities + at, gnutls_strerror(r));
	}
	r = gnutls_priority_protocol_list(p, &vers);
	gnutls_priority_deinit(p);
	if (r > 0)
		return 0;
no_version:
	tls.prio[0] = '\0';
	return fail(msg, msglen, -EINVAL,
		    "tls_priorities: '%s' leaves no protocol version (TLS 1.2 or later)",
		    g_opts.tls_priorities);
}

static int load_key(struct creds *c, char *msg, size_t msglen)
{
	gnutls_datum_t d = { 0 };
	gnutls_pubkey_t pub = NULL;
	unsigned char id1[64], id2[64];
	size_t l1 = sizeof(id1), l2 = sizeof(id2);
	int r;

	r = gnutls_load_file(g_opts.tls_key, &d);
	if (r < 0)
		return fail(msg, msglen, -ENOENT, "tls_key %s: %s", g_opts.tls_key,
			    gnutls_strerror(r));
	r = gnutls_privkey_init(&c->key);
	if (r >= 0)
		r = gnutls_privkey_import_x509_raw(c->key, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
	gnutls_memset(d.data, 0, d.size);
	gnutls_free(d.data);
	if (r < 0)
		return fail(msg, msglen, -EINVAL, "tls_key %s: %s", g_opts.tls_key,
			    gnutls_strerror(r));
	/* the key must be the one of the certificate's public key */
	r = gnutls_pubkey_init(&pub);
	if (r >= 0)
		r = gnutls_pubkey_import_privkey(pub, c->key, 0, 0);
	if (r >= 0)
		r = gnutls_pubkey_get_key_id(pub, 0, id1, &l1);
	if (r >= 0)
		r = gnutls_pubkey_get_key_id(c->pcert[0].pubkey, 0, id2, &l2);
	gnutls_pubkey_deinit(pub);
	if (r < 0)
		return fail(msg, msglen, -EINVAL, "tls_key %s: %s", g_opts.tls_key,
			    gnutls_strerror(r));
	if (l1 != l2 || memcmp(id1, id2, l1))
		return fail(msg, msglen, -EINVAL, "tls_key %s is not the key of tls_cert %s",
			    g_opts.tls_key, g_opts.tls_cert);
	return 0;
}

static int load_cert(struct creds *c, char *msg, size_t msglen)
{
	gnutls_datum_t d = { 0 };
	gnutls_x509_crt_t crt;
	time_t until = 0;
	int r;

	r = gnutls_load_file(g_opts.tls_cert, &d);
	if (r < 0)
		return fail(msg, msglen, -ENOENT, "tls_cert %s: %s", g_opts.tls_cert,
			    gnutls_strerror(r));
	c->n_pcert = CHAIN_MAX;
	r = gnutls_pcert_list_import_x509_raw(c->pcert, &c->n_pcert, &d, GNUTLS_X509_FMT_PEM, 0);
	gnutls_free(d.data);
	if (r < 0) {
		c->n_pcert = 0;
		return fail(msg, msglen, -EINVAL, "tls_cert %s: %s", g_opts.tls_cert,
			    r == GNUTLS_E_SHORT_MEMORY_BUFFER ? "more than 8 certificates"
							      : gnutls_strerror(r));
	}
	if (gnutls_x509_crt_init(&crt) >= 0) {
		if (gnutls_x509_crt_import(crt, &c->pcert[0].cert, GNUTLS_X509_FMT_DER) >= 0)
			until = gnutls_x509_crt_get_expiration_time(crt);
		gnutls_x509_crt_deinit(crt);
	}
	if (until > 0 && until < time(NULL))
		jlog(CAPTURE_LOG_WARN, "tls_cert %s expired; clients will refuse it",
		     g_opts.tls_cert);
	return 0;
}

static int load_client_ca(struct creds *c, char *msg, size_t msglen)
{
	int r;

	if (!g_opts.tls_client_ca[0])
		return 0;
	r = gnutls_x509_trust_list_init(&c->client_ca, 0);
	if (r < 0)
		return fail(msg, msglen, -ENOMEM, "tls_client_ca: %s", gnutls_strerror(r));
	r = gnutls_x509_trust_list_add_trust_file(c->client_ca, g_opts.tls_client_ca, NULL,
						  GNUTLS_X509_FMT_PEM, 0, 0);
	if (r <= 0)
		return fail(msg, msglen, -EINVAL, "tls_client_ca %s: %s", g_opts.tls_client_ca,
			    r < 0 ? gnutls_strerror(r) : "no certificate in the file");
	return 0;
}

int tls_load(char *msg, size_t msglen)
{
	struct creds *c;
	int r;

	if (!tls.prio[0] && (r = load_priorities(msg, msglen)) < 0)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c)
		return fail(msg, msglen, -ENOMEM, "out of memory");
	if ((r = load_cert(c, msg, msglen)) < 0 || (r = load_key(c, msg, msglen)) < 0 ||
	    (r = load_client_ca(c, msg, msglen)) < 0) {
		creds_free(c);
		return r;
	}
	pthread_mutex_lock(&tls.mu);
	if (tls.cur)
		tls.cur->newer = c; /* retired: freed when its connections are gone */
	else
		tls.oldest = c;
	tls.cur = c;
	pthread_mutex_unlock(&tls.mu);
	return 0;
}

/* Free the retired generations no open connection may use; tls.mu held. */
static void collect(void)
{
	while (tls.oldest != tls.cur && !tls.oldest->users) {
		struct creds *c = tls.oldest;

		tls.oldest = c->newer;
		creds_free(c);
	}
}

void *tls_conn_open(void)
{
	struct creds *c;

	pthread_mutex_lock(&tls.mu);
	c = tls.cur;
	if (c)
		c->users++;
	pthread_mutex_unlock(&tls.mu);
	return c;
}

void tls_conn_close(void *ref)
{
	struct creds *c = ref;

	if (!c)
		return;
	pthread_mutex_lock(&tls.mu);
	c->users--;
	collect();
	pthread_mutex_unlock(&tls.mu);
}

/* The client's address, from the socket libmicrohttpd gave GnuTLS. */
static void peer_of(gnutls_session_t session, char *out, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd = gnutls_transport_get_int(session);

	snprintf(out, len, "?");
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
		return;
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, (socklen_t)len);
	else if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, (socklen_t)len);
}

/*
 * Check the client's chain against @ca; its subject into @subject. 0, or -EACCES
 * with why in @why.
 */
static int check_peer(gnutls_session_t session, gnutls_x509_trust_list_t ca, char *subject,
		      size_t sublen, const char **why)
{
	gnutls_x509_crt_t chain[CHAIN_MAX];
	const gnutls_datum_t *raw;
	gnutls_datum_t dn = { 0 };
	unsigned n = 0, i, status = 0;
	int r;

	subject[0] = '\0';
	raw = gnutls_certificate_get_peers(session, &n);
	if (!raw || !n) {
		*why = "no client certificate";
		return -EACCES;
	}
	if (n > CHAIN_MAX)
		n = CHAIN_MAX;
	for (i = 0; i < n; i++) {
		if (gnutls_x509_crt_init(&chain[i]) < 0)
			break;
		if (gnutls_x509_crt_import(chain[i], &raw[i], GNUTLS_X509_FMT_DER) < 0) {
			gnutls_x509_crt_deinit(chain[i]);
			break;
		}
	}
	if (i < n) {
		n = i;
		r = -1;
		*why = "client certificate not readable";
	} else {
		if (gnutls_x509_crt_get_dn3(chain[0], &dn, 0) >= 0) {
			snprintf(subject, sublen, "%.*s", (int)dn.size, (const char *)dn.data);
			gnutls_free(dn.data);
		}
		r = gnutls_x509_trust_list_verify_crt(ca, chain, n, 0, &status, NULL);
		if (r < 0 || status)
			*why = "client certificate not signed by tls_client_ca (or expired)";
	}
	for (i = 0; i < n; i++)
		gnutls_x509_crt_deinit(chain[i]);
	return r < 0 || status ? -EACCES : 0;
}

/* During the handshake, once the client's certificate is in: nonzero ends it. */
static int verify_client(gnutls_session_t session)
{
	char subject[512], peer[INET6_ADDRSTRLEN];
	const char *why = NULL;
	int r;

	pthread_mutex_lock(&tls.mu);
	r = tls.cur->client_ca
		    ? check_peer(session, tls.cur->client_ca, subject, sizeof(subject), &why)
		    : 0;
	pthread_mutex_unlock(&tls.mu);
	if (!r)
		return 0;
	peer_of(session, peer, sizeof(peer));
	audit_tls_refused(peer, subject, why);
	jlog(CAPTURE_LOG_INFO, "tls: refused %s: %s", peer, why);
	return GNUTLS_E_CERTIFICATE_ERROR;
}

int tls_retrieve_cert(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
		      const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
		      gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
	struct creds *c;

	/*
	 * The connection holds a reference on this generation or an older one
	 * (tls_conn_open), so what is handed out here outlives the session.
	 */
	pthread_mutex_lock(&tls.mu);
	c = tls.cur;
	pthread_mutex_unlock(&tls.mu);
	if (!c)
		return -1;
	if (c->client_ca) {
		/*
		 * Asked for before the server's certificate goes out, checked when it
		 * arrives. REQUEST, not REQUIRE: a client with none completes the
		 * handshake and its first request is refused with 403 and audited.
		 */
		gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUEST);
		gnutls_session_set_verify_function(session, verify_client);
	}
	*pcert = c->pcert;
	*pcert_length = c->n_pcert;
	*pkey = c->key;
	return 0;
}

int tls_peer_subject(gnutls_session_t session, char *out, size_t outlen)
{
	const char *why = NULL;
	int r = 0;

	out[0] = '\0';
	pthread_mutex_lock(&tls.mu);
	if (tls.cur && tls.cur->client_ca)
		r = check_peer(session, tls.cur->client_ca, out, outlen, &why);
	pthread_mutex_unlock(&tls.mu);
	return r;
}

void tls_release(void)
{
	pthread_mutex_lock(&tls.mu);
	while (tls.oldest) {
		struct creds *c = tls.oldest;

		tls.oldest = c == tls.cur ? NULL : c->newer;
		creds_free(c);
	}
	tls.cur = NULL;
	pthread_mutex_unlock(&tls.mu);
}
