/*
 * Stream benchmark in the simulator (make bench-sim):
 *  1. 100 Mbit/s bottleneck, 50 ms RTT, drop-tail queue of one BDP, 60 s of bulk transfer at
 *     random loss p = 0, 1, 5 % (both directions): goodput as a fraction of (1 - p) x link,
 *     and the p95 queueing delay the flow adds at the bottleneck, for BBR (default), CUBIC and
 *     NewReno. Targets for BBR: >= 95 / 90 / 80 % and p95 <= 25 ms.
 *  2. Behind a token-bucket policer (12.5 MB/s, 1 MB burst: `punchcat serve`'s per-room relay
 *     limit; no queue, the excess dropped) at 10 and 50 ms RTT, BBR only: goodput as a fraction
 *     of the policed rate, and retransmitted bytes as a fraction of those delivered. Targets:
 *     >= 85 % and <= 10 %.
 *  3. CPU cost of the core: 1 GiB over a 10 Gbit/s, 1 ms RTT path, time spent inside the
 *     stream_* calls of both sides per GiB (no crypto; 1171-byte and 65000-byte payloads);
 *     and the core alone, two streams back to back without the simulator.
 * Virtual time; the figures are deterministic except the CPU times.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

#define SEC UINT64_C(1000000)

static double
cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
bulk(enum stream_cc cc, double loss, uint64_t seconds)
{
	struct sim_config cfg;
	struct sim sim;
	struct stream_stats st;
	double link = 100e6, goodput, frac;

	sim_config_default(&cfg);
	cfg.crypto = false;
	cfg.bytes[0] = UINT64_C(1) << 40;
	cfg.bytes[1] = 0;
	for (int i = 0; i < 2; i++) {
		cfg.link[i].delay_us = 25000;
		cfg.link[i].rate_bps = (uint64_t)link;
		cfg.link[i].queue_bytes = (uint64_t)(link / 8 * 0.05);	/* one BDP */
		cfg.link[i].loss = loss;
		cfg.stream[i].cc = cc;
	}
	if (sim_init(&sim, &cfg) != 0)
		return -1;
	sim_run_until(&sim, seconds * SEC);
	stream_get_stats(sim.node[0].s, &st);
	goodput = (double)sim.node[1].received * 8 / (double)seconds;
	frac = goodput / ((1 - loss) * link);
	printf("| %-7s | %4.0f %% | %7.2f Mbit/s | %11.1f %% | %8.1f ms | %8.1f ms | %9llu |\n",
	    stream_cc_name(cc), loss * 100, goodput / 1e6, frac * 100,
	    (double)sim_qdelay_percentile(&sim.link[0], 0.5) / 1000,
	    (double)sim_qdelay_percentile(&sim.link[0], 0.95) / 1000,
	    (unsigned long long)st.packets_lost);
	if (sim.node[1].mismatch_at != 0) {
		fprintf(stderr, "bench_stream: wrong byte delivered\n");
		sim_free(&sim);
		return -1;
	}
	sim_free(&sim);
	return 0;
}

static int
policed(uint64_t rtt_us, uint64_t seconds)
{
	const uint64_t rate = 12500000, burst = 1000000;	/* bytes/s, bytes */
	struct sim_config cfg;
	struct sim sim;
	struct stream_stats st;
	double goodput;

	sim_config_default(&cfg);
	cfg.crypto = false;
	cfg.bytes[0] = UINT64_C(1) << 40;
	cfg.bytes[1] = 0;
	for (int i = 0; i < 2; i++) {
		memset(&cfg.link[i], 0, sizeof cfg.link[i]);
		cfg.link[i].delay_us = rtt_us / 2;
	}
	cfg.link[0].police_rate_bps = rate * 8;
	cfg.link[0].police_burst = burst;
	if (sim_init(&sim, &cfg) != 0)
		return -1;
	sim_run_until(&sim, seconds * SEC);
	stream_get_stats(sim.node[0].s, &st);
	goodput = (double)sim.node[1].received / (double)seconds;
	printf("| %4llu ms | %8.2f MB/s | %9.1f %% | %11.1f %% | %13llu |\n",
	    (unsigned long long)(rtt_us / 1000), goodput / 1e6, goodput / (double)rate * 100,
	    (double)st.bytes_retransmitted / (double)sim.node[1].received * 100,
	    (unsigned long long)sim.link[0].dropped_police);
	if (sim.node[1].mismatch_at != 0) {
		fprintf(stderr, "bench_stream: wrong byte delivered\n");
		sim_free(&sim);
		return -1;
	}
	sim_free(&sim);
	return 0;
}

