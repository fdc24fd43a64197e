/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the packet writer: pcap and pcapng framing, rotation by size,
 * by packet time and both, max_files, snaplen, file names, encrypted output
 * byte-identical to plain output once decrypted, queue-full accounting, and
 * every file read back by our parser, `tcpdump -r` and `tshark -r`.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/compiler.h"
#include "store/sink.h"
#include "util/clock.h"

#include "check.h"

#define T0 1700000000ull /* 2023-11-14T22:13:20Z */
#define NS 1000000000ull
#define MAXPKT 2000
#define MAXFILES 64

static char top[256];

/* ---------------------------------------------------------------- packets */

struct tpkt {
	uint8_t data[1600];
	uint32_t len;
	uint64_t ts;
};

static struct tpkt pkts[MAXPKT];

/* Ethernet / IPv4 / UDP 198.18.0.1:1024+i%100 -> 198.19.0.1:53, @len bytes,
 * payload starting with the packet number. */
static void make_pkt(struct tpkt *p, uint32_t i, uint32_t len, uint64_t ts)
{
	uint8_t *d = p->data;
	uint32_t ipl = len - 14, sport = 1024 + i % 100;

	memset(d, 0, sizeof(p->data));
	memcpy(d, "\x02\x01\x00\x00\x00\x01\x02\x00\x00\x00\x00\x01\x08\x00", 14);
	d[14] = 0x45;
	d[16] = (uint8_t)(ipl >> 8);
	d[17] = (uint8_t)ipl;
	d[22] = 64;
	d[23] = 17;
	memcpy(d + 26, "\xc6\x12\x00\x01\xc6\x13\x00\x01", 8);
	d[34] = (uint8_t)(sport >> 8);
	d[35] = (uint8_t)sport;
	d[37] = 53;
	d[38] = (uint8_t)((ipl - 20) >> 8);
	d[39] = (uint8_t)(ipl - 20);
	d[42] = (uint8_t)(i >> 8);
	d[43] = (uint8_t)i;
	for (uint32_t j = 44; j < len; j++)
		d[j] = (uint8_t)(i + j);
	p->len = len;
	p->ts = ts;
}

static void view(struct pc_pkt *v, const struct tpkt *p)
{
	v->data = p->data;
	v->caplen = p->len;
	v->wirelen = p->len;
	v->ts_ns = p->ts;
	v->linktype = PC_DLT_EN10MB;
	v->ifindex = 0;
}

/* ------------------------------------------------------------ file helpers */

static void subdir(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", top, name);
}

