/* The peer's rendezvous client: JOIN with cookie retry, discovery, reliable peer messages, GO. */
#include "rv_client.h"

#include <string.h>

#include <sodium.h>

#include "clock.h"
#include "exitcode.h"

#define JOIN_RTO_US (250 * US_PER_MS)
#define JOIN_RTO_MAX_US (2 * US_PER_S)
#define TX_RTO_US (200 * US_PER_MS)
#define TX_RTO_MAX_US (1 * US_PER_S)
#define READY_RTO_US (250 * US_PER_MS)
#define DISCOVER_RTO_US (150 * US_PER_MS)
#define CLOSING_REPEAT 3
#define CLOSING_GAP_US (100 * US_PER_MS)
#define REBIND_MIN_GAP_US (1 * US_PER_S)
#define VERIFY_TICK_US (1 * US_PER_S)
/* The relay quiet this long after it carried our peer's packets: ask the server (doubling). */
#define SILENCE_PROBE_US (1 * US_PER_S)
/* Ticks with relay use and no authenticated relayed packet before a resumed room is left. */
#define VERIFY_MISSES ((unsigned)(RV_RESUME_VERIFY_US / VERIFY_TICK_US))

void
rv_client_init(struct rv_client *c, const struct rv_client_cfg *cfg, uint64_t now)
{
	memset(c, 0, sizeof *c);
	c->cfg = *cfg;
	c->state = RV_ST_JOINING;
	if (cfg->test_nonce != NULL)
		memcpy(c->nonce, cfg->test_nonce, RV_NONCE_LEN);
	else
		randombytes_buf(c->nonce, RV_NONCE_LEN);
	c->started = now;
	c->join_next = now;
	c->join_rto = JOIN_RTO_US;
	c->discover_due[0] = c->discover_due[1] = true;
	c->discover_next = now + DISCOVER_RTO_US;
	c->tx_next_seq = 1;
	c->rx_next_seq = 1;
	c->tx_next = TIME_NEVER;
	c->keepalive_next = TIME_NEVER;
	c->ready_next = TIME_NEVER;
	c->closing_next = TIME_NEVER;
	c->rebind_last = TIME_NEVER;
	c->verify_next = TIME_NEVER;
	c->silence_probe_next = TIME_NEVER;
	if (cfg->nameplate > RV_NAMEPLATE_MAX ||
	    (cfg->claim_only && cfg->nameplate == 0)) {
		struct rv_event *ev = &c->evq[0];

		memset(ev, 0, sizeof *ev);
		ev->kind = RV_EV_ERROR;
		ev->error = c->error = RV_ERR_BAD_NAMEPLATE;
		c->evq_count = 1;
		c->state = RV_ST_CLOSED;
	}
}

/* ---- events ---- */

static struct rv_event *
push_event(struct rv_client *c, enum rv_event_kind kind)
{
	struct rv_event *ev;

	if (c->evq_count == RV_EVQ_LEN)
		return NULL;
	ev = &c->evq[(c->evq_head + c->evq_count++) % RV_EVQ_LEN];
	memset(ev, 0, sizeof *ev);
	ev->kind = kind;
	ev->nameplate = c->nameplate;
	memcpy(ev->sid, c->sid, RV_SID_LEN);
	ev->initiator = c->role == RV_ROLE_INITIATOR;
	ev->relay = (c->room_flags & RV_FLAG_RELAY) != 0;
	ev->reflexive[0] = c->reflexive[0];
	ev->reflexive[1] = c->reflexive[1];
	ev->mapping_varies = c->reflexive[0].family != 0 && c->reflexive[1].family != 0 &&
	    !netaddr_eq(&c->reflexive[0], &c->reflexive[1]);
	return ev;
}

static void
fail(struct rv_client *c, enum rv_error e)
{
	struct rv_event *ev;

	if (c->error != RV_ERR_NONE)
		return;
	c->error = e;
	c->state = RV_ST_CLOSED;
	c->txq_count = 0;
	ev = push_event(c, RV_EV_ERROR);
	if (ev == NULL) {
		/* make room: an error ends everything, so it must be seen */
		c->evq_count--;
		ev = push_event(c, RV_EV_ERROR);
	}
	ev->error = e;
}

static void
report_joined(struct rv_client *c)
{
	if (c->joined_reported)
		return;
	c->joined_reported = true;
	push_event(c, RV_EV_JOINED);
	if (c->peer_joined_pending) {
		c->peer_joined_pending = false;
		push_event(c, RV_EV_PEER_JOINED);
	}
}

