/* SPDX-License-Identifier: BSD-3-Clause */
/* The one place GNU attributes and builtins are spelled out. */
#ifndef PC_COMPILER_H
#define PC_COMPILER_H

#define pc_likely(x) __builtin_expect(!!(x), 1)
#define pc_unlikely(x) __builtin_expect(!!(x), 0)
#define PC_CACHE_LINE 64
#define pc_cache_aligned __attribute__((aligned(PC_CACHE_LINE)))
#define pc_prefetch(p) __builtin_prefetch((p), 0, 3)
#define pc_prefetch_w(p) __builtin_prefetch((p), 1, 3)
#define pc_unused __attribute__((unused))
#define pc_printf(a, b) __attribute__((format(printf, a, b)))
#define pc_always_inline inline __attribute__((always_inline))
#if defined(__x86_64__) || defined(__i386__)
#define pc_cpu_relax() __builtin_ia32_pause()
#else
#define pc_cpu_relax() __asm__ __volatile__("" ::: "memory")
#endif

#define PC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PC_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
