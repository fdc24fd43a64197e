/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jcapd control thread. Operations that make the engine create threads (start,
 * adding an exporter or encryption during a session) run here, on a thread at
 * the daemon's base priority: threads inherit their creator's nice value, and
 * the HTTP threads run at http_nice so that serving the API never outranks the
 * capture. One job at a time; the caller waits for its answer.
 */
#include <pthread.h>
#include <stdbool.h>

#include "session.h"

static struct {
	pthread_mutex_t call; /* one caller at a time */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	bool started;
	bool pending;
	bool done;
	bool quit;
	ctl_job_fn *fn;
	const void *arg;
	struct resp *rs;
	int ret;
} J = {
	.call = PTHREAD_MUTEX_INITIALIZER,
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
};

static void *ctl_main(void *unused)
{
	pthread_mutex_lock(&J.mu);
	for (;;) {
		while (!J.pending && !J.quit)
			pthread_cond_wait(&J.cv, &J.mu);
		if (J.quit)
			break;
		pthread_mutex_unlock(&J.mu);
		J.ret = J.fn(J.arg, J.rs);
		pthread_mutex_lock(&J.mu);
		J.pending = false;
		J.done = true;
		pthread_cond_broadcast(&J.cv);
	}
	pthread_mutex_unlock(&J.mu);
	return NULL;
}

int ctl_call(ctl_job_fn *fn, const void *arg, struct resp *rs)
{
	int ret;

	if (!J.started)
		return fn(arg, rs);
	pthread_mutex_lock(&J.call);
	pthread_mutex_lock(&J.mu);
	J.fn = fn;
	J.arg = arg;
	J.rs = rs;
	J.done = false;
	J.pending = true;
	pthread_cond_broadcast(&J.cv);
	while (!J.done)
		pthread_cond_wait(&J.cv, &J.mu);
	ret = J.ret;
	pthread_mutex_unlock(&J.mu);
	pthread_mutex_unlock(&J.call);
	return ret;
}

int ctl_start(void)
{
	int err = pthread_create(&J.th, NULL, ctl_main, NULL);

	if (err)
		return -err;
	J.started = true;
	return 0;
}

void ctl_stop(void)
{
	if (!J.started)
		return;
	pthread_mutex_lock(&J.mu);
	J.quit = true;
	pthread_cond_broadcast(&J.cv);
	pthread_mutex_unlock(&J.mu);
	pthread_join(J.th, NULL);
	J.started = false;
}
