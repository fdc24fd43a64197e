/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What jcap tells a person on a terminal while and after it runs, on
 * stderr: the progress bar over a file (MiB, rate, ETA), the live status
 * line (packets, packets/s, active flows, drops) and tcpdump's summary
 * line at the end. None of it is printed when stderr is not a terminal.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "jcap.h"

/* Only inputs of a few MiB are worth a bar: smaller ones are read at once. */
#define PROGRESS_MIN_BYTES (4u << 20)
/* The live line is redrawn this often. */
#define STATUS_EVERY_NS 1000000000ull

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void jcap_status_init(struct jcap_status *s, bool progress, bool live_line)
{
	memset(s, 0, sizeof(*s));
	s->progress = progress;
	s->live_line = live_line;
	s->t0 = now_ns();
	s->last_t = s->t0;
}

/* "1:05" or "1:02:03" */
static void clock_text(uint64_t sec, char *buf, size_t len)
{
	if (sec >= 3600)
		snprintf(buf, len, "%" PRIu64 ":%02u:%02u", sec / 3600, (unsigned)(sec / 60 % 60),
			 (unsigned)(sec % 60));
	else
		snprintf(buf, len, "%u:%02u", (unsigned)(sec / 60), (unsigned)(sec % 60));
}

static void progress(struct capture *c, struct jcap_status *s)
{
	struct capture_status st = { .sz = sizeof(st) };
	double mib = 1024.0 * 1024.0, el, rate;
	uint64_t done;
	char bar[41], eta[24] = "0:00";
	int pct, i;

	if (capture_get_status(c, &st) || st.input_bytes < PROGRESS_MIN_BYTES)
		return;
	done = st.input_done < st.input_bytes ? st.input_done : st.input_bytes;
	pct = (int)(done * 100 / st.input_bytes);
	for (i = 0; i < 40; i++)
		bar[i] = i < pct * 40 / 100 ? '#' : '.';
	bar[40] = 0;
	el = (double)(now_ns() - s->t0) / 1e9;
	rate = el > 0 ? (double)done / el : 0;
	if (rate > 0)
		clock_text((uint64_t)((double)(st.input_bytes - done) / rate + 0.5), eta,
			   sizeof(eta));
	fprintf(stderr, "\r[%s] %3d%% %.1f/%.1f MiB %.1f MiB/s ETA %s", bar, pct,
		(double)done / mib, (double)st.input_bytes / mib, rate / mib, eta);
	s->shown = true;
}

static void live_line(struct capture *c, struct jcap_status *s, uint64_t t)
{
	struct capture_stats st = { .sz = sizeof(st) };
	double dt = (double)(t - s->last_t) / 1e9;

	if (capture_get_stats(c, &st))
		return;
	fprintf(stderr,
		"\r\033[K%" PRIu64 " packets, %.0f packets/s, %" PRIu64 " flows active, %" PRIu64
		" dropped",
		st.packets_read, dt > 0 ? (double)(st.packets_read - s->last_pkts) / dt : 0.0,
		st.flows_active, st.kernel_drops + st.kernel_ifdrops);
	s->last_pkts = st.packets_read;
	s->last_t = t;
	s->shown = true;
}

void jcap_status_tick(struct capture *c, struct jcap_status *s)
{
	uint64_t t;

	if (s->progress) {
		progress(c, s);
		return;
	}
	if (!s->live_line)
		return;
	t = now_ns();
	if (t - s->last_t >= STATUS_EVERY_NS)
		live_line(c, s, t);
}

void jcap_status_end(struct capture *c, struct jcap_status *s)
{
	if (s->progress) {
		/* the final state (100% on a file read to its end), also when the
		 * file was read before the first redraw */
		progress(c, s);
		if (s->shown)
			fputc('\n', stderr);
	} else if (s->shown) {
		fputs("\r\033[K", stderr); /* the summary line takes its place */
	}
	s->shown = false;
}

void jcap_summary(struct capture *c, bool live)
{
	struct capture_stats st = { .sz = sizeof(st) };
	uint64_t skipped = 0;
	char skip[48] = "";
	int i;

	if (capture_get_stats(c, &st))
		return;
	for (i = 0; i < CAPTURE_SKIP_MAX; i++)
		skipped += st.skipped[i];
	if (skipped)
		snprintf(skip, sizeof(skip), " (%" PRIu64 " in no flow)", skipped);
	if (live)
		fprintf(stderr,
			"%" PRIu64 " packets captured%s, %" PRIu64 " dropped by kernel, %" PRIu64
			" flows\n",
			st.packets_read, skip, st.kernel_drops, st.flows_exported);
	else
		fprintf(stderr, "%" PRIu64 " packets read%s, %" PRIu64 " flows\n", st.packets_read,
			skip, st.flows_exported);
}
