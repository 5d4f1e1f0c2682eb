/*
 * Path MTU search: the decisions of src/pmtu.c step by step, then the stream in the simulator
 * on links that carry 1500-byte packets, only 1280-byte ones, and one whose MTU drops in the
 * middle of a transfer (a black hole). Probes must raise the payload where they fit, cost no
 * retransmission or congestion response where they do not, and a black hole must not stall a
 * transfer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "packet.h"
#include "pmtu.h"
#include "sim.h"
#include "stream.h"

#define MS UINT64_C(1000)
#define SEC UINT64_C(1000000)
#define BASE STREAM_PAYLOAD_DEFAULT
#define CEIL (1500 - 20 - 8 - PKT_OVERHEAD)

static void
search_goes_up_then_stops(void **state)
{
	struct pmtu m;
	uint64_t q;

	(void)state;
	memset(&m, 0, sizeof m);
	pmtu_start(&m, 0, BASE, CEIL);
	assert_int_equal(pmtu_due(&m, 0), CEIL);
	q = pmtu_on_sent(&m);
	assert_int_equal(pmtu_due(&m, 0), 0);		/* one at a time */
	assert_int_equal(pmtu_deadline(&m), UINT64_MAX);
	assert_int_equal(pmtu_on_acked(&m, 10, CEIL, q), CEIL);
	assert_int_equal(pmtu_due(&m, 10 * SEC * 1000), 0);	/* done for good */
	/* a ceiling at or below the base: no search */
	pmtu_start(&m, 0, BASE, BASE);
	assert_int_equal(pmtu_due(&m, 0), 0);
	/* stopped: a late ack changes nothing */
	pmtu_start(&m, 0, BASE, CEIL);
	q = pmtu_on_sent(&m);
	pmtu_stop(&m);
	assert_int_equal(pmtu_on_acked(&m, 5, CEIL, q), BASE);
	assert_int_equal(pmtu_due(&m, 5), 0);
}

static void
losses_try_half_way_then_wait(void **state)
{
	struct pmtu m;
	size_t mid = BASE + (CEIL - BASE) / 2;
	uint64_t q;

	(void)state;
	memset(&m, 0, sizeof m);
	pmtu_start(&m, 0, BASE, CEIL);
	for (int i = 0; i < PMTU_MAX_PROBES; i++) {
		assert_int_equal(pmtu_due(&m, 100), CEIL);
		q = pmtu_on_sent(&m);
		pmtu_on_lost(&m, 100, CEIL, q);
	}
	assert_int_equal(pmtu_due(&m, 100), mid);
	for (int i = 0; i < PMTU_MAX_PROBES; i++) {
		q = pmtu_on_sent(&m);
		pmtu_on_lost(&m, 200, mid, q);
	}
	/* nothing fits: the ceiling again after the raise timer */
	assert_int_equal(pmtu_due(&m, 200), 0);
	assert_true(pmtu_deadline(&m) == 200 + PMTU_RAISE_US);
	assert_int_equal(pmtu_due(&m, 200 + PMTU_RAISE_US), CEIL);
	/* half way fits: use it, try the ceiling again only later */
	pmtu_start(&m, 0, BASE, CEIL);
	for (int i = 0; i < PMTU_MAX_PROBES; i++) {
		q = pmtu_on_sent(&m);
		pmtu_on_lost(&m, 100, CEIL, q);
	}
	q = pmtu_on_sent(&m);
	assert_int_equal(pmtu_on_acked(&m, 300, mid, q), mid);
	assert_int_equal(pmtu_due(&m, 300), 0);
	assert_int_equal(pmtu_due(&m, 300 + PMTU_RAISE_US), CEIL);
	/* a loss report for another size (an old probe) is not counted */
	pmtu_on_lost(&m, 400, mid, q);
	assert_int_equal(pmtu_due(&m, 300 + PMTU_RAISE_US), CEIL);
}

