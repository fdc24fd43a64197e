/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A Kafka cluster for the export tests: librdkafka's mock cluster (the real
 * protocol over TCP on loopback, no server package) in its own process.
 * Usage: kafka_mock BROKERS TOPIC PARTITIONS
 * Prints the bootstrap address ("127.0.0.1:PORT,...") on the first line of
 * stdout, then answers commands read from stdin with "ok" or "error: why":
 *   down ID | up ID          take broker ID (1..BROKERS) down / back up
 *   produce-errors N CODE     the next N Produce requests fail with CODE
 *   topic-error CODE          every request for TOPIC fails with CODE (0: stop)
 * EOF or "quit" ends it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define PRODUCE_API_KEY 0 /* Kafka protocol ApiKey of Produce */

static int num(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static const char *command(rd_kafka_mock_cluster_t *mc, const char *topic, char *line)
{
	char *cmd = strtok_r(line, " \t\n", &line), *a1, *a2;
	long x, y;

	if (!cmd)
		return "empty command";
	a1 = strtok_r(NULL, " \t\n", &line);
	a2 = strtok_r(NULL, " \t\n", &line);
	if (!strcmp(cmd, "down") || !strcmp(cmd, "up")) {
		if (!a1 || num(a1, 1, 64, &x))
			return "want a broker id";
		if ((!strcmp(cmd, "down") ? rd_kafka_mock_broker_set_down(mc, (int32_t)x)
					  : rd_kafka_mock_broker_set_up(mc, (int32_t)x)))
			return "no such broker";
		return NULL;
	}
	if (!strcmp(cmd, "produce-errors")) {
		rd_kafka_resp_err_t errs[1024];
		long i;

		if (!a1 || !a2 || num(a1, 1, 1024, &x) || num(a2, -200, 200, &y))
			return "want: produce-errors N CODE";
		for (i = 0; i < x; i++)
			errs[i] = (rd_kafka_resp_err_t)y;
		rd_kafka_mock_push_request_errors_array(mc, PRODUCE_API_KEY, (size_t)x, errs);
		return NULL;
	}
	if (!strcmp(cmd, "topic-error")) {
		if (!a1 || num(a1, -200, 200, &x))
			return "want: topic-error CODE";
		rd_kafka_mock_topic_set_error(mc, topic, (rd_kafka_resp_err_t)x);
		return NULL;
	}
	return "unknown command";
}

int main(int argc, char **argv)
{
	char errstr[512], line[256];
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	long brokers, parts;

	if (argc != 4 || num(argv[1], 1, 16, &brokers) || num(argv[3], 1, 1024, &parts)) {
		fprintf(stderr, "usage: kafka_mock BROKERS TOPIC PARTITIONS\n");
		return 2;
	}
	conf = rd_kafka_conf_new();
	/* no "no bootstrap.servers" notice: this handle never connects */
	rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		fprintf(stderr, "kafka_mock: %s\n", errstr);
		return 1;
	}
	mc = rd_kafka_mock_cluster_new(rk, (int)brokers);
	if (!mc || rd_kafka_mock_topic_create(mc, argv[2], (int)parts, (int)brokers)) {
		fprintf(stderr, "kafka_mock: cannot create the mock cluster\n");
		rd_kafka_destroy(rk);
		return 1;
	}
	printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		const char *why;

		if (!strncmp(line, "quit", 4))
			break;
		why = command(mc, argv[2], line);
		if (why)
			printf("error: %s\n", why);
		else
			printf("ok\n");
		fflush(stdout);
	}
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}
