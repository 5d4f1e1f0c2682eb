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
 * version 2's half BDP instead of 4 packets costs little throughput). As in Chromium's QUIC
 * BBR, PROBE_RTT is skipped, and the minimum kept for another 10 s, when some RTT sample of the
 * last 8 to 16 rounds came within 1/8 of it: the 0.75 phase of each cycle drained the queue,
 * so shrinking the window would only learn the minimum it already has (it cost a 100 Mbit/s
 * 50 ms path about 0.7 % of its throughput, every 10 s).
 * The BDP uses max(min RTT, CC_RTT_FLOOR_US) so sub-millisecond paths get a usable window; the
 * window also carries the recent ack aggregation (extra acked, from version 2).
 *
 * Token-bucket policers (a relay's per-room limit: no queue, what exceeds the bucket is
 * dropped) defeat the bandwidth model: the 0.75 phase of each cycle lets the bucket refill,
 * the next phases cash those tokens, their delivery rate exceeds the policed rate, and the
 * windowed maximum keeps the pacing rate above it, losing the excess all the time. After
 * version 1's long-term bandwidth sampling, the sender detects this and then paces at the
 * policed rate for a while. What tells a policer from random loss (which must not slow BBR
 * down) is that its losses depend on the sending rate: packets sent in the 0.75 phase are
 * (nearly) never lost, those sent at or above the estimate are. Over a window of at least one
 * cycle, if packets sent at gain >= 1 lost >= 3 % and packets sent at 0.75 lost less than a
 * quarter of that fraction (with enough packets that random loss cannot look like this), the
 * delivery rate over the window is the policed rate: pace at it (gain 1, no probing) for at
 * least 48 rounds and 1 s, doubled on each detection (up to 8 s) that follows the last hold
 * by less than 16 s, then probe again. While held, losses of 1 % or more (over 4 rounds and
 * 100 ms) lower the rate towards the delivery rate of that time (the bucket is empty then, so
 * it is the policed rate), by at most 1/8 at a time.
 * STARTUP, whose doubling would lose most of what it sends into a policer once the bucket is
 * empty, also ends on a round that lost >= 20 % (random loss that high is out of scope), with
 * the bandwidth estimate capped at that round's delivery rate.
 */
#include <string.h>

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

enum { BBR_CLS_IGNORE, BBR_CLS_LOW, BBR_CLS_HIGH };	/* rate class of a send-time phase */

#define BBR_STARTUP_LOSS 0.2		/* a STARTUP round losing this fraction ends STARTUP */
#define BBR_STARTUP_LOSS_PKTS 16	/* ... with at least this many packets lost */
#define BBR_LT_HIGH_LOSS 0.03		/* loss at gain >= 1 that may be a policer's */
#define BBR_LT_HIGH_PKTS 100		/* packets at gain >= 1 before judging */
#define BBR_LT_EXPECT_PKTS 16		/* losses random loss would give at 0.75, at least */
#define BBR_LT_MAX_ROUNDS 64		/* an evidence window longer than this and ... */
#define BBR_LT_MAX_US UINT64_C(1000000)	/* ... than this starts over */
#define BBR_LT_HELD_ROUNDS 4		/* while held, lt_bw is refined over this many rounds */
#define BBR_LT_HELD_US UINT64_C(100000)	/* ... and this long */
#define BBR_LT_HELD_LOSS 0.01		/* ... when they lost this fraction */
#define BBR_LT_HOLD_ROUNDS 48
#define BBR_LT_HOLD_US UINT64_C(1000000)
#define BBR_LT_MAX_DOUBLINGS 3
#define BBR_LT_FORGET_US UINT64_C(16000000)	/* no policer found for this long: 1 s again */

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
	if (c->u.bbr.lt_bw > 0)
		return c->u.bbr.lt_bw;
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
	b->cycle_min_rtt[0] = b->cycle_min_rtt[1] = UINT64_MAX;
	b->min_rtt_stamp = now;
	b->mode = BBR_STARTUP;
	b->pacing_gain = BBR_HIGH_GAIN;
	b->cwnd_gain = BBR_HIGH_GAIN;
	b->round_start_time = b->lt_start_time = now;
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

