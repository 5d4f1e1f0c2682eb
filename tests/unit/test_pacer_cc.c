/* Pacer bursts and timing; congestion controllers' reactions to acknowledgments and loss. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cc.h"
#include "pacer.h"

#define MSS 1200

static void
test_pacer_rate_and_burst(void **state)
{
	struct pacer p;
	uint64_t now = 1000000, sent = 0;
	int burst = 0;

	pacer_init(&p, MSS, now);
	pacer_set_rate(&p, 12500000, MSS);	/* 100 Mbit/s: 1 ms = 12500 bytes */
	now += 2000;				/* the bucket fills up in 1 ms */
	while (pacer_can_send(&p, now, MSS)) {
		pacer_on_sent(&p, MSS);
		burst++;
	}
	assert_int_equal(burst, 12500 / MSS);	/* a bucket holds 1 ms */
	/* Then one packet per 96 us, exactly on time. */
	for (int i = 0; i < 1000; i++) {
		uint64_t t = pacer_next_time(&p, now, MSS);

		assert_true(t > now || i == 0);
		now = t;
		assert_true(pacer_can_send(&p, now, MSS));
		pacer_on_sent(&p, MSS);
		sent += MSS;
	}
	/* 1000 packets at 12.5 MB/s take 96 ms (no drift from rounding). */
	assert_true(now - 1002000 >= 95900 && now - 1002000 <= 96100);
	/* After idling, the burst is still one bucket. */
	now += 5000000;
	burst = 0;
	while (pacer_can_send(&p, now, MSS)) {
		pacer_on_sent(&p, MSS);
		burst++;
	}
	assert_int_equal(burst, 12500 / MSS);
	(void)sent;
}

static void
test_pacer_fast_and_grant(void **state)
{
	struct pacer p;
	int burst = 0;

	pacer_init(&p, MSS, 0);
	pacer_set_rate(&p, 1000000000, MSS);	/* 1 GB/s: a 1 ms bucket is 833 packets */
	while (pacer_can_send(&p, 5000, MSS) && burst < 10000) {
		pacer_on_sent(&p, MSS);
		burst++;
	}
	assert_true(burst >= 64);
	pacer_set_rate(&p, 10000, MSS);		/* slow: bucket of 2 packets... */
	pacer_grant(&p, 10 * MSS);		/* ...but an initial window leaves at once */
	burst = 0;
	while (pacer_can_send(&p, 5000, MSS) && burst < 100) {
		pacer_on_sent(&p, MSS);
		burst++;
	}
	assert_int_equal(burst, 10);
}

static struct cc_ack
ack_of(uint64_t now, uint64_t bytes, uint64_t rate, uint64_t delivered, uint64_t rtt)
{
	struct cc_ack a;

	memset(&a, 0, sizeof a);
	a.now = now;
	a.acked_bytes = bytes;
	a.rtt_us = rtt;
	a.min_rtt_us = rtt;
	a.srtt_us = rtt;
	a.delivery_rate = rate;
	a.delivered = delivered;
	a.prior_delivered = delivered > bytes ? delivered - bytes : 0;
	a.largest_sent_time = now - rtt;
	return a;
}

/* BBR: with a steady 10 MB/s delivery rate and 50 ms RTT it leaves STARTUP and settles at a
 * pacing rate near 10 MB/s and a window near 2 BDP; loss does not change that. */
static void
test_bbr_model(void **state)
{
	struct cc c;
	uint64_t now = 0, delivered = 0, bdp = 10000000 / 20;

	cc_init(&c, STREAM_CC_BBR, MSS, 100000, 0);
	for (int round = 0; round < 40; round++) {
		for (int k = 0; k < 10; k++) {
			struct cc_ack a;

			now += 5000;
			delivered += 50000;
			a = ack_of(now, 50000, 10000000, delivered, 50000);
			a.prior_delivered = delivered - 500000;	/* one round = 10 acks */
			a.bytes_in_flight = bdp;
			cc_on_ack(&c, &a);
		}
	}
	assert_true(c.u.bbr.filled_pipe);
	assert_true(c.pacing_rate >= 7500000 && c.pacing_rate <= 12500000);
	assert_true(c.cwnd >= 2 * bdp && c.cwnd <= 4 * bdp);
	cc_on_loss(&c, now, 10 * MSS, now - 1000, bdp);
	assert_true(c.cwnd >= 2 * bdp);
}

