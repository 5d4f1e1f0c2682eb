/*
 * The reliable stream core (see stream.h): send and receive buffers, frames in and out,
 * acknowledgment policy, flow control with receive-window auto-tuning, close and path change.
 * Loss recovery and congestion control live in recovery.c and cc*.c, pacing in pacer.c.
 */
#include "stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bigbuf.h"
#include "frame.h"
#include "packet.h"
#include "pacer.h"
#include "pmtu.h"
#include "rangeset.h"
#include "recovery.h"
#include "wire.h"

/* Credit each side may use before the peer's first MAX_DATA (protocol constant). */
#define STREAM_INITIAL_CREDIT UINT64_C(65536)
#define ACK_RANGES_PER_FRAME 32
#define PN_RANGES 256
/* Acknowledge every 2nd ack-eliciting packet at first, every 10th once data flows. */
#define ACK_EVERY_FIRST 2
#define ACK_EVERY_STEADY 10
#define ACK_STEADY_AFTER 100
#define LINGER_PTOS 10	/* ends at once when the peer says it is done too */
#define RING_MIN 1024
#define SEND_AHEAD (UINT64_C(256) << 10)
#define SEND_LIMIT_MIN (UINT64_C(1) << 20)
#define RING_MAX (UINT64_C(1) << 20)

struct stream {
	struct stream_config cfg;
	struct recovery rec;
	struct pacer pacer;
	struct pmtu pmtu;
	uint64_t cb_now;		/* `now` of the call that runs the recovery callbacks */
	struct rangeset acked;		/* acknowledged ranges above snd_una */
	struct rangeset retx;		/* ranges to send again */
	struct rangeset rcvd;		/* received ranges at or above rcv_read */
	struct rangeset pns;		/* packet numbers received, for ACK frames */

	uint64_t close_reason;
	uint64_t close_sent_time;
	uint64_t linger_until;		/* our side finished: linger until then at most */
	uint64_t close_repeat_at;	/* while lingering, CLOSE goes out again at this time */
	uint64_t last_recv_time;
	uint64_t last_eliciting_sent;

	/* Sending: the ring holds [snd_una, snd_end). */
	uint8_t *sbuf;
	uint64_t smask;
	uint64_t snd_una;		/* everything below is acknowledged */
	uint64_t snd_nxt;		/* next byte never sent */
	uint64_t snd_end;		/* end of what the application wrote */
	uint64_t peer_max_data;

	/* Receiving: the ring holds [rcv_read, rcv_read + window). */
	uint8_t *rbuf;
	uint64_t rmask;			/* ring in use: a power of two >= the window */
	uint64_t rcv_read;		/* consumed by the application */
	uint64_t rcv_contig;		/* received without a gap */
	uint64_t rcv_max;		/* highest end of received data */
	uint64_t peer_fin_off;
	uint64_t adv_max_data;		/* credit we granted */
	uint64_t recv_window;
	uint64_t window_update_time;

	uint64_t largest_pn, largest_pn_time;
	uint64_t ack_deadline;
	uint64_t eliciting_received;

	uint64_t path_deadline;
	uint64_t challenge_counter;
	size_t max_payload;

	uint64_t stat_bytes_sent, stat_bytes_retx, stat_packets_sent, stat_packets_received;
	uint64_t stat_pmtu_probes;

