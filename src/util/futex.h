/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sleep on a 32-bit atomic word until another thread of the process wakes it
 * (Linux futex, private): for a thread that naps long when idle and must
 * start again as soon as work comes.
 */
#ifndef PC_UTIL_FUTEX_H
#define PC_UTIL_FUTEX_H

#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Sleep while the 32-bit word at @word == @val, @timeout_ms at most
 * (spurious returns are fine). */
static inline void pc_futex_wait(void *word, uint32_t val, unsigned timeout_ms)
{
	struct timespec ts = { .tv_sec = timeout_ms / 1000,
			       .tv_nsec = (long)(timeout_ms % 1000) * 1000000L };

	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
}

/* Wake up to @n threads sleeping on @word (INT_MAX: all of them). */
static inline void pc_futex_wake(void *word, int n)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

#endif
