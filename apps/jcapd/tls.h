/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcapd's HTTPS (tls.c): the certificate libmicrohttpd hands out is chosen per
 * handshake by a callback, so SIGHUP can replace it under a running daemon; a
 * replaced one is freed once no connection that may have been given it is open.
 */
#ifndef JCAPD_TLS_H
#define JCAPD_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

/*
 * Read tls_cert and tls_key (and tls_client_ca) named in g_opts; the first call
 * also checks tls_priorities. 0 or -errno with one line in @msg. On SIGHUP a
 * failure keeps what is in use.
 */
int tls_load(char *msg, size_t msglen);
/* The priority string for libmicrohttpd: tls_priorities with TLS < 1.2 taken out. */
const char *tls_priorities(void);
/* libmicrohttpd's MHD_OPTION_HTTPS_CERT_CALLBACK. */
gnutls_certificate_retrieve_function2 tls_retrieve_cert;
/*
 * A connection opened: a reference that keeps every certificate it may be given
 * alive until tls_conn_close(). NULL when TLS is off.
 */
void *tls_conn_open(void);
void tls_conn_close(void *ref);
/*
 * The client certificate's subject (RFC 4514) of @session into @out, "" without
 * mutual TLS. 0, or -EACCES when mutual TLS is on and the client has no
 * certificate that tls_client_ca's authorities signed.
 */
int tls_peer_subject(gnutls_session_t session, char *out, size_t outlen);
void tls_release(void);

#endif /* JCAPD_TLS_H */