/* STARTUP into a policer: once the bucket is empty, each round loses most of what exceeds the
 * policed rate. A round that lost that much ends STARTUP, and the bandwidth estimate (which
 * the bucket's burst inflated) is capped at what the round delivered. */
static void
check_startup_loss(struct cc *c, uint64_t now)
{
	struct cc_bbr *b = &c->u.bbr;
	uint64_t lost = b->round_lost, total = b->round_lost + b->round_acked, rate;

	if (b->filled_pipe || lost < BBR_STARTUP_LOSS_PKTS * c->mss ||
	    (double)lost < BBR_STARTUP_LOSS * (double)total)
		return;
	b->filled_pipe = true;
	/* Behind a queue the drops are the queue's, and it keeps delivering while we drain:
	 * the model's bandwidth is right. A policer queues nothing: the RTT stays low. */
	if (b->min_rtt == UINT64_MAX ||
	    b->last_rtt > b->min_rtt + b->min_rtt / 4 + BBR_STARTUP_QUEUE_US)
		return;
	b->loss_exit_time = now;
	b->loss_exit_delivered = b->delivered;
	if (now <= b->round_start_time)
		return;
	rate = (b->delivered - b->round_start_delivered) * 1000000 / (now - b->round_start_time);
	if (rate > 0 && rate < bbr_bw(c))
		minmax_reset(&b->bw, b->round_count, rate);
}

/* After a STARTUP exit on loss, until what was sent after the exit is acknowledged, the
 * acknowledgments are of packets sent at STARTUP's rate: their delivery rate is the
 * bottleneck's (a policer's bucket is empty by then; the round before the exit delivered its
 * burst too). Called before the acknowledgment of the first packet sent after the exit is
 * counted. */
static void
cap_after_startup_loss(struct cc *c, const struct cc_ack *a)
{
	struct cc_bbr *b = &c->u.bbr;
	uint64_t rate;

	if (b->loss_exit_time == 0 || a->largest_sent_time < b->loss_exit_time ||
	    a->now <= b->loss_exit_time)
		return;
	rate = (b->delivered - b->loss_exit_delivered) * 1000000 / (a->now - b->loss_exit_time);
	b->loss_exit_time = 0;
	if (rate > 0 && rate < bbr_bw(c))
		minmax_reset(&b->bw, b->round_count, rate);
}

static void
update_round(struct cc *c, const struct cc_ack *a)
{
	struct cc_bbr *b = &c->u.bbr;

	b->round_start = false;
	b->round_acked += a->acked_bytes;
	b->delivered = a->delivered;
	if (a->rtt_us > 0)
		b->last_rtt = a->rtt_us;
	if (a->prior_delivered >= b->next_round_delivered) {
		check_startup_loss(c, a->now);
		b->next_round_delivered = a->delivered;
		b->round_count++;
		b->round_start = true;
		b->round_start_time = a->now;
		b->round_start_delivered = a->delivered;
		b->round_lost = b->round_acked = 0;
	}
}

/* ---- policer detection (long-term bandwidth) ---- */

/* Records the rate class of what is sent from now on. */
static void
phase_mark(struct cc_bbr *b, uint64_t now, uint8_t cls)
{
	if (b->phase[b->phase_head].cls == cls)
		return;
	if (b->phase[b->phase_head].start != now)
		b->phase_head = (b->phase_head + 1) % CC_BBR_PHASES;
	b->phase[b->phase_head].start = now;
	b->phase[b->phase_head].cls = cls;
}

