/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcapd access control: the bearer tokens with their scopes (read from a file,
 * every one compared in constant time) and the directories that request paths are confined to (after realpath(),
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

#include <gnutls/crypto.h>

#include "jcapd.h"

#define TOKEN_MAX 1024
#define TOKENS_MAX 64
/* a whole token file: every token at its longest, with a scope and a newline */
#define FILE_MAX (TOKENS_MAX * (TOKEN_MAX + 16))

const char *const auth_scope_names[4] = { "none", "read", "control", "admin" };

struct token {
	char text[TOKEN_MAX + 1];
	size_t len;
	int scope;
	unsigned line;
	char id[24]; /* "L<line>:<8 hex of its SHA-256>": names it in the audit, reveals nothing */
};

static pthread_mutex_t token_lock = PTHREAD_MUTEX_INITIALIZER;
static struct token *tokens; /* n_tokens of them, replaced whole on reload */
static unsigned n_tokens;

static char *allowed[JCAPD_MAX_ALLOW_DIRS];
static unsigned n_allowed;

/* The file into a malloc'd buffer of *len bytes (NUL-terminated). 0 or -errno. */
static int read_small(const char *file, char **out, size_t *len, char *msg, size_t msglen)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd, err;

	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		snprintf(msg, msglen, "%s: %s", file, strerror(errno));
		return err;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & S_IROTH))
		jlog(CAPTURE_LOG_WARN, "token file %s is readable by others", file);
	buf = malloc(FILE_MAX + 2);
	if (!buf) {
		close(fd);
		snprintf(msg, msglen, "%s: out of memory", file);
		return -ENOMEM;
	}
	*len = 0;
	while (*len < FILE_MAX + 1) {
		n = read(fd, buf + *len, FILE_MAX + 1 - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			snprintf(msg, msglen, "%s: %s", file, strerror(errno));
			close(fd);
			explicit_bzero(buf, FILE_MAX + 2);
			free(buf);
			return err;
		}
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	close(fd);
	buf[*len] = '\0';
	*out = buf;
	return 0;
}

static void token_id(struct token *t, unsigned line)
{
	unsigned char d[32];

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, t->text, t->len, d) < 0)
		memset(d, 0, sizeof(d));
	snprintf(t->id, sizeof(t->id), "L%u:%02x%02x%02x%02x", line, d[0], d[1], d[2], d[3]);
}

/* One line (without its newline, white space around it dropped) into @t. 0 or -EINVAL. */
static int parse_line(char *s, size_t len, struct token *t, const char **why)
{
	char *sp = memchr(s, ' ', len);

	t->scope = SCOPE_ADMIN; /* a bare token: what a token meant before scopes */
	if (!sp)
		sp = memchr(s, '\t', len);
	if (sp) {
		size_t k = (size_t)(sp - s);
		int i;

		for (i = SCOPE_READ; i <= SCOPE_ADMIN; i++)
			if (strlen(auth_scope_names[i]) == k && !memcmp(s, auth_scope_names[i], k))
				break;
		if (i > SCOPE_ADMIN) {
			*why = "scope must be read, control or admin";
			return -EINVAL;
		}
		t->scope = i;
		while (sp < s + len && (*sp == ' ' || *sp == '\t'))
			sp++;
		len -= (size_t)(sp - s);
		s = sp;
	}
	if (len > TOKEN_MAX) {
		*why = "token longer than 1024 bytes";
		return -EINVAL;
	}
	if (len < 16) {
		*why = "token shorter than 16 bytes";
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= 0x20 || ch >= 0x7f) {
			*why = "token must be printable ASCII without spaces";
			return -EINVAL;
		}
	}
	memcpy(t->text, s, len);
	t->text[len] = '\0';
	t->len = len;
	return 0;
}

static char *trim(char *s, char **end)
{
	while (*s == ' ' || *s == '\t')
		s++;
	while (*end > s && ((*end)[-1] == ' ' || (*end)[-1] == '\t' || (*end)[-1] == '\r'))
		(*end)--;
	return s;
}

