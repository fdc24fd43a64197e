/* SPDX-License-Identifier: BSD-3-Clause */
/* Capability checks before opening live sockets, and dropping root after. */
#ifndef PC_PRIVS_H
#define PC_PRIVS_H

#include <stddef.h>

/* Capability numbers (linux/capability.h) used by the backends. */
#define PC_CAP_NET_ADMIN 12
#define PC_CAP_NET_RAW 13
#define PC_CAP_IPC_LOCK 14
#define PC_CAP_SYS_ADMIN 21
#define PC_CAP_BPF 39

/* Name of capability @cap ("CAP_NET_RAW"), "CAP_?" if unknown. */
const char *pc_capability_name(int cap);

/*
 * Is @cap in this thread's effective set (/proc/self/status CapEff)?
 * 0: held; -CAPTURE_E_PRIV: missing, @err says which; other < 0: could not tell.
 * @err may be NULL.
 */
int pc_check_capability(int cap, char *err, size_t errlen);

/*
 * Switch to @user (supplementary groups, gid, uid, in that order) once the
 * sockets are open; verifies root cannot be regained. 0 or -errno /
 * -CAPTURE_E_NOT_FOUND (unknown user) with @err saying what failed.
 */
int pc_drop_privileges(const char *user, char *err, size_t errlen);

#endif
