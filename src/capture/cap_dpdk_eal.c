/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The DPDK EAL for the whole process: it can start only once, so the first
 * dpdk capture starts it with its --dpdk-eal arguments and later ones must
 * ask for the same. EAL messages never reach stdout/stderr: they go to the
 * capture's log at debug level and the last one explains a failure. Ports are
 * lent to one capture at a time; each port keeps its mbuf pool between
 * sessions (a stopped port may still hold mbufs of it).
 */
#ifdef HAVE_DPDK

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_version.h>

#include "capture/cap_dpdk.h"
#include "util/log.h"

#define EAL_MAX_ARGS 64
#define EAL_ARGS_MAX 2048

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static bool g_eal_up;
static char g_eal_args[EAL_ARGS_MAX];	/* what the running EAL was given */
static char g_argbuf[EAL_ARGS_MAX + 8]; /* the EAL may keep pointers into it */
static char *g_argv[EAL_MAX_ARGS + 2];
static bool g_busy[RTE_MAX_ETHPORTS];
static struct rte_mempool *g_pool[RTE_MAX_ETHPORTS];
static struct rte_mempool *g_old_pool[RTE_MAX_ETHPORTS];
static unsigned g_pool_gen;

/* EAL log stream: lines to the current opener's log, the last one kept. */
static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *g_log;
static char g_line[512], g_last[512];
static size_t g_line_len;
static capture_log_fn g_log_fn;
static void *g_log_ctx;
static int g_log_level;

const char *pc_dpdk_port_name(const char *ifname)
{
	size_t pl = strlen(PC_DPDK_PREFIX);

	return strncmp(ifname, PC_DPDK_PREFIX, pl) == 0 ? ifname + pl : ifname;
}

/* "0000:03:00.0" or "03:00.0". */
static bool is_pci_addr(const char *s)
{
	unsigned a, b, c, d;
	char tail;

	return sscanf(s, "%x:%x:%x.%x%c", &a, &b, &c, &d, &tail) == 4 ||
	       sscanf(s, "%x:%x.%x%c", &b, &c, &d, &tail) == 3;
}

bool pc_dpdk_is_port_name(const char *ifname)
{
	const char *n;

	if (!ifname || !ifname[0])
		return false;
	n = pc_dpdk_port_name(ifname);
	if (n != ifname)
		return n[0] != '\0';
	if (if_nametoindex(ifname))
		return false; /* a kernel interface: never taken for a port */
	return is_pci_addr(n) || strncmp(n, "net_", 4) == 0;
}

static void log_line(void)
{
	g_line[g_line_len] = '\0';
	while (g_line_len && isspace((unsigned char)g_line[g_line_len - 1]))
		g_line[--g_line_len] = '\0';
	if (g_line_len) {
		memcpy(g_last, g_line, g_line_len + 1);
		pc_logf(g_log_fn, g_log_ctx, g_log_level, CAPTURE_LOG_DEBUG, "dpdk: %s", g_line);
	}
	g_line_len = 0;
}

static ssize_t log_write(void *cookie, const char *buf, size_t size)
{
	size_t i;

	(void)cookie;
	pthread_mutex_lock(&g_log_lock);
	for (i = 0; i < size; i++) {
		if (buf[i] == '\n') {
			log_line();
		} else if (g_line_len < sizeof(g_line) - 1) {
			g_line[g_line_len++] = buf[i];
		}
	}
	pthread_mutex_unlock(&g_log_lock);
	return (ssize_t)size;
}

void pc_dpdk_log_target(capture_log_fn fn, void *ctx, int level)
{
	pthread_mutex_lock(&g_log_lock);
	g_log_fn = fn;
	g_log_ctx = ctx;
	g_log_level = level;
	g_last[0] = '\0';
	pthread_mutex_unlock(&g_log_lock);
}

