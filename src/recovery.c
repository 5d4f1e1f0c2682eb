/* Loss recovery after RFC 9002 (see recovery.h). */
#include "recovery.h"

#include <stdlib.h>
#include <string.h>

#define GRANULARITY_US UINT64_C(1000)
#define PACKET_THRESHOLD 3
#define PERSISTENT_CONGESTION_FACTOR 3
#define TIME_THRESHOLD_MAX_X8 16	/* up to 2 RTT after spurious losses */

static uint64_t
max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static void
rtt_reset(struct recovery *rec)
{
	rec->has_rtt = false;
	rec->latest_rtt = rec->min_rtt = 0;
	rec->srtt = rec->path_initial_rtt;
	rec->rttvar = rec->path_initial_rtt / 2;
}

int
recovery_init(struct recovery *rec, uint64_t ring_size, enum stream_cc cc, uint64_t mss,
    uint64_t initial_rtt, uint64_t max_ack_delay, uint64_t now, const struct recovery_cb *cb)
{
	memset(rec, 0, sizeof *rec);
	rec->ring = calloc(ring_size, sizeof *rec->ring);
	if (rec->ring == NULL)
		return -1;
	rec->mask = ring_size - 1;
	rec->initial_rtt = rec->path_initial_rtt = initial_rtt;
	rec->max_ack_delay = max_ack_delay;
	rec->reorder_threshold = PACKET_THRESHOLD;
	rec->time_threshold_x8 = 9;
	rec->cb = *cb;
	rtt_reset(rec);
	cc_init(&rec->cc, cc, mss, initial_rtt, now);
	return 0;
}

void
recovery_free(struct recovery *rec)
{
	free(rec->ring);
	rec->ring = NULL;
}

static struct sent_pkt *
slot(const struct recovery *rec, uint64_t pn)
{
	return &rec->ring[pn & rec->mask];
}

/* How long a lost packet's record is kept to notice that it arrived after all. */
static uint64_t
lost_keep_us(const struct recovery *rec)
{
	return 2 * recovery_pto(rec);
}

/* Drops records from the front that are settled; with force, lost ones too. */
static void
advance_base(struct recovery *rec, uint64_t now, bool force)
{
	while (rec->base < rec->next_pn) {
		struct sent_pkt *sp = slot(rec, rec->base);

		if (sp->state == SP_OUTSTANDING)
			break;
		if (sp->state == SP_LOST && !force && now < sp->time + lost_keep_us(rec))
			break;
		sp->state = SP_FREE;
		rec->base++;
	}
	if (rec->first_outstanding < rec->base)
		rec->first_outstanding = rec->base;
}

static void declare_lost(struct recovery *rec, uint64_t pn, struct sent_pkt *sp);

static uint64_t
room_limit(const struct recovery *rec, bool ack_eliciting)
{
	uint64_t size = rec->mask + 1;

	return ack_eliciting ? size - size / 4 : size;
}

bool
recovery_has_room(struct recovery *rec, uint64_t now, bool ack_eliciting)
{
	uint64_t limit = room_limit(rec, ack_eliciting);

	if (rec->next_pn - rec->base < limit)
		return true;
	advance_base(rec, now, true);
	/*
	 * Still full: the oldest packet in flight pins the ring (everything after it is settled
	 * or ACK-only). Once it is overdue by a PTO, give up tracking it: declare it lost (its
	 * content goes again) so the ring moves. Otherwise a side that only acknowledges, whose
	 * one eliciting packet was lost, could never send another (found by the simulator
	 * torture: a livelock with the timer always due).
	 */
	while (rec->next_pn - rec->base >= limit && rec->base < rec->next_pn) {
		struct sent_pkt *sp = slot(rec, rec->base);

		if (sp->state != SP_OUTSTANDING || now < sp->time + recovery_pto(rec))
			break;
		declare_lost(rec, rec->base, sp);
		advance_base(rec, now, true);
	}
	return rec->next_pn - rec->base < limit;
}

bool
recovery_room(const struct recovery *rec, bool ack_eliciting)
{
	/* what recovery_has_room's forced advance reaches: nothing below first_outstanding is
	 * in flight */
	return rec->next_pn - max_u64(rec->base, rec->first_outstanding) <
	    room_limit(rec, ack_eliciting);
}

uint64_t
recovery_room_deadline(const struct recovery *rec)
{
	uint64_t pn = max_u64(rec->base, rec->first_outstanding);

	if (pn >= rec->next_pn || slot(rec, pn)->state != SP_OUTSTANDING)
		return UINT64_MAX;
	return slot(rec, pn)->time + recovery_pto(rec);
}