struct listing {
	char names[MAXFILES][256];
	int n;
};

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void list_dir(const char *d, struct listing *l)
{
	struct dirent *de;
	DIR *dd = opendir(d);

	l->n = 0;
	while (dd && (de = readdir(dd))) {
		if (de->d_name[0] == '.')
			continue;
		if (l->n < MAXFILES)
			snprintf(l->names[l->n++], sizeof(l->names[0]), "%s", de->d_name);
	}
	if (dd)
		closedir(dd);
	qsort(l->names, (size_t)l->n, sizeof(l->names[0]), cmp_name);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	FILE *f = fopen(path, "rb");

	*len = 0;
	if (!f)
		return NULL;
	fstat(fileno(f), &st);
	buf = malloc((size_t)st.st_size + 1);
	*len = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	return buf;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

struct rec {
	uint64_t ts;
	uint32_t caplen, wirelen, iface;
	const uint8_t *data;
};

/*
 * Parse a whole pcap (ns) or pcapng file into @r (up to @max). Returns the
 * number of packets, or -1 if the file is malformed in any way.
 */
static int parse(const uint8_t *f, size_t len, struct rec *r, int max, uint32_t *snaplen,
		 uint32_t *linktype, int *nifs)
{
	size_t off;
	int n = 0;

	if (len >= 24 && rd32(f) == 0xa1b23c4d) {
		*snaplen = rd32(f + 16);
		*linktype = rd32(f + 20);
		*nifs = 1;
		for (off = 24; off < len; n++) {
			if (off + 16 > len || n >= max)
				return -1;
			r[n].ts = rd32(f + off) * NS + rd32(f + off + 4);
			r[n].caplen = rd32(f + off + 8);
			r[n].wirelen = rd32(f + off + 12);
			r[n].iface = 0;
			r[n].data = f + off + 16;
			if (rd32(f + off + 4) >= NS || off + 16 + r[n].caplen > len)
				return -1;
			off += 16 + r[n].caplen;
		}
		return n;
	}
	if (len < 12 || rd32(f) != 0x0A0D0D0A || rd32(f + 8) != 0x1A2B3C4D)
		return -1;
	*nifs = 0;
	for (off = 0; off < len;) {
		uint32_t type, blen;

		if (off + 12 > len)
			return -1;
		type = rd32(f + off);
		blen = rd32(f + off + 4);
		if (blen < 12 || blen % 4 || off + blen > len || rd32(f + off + blen - 4) != blen)
			return -1;
		if (type == 1) {
			if (*nifs == 0) {
				*linktype = rd32(f + off + 8) & 0xffff;
				*snaplen = rd32(f + off + 12);
			}
			/* if_tsresol = 9 must be there */
			if (blen != 32 || rd32(f + off + 16) != (9 | 1u << 16) || f[off + 20] != 9)
				return -1;
			(*nifs)++;
		} else if (type == 6) {
			if (n >= max)
				return -1;
			r[n].iface = rd32(f + off + 8);
			r[n].ts = (uint64_t)rd32(f + off + 12) << 32 | rd32(f + off + 16);
			r[n].caplen = rd32(f + off + 20);
			r[n].wirelen = rd32(f + off + 24);
			r[n].data = f + off + 28;
			if (32 + ((r[n].caplen + 3) & ~3u) != blen || (int)r[n].iface >= *nifs)
				return -1;
			n++;
		} else if (type != 0x0A0D0D0A) {
			return -1;
		}
		off += blen;
	}
	return n;
}

/* Packets in @path as counted by an external reader; -1 if it failed. */
static int tool_count(bool tshark, const char *path)
{
	char cmd[1024], line[4096];
	FILE *p;
	int n = 0, st;

	if (tshark)
		snprintf(cmd, sizeof(cmd),
			 "tshark -n -r '%s' -T fields -e frame.number 2>/dev/null", path);
	else
		snprintf(cmd, sizeof(cmd), "tcpdump -nn -r '%s' 2>/dev/null", path);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p))
		n++;
	st = pclose(p);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? n : -1;
}

#define TCPDUMP false
#define TSHARK true

static bool have_tools;
static const char *enc_key; /* check_files decrypts *.enc with it */

/* Check every file in @d against the expected per-file packet counts and the
 * packets pkts[first ...] in order; snaplen @snap (0: whole). */
static void check_files(const char *d, const char *ext, const int *counts, int nfiles, int first,
			uint32_t snap, uint64_t limit, bool tools)
{
	static struct rec r[MAXPKT];
	struct listing l;
	char path[600];
	int i, j, n, k = first, nifs;
	uint32_t sl, lt;

	list_dir(d, &l);
	CHECK_EQ(l.n, nfiles);
	for (i = 0; i < l.n && i < nfiles; i++) {
		size_t len;
		uint8_t *f;

		CHECK(strstr(l.names[i], ext) &&
		      strcmp(l.names[i] + strlen(l.names[i]) - strlen(ext), ext) == 0);
		snprintf(path, sizeof(path), "%s/%s", d, l.names[i]);
		if (enc_key && strstr(l.names[i], ".enc")) {
			char dec[400], err[512];

			snprintf(dec, sizeof(dec), "%s/check.pcap", top);
			CHECK_EQ(capture_decrypt_file(enc_key, path, dec, err, sizeof(err)), 0);
			snprintf(path, sizeof(path), "%s", dec);
		}
		f = slurp(path, &len);
		n = parse(f, len, r, MAXPKT, &sl, &lt, &nifs);
		CHECK_EQ(n, counts[i]);
		CHECK_EQ(sl, snap ? snap : 262144);
		CHECK_EQ(lt, 1);
		if (limit && counts[i] > 1)
			CHECK(len <= limit);
		for (j = 0; j < n; j++, k++) {
			uint32_t want = snap ? PC_MIN(snap, pkts[k].len) : pkts[k].len;

			if (r[j].ts != pkts[k].ts || r[j].caplen != want ||
			    r[j].wirelen != pkts[k].len || memcmp(r[j].data, pkts[k].data, want)) {
				fprintf(stderr, "%s: packet %d differs from input %d\n", path, j,
					k);
				failures++;
				break;
			}
		}
		if (tools && have_tools) {
			CHECK_EQ(tool_count(TCPDUMP, path), counts[i]);
			CHECK_EQ(tool_count(TSHARK, path), counts[i]);
		}
		free(f);
	}
}