void pc_dpdk_last_log(char *buf, size_t len)
{
	pthread_mutex_lock(&g_log_lock);
	snprintf(buf, len, "%s", g_last);
	pthread_mutex_unlock(&g_log_lock);
}

/* Split @args into g_argv (argv[0] "jcap"); -E2BIG when too many. */
static int split_args(const char *args, int *argc)
{
	char *out = g_argbuf;
	const char *s = args;
	int n = 0;

	memcpy(out, "jcap", 5);
	g_argv[n++] = out;
	out += 5;
	while (*s) {
		char q = 0;

		while (isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		if (n >= EAL_MAX_ARGS)
			return -E2BIG;
		g_argv[n++] = out;
		while (*s && (q || !isspace((unsigned char)*s))) {
			if (!q && (*s == '\'' || *s == '"'))
				q = *s;
			else if (q && *s == q)
				q = 0;
			else
				*out++ = *s;
			s++;
		}
		*out++ = '\0';
	}
	g_argv[n] = NULL;
	*argc = n;
	return 0;
}

static bool has_arg(int argc, const char *name)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(g_argv[i], name) == 0)
			return true;
	return false;
}

/* Free hugepages of every size (/sys/kernel/mm/hugepages/ * /free_hugepages). */
static unsigned long free_hugepages(void)
{
	unsigned long total = 0;
	struct dirent *e;
	DIR *d = opendir("/sys/kernel/mm/hugepages");

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[320], buf[32];
		FILE *f;

		if (strncmp(e->d_name, "hugepages-", 10) != 0)
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/%s/free_hugepages",
			 e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f))
			total += strtoul(buf, NULL, 10);
		fclose(f);
	}
	closedir(d);
	return total;
}

/* PCI devices bound to a driver DPDK can use. */
static unsigned bound_ports(void)
{
	static const char *const drivers[] = { "vfio-pci", "uio_pci_generic", "igb_uio" };
	unsigned n = 0, i;

	for (i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
		char path[96];
		struct dirent *e;
		DIR *d;

		snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s", drivers[i]);
		d = opendir(path);
		if (!d)
			continue;
		while ((e = readdir(d)))
			n += is_pci_addr(e->d_name);
		closedir(d);
	}
	return n;
}

int pc_dpdk_probe_listing(char *reason, size_t len)
{
	unsigned long huge = free_hugepages();
	unsigned ports = bound_ports();

	if (geteuid() != 0)
		return pc_errf(reason, len, -CAPTURE_E_PRIV,
			       "%s: not root (the EAL needs root for hugepages and devices)",
			       rte_version());
	if (huge && ports)
		return snprintf(reason, len,
				"%s: %lu free hugepages, %u ports bound to a DPDK driver",
				rte_version(), huge, ports) < 0;
	return pc_errf(
		reason, len, -CAPTURE_E_BACKEND,
		"%s: %s%s%s; vdevs need -i dpdk:VDEV --dpdk-eal '--no-huge -m 256 --no-pci --vdev=...'",
		rte_version(), huge ? "" : "no free hugepages", !huge && !ports ? ", " : "",
		ports ? "" : "no ports bound to a DPDK driver (vfio-pci, uio_pci_generic)");
}

/* Point @fd at @to until restore(); -1 when it cannot. */
static int divert(int fd, int to)
{
	int saved = to >= 0 ? dup(fd) : -1;

	if (saved >= 0 && dup2(to, fd) < 0) {
		close(saved);
		saved = -1;
	}
	return saved;
}

static void restore(int fd, int saved)
{
	if (saved < 0)
		return;
	dup2(saved, fd);
	close(saved);
}

/* What reached stderr while diverted to @mfd, less the EAL's own lines
 * (they are in the log already), goes to the real stderr. */
static void replay_stderr(int mfd)
{
	char buf[4096], *line, *save = NULL;
	ssize_t n;

	if (mfd < 0 || lseek(mfd, 0, SEEK_SET) < 0)
		return;
	n = read(mfd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "EAL: ", 5) != 0)
			dprintf(STDERR_FILENO, "%s\n", line);
}