/* The rate class of a packet sent at time t (IGNORE when older than the phases kept). */
static uint8_t
phase_of(const struct cc_bbr *b, uint64_t t)
{
	for (unsigned i = 0; i < CC_BBR_PHASES; i++) {
		unsigned k = (b->phase_head + CC_BBR_PHASES - i) % CC_BBR_PHASES;

		if (b->phase[k].start <= t)
			return b->phase[k].cls;
	}
	return BBR_CLS_IGNORE;
}

static uint8_t
current_class(const struct cc_bbr *b)
{
	if (b->lt_bw > 0)
		return BBR_CLS_HIGH;	/* losses while held say lt_bw is too high */
	if (b->mode != BBR_PROBE_BW)
		return BBR_CLS_IGNORE;
	return b->pacing_gain < 1 ? BBR_CLS_LOW : BBR_CLS_HIGH;
}

static void
lt_reset_window(struct cc_bbr *b, const struct cc_ack *a)
{
	memset(b->cls_lost, 0, sizeof b->cls_lost);
	memset(b->cls_acked, 0, sizeof b->cls_acked);
	b->lt_start_time = a->now;
	b->lt_start_delivered = a->delivered;
	b->lt_start_round = b->round_count;
}

static void
lt_enter(struct cc *c, const struct cc_ack *a)
{
	struct cc_bbr *b = &c->u.bbr;
	uint64_t rate = (a->delivered - b->lt_start_delivered) * 1000000 /
	    (a->now - b->lt_start_time);
	unsigned shift;

	if (rate == 0)
		return;
	/* A policer found again soon after a hold: hold longer. */
	if (a->now > b->lt_last_end + BBR_LT_FORGET_US)
		b->lt_holds = 0;
	shift = b->lt_holds < BBR_LT_MAX_DOUBLINGS ? b->lt_holds : BBR_LT_MAX_DOUBLINGS;
	if (rate > minmax_get(&b->bw))
		rate = minmax_get(&b->bw);
	b->lt_bw = rate;
	b->lt_holds++;
	b->lt_until = a->now + (BBR_LT_HOLD_US << shift);
	b->lt_round_until = b->round_count + ((uint64_t)BBR_LT_HOLD_ROUNDS << shift);
	/* Probing starts again from the policed rate, not from the inflated maximum. */
	minmax_reset(&b->bw, b->round_count, rate);
	b->pacing_gain = 1;
}

/* While held: a sender above the policed rate keeps losing, and then what it delivers is the
 * policed rate (the bucket is empty): lower lt_bw to it. Without loss lt_bw stays. */
static void
lt_refine(struct cc *c, const struct cc_ack *a)
{
	struct cc_bbr *b = &c->u.bbr;
	uint64_t lost = b->cls_lost[BBR_CLS_HIGH];
	uint64_t n = lost + b->cls_acked[BBR_CLS_HIGH], rate;

	if (n < BBR_LT_HIGH_PKTS * c->mss || a->now <= b->lt_start_time)
		return;
	if ((double)lost >= BBR_LT_HELD_LOSS * (double)n) {
		rate = (a->delivered - b->lt_start_delivered) * 1000000 /
		    (a->now - b->lt_start_time);
		/* At most 1/8 at a time: losses that are not the policer's (a busy relay's
		 * socket buffer) make a short window's rate noisy. */
		if (rate < b->lt_bw - b->lt_bw / 8)
			rate = b->lt_bw - b->lt_bw / 8;
		if (rate < b->lt_bw) {
			b->lt_bw = rate;
			minmax_reset(&b->bw, b->round_count, rate);
		}
	}
	lt_reset_window(b, a);
}