	enum stream_state state;
	enum stream_path_state path;
	unsigned unacked_eliciting;
	uint8_t challenge[FRAME_PATH_DATA_LEN];
	uint8_t response[FRAME_PATH_DATA_LEN];
	bool close_pending;		/* a CLOSE goes into the next packet */
	bool peer_done;			/* the peer sent CLOSE(no error): it has finished */
	bool done_local;		/* our side finished (lingering) */
	bool fin_set, fin_sent, fin_acked, fin_lost;
	bool peer_fin_known;
	bool max_data_pending;
	bool any_pn;
	bool ack_pending, ack_now;
	bool challenge_pending, response_pending, ping_pending;
};

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t
max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t
pow2_at_least(uint64_t v)
{
	uint64_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

/* Datagram bytes of a packet with n frame bytes (what congestion control counts). */
static uint64_t
dgram(uint64_t n)
{
	return n + PKT_OVERHEAD;
}

void
stream_config_default(struct stream_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->max_payload = STREAM_PAYLOAD_DEFAULT;
	cfg->send_buffer = STREAM_SEND_BUFFER_DEFAULT;
	cfg->recv_window = STREAM_RECV_WINDOW_DEFAULT;
	cfg->recv_window_max = STREAM_RECV_WINDOW_MAX_DEFAULT;
	cfg->cc = STREAM_CC_BBR;
	cfg->initial_rtt_us = STREAM_INITIAL_RTT_US_DEFAULT;
	cfg->max_ack_delay_us = STREAM_MAX_ACK_DELAY_US_DEFAULT;
	cfg->idle_timeout_us = STREAM_IDLE_TIMEOUT_US_DEFAULT;
	cfg->keepalive_us = STREAM_KEEPALIVE_US_DEFAULT;
}

static size_t
clamp_payload(size_t n)
{
	return n < STREAM_PAYLOAD_MIN ? STREAM_PAYLOAD_MIN : n > STREAM_PAYLOAD_MAX ?
	    STREAM_PAYLOAD_MAX : n;
}

static void clamp_config(struct stream_config *c)
{
	c->max_payload = clamp_payload(c->max_payload);
	c->send_buffer = pow2_at_least(max_u64(c->send_buffer, 4 * c->max_payload));
	c->recv_window_max = pow2_at_least(max_u64(c->recv_window_max, STREAM_INITIAL_CREDIT));
	if (c->recv_window < STREAM_INITIAL_CREDIT)
		c->recv_window = STREAM_INITIAL_CREDIT;
	if (c->recv_window > c->recv_window_max)
		c->recv_window = c->recv_window_max;
	if (c->cc > STREAM_CC_NEWRENO)
		c->cc = STREAM_CC_BBR;
	if (c->initial_rtt_us == 0)
		c->initial_rtt_us = STREAM_INITIAL_RTT_US_DEFAULT;
	if (c->idle_timeout_us == 0)
		c->idle_timeout_us = STREAM_IDLE_TIMEOUT_US_DEFAULT;
}

static void on_acked(void *ctx, uint64_t pn, const struct sent_pkt *sp, bool spurious);
static void on_lost(void *ctx, uint64_t pn, const struct sent_pkt *sp);

struct stream *
stream_new(const struct stream_config *cfg, uint64_t now)
{
	struct stream *s = calloc(1, sizeof *s);
	struct recovery_cb cb = { .ctx = s, .acked = on_acked, .lost = on_lost };
	uint64_t ring, pkts;

	if (s == NULL)
		return NULL;
	s->cfg = *cfg;
	clamp_config(&s->cfg);
	s->max_payload = s->cfg.max_payload;
	s->smask = s->cfg.send_buffer - 1;
	s->rmask = pow2_at_least(s->cfg.recv_window) - 1;
	pkts = s->cfg.send_buffer / s->max_payload;
	ring = pow2_at_least(min_u64(max_u64(4 * pkts, RING_MIN), RING_MAX));
	/* Only the send ring gains from huge pages (stdin is read into it); the receive ring
	 * measured the same either way, so it keeps small pages and a smaller resident set. */
	s->sbuf = bigbuf_alloc(s->cfg.send_buffer);
	s->rbuf = malloc(s->cfg.recv_window_max);
	if (s->sbuf == NULL || s->rbuf == NULL ||
	    rangeset_init(&s->acked, 2 * pkts + 64) != 0 ||
	    rangeset_init(&s->retx, 2 * pkts + 64) != 0 ||
	    rangeset_init(&s->rcvd, 2 * (s->cfg.recv_window_max / s->max_payload) + 64) != 0 ||
	    rangeset_init(&s->pns, PN_RANGES) != 0 ||
	    recovery_init(&s->rec, ring, s->cfg.cc, dgram(s->max_payload), s->cfg.initial_rtt_us,
	    s->cfg.max_ack_delay_us, now, &cb) != 0) {
		stream_free(s);
		return NULL;
	}
	/* At least five probes before the idle timeout, however long the backoff. */
	s->rec.pto_max = max_u64(s->cfg.idle_timeout_us / 6, 1000);
	pacer_init(&s->pacer, dgram(s->max_payload), now);
	pacer_set_rate(&s->pacer, s->rec.cc.pacing_rate, dgram(s->max_payload));
	pacer_grant(&s->pacer, s->rec.cc.cwnd);	/* the initial window may leave at once */
	s->peer_max_data = STREAM_INITIAL_CREDIT;
	s->adv_max_data = STREAM_INITIAL_CREDIT;
	s->recv_window = s->cfg.recv_window;
	s->max_data_pending = true;	/* announce the real window at once */
	s->last_recv_time = now;
	s->last_eliciting_sent = now;
	s->ack_deadline = UINT64_MAX;
	s->path = STREAM_PATH_VALID;
	return s;
}

void
stream_free(struct stream *s)
{
	if (s == NULL)
		return;
	bigbuf_free(s->sbuf);
	free(s->rbuf);
	rangeset_free(&s->acked);
	rangeset_free(&s->retx);
	rangeset_free(&s->rcvd);
	rangeset_free(&s->pns);
	recovery_free(&s->rec);
	free(s);
}

/* ---- acknowledgments and losses of our packets (callbacks from recovery.c) ---- */

static void
mark_acked(struct stream *s, uint64_t lo, uint64_t hi)
{
	const struct range *first;

	lo = max_u64(lo, s->snd_una);
	if (lo >= hi)
		return;
	if (rangeset_add(&s->acked, lo, hi) != 0) {
		/* No room to remember it: send it again instead (the peer ignores duplicates). */
		rangeset_add_cover(&s->retx, lo, hi);
		return;
	}
	first = &s->acked.r[0];
	if (first->lo <= s->snd_una) {
		s->snd_una = first->hi;
		rangeset_remove_below(&s->acked, s->snd_una);
		rangeset_remove_below(&s->retx, s->snd_una);
	}
}

static void set_payload(struct stream *s, size_t payload);

static void
on_acked(void *ctx, uint64_t pn, const struct sent_pkt *sp, bool spurious)
{
	struct stream *s = ctx;

	if (sp->flags & SP_PMTU) {
		size_t best = pmtu_on_acked(&s->pmtu, s->cb_now, sp->stream_len, sp->stream_off);

		if (best > s->max_payload)
			set_payload(s, best);
	}
	if (sp->flags & SP_STREAM)
		mark_acked(s, sp->stream_off, sp->stream_off + sp->stream_len);
	if (sp->flags & SP_FIN) {
		s->fin_acked = true;
		s->fin_lost = false;
	}
	/* The peer has seen our ACK up to ack_largest: stop repeating those ranges. */
	if (sp->flags & SP_HAS_ACK)
		rangeset_remove_below(&s->pns, sp->ack_largest + 1);
}

static void
on_lost(void *ctx, uint64_t pn, const struct sent_pkt *sp)
{
	struct stream *s = ctx;

	if (sp->flags & SP_PMTU) {
		pmtu_on_lost(&s->pmtu, s->cb_now, sp->stream_len, sp->stream_off);
		return;
	}
	if ((sp->flags & SP_STREAM) && sp->stream_len > 0) {
		uint64_t lo = max_u64(sp->stream_off, s->snd_una);
		uint64_t hi = sp->stream_off + sp->stream_len;

		if (lo < hi)
			rangeset_add_cover(&s->retx, lo, hi);
	}
	if ((sp->flags & SP_FIN) && !s->fin_acked)
		s->fin_lost = true;
	if (sp->flags & SP_MAX_DATA)
		s->max_data_pending = true;
	if ((sp->flags & SP_CHALLENGE) && s->path == STREAM_PATH_VALIDATING)
		s->challenge_pending = true;
}

/* ---- state ---- */

static bool
write_done(const struct stream *s)
{
	return s->fin_set && s->fin_acked && s->snd_una == s->snd_end;
}

static bool
read_eof(const struct stream *s)
{
	return s->peer_fin_known && s->rcv_read == s->peer_fin_off;
}

static void
close_local(struct stream *s, uint64_t reason)
{
	if (s->state != STREAM_OPEN)
		return;
	s->state = STREAM_CLOSED_LOCAL;
	s->close_reason = reason;
	s->close_pending = true;
}

/* Both directions finished: say so with CLOSE(no error), then linger up to 10 PTOs, repeating it
 * every half PTO and whenever the peer sends (it may not have seen our last ACK), unless the
 * peer is done too. */
static void
check_done(struct stream *s, uint64_t now)
{
	if (s->state != STREAM_OPEN || !write_done(s) || !read_eof(s))
		return;
	if (!s->done_local) {
		s->done_local = true;
		s->close_pending = true;
		s->linger_until = now + min_u64(LINGER_PTOS * recovery_pto(&s->rec),
		    s->cfg.idle_timeout_us / 2);
		s->close_repeat_at = now + recovery_pto(&s->rec) / 2;
	}
	if (s->peer_done || now >= s->linger_until)
		s->state = STREAM_DONE;
}

/* Repeats our CLOSE to a peer that keeps sending, at most every few milliseconds. */
static void
answer_with_close(struct stream *s, uint64_t now)
{
	uint64_t gap = max_u64(s->rec.srtt / 8, 1000);

	if (now >= s->close_sent_time + gap)
		s->close_pending = true;
}

/* ---- receiving ---- */

static int
on_stream_frame(struct stream *s, const struct frame *f, bool *reject)
{
	uint64_t off = f->u.stream.offset, len = f->u.stream.len, end = off + len, lo;
	const struct range *first;

	if (end > s->adv_max_data)
		return -STREAM_CLOSE_FLOW;
	if (s->peer_fin_known && end > s->peer_fin_off)
		return -STREAM_CLOSE_PROTOCOL;
	if (f->u.stream.fin) {
		if ((s->peer_fin_known && end != s->peer_fin_off) || end < s->rcv_max)
			return -STREAM_CLOSE_PROTOCOL;
		s->peer_fin_known = true;
		s->peer_fin_off = end;
	}
	if (end > s->rcv_max)
		s->rcv_max = end;
	lo = max_u64(off, s->rcv_read);
	if (lo >= end)
		return 0;
	if (rangeset_add(&s->rcvd, lo, end) != 0) {
		*reject = true;		/* too fragmented to remember: do not acknowledge */
		return 0;
	}
	{
		const uint8_t *src = f->u.stream.data + (lo - off);
		uint64_t n = end - lo, at = lo & s->rmask;
		uint64_t first_part = min_u64(n, s->rmask + 1 - at);

		memcpy(s->rbuf + at, src, first_part);
		memcpy(s->rbuf, src + first_part, n - first_part);
	}
	first = &s->rcvd.r[0];
	if (first->lo <= s->rcv_read)
		s->rcv_contig = first->hi;
	return 0;
}

static void
on_peer_done(struct stream *s)
{
	if (!s->fin_set) {
		/* The peer cannot have finished without our FIN: it gave up on us. */
		s->state = STREAM_CLOSED_PEER;
		s->close_reason = STREAM_CLOSE_NONE;
		return;
	}
	/* It received everything we sent, whatever acknowledgments we missed. */
	s->peer_done = true;
	s->snd_una = s->snd_nxt = s->snd_end;
	rangeset_clear(&s->acked);
	rangeset_clear(&s->retx);
	s->fin_sent = s->fin_acked = true;
	s->fin_lost = false;
}

/* Applies one frame; returns 0 or minus a close reason. */
static int
apply_frame(struct stream *s, uint64_t now, const struct frame *f, bool *eliciting, bool *reject)
{
	switch (f->type) {
	case FRAME_PADDING:
		return 0;
	case FRAME_ACK:
		s->cb_now = now;
		if (recovery_on_ack(&s->rec, now, &f->u.ack) != 0)
			return -STREAM_CLOSE_PROTOCOL;
		pacer_set_rate(&s->pacer, s->rec.cc.pacing_rate, dgram(s->max_payload));
		return 0;
	case FRAME_CLOSE:
		if (f->u.close.code == STREAM_CLOSE_NONE) {
			on_peer_done(s);
		} else {
			s->state = STREAM_CLOSED_PEER;
			s->close_reason = f->u.close.code;
		}
		return 0;
	case FRAME_MAX_DATA:
		*eliciting = true;
		if (f->u.max_data > s->peer_max_data)
			s->peer_max_data = f->u.max_data;
		return 0;
	case FRAME_PING:
		*eliciting = true;
		return 0;
	case FRAME_PATH_CHALLENGE:
		*eliciting = true;
		memcpy(s->response, f->u.path_data, FRAME_PATH_DATA_LEN);
		s->response_pending = true;
		return 0;
	case FRAME_PATH_RESPONSE:
		*eliciting = true;
		if (s->path == STREAM_PATH_VALIDATING &&
		    memcmp(f->u.path_data, s->challenge, FRAME_PATH_DATA_LEN) == 0) {
			s->path = STREAM_PATH_VALID;
			s->challenge_pending = false;
		}
		return 0;
	default:
		*eliciting = true;
		return on_stream_frame(s, f, reject);
	}
}

static void
note_received_pn(struct stream *s, uint64_t now, uint64_t pn, bool eliciting)
{
	bool out_of_order = s->any_pn && pn != s->largest_pn + 1;
	unsigned every;

	s->stat_packets_received++;
	rangeset_add_drop_low(&s->pns, pn, pn + 1);
	if (!s->any_pn || pn > s->largest_pn) {
		s->largest_pn = pn;
		s->largest_pn_time = now;
		s->any_pn = true;
	}
	if (!eliciting)
		return;
	s->eliciting_received++;
	s->unacked_eliciting++;
	s->ack_pending = true;
	every = s->eliciting_received > ACK_STEADY_AFTER ? ACK_EVERY_STEADY : ACK_EVERY_FIRST;
	/* At once on reordering or a gap (fast loss detection at the peer). */
	if (out_of_order || s->unacked_eliciting >= every)
		s->ack_now = true;
	else if (s->ack_deadline == UINT64_MAX)
		s->ack_deadline = now + s->cfg.max_ack_delay_us;
}

int
stream_on_packet(struct stream *s, uint64_t now, uint64_t pn, const uint8_t *payload,
    size_t len)
{
	struct rd r;
	struct frame f;
	bool eliciting = false, reject = false;
	int rc;

	if (s->state == STREAM_CLOSED_LOCAL) {
		answer_with_close(s, now);
		return 0;
	}
	if (s->state != STREAM_OPEN)
		return 0;
	s->last_recv_time = now;
	if (s->done_local)
		answer_with_close(s, now);
	rd_init(&r, payload, len);
	while (rd_left(&r) > 0) {
		if (frame_parse(&r, &f) != 0) {
			close_local(s, STREAM_CLOSE_PROTOCOL);
			return -1;
		}
		rc = apply_frame(s, now, &f, &eliciting, &reject);
		if (rc < 0) {
			close_local(s, (uint64_t)-rc);
			return -1;
		}
		if (s->state != STREAM_OPEN)
			return 0;
	}
	if (!reject)
		note_received_pn(s, now, pn, eliciting);
	check_done(s, now);
	return 0;
}

/* ---- sending ---- */

static bool
have_new_data(const struct stream *s)
{
	return s->snd_nxt < s->snd_end && s->snd_nxt < s->peer_max_data;
}

static bool
fin_to_send(const struct stream *s)
{
	return s->fin_set && !s->fin_acked && (s->fin_lost || (!s->fin_sent &&
	    s->snd_nxt == s->snd_end));
}

static bool
have_data(const struct stream *s)
{
	return !rangeset_empty(&s->retx) || have_new_data(s) || fin_to_send(s);
}

static bool
have_control(const struct stream *s)
{
	return s->max_data_pending || s->challenge_pending || s->response_pending ||
	    s->ping_pending || s->close_pending;
}

/* Next range to retransmit, skipping acknowledged parts; false when none. */
static bool
next_retx(struct stream *s, uint64_t max, uint64_t *lo, uint64_t *hi)
{
	uint64_t a, b;

	while (rangeset_take_front(&s->retx, UINT64_MAX, &a, &b)) {
		const struct range *r;

		a = max_u64(a, s->snd_una);
		while (a < b && (r = rangeset_next(&s->acked, a)) != NULL && r->lo <= a)
			a = r->hi;
		if (a >= b)
			continue;
		r = rangeset_next(&s->acked, a);
		if (r != NULL && r->lo < b) {
			rangeset_add_cover(&s->retx, r->lo, b);	/* the rest, checked again later */
			b = r->lo;
		}
		if (b - a > max) {
			rangeset_add_cover(&s->retx, a + max, b);
			b = a + max;
		}
		*lo = a;
		*hi = b;
		return true;
	}
	return false;
}

static void
copy_out(const struct stream *s, uint8_t *dst, uint64_t off, uint64_t n)
{
	uint64_t at = off & s->smask, first = min_u64(n, s->smask + 1 - at);

	memcpy(dst, s->sbuf + at, first);
	memcpy(dst + first, s->sbuf, n - first);
}

/* Leaves the STREAM frame's data in the send buffer (see stream_next_packet_split) when it
 * is one piece there and the frames before it fit in the bytes that precede it. */
static bool
leave_in_place(const struct stream *s, const struct wr *w, uint64_t off, uint64_t n,
    struct stream_tail *tail)
{
	uint64_t at = off & s->smask;

	if (tail == NULL || n == 0 || wr_len(w) > STREAM_TAIL_HEAD_MAX || at < wr_len(w) ||
	    at + n > s->smask + 1)
		return false;
	tail->data = s->sbuf + at;
	tail->len = (size_t)n;
	return true;
}

/* Writes the STREAM frame (last in the packet, no length field). Returns false if none. */
static bool
write_stream(struct stream *s, struct wr *w, struct sent_pkt *sp, struct stream_tail *tail)
{
	uint64_t room = wr_left(w), lo = 0, hi = 0, hdr, off;
	bool retx = false, fin = false;
	uint8_t *dst;

	if (room < FRAME_STREAM_HDR_MAX + 1)
		return false;
	if (next_retx(s, room - FRAME_STREAM_HDR_MAX, &lo, &hi)) {
		retx = true;
	} else if (have_new_data(s)) {
		lo = s->snd_nxt;
		hi = min_u64(min_u64(s->snd_end, s->peer_max_data), lo + room - FRAME_STREAM_HDR_MAX);
	} else if (fin_to_send(s)) {
		lo = hi = s->snd_end;
	} else {
		return false;
	}
	/* Exact header size now that the offset is known; use the spare bytes for data. */
	hdr = frame_stream_hdr_len(lo, 0, false);
	if (!retx && hi < min_u64(s->snd_end, s->peer_max_data))
		hi = min_u64(min_u64(s->snd_end, s->peer_max_data), lo + room - hdr);
	fin = s->fin_set && hi == s->snd_end && !s->fin_acked;
	off = lo;
	if (!frame_write_stream_hdr(w, off, hi - lo, fin, false))
		return false;
	if (!leave_in_place(s, w, lo, hi - lo, tail)) {
		dst = wr_reserve(w, hi - lo);
		copy_out(s, dst, lo, hi - lo);
	}
	sp->flags |= SP_STREAM | (fin ? SP_FIN : 0);
	sp->stream_off = lo;
	sp->stream_len = (uint32_t)(hi - lo);
	if (retx) {
		s->stat_bytes_retx += hi - lo;
	} else if (hi > s->snd_nxt) {
		s->stat_bytes_sent += hi - s->snd_nxt;
		s->snd_nxt = hi;
	}
	if (fin) {
		s->fin_sent = true;
		s->fin_lost = false;
	}
	return true;
}

/* Receive-window auto-tuning: if a quarter of the window was consumed in less than an RTT
 * since the last update, the window is under 4 BDP: double it (up to the maximum), so that
 * BBR's window (2 BDP) and its STARTUP overshoot are rarely limited by credit. */
/* Doubles the part of the receive buffer in use. Data lives at offset & rmask; with the
 * larger mask, the bytes whose offset has the new bit set move up by the old size. Everything
 * buffered lies in [rcv_read, rcv_read + old size) (flow control), so no two live bytes share a
 * position before or after, and the upper half is free before the move. */
static void
grow_ring(struct stream *s)
{
	uint64_t size = s->rmask + 1, off = s->rcv_read, end = s->rcv_read + size;

	while (off < end) {
		uint64_t at = off & s->rmask, n = min_u64(end - off, size - at);

		if (off & size)
			memcpy(s->rbuf + at + size, s->rbuf + at, n);
		off += n;
	}
	s->rmask = 2 * size - 1;
}

static void
autotune_window(struct stream *s, uint64_t now)
{
	if (s->window_update_time != 0 && s->rec.has_rtt &&
	    now - s->window_update_time < s->rec.srtt &&
	    s->recv_window < s->cfg.recv_window_max) {
		s->recv_window = min_u64(2 * s->recv_window, s->cfg.recv_window_max);
		/* Keep the buffer in use as small as the window: it stays in the CPU cache. */
		while (s->rmask + 1 < s->recv_window)
			grow_ring(s);
	}
	s->window_update_time = now;
}

/* Frame writers' results: on failure the partial frame is taken back out of the packet.
 * Usage: mark = w.p; ok = put(&w, mark, frame_write_...(&w, ...)) (mark taken first). */
static bool
put(struct wr *w, uint8_t *mark, bool ok)
{
	if (!ok) {
		w->p = mark;
		w->bad = false;
	}
	return ok;
}

static bool
write_ack(struct stream *s, struct wr *w, uint64_t now, struct sent_pkt *sp)
{
	uint8_t *mark = w->p;
	size_t max_ranges;

	if (rangeset_empty(&s->pns) || wr_left(w) < 48)
		return false;
	max_ranges = min_u64((wr_left(w) - 32) / 16, ACK_RANGES_PER_FRAME);
	if (!frame_write_ack(w, s->pns.r, s->pns.n,
	    now > s->largest_pn_time ? now - s->largest_pn_time : 0, max_ranges)) {
		/* Never leave half a frame in the packet. */
		w->p = mark;
		w->bad = false;
		return false;
	}
	sp->flags |= SP_HAS_ACK;
	sp->ack_largest = s->pns.r[s->pns.n - 1].hi - 1;
	s->ack_pending = s->ack_now = false;
	s->unacked_eliciting = 0;
	s->ack_deadline = UINT64_MAX;
	return true;
}

static bool
ack_due(const struct stream *s, uint64_t now)
{
	return s->ack_pending && (s->ack_now || now >= s->ack_deadline);
}

static bool
cwnd_allows(const struct stream *s)
{
	return recovery_path_in_flight(&s->rec) + dgram(s->max_payload) <= s->rec.cc.cwnd;
}

/* A path MTU probe may go: the path is validated and has room for it in the window. */
static bool
pmtu_probe_allowed(const struct stream *s, size_t payload)
{
	return payload > 0 && s->path == STREAM_PATH_VALID && s->rec.has_rtt &&
	    recovery_path_in_flight(&s->rec) + dgram(payload) <= s->rec.cc.cwnd;
}

/* PING padded to exactly `payload` bytes (with an ACK if one is pending), sent alone. */
static size_t
pmtu_probe_packet(struct stream *s, uint64_t now, uint8_t *buf, size_t payload, uint64_t *pn)
{
	struct wr w;
	struct sent_pkt sp = {0};

	wr_init(&w, buf, payload);
	if (s->ack_pending)
		write_ack(s, &w, now, &sp);
	if (!frame_write_ping(&w))
		return 0;	/* cannot happen: an ACK frame is far smaller than a probe */
	memset(w.p, FRAME_PADDING, wr_left(&w));
	sp.flags |= SP_PMTU;
	/* for the callbacks: the size it tried and which probe it was */
	sp.stream_len = (uint32_t)payload;
	sp.stream_off = pmtu_on_sent(&s->pmtu);
	sp.size = (uint32_t)dgram(payload);
	*pn = s->rec.next_pn;
	recovery_on_sent(&s->rec, now, &sp, true);
	s->last_eliciting_sent = now;
	s->stat_packets_sent++;
	s->stat_pmtu_probes++;
	return payload;
}

static size_t
close_packet(struct stream *s, uint64_t now, uint8_t *buf, size_t cap, uint64_t *pn)
{
	struct wr w;
	struct sent_pkt sp = {0};
	uint8_t *mark;
	char text[64];

	if (!s->close_pending || !recovery_has_room(&s->rec, now, false))
		return 0;
	wr_init(&w, buf, cap);
	if (s->ack_pending || s->state == STREAM_OPEN || s->state == STREAM_DONE)
		write_ack(s, &w, now, &sp);
	mark = w.p;
	if (!put(&w, mark, frame_write_close(&w, s->close_reason,
	    stream_reason_text(s->close_reason, text, sizeof text))))
		return 0;
	s->close_pending = false;
	s->close_sent_time = now;
	sp.flags |= SP_CLOSE;
	*pn = s->rec.next_pn;
	recovery_on_sent(&s->rec, now, &sp, false);
	s->stat_packets_sent++;
	return wr_len(&w);
}

size_t
stream_next_packet(struct stream *s, uint64_t now, uint8_t *buf, size_t cap, uint64_t *pn)
{
	return stream_next_packet_split(s, now, buf, cap, pn, NULL);
}

size_t
stream_next_packet_split(struct stream *s, uint64_t now, uint8_t *buf, size_t cap, uint64_t *pn,
    struct stream_tail *tail)
{
	struct wr w;
	struct sent_pkt sp = {0};
	uint8_t *mark;
	bool data_ok, eliciting = false, probe, room_el;
	size_t probe_len, len;

	if (tail != NULL)
		*tail = (struct stream_tail){0};	/* close and probe packets are all in buf */
	check_done(s, now);
	s->cb_now = now;
	probe_len = pmtu_due(&s->pmtu, now);
	if (probe_len > cap) {
		pmtu_stop(&s->pmtu);	/* the caller cannot send it: end the search, no busy deadline */
		probe_len = 0;
	}
	cap = min_u64(cap, s->max_payload);
	if (cap < STREAM_PAYLOAD_MIN / 2)
		return 0;
	if (s->state != STREAM_OPEN)
		return close_packet(s, now, buf, cap, pn);
	if (s->close_pending && s->done_local)
		return close_packet(s, now, buf, cap, pn);
	if (!recovery_has_room(&s->rec, now, false))
		return 0;
	room_el = recovery_has_room(&s->rec, now, true);
	if (room_el && !s->done_local && pmtu_probe_allowed(s, probe_len))
		return pmtu_probe_packet(s, now, buf, probe_len, pn);
	probe = s->rec.probes > 0;
	data_ok = room_el && have_data(s) &&
	    (probe || (cwnd_allows(s) && pacer_can_send(&s->pacer, now, dgram(s->max_payload))));
	if (!have_data(s) && !probe && cwnd_allows(s))
		recovery_set_app_limited(&s->rec);
	if (!ack_due(s, now) && !(room_el && (have_control(s) || data_ok || probe)))
		return 0;

	wr_init(&w, buf, cap);
	if (s->ack_pending)
		write_ack(s, &w, now, &sp);
	mark = w.p;
	if (room_el && s->response_pending && put(&w, mark, frame_write_path(&w,
	    FRAME_PATH_RESPONSE, s->response))) {
		s->response_pending = false;
		eliciting = true;
	}
	mark = w.p;
	if (room_el && s->challenge_pending && put(&w, mark, frame_write_path(&w,
	    FRAME_PATH_CHALLENGE, s->challenge))) {
		s->challenge_pending = false;
		sp.flags |= SP_CHALLENGE;
		eliciting = true;
	}
	if (room_el && s->max_data_pending && !s->peer_fin_known) {
		autotune_window(s, now);
		mark = w.p;
		if (put(&w, mark, frame_write_max_data(&w, s->rcv_read + s->recv_window))) {
			s->adv_max_data = max_u64(s->adv_max_data, s->rcv_read + s->recv_window);
			s->max_data_pending = false;
			sp.flags |= SP_MAX_DATA;
			eliciting = true;
		}
	} else if (s->peer_fin_known) {
		s->max_data_pending = false;
	}
	/* A due keepalive goes before the STREAM frame: that one has no length field and runs
	 * to the end of the packet, so a PING after it would turn into a stream byte. */
	mark = w.p;
	if (room_el && s->ping_pending && put(&w, mark, frame_write_ping(&w))) {
		s->ping_pending = false;
		eliciting = true;
	}
	if (data_ok && write_stream(s, &w, &sp, tail))
		eliciting = true;
	mark = w.p;
	if (room_el && probe && !eliciting && put(&w, mark, frame_write_ping(&w)))
		eliciting = true;
	len = wr_len(&w) + (tail != NULL ? tail->len : 0);
	if (len == 0)
		return 0;
	sp.size = (uint32_t)dgram(len);
	*pn = s->rec.next_pn;
	recovery_on_sent(&s->rec, now, &sp, eliciting);
	if (eliciting) {
		s->last_eliciting_sent = now;
		if (probe)
			s->rec.probes--;
		else if (sp.flags & SP_STREAM)
			pacer_on_sent(&s->pacer, sp.size);
	}
	s->stat_packets_sent++;
	return len;
}

/* ---- timers ---- */

uint64_t
stream_deadline(const struct stream *s)
{
	uint64_t t = UINT64_MAX;
	/* With the sent-packet ring full, "send now" would be a busy loop: wait for room. */
	bool room = recovery_room(&s->rec, false), room_el = recovery_room(&s->rec, true);

	if (s->close_pending && room)
		return 0;
	if (s->state != STREAM_OPEN)
		return s->close_pending ? recovery_room_deadline(&s->rec) : UINT64_MAX;
	if (s->ack_pending && s->ack_now && room)
		return 0;
	if ((have_control(s) || s->rec.probes > 0) && room_el)
		return 0;
	if (!s->done_local && write_done(s) && read_eof(s))
		return 0;
	if (have_data(s) && cwnd_allows(s) && room_el)
		t = pacer_next_time(&s->pacer, 0, dgram(s->max_payload));
	if (room_el && !s->done_local && pmtu_probe_allowed(s, s->pmtu.trying))
		t = min_u64(t, pmtu_deadline(&s->pmtu));
	if (!room_el)
		t = recovery_room_deadline(&s->rec);
	if (s->ack_pending)
		t = min_u64(t, s->ack_deadline);
	t = min_u64(t, recovery_deadline(&s->rec));
	t = min_u64(t, s->last_recv_time + s->cfg.idle_timeout_us);
	if (s->cfg.keepalive_us > 0 && s->rec.eliciting_in_flight == 0)
		t = min_u64(t, s->last_eliciting_sent + s->cfg.keepalive_us);
	if (s->done_local)
		t = min_u64(t, min_u64(s->linger_until, s->close_repeat_at));
	if (s->path == STREAM_PATH_VALIDATING)
		t = min_u64(t, s->path_deadline);
	return t;
}

void
stream_on_timeout(struct stream *s, uint64_t now)
{
	if (s->state != STREAM_OPEN)
		return;
	if (now >= s->last_recv_time + s->cfg.idle_timeout_us) {
		if (s->done_local) {
			/* Finished; only the courtesy of lingering was cut short. */
			s->state = STREAM_DONE;
			return;
		}
		s->state = STREAM_LOST;
		s->close_reason = STREAM_CLOSE_IDLE;
		return;
	}
	s->cb_now = now;
	recovery_on_timeout(&s->rec, now);
	if (s->rec.pto_count >= 2 && s->pmtu.ceiling != 0 && s->max_payload > s->pmtu.base)
		set_payload(s, pmtu_black_hole(&s->pmtu, now));	/* big packets stopped */
	pacer_set_rate(&s->pacer, s->rec.cc.pacing_rate, dgram(s->max_payload));
	if (s->cfg.keepalive_us > 0 && s->rec.eliciting_in_flight == 0 &&
	    now >= s->last_eliciting_sent + s->cfg.keepalive_us)
		s->ping_pending = true;
	if (s->path == STREAM_PATH_VALIDATING && now >= s->path_deadline) {
		s->path = STREAM_PATH_FAILED;
		s->challenge_pending = false;
	}
	if (s->ack_pending && now >= s->ack_deadline)
		s->ack_now = true;
	if (s->done_local && now >= s->close_repeat_at) {
		s->close_pending = true;
		s->close_repeat_at = now + recovery_pto(&s->rec) / 2;
	}
	check_done(s, now);
}

/* ---- application side ---- */

/* How much of the send buffer may hold data now: the whole buffer on long fat paths, but only
 * about two windows' worth otherwise, so the bytes the application writes are still in the CPU
 * cache when they are sent (and the application is not asked for data long before it is
 * needed). */
static uint64_t
send_limit(const struct stream *s)
{
	uint64_t limit = 2 * s->rec.cc.cwnd + SEND_AHEAD;

	return min_u64(max_u64(limit, SEND_LIMIT_MIN), s->smask + 1);
}

size_t
stream_writable(const struct stream *s)
{
	uint64_t used = s->snd_end - s->snd_una, limit = send_limit(s);

	if (s->fin_set || s->state != STREAM_OPEN || used >= limit)
		return 0;
	return (size_t)(limit - used);
}

uint8_t *
stream_write_reserve(struct stream *s, size_t *len)
{
	uint64_t at = s->snd_end & s->smask;

	*len = (size_t)min_u64(stream_writable(s), s->smask + 1 - at);
	return s->sbuf + at;
}

void
stream_write_commit(struct stream *s, size_t n)
{
	size_t len;

	stream_write_reserve(s, &len);
	s->snd_end += n < len ? n : len;
}

size_t
stream_write(struct stream *s, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		size_t room;
		uint8_t *dst = stream_write_reserve(s, &room);

		if (room == 0)
			break;
		if (room > len - done)
			room = len - done;
		memcpy(dst, (const uint8_t *)buf + done, room);
		s->snd_end += room;
		done += room;
	}
	return done;
}

