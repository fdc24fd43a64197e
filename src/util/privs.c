/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Capability checks and privilege drop. The check reads CapEff so an error can
 * name the missing capability instead of a bare EPERM from socket().
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "util/privs.h"
#include "packet_capture.h"

const char *pc_capability_name(int cap)
{
	switch (cap) {
	case PC_CAP_NET_ADMIN:
		return "CAP_NET_ADMIN";
	case PC_CAP_NET_RAW:
		return "CAP_NET_RAW";
	case PC_CAP_IPC_LOCK:
		return "CAP_IPC_LOCK";
	case PC_CAP_SYS_ADMIN:
		return "CAP_SYS_ADMIN";
	case PC_CAP_BPF:
		return "CAP_BPF";
	default:
		return "CAP_?";
	}
}

static int read_capeff(uint64_t *eff)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *end;

		if (strncmp(line, "CapEff:", 7) != 0)
			continue;
		errno = 0;
		*eff = strtoull(line + 7, &end, 16);
		ret = (errno || end == line + 7) ? -EINVAL : 0;
		break;
	}
	fclose(f);
	return ret;
}

int pc_check_capability(int cap, char *err, size_t errlen)
{
	uint64_t eff = 0;
	int ret;

	if (cap < 0 || cap > 63)
		return -EINVAL;
	ret = read_capeff(&eff);
	if (ret < 0) {
		if (err && errlen)
			snprintf(err, errlen, "cannot read capabilities from /proc/self/status: %s",
				 strerror(-ret));
		return ret;
	}
	if (eff & (UINT64_C(1) << cap))
		return 0;
	if (err && errlen)
		snprintf(err, errlen,
			 "missing capability %s (run as root or grant it, e.g. "
			 "setcap cap_net_raw,cap_net_admin,cap_bpf+ep)",
			 pc_capability_name(cap));
	return -CAPTURE_E_PRIV;
}

int pc_drop_privileges(const char *user, char *err, size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int ret;

	if (!user || !user[0]) {
		snprintf(err, errlen, "no user given");
		return -EINVAL;
	}
	ret = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
	if (ret || !res) {
		snprintf(err, errlen, "unknown user '%s'", user);
		return -CAPTURE_E_NOT_FOUND;
	}
	/* groups first: once the uid changes, setgroups is no longer allowed */
	if (initgroups(user, pw.pw_gid) < 0 && setgroups(0, NULL) < 0) {
		ret = -errno;
		snprintf(err, errlen, "setgroups for '%s': %s", user, strerror(errno));
		return ret;
	}
	if (setresgid(pw.pw_gid, pw.pw_gid, pw.pw_gid) < 0) {
		ret = -errno;
		snprintf(err, errlen, "setgid(%u): %s", (unsigned)pw.pw_gid, strerror(errno));
		return ret;
	}
	if (setresuid(pw.pw_uid, pw.pw_uid, pw.pw_uid) < 0) {
		ret = -errno;
		snprintf(err, errlen, "setuid(%u): %s", (unsigned)pw.pw_uid, strerror(errno));
		return ret;
	}
	/* a dropped process must not be able to climb back */
	if (pw.pw_uid != 0 && setuid(0) == 0) {
		snprintf(err, errlen, "privileges not dropped: setuid(0) still succeeds");
		return -EPERM;
	}
	return 0;
}