/* Every line of @buf into @out (TOKENS_MAX of them). Count, or -EINVAL with @msg. */
static int parse_tokens(const char *file, char *buf, struct token *out, char *msg, size_t msglen)
{
	const char *why = NULL;
	unsigned line = 0, n = 0;
	char *p = buf;

	while (*p) {
		char *nl = strchr(p, '\n'), *end = nl ? nl : p + strlen(p), *s;

		line++;
		s = trim(p, &end);
		p = nl ? nl + 1 : end;
		if (s == end || *s == '#')
			continue;
		if (n == TOKENS_MAX) {
			snprintf(msg, msglen, "%s:%u: more than %d tokens", file, line, TOKENS_MAX);
			return -EINVAL;
		}
		if (parse_line(s, (size_t)(end - s), &out[n], &why) < 0) {
			snprintf(msg, msglen, "%s:%u: %s", file, line, why);
			return -EINVAL;
		}
		for (unsigned i = 0; i < n; i++) {
			if (out[i].len == out[n].len &&
			    !memcmp(out[i].text, out[n].text, out[n].len)) {
				snprintf(msg, msglen, "%s:%u: the token of line %u again", file,
					 line, out[i].line);
				return -EINVAL;
			}
		}
		out[n].line = line;
		token_id(&out[n], line);
		n++;
	}
	if (!n) {
		snprintf(msg, msglen, "%s: no token in the file", file);
		return -EINVAL;
	}
	return (int)n;
}

int auth_load_token(const char *file, char *msg, size_t msglen)
{
	struct token *nt, *old;
	size_t len = 0;
	char *buf = NULL;
	int n;

	n = read_small(file, &buf, &len, msg, msglen);
	if (n < 0)
		return n;
	if (len > FILE_MAX || memchr(buf, '\0', len)) {
		snprintf(msg, msglen, "%s: %s", file,
			 len > FILE_MAX ? "file too large" : "NUL byte in the file");
		n = -EINVAL;
		goto out_buf;
	}
	nt = calloc(TOKENS_MAX, sizeof(*nt));
	if (!nt) {
		snprintf(msg, msglen, "%s: out of memory", file);
		n = -ENOMEM;
		goto out_buf;
	}
	n = parse_tokens(file, buf, nt, msg, msglen);
	if (n < 0) {
		explicit_bzero(nt, TOKENS_MAX * sizeof(*nt));
		free(nt);
		goto out_buf;
	}
	pthread_mutex_lock(&token_lock);
	old = tokens;
	tokens = nt;
	n_tokens = (unsigned)n;
	pthread_mutex_unlock(&token_lock);
	if (old) {
		explicit_bzero(old, TOKENS_MAX * sizeof(*old));
		free(old);
	}
	n = 0;
out_buf:
	explicit_bzero(buf, FILE_MAX + 2);
	free(buf);
	return n;
}

bool auth_have_token(void)
{
	bool have;

	pthread_mutex_lock(&token_lock);
	have = n_tokens > 0;
	pthread_mutex_unlock(&token_lock);
	return have;
}

/*
 * Time depends on the length of the configured token only, never on where the
 * presented one differs or on its length. Returns 1 on a match, 0 otherwise,
 * without a branch on the bytes.
 */
static unsigned token_equal(const struct token *t, const char *given, size_t given_len)
{
	volatile unsigned char diff = 0;
	size_t i;

	diff |= (unsigned char)(given_len != t->len);
	for (i = 0; i < t->len; i++) {
		unsigned char g = i < given_len ? (unsigned char)given[i] : 0;

		diff |= (unsigned char)(g ^ (unsigned char)t->text[i]);
	}
	return 1u & (((unsigned)diff - 1u) >> 8);
}

int auth_check(const char *header, struct auth_who *who)
{
	unsigned match = 0, i;
	const char *p;
	size_t plen;

	memset(who, 0, sizeof(*who));
	if (!auth_have_token()) {
		who->scope = SCOPE_ADMIN; /* no token file: loopback only, all open */
		return 0;
	}
	if (!header)
		return 401;
	if (strncasecmp(header, "Bearer", 6) != 0 || (header[6] != ' ' && header[6] != '\t'))
		return 401;
	p = header + 6;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p)
		return 401;
	plen = strnlen(p, TOKEN_MAX + 1);
	pthread_mutex_lock(&token_lock);
	/* every token compared, the match kept by a mask: no exit tells which matched */
	for (i = 0; i < n_tokens; i++) {
		unsigned eq = token_equal(&tokens[i], p, plen);

		match |= (0u - eq) & (i + 1);
	}
	if (match) {
		who->scope = tokens[match - 1].scope;
		memcpy(who->id, tokens[match - 1].id, sizeof(who->id));
	}
	pthread_mutex_unlock(&token_lock);
	return match ? 0 : 403;
}

void auth_release(void)
{
	if (tokens)
		explicit_bzero(tokens, TOKENS_MAX * sizeof(*tokens));
	free(tokens);
	tokens = NULL;
	n_tokens = 0;
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