void
recovery_on_sent(struct recovery *rec, uint64_t now, const struct sent_pkt *tmpl,
    bool ack_eliciting)
{
	struct sent_pkt *sp = slot(rec, rec->next_pn);

	*sp = *tmpl;
	sp->time = now;
	if (!ack_eliciting) {
		sp->state = SP_UNTRACKED;
		sp->size = 0;
		rec->next_pn++;
		return;
	}
	if (rec->bytes_in_flight == 0)
		rec->first_sent_time = rec->delivered_time = now;
	sp->state = SP_OUTSTANDING;
	sp->delivered = rec->delivered;
	sp->delivered_time = rec->delivered_time;
	sp->first_sent_time = rec->first_sent_time;
	if (rec->app_limited_until != 0)
		sp->flags |= SP_APP_LIMITED;
	rec->bytes_in_flight += sp->size;
	rec->eliciting_in_flight++;
	rec->last_eliciting_time = now;
	rec->next_pn++;
}

void
recovery_set_app_limited(struct recovery *rec)
{
	rec->app_limited_until = max_u64(rec->delivered + rec->bytes_in_flight, 1);
}

uint64_t
recovery_pto(const struct recovery *rec)
{
	return rec->srtt + max_u64(4 * rec->rttvar, GRANULARITY_US) + rec->max_ack_delay;
}

static void
update_rtt(struct recovery *rec, uint64_t now, uint64_t sample, uint64_t ack_delay)
{
	uint64_t adjusted = sample, diff;

	rec->latest_rtt = sample;
	if (!rec->has_rtt) {
		rec->has_rtt = true;
		rec->first_rtt_time = now;
		rec->min_rtt = rec->srtt = sample;
		rec->rttvar = sample / 2;
		return;
	}
	if (sample < rec->min_rtt)
		rec->min_rtt = sample;
	if (ack_delay > rec->max_ack_delay)
		ack_delay = rec->max_ack_delay;
	if (sample >= rec->min_rtt + ack_delay)
		adjusted = sample - ack_delay;
	diff = rec->srtt > adjusted ? rec->srtt - adjusted : adjusted - rec->srtt;
	rec->rttvar = (3 * rec->rttvar + diff) / 4;
	rec->srtt = (7 * rec->srtt + adjusted) / 8;
}

static void
declare_lost(struct recovery *rec, uint64_t pn, struct sent_pkt *sp)
{
	sp->state = SP_LOST;
	rec->bytes_in_flight -= sp->size;
	if (sp->flags & SP_OLD_PATH)
		rec->old_path_in_flight -= sp->size;
	rec->eliciting_in_flight--;
	rec->stat_lost++;
	rec->cb.lost(rec->cb.ctx, pn, sp);
}

/* RFC 9002 section 6.1, walking only from the oldest outstanding packet: packets are sent in
 * number and time order, so the first one not lost ends the walk. */
static void
detect_lost(struct recovery *rec, uint64_t now)
{
	uint64_t rtt = max_u64(rec->latest_rtt, rec->srtt);
	uint64_t delay = max_u64(rtt * rec->time_threshold_x8 / 8, GRANULARITY_US);
	uint64_t lost_bytes = 0, largest_lost_time = 0, run_start = 0, pc_span, event, count = 0;
	bool prefix = true, persistent = false, run = false, cc_relevant = false;
	uint64_t pn;

	rec->loss_time = 0;
	if (!rec->any_acked)
		return;
	pc_span = (rec->srtt + max_u64(4 * rec->rttvar, GRANULARITY_US) + rec->max_ack_delay) *
	    PERSISTENT_CONGESTION_FACTOR;
	for (pn = rec->first_outstanding; pn < rec->largest_acked; pn++) {
		struct sent_pkt *sp = slot(rec, pn);

		if (sp->state != SP_OUTSTANDING) {
			if (sp->state == SP_ACKED)
				run = false;
			if (prefix)
				rec->first_outstanding = pn + 1;
			continue;
		}
		if (now < delay || sp->time > now - delay) {
			if (rec->largest_acked < pn + rec->reorder_threshold) {
				rec->loss_time = sp->time + delay;
				break;
			}
		}
		prefix = false;
		declare_lost(rec, pn, sp);
		if (sp->flags & SP_PMTU)
			continue;	/* too big for the path, not a sign of congestion */
		count++;
		if (!(sp->flags & SP_OLD_PATH)) {
			cc_relevant = true;
			lost_bytes += sp->size;
			largest_lost_time = sp->time;
		}
		if (!run) {
			run = true;
			run_start = sp->time;
		} else if (sp->time - run_start > pc_span && rec->has_rtt &&
		    run_start > rec->first_rtt_time) {
			persistent = true;
		}
	}
	if (prefix && pn >= rec->first_outstanding)
		rec->first_outstanding = pn;
	if (!cc_relevant)
		return;
	event = rec->cc.recovery_start;
	cc_on_loss(&rec->cc, now, lost_bytes, largest_lost_time, recovery_path_in_flight(rec));
	if (rec->cc.recovery_start != event) {
		/* A new loss event (one reduction): count its losses for a possible undo. */
		rec->event_lost = count;
		rec->event_spurious = 0;
	} else {
		rec->event_lost += count;
	}
	if (persistent)
		cc_on_persistent_congestion(&rec->cc, now);
}

