/* Loss recovery (RFC 9002): RTT estimation, packet and time thresholds, probe timeouts,
 * spurious losses (adaptive threshold, undo), persistent congestion, protocol errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "rangeset.h"
#include "recovery.h"

#define MS UINT64_C(1000)
#define MSS 1200

struct log {
	int acked, lost, spurious;
	uint64_t last_lost;
};

static void
cb_acked(void *ctx, uint64_t pn, const struct sent_pkt *sp, bool spurious)
{
	struct log *l = ctx;

	l->acked++;
	l->spurious += spurious;
}

static void
cb_lost(void *ctx, uint64_t pn, const struct sent_pkt *sp)
{
	struct log *l = ctx;

	l->lost++;
	l->last_lost = pn;
}

static void
setup(struct recovery *rec, struct log *l, enum stream_cc cc)
{
	struct recovery_cb cb = { .ctx = l, .acked = cb_acked, .lost = cb_lost };

	memset(l, 0, sizeof *l);
	assert_int_equal(recovery_init(rec, 1024, cc, MSS, 100 * MS, 25 * MS, 0, &cb), 0);
}

static void
send_n(struct recovery *rec, uint64_t now, int n)
{
	for (int i = 0; i < n; i++) {
		struct sent_pkt sp = { .size = MSS, .flags = SP_STREAM };

		recovery_on_sent(rec, now, &sp, true);
	}
}

/* Acknowledges the given [lo, hi) ranges (ascending). */
static int
ack(struct recovery *rec, uint64_t now, const struct range *r, size_t n, uint64_t delay)
{
	uint8_t buf[512];
	struct wr w;
	struct rd rd;
	struct frame f;

	wr_init(&w, buf, sizeof buf);
	assert_true(frame_write_ack(&w, r, n, delay, 64));
	rd_init(&rd, buf, wr_len(&w));
	assert_int_equal(frame_parse(&rd, &f), 0);
	return recovery_on_ack(rec, now, &f.u.ack);
}

static void
test_rtt(void **state)
{
	struct recovery rec;
	struct log l;

	setup(&rec, &l, STREAM_CC_NEWRENO);
	send_n(&rec, 0, 1);
	assert_int_equal(ack(&rec, 50 * MS, (const struct range[]){ { 0, 1 } }, 1, 0), 0);
	assert_true(rec.has_rtt && rec.srtt == 50 * MS && rec.min_rtt == 50 * MS);
	assert_true(rec.rttvar == 25 * MS);
	/* A later sample with 10 ms of ack delay counts as 60 - 10 = 50. */
	send_n(&rec, 100 * MS, 1);
	assert_int_equal(ack(&rec, 160 * MS, (const struct range[]){ { 0, 2 } }, 1, 10 * MS), 0);
	assert_true(rec.latest_rtt == 60 * MS && rec.srtt == 50 * MS);
	/* Ack delay above max_ack_delay counts only up to it. */
	send_n(&rec, 200 * MS, 1);
	assert_int_equal(ack(&rec, 300 * MS, (const struct range[]){ { 0, 3 } }, 1, 90 * MS), 0);
	assert_true(rec.srtt == (7 * 50 * MS + 75 * MS) / 8);
	assert_int_equal(l.acked, 3);
	assert_true(rec.bytes_in_flight == 0);
	/* Acknowledging a packet never sent is a protocol error. */
	assert_int_equal(ack(&rec, 300 * MS, (const struct range[]){ { 0, 4 } }, 1, 0), -1);
	recovery_free(&rec);
}

static void
test_packet_threshold(void **state)
{
	struct recovery rec;
	struct log l;

	setup(&rec, &l, STREAM_CC_NEWRENO);
	send_n(&rec, 0, 10);
	/* 0 missing, 1..2 acked: not yet (threshold 3). */
	ack(&rec, 50 * MS, (const struct range[]){ { 1, 3 } }, 1, 0);
	assert_int_equal(l.lost, 0);
	assert_true(rec.loss_time != 0);	/* the time threshold will catch it */
	ack(&rec, 51 * MS, (const struct range[]){ { 1, 4 } }, 1, 0);
	assert_int_equal(l.lost, 1);
	assert_true(l.last_lost == 0);
	assert_true(rec.bytes_in_flight == 6 * MSS);
	/* Loss halved the window (NewReno), which slow start had grown by 2 packets. */
	assert_true(rec.cc.cwnd == (CC_INITIAL_CWND_PACKETS + 2) * MSS / 2);
	recovery_free(&rec);
}

