/*
 * The stream core end to end in the simulator, across a grid of networks: both directions at
 * once, every byte checked, both sides must finish cleanly (STREAM_DONE). Each seed picks a
 * scenario (loss 0-30 % random or bursty, RTT 1-300 ms, rate 1-1000 Mbit/s, queue, jitter,
 * reordering, duplication, corruption, asymmetric links, path switch, packet size, congestion
 * controller, transfer sizes including zero); a failure prints the seed and the scenario.
 * The simulator checks its invariants (sim.h) after every event. tests/unit/test_stream_torture.c
 * is the hostile counterpart: small transfers, everything at once, rekeys, many path switches.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sim.h"

static uint64_t
mix(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t
pick(uint64_t *x, const uint64_t *v, size_t n)
{
	return v[mix(x) % n];
}

static double
pickd(uint64_t *x, const double *v, size_t n)
{
	return v[mix(x) % n];
}

#define PICK(x, ...) pick(x, (const uint64_t[]){ __VA_ARGS__ }, \
	sizeof((const uint64_t[]){ __VA_ARGS__ }) / sizeof(uint64_t))
#define PICKD(x, ...) pickd(x, (const double[]){ __VA_ARGS__ }, \
	sizeof((const double[]){ __VA_ARGS__ }) / sizeof(double))

static void
random_link(uint64_t *x, struct sim_link_cfg *l, double loss, uint64_t rtt_us, uint64_t rate,
    uint64_t payload)
{
	memset(l, 0, sizeof *l);
	l->delay_us = rtt_us / 2;
	l->rate_bps = rate;
	/* Queue from a tenth of a BDP to two BDPs (at least a few packets). */
	l->queue_bytes = rate / 8 * rtt_us / 1000000 * PICK(x, 1, 5, 10, 20) / 10 +
	    4 * (payload + PKT_OVERHEAD);
	if (mix(x) % 4 == 0) {
		/* Bursty: mean burst of 1/leave packets. */
		l->ge_enter_bad = loss / 4 + 0.001;
		l->ge_leave_bad = 0.25;
		l->ge_loss_bad = 0.8;
	} else {
		l->loss = loss;
	}
	if (mix(x) % 3 == 0)
		l->jitter_us = PICK(x, 100, 1000, 5000);
	if (mix(x) % 4 == 0) {
		l->reorder = PICKD(x, 0.01, 0.05, 0.2);
		l->reorder_us = PICK(x, 500, 5000, 20000);
	}
	if (mix(x) % 4 == 0)
		l->duplicate = PICKD(x, 0.01, 0.1);
	if (mix(x) % 5 == 0)
		l->corrupt = PICKD(x, 0.001, 0.01, 0.05);
}