/* A packet we declared lost was acknowledged: be more patient about reordering. */
static void
on_spurious(struct recovery *rec, uint64_t now, uint64_t pn)
{
	uint64_t distance = rec->largest_acked > pn ? rec->largest_acked - pn + 1 : 1;
	uint64_t cap = max_u64(PACKET_THRESHOLD, rec->eliciting_in_flight / 2);

	rec->stat_spurious++;
	rec->event_spurious++;
	if (distance > rec->reorder_threshold)
		rec->reorder_threshold = distance < cap ? distance : max_u64(cap, rec->reorder_threshold);
	if (rec->time_threshold_x8 < TIME_THRESHOLD_MAX_X8)
		rec->time_threshold_x8++;
	if (rec->event_spurious >= rec->event_lost)
		cc_on_spurious(&rec->cc, now);
}

struct ack_state {
	struct cc_ack ca;
	uint64_t rs_delivered_time;
	uint64_t send_elapsed, ack_elapsed;
	bool newly_acked, rate_set, rtt_ok;
	uint64_t largest_newly_sent_time;
};

static void
on_newly_acked(struct recovery *rec, uint64_t now, struct sent_pkt *sp, struct ack_state *st)
{
	if (!(sp->flags & SP_OLD_PATH))
		st->ca.acked_bytes += sp->size;
	else
		rec->old_path_in_flight -= sp->size;
	rec->bytes_in_flight -= sp->size;
	rec->eliciting_in_flight--;
	rec->delivered += sp->size;
	rec->delivered_time = now;
	if (sp->time > st->largest_newly_sent_time)
		st->largest_newly_sent_time = sp->time;
	/* Rate sample from the most recently sent packet acknowledged (draft-cheng). */
	if (!st->rate_set || sp->delivered > st->ca.prior_delivered) {
		st->rate_set = true;
		st->ca.prior_delivered = sp->delivered;
		st->rs_delivered_time = sp->delivered_time;
		st->ca.app_limited = (sp->flags & SP_APP_LIMITED) != 0;
		st->send_elapsed = sp->time - sp->first_sent_time;
		st->ack_elapsed = now - sp->delivered_time;
		rec->first_sent_time = sp->time;
		if (sp->flags & SP_OLD_PATH)
			st->rate_set = false;
	}
}