static struct pc_writer *mk(const char *d, uint8_t format, uint64_t rot_bytes, uint32_t rot_s,
			    uint32_t max_files, uint32_t snaplen, const struct pc_crypt_key *key)
{
	struct pc_writer_params p = {
		.dir = d,
		.format = format,
		.rotate_bytes = rot_bytes,
		.rotate_seconds = rot_s,
		.max_files = max_files,
		.snaplen = snaplen,
		.queue_packets = 4096,
		.workers = 1,
		.linktype = PC_DLT_EN10MB,
		.key = key,
	};
	struct pc_writer *w = NULL;
	char err[512] = "";

	if (pc_writer_create(&w, &p, err, sizeof(err)) < 0) {
		fprintf(stderr, "pc_writer_create %s: %s\n", d, err);
		exit(1);
	}
	return w;
}

/* Submit pkts[first, first + n) on worker 0 without losing any (a full queue
 * is waited out, as for an offline input). */
static void feed(struct pc_writer *w, int first, int n)
{
	struct pc_pkt v;

	for (int i = first; i < first + n; i++) {
		view(&v, &pkts[i]);
		CHECK(pc_writer_submit_wait(w, 0, &v));
	}
}

static void uniform(int n, uint32_t len, uint64_t step)
{
	for (int i = 0; i < n; i++)
		make_pkt(&pkts[i], (uint32_t)i, len, T0 * NS + (uint64_t)i * step);
}

static void test_rotate_size(void)
{
	const int counts[] = { 86, 86, 28 }; /* (10000 - 24) / (16 + 100) = 86 */
	const int kept[] = { 86, 28 };
	struct pc_writer_stats st;
	struct pc_writer *w;
	struct listing l;
	char d[300];

	uniform(200, 100, NS / 100);
	subdir(d, sizeof(d), "size");
	w = mk(d, CAPTURE_PCAP_FORMAT_PCAP, 10000, 0, 0, 0, NULL);
	feed(w, 0, 200);
	pc_writer_destroy(w);
	check_files(d, ".pcap", counts, 3, 0, 0, 10000, true);
	list_dir(d, &l);
	CHECK(strcmp(l.names[0], "jcap-000001-20231114T221320Z.pcap") == 0);
	CHECK(strcmp(l.names[1], "jcap-000002-20231114T221320Z.pcap") == 0);
	CHECK(strcmp(l.names[2], "jcap-000003-20231114T221321Z.pcap") == 0);

	/* max_files keeps the newest */
	subdir(d, sizeof(d), "maxfiles");
	w = mk(d, CAPTURE_PCAP_FORMAT_PCAP, 10000, 0, 2, 0, NULL);
	feed(w, 0, 200);
	/* wait for the writer before reading counters (destroy frees them) */
	for (int i = 0; i < 5000; i++) {
		pc_writer_get_stats(w, &st);
		if (st.packets == 200)
			break;
		usleep(1000);
	}
	CHECK_EQ(st.packets, 200);
	CHECK_EQ(st.files, 3);
	CHECK_EQ(st.errors, 0);
	pc_writer_destroy(w);
	check_files(d, ".pcap", kept, 2, 86, 0, 10000, false);
	list_dir(d, &l);
	CHECK(strncmp(l.names[0], "jcap-000002-", 12) == 0);
	CHECK(strncmp(l.names[1], "jcap-000003-", 12) == 0);

	/* a restart continues the sequence and counts old files against max_files */
	w = mk(d, CAPTURE_PCAP_FORMAT_PCAP, 10000, 0, 3, 0, NULL);
	feed(w, 0, 200);
	pc_writer_destroy(w);
	list_dir(d, &l);
	CHECK_EQ(l.n, 3);
	CHECK(strncmp(l.names[0], "jcap-000004-", 12) == 0);
	CHECK(strncmp(l.names[2], "jcap-000006-", 12) == 0);

	/* a packet bigger than the limit gets a file of its own */
	make_pkt(&pkts[0], 0, 60, T0 * NS);
	make_pkt(&pkts[1], 1, 1500, T0 * NS + 1);
	make_pkt(&pkts[2], 2, 60, T0 * NS + 2);
	subdir(d, sizeof(d), "big");
	w = mk(d, CAPTURE_PCAP_FORMAT_PCAP, 1000, 0, 0, 0, NULL);
	feed(w, 0, 3);
	pc_writer_destroy(w);
	{
		const int c[] = { 1, 1, 1 };

		check_files(d, ".pcap", c, 3, 0, 0, 1000, false);
	}
}

