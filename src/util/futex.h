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
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Sleep while *@word == @val, @timeout_ms at most (spurious returns are fine). */
static inline void pc_futex_wait(_Atomic int *word, int val, unsigned timeout_ms)
{
	struct timespec ts = { .tv_sec = timeout_ms / 1000,
			       .tv_nsec = (long)(timeout_ms % 1000) * 1000000L };

	syscall(SYS_futex, (int *)word, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
}

/* Wake one thread sleeping on @word. */
static inline void pc_futex_wake(_Atomic int *word)
{
	syscall(SYS_futex, (int *)word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

#endif