static void
test_time_threshold(void **state)
{
	struct recovery rec;
	struct log l;

	setup(&rec, &l, STREAM_CC_BBR);
	send_n(&rec, 0, 2);
	send_n(&rec, 1 * MS, 1);
	ack(&rec, 41 * MS, (const struct range[]){ { 2, 3 } }, 1, 0);	/* rtt 40 ms */
	assert_int_equal(l.lost, 0);
	/* Loss delay 9/8 x 40 = 45 ms after sending: at 45 ms. */
	assert_true(recovery_deadline(&rec) == 45 * MS);
	recovery_on_timeout(&rec, 44 * MS + 999);
	assert_int_equal(l.lost, 0);
	recovery_on_timeout(&rec, 50 * MS);
	assert_int_equal(l.lost, 2);
	recovery_free(&rec);
}

static void
test_pto(void **state)
{
	struct recovery rec;
	struct log l;
	uint64_t t;

	setup(&rec, &l, STREAM_CC_BBR);
	send_n(&rec, 0, 1);
	ack(&rec, 100 * MS, (const struct range[]){ { 0, 1 } }, 1, 0);
	send_n(&rec, 200 * MS, 3);
	/* PTO = srtt + 4 rttvar + max_ack_delay = 100 + 200 + 25. */
	t = recovery_deadline(&rec);
	assert_true(t == 200 * MS + 325 * MS);
	recovery_on_timeout(&rec, t);
	assert_int_equal(rec.probes, 2);
	assert_int_equal(l.lost, 1);		/* the oldest packet's content, for the probe */
	assert_true(l.last_lost == 1);
	assert_true(rec.bytes_in_flight == 3 * MSS);	/* nothing declared lost */
	/* Backoff: the next one is twice as far. */
	assert_true(recovery_deadline(&rec) == t + 2 * 325 * MS);
	recovery_free(&rec);
}

static void
test_spurious(void **state)
{
	struct recovery rec;
	struct log l;
	uint64_t cwnd_before;

	setup(&rec, &l, STREAM_CC_CUBIC);
	send_n(&rec, 0, 20);
	cwnd_before = rec.cc.cwnd;
	/* 0 reordered behind 1..5: declared lost... */
	ack(&rec, 50 * MS, (const struct range[]){ { 1, 6 } }, 1, 0);
	assert_int_equal(l.lost, 1);
	assert_true(rec.cc.cwnd < cwnd_before);
	/* ...then acknowledged after all: undo, and tolerate that much reordering. */
	ack(&rec, 51 * MS, (const struct range[]){ { 0, 6 } }, 1, 0);
	assert_int_equal(l.spurious, 1);
	assert_true(rec.cc.cwnd == cwnd_before);
	assert_true(rec.reorder_threshold >= 6);
	assert_true(rec.stat_spurious == 1);
	recovery_free(&rec);
}

static void
test_persistent_congestion(void **state)
{
	struct recovery rec;
	struct log l;

	setup(&rec, &l, STREAM_CC_NEWRENO);
	send_n(&rec, 0, 1);
	ack(&rec, 10 * MS, (const struct range[]){ { 0, 1 } }, 1, 0);	/* rtt 10 ms */
	/* Packets spread over 2 s, all lost, then one acknowledged. */
	for (int i = 0; i < 10; i++)
		send_n(&rec, 20 * MS + (uint64_t)i * 200 * MS, 1);
	send_n(&rec, 2100 * MS, 1);
	ack(&rec, 2110 * MS, (const struct range[]){ { 0, 1 }, { 11, 12 } }, 2, 0);
	assert_int_equal(l.lost, 10);
	assert_true(rec.cc.cwnd == CC_MIN_CWND_PACKETS * MSS);
	recovery_free(&rec);
}

/* A path change starts a new congestion window: the packets still on the old path neither use
 * it up nor shrink it when they are lost, and they leave the count as they are acknowledged or
 * lost. (Counted against the new window, 40 relay packets in flight kept the direct path silent
 * for a round trip in the lab.) */