static void
peer_arrived(struct rv_client *c, uint64_t now)
{
	if (c->peer_present)
		return;
	c->peer_present = true;
	if (c->resume_unverified) {
		/* the check of a resumed room starts when someone is there to answer */
		c->verify_next = now + VERIFY_TICK_US;
		c->verify_misses = 0;
		c->relay_tx_seen = c->relay_tx;
	}
	/* what we queued while alone was dropped by the server: send it again now, not at RTO */
	if (c->txq_count > 0) {
		c->tx_sent = 0;
		c->tx_rto = TX_RTO_US;
		c->tx_next = TIME_NEVER;
	}
	if (c->joined_reported)
		push_event(c, RV_EV_PEER_JOINED);
	else
		c->peer_joined_pending = true;
}

bool
rv_client_next_event(struct rv_client *c, struct rv_event *ev)
{
	if (c->evq_count == 0)
		return false;
	*ev = c->evq[c->evq_head];
	c->evq_head = (c->evq_head + 1) % RV_EVQ_LEN;
	c->evq_count--;
	if (ev->kind == RV_EV_PEER_MESSAGE) {
		const struct rv_rxmsg *m = &c->rxq[c->rxq_head];

		ev->msg = m->data;
		ev->msg_len = m->len;
		c->rxq_head = (c->rxq_head + 1) % RV_RXQ_LEN;
		c->rxq_count--;
	}
	return true;
}

/* ---- resume ---- */

/* Back to JOIN on the same nameplate; what the peers exchanged so far stays valid. */
static void
start_resume(struct rv_client *c, uint64_t now, enum rv_error why)
{
	struct rv_event *ev;

	c->state = RV_ST_JOINING;
	c->resuming = true;
	c->resume_unverified = false;
	c->verify_next = TIME_NEVER;
	c->peer_present = c->peer_joined_pending = false;
	c->discover_due[0] = c->discover_due[1] = false;
	c->join_next = now;
	c->join_rto = JOIN_RTO_US;
	/* unacknowledged peer messages go again, same seqs, once the new room has our peer */
	c->tx_sent = 0;
	c->tx_rto = TX_RTO_US;
	c->tx_next = TIME_NEVER;
	c->ack_due = false;
	c->keepalive_now = false;
	c->keepalive_next = TIME_NEVER;
	c->silence_probe_next = TIME_NEVER;
	ev = push_event(c, RV_EV_RESUMING);
	if (ev != NULL)
		ev->error = why;
}

/* The room is gone (or useless): re-join when connected, else it is the end. */
static void
lose_room(struct rv_client *c, uint64_t now, enum rv_error why)
{
	if (c->resumable && c->state == RV_ST_IN_ROOM)
		start_resume(c, now, why);
	else
		fail(c, why);
}

/* A refused JOIN while resuming: try again later, never give up (the caller's timeout rules). */
static void
resume_refused(struct rv_client *c, uint64_t now)
{
	c->join_next = now + RV_RESUME_RETRY_US;
	c->join_rto = JOIN_RTO_US;
}

/* ---- input ---- */

static enum rv_error
map_error(uint8_t code)
{
	switch (code) {
	case RV_E_UNKNOWN_NAMEPLATE: return RV_ERR_UNKNOWN_NAMEPLATE;
	case RV_E_ROOM_FULL: return RV_ERR_ROOM_FULL;
	case RV_E_BURNED: return RV_ERR_BURNED;
	case RV_E_RATE_LIMITED: return RV_ERR_RATE_LIMITED;
	case RV_E_SERVER_FULL: return RV_ERR_SERVER_FULL;
	case RV_E_SHUTTING_DOWN: return RV_ERR_SHUTTING_DOWN;
	case RV_E_NO_ROOM: return RV_ERR_NO_ROOM;
	case RV_E_BAD_NAMEPLATE: return RV_ERR_BAD_NAMEPLATE;
	default: return RV_ERR_PROTOCOL;
	}
}

/* NO_ROOM answers a member message and names the room instead of our nonce. */
static bool
is_room_tag(const struct rv_client *c, const uint8_t tag[RV_NONCE_LEN])
{
	uint8_t want[RV_NONCE_LEN] = { 0 };

	want[0] = (uint8_t)(c->auth.room_id >> 24);
	want[1] = (uint8_t)(c->auth.room_id >> 16);
	want[2] = (uint8_t)(c->auth.room_id >> 8);
	want[3] = (uint8_t)c->auth.room_id;
	want[4] = c->auth.member;
	return c->state == RV_ST_IN_ROOM && memcmp(tag, want, RV_NONCE_LEN) == 0;
}