static void
black_hole_falls_back_and_retries(void **state)
{
	struct pmtu m;
	uint64_t q;

	(void)state;
	memset(&m, 0, sizeof m);
	pmtu_start(&m, 0, BASE, CEIL);
	q = pmtu_on_sent(&m);
	assert_int_equal(pmtu_on_acked(&m, 10, CEIL, q), CEIL);
	assert_int_equal(pmtu_black_hole(&m, 1000), BASE);
	assert_int_equal(pmtu_due(&m, 1000), 0);
	/* a late ack of the probe from before the black hole proves nothing now */
	assert_int_equal(pmtu_on_acked(&m, 1001, CEIL, q), BASE);
	assert_int_equal(pmtu_due(&m, 1000 + PMTU_BLACK_HOLE_RETRY_US), CEIL);
}

/*
 * Found by fuzz_stream: late loss reports of probes sent before the current size was chosen
 * (declared lost after a smaller probe succeeded) counted against the ceiling, so the search
 * probed again at once instead of after the raise timer.
 */
static void
late_losses_of_older_probes_do_not_count(void **state)
{
	struct pmtu m;
	size_t mid = BASE + (CEIL - BASE) / 2;
	uint64_t old[PMTU_MAX_PROBES], q;

	(void)state;
	memset(&m, 0, sizeof m);
	pmtu_start(&m, 0, BASE, CEIL);
	for (int i = 0; i < PMTU_MAX_PROBES; i++) {
		old[i] = pmtu_on_sent(&m);
		pmtu_on_lost(&m, 100, CEIL, old[i]);
	}
	q = pmtu_on_sent(&m);
	assert_int_equal(pmtu_on_acked(&m, 200, mid, q), mid);
	for (int i = 0; i < PMTU_MAX_PROBES; i++)
		pmtu_on_lost(&m, 300, CEIL, old[i]);	/* reported again, late */
	assert_int_equal(pmtu_due(&m, 300), 0);
	assert_true(pmtu_deadline(&m) == 200 + PMTU_RAISE_US);
}

/* 20 ms each way, 100 Mbit/s, queue of two BDP; streams may use up to CEIL. */
static void
pmtu_config(struct sim_config *cfg, size_t link_mtu, uint64_t bytes)
{
	sim_config_default(cfg);
	cfg->bytes[0] = bytes;
	cfg->crypto = true;
	for (int i = 0; i < 2; i++) {
		memset(&cfg->link[i], 0, sizeof cfg->link[i]);
		cfg->link[i].delay_us = 20 * MS;
		cfg->link[i].rate_bps = 100000000;
		cfg->link[i].queue_bytes = 1000000;
		cfg->link[i].mtu = link_mtu;
		cfg->stream[i].max_payload = CEIL;
	}
	cfg->pmtu_base = BASE;
	cfg->pmtu_ceiling = CEIL;
	cfg->max_time_us = 120 * SEC;
}

static void
run_ok(struct sim *sim, const struct sim_config *cfg, struct stream_stats *st)
{
	char why[200];

	assert_int_equal(sim_init(sim, cfg), 0);
	sim_run(sim);
	if (!sim_ok(sim, why, sizeof why))
		fail_msg("%s", why);
	stream_get_stats(sim->node[0].s, st);
}

static void
sim_ethernet_path_reaches_the_ceiling(void **state)
{
	struct sim_config cfg;
	struct sim sim;
	struct stream_stats st;

	(void)state;
	pmtu_config(&cfg, 1500 - 28, 20 << 20);
	run_ok(&sim, &cfg, &st);
	assert_int_equal(st.payload, CEIL);
	assert_true(st.pmtu_probes >= 1 && st.pmtu_probes <= 2);
	assert_int_equal(sim.link[0].dropped_mtu, 0);
	print_message("    1500-byte MTU: payload %llu after %llu probes, %llu packets for 20 MiB\n",
	    (unsigned long long)st.payload, (unsigned long long)st.pmtu_probes,
	    (unsigned long long)st.packets_sent);
	sim_free(&sim);
}