static void
test_path_reset_in_flight(void **state)
{
	struct recovery rec;
	struct log l;
	uint64_t cwnd;

	setup(&rec, &l, STREAM_CC_NEWRENO);
	send_n(&rec, 0, 40);
	ack(&rec, 10 * MS, (const struct range[]){ { 0, 10 } }, 1, 0);
	assert_int_equal(rec.bytes_in_flight, 30 * MSS);
	recovery_path_reset(&rec, 20 * MS, MSS, 0);
	cwnd = rec.cc.cwnd;
	assert_int_equal(rec.bytes_in_flight, 30 * MSS);
	assert_int_equal(recovery_path_in_flight(&rec), 0);
	send_n(&rec, 20 * MS, 5);			/* pn 40..44 on the new path */
	assert_int_equal(recovery_path_in_flight(&rec), 5 * MSS);
	/* Old packets 10..19 acknowledged, then the rest of them lost once new pn 40 is: the
	 * new path's window stays as it was. */
	ack(&rec, 25 * MS, (const struct range[]){ { 10, 20 } }, 1, 0);
	assert_int_equal(rec.old_path_in_flight, 20 * MSS);
	assert_int_equal(recovery_path_in_flight(&rec), 5 * MSS);
	ack(&rec, 30 * MS, (const struct range[]){ { 10, 20 }, { 40, 41 } }, 2, 0);
	assert_int_equal(l.lost, 20);
	assert_true(rec.cc.cwnd >= cwnd);
	assert_int_equal(rec.old_path_in_flight, 0);
	assert_int_equal(rec.bytes_in_flight, 4 * MSS);	/* 41..44 */
	recovery_free(&rec);
}

/* A new path starts from the RTT its check measured (RFC 9002 6.2.2): the probe timeout and
 * the controller's first pacing rate follow it until the first sample replaces it; without
 * one, from the configured default again. (From the 333 ms default, a first flight lost on a
 * 50 ms direct path waited 666 ms for its probe.) */
static void
test_path_reset_rtt_hint(void **state)
{
	struct recovery rec;
	struct log l;

	setup(&rec, &l, STREAM_CC_BBR);
	send_n(&rec, 0, 4);
	ack(&rec, 60 * MS, (const struct range[]){ { 0, 4 } }, 1, 0);
	recovery_path_reset(&rec, 70 * MS, MSS, 40 * MS);
	assert_false(rec.has_rtt);
	assert_int_equal(rec.srtt, 40 * MS);
	assert_int_equal(rec.rttvar, 20 * MS);
	assert_int_equal(rec.cc.srtt_us, 40 * MS);
	/* BBR STARTUP paces the initial window at 2.885 x cwnd per RTT */
	assert_true(rec.cc.pacing_rate > 2 * rec.cc.cwnd * 1000 / 40);
	send_n(&rec, 70 * MS, 2);
	assert_int_equal(recovery_deadline(&rec), 70 * MS + 2 * 40 * MS);
	/* the first sample on the path replaces the hint */
	ack(&rec, 100 * MS, (const struct range[]){ { 4, 5 } }, 1, 0);
	assert_true(rec.has_rtt);
	assert_int_equal(rec.srtt, 30 * MS);
	/* an implausibly small hint counts as the timer granularity; none means the default */
	recovery_path_reset(&rec, 110 * MS, MSS, 5);
	assert_int_equal(rec.srtt, 1 * MS);
	recovery_path_reset(&rec, 120 * MS, MSS, 0);
	assert_int_equal(rec.srtt, 100 * MS);
	assert_int_equal(rec.cc.srtt_us, 100 * MS);
	send_n(&rec, 120 * MS, 1);
	assert_int_equal(recovery_deadline(&rec), 120 * MS + 2 * 100 * MS);
	recovery_free(&rec);
}

static void
test_ring_room(void **state)
{
	struct recovery rec;
	struct log l;

	setup(&rec, &l, STREAM_CC_BBR);
	/* Ack-eliciting packets may fill three quarters; ACK-only ones the rest. */
	while (recovery_has_room(&rec, 0, true))
		send_n(&rec, 0, 1);
	assert_int_equal(rec.next_pn, 768);
	assert_true(recovery_has_room(&rec, 0, false));
	ack(&rec, 10 * MS, (const struct range[]){ { 0, 768 } }, 1, 0);
	assert_true(recovery_has_room(&rec, 10 * MS, true));
	assert_true(rec.base == 768);
	recovery_free(&rec);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rtt),
		cmocka_unit_test(test_packet_threshold),
		cmocka_unit_test(test_time_threshold),
		cmocka_unit_test(test_pto),
		cmocka_unit_test(test_spurious),
		cmocka_unit_test(test_persistent_congestion),
		cmocka_unit_test(test_path_reset_in_flight),
		cmocka_unit_test(test_path_reset_rtt_hint),
		cmocka_unit_test(test_ring_room),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
