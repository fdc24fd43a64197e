/* SPDX-License-Identifier: BSD-3-Clause */
/* tcpdump-syntax filters compiled by libpcap, run in user space or handed to the kernel. */
#ifndef PC_BPF_H
#define PC_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"

struct pc_bpf;
struct sock_filter;
struct sock_fprog;

/* Compile @expr for @linktype/@snaplen. On failure -CAPTURE_E_FILTER and
 * libpcap's message in @err. */
int pc_bpf_create(struct pc_bpf **out, const char *expr, int linktype, uint32_t snaplen, char *err,
		  size_t errlen);
void pc_bpf_destroy(struct pc_bpf *f);
/* Does @p match? (pcap_offline_filter semantics) */
bool pc_bpf_match(const struct pc_bpf *f, const struct pc_pkt *p);
/* Classic BPF program for SO_ATTACH_FILTER; valid while @f lives. */
void pc_bpf_kernel_prog(const struct pc_bpf *f, struct sock_fprog *out);

/*
 * The program to attach for @f to a Linux packet socket (afpacket, and pcap
 * through libpcap) of link type @dlt. The kernel runs it on frames whose outer
 * VLAN tag has been moved to metadata, while user space sees the tag put back
 * (as in a file). So on Ethernet tagged frames pass the kernel whole
 * (@snaplen) and the caller runs @f on them in user space, on the frame as
 * delivered: "the same expression gives the same flows" on every backend.
 * Returns the instruction count with a calloc'd program in *@out (free it),
 * or -ENOMEM.
 */
int pc_bpf_socket_prog(const struct pc_bpf *f, int dlt, uint32_t snaplen, struct sock_filter **out);

#endif
