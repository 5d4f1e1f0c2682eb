/*
 * BBR (after draft-cardwell-iccrg-bbr-congestion-control, version 1 with two ideas of version 2):
 * the sender keeps a model of the path, the bottleneck bandwidth (windowed maximum of delivery
 * rate samples over 10 round trips) and the round-trip propagation delay (windowed minimum over
 * 10 s), and paces at gain x bandwidth with a window of 2 x bandwidth x min RTT. Random loss
 * does not enter the model, so a few percent of it does not collapse the rate, and pacing at the
 * estimated bandwidth keeps the bottleneck queue short.
 *
 * States: STARTUP (gain 2.885 until the bandwidth stops growing 25 % per round for 3 rounds),
 * DRAIN (empty the queue STARTUP built), PROBE_BW (gains 1.25, 0.75, then 1 for six rounds),
 * PROBE_RTT (every 10 s without a new minimum RTT, shrink to half a BDP for 200 ms + 1 round;
 * version 2's half BDP instead of 4 packets costs little throughput).
 * The BDP uses max(min RTT, CC_RTT_FLOOR_US) so sub-millisecond paths get a usable window; the
 * window also carries the recent ack aggregation (extra acked, from version 2).
 */
#include "cc.h"

enum { BBR_STARTUP, BBR_DRAIN, BBR_PROBE_BW, BBR_PROBE_RTT };

#define BBR_HIGH_GAIN 2.885
#define BBR_CWND_GAIN 2.0
#define BBR_BW_ROUNDS 10
#define BBR_MIN_RTT_WIN_US UINT64_C(10000000)
#define BBR_PROBE_RTT_US UINT64_C(200000)
#define BBR_CYCLE_LEN 8
#define BBR_EXTRA_ACKED_ROUNDS 5
#define BBR_STARTUP_QUEUE_US UINT64_C(2000)

static const double cycle_gain[BBR_CYCLE_LEN] = { 1.25, 0.75, 1, 1, 1, 1, 1, 1 };

/* Kathleen Nichols' windowed maximum (as in Linux lib/minmax.c). */
static uint64_t
minmax_get(const struct cc_minmax *m)
{
	return m->s[0].v;
}

static void
minmax_reset(struct cc_minmax *m, uint64_t t, uint64_t v)
{
	for (int i = 0; i < 3; i++) {
		m->s[i].t = t;
		m->s[i].v = v;
	}
}

static void
minmax_running_max(struct cc_minmax *m, uint64_t win, uint64_t t, uint64_t v)
{
	uint64_t dt;

	if (v >= m->s[0].v || t - m->s[2].t > win) {
		minmax_reset(m, t, v);
		return;
	}
	if (v >= m->s[1].v)
		m->s[2] = m->s[1] = (typeof(m->s[0])){ t, v };
	else if (v >= m->s[2].v)
		m->s[2] = (typeof(m->s[0])){ t, v };
	dt = t - m->s[0].t;
	if (dt > win) {
		m->s[0] = m->s[1];
		m->s[1] = m->s[2];
		m->s[2] = (typeof(m->s[0])){ t, v };
		if (t - m->s[0].t > win) {
			m->s[0] = m->s[1];
			m->s[1] = m->s[2];
		}
	} else if (m->s[1].t == m->s[0].t && dt > win / 4) {
		m->s[2] = m->s[1] = (typeof(m->s[0])){ t, v };
	} else if (m->s[2].t == m->s[1].t && dt > win / 2) {
		m->s[2] = (typeof(m->s[0])){ t, v };
	}
}

static uint64_t
bbr_bw(const struct cc *c)
{
	return minmax_get(&c->u.bbr.bw);
}

/* Bytes in one bandwidth x delay product (min RTT floored), times gain. */
static uint64_t
bbr_bdp(const struct cc *c, double gain)
{
	const struct cc_bbr *b = &c->u.bbr;
	uint64_t rtt = b->min_rtt < CC_RTT_FLOOR_US ? CC_RTT_FLOOR_US : b->min_rtt;

	if (!b->has_rate || b->min_rtt == UINT64_MAX)
		return CC_INITIAL_CWND_PACKETS * c->mss;
	return (uint64_t)((double)bbr_bw(c) * (double)rtt / 1e6 * gain);
}

static uint64_t
bbr_min_cwnd(const struct cc *c)
{
	return CC_MIN_CWND_PACKETS * c->mss;
}

