/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcapd access control: the bearer token (read from a file, compared in constant
 * time) and the directories that request paths are confined to (after realpath(),
 * so neither ".." nor a symbolic link can lead outside them).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jcapd.h"

#define TOKEN_MAX 1024

static pthread_mutex_t token_lock = PTHREAD_MUTEX_INITIALIZER;
static char token[TOKEN_MAX + 1];
static size_t token_len;

static char *allowed[JCAPD_MAX_ALLOW_DIRS];
static unsigned n_allowed;

int auth_load_token(const char *file, char *msg, size_t msglen)
{
	char buf[TOKEN_MAX + 2];
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd, err;

	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		snprintf(msg, msglen, "%s: %s", file, strerror(errno));
		return err;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & S_IROTH))
		jlog(CAPTURE_LOG_WARN, "token file %s is readable by others", file);
	while (len < sizeof(buf)) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			snprintf(msg, msglen, "%s: %s", file, strerror(errno));
			close(fd);
			return err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	/* One token, surrounding white space (the newline an editor adds) ignored. */
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
		       buf[len - 1] == '\t'))
		len--;
	if (len > TOKEN_MAX) {
		snprintf(msg, msglen, "%s: token longer than %d bytes", file, TOKEN_MAX);
		return -EINVAL;
	}
	if (len < 16) {
		snprintf(msg, msglen, "%s: token shorter than 16 bytes", file);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if (ch <= 0x20 || ch >= 0x7f) {
			snprintf(msg, msglen, "%s: token must be printable ASCII without spaces",
				 file);
			return -EINVAL;
		}
	}
	pthread_mutex_lock(&token_lock);
	memcpy(token, buf, len);
	token[len] = '\0';
	token_len = len;
	pthread_mutex_unlock(&token_lock);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

bool auth_have_token(void)
{
	bool have;

	pthread_mutex_lock(&token_lock);
	have = token_len > 0;
	pthread_mutex_unlock(&token_lock);
	return have;
}

/*
 * Time depends on the length of the configured token only, never on where the
 * presented one differs or on its length.
 */
static bool token_equal(const char *given, size_t given_len)
{
	volatile unsigned char diff = 0;
	size_t i;

	diff |= (unsigned char)(given_len != token_len);
	for (i = 0; i < token_len; i++) {
		unsigned char g = i < given_len ? (unsigned char)given[i] : 0;

		diff |= (unsigned char)(g ^ (unsigned char)token[i]);
	}
	return diff == 0;
}

int auth_check(const char *header)
{
	const char *p;
	int ret;

	if (!auth_have_token())
		return 0;
	if (!header)
		return 401;
	if (strncasecmp(header, "Bearer", 6) != 0 || (header[6] != ' ' && header[6] != '\t'))
		return 401;
	p = header + 6;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p)
		return 401;
	pthread_mutex_lock(&token_lock);
	ret = token_equal(p, strnlen(p, TOKEN_MAX + 1)) ? 0 : 403;
	pthread_mutex_unlock(&token_lock);
	return ret;
}

void auth_release(void)
{
	explicit_bzero(token, sizeof(token));
	token_len = 0;
	for (unsigned i = 0; i < n_allowed; i++)
		free(allowed[i]);
	n_allowed = 0;
}

int paths_allow_dir(const char *dir)
{
	char *rp;
	struct stat st;

	if (n_allowed >= JCAPD_MAX_ALLOW_DIRS)
		return -E2BIG;
	rp = realpath(dir, NULL);
	if (!rp)
		return -errno;
	if (stat(rp, &st) != 0 || !S_ISDIR(st.st_mode)) {
		free(rp);
		return -ENOTDIR;
	}
	allowed[n_allowed++] = rp;
	return 0;
}

static bool inside_allowed(const char *resolved)
{
	for (unsigned i = 0; i < n_allowed; i++) {
		size_t n = strlen(allowed[i]);

		if (strcmp(allowed[i], "/") == 0)
			return true;
		if (strncmp(resolved, allowed[i], n) == 0 &&
		    (resolved[n] == '/' || resolved[n] == '\0'))
			return true;
	}
	return false;
}

int paths_confine(const char *path, bool must_exist, char *out, size_t outlen)
{
	char tmp[PATH_MAX], parent[PATH_MAX], *slash, *rp;
	const char *base;
	int err;

	if (!path || !*path || strlen(path) >= sizeof(tmp))
		return -EINVAL;
	if (path[0] != '/')
		return -EINVAL; /* the daemon's cwd means nothing to a client */
	rp = realpath(path, NULL);
	if (rp) {
		if (!inside_allowed(rp)) {
			free(rp);
			return -EACCES;
		}
		if (strlen(rp) >= outlen) {
			free(rp);
			return -ENAMETOOLONG;
		}
		memcpy(out, rp, strlen(rp) + 1);
		free(rp);
		return 0;
	}
	err = -errno;
	if (err != -ENOENT)
		return err;
	/* Missing: say 403 rather than "no such file" for places outside. */
	memcpy(tmp, path, strlen(path) + 1);
	slash = strrchr(tmp, '/');
	*slash = '\0';
	base = slash + 1;
	rp = realpath(tmp[0] ? tmp : "/", NULL);
	if (!rp) {
		/* Parent missing too: "not found" only for a place that would be inside. */
		return (!strstr(path, "/..") && inside_allowed(path)) ? -ENOENT : -EACCES;
	}
	if (!inside_allowed(rp)) {
		free(rp);
		return -EACCES;
	}
	if (must_exist || !*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		free(rp);
		return -ENOENT;
	}
	if ((size_t)snprintf(parent, sizeof(parent), "%s/%s", rp, base) >= sizeof(parent) ||
	    strlen(parent) >= outlen) {
		free(rp);
		return -ENAMETOOLONG;
	}
	free(rp);
	memcpy(out, parent, strlen(parent) + 1);
	return 0;
}