static int
cpu_cost(size_t payload)
{
	struct sim_config cfg;
	struct sim sim;
	char why[200];
	uint64_t bytes = UINT64_C(1) << 30;
	double t0 = cpu_seconds(), total, core;

	sim_config_default(&cfg);
	cfg.crypto = false;
	cfg.measure_core = true;
	cfg.bytes[0] = bytes;
	for (int i = 0; i < 2; i++) {
		cfg.link[i].delay_us = 500;
		cfg.link[i].rate_bps = UINT64_C(10000000000);
		cfg.link[i].queue_bytes = 4000000;
		cfg.stream[i].max_payload = payload;
	}
	if (sim_init(&sim, &cfg) != 0)
		return -1;
	sim_run(&sim);
	total = cpu_seconds() - t0;
	core = sim_core_seconds(&sim, 0) + sim_core_seconds(&sim, 1);
	if (!sim_ok(&sim, why, sizeof why)) {
		fprintf(stderr, "bench_stream: %s\n", why);
		sim_free(&sim);
		return -1;
	}
	printf("| %5zu B | %5.2f s | %6.3f s/GiB | %7.3f s/GiB | %5.2f Gbit/s |\n", payload,
	    (double)sim.now / 1e6, core, total, (double)bytes * 8 / ((double)sim.now / 1e6) / 1e9);
	sim_free(&sim);
	return 0;
}

/* The core alone: two streams passing packets straight to each other (no simulator, no
 * crypto, the application neither fills nor reads the bytes), virtual time advancing 1 us
 * per packet. Process CPU time per GiB delivered = the core's own cost, copies included. */
static int
direct_pair(size_t payload)
{
	static uint8_t pkts[64][STREAM_PAYLOAD_MAX];
	size_t lens[64];
	uint64_t pns[64], now = 0, bytes = UINT64_C(1) << 30, got = 0;
	struct stream_config cfg;
	struct stream *a, *b;
	double t0;

	stream_config_default(&cfg);
	cfg.max_payload = payload;
	a = stream_new(&cfg, 0);
	b = stream_new(&cfg, 0);
	if (a == NULL || b == NULL)
		return -1;
	t0 = cpu_seconds();
	while (got < bytes) {
		size_t room, n = 0, len;
		const uint8_t *data;

		stream_write_reserve(a, &room);
		stream_write_commit(a, room);
		if (stream_deadline(a) <= now)
			stream_on_timeout(a, now);
		while (n < 64 && (lens[n] = stream_next_packet(a, now, pkts[n], payload, &pns[n])))
			n++;
		for (size_t i = 0; i < n; i++) {
			now++;
			stream_on_packet(b, now, pns[i], pkts[i], lens[i]);
		}
		while ((stream_read_peek(b, &data, &len), len > 0)) {
			stream_read_consume(b, len);
			got += len;
		}
		if (stream_deadline(b) <= now)
			stream_on_timeout(b, now);
		while ((len = stream_next_packet(b, now, pkts[0], payload, &pns[0])) > 0)
			stream_on_packet(a, now, pns[0], pkts[0], len);
		if (n == 0)
			now += 10;
	}
	printf("| %5zu B | %6.3f s/GiB |\n", payload, (cpu_seconds() - t0) * (double)(UINT64_C(1) << 30) /
	    (double)got);
	stream_free(a);
	stream_free(b);
	return 0;
}

int
main(int argc, char **argv)
{
	uint64_t seconds = argc > 1 ? strtoull(argv[1], NULL, 10) : 60;
	const double losses[] = { 0, 0.01, 0.05 };
	const enum stream_cc ccs[] = { STREAM_CC_BBR, STREAM_CC_CUBIC, STREAM_CC_NEWRENO };

	printf("\nstream: 100 Mbit/s, 50 ms RTT, 1-BDP drop-tail queue, %llu s, random loss\n\n",
	    (unsigned long long)seconds);
	printf("| cc      | loss   | goodput        | of (1-p) link | qdelay p50 | qdelay p95 | lost pkts |\n");
	printf("|---------|--------|----------------|---------------|------------|------------|-----------|\n");
	for (size_t c = 0; c < 3; c++)
		for (size_t l = 0; l < 3; l++)
			if (bulk(ccs[c], losses[l], seconds) != 0)
				return 1;
	printf("\nstream: bbr behind a token-bucket policer, 12.5 MB/s, 1 MB burst, %llu s\n\n",
	    (unsigned long long)seconds);
	printf("| rtt     | goodput       | of policed  | retransmitted | policed drops |\n");
	printf("|---------|---------------|-------------|---------------|---------------|\n");
	if (policed(10000, seconds) != 0 || policed(50000, seconds) != 0)
		return 1;
	printf("\nstream core CPU: 1 GiB, 10 Gbit/s, 1 ms RTT, no crypto (both sides)\n\n");
	printf("| payload | virtual | core CPU     | sim total CPU | rate         |\n");
	printf("|---------|---------|--------------|---------------|--------------|\n");
	if (cpu_cost(1171) != 0 || cpu_cost(65000) != 0)
		return 1;
	printf("\nstream core alone: two cores back to back, 1 GiB, no simulator (both sides)\n\n");
	printf("| payload | CPU          |\n");
	printf("|---------|--------------|\n");
	if (direct_pair(1171) != 0 || direct_pair(65000) != 0)
		return 1;
	return 0;
}
