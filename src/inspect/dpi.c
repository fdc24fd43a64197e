/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nDPI wrapper: one detection module per worker, started at the first flow
 * that needs it (about 30 ms of start-up a session without such a flow does
 * not pay), and a pool of per-flow nDPI states reserved at creation (mmap:
 * only states in use cost memory), taken when a flow is first given to nDPI
 * and given back at its verdict. nDPI itself still allocates inside some
 * dissectors; ndpi_free_flow_data() frees that when the state goes back.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "inspect/dpi.h"

#ifdef HAVE_NDPI
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <arpa/inet.h>
#include <ndpi_api.h>
#include <ndpi_config.h>

struct pc_dpi {
	struct ndpi_detection_module_struct *mod; /* NULL until a flow needs it */
	bool mod_failed;			  /* ndpi_init_detection_module failed */
	struct ndpi_flow_struct *scratch;	  /* pc_dpi_guess's flow (fsz bytes) */
	uint8_t *flows;				  /* max_flows states of fsz bytes, reserved */
	size_t fsz;				  /* one state, rounded to a cache line */
	size_t map_len;				  /* bytes mapped at flows */
	uint32_t *stack;			  /* free states (index + 1) */
	uint32_t nfree;				  /* entries on stack */
	uint32_t used;				  /* states ever handed out (from flows[0]) */
	uint32_t max;
};

static struct ndpi_flow_struct *flow_at(struct pc_dpi *d, uint32_t h)
{
	return (struct ndpi_flow_struct *)(d->flows + (size_t)(h - 1) * d->fsz);
}

/*
 * Modules are started one at a time: ndpi_init_detection_module() starts
 * libgcrypt, whose initialisation aborts the process when two threads run
 * it at once (seen: two workers' first flows in the same millisecond).
 */
static pthread_mutex_t mod_init_lock = PTHREAD_MUTEX_INITIALIZER;

/* The detection module, started at the first call; false when it cannot
 * be (then nDPI is left out for the rest of the session). */
static bool mod_ready(struct pc_dpi *d)
{
	NDPI_PROTOCOL_BITMASK all;

	if (d->mod)
		return true;
	if (d->mod_failed)
		return false;
	pthread_mutex_lock(&mod_init_lock);
	d->mod = ndpi_init_detection_module(ndpi_no_prefs);
	if (d->mod) {
		NDPI_BITMASK_SET_ALL(all);
		ndpi_set_protocol_detection_bitmask2(d->mod, &all);
		ndpi_finalize_initialization(d->mod);
	}
	pthread_mutex_unlock(&mod_init_lock);
	if (!d->mod) {
		d->mod_failed = true;
		return false;
	}
	return true;
}