static void test_rotate_time(void)
{
	const int counts[] = { 10, 10, 10, 5 };
	const int both[] = { 6, 6, 3, 3, 2 };
	struct listing l;
	struct pc_writer *w;
	char d[300];
	int i;

	uniform(35, 80, NS); /* one packet a second */
	subdir(d, sizeof(d), "time");
	w = mk(d, CAPTURE_PCAP_FORMAT_PCAP, 0, 10, 0, 0, NULL);
	feed(w, 0, 35);
	pc_writer_destroy(w);
	check_files(d, ".pcap", counts, 4, 0, 0, 0, false);
	list_dir(d, &l);
	CHECK(strcmp(l.names[0], "jcap-000001-20231114T221320Z.pcap") == 0);
	CHECK(strcmp(l.names[1], "jcap-000002-20231114T221330Z.pcap") == 0);
	CHECK(strcmp(l.names[2], "jcap-000003-20231114T221340Z.pcap") == 0);
	CHECK(strcmp(l.names[3], "jcap-000004-20231114T221350Z.pcap") == 0);

	/* size (6 packets of 80 bytes) and time (5 s) together: ten packets
	 * 0.1 s apart, then ten 2 s apart */
	for (i = 0; i < 20; i++)
		make_pkt(&pkts[i], (uint32_t)i, 80,
			 T0 * NS + (i < 10 ? (uint64_t)i * NS / 10
					   : 9 * NS / 10 + (uint64_t)(i - 9) * 2 * NS));
	subdir(d, sizeof(d), "both");
	w = mk(d, CAPTURE_PCAP_FORMAT_PCAP, 24 + 6 * 96, 5, 0, 0, NULL);
	feed(w, 0, 20);
	pc_writer_destroy(w);
	check_files(d, ".pcap", both, 5, 0, 0, 24 + 6 * 96, false);
}