/* JOINED while resuming: a new room (or our old one, if it still existed) on our nameplate. */
static void
on_resumed(struct rv_client *c, uint64_t now, const struct rv_msg *m)
{
	if (m->nameplate != c->nameplate) {
		c->dropped++;
		return;
	}
	c->state = RV_ST_IN_ROOM;
	c->resuming = false;
	c->resume_unverified = true;
	c->resumes++;
	memcpy(c->sid, m->sid, RV_SID_LEN);	/* unused now: the keys are made */
	c->role = m->role;
	c->room_flags = m->flags;
	c->auth = m->auth;
	c->reflexive[0] = m->addr;
	c->joined_at = now;
	c->keepalive_next = now + RV_KEEPALIVE_US;
	c->keepalive_now = !c->have_cookie;	/* see on_joined */
	push_event(c, RV_EV_RESUMED);
	if (m->flags & RV_FLAG_PEER_PRESENT)
		peer_arrived(c, now);
}

static void
on_joined(struct rv_client *c, uint64_t now, const struct rv_msg *m)
{
	if (c->state != RV_ST_JOINING)
		return;		/* a duplicate */
	if (c->resuming) {
		on_resumed(c, now, m);
		return;
	}
	if (c->cfg.nameplate != 0 && m->nameplate != c->cfg.nameplate) {
		fail(c, RV_ERR_PROTOCOL);
		return;
	}
	c->state = RV_ST_IN_ROOM;
	c->nameplate = m->nameplate;
	memcpy(c->sid, m->sid, RV_SID_LEN);
	c->role = m->role;
	c->room_flags = m->flags;
	c->auth = m->auth;
	c->reflexive[0] = m->addr;
	c->joined_at = now;
	c->keepalive_next = now + RV_KEEPALIVE_US;
	/* Admitted without a cookie round trip: until our token comes back from this address
	 * the server sends us only as many bytes as we sent it, so send it back at once. */
	c->keepalive_now = !c->have_cookie;
	if (c->cfg.nameplate == 0 && !c->nameplate_reported) {
		c->nameplate_reported = true;
		push_event(c, RV_EV_NAMEPLATE);
	}
	if (m->flags & RV_FLAG_PEER_PRESENT)
		peer_arrived(c, now);
	if (c->reflexive[1].family != 0)
		report_joined(c);
}

static void
on_peer_recv(struct rv_client *c, uint64_t now, const struct rv_msg *m)
{
	bool progress = false;

	if (c->state != RV_ST_IN_ROOM)
		return;
	peer_arrived(c, now);
	/* cumulative ack: everything up to m->ack arrived */
	while (c->txq_count > 0 && c->txq[c->txq_head].seq <= m->ack) {
		c->txq_head = (c->txq_head + 1) % RV_TXQ_LEN;
		c->txq_count--;
		if (c->tx_sent > 0)
			c->tx_sent--;
		progress = true;
	}
	if (progress) {
		c->tx_rto = TX_RTO_US;
		c->tx_next = c->txq_count > 0 ? now + c->tx_rto : TIME_NEVER;
	}
	if (m->seq == 0)
		return;
	c->ack_due = true;	/* acknowledge duplicates too: our ack may have been lost */
	/* Not before JOINED is reported: the peer starts its handshake on JOINED, so a message
	 * delivered earlier (the other member's share arriving while we still wait for the
	 * discovery port) would be consumed by nobody. Unaccepted, it is sent again. */
	if (!c->joined_reported || m->seq != c->rx_next_seq || c->rxq_count == RV_RXQ_LEN ||
	    c->evq_count == RV_EVQ_LEN)
		return;		/* early, out of order or no room: the sender retransmits */
	{
		struct rv_rxmsg *slot = &c->rxq[(c->rxq_head + c->rxq_count++) % RV_RXQ_LEN];

		memcpy(slot->data, m->payload, m->payload_len);
		slot->len = (uint16_t)m->payload_len;
	}
	c->rx_next_seq++;
	push_event(c, RV_EV_PEER_MESSAGE);
}