void
stream_shutdown_write(struct stream *s)
{
	s->fin_set = true;
}

bool
stream_write_done(const struct stream *s)
{
	return write_done(s);
}

size_t
stream_readable(const struct stream *s)
{
	return (size_t)(s->rcv_contig > s->rcv_read ? s->rcv_contig - s->rcv_read : 0);
}

void
stream_read_peek(const struct stream *s, const uint8_t **data, size_t *len)
{
	uint64_t at = s->rcv_read & s->rmask;

	*data = s->rbuf + at;
	*len = (size_t)min_u64(stream_readable(s), s->rmask + 1 - at);
}

void
stream_read_consume(struct stream *s, size_t n)
{
	n = (size_t)min_u64(n, stream_readable(s));
	s->rcv_read += n;
	rangeset_remove_below(&s->rcvd, s->rcv_read);
	/* Grant more credit once a quarter of the window has been consumed. */
	if (!s->peer_fin_known && s->rcv_read + s->recv_window >= s->adv_max_data + s->recv_window / 4)
		s->max_data_pending = true;
}

size_t
stream_read(struct stream *s, void *buf, size_t cap)
{
	size_t done = 0;

	while (done < cap) {
		const uint8_t *src;
		size_t n;

		stream_read_peek(s, &src, &n);
		if (n == 0)
			break;
		if (n > cap - done)
			n = cap - done;
		memcpy((uint8_t *)buf + done, src, n);
		stream_read_consume(s, n);
		done += n;
	}
	return done;
}

