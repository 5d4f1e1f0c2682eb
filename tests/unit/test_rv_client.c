/* The peer's rendezvous client against the real server core, in memory and in virtual time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>

#include "exitcode.h"
#include "log.h"
#include "rv_harness.h"

static struct world W;
static struct server_cfg W_cfg;

static int
setup(void **state)
{
	log_level = -1;
	server_cfg_defaults(&W_cfg);
	W_cfg.max_rooms = 1000;
	return w_init(&W, &W_cfg);
}

static int
teardown(void **state)
{
	server_free(&W.s);
	return 0;
}

/* Two members in a room: a allocates, b claims what a got. */
static void
pair(struct node **a, struct node **b)
{
	struct rv_event ev;

	*a = w_node(&W, 0, 0, false);
	w_run(&W, 50 * US_PER_MS, US_PER_MS);
	assert_true(w_event(*a, RV_EV_JOINED, &ev));
	*b = w_node(&W, 1, ev.nameplate, true);
	w_run(&W, 50 * US_PER_MS, US_PER_MS);
}

static void
allocate_then_claim(void **state)
{
	struct node *a = w_node(&W, 0, 0, false), *b;
	struct rv_event ev, eb;

	w_run(&W, 20 * US_PER_MS, US_PER_MS);
	assert_true(rv_client_next_event(&a->c, &ev));
	assert_int_equal(ev.kind, RV_EV_NAMEPLATE);
	assert_int_equal(ev.nameplate, 1);		/* small numbers first */
	assert_true(rv_client_next_event(&a->c, &ev));
	assert_int_equal(ev.kind, RV_EV_JOINED);
	assert_true(ev.initiator);
	assert_true(ev.relay);
	assert_true(netaddr_eq(&ev.reflexive[0], &a->addr[0]));
	assert_true(netaddr_eq(&ev.reflexive[1], &a->addr[1]));
	assert_false(ev.mapping_varies);
	/* one cookie round trip: JOIN, JOIN with cookie; DISCOVER on both ports */
	assert_int_equal(a->sent[RV_JOIN], 2);

	b = w_node(&W, 1, 1, true);
	w_run(&W, 20 * US_PER_MS, US_PER_MS);
	assert_true(w_event(b, RV_EV_JOINED, &eb));
	assert_false(eb.initiator);
	assert_int_equal(eb.nameplate, 1);
	assert_memory_equal(eb.sid, ev.sid, RV_SID_LEN);
	assert_true(w_event(b, RV_EV_PEER_JOINED, &eb));	/* a was there already */
	assert_true(w_event(a, RV_EV_PEER_JOINED, &ev));
}

static void
create_with_same_code(void **state)
{
	struct node *a = w_node(&W, 0, 42, false), *b = w_node(&W, 1, 42, false);
	struct rv_event ea, eb;

	w_run(&W, 50 * US_PER_MS, US_PER_MS);
	assert_true(w_event(a, RV_EV_JOINED, &ea));
	assert_true(w_event(b, RV_EV_JOINED, &eb));
	assert_int_equal(ea.nameplate, 42);
	assert_int_equal(eb.nameplate, 42);
	assert_true(ea.initiator != eb.initiator);
	assert_memory_equal(ea.sid, eb.sid, RV_SID_LEN);
	assert_false(rv_client_next_event(&a->c, &ea) && ea.kind == RV_EV_NAMEPLATE);
}

static void
messages_in_order_both_ways(void **state)
{
	struct node *a, *b;
	struct rv_event ev;
	char msg[32];

	pair(&a, &b);
	for (int i = 0; i < 10; i++) {
		snprintf(msg, sizeof msg, "a%d", i);
		assert_int_equal(rv_client_send_peer_message(&a->c, W.now, msg, strlen(msg)), 0);
		snprintf(msg, sizeof msg, "b%d", i);
		assert_int_equal(rv_client_send_peer_message(&b->c, W.now, msg, strlen(msg)), 0);
	}
	w_run(&W, 100 * US_PER_MS, US_PER_MS);
	for (int i = 0; i < 10; i++) {
		assert_true(w_event(b, RV_EV_PEER_MESSAGE, &ev));
		snprintf(msg, sizeof msg, "a%d", i);
		assert_int_equal(ev.msg_len, strlen(msg));
		assert_memory_equal(ev.msg, msg, ev.msg_len);
		assert_true(w_event(a, RV_EV_PEER_MESSAGE, &ev));
		snprintf(msg, sizeof msg, "b%d", i);
		assert_memory_equal(ev.msg, msg, ev.msg_len);
	}
	assert_false(w_event(a, RV_EV_PEER_MESSAGE, &ev));
	assert_true(rv_client_peer_messages_acked(&a->c));
	assert_true(rv_client_peer_messages_acked(&b->c));
}