/*
 * rte_eal_init with stdout and stderr diverted: on a bad option it prints its
 * usage on stdout (jcap's flow output) and "EAL: FATAL" on stderr, beside
 * the message we return.
 */
static int eal_init_quiet(int argc)
{
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int mfd = memfd_create("pc-eal-stderr", MFD_CLOEXEC);
	int out, errfd, ret;

	fflush(stdout);
	fflush(stderr);
	out = divert(STDOUT_FILENO, null);
	errfd = divert(STDERR_FILENO, mfd);
	ret = rte_eal_init(argc, g_argv);
	fflush(stdout);
	fflush(stderr);
	restore(STDOUT_FILENO, out);
	restore(STDERR_FILENO, errfd);
	replay_stderr(mfd);
	if (null >= 0)
		close(null);
	if (mfd >= 0)
		close(mfd);
	return ret;
}

static int eal_start_locked(const char *args, char *err, size_t errlen)
{
	int argc, ret;
	char last[512];

	if (g_eal_up) {
		if (strcmp(args, g_eal_args) == 0)
			return 0;
		return pc_errf(err, errlen, -CAPTURE_E_CONFIG,
			       "dpdk: the EAL already runs in this process with '%s' (it starts "
			       "once per process; '%s' needs a new process)",
			       g_eal_args, args);
	}
	if (strlen(args) >= EAL_ARGS_MAX - 8)
		return pc_errf(err, errlen, -CAPTURE_E_CONFIG, "dpdk: EAL arguments too long");
	if (split_args(args, &argc) < 0)
		return pc_errf(err, errlen, -CAPTURE_E_CONFIG, "dpdk: more than %d EAL arguments",
			       EAL_MAX_ARGS);
	if (!has_arg(argc, "--no-huge") && free_hugepages() == 0)
		return pc_errf(err, errlen, -CAPTURE_E_BACKEND,
			       "dpdk: no free hugepages (reserve some, e.g. echo 512 > "
			       "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages, or add "
			       "--no-huge -m 256 to --dpdk-eal)");
	if (!g_log) {
		g_log = fopencookie(NULL, "w", (cookie_io_functions_t){ .write = log_write });
		if (g_log) {
			setvbuf(g_log, NULL, _IOLBF, 0);
			rte_openlog_stream(g_log);
		}
	}
	ret = eal_init_quiet(argc);
	if (ret < 0) {
		int e = rte_errno;

		pc_dpdk_last_log(last, sizeof(last));
		return pc_errf(err, errlen, -CAPTURE_E_BACKEND,
			       "dpdk: EAL initialisation failed with '%s': %s%s%s", args,
			       rte_strerror(e), last[0] ? ": " : "", last);
	}
	snprintf(g_eal_args, sizeof(g_eal_args), "%s", args);
	g_eal_up = true;
	return 0;
}

int pc_dpdk_eal_start(const char *args, capture_log_fn log_fn, void *log_ctx, int log_level,
		      char *err, size_t errlen)
{
	int ret;

	pthread_mutex_lock(&g_lock);
	pc_dpdk_log_target(log_fn, log_ctx, log_level);
	ret = eal_start_locked(args ? args : "", err, errlen);
	pthread_mutex_unlock(&g_lock);
	return ret;
}

/* "net_pcap0, net_null0" */
static void port_names(char *buf, size_t len)
{
	char name[RTE_ETH_NAME_MAX_LEN];
	size_t used = 0;
	uint16_t p;

	buf[0] = '\0';
	RTE_ETH_FOREACH_DEV(p)
	{
		if (rte_eth_dev_get_name_by_port(p, name) != 0)
			continue;
		used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s",
					 used ? ", " : "", name);
		if (used >= len)
			break;
	}
}

