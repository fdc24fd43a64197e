/* SPDX-License-Identifier: BSD-3-Clause */
/* Filters: libpcap compiles tcpdump syntax to classic BPF for a link type. */
#include <errno.h>
#include <linux/filter.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "capture/bpf.h"

struct pc_bpf {
	struct bpf_program prog;
};

int pc_bpf_create(struct pc_bpf **out, const char *expr, int linktype, uint32_t snaplen, char *err,
		  size_t errlen)
{
	struct pc_bpf *f;
	pcap_t *p;
	int dlt = linktype;

	/* files say 101 for raw IP; libpcap's DLT for it is 12 */
	if (dlt == PC_DLT_RAW_101)
		dlt = PC_DLT_RAW;
	p = pcap_open_dead(dlt, snaplen ? (int)snaplen : 262144);
	if (!p) {
		snprintf(err, errlen, "cannot create a filter for link type %d", linktype);
		return -ENOMEM;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		pcap_close(p);
		return -ENOMEM;
	}
	if (pcap_compile(p, &f->prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		snprintf(err, errlen, "invalid filter '%s': %s", expr, pcap_geterr(p));
		pcap_close(p);
		free(f);
		return -CAPTURE_E_FILTER;
	}
	pcap_close(p);
	*out = f;
	return 0;
}

void pc_bpf_destroy(struct pc_bpf *f)
{
	if (!f)
		return;
	pcap_freecode(&f->prog);
	free(f);
}

bool pc_bpf_match(const struct pc_bpf *f, const struct pc_pkt *p)
{
	return bpf_filter(f->prog.bf_insns, p->data, p->wirelen, p->caplen) != 0;
}

void pc_bpf_kernel_prog(const struct pc_bpf *f, struct sock_fprog *out)
{
	out->len = (unsigned short)f->prog.bf_len;
	out->filter = (struct sock_filter *)f->prog.bf_insns;
}

int pc_bpf_socket_prog(const struct pc_bpf *f, int dlt, uint32_t snaplen, struct sock_filter **out)
{
	struct sock_filter *ins;
	struct sock_fprog kp;
	unsigned pre = dlt == PC_DLT_EN10MB ? 3 : 0;

	pc_bpf_kernel_prog(f, &kp);
	ins = calloc(kp.len + pre, sizeof(*ins));
	if (!ins)
		return -ENOMEM;
	if (pre) {
		/* a tag in metadata: accept whole, user space decides */
		ins[0] = (struct sock_filter){ BPF_LD | BPF_B | BPF_ABS, 0, 0,
					       (uint32_t)(SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT) };
		ins[1] = (struct sock_filter){ BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 0 };
		ins[2] = (struct sock_filter){ BPF_RET | BPF_K, 0, 0, snaplen };
	}
	memcpy(ins + pre, kp.filter, kp.len * sizeof(*ins));
	*out = ins;
	return (int)(kp.len + pre);
}