void
rv_client_input(struct rv_client *c, uint64_t now, unsigned port_index, const uint8_t *buf,
    size_t len)
{
	struct rv_msg m;
	struct rv_relay_hdr h;

	if (rv_relay_hdr_read(&h, buf, len) && h.type == RV_RELAY_REBIND) {
		/* the server saw our relay packets from an address it does not know: prove it */
		if (c->state == RV_ST_IN_ROOM && h.room_id == c->auth.room_id &&
		    (c->rebind_last == TIME_NEVER || now >= c->rebind_last + REBIND_MIN_GAP_US)) {
			c->rebind_last = now;
			c->keepalive_now = true;
		}
		return;
	}
	if (!rv_decode(&m, buf, len) || port_index > 1) {
		c->dropped++;
		return;
	}
	if (memcmp(m.nonce, c->nonce, RV_NONCE_LEN) != 0) {
		if (m.type == RV_ERROR && m.code == RV_E_NO_ROOM && is_room_tag(c, m.nonce))
			lose_room(c, now, RV_ERR_NO_ROOM);
		else
			c->dropped++;
		return;
	}
	c->last_heard = now;
	switch (m.type) {
	case RV_COOKIE:
		if (c->state == RV_ST_JOINING) {
			if (!c->have_cookie) {
				/* The server answers: the JOIN with its cookie gets a fresh backoff
				 * and a fresh timeout (under heavy loss the first answer can come
				 * late, and "did not answer" would then be false). */
				c->started = now;
				c->join_rto = JOIN_RTO_US;
			}
			memcpy(c->cookie, m.cookie, RV_COOKIE_LEN);
			c->have_cookie = true;
			c->join_next = now;
		}
		break;
	case RV_OBSERVED:
		if (m.port_index != port_index) {
			c->dropped++;
			break;
		}
		c->reflexive[port_index] = m.addr;
		if (c->state == RV_ST_IN_ROOM && c->reflexive[1].family != 0)
			report_joined(c);
		break;
	case RV_JOINED:
		on_joined(c, now, &m);
		break;
	case RV_PEER_JOINED:
		if (c->state == RV_ST_IN_ROOM)
			peer_arrived(c, now);
		break;
	case RV_PEER_RECV:
		on_peer_recv(c, now, &m);
		break;
	case RV_GO:
		if (c->state == RV_ST_IN_ROOM && c->ready && !c->go) {
			c->go = true;
			push_event(c, RV_EV_GO);
		}
		break;
	case RV_PEER_LEFT:
		if (c->state == RV_ST_IN_ROOM && c->resumable &&
		    (m.code == RV_LEFT_EXPIRED || m.code == RV_LEFT_SHUTDOWN ||
		    c->resume_unverified)) {
			/* the room ended under us, or a stranger left a room we re-joined */
			lose_room(c, now, m.code == RV_LEFT_SHUTDOWN ? RV_ERR_SHUTTING_DOWN :
			    RV_ERR_NO_ROOM);
		} else if (c->state == RV_ST_IN_ROOM) {
			struct rv_event *ev;

			report_joined(c);
			ev = push_event(c, RV_EV_PEER_LEFT);
			if (ev != NULL)
				ev->left_reason = m.code;
			c->state = RV_ST_CLOSED;
			c->txq_count = 0;
		}
		break;
	case RV_KEEPALIVE_ACK:
		if (c->state == RV_ST_IN_ROOM && (m.flags & RV_FLAG_PEER_PRESENT))
			peer_arrived(c, now);
		break;
	case RV_ERROR:
		if (c->state == RV_ST_JOINING && c->resuming && m.code != RV_E_BAD_NAMEPLATE)
			resume_refused(c, now);
		else if (c->state == RV_ST_IN_ROOM &&
		    (m.code == RV_E_NO_ROOM || m.code == RV_E_SHUTTING_DOWN))
			lose_room(c, now, map_error(m.code));
		else if (c->state != RV_ST_CLOSED)
			fail(c, map_error(m.code));
		break;
	default:
		c->dropped++;	/* a client-to-server message */
		break;
	}
}

/* ---- output ---- */

static size_t
encode_auth(const struct rv_client *c, uint8_t type, uint8_t *buf, size_t cap)
{
	struct rv_msg m = { .type = type, .auth = c->auth };

	return rv_encode(&m, buf, cap);
}

