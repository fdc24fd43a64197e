/* SPDX-License-Identifier: BSD-3-Clause */
/* Numeric tuning knobs read from the environment (PC_AFP_BLOCK_TOV_MS, ...). */
#ifndef PC_UTIL_ENV_H
#define PC_UTIL_ENV_H

/* The decimal value of environment variable @name, or @def when it is unset,
 * empty, not entirely a number or outside @min..@max. */
unsigned pc_env_uint(const char *name, unsigned def, unsigned min, unsigned max);

#endif