/* Steady BBR rounds of 50 ms at 10 MB/s with RTT samples of `rtt` plus 0.1 to 3 ms of jitter
 * (so none refreshes the minimum itself); returns the smallest window seen. */
static uint64_t
bbr_rounds(struct cc *c, uint64_t *now, uint64_t *delivered, int rounds, uint64_t rtt)
{
	uint64_t bdp = 10000000 / 20, low = UINT64_MAX;

	for (int round = 0; round < rounds; round++) {
		for (int k = 0; k < 10; k++) {
			struct cc_ack a;

			*now += 5000;
			*delivered += 50000;
			a = ack_of(*now, 50000, 10000000, *delivered,
			    rtt + 100 + (uint64_t)((round * 10 + k) * 337 % 2900));
			a.prior_delivered = *delivered - 500000;
			a.bytes_in_flight = c->cwnd < bdp ? c->cwnd : bdp;
			cc_on_ack(c, &a);
			if (c->cwnd < low)
				low = c->cwnd;
		}
	}
	return low;
}

/* PROBE_RTT is skipped while the RTT keeps coming back near its minimum (23 s: two skips, the
 * window never shrinks), and happens when a standing queue hides it (RTT 60 % up for 13 s:
 * the window drops to half a BDP). */
static void
test_bbr_probe_rtt_skip(void **state)
{
	struct cc c;
	uint64_t now = 0, delivered = 0, bdp = 10000000 / 20, low;

	cc_init(&c, STREAM_CC_BBR, MSS, 100000, 0);
	(void)bbr_rounds(&c, &now, &delivered, 1, 49000);	/* the minimum: 49.1 ms */
	(void)bbr_rounds(&c, &now, &delivered, 40, 50000);
	assert_true(c.u.bbr.filled_pipe);
	low = bbr_rounds(&c, &now, &delivered, 460, 50000);
	assert_int_equal(c.u.bbr.probe_rtt_skipped, 2);
	assert_true(low >= 2 * bdp);
	/* PROBE_RTT takes the RTT of that moment as the minimum: half of 10 MB/s x 80 ms. */
	low = bbr_rounds(&c, &now, &delivered, 260, 80000);
	assert_int_equal(c.u.bbr.probe_rtt_skipped, 2);
	assert_true(low <= 400000 + 4 * MSS);
}

static void
test_cubic_and_reno_decrease(void **state)
{
	struct cc c;
	uint64_t before;

	cc_init(&c, STREAM_CC_CUBIC, MSS, 100000, 0);
	before = c.cwnd;
	cc_on_loss(&c, 1000, MSS, 500, before);
	assert_true(c.cwnd == (uint64_t)((double)before * 0.7));
	/* A second loss of a packet sent before the reduction is the same event. */
	cc_on_loss(&c, 2000, MSS, 900, before);
	assert_true(c.cwnd == (uint64_t)((double)before * 0.7));
	cc_on_spurious(&c, 3000);
	assert_true(c.cwnd == before);

	cc_init(&c, STREAM_CC_NEWRENO, MSS, 100000, 0);
	before = c.cwnd;
	cc_on_loss(&c, 1000, MSS, 500, before);
	assert_true(c.cwnd == before / 2);
	cc_on_persistent_congestion(&c, 2000);
	assert_true(c.cwnd == CC_MIN_CWND_PACKETS * MSS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pacer_rate_and_burst),
		cmocka_unit_test(test_pacer_fast_and_grant),
		cmocka_unit_test(test_bbr_model),
		cmocka_unit_test(test_bbr_probe_rtt_skip),
		cmocka_unit_test(test_cubic_and_reno_decrease),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