void
cc_bbr_init(struct cc *c, uint64_t now)
{
	struct cc_bbr *b = &c->u.bbr;

	b->min_rtt = UINT64_MAX;
	b->round_min_rtt = UINT64_MAX;
	b->min_rtt_stamp = now;
	b->mode = BBR_STARTUP;
	b->pacing_gain = BBR_HIGH_GAIN;
	b->cwnd_gain = BBR_HIGH_GAIN;
	c->pacing_rate = (uint64_t)(BBR_HIGH_GAIN * (double)c->cwnd * 1e6 /
	    (double)(c->srtt_us > 0 ? c->srtt_us : 1000));
}

static void
enter_probe_bw(struct cc *c, uint64_t now)
{
	struct cc_bbr *b = &c->u.bbr;

	b->mode = BBR_PROBE_BW;
	b->pacing_gain = 1;
	b->cwnd_gain = BBR_CWND_GAIN;
	b->cycle_index = 2;	/* start cruising; probing comes at the end of the cycle */
	b->cycle_stamp = now;
}

static void
update_round(struct cc *c, const struct cc_ack *a)
{
	struct cc_bbr *b = &c->u.bbr;

	b->round_start = false;
	if (a->prior_delivered >= b->next_round_delivered) {
		b->next_round_delivered = a->delivered;
		b->round_count++;
		b->round_start = true;
	}
}

static void
update_bw(struct cc *c, const struct cc_ack *a)
{
	struct cc_bbr *b = &c->u.bbr;

	if (a->delivery_rate == 0)
		return;
	if (!a->app_limited || a->delivery_rate >= bbr_bw(c)) {
		minmax_running_max(&b->bw, BBR_BW_ROUNDS, b->round_count, a->delivery_rate);
		b->has_rate = true;
	}
}

/* Ack aggregation: bytes acknowledged beyond what the bandwidth model explains. */
static void
update_extra_acked(struct cc *c, const struct cc_ack *a)
{
	struct cc_bbr *b = &c->u.bbr;
	uint64_t expected, extra, bw = bbr_bw(c);

	if (b->round_start && ++b->extra_acked_round >= BBR_EXTRA_ACKED_ROUNDS) {
		b->extra_acked_round = 0;
		b->extra_acked_slot ^= 1;
		b->extra_acked[b->extra_acked_slot] = 0;
	}
	if (bw == 0)
		return;
	expected = (uint64_t)((double)bw * (double)(a->now - b->ack_epoch_start) / 1e6);
	if (b->ack_epoch_start == 0 || b->ack_epoch_acked <= expected) {
		b->ack_epoch_start = a->now;
		b->ack_epoch_acked = 0;
		expected = 0;
	}
	b->ack_epoch_acked += a->acked_bytes;
	extra = b->ack_epoch_acked - expected;
	if (extra > c->cwnd)
		extra = c->cwnd;
	if (extra > b->extra_acked[b->extra_acked_slot])
		b->extra_acked[b->extra_acked_slot] = extra;
}

static uint64_t
extra_acked(const struct cc_bbr *b)
{
	return b->extra_acked[0] > b->extra_acked[1] ? b->extra_acked[0] : b->extra_acked[1];
}

/* STARTUP ends when the bandwidth stops growing, or when a whole round saw the RTT well above
 * its minimum: a queue is building, so the pipe is full (this ends the overshoot sooner than
 * waiting three rounds in a deep queue; random loss does not raise the RTT, so it does not
 * end STARTUP early). */
static void
check_full_pipe(struct cc *c, const struct cc_ack *a)
{
	struct cc_bbr *b = &c->u.bbr;
	uint64_t round_min = b->round_min_rtt;

	if (a->rtt_us > 0 && a->rtt_us < b->round_min_rtt)
		b->round_min_rtt = a->rtt_us;
	if (b->filled_pipe || !b->round_start)
		return;
	b->round_min_rtt = UINT64_MAX;
	if (b->min_rtt != UINT64_MAX && round_min != UINT64_MAX &&
	    round_min > b->min_rtt + b->min_rtt / 4 + BBR_STARTUP_QUEUE_US) {
		b->filled_pipe = true;
		return;
	}
	if (a->app_limited)
		return;
	if (bbr_bw(c) >= b->full_bw + b->full_bw / 4) {
		b->full_bw = bbr_bw(c);
		b->full_bw_count = 0;
		return;
	}
	if (++b->full_bw_count >= 3)
		b->filled_pipe = true;
}

static void
update_cycle(struct cc *c, const struct cc_ack *a)
{
	struct cc_bbr *b = &c->u.bbr;
	bool next;

	if (b->mode != BBR_PROBE_BW)
		return;
	next = a->now - b->cycle_stamp > b->min_rtt;
	if (b->pacing_gain > 1)
		next = next && a->bytes_in_flight + a->acked_bytes >= bbr_bdp(c, b->pacing_gain);
	else if (b->pacing_gain < 1)
		next = next || a->bytes_in_flight <= bbr_bdp(c, 1);
	if (next) {
		b->cycle_index = (b->cycle_index + 1) % BBR_CYCLE_LEN;
		b->cycle_stamp = a->now;
		b->pacing_gain = cycle_gain[b->cycle_index];
	}
}