static size_t
output_joining(struct rv_client *c, uint64_t now, uint8_t *buf, size_t cap, unsigned *pi)
{
	struct rv_msg m = { 0 };

	for (unsigned i = 0; i < 2; i++) {
		if (c->discover_due[i]) {
			c->discover_due[i] = false;
			m.type = RV_DISCOVER;
			memcpy(m.nonce, c->nonce, RV_NONCE_LEN);
			*pi = i;
			return rv_encode(&m, buf, cap);
		}
	}
	if (c->stale_leave) {
		/* a resumed room that did not hold our peer: free it for the real one */
		c->stale_leave = false;
		m.type = RV_LEAVE;
		m.auth = c->stale_auth;
		return rv_encode(&m, buf, cap);
	}
	if (now < c->join_next)
		return 0;
	m.type = RV_JOIN;
	if (c->resuming) {
		/* create-or-claim: whichever peer comes back first makes the room again */
		m.flags = 0;
		m.nameplate = c->nameplate;
	} else {
		m.flags = c->cfg.nameplate == 0 ? RV_JOIN_ALLOCATE :
		    c->cfg.claim_only ? RV_JOIN_CLAIM_ONLY : 0;
		m.nameplate = c->cfg.nameplate;
	}
	memcpy(m.nonce, c->nonce, RV_NONCE_LEN);
	if (c->have_cookie)
		memcpy(m.cookie, c->cookie, RV_COOKIE_LEN);
	c->join_next = now + c->join_rto;
	c->join_rto = c->join_rto * 2 > JOIN_RTO_MAX_US ? JOIN_RTO_MAX_US : c->join_rto * 2;
	/* discovery answers can be lost too: ask again alongside each retransmitted JOIN */
	if (!c->resuming && now >= c->discover_next && c->reflexive[1].family == 0) {
		/* port 0's view comes with JOINED anyway */
		c->discover_due[1] = true;
		c->discover_next = now + DISCOVER_RTO_US;
	}
	*pi = 0;
	return rv_encode(&m, buf, cap);
}

static size_t
output_peer_message(struct rv_client *c, uint64_t now, uint8_t *buf, size_t cap)
{
	struct rv_msg m = { .type = RV_PEER_SEND, .auth = c->auth, .ack = c->rx_next_seq - 1 };

	if (c->txq_count > 0 && now >= c->tx_next) {
		/* retransmission timeout: go back to the oldest unacknowledged message */
		c->tx_sent = 0;
		c->tx_rto = c->tx_rto * 2 > TX_RTO_MAX_US ? TX_RTO_MAX_US : c->tx_rto * 2;
		c->tx_next = TIME_NEVER;
	}
	if (c->tx_sent < c->txq_count) {
		const struct rv_txmsg *t = &c->txq[(c->txq_head + c->tx_sent++) % RV_TXQ_LEN];

		m.seq = t->seq;
		m.payload = t->data;
		m.payload_len = t->len;
		if (c->tx_next == TIME_NEVER)
			c->tx_next = now + (c->tx_rto ? c->tx_rto : TX_RTO_US);
	} else if (!c->ack_due) {
		return 0;
	}
	c->ack_due = false;
	return rv_encode(&m, buf, cap);
}

static size_t
output_in_room(struct rv_client *c, uint64_t now, uint8_t *buf, size_t cap, unsigned *pi)
{
	size_t n;

	*pi = 0;
	if (!c->joined_reported && c->reflexive[1].family == 0 && now >= c->discover_next) {
		struct rv_msg m = { .type = RV_DISCOVER };

		memcpy(m.nonce, c->nonce, RV_NONCE_LEN);
		c->discover_next = now + DISCOVER_RTO_US;
		*pi = 1;
		return rv_encode(&m, buf, cap);
	}
	if (now >= c->silence_probe_next) {
		/* is our room still there? (a restarted server answers NO_ROOM) */
		c->silence_gap *= 2;
		c->silence_probe_next = c->silence_gap < RV_KEEPALIVE_US ? now + c->silence_gap :
		    TIME_NEVER;
		c->keepalive_now = true;
	}
	if (c->keepalive_now || now >= c->keepalive_next) {
		c->keepalive_now = false;
		c->keepalive_next = now + RV_KEEPALIVE_US;
		return encode_auth(c, RV_KEEPALIVE, buf, cap);
	}
	if ((n = output_peer_message(c, now, buf, cap)) > 0)
		return n;
	if (c->ready && !c->go && now >= c->ready_next) {
		c->ready_next = now + READY_RTO_US;
		return encode_auth(c, RV_READY, buf, cap);
	}
	return 0;
}