bool
stream_read_eof(const struct stream *s)
{
	return read_eof(s);
}

/* ---- close, path, statistics ---- */

void
stream_close(struct stream *s, uint64_t now, uint64_t reason)
{
	close_local(s, reason);
}

enum stream_state
stream_state(const struct stream *s)
{
	return s->state;
}

uint64_t
stream_close_reason(const struct stream *s)
{
	return s->close_reason;
}

const char *
stream_reason_text(uint64_t reason, char *buf, size_t cap)
{
	static const char *const names[] = {
		"no error", "protocol violation", "flow control violation", "internal error",
		"application error", "idle timeout"
	};

	if (reason < sizeof names / sizeof names[0])
		snprintf(buf, cap, "%s", names[reason]);
	else if (reason > STREAM_CLOSE_APP_BASE && reason < STREAM_CLOSE_APP_BASE + 128)
		snprintf(buf, cap, "interrupted by signal %u",
		    (unsigned)(reason - STREAM_CLOSE_APP_BASE));
	else
		snprintf(buf, cap, "reason %llu", (unsigned long long)reason);
	return buf;
}

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

void
stream_path_changed(struct stream *s, uint64_t now, uint64_t rtt_us)
{
	uint64_t x = s->cfg.seed ^ ++s->challenge_counter, v = splitmix64(&x);

	for (int i = 0; i < FRAME_PATH_DATA_LEN; i++)
		s->challenge[i] = (uint8_t)(v >> (8 * i));
	s->path = STREAM_PATH_VALIDATING;
	s->challenge_pending = true;
	/* A size that fit the old path may not fit this one: the shell starts a new search. */
	if (s->pmtu.ceiling != 0 || s->pmtu.best > s->pmtu.base) {
		if (s->pmtu.base != 0)
			s->max_payload = clamp_payload(s->pmtu.base);
		pmtu_stop(&s->pmtu);
	}
	s->path_deadline = now + 6 * s->cfg.initial_rtt_us;
	recovery_path_reset(&s->rec, now, dgram(s->max_payload), rtt_us);
	pacer_init(&s->pacer, dgram(s->max_payload), now);
	pacer_set_rate(&s->pacer, s->rec.cc.pacing_rate, dgram(s->max_payload));
	pacer_grant(&s->pacer, s->rec.cc.cwnd);
	/* The new path has a new RTT; do not count the time it took to notice. */
	s->last_recv_time = now;
	if (s->state == STREAM_OPEN && s->done_local) {
		/*
		 * Lingering: the linger was sized by the old path's RTT, but the peer's next
		 * retransmission (of the FIN whose ACK it missed) comes on the new path's timers.
		 * Linger as long as the new path needs and say CLOSE on it at once. (Found by the
		 * simulator torture: the peer ended with "connection lost" after delivering all.)
		 */
		s->linger_until = max_u64(s->linger_until, now + min_u64(LINGER_PTOS *
		    recovery_pto(&s->rec), s->cfg.idle_timeout_us / 2));
		s->close_pending = true;
		s->close_repeat_at = now + recovery_pto(&s->rec) / 2;
	}
}