/* A scenario from a seed, described in desc. */
static void
scenario(uint64_t seed, struct sim_config *cfg, char *desc, size_t cap)
{
	uint64_t x = seed * 7919 + 17;
	double loss = PICKD(&x, 0, 0, 0.01, 0.02, 0.05, 0.1, 0.3);
	uint64_t rtt = PICK(&x, 1, 10, 50, 150, 300) * 1000;
	uint64_t rate = PICK(&x, 1, 10, 100, 1000) * 1000000;
	uint64_t payload = PICK(&x, 1171, 1171, 1171, 1400, 8000, 65000);
	enum stream_cc cc = (enum stream_cc)PICK(&x, 0, 0, 0, 1, 2);
	/* Bytes: up to ~2 s of the link rate (zero-length streams too), less when lossy. */
	uint64_t most = rate / 8 * (loss >= 0.1 ? 1 : 2);
	int n;

	sim_config_default(cfg);
	cfg->seed = seed;
	if (most > 3000000)
		most = 3000000;
	for (int i = 0; i < 2; i++) {
		uint64_t kind = mix(&x) % 8;

		cfg->bytes[i] = kind == 0 ? 0 : kind == 1 ? mix(&x) % 3000 : mix(&x) % most;
		cfg->stream[i].max_payload = payload;
		cfg->stream[i].cc = cc;
		cfg->stream[i].seed = seed + (uint64_t)i;
		random_link(&x, &cfg->link[i], loss, rtt, rate, payload);
	}
	if (mix(&x) % 4 == 0) {
		/* Asymmetric: the reverse direction slower and cleaner (or not). */
		cfg->link[1].rate_bps = rate / PICK(&x, 2, 10) + 500000;
		cfg->link[1].delay_us = rtt / 4;
	}
	if (payload > 1400)
		for (int i = 0; i < 2; i++)
			cfg->link[i].corrupt = 0;
	if (mix(&x) % 5 == 0) {
		uint64_t rtt2 = PICK(&x, 1, 20, 100) * 1000;

		cfg->switch_at_us = mix(&x) % (rtt * 10 + 1) + 1000;
		cfg->switch_drops_in_flight = mix(&x) % 2 == 0;
		for (int i = 0; i < 2; i++)
			random_link(&x, &cfg->switch_link[i], loss, rtt2, rate, payload);
	}
	if (mix(&x) % 8 == 0)
		cfg->crypto = false;
	(void)0;	/* duplicates then reach the core itself */
	for (int i = 0; i < 2; i++)
		if (!cfg->crypto)
			cfg->link[i].corrupt = cfg->switch_link[i].corrupt = 0;
	cfg->max_time_us = UINT64_C(900) * 1000000;
	n = snprintf(desc, cap, "seed %llu: %s loss %.2f rtt %llums rate %lluMbit payload %llu "
	    "bytes %llu/%llu", (unsigned long long)seed, stream_cc_name(cc), loss,
	    (unsigned long long)(rtt / 1000), (unsigned long long)(rate / 1000000),
	    (unsigned long long)payload, (unsigned long long)cfg->bytes[0],
	    (unsigned long long)cfg->bytes[1]);
	if (n > 0 && (size_t)n < cap)
		snprintf(desc + n, cap - (size_t)n, "%s%s%s%s%s", cfg->link[0].ge_enter_bad > 0 ?
		    " bursty" : "", cfg->link[0].reorder > 0 ? " reorder" : "",
		    cfg->link[0].duplicate > 0 ? " dup" : "", cfg->link[0].corrupt > 0 ?
		    " corrupt" : "", cfg->switch_at_us ? " switch" : "");
}

static int
run_seed(uint64_t seed)
{
	struct sim_config cfg;
	struct sim sim;
	char desc[300], why[200];
	bool ok;

	scenario(seed, &cfg, desc, sizeof desc);
	cfg.check_invariants = true;
	assert_int_equal(sim_init(&sim, &cfg), 0);
	sim_run(&sim);
	ok = sim_ok(&sim, why, sizeof why);
	if (!ok)
		print_error("%s\n  %s\n", desc, why);
	else if (getenv("GRID_VERBOSE"))
		print_message("%s: %.2f s\n", desc, (double)sim.now / 1e6);
	sim_free(&sim);
	return ok ? 0 : 1;
}

static void
grid(uint64_t first, uint64_t count)
{
	int failed = 0;
	const char *only = getenv("GRID_SEED");

	const char *range = getenv("GRID_SEEDS");	/* FIRST:COUNT, for longer hunts */

	if (only != NULL) {
		assert_int_equal(run_seed(strtoull(only, NULL, 10)), 0);
		return;
	}
	if (range != NULL) {
		char *end;

		first = first == 1 ? strtoull(range, &end, 10) : 0;
		count = first != 0 && *end == ':' ? strtoull(end + 1, NULL, 10) : 0;
	}
	for (uint64_t s = first; s < first + count; s++)
		failed += run_seed(s);
	assert_int_equal(failed, 0);
}

static void test_grid_a(void **state) { grid(1, 60); }
static void test_grid_b(void **state) { grid(61, 60); }
static void test_grid_c(void **state) { grid(121, 60); }
static void test_grid_d(void **state) { grid(181, 60); }

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grid_a),
		cmocka_unit_test(test_grid_b),
		cmocka_unit_test(test_grid_c),
		cmocka_unit_test(test_grid_d),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