size_t
rv_client_output(struct rv_client *c, uint64_t now, uint8_t *buf, size_t cap,
    unsigned *port_index)
{
	*port_index = 0;
	switch (c->state) {
	case RV_ST_JOINING:
		return output_joining(c, now, buf, cap, port_index);
	case RV_ST_IN_ROOM:
		return output_in_room(c, now, buf, cap, port_index);
	case RV_ST_CLOSED:
		if (c->closing_left > 0 && now >= c->closing_next) {
			c->closing_left--;
			c->closing_next = c->closing_left > 0 ? now + CLOSING_GAP_US : TIME_NEVER;
			return encode_auth(c, c->closing_type, buf, cap);
		}
		return 0;
	}
	return 0;
}

static uint64_t
min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

uint64_t
rv_client_deadline(const struct rv_client *c)
{
	uint64_t d = TIME_NEVER;

	switch (c->state) {
	case RV_ST_JOINING:
		if (c->discover_due[0] || c->discover_due[1] || c->stale_leave)
			return 0;
		d = c->resuming ? c->join_next :
		    min64(c->join_next, c->started + RV_JOIN_TIMEOUT_US);
		break;
	case RV_ST_IN_ROOM:
		if (c->keepalive_now || c->ack_due || c->tx_sent < c->txq_count)
			return 0;
		d = c->keepalive_next;
		if (!c->joined_reported)
			d = min64(d, min64(c->discover_next, c->joined_at + RV_DISCOVERY_WAIT_US));
		if (c->txq_count > 0)
			d = min64(d, c->tx_next);
		if (c->ready && !c->go)
			d = min64(d, c->ready_next);
		if (c->resume_unverified && c->peer_present)
			d = min64(d, c->verify_next);
		d = min64(d, c->silence_probe_next);
		break;
	case RV_ST_CLOSED:
		if (c->closing_left > 0)
			d = c->closing_next;
		break;
	}
	return d;
}

/*
 * A resumed room is trusted once a relayed packet authenticated. When we used the relay and
 * nothing authenticated came back for VERIFY_MISSES ticks, a stranger may hold the room: leave
 * it and join again (our peer is retrying too and may get in first).
 */
static void
verify_tick(struct rv_client *c, uint64_t now)
{
	/* every tick since the peer arrived counts while our stream is on the relay, or once we
	 * sent through it in this room (a peer on a direct path does neither) */
	if (c->relay_in_use || c->relay_tx != c->relay_tx_seen)
		c->verify_misses++;
	c->verify_next = now + VERIFY_TICK_US;
	if (c->verify_misses < VERIFY_MISSES)
		return;
	c->stale_auth = c->auth;
	c->stale_leave = true;
	start_resume(c, now, RV_ERR_NO_ROOM);
	c->join_next = now + RV_RESUME_RETRY_US / 2;	/* the LEAVE first, then a fair race */
}

void
rv_client_on_timeout(struct rv_client *c, uint64_t now)
{
	if (c->state == RV_ST_IN_ROOM && c->resume_unverified && c->peer_present &&
	    now >= c->verify_next) {
		verify_tick(c, now);
		return;
	}
	if (c->state == RV_ST_JOINING && !c->resuming && now >= c->started + RV_JOIN_TIMEOUT_US)
		fail(c, RV_ERR_TIMEOUT);
	else if (c->state == RV_ST_IN_ROOM && !c->joined_reported &&
	    now >= c->joined_at + RV_DISCOVERY_WAIT_US)
		report_joined(c);	/* the discovery port never answered: go on without it */
}

/* ---- API ---- */

int
rv_client_send_peer_message(struct rv_client *c, uint64_t now, const void *msg, size_t len)
{
	struct rv_txmsg *t;

	if (c->state != RV_ST_IN_ROOM || len == 0 || len > RV_PEER_MSG_MAX ||
	    c->txq_count == RV_TXQ_LEN)
		return -1;
	t = &c->txq[(c->txq_head + c->txq_count++) % RV_TXQ_LEN];
	t->seq = c->tx_next_seq++;
	t->len = (uint16_t)len;
	memcpy(t->data, msg, len);
	if (c->tx_rto == 0)
		c->tx_rto = TX_RTO_US;
	return 0;
}

bool
rv_client_peer_messages_acked(const struct rv_client *c)
{
	return c->txq_count == 0;
}

