/*
 * Congestion control dispatch, and what the loss-based controllers (CUBIC, NewReno) share:
 * one reduction per loss event (RFC 9002 section 7.3.2), undo of a reduction whose losses were
 * spurious, collapse on persistent congestion, and pacing at a multiple of cwnd / srtt.
 */
#include "cc.h"

static uint64_t
min_cwnd(const struct cc *c)
{
	return CC_MIN_CWND_PACKETS * c->mss;
}

/* Loss-based controllers pace at 2x (slow start) or 1.25x cwnd per srtt (as Linux does), so
 * the window, not the pacer, limits them, and bursts stay short. */
static void
loss_based_pacing(struct cc *c)
{
	uint64_t srtt = c->srtt_us > CC_RTT_FLOOR_US ? c->srtt_us : CC_RTT_FLOOR_US;
	uint64_t gain_x4 = c->cwnd < c->ssthresh ? 8 : 5;

	c->pacing_rate = c->cwnd * gain_x4 * 1000000 / 4 / srtt;
}

void
cc_init(struct cc *c, enum stream_cc kind, uint64_t mss, uint64_t initial_rtt_us, uint64_t now)
{
	*c = (struct cc){0};
	c->kind = kind;
	c->mss = mss;
	c->cwnd = CC_INITIAL_CWND_PACKETS * mss;
	c->ssthresh = UINT64_MAX;
	c->srtt_us = initial_rtt_us;
	if (kind == STREAM_CC_BBR)
		cc_bbr_init(c, now);
	else
		loss_based_pacing(c);
}

void
cc_set_mss(struct cc *c, uint64_t mss)
{
	c->mss = mss;
	if (c->cwnd < min_cwnd(c))
		c->cwnd = min_cwnd(c);
}

void
cc_on_ack(struct cc *c, const struct cc_ack *a)
{
	if (a->srtt_us > 0)
		c->srtt_us = a->srtt_us;
	switch (c->kind) {
	case STREAM_CC_BBR:
		cc_bbr_on_ack(c, a);
		return;
	case STREAM_CC_CUBIC:
		cc_cubic_on_ack(c, a);
		break;
	case STREAM_CC_NEWRENO:
		cc_newreno_on_ack(c, a);
		break;
	}
	loss_based_pacing(c);
}

void
cc_on_loss(struct cc *c, uint64_t now, uint64_t lost_bytes, uint64_t largest_sent_time,
    uint64_t bytes_in_flight)
{
	if (c->kind == STREAM_CC_BBR) {
		cc_bbr_on_loss(c, now, lost_bytes, largest_sent_time, bytes_in_flight);
		return;
	}
	/* One reduction per round trip: losses of packets sent before the last reduction
	 * belong to that event. */
	if (c->in_recovery_any && largest_sent_time <= c->recovery_start)
		return;
	c->in_recovery_any = true;
	c->recovery_start = now;
	c->undo_cwnd = c->cwnd;
	c->undo_ssthresh = c->ssthresh;
	c->undo_w_max = c->u.cubic.w_max;
	c->undo_valid = true;
	if (c->kind == STREAM_CC_CUBIC)
		cc_cubic_on_congestion(c, now);
	else
		cc_newreno_on_congestion(c, now);
	if (c->cwnd < min_cwnd(c))
		c->cwnd = min_cwnd(c);
	loss_based_pacing(c);
}

void
cc_on_persistent_congestion(struct cc *c, uint64_t now)
{
	c->undo_valid = false;
	if (c->kind == STREAM_CC_BBR) {
		/* BBR keeps its model; it restarts sending from a small window. */
		c->u.bbr.prior_cwnd = c->cwnd > c->u.bbr.prior_cwnd ? c->cwnd : c->u.bbr.prior_cwnd;
		c->cwnd = min_cwnd(c);
		return;
	}
	c->cwnd = min_cwnd(c);
	c->u.cubic.epoch_start = 0;
	loss_based_pacing(c);
}

void
cc_on_spurious(struct cc *c, uint64_t now)
{
	if (!c->undo_valid || c->kind == STREAM_CC_BBR)
		return;
	c->undo_valid = false;
	if (c->undo_cwnd > c->cwnd)
		c->cwnd = c->undo_cwnd;
	c->ssthresh = c->undo_ssthresh;
	c->u.cubic.w_max = c->undo_w_max;
	c->u.cubic.epoch_start = 0;
	c->in_recovery_any = false;
	loss_based_pacing(c);
}