static void
sim_small_mtu_costs_nothing(void **state)
{
	struct sim_config cfg;
	struct sim sim;
	struct stream_stats st;
	uint64_t done, retx;

	(void)state;
	pmtu_config(&cfg, 1280 - 28, 20 << 20);
	/* CUBIC: a loss-based controller would slow down if a lost probe counted */
	cfg.stream[0].cc = cfg.stream[1].cc = STREAM_CC_CUBIC;
	run_ok(&sim, &cfg, &st);
	assert_int_equal(st.payload, BASE);
	/* three at the ceiling, three half way, then the raise timer (longer than the run) */
	assert_int_equal(st.pmtu_probes, 2 * PMTU_MAX_PROBES);
	assert_int_equal(sim.link[0].dropped_mtu, 2 * PMTU_MAX_PROBES);
	/* lost probes are not lost data, nor congestion: the transfer goes as fast and
	 * sends as much again as the same one without a search */
	done = sim.node[1].done_at;
	retx = st.bytes_retransmitted;
	sim_free(&sim);
	cfg.pmtu_ceiling = 0;
	cfg.stream[0].max_payload = cfg.stream[1].max_payload = BASE;
	run_ok(&sim, &cfg, &st);
	print_message("    1280-byte MTU, CUBIC: done at %.3f s, %llu bytes again with the search; "
	    "%.3f s, %llu without\n", (double)done / SEC, (unsigned long long)retx,
	    (double)sim.node[1].done_at / SEC, (unsigned long long)st.bytes_retransmitted);
	assert_true(done <= sim.node[1].done_at + sim.node[1].done_at / 50);
	assert_true(retx <= st.bytes_retransmitted + st.bytes_retransmitted / 10 + 65536);
	sim_free(&sim);
}

static void
sim_black_hole_does_not_stall(void **state)
{
	struct sim_config cfg;
	struct sim sim;
	struct stream_stats st;

	(void)state;
	pmtu_config(&cfg, 1500 - 28, 60 << 20);
	cfg.mtu_change_at_us = 2 * SEC;		/* mid-transfer: only 1280-byte packets pass */
	cfg.mtu_after = 1280 - 28;
	run_ok(&sim, &cfg, &st);
	assert_int_equal(st.payload, BASE);
	assert_true(sim.link[0].dropped_mtu > 0);
	assert_true(sim.node[1].done_at < 20 * SEC);
	print_message("    black hole at 2 s: 60 MiB done at %.2f s, %llu PTOs\n",
	    (double)sim.node[1].done_at / SEC, (unsigned long long)st.pto_count);
	sim_free(&sim);
}

static void
sim_path_switch_starts_over(void **state)
{
	struct sim_config cfg;
	struct sim sim;
	struct stream_stats st;

	(void)state;
	pmtu_config(&cfg, 1500 - 28, 30 << 20);
	cfg.switch_at_us = 1 * SEC;
	for (int i = 0; i < 2; i++) {
		cfg.switch_link[i] = cfg.link[i];
		cfg.switch_link[i].mtu = 1400 - 28;	/* the new path carries less */
	}
	run_ok(&sim, &cfg, &st);
	/* the ceiling does not fit the new path; half way does */
	assert_int_equal(st.payload, BASE + (CEIL - BASE) / 2);
	sim_free(&sim);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(search_goes_up_then_stops),
		cmocka_unit_test(losses_try_half_way_then_wait),
		cmocka_unit_test(black_hole_falls_back_and_retries),
		cmocka_unit_test(late_losses_of_older_probes_do_not_count),
		cmocka_unit_test(sim_ethernet_path_reaches_the_ceiling),
		cmocka_unit_test(sim_small_mtu_costs_nothing),
		cmocka_unit_test(sim_black_hole_does_not_stall),
		cmocka_unit_test(sim_path_switch_starts_over),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