int pc_dpdk_port_take(const char *name, uint16_t *port, char *err, size_t errlen)
{
	char names[256];
	int ret = 0;

	pthread_mutex_lock(&g_lock);
	if (rte_eth_dev_count_avail() == 0) {
		ret = pc_errf(err, errlen, -ENODEV,
			      "dpdk: the EAL started but found no port (no --vdev that "
			      "probed, no NIC bound to vfio-pci; EAL arguments '%s')",
			      g_eal_args);
	} else if (rte_eth_dev_get_port_by_name(name, port) != 0) {
		port_names(names, sizeof(names));
		ret = pc_errf(err, errlen, -ENODEV, "dpdk: unknown port '%s' (ports: %s)", name,
			      names);
	} else if (g_busy[*port]) {
		ret = pc_errf(err, errlen, -EBUSY,
			      "dpdk: port %s is already in use by another capture", name);
	} else {
		g_busy[*port] = true;
	}
	pthread_mutex_unlock(&g_lock);
	return ret;
}

void pc_dpdk_port_put(uint16_t port)
{
	pthread_mutex_lock(&g_lock);
	g_busy[port] = false;
	pthread_mutex_unlock(&g_lock);
}

struct rte_mempool *pc_dpdk_pool_get(uint16_t port, unsigned n, unsigned mb, char *err,
				     size_t errlen)
{
	struct rte_mempool *mp;
	char name[RTE_MEMPOOL_NAMESIZE];

	pthread_mutex_lock(&g_lock);
	mp = g_pool[port];
	if (mp && mp->size == n)
		goto out;
	snprintf(name, sizeof(name), "pc_p%u_%u", port, g_pool_gen++);
	mp = rte_pktmbuf_pool_create(name, n, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				     rte_eth_dev_socket_id(port));
	if (!mp) {
		pc_errf(err, errlen, -ENOMEM,
			"dpdk: --buffer-mb %u: cannot allocate %u mbufs of %u bytes: %s (EAL "
			"memory too small: raise -m or --socket-mem, reserve more hugepages, or "
			"lower --buffer-mb)",
			mb, n, (unsigned)RTE_MBUF_DEFAULT_BUF_SIZE, rte_strerror(rte_errno));
		goto out;
	}
	if (g_old_pool[port]) /* never committed: nothing of it is in a queue */
		rte_mempool_free(g_pool[port]);
	else
		g_old_pool[port] = g_pool[port];
	g_pool[port] = mp;
out:
	pthread_mutex_unlock(&g_lock);
	return mp;
}

/*
 * At process exit: close the ports (a vdev's PMD frees what it holds, e.g.
 * net_pcap's libpcap handles, which live in EAL memory no leak checker
 * scans) and release the EAL (runtime files, memory). Not while a capture
 * still holds a port: its threads may be running.
 */
__attribute__((destructor)) static void eal_release(void)
{
	uint16_t p;

	pthread_mutex_lock(&g_lock);
	if (!g_eal_up)
		goto out;
	for (p = 0; p < RTE_MAX_ETHPORTS; p++)
		if (g_busy[p])
			goto out;
	RTE_ETH_FOREACH_DEV(p)
	{
		rte_eth_dev_close(p);
	}
	for (p = 0; p < RTE_MAX_ETHPORTS; p++) {
		rte_mempool_free(g_pool[p]);
		rte_mempool_free(g_old_pool[p]);
		g_pool[p] = g_old_pool[p] = NULL;
	}
	rte_eal_cleanup();
	g_eal_up = false;
out:
	pthread_mutex_unlock(&g_lock);
}

void pc_dpdk_pool_commit(uint16_t port)
{
	pthread_mutex_lock(&g_lock);
	rte_mempool_free(g_old_pool[port]);
	g_old_pool[port] = NULL;
	pthread_mutex_unlock(&g_lock);
}

#endif /* HAVE_DPDK */