static void
check_drain(struct cc *c, const struct cc_ack *a)
{
	struct cc_bbr *b = &c->u.bbr;

	if (b->mode == BBR_STARTUP && b->filled_pipe) {
		b->mode = BBR_DRAIN;
		b->pacing_gain = 1 / BBR_HIGH_GAIN;
		b->cwnd_gain = BBR_HIGH_GAIN;
	}
	if (b->mode == BBR_DRAIN && a->bytes_in_flight <= bbr_bdp(c, 1))
		enter_probe_bw(c, a->now);
}

static void
update_min_rtt(struct cc *c, const struct cc_ack *a)
{
	struct cc_bbr *b = &c->u.bbr;
	bool expired = a->now > b->min_rtt_stamp + BBR_MIN_RTT_WIN_US;

	if (a->rtt_us > 0 && (a->rtt_us <= b->min_rtt || expired)) {
		b->min_rtt = a->rtt_us;
		b->min_rtt_stamp = a->now;
	}
	if (expired && b->mode != BBR_PROBE_RTT && b->mode != BBR_STARTUP) {
		b->mode = BBR_PROBE_RTT;
		b->pacing_gain = 1;
		b->prior_cwnd = c->cwnd;
		b->probe_rtt_done_stamp = 0;
	}
	if (b->mode != BBR_PROBE_RTT)
		return;
	if (b->probe_rtt_done_stamp == 0 && a->bytes_in_flight <= bbr_bdp(c, 0.5)) {
		b->probe_rtt_done_stamp = a->now + BBR_PROBE_RTT_US;
		b->probe_rtt_round_done = false;
		b->next_round_delivered = a->delivered;
	} else if (b->probe_rtt_done_stamp != 0) {
		if (b->round_start)
			b->probe_rtt_round_done = true;
		if (b->probe_rtt_round_done && a->now >= b->probe_rtt_done_stamp) {
			b->min_rtt_stamp = a->now;
			if (c->cwnd < b->prior_cwnd)
				c->cwnd = b->prior_cwnd;
			if (b->filled_pipe)
				enter_probe_bw(c, a->now);
			else {
				b->mode = BBR_STARTUP;
				b->pacing_gain = b->cwnd_gain = BBR_HIGH_GAIN;
			}
		}
	}
}

static void
set_pacing_rate(struct cc *c)
{
	struct cc_bbr *b = &c->u.bbr;
	uint64_t rate;

	if (!b->has_rate)
		return;
	rate = (uint64_t)(b->pacing_gain * (double)bbr_bw(c));
	/* In STARTUP never slow down on a low sample. */
	if (b->filled_pipe || rate > c->pacing_rate)
		c->pacing_rate = rate;
}

static void
set_cwnd(struct cc *c, const struct cc_ack *a)
{
	struct cc_bbr *b = &c->u.bbr;
	uint64_t target = bbr_bdp(c, b->cwnd_gain) + extra_acked(b);

	if (target < bbr_min_cwnd(c))
		target = bbr_min_cwnd(c);
	if (b->filled_pipe) {
		c->cwnd += a->acked_bytes;
		if (c->cwnd > target)
			c->cwnd = target;
	} else if (c->cwnd < target || a->delivered < CC_INITIAL_CWND_PACKETS * c->mss) {
		c->cwnd += a->acked_bytes;
	}
	if (c->cwnd < bbr_min_cwnd(c))
		c->cwnd = bbr_min_cwnd(c);
	if (b->mode == BBR_PROBE_RTT) {
		uint64_t cap = bbr_bdp(c, 0.5);

		if (cap < bbr_min_cwnd(c))
			cap = bbr_min_cwnd(c);
		if (c->cwnd > cap)
			c->cwnd = cap;
	}
}

void
cc_bbr_on_ack(struct cc *c, const struct cc_ack *a)
{
	update_round(c, a);
	update_bw(c, a);
	update_extra_acked(c, a);
	check_full_pipe(c, a);
	check_drain(c, a);
	update_cycle(c, a);
	update_min_rtt(c, a);
	set_pacing_rate(c);
	set_cwnd(c, a);
}

void
cc_bbr_on_loss(struct cc *c, uint64_t now, uint64_t lost_bytes, uint64_t bytes_in_flight)
{
	/* Loss is not a signal in the model (random loss must not collapse the rate); the lost
	 * packets' bytes leave the flight and the pacer keeps the rate. */
}
