/*
 * The default controller (BBR) behind a token-bucket policer, as `punchcat serve` enforces on
 * each relayed room: a bucket of `burst` bytes refilled at `rate`, no queue, whatever exceeds
 * it dropped. Bandwidth probing above the policed rate only buys losses there, so the
 * controller must settle at the policed rate: every byte delivered in order, goodput >= 85 %
 * of the policed rate, and retransmitted bytes <= 10 % of the bytes delivered.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sim.h"
#include "stream.h"

#define MS UINT64_C(1000)
#define SEC UINT64_C(1000000)

/* A relay on the path: the sender's datagrams are policed; nothing else limits the rate. */
static void
policed_run(uint64_t rtt_us, uint64_t seconds)
{
	const uint64_t rate = 12500000, burst = 1000000;	/* serve's defaults, bytes/s, bytes */
	struct sim_config cfg;
	struct sim sim;
	struct stream_stats st;
	char why[200];
	double goodput, retrans;

	sim_config_default(&cfg);
	cfg.crypto = false;
	/* What the policed rate carries in `seconds`, in application bytes. */
	cfg.bytes[0] = rate * seconds * (STREAM_PAYLOAD_DEFAULT - 20) / (STREAM_PAYLOAD_DEFAULT + 29);
	cfg.bytes[1] = 0;
	for (int i = 0; i < 2; i++) {
		memset(&cfg.link[i], 0, sizeof cfg.link[i]);
		cfg.link[i].delay_us = rtt_us / 2;
	}
	cfg.link[0].police_rate_bps = rate * 8;
	cfg.link[0].police_burst = burst;
	cfg.max_time_us = 4 * seconds * SEC;
	assert_int_equal(sim_init(&sim, &cfg), 0);
	sim_run(&sim);
	if (!sim_ok(&sim, why, sizeof why))
		fail_msg("rtt %llu ms: %s", (unsigned long long)(rtt_us / MS), why);
	stream_get_stats(sim.node[0].s, &st);
	goodput = (double)cfg.bytes[0] / ((double)sim.node[1].done_at / 1e6);
	retrans = (double)st.bytes_retransmitted / (double)cfg.bytes[0];
	print_message("rtt %3llu ms: %.2f s, goodput %.2f MB/s = %.1f %% of the policed rate, "
	    "retransmitted %.1f %%, policed drops %llu of %llu datagrams\n",
	    (unsigned long long)(rtt_us / MS), (double)sim.node[1].done_at / 1e6, goodput / 1e6,
	    goodput / (double)rate * 100, retrans * 100,
	    (unsigned long long)sim.link[0].dropped_police, (unsigned long long)sim.link[0].sent);
	assert_true(goodput >= 0.85 * (double)rate);
	assert_true(retrans <= 0.10);
	sim_free(&sim);
}

static void test_policed_10ms(void **state) { policed_run(10 * MS, 20); }
static void test_policed_50ms(void **state) { policed_run(50 * MS, 20); }

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policed_10ms),
		cmocka_unit_test(test_policed_50ms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