static void test_pcapng_snaplen(void)
{
	const int counts[] = { 75, 75, 50 }; /* (10000 - 72) / (32 + 100) = 75 */
	const int snapped[] = { 200 };
	static struct rec r[8];
	uint32_t sl, lt;
	struct pc_pkt v;
	struct listing l;
	struct pc_writer *w;
	char d[300], path[600];
	uint8_t *f;
	size_t len;
	int nifs, i;

	uniform(200, 100, NS / 100);
	subdir(d, sizeof(d), "ng");
	w = mk(d, CAPTURE_PCAP_FORMAT_PCAPNG, 10000, 0, 0, 0, NULL);
	feed(w, 0, 200);
	pc_writer_destroy(w);
	check_files(d, ".pcapng", counts, 3, 0, 0, 10000, true);

	/* snaplen cuts caplen, keeps the wire length */
	for (i = 0; i < 200; i++)
		make_pkt(&pkts[i], (uint32_t)i, 60 + (uint32_t)(i * 37) % 1400, T0 * NS + i);
	subdir(d, sizeof(d), "snap");
	w = mk(d, CAPTURE_PCAP_FORMAT_PCAP, 0, 0, 0, 64, NULL);
	feed(w, 0, 200);
	pc_writer_destroy(w);
	check_files(d, ".pcap", snapped, 1, 0, 64, 0, true);
	subdir(d, sizeof(d), "snapng");
	w = mk(d, CAPTURE_PCAP_FORMAT_PCAPNG, 0, 0, 0, 64, NULL);
	feed(w, 0, 200);
	pc_writer_destroy(w);
	check_files(d, ".pcapng", snapped, 1, 0, 64, 0, false);

	/* pcapng: packets of other link types / interfaces get their own IDBs;
	 * pcap files carry LINKTYPE_RAW (101) for DLT_RAW (12) */
	subdir(d, sizeof(d), "ifs");
	w = mk(d, CAPTURE_PCAP_FORMAT_PCAPNG, 0, 0, 0, 0, NULL);
	for (i = 0; i < 4; i++) {
		make_pkt(&pkts[i], (uint32_t)i, 60, T0 * NS + i);
		view(&v, &pkts[i]);
		if (i == 1) {
			v.linktype = PC_DLT_RAW; /* raw IPv4 */
			v.data += 14;
			v.caplen = v.wirelen = 46;
		}
		if (i == 2)
			v.ifindex = 3;
		CHECK(pc_writer_submit(w, 0, &v));
	}
	pc_writer_destroy(w);
	list_dir(d, &l);
	CHECK_EQ(l.n, 1);
	snprintf(path, sizeof(path), "%s/%s", d, l.names[0]);
	f = slurp(path, &len);
	CHECK_EQ(parse(f, len, r, 8, &sl, &lt, &nifs), 4);
	CHECK_EQ(nifs, 3);
	CHECK(r[0].iface == 0 && r[1].iface == 1 && r[2].iface == 2 && r[3].iface == 0);
	/* SHB 40, IDB 32, EPB 92, then the second IDB: LINKTYPE_RAW */
	CHECK(len > 200 && rd32(f + 164) == 1 && (rd32(f + 164 + 8) & 0xffff) == 101);
	free(f);
	if (have_tools)
		CHECK_EQ(tool_count(TSHARK, path), 4);
}

static void test_encrypted(void)
{
	const int counts[] = { 86, 86, 28 };
	struct listing lp, le;
	struct pc_crypt_key key;
	struct pc_writer *w;
	char dp[300], de[300], kp[300], in[700], out[700], err[512], plain[700];
	uint8_t raw[32];
	int i, c;
	FILE *f;

	for (i = 0; i < 32; i++)
		raw[i] = (uint8_t)(0xa0 + i);
	subdir(kp, sizeof(kp), "k.key");
	f = fopen(kp, "wb");
	fwrite(raw, 1, 32, f);
	fclose(f);
	uniform(200, 100, NS / 100);
	subdir(dp, sizeof(dp), "plain");
	w = mk(dp, CAPTURE_PCAP_FORMAT_PCAP, 10000, 0, 0, 0, NULL);
	feed(w, 0, 200);
	pc_writer_destroy(w);
	list_dir(dp, &lp);
	for (c = 0; c < 3; c++) {
		char name[32];

		snprintf(name, sizeof(name), "enc%d", c);
		subdir(de, sizeof(de), name);
		CHECK_EQ(pc_crypt_key_load(&key, kp, (uint8_t)c, err, sizeof(err)), 0);
		w = mk(de, CAPTURE_PCAP_FORMAT_PCAP, 10000, 0, 0, 0, &key);
		pc_crypt_key_wipe(&key); /* the writer keeps its own copy */
		feed(w, 0, 200);
		pc_writer_destroy(w);
		list_dir(de, &le);
		CHECK_EQ(le.n, 3);
		for (i = 0; i < le.n && i < lp.n; i++) {
			size_t a, b;
			uint8_t *x, *y;

			/* same name as the plain run plus ".enc" */
			snprintf(plain, sizeof(plain), "%s.enc", lp.names[i]);
			CHECK(strcmp(le.names[i], plain) == 0);
			snprintf(in, sizeof(in), "%s/%s", de, le.names[i]);
			snprintf(out, sizeof(out), "%s/dec-%d-%d.pcap", top, c, i);
			CHECK_EQ(capture_decrypt_file(kp, in, out, err, sizeof(err)), 0);
			x = slurp(out, &a);
			snprintf(plain, sizeof(plain), "%s/%s", dp, lp.names[i]);
			y = slurp(plain, &b);
			CHECK(x && y && a == b && memcmp(x, y, a) == 0);
			free(x);
			free(y);
			if (i < 3 && have_tools && c == 0)
				CHECK_EQ(tool_count(TCPDUMP, out), counts[i]);
			unlink(out);
		}
	}
}

