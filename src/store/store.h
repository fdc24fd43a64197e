/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet storage: a writer thread drains bounded per-worker queues into a
 * chain of sinks (pcap/pcapng framing -> optional AEAD encryption -> file),
 * rotating files by size and/or time. pc_writer_submit (live input) never
 * blocks: a full queue drops and counts; pc_writer_submit_wait (offline
 * input) blocks while the queue is full.
 */
#ifndef PC_STORE_H
#define PC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "packet_capture.h"
#include "capture/capture.h"

/* A loaded key; never logged, wiped on release. */
struct pc_crypt_key {
	uint8_t key[32];
	uint8_t cipher;	   /* enum capture_cipher */
	uint8_t key_id[8]; /* derived from the key: tells a wrong key apart */
};

/* Load 32 raw bytes or 64 hex digits (surrounding whitespace allowed). */
int pc_crypt_key_load(struct pc_crypt_key *k, const char *path, uint8_t cipher, char *err,
		      size_t errlen);
void pc_crypt_key_wipe(struct pc_crypt_key *k);

/* Does the buffer start with the encrypted container's magic? */
bool pc_crypt_is_encrypted(const uint8_t *head, size_t n);

/* Streaming decryption of a container read from @fd (not closed by us).
 * read returns bytes (0 at a verified end), or -CAPTURE_E_WRONG_KEY,
 * -CAPTURE_E_AUTH, -CAPTURE_E_TRUNCATED, -CAPTURE_E_FORMAT, -errno. Plaintext
 * is only returned after the chunk holding it has been authenticated. */
struct pc_crypt_reader;
int pc_crypt_reader_open(struct pc_crypt_reader **out, int fd, const struct pc_crypt_key *k,
			 char *err, size_t errlen);
ssize_t pc_crypt_reader_read(struct pc_crypt_reader *r, void *buf, size_t len);
const char *pc_crypt_reader_error(const struct pc_crypt_reader *r);
void pc_crypt_reader_close(struct pc_crypt_reader *r);

struct pc_writer_params {
	const char *dir;
	uint8_t format; /* enum capture_pcap_format */
	uint64_t rotate_bytes;
	uint32_t rotate_seconds;
	uint32_t max_files;
	uint32_t snaplen;		/* 0: whole packets */
	uint32_t queue_packets;		/* per worker, 0: 65536 */
	unsigned workers;		/* producers; submit's @worker < workers */
	int linktype;			/* DLT for the file headers */
	const struct pc_crypt_key *key; /* NULL: plain files */
	capture_log_fn log_fn;
	void *log_ctx;
	int log_level;
};

struct pc_writer_stats {
	uint64_t packets, bytes, queue_drops, files, errors;
};

struct pc_writer;
int pc_writer_create(struct pc_writer **out, const struct pc_writer_params *p, char *err,
		     size_t errlen);
/* Copy @p into worker @worker's queue. Never blocks: false when the queue is
 * full (counted in queue_drops). One producer thread per @worker. */
bool pc_writer_submit(struct pc_writer *w, unsigned worker, const struct pc_pkt *p);
/* Offline inputs (a file is stored whole): like submit, but while the queue is
 * full it waits (sleeping 50 us at a time) instead of dropping. False only for
 * a packet that cannot fit the queue at all or after stop (counted as drops). */
bool pc_writer_submit_wait(struct pc_writer *w, unsigned worker, const struct pc_pkt *p);
void pc_writer_get_stats(struct pc_writer *w, struct pc_writer_stats *st);
/* Drain every queue and close the current file valid; the stats stay
 * readable until destroy. Submitting after stop is not allowed. */
void pc_writer_stop(struct pc_writer *w);
/* Stop (if not yet), free. NULL is a no-op. */
void pc_writer_destroy(struct pc_writer *w);

#endif