void
rv_client_ready(struct rv_client *c, uint64_t now)
{
	if (c->ready)
		return;
	c->ready = true;
	c->ready_next = now;
}

static void
close_with(struct rv_client *c, uint64_t now, uint8_t type)
{
	bool in_room = c->state == RV_ST_IN_ROOM;

	c->state = RV_ST_CLOSED;
	c->txq_count = 0;
	if (!in_room)
		return;
	c->closing_type = type;
	c->closing_left = CLOSING_REPEAT;
	c->closing_next = now;
}

void
rv_client_report_pake_failure(struct rv_client *c, uint64_t now)
{
	close_with(c, now, RV_FAIL);
}

void
rv_client_leave(struct rv_client *c, uint64_t now)
{
	close_with(c, now, RV_LEAVE);
}

void
rv_client_allow_resume(struct rv_client *c)
{
	c->resumable = true;
}

int
rv_client_resume(struct rv_client *c, uint64_t now)
{
	if (!c->resumable || c->state == RV_ST_CLOSED)
		return -1;
	if (c->state == RV_ST_IN_ROOM)
		start_resume(c, now, RV_ERR_NO_ROOM);
	return 0;
}

void
rv_client_relay_verified(struct rv_client *c, uint64_t now)
{
	c->resume_unverified = false;
	c->verify_next = TIME_NEVER;
	if (c->resumable && c->state == RV_ST_IN_ROOM) {
		c->silence_gap = SILENCE_PROBE_US;
		c->silence_probe_next = now + SILENCE_PROBE_US;
	}
}

void
rv_client_relay_in_use(struct rv_client *c, bool on)
{
	c->relay_in_use = on;
}

bool
rv_client_relay_ok(const struct rv_client *c)
{
	return c->state == RV_ST_IN_ROOM && (c->room_flags & RV_FLAG_RELAY) != 0;
}

size_t
rv_client_relay_wrap(struct rv_client *c, uint8_t *buf, size_t pkt_len)
{
	if (!rv_client_relay_ok(c))
		return 0;
	c->relay_tx++;
	rv_relay_hdr_write(buf, RV_RELAY_DATA, c->auth.member, c->auth.room_id);
	return RV_RELAY_HDR_LEN + pkt_len;
}

bool
rv_client_relay_unwrap(struct rv_client *c, const uint8_t *buf, size_t len,
    const uint8_t **pkt, size_t *pkt_len)
{
	struct rv_relay_hdr h;

	if (!rv_relay_hdr_read(&h, buf, len) || h.type != RV_RELAY_FWD ||
	    c->state != RV_ST_IN_ROOM || h.room_id != c->auth.room_id) {
		c->dropped++;
		return false;
	}
	*pkt = buf + RV_RELAY_HDR_LEN;
	*pkt_len = len - RV_RELAY_HDR_LEN;
	return true;
}

const char *
rv_error_str(enum rv_error e)
{
	switch (e) {
	case RV_ERR_NONE: return "no error";
	case RV_ERR_UNKNOWN_NAMEPLATE: return "nobody is waiting on this nameplate";
	case RV_ERR_ROOM_FULL: return "this nameplate is already taken by two peers";
	case RV_ERR_BURNED: return "this nameplate was burned after a wrong code was tried; "
		"start again with a new code";
	case RV_ERR_RATE_LIMITED: return "the server is rate-limiting this address; "
		"try again in a minute";
	case RV_ERR_SERVER_FULL: return "the server has no room left; try again later";
	case RV_ERR_SHUTTING_DOWN: return "the server is shutting down";
	case RV_ERR_NO_ROOM: return "the server no longer knows our room (expired or restarted)";
	case RV_ERR_BAD_NAMEPLATE: return "the nameplate must be a number from 1 to 999999";
	case RV_ERR_TIMEOUT: return "the rendezvous server did not answer";
	case RV_ERR_PROTOCOL: return "the rendezvous server sent an unexpected reply";
	}
	return "unknown error";
}

int
rv_error_exit(enum rv_error e)
{
	switch (e) {
	case RV_ERR_NONE: return EXIT_OK;
	case RV_ERR_UNKNOWN_NAMEPLATE:
	case RV_ERR_ROOM_FULL:
	case RV_ERR_BURNED: return EXIT_NOPEER;
	case RV_ERR_BAD_NAMEPLATE: return EXIT_USAGE;
	default: return EXIT_ERROR;
	}
}
