/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK backend internals shared by cap_dpdk.c (ports, bursts) and
 * cap_dpdk_eal.c (the process-wide EAL: started once, arguments kept, ports
 * handed to one capture at a time).
 */
#ifndef PC_CAP_DPDK_H
#define PC_CAP_DPDK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet_capture.h"

/* Interface names "dpdk:PORT" always mean a DPDK port. */
#define PC_DPDK_PREFIX "dpdk:"

/* The port name inside @ifname ("dpdk:net_pcap0" -> "net_pcap0"). */
const char *pc_dpdk_port_name(const char *ifname);

/* Does @ifname name a DPDK port: "dpdk:X", a PCI address or a vdev ("net_...")
 * that is not also a kernel interface? */
bool pc_dpdk_is_port_name(const char *ifname);

/*
 * Start the EAL with @args (whitespace separated, '...' and "..." quote) the
 * first time; later calls check that @args are those it runs with. Missing
 * hugepages without --no-huge are refused before the EAL is touched (a failed
 * memory init cannot be retried in the process). EAL messages go to @log_fn
 * at debug level, the last one is quoted in @err. 0 or < 0 with @err set.
 */
int pc_dpdk_eal_start(const char *args, capture_log_fn log_fn, void *log_ctx, int log_level,
		      char *err, size_t errlen);

/*
 * Take port @name for one capture: 0 and *@port, or < 0 with @err ("unknown
 * port", "no DPDK port", "already in use"). pc_dpdk_port_put gives it back.
 */
int pc_dpdk_port_take(const char *name, uint16_t *port, char *err, size_t errlen);
void pc_dpdk_port_put(uint16_t port);

/*
 * The mbuf pool of @port with @n mbufs, reused while the size is the same:
 * a stopped port's RX rings may still hold mbufs of the previous pool, so an
 * old pool is freed only by pc_dpdk_pool_commit once the new queues are set
 * up. NULL with @err on failure.
 */
struct rte_mempool *pc_dpdk_pool_get(uint16_t port, unsigned n, unsigned mb, char *err,
				     size_t errlen);
void pc_dpdk_pool_commit(uint16_t port);

/* EAL log lines go to @fn (debug level) until the next call; NULL: nowhere. */
void pc_dpdk_log_target(capture_log_fn fn, void *ctx, int level);

/* The last EAL log line since the log target was set ("" if none). */
void pc_dpdk_last_log(char *buf, size_t len);

/* Why dpdk cannot be listed as available, or its version (0 / < 0). */
int pc_dpdk_probe_listing(char *reason, size_t len);

#endif