struct prod {
	struct pc_writer *w;
	unsigned worker;
	int first, n;
	int accepted, rejected;
};

static void *producer(void *arg)
{
	struct prod *p = arg;
	struct pc_pkt v;

	for (int i = p->first; i < p->first + p->n; i++) {
		view(&v, &pkts[i]);
		if (pc_writer_submit(p->w, p->worker, &v))
			p->accepted++;
		else
			p->rejected++;
	}
	return NULL;
}

static void test_queues(void)
{
	struct pc_writer_params p = {
		.format = CAPTURE_PCAP_FORMAT_PCAP,
		.queue_packets = 16,
		.workers = 1,
		.linktype = PC_DLT_EN10MB,
	};
	static struct rec r[MAXPKT];
	struct pc_writer_stats st;
	struct prod pr[2];
	pthread_t th[2];
	struct pc_writer *w;
	struct listing l;
	char d[300], path[700], err[512];
	bool seen[MAXPKT] = { false };
	uint32_t sl, lt;
	uint8_t *f;
	size_t len;
	int i, n, nifs, round;

	/* a full queue is counted, never waited on: accepted + rejected adds up */
	for (i = 0; i < MAXPKT; i++)
		make_pkt(&pkts[i], (uint32_t)i, 1500, T0 * NS + (uint64_t)i * 1000);
	subdir(d, sizeof(d), "full");
	p.dir = d;
	CHECK_EQ(pc_writer_create(&w, &p, err, sizeof(err)), 0);
	memset(pr, 0, sizeof(pr));
	for (round = 0; round < 20 && pr[0].rejected == 0; round++) {
		pr[0].w = w;
		pr[0].first = 0;
		pr[0].n = MAXPKT;
		producer(&pr[0]);
	}
	CHECK(pr[0].rejected > 0);
	for (i = 0; i < 5000; i++) {
		pc_writer_get_stats(w, &st);
		if (st.packets + st.queue_drops == (uint64_t)(pr[0].accepted + pr[0].rejected))
			break;
		usleep(1000);
	}
	CHECK_EQ(st.packets, pr[0].accepted);
	CHECK_EQ(st.queue_drops, pr[0].rejected);
	CHECK_EQ(st.errors, 0);
	CHECK_EQ(st.files, 1);
	pc_writer_destroy(w);
	list_dir(d, &l);
	CHECK_EQ(l.n, 1);
	snprintf(path, sizeof(path), "%s/%s", d, l.names[0]);
	f = slurp(path, &len);
	{
		static struct rec big[MAXPKT * 20];

		CHECK_EQ(parse(f, len, big, MAXPKT * 20, &sl, &lt, &nifs), pr[0].accepted);
		CHECK_EQ(len, 24 + (size_t)pr[0].accepted * (16 + 1500));
	}
	free(f);

	/* the waiting variant loses nothing through the same small queue */
	subdir(d, sizeof(d), "wait");
	p.dir = d;
	CHECK_EQ(pc_writer_create(&w, &p, err, sizeof(err)), 0);
	for (i = 0; i < MAXPKT; i++) {
		struct pc_pkt v;

		view(&v, &pkts[i]);
		CHECK(pc_writer_submit_wait(w, 0, &v));
	}
	pc_writer_stop(w);
	pc_writer_get_stats(w, &st);
	CHECK_EQ(st.packets, MAXPKT);
	CHECK_EQ(st.queue_drops, 0);
	CHECK_EQ(st.bytes, 24 + MAXPKT * (16 + 1500));
	pc_writer_destroy(w);
	{
		const int c[] = { MAXPKT };

		check_files(d, ".pcap", c, 1, 0, 0, 0, false);
	}

	/* two producers, one queue each: every packet lands once */
	for (i = 0; i < 1000; i++)
		make_pkt(&pkts[i], (uint32_t)i, 60 + (uint32_t)i % 700, T0 * NS + (uint64_t)i);
	subdir(d, sizeof(d), "two");
	p.dir = d;
	p.workers = 2;
	p.queue_packets = 1024;
	CHECK_EQ(pc_writer_create(&w, &p, err, sizeof(err)), 0);
	memset(pr, 0, sizeof(pr));
	for (i = 0; i < 2; i++) {
		pr[i].w = w;
		pr[i].worker = (unsigned)i;
		pr[i].first = i * 500;
		pr[i].n = 500;
		pthread_create(&th[i], NULL, producer, &pr[i]);
	}
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	CHECK_EQ(pr[0].accepted + pr[1].accepted, 1000);
	{
		struct pc_pkt v;

		view(&v, &pkts[0]);
		CHECK(!pc_writer_submit(w, 2, &v)); /* no such worker */
	}
	pc_writer_destroy(w);
	list_dir(d, &l);
	snprintf(path, sizeof(path), "%s/%s", d, l.names[0]);
	f = slurp(path, &len);
	n = parse(f, len, r, MAXPKT, &sl, &lt, &nifs);
	CHECK_EQ(n, 1000);
	for (i = 0; i < n; i++) {
		uint32_t k = (uint32_t)(r[i].data[42] << 8 | r[i].data[43]);

		if (k < 1000 && !seen[k] && r[i].caplen == pkts[k].len &&
		    memcmp(r[i].data, pkts[k].data, pkts[k].len) == 0)
			seen[k] = true;
	}
	for (i = 0, n = 0; i < 1000; i++)
		n += seen[i];
	CHECK_EQ(n, 1000);
	free(f);
}

