/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The process's clocks, in nanoseconds: wall time (record timestamps, export
 * headers) and monotonic time (deadlines, intervals), plus a short sleep.
 * One copy for every module; capture/tstamp.h is about packet stamps.
 */
#ifndef PC_UTIL_CLOCK_H
#define PC_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t pc_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CLOCK_REALTIME */
static inline uint64_t pc_wall_ns(void)
{
	return pc_clock_ns(CLOCK_REALTIME);
}

/* CLOCK_MONOTONIC */
static inline uint64_t pc_mono_ns(void)
{
	return pc_clock_ns(CLOCK_MONOTONIC);
}

/* Sleep @us microseconds (< 1 s); a signal may cut it short. */
static inline void pc_sleep_us(unsigned us)
{
	struct timespec ts = { (time_t)(us / 1000000u), (long)(us % 1000000u) * 1000 };

	nanosleep(&ts, NULL);
}

#endif