int pc_dpi_create(struct pc_dpi **out, uint32_t max_flows)
{
	struct pc_dpi *d;

	if (!max_flows)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->max = max_flows;
	d->fsz = (ndpi_detection_get_sizeof_ndpi_flow_struct() + 63) & ~(size_t)63;
	d->map_len = d->fsz * max_flows;
	d->flows = mmap(NULL, d->map_len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (d->flows == MAP_FAILED)
		goto err_map;
	d->stack = malloc(sizeof(*d->stack) * max_flows);
	d->scratch = calloc(1, d->fsz);
	if (!d->stack || !d->scratch)
		goto err_stack;
	*out = d;
	return 0;

err_stack:
	free(d->stack);
	free(d->scratch);
	munmap(d->flows, d->map_len);
err_map:
	free(d);
	return -ENOMEM;
}

void pc_dpi_destroy(struct pc_dpi *d)
{
	uint32_t i;

	if (!d)
		return;
	/* states still held (flows cleared without a record) may own nDPI memory;
	 * freeing a zeroed or already freed state is harmless */
	for (i = 1; i <= d->used; i++)
		ndpi_free_flow_data(flow_at(d, i));
	if (d->mod)
		ndpi_exit_detection_module(d->mod);
	munmap(d->flows, d->map_len);
	free(d->stack);
	free(d->scratch);
	free(d);
}

uint32_t pc_dpi_flow_get(struct pc_dpi *d)
{
	uint32_t h;

	if (!mod_ready(d))
		return 0;
	if (d->nfree)
		h = d->stack[--d->nfree];
	else if (d->used < d->max)
		h = ++d->used;
	else
		return 0;
	memset(flow_at(d, h), 0, d->fsz);
	return h;
}

void pc_dpi_flow_put(struct pc_dpi *d, uint32_t h)
{
	struct ndpi_flow_struct *f = flow_at(d, h);

	ndpi_free_flow_data(f);
	/* ndpi_free_flow_data leaves freed pointers behind: zero them so that
	 * pc_dpi_destroy's sweep does not free them twice */
	memset(f, 0, d->fsz);
	d->stack[d->nfree++] = h;
}

static void result(struct pc_dpi *d, struct ndpi_flow_struct *f, ndpi_protocol p,
		   struct pc_dpi_result *out)
{
	memset(out, 0, sizeof(*out));
	out->app_id = p.app_protocol;
	out->master_id = p.master_protocol;
	out->confidence = f->confidence <= NDPI_CONFIDENCE_DPI ? (uint8_t)f->confidence : 0;
	out->category_id = (uint8_t)p.category;
	(void)d; /* the names: pc_dpi_names(), when a record needs them */
}

void pc_dpi_names(const struct pc_dpi *d, struct pc_dpi_result *res)
{
	ndpi_protocol p = NDPI_PROTOCOL_NULL;

	p.app_protocol = res->app_id;
	p.master_protocol = res->master_id;
	p.category = (ndpi_protocol_category_t)res->category_id;
	ndpi_protocol2name(d->mod, p, res->app, sizeof(res->app));
	snprintf(res->category, sizeof(res->category), "%s",
		 ndpi_category_get_name(d->mod, p.category));
}

bool pc_dpi_guess(struct pc_dpi *d, const struct pc_dpi_tuple *t, struct pc_dpi_result *out)
{
	struct ndpi_flow_struct *f = d->scratch;
	uint8_t user = 0, guessed = 0;
	ndpi_protocol p;

	if (!mod_ready(d))
		return false;
	/* the state nDPI's first packet of the flow leaves (ndpi_do_guess: a
	 * guess from the ports, then from the source, else the destination
	 * address); packets without payload add nothing to it */
	memset(f, 0, d->fsz);
	f->l4_proto = t->proto;
	f->is_ipv6 = !t->v4;
	f->saddr = t->saddr;
	f->daddr = t->daddr;
	f->sport = htons(t->sport);
	f->dport = htons(t->dport);
	f->guessed_protocol_id =
		ndpi_guess_protocol_id(d->mod, f, t->proto, t->sport, t->dport, &user);
	if (t->v4) {
		struct in_addr a = { .s_addr = t->saddr };

		f->guessed_host_protocol_id = ndpi_network_ptree_match(d->mod, &a);
		if (!f->guessed_host_protocol_id) {
			a.s_addr = t->daddr;
			f->guessed_host_protocol_id = ndpi_network_ptree_match(d->mod, &a);
		}
	}
	p = ndpi_detection_giveup(d->mod, f, 1, &guessed);
	result(d, f, p, out);
	ndpi_free_flow_data(f);
	return true;
}

int pc_dpi_packet(struct pc_dpi *d, uint32_t h, const uint8_t *l3, unsigned len, uint64_t ts_ms,
		  bool named, struct pc_dpi_result *out)
{
	struct ndpi_flow_struct *f = flow_at(d, h);
	ndpi_protocol p;

	if (len > 0xffff)
		len = 0xffff;
	p = ndpi_detection_process_packet(d->mod, f, l3, (unsigned short)len, ts_ms);
	if (p.app_protocol == NDPI_PROTOCOL_UNKNOWN && p.master_protocol == NDPI_PROTOCOL_UNKNOWN)
		return 0;
	if (!named && ndpi_extra_dissection_possible(d->mod, f))
		return 0;
	result(d, f, p, out);
	return 1;
}

void pc_dpi_giveup(struct pc_dpi *d, uint32_t h, const struct pc_dpi_tuple *t,
		   struct pc_dpi_result *out)
{
	struct ndpi_flow_struct *f = flow_at(d, h);
	uint8_t guessed = 0;
	ndpi_protocol p;

	if (!f->init_finished && t->proto && pc_dpi_guess(d, t, out))
		return;
	p = ndpi_detection_giveup(d->mod, f, 1, &guessed);
	result(d, f, p, out);
}

bool pc_dpi_version(char *buf, size_t len)
{
	if (buf && len)
		snprintf(buf, len, "ndpi %s", NDPI_GIT_RELEASE);
	return true;
}

#else /* !HAVE_NDPI */

struct pc_dpi;

int pc_dpi_create(struct pc_dpi **out, uint32_t max_flows)
{
	(void)max_flows;
	*out = NULL;
	return -ENOTSUP;
}

void pc_dpi_destroy(struct pc_dpi *d)
{
	(void)d;
}

uint32_t pc_dpi_flow_get(struct pc_dpi *d)
{
	(void)d;
	return 0;
}

void pc_dpi_flow_put(struct pc_dpi *d, uint32_t h)
{
	(void)d;
	(void)h;
}

int pc_dpi_packet(struct pc_dpi *d, uint32_t h, const uint8_t *l3, unsigned len, uint64_t ts_ms,
		  bool named, struct pc_dpi_result *out)
{
	(void)named;
	(void)d;
	(void)h;
	(void)l3;
	(void)len;
	(void)ts_ms;
	(void)out;
	return 1;
}

void pc_dpi_giveup(struct pc_dpi *d, uint32_t h, const struct pc_dpi_tuple *t,
		   struct pc_dpi_result *out)
{
	(void)d;
	(void)h;
	(void)t;
	memset(out, 0, sizeof(*out));
}

bool pc_dpi_guess(struct pc_dpi *d, const struct pc_dpi_tuple *t, struct pc_dpi_result *out)
{
	(void)d;
	(void)t;
	memset(out, 0, sizeof(*out));
	return false;
}

void pc_dpi_names(const struct pc_dpi *d, struct pc_dpi_result *res)
{
	(void)d;
	res->app[0] = res->category[0] = 0;
}

bool pc_dpi_version(char *buf, size_t len)
{
	if (buf && len)
		buf[0] = 0;
	return false;
}

#endif

CAPTURE_API bool capture_dpi_available(char *buf, size_t len)
{
	return pc_dpi_version(buf, len);
}