static void test_errors(void)
{
	struct pc_writer_params p = { .workers = 1, .linktype = 1 };
	struct pc_writer *w = NULL;
	char d[300], err[512];
	FILE *f;

	subdir(d, sizeof(d), "afile");
	f = fopen(d, "w");
	fclose(f);
	p.dir = d;
	CHECK_EQ(pc_writer_create(&w, &p, err, sizeof(err)), -ENOTDIR);
	CHECK(strstr(err, d) && strstr(err, "not a directory"));
	subdir(d, sizeof(d), "no/such/dir");
	p.dir = d;
	CHECK_EQ(pc_writer_create(&w, &p, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, d) && strstr(err, "cannot create directory"));
	p.dir = NULL;
	CHECK_EQ(pc_writer_create(&w, &p, err, sizeof(err)), -CAPTURE_E_CONFIG);
	CHECK(w == NULL);
	pc_writer_destroy(NULL);
}

/* A live link gone quiet: after rotate_seconds without packets the file is
 * closed (an encrypted one becomes readable) while the writer keeps running. */
static void test_idle_close(void)
{
	const int counts[] = { 3, 2 };
	struct pc_crypt_key key;
	struct pc_writer *w;
	struct listing l;
	char d[300], kp[300], in[700], out[700], err[512];
	uint8_t raw[32] = { 1, 2, 3 };
	FILE *f;

	subdir(kp, sizeof(kp), "idle.key");
	f = fopen(kp, "wb");
	fwrite(raw, 1, 32, f);
	fclose(f);
	CHECK_EQ(pc_crypt_key_load(&key, kp, CAPTURE_CIPHER_AES_256_GCM, err, sizeof(err)), 0);
	uniform(5, 200, NS / 10);
	subdir(d, sizeof(d), "idle");
	{
		/* the writer's quiet time starts no earlier than t0: the file
		 * must not become complete (decryptable) before t0 + 1 s, and
		 * must within 30 s; checked every 10 ms */
		uint64_t t0 = pc_mono_ns(), dt = 0;
		int rc = -1;

		w = mk(d, CAPTURE_PCAP_FORMAT_PCAP, 0, 1, 0, 0, &key);
		feed(w, 0, 3);
		snprintf(out, sizeof(out), "%s/idle-dec.pcap", top);
		while (rc != 0 && dt < 30000000000ull) {
			list_dir(d, &l);
			if (l.n == 1) {
				snprintf(in, sizeof(in), "%s/%s", d, l.names[0]);
				rc = capture_decrypt_file(kp, in, out, err, sizeof(err));
			}
			dt = pc_mono_ns() - t0;
			if (rc != 0)
				pc_sleep_us(10000);
		}
		CHECK_EQ(rc, 0);
		CHECK(dt >= 1000000000ull); /* closed after a second of quiet, not sooner */
		list_dir(d, &l);
		CHECK_EQ(l.n, 1);
	}
	feed(w, 3, 2); /* packet time 0.3 s later, but the first file is closed */
	pc_writer_destroy(w);
	enc_key = kp;
	check_files(d, ".pcap.enc", counts, 2, 0, 0, 0, false);
	enc_key = NULL;
	unlink(out);
	pc_crypt_key_wipe(&key);
}

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char logbuf[8192];