enum stream_path_state
stream_path_state(const struct stream *s)
{
	return s->path;
}

static void
set_payload(struct stream *s, size_t max_payload)
{
	max_payload = clamp_payload(max_payload);
	/* The rings and range sets were sized for the configured payload; never go above it. */
	if (max_payload > s->cfg.max_payload)
		max_payload = s->cfg.max_payload;
	s->max_payload = max_payload;
	cc_set_mss(&s->rec.cc, dgram(max_payload));
	pacer_set_rate(&s->pacer, s->rec.cc.pacing_rate, dgram(max_payload));
}

void
stream_set_max_payload(struct stream *s, size_t max_payload)
{
	pmtu_stop(&s->pmtu);
	set_payload(s, max_payload);
}

void
stream_pmtu_search(struct stream *s, uint64_t now, size_t ceiling)
{
	if (ceiling > s->cfg.max_payload)
		ceiling = s->cfg.max_payload;
	pmtu_start(&s->pmtu, now, s->max_payload, ceiling);
}

size_t
stream_payload(const struct stream *s)
{
	return s->max_payload;
}

void
stream_get_stats(const struct stream *s, struct stream_stats *st)
{
	memset(st, 0, sizeof *st);
	st->bytes_sent = s->stat_bytes_sent;
	st->bytes_acked = s->snd_una;
	st->bytes_received = s->rcv_contig;
	st->bytes_retransmitted = s->stat_bytes_retx;
	st->packets_sent = s->stat_packets_sent;
	st->pmtu_probes = s->stat_pmtu_probes;
	st->payload = s->max_payload;
	st->packets_received = s->stat_packets_received;
	st->packets_lost = s->rec.stat_lost;
	st->packets_spurious = s->rec.stat_spurious;
	st->pto_count = s->rec.stat_pto;
	st->srtt_us = s->rec.srtt;
	st->min_rtt_us = s->rec.min_rtt;
	st->rttvar_us = s->rec.rttvar;
	st->latest_rtt_us = s->rec.latest_rtt;
	st->cwnd = s->rec.cc.cwnd;
	st->pacing_rate = s->rec.cc.pacing_rate;
	st->bytes_in_flight = s->rec.bytes_in_flight;
	st->send_credit = s->peer_max_data;
	st->recv_window = s->recv_window;
	st->reorder_threshold = s->rec.reorder_threshold;
	st->largest_acked = s->rec.any_acked ? s->rec.largest_acked + 1 : 0;
}

uint64_t
stream_largest_acked(const struct stream *s)
{
	return s->rec.any_acked ? s->rec.largest_acked + 1 : 0;
}

const char *
stream_cc_name(enum stream_cc cc)
{
	switch (cc) {
	case STREAM_CC_CUBIC:
		return "cubic";
	case STREAM_CC_NEWRENO:
		return "newreno";
	default:
		return "bbr";
	}
}