static void
messages_survive_loss(void **state)
{
	struct node *a, *b;
	struct rv_event ev;
	uint8_t msg[RV_PEER_MSG_MAX];

	pair(&a, &b);
	W.drop_pct = 20;
	for (int i = 0; i < RV_TXQ_LEN; i++) {
		memset(msg, i, sizeof msg);
		assert_int_equal(rv_client_send_peer_message(&a->c, W.now, msg, 100 + (size_t)i), 0);
	}
	/* the queue is bounded */
	assert_int_equal(rv_client_send_peer_message(&a->c, W.now, msg, 1), -1);
	assert_int_equal(rv_client_send_peer_message(&a->c, W.now, msg, RV_PEER_MSG_MAX + 1), -1);
	w_run(&W, 30 * US_PER_S, 10 * US_PER_MS);
	for (int i = 0; i < RV_TXQ_LEN; i++) {
		assert_true(w_event(b, RV_EV_PEER_MESSAGE, &ev));
		assert_int_equal(ev.msg_len, 100 + (size_t)i);
		assert_int_equal(ev.msg[0], i);
	}
	assert_true(rv_client_peer_messages_acked(&a->c));
}

static void
queued_while_alone_sent_when_peer_arrives(void **state)
{
	struct node *a = w_node(&W, 0, 0, false), *b;
	struct rv_event ev;

	w_run(&W, 20 * US_PER_MS, US_PER_MS);
	assert_true(w_event(a, RV_EV_JOINED, &ev));
	assert_int_equal(rv_client_send_peer_message(&a->c, W.now, "share", 5), 0);
	/* alone for 5 s: the retransmission timer backs off to 1 s */
	w_run(&W, 5 * US_PER_S, 10 * US_PER_MS);
	b = w_node(&W, 1, ev.nameplate, true);
	w_run(&W, 30 * US_PER_MS, US_PER_MS);
	assert_true(w_event(b, RV_EV_PEER_MESSAGE, &ev));	/* at once, not after the backoff */
	assert_int_equal(ev.msg_len, 5);
}

/* Regression (NAT lab, 20 % loss): the other member's first message reached b before b had
 * reported JOINED (b was still waiting for its discovery port), so the peer, which starts its
 * handshake on JOINED, dropped a message the client had already acknowledged. Every message
 * must come after JOINED and none may be lost. */
static void
no_message_before_joined(void **state)
{
	struct node *a = w_node(&W, 0, 0, false), *b;
	struct rv_event ev;
	bool joined = false;
	int got = 0;

	w_run(&W, 20 * US_PER_MS, US_PER_MS);
	assert_true(w_event(a, RV_EV_JOINED, &ev));
	assert_int_equal(rv_client_send_peer_message(&a->c, W.now, "share", 5), 0);
	b = w_node(&W, 1, ev.nameplate, true);
	b->port1_dead = true;	/* b reports JOINED only after RV_DISCOVERY_WAIT_US */
	w_run(&W, 100 * US_PER_MS, US_PER_MS);
	while (rv_client_next_event(&b->c, &ev))
		assert_int_not_equal(ev.kind, RV_EV_PEER_MESSAGE);
	for (int i = 0; i < 400 && got == 0; i++) {
		w_run(&W, 10 * US_PER_MS, US_PER_MS);
		while (rv_client_next_event(&b->c, &ev)) {
			if (ev.kind == RV_EV_JOINED)
				joined = true;
			if (ev.kind == RV_EV_PEER_MESSAGE) {
				assert_true(joined);
				assert_int_equal(ev.msg_len, 5);
				got++;
			}
		}
	}
	assert_int_equal(got, 1);
	w_run(&W, 2 * US_PER_S, 10 * US_PER_MS);
	assert_true(rv_client_peer_messages_acked(&a->c));
}