static void log_cb(void *ctx, int level, const char *msg)
{
	size_t n;

	pthread_mutex_lock(&log_mu);
	n = strlen(logbuf);
	snprintf(logbuf + n, sizeof(logbuf) - n, "%d %s\n", level, msg);
	pthread_mutex_unlock(&log_mu);
}

/* A full disk (here: RLIMIT_FSIZE) is logged with the file name and counted;
 * the writer neither crashes nor hangs, and every packet is accounted for. */
static void test_write_errors(void)
{
	struct pc_writer_params p = {
		.format = CAPTURE_PCAP_FORMAT_PCAP,
		.queue_packets = 4096,
		.workers = 1,
		.linktype = PC_DLT_EN10MB,
		.log_fn = log_cb,
		.log_level = CAPTURE_LOG_DEBUG,
	};
	struct rlimit old, lim;
	struct pc_writer_stats st;
	struct pc_writer *w;
	char d[300], err[512];

	uniform(600, 1000, NS / 1000);
	subdir(d, sizeof(d), "full-disk");
	p.dir = d;
	CHECK_EQ(pc_writer_create(&w, &p, err, sizeof(err)), 0);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 30000;
	CHECK_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
	feed(w, 0, 600);
	pc_writer_stop(w);
	setrlimit(RLIMIT_FSIZE, &old);
	pc_writer_get_stats(w, &st);
	CHECK_EQ(st.packets + st.errors, 600);
	CHECK(st.errors > 0);
	CHECK_EQ(st.queue_drops, 0);
	pc_writer_destroy(w);
	pthread_mutex_lock(&log_mu);
	CHECK(strstr(logbuf, "0 packet writer: ") && strstr(logbuf, d) &&
	      strstr(logbuf, "/jcap-000001-20231114T221320Z.pcap: write failed: File too large"));
	pthread_mutex_unlock(&log_mu);
}

static void rm_rf(const char *path)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", path);
}

int main(void)
{
	snprintf(top, sizeof(top), "/tmp/test_writer.XXXXXX");
	if (!mkdtemp(top)) {
		perror("mkdtemp");
		return 1;
	}
	have_tools = system("command -v tcpdump >/dev/null && command -v tshark >/dev/null") == 0;
	if (!have_tools) {
		fprintf(stderr, "test_writer: tcpdump and tshark are required "
				"(scripts/install-deps.sh)\n");
		failures++;
	}
	test_rotate_size();
	test_rotate_time();
	test_pcapng_snaplen();
	test_encrypted();
	test_queues();
	test_errors();
	test_write_errors();
	test_idle_close();
	rm_rf(top);
	return check_finish("unit.writer");
}
