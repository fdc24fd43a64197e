/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet timestamp sources for live backends: kernel software stamps, NIC
 * hardware stamps (SIOCSHWTSTAMP), a PTP hardware clock, or the system clock
 * with its NTP state. Every fall back is reported in source/detail.
 */
#ifndef PC_TSTAMP_H
#define PC_TSTAMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pc_tstamp {
	int requested;	 /* enum capture_tstamp */
	bool hw;	 /* hardware stamps enabled on the device */
	bool hw_restore; /* hw_prev holds the device's config before us */
	int hw_prev_tx;
	int hw_prev_rx;
	char ifname[16];
	int ptp_fd;	       /* -1: none */
	int ptp_clock;	       /* clockid_t of the PHC */
	int64_t ptp_offset_ns; /* PHC - CLOCK_REALTIME, added to kernel stamps */
	uint64_t ptp_next_ns;  /* when to re-measure the offset (monotonic) */
	char source[32];
	char detail[128];
};

/*
 * Decide the source for @ifname given @requested (enum capture_tstamp).
 * HARDWARE: SIOCSHWTSTAMP (rx all) on the device; sets ts->hw when the driver
 * accepted it, else falls back to kernel stamps and says why. PTP: opens the
 * interface's PHC (ethtool phc_index) or /dev/ptp0. NTP: adjtimex state.
 * Never fails for a fall back; < 0 only for bad arguments.
 */
int pc_tstamp_setup(struct pc_tstamp *ts, int requested, const char *ifname);

/* For PTP: re-measure the PHC offset at most once a second; call per burst. */
void pc_tstamp_refresh(struct pc_tstamp *ts);

/* Kernel (CLOCK_REALTIME) stamp @ns to the chosen source's time scale. */
static inline uint64_t pc_tstamp_adjust(const struct pc_tstamp *ts, uint64_t ns)
{
	return ts->ptp_fd >= 0 ? (uint64_t)((int64_t)ns + ts->ptp_offset_ns) : ns;
}

/* "synchronised (TIME_OK), maxerror N us" or "unsynchronised (...)". */
void pc_tstamp_ntp_state(char *buf, size_t len, bool *synced);

/* Close the PHC; give the device back the stamping config it had before. */
void pc_tstamp_release(struct pc_tstamp *ts);

#endif