int
recovery_on_ack(struct recovery *rec, uint64_t now, const struct frame_ack *ack)
{
	struct ack_iter it;
	struct ack_state st;
	uint64_t lo, hi;
	bool untracked_acked = false;

	if (ack->largest >= rec->next_pn)
		return -1;
	memset(&st, 0, sizeof st);
	if (!rec->any_acked || ack->largest > rec->largest_acked) {
		struct sent_pkt *top = slot(rec, ack->largest);

		rec->largest_acked = ack->largest;
		rec->any_acked = true;
		/* RTT sample from the largest, if it is newly acknowledged and ack-eliciting. */
		if (ack->largest >= rec->base && top->state == SP_OUTSTANDING &&
		    !(top->flags & SP_OLD_PATH) && now >= top->time) {
			update_rtt(rec, now, now - top->time, ack->delay_us);
			st.ca.rtt_us = now - top->time;
		}
	}
	ack_iter_init(&it, ack);
	while (ack_iter_next(&it, &lo, &hi)) {
		if (hi < rec->base)
			break;
		if (lo < rec->base)
			lo = rec->base;
		for (uint64_t pn = hi + 1; pn-- > lo;) {
			struct sent_pkt *sp = slot(rec, pn);

			switch (sp->state) {
			case SP_OUTSTANDING:
				st.newly_acked = true;
				sp->state = SP_ACKED;
				on_newly_acked(rec, now, sp, &st);
				rec->cb.acked(rec->cb.ctx, pn, sp, false);
				break;
			case SP_UNTRACKED:
				sp->state = SP_ACKED;
				untracked_acked = true;
				rec->cb.acked(rec->cb.ctx, pn, sp, false);
				break;
			case SP_LOST:
				sp->state = SP_ACKED;
				on_spurious(rec, now, pn);
				rec->cb.acked(rec->cb.ctx, pn, sp, true);
				break;
			default:
				break;
			}
		}
	}
	if (!st.newly_acked) {
		/*
		 * Only ACK-only packets newly acknowledged: they still move largest_acked past
		 * older packets in flight, which must be declared lost now (RFC 9002 counts them
		 * as newly acknowledged too). Else a packet in flight below a run of ACK-only
		 * packets pins the ring until it fills, and a side that only acknowledges can then
		 * send nothing eliciting, forever (found by the simulator torture).
		 */
		if (untracked_acked)
			detect_lost(rec, now);
		advance_base(rec, now, false);
		return 0;
	}
	if (rec->app_limited_until != 0 && rec->delivered > rec->app_limited_until)
		rec->app_limited_until = 0;
	rec->pto_count = 0;
	detect_lost(rec, now);

	st.ca.now = now;
	st.ca.bytes_in_flight = recovery_path_in_flight(rec);
	st.ca.min_rtt_us = rec->min_rtt;
	st.ca.srtt_us = rec->has_rtt ? rec->srtt : 0;
	st.ca.largest_sent_time = st.largest_newly_sent_time;
	st.ca.delivered = rec->delivered;
	if (st.rate_set) {
		uint64_t interval = max_u64(st.send_elapsed, st.ack_elapsed);
		uint64_t bytes = rec->delivered - st.ca.prior_delivered;

		/* An interval shorter than the minimum RTT cannot be measured reliably. */
		if (interval > 0 && rec->has_rtt && interval >= rec->min_rtt)
			st.ca.delivery_rate = bytes * 1000000 / interval;
	}
	if (st.ca.acked_bytes > 0)
		cc_on_ack(&rec->cc, &st.ca);
	advance_base(rec, now, false);
	return 0;
}

static uint64_t
pto_deadline(const struct recovery *rec)
{
	uint64_t pto;
	unsigned shift = rec->pto_count < 16 ? rec->pto_count : 16;

	if (rec->eliciting_in_flight == 0)
		return UINT64_MAX;
	pto = rec->has_rtt ? recovery_pto(rec) : 2 * rec->path_initial_rtt;
	pto <<= shift;
	/* Long silences make both sides give up at the idle timeout: keep probing. */
	if (rec->pto_max > 0 && pto > rec->pto_max)
		pto = rec->pto_max;
	return rec->last_eliciting_time + pto;
}

uint64_t
recovery_deadline(const struct recovery *rec)
{
	if (rec->loss_time != 0)
		return rec->loss_time;
	return pto_deadline(rec);
}

void
recovery_on_timeout(struct recovery *rec, uint64_t now)
{
	if (rec->loss_time != 0) {
		if (now >= rec->loss_time)
			detect_lost(rec, now);
		return;
	}
	if (now < pto_deadline(rec))
		return;
	rec->pto_count++;
	rec->stat_pto++;
	rec->probes = 2;
	/* Probe with the content of the oldest packet in flight (the tail may be lost). */
	for (uint64_t pn = rec->first_outstanding; pn < rec->next_pn; pn++) {
		struct sent_pkt *sp = slot(rec, pn);

		if (sp->state == SP_OUTSTANDING) {
			rec->cb.lost(rec->cb.ctx, pn, sp);
			break;
		}
	}
	/* Pretend the probes were sent now, so the next timeout backs off from here even if
	 * the stream cannot send right away. */
	rec->last_eliciting_time = now;
}

void
recovery_path_reset(struct recovery *rec, uint64_t now, uint64_t mss, uint64_t rtt_hint)
{
	for (uint64_t pn = rec->base; pn < rec->next_pn; pn++)
		slot(rec, pn)->flags |= SP_OLD_PATH;
	rec->old_path_in_flight = rec->bytes_in_flight;	/* everything outstanding is old now */
	/*
	 * The delay the path's check measured is a measurement of this path; the default is a
	 * guess for any path. RFC 9002 6.2.2 allows it as the new path's initial RTT (not as a
	 * sample: the first acknowledgment replaces it). It times the first flight's probe
	 * timeout (2 x 50 ms on the lab's direct path instead of 2 x 333 ms) and paces what
	 * goes beyond the initial window before the first rate sample.
	 */
	rec->path_initial_rtt = rtt_hint > 0 ? max_u64(rtt_hint, GRANULARITY_US) : rec->initial_rtt;
	rtt_reset(rec);
	rec->pto_count = 0;
	rec->reorder_threshold = PACKET_THRESHOLD;
	rec->time_threshold_x8 = 9;
	cc_init(&rec->cc, rec->cc.kind, mss, rec->path_initial_rtt, now);
}