/* Once per round in PROBE_BW: judge the evidence window, or end a hold. */
static void
lt_check(struct cc *c, const struct cc_ack *a)
{
	struct cc_bbr *b = &c->u.bbr;
	uint64_t hi_n = b->cls_lost[BBR_CLS_HIGH] + b->cls_acked[BBR_CLS_HIGH];
	uint64_t lo_n = b->cls_lost[BBR_CLS_LOW] + b->cls_acked[BBR_CLS_LOW];
	double hi_loss, expect;

	if (!b->round_start)
		return;
	if (b->mode != BBR_PROBE_BW) {
		if (b->lt_bw == 0)
			lt_reset_window(b, a);
		return;
	}
	if (b->lt_bw > 0) {
		if (a->now >= b->lt_until && b->round_count >= b->lt_round_until) {
			b->lt_bw = 0;
			b->lt_last_end = a->now;
			lt_reset_window(b, a);
		} else if (b->round_count >= b->lt_start_round + BBR_LT_HELD_ROUNDS &&
		    a->now >= b->lt_start_time + BBR_LT_HELD_US) {
			lt_refine(c, a);
		}
		return;
	}
	if (b->round_count < b->lt_start_round + BBR_CYCLE_LEN || hi_n < BBR_LT_HIGH_PKTS * c->mss)
		return;
	hi_loss = (double)b->cls_lost[BBR_CLS_HIGH] / (double)hi_n;
	if (hi_loss < BBR_LT_HIGH_LOSS) {
		lt_reset_window(b, a);
		return;
	}
	/* What random loss at hi_loss would have lost of the packets sent at 0.75. */
	expect = hi_loss * (double)lo_n;
	if (expect < BBR_LT_EXPECT_PKTS * (double)c->mss) {
		if (b->round_count > b->lt_start_round + BBR_LT_MAX_ROUNDS &&
		    a->now > b->lt_start_time + BBR_LT_MAX_US)
			lt_reset_window(b, a);
		return;
	}
	if (4 * (double)b->cls_lost[BBR_CLS_LOW] <= expect && a->now > b->lt_start_time)
		lt_enter(c, a);
	lt_reset_window(b, a);
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

	if (b->mode != BBR_PROBE_BW || b->lt_bw > 0)
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
	uint64_t recent;

	if (b->round_start && b->round_count - b->cycle_min_round >= BBR_CYCLE_LEN) {
		b->cycle_min_rtt[1] = b->cycle_min_rtt[0];
		b->cycle_min_rtt[0] = UINT64_MAX;
		b->cycle_min_round = b->round_count;
	}
	if (a->rtt_us > 0 && a->rtt_us < b->cycle_min_rtt[0])
		b->cycle_min_rtt[0] = a->rtt_us;
	recent = b->cycle_min_rtt[0] < b->cycle_min_rtt[1] ? b->cycle_min_rtt[0] :
	    b->cycle_min_rtt[1];
	if (expired && b->mode == BBR_PROBE_BW && b->min_rtt != UINT64_MAX &&
	    recent <= b->min_rtt + b->min_rtt / 8) {
		b->min_rtt_stamp = a->now;	/* the path still shows its minimum RTT */
		b->probe_rtt_skipped++;
		expired = false;
	}
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
	struct cc_bbr *b = &c->u.bbr;

	b->cls_acked[phase_of(b, a->largest_sent_time)] += a->acked_bytes;
	cap_after_startup_loss(c, a);
	update_round(c, a);
	update_bw(c, a);
	update_extra_acked(c, a);
	check_full_pipe(c, a);
	check_drain(c, a);
	lt_check(c, a);
	update_cycle(c, a);
	update_min_rtt(c, a);
	set_pacing_rate(c);
	set_cwnd(c, a);
	phase_mark(b, a->now, current_class(b));
}

void
cc_bbr_on_loss(struct cc *c, uint64_t now, uint64_t lost_bytes, uint64_t largest_sent_time,
    uint64_t bytes_in_flight)
{
	struct cc_bbr *b = &c->u.bbr;

	/* Loss is not a signal in the model (random loss must not collapse the rate); the lost
	 * packets' bytes leave the flight and the pacer keeps the rate. It only counts for
	 * STARTUP's exit and for telling a policer (above). */
	b->round_lost += lost_bytes;
	b->cls_lost[phase_of(b, largest_sent_time)] += lost_bytes;
	check_startup_loss(c, now);	/* at once: each round more of STARTUP is lost */
}