static void
go_when_both_ready(void **state)
{
	struct node *a, *b;
	struct rv_event ev;

	pair(&a, &b);
	rv_client_ready(&a->c, W.now);
	w_run(&W, 2 * US_PER_S, 10 * US_PER_MS);
	assert_false(w_event(a, RV_EV_GO, &ev));
	rv_client_ready(&b->c, W.now);
	w_run(&W, 10 * US_PER_MS, US_PER_MS);
	assert_true(w_event(a, RV_EV_GO, &ev));
	assert_true(w_event(b, RV_EV_GO, &ev));
	assert_int_equal(W.s.ctr.go_sent, 1);
	/* READY stops once GO came */
	{
		unsigned before = a->sent[RV_READY];

		w_run(&W, 5 * US_PER_S, 100 * US_PER_MS);
		assert_int_equal(a->sent[RV_READY], before);
	}
}

static void
third_member_refused(void **state)
{
	struct node *a, *b, *c;
	struct rv_event ev;

	pair(&a, &b);
	c = w_node(&W, 2, 1, false);
	w_run(&W, 50 * US_PER_MS, US_PER_MS);
	assert_true(w_event(c, RV_EV_ERROR, &ev));
	assert_int_equal(ev.error, RV_ERR_ROOM_FULL);
	assert_int_equal(rv_error_exit(ev.error), EXIT_NOPEER);
	assert_int_equal(W.s.ctr.room_full, 1);
}

static void
unknown_nameplate_claim_only(void **state)
{
	struct node *a = w_node(&W, 0, 77, true);
	struct rv_event ev;

	w_run(&W, 50 * US_PER_MS, US_PER_MS);
	assert_true(w_event(a, RV_EV_ERROR, &ev));
	assert_int_equal(ev.error, RV_ERR_UNKNOWN_NAMEPLATE);
	assert_int_equal(rv_error_exit(ev.error), EXIT_NOPEER);
	assert_int_equal(W.s.table.nrooms, 0);
}

static void
bad_nameplate_is_usage_error(void **state)
{
	struct node *a = w_node(&W, 0, RV_NAMEPLATE_MAX + 1, false);
	struct rv_event ev;
	uint8_t buf[RV_MAX_PACKET];
	unsigned pi;

	assert_true(rv_client_next_event(&a->c, &ev));
	assert_int_equal(ev.kind, RV_EV_ERROR);
	assert_int_equal(rv_error_exit(ev.error), EXIT_USAGE);
	assert_int_equal(rv_client_output(&a->c, W.now, buf, sizeof buf, &pi), 0);
}

static void
pake_failure_burns_nameplate(void **state)
{
	struct node *a, *b, *c;
	struct rv_event ev;

	pair(&a, &b);
	rv_client_report_pake_failure(&a->c, W.now);
	w_run(&W, 1 * US_PER_S, 10 * US_PER_MS);
	assert_true(w_event(b, RV_EV_PEER_LEFT, &ev));
	assert_int_equal(ev.left_reason, RV_LEFT_PAKE_FAILED);
	assert_int_equal(W.s.table.nrooms, 0);
	c = w_node(&W, 2, 1, false);
	w_run(&W, 50 * US_PER_MS, US_PER_MS);
	assert_true(w_event(c, RV_EV_ERROR, &ev));
	assert_int_equal(ev.error, RV_ERR_BURNED);
	/* after --burn-time the nameplate works again */
	W.now += 601 * US_PER_S;
	c = w_node(&W, 2, 1, false);
	w_run(&W, 50 * US_PER_MS, US_PER_MS);
	assert_true(w_event(c, RV_EV_JOINED, &ev));
}

static void
leave_tells_the_other(void **state)
{
	struct node *a, *b;
	struct rv_event ev;

	pair(&a, &b);
	rv_client_leave(&b->c, W.now);
	w_run(&W, 1 * US_PER_S, 10 * US_PER_MS);
	assert_true(w_event(a, RV_EV_PEER_LEFT, &ev));
	assert_int_equal(ev.left_reason, RV_LEFT_LEAVE);
	assert_int_equal(W.s.table.nrooms, 0);
}

static void
relay_both_ways_zero_copy(void **state)
{
	struct node *a, *b;
	uint8_t buf[RV_MAX_PACKET];
	size_t n;

	pair(&a, &b);
	assert_true(rv_client_relay_ok(&a->c));
	memset(buf + RV_RELAY_HDR_LEN, 0x41, 1200);
	n = rv_client_relay_wrap(&a->c, buf, 1200);
	assert_int_equal(n, RV_RELAY_HDR_LEN + 1200);
	w_to_server(&W, a, 0, buf, n);
	assert_int_equal(b->relay_rx_count, 1);
	assert_int_equal(b->relay_rx_len, 1200);
	assert_int_equal(b->relay_rx[0], 0x41);
	memset(buf + RV_RELAY_HDR_LEN, 0x40, 500);
	n = rv_client_relay_wrap(&b->c, buf, 500);
	w_to_server(&W, b, 0, buf, n);
	assert_int_equal(a->relay_rx_count, 1);
	assert_int_equal(a->relay_rx_len, 500);
	assert_int_equal(W.s.ctr.relayed_bytes, 2 * RV_RELAY_HDR_LEN + 1700);
}

static void
relay_rebinding_needs_token(void **state)
{
	struct node *a, *b;
	uint8_t buf[RV_MAX_PACKET];
	size_t n;

	pair(&a, &b);
	/* a's NAT gives it a new port */
	a->addr[0].port = 50000;
	memset(buf + RV_RELAY_HDR_LEN, 0x41, 100);
	n = rv_client_relay_wrap(&a->c, buf, 100);
	w_to_server(&W, a, 0, buf, n);
	assert_int_equal(b->relay_rx_count, 0);		/* not from the bound address */
	assert_int_equal(W.s.ctr.relay_rebind_sent, 1);
	/* the REBIND made a prove its token with a KEEPALIVE */
	w_pump(&W);
	assert_int_equal(W.s.ctr.rebinds, 1);
	n = rv_client_relay_wrap(&a->c, buf, 100);
	w_to_server(&W, a, 0, buf, n);
	assert_int_equal(b->relay_rx_count, 1);
	/* and b's relay packets now reach a at its new address */
	n = rv_client_relay_wrap(&b->c, buf, 100);
	w_to_server(&W, b, 0, buf, n);
	assert_int_equal(a->relay_rx_count, 1);
}

static void
symmetric_nat_detected(void **state)
{
	struct node *a = w_node(&W, 0, 0, false);
	struct rv_event ev;

	a->addr[1].port = (uint16_t)(a->addr[0].port + 7);
	w_run(&W, 50 * US_PER_MS, US_PER_MS);
	assert_true(w_event(a, RV_EV_JOINED, &ev));
	assert_true(ev.mapping_varies);
	assert_int_equal(ev.reflexive[1].port, a->addr[0].port + 7);
}

static void
discovery_port_silent(void **state)
{
	struct node *a = w_node(&W, 0, 0, false);
	struct rv_event ev;

	/* nothing answers on port 1: the server never sees those datagrams */
	a->port1_dead = true;
	w_run(&W, 100 * US_PER_MS, US_PER_MS);
	assert_false(w_event(a, RV_EV_JOINED, &ev));
	w_run(&W, RV_DISCOVERY_WAIT_US, 10 * US_PER_MS);
	assert_true(w_event(a, RV_EV_JOINED, &ev));
	assert_int_equal(ev.reflexive[0].family, 4);
}

/* Regression (NAT lab, 20 % loss): the server's COOKIE came 9.8 s after the start and the
 * client gave up at 10 s saying the server did not answer. A COOKIE restarts the window. */
static void
late_cookie_restarts_the_join_window(void **state)
{
	static const uint8_t nonce[RV_NONCE_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct rv_client c;
	struct rv_client_cfg cfg = { .nameplate = 5, .test_nonce = nonce };
	struct rv_msg m = { .type = RV_COOKIE };
	struct rv_event ev;
	uint8_t buf[RV_MAX_PACKET];
	uint64_t now = 0;
	unsigned pi, joins_after = 0;
	size_t n;

	rv_client_init(&c, &cfg, now);
	for (; now < 9800 * US_PER_MS; now += 10 * US_PER_MS) {
		while (rv_client_output(&c, now, buf, sizeof buf, &pi) > 0)
			;
		if (rv_client_deadline(&c) <= now)
			rv_client_on_timeout(&c, now);
	}
	memcpy(m.nonce, nonce, RV_NONCE_LEN);
	memset(m.cookie, 7, RV_COOKIE_LEN);
	n = rv_encode(&m, buf, sizeof buf);
	assert_true(n > 0);
	rv_client_input(&c, now, 0, buf, n);
	for (; now < 15 * US_PER_S; now += 10 * US_PER_MS) {
		size_t k;

		while ((k = rv_client_output(&c, now, buf, sizeof buf, &pi)) > 0)
			joins_after += buf[0] == RV_JOIN;
		if (rv_client_deadline(&c) <= now)
			rv_client_on_timeout(&c, now);
	}
	assert_false(rv_client_next_event(&c, &ev));	/* still trying, no error */
	assert_true(joins_after >= 5);			/* a fresh 250 ms backoff */
	for (; now < 21 * US_PER_S; now += 10 * US_PER_MS) {
		while (rv_client_output(&c, now, buf, sizeof buf, &pi) > 0)
			;
		if (rv_client_deadline(&c) <= now)
			rv_client_on_timeout(&c, now);
	}
	assert_true(rv_client_next_event(&c, &ev));	/* but not for ever */
	assert_int_equal(ev.error, RV_ERR_TIMEOUT);
}

static void
server_silent_times_out(void **state)
{
	struct rv_client c;
	struct rv_client_cfg cfg = { .nameplate = 5 };
	struct rv_event ev;
	uint8_t buf[RV_MAX_PACKET];
	uint64_t now = 0;
	unsigned pi, joins = 0;

	rv_client_init(&c, &cfg, now);
	while (now < 11 * US_PER_S) {
		size_t n;

		while ((n = rv_client_output(&c, now, buf, sizeof buf, &pi)) > 0) {
			assert_true(n >= RV_FIRST_LEN);	/* first packets are padded */
			joins += buf[0] == RV_JOIN;
		}
		if (rv_client_deadline(&c) <= now)
			rv_client_on_timeout(&c, now);
		now += 10 * US_PER_MS;
	}
	assert_true(joins >= 5 && joins <= 12);		/* backoff, not a flood */
	assert_true(rv_client_next_event(&c, &ev));
	assert_int_equal(ev.error, RV_ERR_TIMEOUT);
}

static void
keepalive_every_20s(void **state)
{
	struct node *a, *b;
	unsigned before;

	pair(&a, &b);
	before = a->sent[RV_KEEPALIVE];
	w_run(&W, 100 * US_PER_S, US_PER_S);
	assert_true(a->sent[RV_KEEPALIVE] - before >= 4);	/* every <= 25 s */
	assert_true(a->sent[RV_KEEPALIVE] - before <= 6);
	assert_int_equal(W.s.table.nrooms, 1);		/* keepalives keep the room */
}

static void
waiting_room_expires(void **state)
{
	struct node *a = w_node(&W, 0, 9, false);
	struct rv_event ev;

	w_run(&W, 590 * US_PER_S, US_PER_S);
	assert_int_equal(W.s.table.nrooms, 1);
	w_run(&W, 20 * US_PER_S, US_PER_S);
	assert_int_equal(W.s.table.nrooms, 0);
	assert_true(w_event(a, RV_EV_PEER_LEFT, &ev));
	assert_int_equal(ev.left_reason, RV_LEFT_EXPIRED);
}

static void
shutdown_reaches_members(void **state)
{
	struct node *a, *b;
	struct rv_event ev;

	pair(&a, &b);
	server_shutdown(&W.s, W.now);
	w_pump(&W);
	{
		uint8_t q[RV_MAX_PACKET];
		struct netaddr to;
		unsigned pi;
		size_t m;

		while ((m = server_output(&W.s, W.now, q, sizeof q, &to, &pi)) > 0)
			w_to_client(&W, &to, pi, q, m);
	}
	assert_true(server_shutdown_done(&W.s));
	assert_true(w_event(a, RV_EV_ERROR, &ev));
	assert_int_equal(ev.error, RV_ERR_SHUTTING_DOWN);
	assert_true(w_event(b, RV_EV_ERROR, &ev));
}

static void
forged_server_messages_ignored(void **state)
{
	struct node *a, *b;
	struct rv_msg m = { .type = RV_PEER_LEFT, .code = RV_LEFT_LEAVE };
	struct rv_event ev;
	uint8_t buf[64];
	size_t n;

	pair(&a, &b);
	while (rv_client_next_event(&a->c, &ev))
		;
	n = rv_encode(&m, buf, sizeof buf);	/* wrong nonce (zeros) */
	rv_client_input(&a->c, W.now, 0, buf, n);
	assert_false(rv_client_next_event(&a->c, &ev));
	assert_true(a->c.dropped > 0);
}

/* ---- resume after a server restart ---- */

/* One relay envelope from -> server -> to; true when `to` got it. */
static bool
relay_once(struct node *from, struct node *to, uint8_t fill)
{
	uint8_t buf[RV_MAX_PACKET];
	unsigned before = to->relay_rx_count;
	size_t n;

	memset(buf + RV_RELAY_HDR_LEN, fill, 300);
	n = rv_client_relay_wrap(&from->c, buf, 300);
	if (n == 0)
		return false;
	w_to_server(&W, from, 0, buf, n);
	if (to->relay_rx_count != before + 1 || to->relay_rx[0] != fill)
		return false;
	rv_client_relay_verified(&to->c, W.now);	/* as the shell does once it opened */
	return true;
}

/* The server process restarts: all rooms, tokens and cookie secrets are gone. */
static void
restart_server(void)
{
	server_free(&W.s);
	assert_int_equal(server_init(&W.s, &W_cfg, W.now), 0);
}

static void
drain(struct node *n)
{
	struct rv_event ev;

	while (rv_client_next_event(&n->c, &ev))
		assert_int_not_equal(ev.kind, RV_EV_ERROR);
}

static unsigned msgs_seen;
static char last_msg[RV_PEER_MSG_MAX + 1];

/* Counts events of a kind (draining the queue, noting peer messages); fails on RV_EV_ERROR. */
static unsigned
count_events(struct node *n, enum rv_event_kind kind)
{
	struct rv_event ev;
	unsigned k = 0;

	while (rv_client_next_event(&n->c, &ev)) {
		assert_int_not_equal(ev.kind, RV_EV_ERROR);
		k += ev.kind == kind;
		if (ev.kind == RV_EV_PEER_MESSAGE) {
			msgs_seen++;
			memcpy(last_msg, ev.msg, ev.msg_len);
			last_msg[ev.msg_len] = '\0';
		}
	}
	return k;
}

static void
server_restart_resumes_relay(void **state)
{
	struct node *a, *b;
	struct rv_event ev;
	uint32_t np;

	pair(&a, &b);
	np = a->c.nameplate;
	drain(a);
	drain(b);
	msgs_seen = 0;
	rv_client_allow_resume(&a->c);
	rv_client_allow_resume(&b->c);
	assert_true(relay_once(a, b, 0x41));
	/* a message still unacknowledged when the server dies is delivered once, after */
	assert_int_equal(rv_client_send_peer_message(&a->c, W.now, "late", 4), 0);
	restart_server();
	/* a's next relay packet meets a server that does not know the room: a re-joins */
	assert_false(relay_once(a, b, 0x41));
	assert_true(w_event(a, RV_EV_RESUMING, &ev));
	assert_int_equal(ev.error, RV_ERR_NO_ROOM);
	assert_false(rv_client_relay_ok(&a->c));
	w_run(&W, 50 * US_PER_MS, US_PER_MS);
	assert_true(w_event(a, RV_EV_RESUMED, &ev));
	assert_int_equal(ev.nameplate, np);
	assert_int_equal(W.s.table.nrooms, 1);
	/* b learns it from its own relay packet and claims the room a made */
	assert_false(relay_once(b, a, 0x40));
	w_run(&W, 50 * US_PER_MS, US_PER_MS);
	assert_int_equal(count_events(b, RV_EV_RESUMED), 1);
	assert_int_equal(W.s.table.nrooms, 1);
	assert_int_equal(a->c.auth.room_id, b->c.auth.room_id);
	assert_int_not_equal(a->c.auth.member, b->c.auth.member);
	/* the relay works again both ways, and the message came through exactly once */
	assert_true(relay_once(a, b, 0x42));
	assert_true(relay_once(b, a, 0x43));
	w_run(&W, 50 * US_PER_MS, US_PER_MS);
	assert_int_equal(count_events(b, RV_EV_RESUMED), 0);
	assert_int_equal(msgs_seen, 1);
	assert_string_equal(last_msg, "late");
	assert_true(rv_client_peer_messages_acked(&a->c));
	/* peers not using the relay (direct path) stay in the resumed room; keepalives hold it */
	w_run(&W, 60 * US_PER_S, 100 * US_PER_MS);
	assert_int_equal(a->c.resumes, 1);
	assert_int_equal(b->c.resumes, 1);
	assert_true(relay_once(a, b, 0x44));
	assert_int_equal(count_events(a, RV_EV_RESUMING), 0);
}

/* A member's keepalive finds out too (nothing relayed), and ERROR "shutting down" resumes. */
static void
keepalive_or_shutdown_resumes(void **state)
{
	struct node *a, *b;

	pair(&a, &b);
	drain(a);
	drain(b);
	rv_client_allow_resume(&a->c);
	rv_client_allow_resume(&b->c);
	server_shutdown(&W.s, W.now);
	{
		uint8_t q[RV_MAX_PACKET];
		struct netaddr to;
		unsigned pi;
		size_t m;

		while ((m = server_output(&W.s, W.now, q, sizeof q, &to, &pi)) > 0)
			w_to_client(&W, &to, pi, q, m);
	}
	assert_true(server_shutdown_done(&W.s));
	w_run(&W, 10 * US_PER_MS, US_PER_MS);	/* JOIN refused while stopping: retried */
	assert_true(a->c.resuming && b->c.resuming);
	restart_server();
	w_run(&W, 5 * US_PER_S, 10 * US_PER_MS);
	assert_int_equal(count_events(a, RV_EV_RESUMED), 1);
	assert_int_equal(count_events(b, RV_EV_RESUMED), 1);
	assert_true(relay_once(a, b, 0x41));
	assert_true(relay_once(b, a, 0x42));
	/* without the resume permission the same loss is the end (before key confirmation) */
	restart_server();
	a->c.resumable = false;
	w_run(&W, 25 * US_PER_S, 100 * US_PER_MS);	/* a keepalive meets NO_ROOM */
	{
		struct rv_event ev;

		assert_true(w_event(a, RV_EV_ERROR, &ev));
		assert_int_equal(ev.error, RV_ERR_NO_ROOM);
	}
	assert_int_equal(count_events(b, RV_EV_RESUMED), 1);
}

/* When the relay goes quiet, a KEEPALIVE asks the server: a restart is found within a second
 * even by a peer that only receives (and sends nothing to be answered with NO_ROOM). */
static void
quiet_relay_finds_restart(void **state)
{
	struct node *a, *b;
	unsigned ka;

	pair(&a, &b);
	drain(a);
	drain(b);
	rv_client_allow_resume(&a->c);
	rv_client_allow_resume(&b->c);
	assert_true(relay_once(a, b, 0x41));
	assert_true(relay_once(b, a, 0x42));
	restart_server();
	w_run(&W, 1500 * US_PER_MS, 10 * US_PER_MS);
	assert_int_equal(a->c.resumes, 1);
	assert_int_equal(b->c.resumes, 1);
	assert_true(relay_once(a, b, 0x43));
	assert_true(relay_once(b, a, 0x44));
	/* a quiet relay (the peers went direct) costs a few probes, then the usual keepalives */
	ka = a->sent[RV_KEEPALIVE];
	w_run(&W, 100 * US_PER_S, 100 * US_PER_MS);
	assert_true(a->sent[RV_KEEPALIVE] - ka >= 5);
	assert_true(a->sent[RV_KEEPALIVE] - ka <= 5 + 6);
	assert_int_equal(a->c.resumes, 1);
}

/* Peers on a direct path never use the relay: their resumed room is kept unverified. */
static void
direct_peers_keep_resumed_room(void **state)
{
	struct node *a, *b;

	pair(&a, &b);
	drain(a);
	drain(b);
	rv_client_allow_resume(&a->c);
	rv_client_allow_resume(&b->c);
	restart_server();
	w_run(&W, 25 * US_PER_S, 100 * US_PER_MS);	/* the keepalives meet NO_ROOM */
	assert_int_equal(a->c.resumes, 1);
	assert_int_equal(b->c.resumes, 1);
	assert_true(a->c.resume_unverified);
	w_run(&W, 60 * US_PER_S, 100 * US_PER_MS);
	assert_int_equal(a->c.resumes, 1);
	assert_int_equal(b->c.resumes, 1);
	assert_int_equal(W.s.table.nrooms, 1);
	assert_int_equal(a->c.auth.room_id, b->c.auth.room_id);
}

/*
 * A stranger takes the nameplate while the server is down: one peer lands in its room, the
 * other is refused (room full). The peers keep retrying; the one with the stranger sees
 * nothing authenticated over the relay, leaves, and the two meet again.
 */
static void
stranger_in_resumed_room(void **state)
{
	struct node *a, *b, *x;
	uint32_t np;
	bool met = false;

	pair(&a, &b);
	np = a->c.nameplate;
	drain(a);
	drain(b);
	rv_client_allow_resume(&a->c);
	rv_client_allow_resume(&b->c);
	restart_server();
	x = w_node(&W, 2, np, false);		/* the stranger is first */
	w_run(&W, 50 * US_PER_MS, US_PER_MS);
	assert_int_equal(W.s.table.nrooms, 1);
	(void)relay_once(a, b, 0x41);
	w_run(&W, 50 * US_PER_MS, US_PER_MS);
	(void)relay_once(b, a, 0x42);
	w_run(&W, 50 * US_PER_MS, US_PER_MS);
	assert_true(a->c.state == RV_ST_IN_ROOM);	/* with the stranger */
	assert_true(b->c.state == RV_ST_JOINING);	/* refused: room full, retrying */
	/* both keep sending (their streams retransmit); only authenticated packets count */
	for (int t = 0; t < 200 && !met; t++) {
		bool ab, ba;

		W.now += 50 * US_PER_MS;
		w_pump(&W);
		ab = relay_once(a, b, 0x43);
		ba = relay_once(b, a, 0x44);
		met = ab && ba;
	}
	assert_true(met);			/* within 10 s, well inside the idle timeout */
	assert_true(a->c.resumes >= 2);
	assert_int_equal(a->c.auth.room_id, b->c.auth.room_id);
	drain(a);
	drain(b);
	(void)x;
	/* once verified the room is kept */
	w_run(&W, 30 * US_PER_S, 100 * US_PER_MS);
	assert_true(relay_once(a, b, 0x45));
	drain(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(allocate_then_claim, setup, teardown),
		cmocka_unit_test_setup_teardown(create_with_same_code, setup, teardown),
		cmocka_unit_test_setup_teardown(messages_in_order_both_ways, setup, teardown),
		cmocka_unit_test_setup_teardown(messages_survive_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(queued_while_alone_sent_when_peer_arrives, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(no_message_before_joined, setup, teardown),
		cmocka_unit_test_setup_teardown(go_when_both_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(third_member_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_nameplate_claim_only, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_nameplate_is_usage_error, setup, teardown),
		cmocka_unit_test_setup_teardown(pake_failure_burns_nameplate, setup, teardown),
		cmocka_unit_test_setup_teardown(leave_tells_the_other, setup, teardown),
		cmocka_unit_test_setup_teardown(relay_both_ways_zero_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(relay_rebinding_needs_token, setup, teardown),
		cmocka_unit_test_setup_teardown(symmetric_nat_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(discovery_port_silent, setup, teardown),
		cmocka_unit_test(server_silent_times_out),
		cmocka_unit_test(late_cookie_restarts_the_join_window),
		cmocka_unit_test_setup_teardown(keepalive_every_20s, setup, teardown),
		cmocka_unit_test_setup_teardown(waiting_room_expires, setup, teardown),
		cmocka_unit_test_setup_teardown(shutdown_reaches_members, setup, teardown),
		cmocka_unit_test_setup_teardown(forged_server_messages_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(server_restart_resumes_relay, setup, teardown),
		cmocka_unit_test_setup_teardown(keepalive_or_shutdown_resumes, setup, teardown),
		cmocka_unit_test_setup_teardown(quiet_relay_finds_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(direct_peers_keep_resumed_room, setup, teardown),
		cmocka_unit_test_setup_teardown(stranger_in_resumed_room, setup, teardown),
	};

	return cmocka_run_group_tests_name("rv_client", tests, NULL, NULL);
}
