/*
 * The server core message by message: cookies and their rotation, every JOIN outcome, every
 * limit, expiry in virtual time, relay, shutdown, and the amplification bound on every reply.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "log.h"
#include "rv_harness.h"

static struct server S;
static struct server_cfg CFG;
static uint64_t NOW;

struct rep {
	size_t len;
	struct rv_msg m;
	struct netaddr to;
	unsigned port;
	uint8_t buf[RV_MAX_PACKET];
	bool ok;		/* decoded as a rendezvous message */
};

static int
setup(void **state)
{
	log_level = -1;
	server_cfg_defaults(&CFG);
	CFG.max_rooms = 1000;
	CFG.free_joins = 0;	/* every JOIN shows a cookie, except in the free-join tests */
	NOW = 5000 * US_PER_S;
	return 0;
}

static void
start(void)
{
	assert_int_equal(server_init(&S, &CFG, NOW), 0);
}

static int
teardown(void **state)
{
	server_free(&S);
	return 0;
}

static struct netaddr
addr(uint8_t last, uint16_t port)
{
	struct netaddr a;

	w_addr(&a, last, port);
	return a;
}

/* Feeds raw bytes; every reply must respect the amplification bound unless to a member. */
static struct rep
raw(unsigned pi, const struct netaddr *from, uint8_t *buf, size_t len)
{
	struct rep r = { 0 };
	const uint8_t *out;

	r.len = server_input(&S, NOW, pi, from, buf, len, &out, &r.to, &r.port);
	if (r.len > 0) {
		memcpy(r.buf, out, r.len);
		r.ok = rv_decode(&r.m, r.buf, r.len);
	}
	return r;
}

static struct rep
send_msg(unsigned pi, const struct netaddr *from, const struct rv_msg *m)
{
	uint8_t buf[RV_MAX_PACKET];
	size_t n = rv_encode(m, buf, sizeof buf);

	assert_true(n > 0);
	return raw(pi, from, buf, n);
}

static struct rv_msg
join_msg(uint8_t flags, uint32_t np, uint8_t nonce_byte)
{
	struct rv_msg m = { .type = RV_JOIN, .flags = flags, .nameplate = np };

	memset(m.nonce, nonce_byte, RV_NONCE_LEN);
	return m;
}

/* JOIN, take the cookie, JOIN again: returns the final reply. */
static struct rep
join(const struct netaddr *from, uint8_t flags, uint32_t np, uint8_t nonce_byte)
{
	struct rv_msg m = join_msg(flags, np, nonce_byte);
	struct rep r = send_msg(0, from, &m);

	assert_true(r.ok);
	assert_int_equal(r.m.type, RV_COOKIE);
	memcpy(m.cookie, r.m.cookie, RV_COOKIE_LEN);
	return send_msg(0, from, &m);
}

static struct rv_msg
member_msg(uint8_t type, const struct rep *joined)
{
	struct rv_msg m = { .type = type, .auth = joined->m.auth };

	return m;
}

static void
discover_answers_both_ports_statelessly(void **state)
{
	struct netaddr a = addr(1, 1111);
	struct rv_msg m = { .type = RV_DISCOVER };
	struct rep r;

	start();
	memset(m.nonce, 7, RV_NONCE_LEN);
	for (unsigned pi = 0; pi < 2; pi++) {
		r = send_msg(pi, &a, &m);
		assert_true(r.ok);
		assert_int_equal(r.m.type, RV_OBSERVED);
		assert_int_equal(r.m.port_index, pi);
		assert_int_equal(r.port, pi);
		assert_true(netaddr_eq(&r.m.addr, &a));
		assert_memory_equal(r.m.nonce, m.nonce, RV_NONCE_LEN);
		assert_true(r.len <= RV_FIRST_LEN);
	}
	assert_int_equal(S.table.nrooms, 0);
}

static void
join_needs_cookie_and_no_state_before(void **state)
{
	struct netaddr a = addr(1, 1111), b = addr(2, 1111);
	struct rv_msg m = join_msg(RV_JOIN_ALLOCATE, 0, 1);
	struct rep r;

	start();
	r = send_msg(0, &a, &m);
	assert_int_equal(r.m.type, RV_COOKIE);
	assert_true(r.len < RV_FIRST_LEN);
	assert_int_equal(S.table.nrooms, 0);
	/* the cookie is bound to the address: from b it is refused (a new cookie comes back) */
	memcpy(m.cookie, r.m.cookie, RV_COOKIE_LEN);
	r = send_msg(0, &b, &m);
	assert_int_equal(r.m.type, RV_COOKIE);
	assert_int_equal(S.ctr.drop_bad_cookie, 1);
	/* and to another port of the same IP */
	b = addr(1, 1112);
	r = send_msg(0, &b, &m);
	assert_int_equal(r.m.type, RV_COOKIE);
	assert_int_equal(S.table.nrooms, 0);
	r = send_msg(0, &a, &m);
	assert_int_equal(r.m.type, RV_JOINED);
	assert_int_equal(S.table.nrooms, 1);
	/* JOIN is accepted on the main port only */
	r = send_msg(1, &a, &m);
	assert_int_equal(r.len, 0);
	assert_int_equal(S.ctr.drop_wrong_port, 1);
}

static void
cookie_rotation(void **state)
{
	struct netaddr a = addr(1, 1111);
	struct rv_msg m = join_msg(0, 50, 1);
	uint8_t old[RV_COOKIE_LEN];
	struct rep r;

	start();
	r = send_msg(0, &a, &m);
	memcpy(old, r.m.cookie, RV_COOKIE_LEN);
	memcpy(m.cookie, old, RV_COOKIE_LEN);
	/* still good in the next period (the secret rotated once: the previous one is kept) */
	NOW += RV_COOKIE_PERIOD_US;
	r = send_msg(0, &a, &m);
	assert_int_equal(r.m.type, RV_JOINED);
	/* two periods later it is refused */
	m = join_msg(0, 51, 2);
	memcpy(m.cookie, old, RV_COOKIE_LEN);
	NOW += RV_COOKIE_PERIOD_US;
	r = send_msg(0, &a, &m);
	assert_int_equal(r.m.type, RV_COOKIE);
	assert_memory_not_equal(r.m.cookie, old, RV_COOKIE_LEN);
	assert_int_equal(S.ctr.drop_bad_cookie, 1);
}

static void
malformed_counted(void **state)
{
	struct netaddr a = addr(1, 1111);
	uint8_t buf[RV_MAX_PACKET + 10] = { 0 };
	struct rv_msg m = join_msg(RV_JOIN_ALLOCATE, 0, 1);
	size_t n;

	start();
	n = rv_encode(&m, buf, sizeof buf);
	assert_int_equal(raw(0, &a, buf, 100).len, 0);		/* short first packet */
	assert_int_equal(S.ctr.drop_short, 1);
	buf[1] = 9;
	assert_int_equal(raw(0, &a, buf, n).len, 0);
	assert_int_equal(S.ctr.drop_version, 1);
	buf[1] = RV_VERSION;
	assert_int_equal(raw(0, &a, buf, RV_MAX_PACKET + 1).len, 0);
	assert_int_equal(S.ctr.drop_oversized, 1);
	buf[0] = 0x13;
	assert_int_equal(raw(0, &a, buf, n).len, 0);
	buf[0] = RV_GO;		/* a server-to-client message */
	assert_int_equal(raw(0, &a, buf, 10).len, 0);
	assert_int_equal(raw(0, &a, buf, 0).len, 0);
	assert_int_equal(S.ctr.drop_malformed, 3);
	assert_int_equal(S.table.nrooms, 0);
}

static void
allocation_small_numbers_and_cooldown(void **state)
{
	struct netaddr a = addr(1, 1111);
	struct rep r1, r2, r3, r4;

	start();
	r1 = join(&a, RV_JOIN_ALLOCATE, 0, 1);
	r2 = join(&a, RV_JOIN_ALLOCATE, 0, 2);
	r3 = join(&a, RV_JOIN_ALLOCATE, 0, 3);
	assert_int_equal(r1.m.nameplate, 1);
	assert_int_equal(r2.m.nameplate, 2);
	assert_int_equal(r3.m.nameplate, 3);
	assert_int_equal(r1.m.role, RV_ROLE_INITIATOR);
	assert_memory_not_equal(r1.m.sid, r2.m.sid, RV_SID_LEN);
	{
		struct rv_msg l = member_msg(RV_LEAVE, &r2);

		assert_int_equal(send_msg(0, &a, &l).len, 0);
	}
	assert_int_equal(S.table.nrooms, 2);
	/* 2 is cooling down: the next allocation takes 4 */
	r4 = join(&a, RV_JOIN_ALLOCATE, 0, 4);
	assert_int_equal(r4.m.nameplate, 4);
	NOW += (CFG.cooldown_s + 1) * US_PER_S;
	server_on_timeout(&S, NOW);
	r4 = join(&a, RV_JOIN_ALLOCATE, 0, 5);
	assert_int_equal(r4.m.nameplate, 2);
	/* a user may create a nameplate by number; allocation then skips it */
	r4 = join(&a, 0, 5, 6);
	assert_int_equal(r4.m.nameplate, 5);
	r4 = join(&a, RV_JOIN_ALLOCATE, 0, 7);
	assert_int_equal(r4.m.nameplate, 6);
}

static void
retransmitted_join_same_membership(void **state)
{
	struct netaddr a = addr(1, 1111), b = addr(2, 2222);
	struct rep r1, r2;

	start();
	r1 = join(&a, RV_JOIN_ALLOCATE, 0, 1);
	r2 = join(&a, RV_JOIN_ALLOCATE, 0, 1);
	assert_int_equal(r2.m.type, RV_JOINED);
	assert_int_equal(r2.m.auth.room_id, r1.m.auth.room_id);
	assert_memory_equal(r2.m.auth.token, r1.m.auth.token, RV_TOKEN_LEN);
	assert_int_equal(S.table.nrooms, 1);
	r1 = join(&b, 0, r1.m.nameplate, 2);
	r2 = join(&b, 0, r1.m.nameplate, 2);
	assert_int_equal(r1.m.role, RV_ROLE_RESPONDER);
	assert_int_equal(r2.m.auth.member, 1);
	assert_int_equal(S.ctr.room_full, 0);
	/* the same client from a new address (NAT rebinding between retransmissions) */
	b = addr(2, 2223);
	r2 = join(&b, 0, r1.m.nameplate, 2);
	assert_int_equal(r2.m.auth.member, 1);
	assert_true(netaddr_eq(&r2.m.addr, &b));
	assert_int_equal(S.ctr.room_full, 0);
}

static void
claim_create_full_unknown_burned(void **state)
{
	struct netaddr a = addr(1, 1), b = addr(2, 2), c = addr(3, 3);
	struct rep ra, rb, rc;
	struct rv_msg f;
	struct netaddr to;
	unsigned pi;
	uint8_t q[RV_MAX_PACKET];
	size_t n;
	struct rv_msg d;

	start();
	rc = join(&c, RV_JOIN_CLAIM_ONLY, 9, 3);
	assert_int_equal(rc.m.type, RV_ERROR);
	assert_int_equal(rc.m.code, RV_E_UNKNOWN_NAMEPLATE);
	ra = join(&a, 0, 9, 1);
	assert_int_equal(ra.m.role, RV_ROLE_INITIATOR);
	assert_int_equal(ra.m.flags & RV_FLAG_PEER_PRESENT, 0);
	rb = join(&b, RV_JOIN_CLAIM_ONLY, 9, 2);
	assert_int_equal(rb.m.role, RV_ROLE_RESPONDER);
	assert_int_equal(rb.m.flags & RV_FLAG_PEER_PRESENT, RV_FLAG_PEER_PRESENT);
	assert_memory_equal(ra.m.sid, rb.m.sid, RV_SID_LEN);
	/* a hears that b arrived */
	n = server_output(&S, NOW, q, sizeof q, &to, &pi);
	assert_true(n > 0 && rv_decode(&d, q, n));
	assert_int_equal(d.type, RV_PEER_JOINED);
	assert_true(netaddr_eq(&to, &a));
	rc = join(&c, 0, 9, 3);
	assert_int_equal(rc.m.code, RV_E_ROOM_FULL);
	/* b reports a failed PAKE: room gone, a told, nameplate burned */
	f = member_msg(RV_FAIL, &rb);
	assert_int_equal(send_msg(0, &b, &f).len, 0);
	n = server_output(&S, NOW, q, sizeof q, &to, &pi);
	assert_true(n > 0 && rv_decode(&d, q, n));
	assert_int_equal(d.type, RV_PEER_LEFT);
	assert_int_equal(d.code, RV_LEFT_PAKE_FAILED);
	assert_memory_equal(d.nonce, ra.m.nonce, RV_NONCE_LEN);
	rc = join(&c, 0, 9, 4);
	assert_int_equal(rc.m.code, RV_E_BURNED);
	/* a repeated FAIL for the gone room gets a small NO_ROOM naming the room */
	{
		struct rep r = send_msg(0, &b, &f);
		uint8_t buf[RV_MAX_PACKET];

		assert_int_equal(r.m.code, RV_E_NO_ROOM);
		assert_true(r.len <= rv_encode(&f, buf, sizeof buf));
	}
	/* allocation never hands out a burned nameplate either */
	NOW += (CFG.cooldown_s + 1) * US_PER_S;
	server_on_timeout(&S, NOW);
	for (int i = 0; i < 12; i++) {
		struct netaddr x = addr((uint8_t)(100 + i), 5);

		rc = join(&x, RV_JOIN_ALLOCATE, 0, (uint8_t)(10 + i));
		assert_int_not_equal(rc.m.nameplate, 9);
	}
	NOW += (CFG.burn_s + 1) * US_PER_S;
	server_on_timeout(&S, NOW);
	rc = join(&c, 0, 9, 5);
	assert_int_equal(rc.m.type, RV_JOINED);
}

static void
bad_token_dropped_and_rebinding(void **state)
{
	struct netaddr a = addr(1, 1), a2 = addr(1, 99);
	struct rep ra = { 0 }, r;
	struct rv_msg k;

	start();
	ra = join(&a, RV_JOIN_ALLOCATE, 0, 1);
	k = member_msg(RV_KEEPALIVE, &ra);
	k.auth.token[0] ^= 1;
	r = send_msg(0, &a2, &k);		/* answered like an unknown room: no oracle */
	assert_int_equal(r.m.type, RV_ERROR);
	assert_int_equal(r.m.code, RV_E_NO_ROOM);
	assert_int_equal(S.ctr.drop_bad_token, 1);
	assert_true(netaddr_eq(&S.table.rooms[ra.m.auth.room_id & SRV_MAX_ROOMS].m[0].addr, &a));
	k.auth.token[0] ^= 1;
	r = send_msg(0, &a2, &k);
	assert_int_equal(r.m.type, RV_KEEPALIVE_ACK);
	assert_true(netaddr_eq(&r.m.addr, &a2));
	assert_int_equal(S.ctr.rebinds, 1);
	assert_true(r.len <= RV_KEEPALIVE_LEN);
}

static void
per_ip_rate_limit(void **state)
{
	struct netaddr a = addr(1, 1), b = addr(2, 1);
	struct rep r;
	int ok = 0;

	start();
	for (int i = 0; i < 15; i++) {
		struct netaddr ai = addr(1, (uint16_t)(1000 + i));	/* same IP, other ports */

		r = join(&ai, RV_JOIN_ALLOCATE, 0, (uint8_t)i);
		if (r.m.type == RV_JOINED)
			ok++;
		else
			assert_int_equal(r.m.code, RV_E_RATE_LIMITED);
	}
	assert_int_equal(ok, (int)CFG.ip_burst);
	assert_int_equal(S.ctr.rate_limited, 15 - CFG.ip_burst);
	/* another IP is served meanwhile */
	r = join(&b, RV_JOIN_ALLOCATE, 0, 99);
	assert_int_equal(r.m.type, RV_JOINED);
	/* 30 per minute: one more after 2 s */
	NOW += 2 * US_PER_S + 1000;
	r = join(&a, RV_JOIN_ALLOCATE, 0, 50);
	assert_int_equal(r.m.type, RV_JOINED);
	r = join(&a, RV_JOIN_ALLOCATE, 0, 51);
	assert_int_equal(r.m.code, RV_E_RATE_LIMITED);
}

static void
room_cap(void **state)
{
	struct rep r;

	CFG.max_rooms = 3;
	start();
	for (uint8_t i = 0; i < 3; i++) {
		struct netaddr x = addr((uint8_t)(10 + i), 1);

		assert_int_equal(join(&x, RV_JOIN_ALLOCATE, 0, i).m.type, RV_JOINED);
	}
	{
		struct netaddr x = addr(20, 1);

		r = join(&x, RV_JOIN_ALLOCATE, 0, 20);
		assert_int_equal(r.m.code, RV_E_SERVER_FULL);
		r = join(&x, 0, 77, 21);
		assert_int_equal(r.m.code, RV_E_SERVER_FULL);
	}
}

static void
expiry_in_virtual_time(void **state)
{
	struct netaddr a = addr(1, 1), b = addr(2, 2), c = addr(3, 3);
	struct rep ra, rb;
	struct rv_msg k;

	start();
	ra = join(&a, 0, 10, 1);		/* waits for a peer */
	join(&b, 0, 11, 2);
	rb = join(&c, 0, 11, 3);		/* room 11 is full */
	assert_int_equal(rb.m.role, RV_ROLE_RESPONDER);
	assert_int_equal(server_deadline(&S), NOW + CFG.idle_s * US_PER_S);
	/* keepalives keep the full room past the idle time; the waiting room goes at 600 s */
	for (int i = 1; i <= 31; i++) {
		NOW += 20 * US_PER_S;
		k = member_msg(RV_KEEPALIVE, &rb);
		send_msg(0, &c, &k);
		server_on_timeout(&S, NOW);
		assert_int_equal(S.table.nrooms, i * 20 < 600 ? 2 : 1);
	}
	assert_null(srv_room_by_nameplate(&S.table, 10));
	assert_non_null(srv_room_by_nameplate(&S.table, 11));
	(void)ra;
	/* the full room ends idle_s after its last packet */
	NOW += CFG.idle_s * US_PER_S;
	server_on_timeout(&S, NOW);
	assert_int_equal(S.table.nrooms, 0);
	assert_int_equal(S.ctr.rooms_expired, 2);
}

static void
peer_messages_and_go(void **state)
{
	struct netaddr a = addr(1, 1), b = addr(2, 2);
	struct rep ra, rb, r;
	static const uint8_t pl[] = "share";
	struct rv_msg m;

	start();
	ra = join(&a, 0, 12, 1);
	m = member_msg(RV_PEER_SEND, &ra);
	m.seq = 1;
	m.payload = pl;
	m.payload_len = sizeof pl;
	r = send_msg(0, &a, &m);
	assert_int_equal(r.len, 0);		/* alone: dropped, the client retransmits */
	assert_int_equal(S.ctr.drop_no_peer, 1);
	rb = join(&b, 0, 12, 2);
	r = send_msg(0, &a, &m);
	assert_int_equal(r.m.type, RV_PEER_RECV);
	assert_true(netaddr_eq(&r.to, &b));
	assert_memory_equal(r.m.nonce, rb.m.nonce, RV_NONCE_LEN);
	assert_int_equal(r.m.payload_len, sizeof pl);
	/* GO only when both are READY; the second READY answers GO and queues the other GO */
	m = member_msg(RV_READY, &ra);
	assert_int_equal(send_msg(0, &a, &m).len, 0);
	m = member_msg(RV_READY, &rb);
	r = send_msg(0, &b, &m);
	assert_int_equal(r.m.type, RV_GO);
	assert_true(netaddr_eq(&r.to, &b));
	{
		uint8_t q[RV_MAX_PACKET];
		struct netaddr to;
		unsigned pi;
		struct rv_msg d;
		size_t n;

		while ((n = server_output(&S, NOW, q, sizeof q, &to, &pi)) > 0) {
			assert_true(rv_decode(&d, q, n));
			if (d.type == RV_GO)
				assert_true(netaddr_eq(&to, &a));
		}
	}
	m = member_msg(RV_READY, &ra);
	r = send_msg(0, &a, &m);
	assert_int_equal(r.m.type, RV_GO);	/* a retransmitted READY gets GO again */
}

static struct rep
relay(const struct netaddr *from, const struct rep *joined, size_t len)
{
	uint8_t buf[RV_MAX_PACKET];

	memset(buf, 0x40, sizeof buf);
	rv_relay_hdr_write(buf, RV_RELAY_DATA, joined->m.auth.member, joined->m.auth.room_id);
	return raw(0, from, buf, len);
}

static void
relay_limits(void **state)
{
	struct netaddr a = addr(1, 1), b = addr(2, 2), x = addr(9, 9);
	struct rep ra, rb, r;
	int sent = 0;

	CFG.relay_rate = 10000;
	CFG.relay_burst = 5000;
	CFG.relay_quota = 20000;
	start();
	ra = join(&a, 0, 13, 1);
	r = relay(&a, &ra, 1200);
	assert_int_equal(r.len, 0);		/* nobody to relay to yet */
	rb = join(&b, 0, 13, 2);
	r = relay(&a, &ra, 1200);
	assert_int_equal(r.len, 1200);
	assert_true(netaddr_eq(&r.to, &b));
	assert_int_equal(r.buf[0], RV_RELAY_FWD);
	assert_int_equal(r.buf[RV_RELAY_HDR_LEN], 0x40);
	/* burst 5000 bytes: 4 packets in all, then rate-limited */
	while (relay(&a, &ra, 1200).len > 0)
		sent++;
	assert_int_equal(sent, 3);
	assert_true(S.ctr.relay_rate_limited > 0);
	/* refill at 10000 B/s; the 20000-byte quota stops it for good */
	for (int i = 0; i < 100; i++) {
		NOW += US_PER_S;
		relay(&b, &rb, 1200);
	}
	assert_true(S.ctr.relay_over_quota > 0);
	assert_true(S.ctr.relayed_bytes <= 20000);
	/* from an address not bound: a REBIND no longer than the packet */
	r = relay(&x, &ra, RV_RELAY_HDR_LEN);
	assert_int_equal(r.len, RV_RELAY_HDR_LEN);
	assert_int_equal(r.buf[0], RV_RELAY_REBIND);
	assert_true(netaddr_eq(&r.to, &x));
	/* relay on the discovery port is not accepted */
	assert_int_equal(raw(1, &a, r.buf, 0).len, 0);
}

static void
global_relay_limit_and_no_relay(void **state)
{
	struct netaddr a = addr(1, 1), b = addr(2, 2);
	struct rep ra, rb;
	int sent = 0;

	CFG.global_relay_rate = 12000;	/* 100 ms worth: 1200 bytes */
	start();
	ra = join(&a, 0, 14, 1);
	rb = join(&b, 0, 14, 2);
	(void)rb;
	while (relay(&a, &ra, 1200).len > 0 && sent < 100)
		sent++;
	assert_int_equal(sent, 1);
	assert_int_equal(S.ctr.relay_global_limited, 1);
	server_free(&S);
	CFG.no_relay = true;
	start();
	ra = join(&a, 0, 14, 1);
	assert_int_equal(ra.m.flags & RV_FLAG_RELAY, 0);
	rb = join(&b, 0, 14, 2);
	assert_int_equal(relay(&a, &ra, 1200).len, 0);
	assert_int_equal(S.ctr.relay_denied, 1);
}

static void
shutdown_refuses_and_notifies(void **state)
{
	struct netaddr a = addr(1, 1), b = addr(2, 2);
	struct rv_msg m = join_msg(RV_JOIN_ALLOCATE, 0, 3);
	uint8_t q[RV_MAX_PACKET];
	struct netaddr to;
	unsigned pi;
	int notices = 0;
	struct rep r;
	size_t n;

	start();
	join(&a, 0, 15, 1);
	join(&b, 0, 16, 2);
	server_shutdown(&S, NOW);
	r = send_msg(0, &a, &m);
	assert_int_equal(r.m.code, RV_E_SHUTTING_DOWN);
	while ((n = server_output(&S, NOW, q, sizeof q, &to, &pi)) > 0) {
		struct rv_msg d;

		assert_true(rv_decode(&d, q, n));
		assert_int_equal(d.code, RV_E_SHUTTING_DOWN);
		notices++;
	}
	assert_int_equal(notices, 2);
	assert_true(server_shutdown_done(&S));
}

/*
 * Amplification: from addresses that never proved themselves, mutations of every kind of
 * message (and random bytes) never get a reply longer than what was sent, and nothing is sent
 * to a third address except to room members.
 */
static void
amplification_bound_everywhere(void **state)
{
	struct netaddr a = addr(1, 1), b = addr(2, 2);
	struct rep ra, rb;
	uint8_t buf[RV_MAX_PACKET];
	static const uint8_t payload[64] = "payload";
	uint32_t seed = 1;

	start();
	ra = join(&a, 0, 17, 1);
	rb = join(&b, 0, 17, 2);
	for (int i = 0; i < 200000; i++) {
		struct netaddr src = addr((uint8_t)(50 + i % 100), (uint16_t)(i % 7000));
		struct rv_msg m = { 0 };
		struct rep r;
		size_t n, len;

		seed = seed * 1103515245u + 12345u;
		m.type = (uint8_t)(0x50 + (seed >> 8) % 0x13);
		m.auth = (seed >> 4) & 1 ? ra.m.auth : rb.m.auth;
		m.auth.token[seed % RV_TOKEN_LEN] ^= (uint8_t)(1 + (seed >> 9) % 255);	/* unknown */
		if ((seed >> 7) % 3 == 0)
			m.auth.room_id ^= seed;		/* and some unknown rooms */
		m.nameplate = 17;
		m.seq = 1;
		m.payload = payload;
		m.payload_len = (seed >> 12) % 64 + 1;
		if (m.type >= 0x60) {
			rv_relay_hdr_write(buf, m.type, m.auth.member, m.auth.room_id);
			n = RV_RELAY_HDR_LEN + (seed >> 16) % 100;
		} else {
			n = rv_encode(&m, buf, sizeof buf);
			if (n == 0)
				continue;
		}
		/* truncate or corrupt some */
		len = (seed >> 20) % 4 == 0 ? (seed >> 3) % (n + 1) : n;
		if ((seed >> 24) % 5 == 0)
			buf[(seed >> 5) % (len + 1 > sizeof buf ? sizeof buf : len + 1)] ^= 0x5a;
		r = raw((seed >> 28) & 1, &src, buf, len);
		if (r.len == 0)
			continue;
		if (netaddr_eq(&r.to, &src))
			assert_true(r.len <= len);
		else
			assert_true(netaddr_eq(&r.to, &a) || netaddr_eq(&r.to, &b));
		{
			uint8_t q[RV_MAX_PACKET];
			struct netaddr to;
			unsigned pi;

			while (server_output(&S, NOW, q, sizeof q, &to, &pi) > 0)
				assert_true(netaddr_eq(&to, &a) || netaddr_eq(&to, &b));
		}
	}
	assert_int_equal(S.ctr.drop_amplification, 0);
	assert_true(S.table.nrooms <= 1);
}

/*
 * A small nameplate table (what the fuzzers use, so building a server is cheap) serves exactly
 * 1..nameplate_max: allocation stops there, a larger picked nameplate is refused, not indexed.
 */
static void
small_nameplate_table(void **state)
{
	struct rep r;

	CFG.nameplate_max = 3;
	CFG.cooldown_s = 0;
	start();
	assert_int_equal(S.table.np_max, 3);
	for (uint8_t i = 1; i <= 3; i++) {
		struct netaddr a = addr(i, 1111);

		r = join(&a, RV_JOIN_ALLOCATE, 0, i);
		assert_int_equal(r.m.type, RV_JOINED);
		assert_int_equal(r.m.nameplate, i);
	}
	{
		struct netaddr a = addr(9, 1111);

		r = join(&a, RV_JOIN_ALLOCATE, 0, 9);
		assert_int_equal(r.m.type, RV_ERROR);
		assert_int_equal(r.m.code, RV_E_SERVER_FULL);
	}
	{
		struct netaddr a = addr(10, 1111);

		r = join(&a, 0, 4, 10);
		assert_int_equal(r.m.type, RV_ERROR);
		assert_int_equal(r.m.code, RV_E_BAD_NAMEPLATE);
		r = join(&a, RV_JOIN_CLAIM_ONLY, RV_NAMEPLATE_MAX, 11);
		assert_int_equal(r.m.type, RV_ERROR);
		assert_int_equal(r.m.code, RV_E_BAD_NAMEPLATE);
	}
	assert_int_equal(S.table.nrooms, 3);
	server_free(&S);
	/* out of range sizes are refused */
	CFG.nameplate_max = 0;
	assert_int_equal(server_init(&S, &CFG, NOW), -1);
	CFG.nameplate_max = RV_NAMEPLATE_MAX + 1;
	assert_int_equal(server_init(&S, &CFG, NOW), -1);
	CFG.nameplate_max = RV_NAMEPLATE_MAX;
	start();
}

static void
memory_per_waiting_room(void **state)
{
	/* the slab's room is what a waiting room costs (plus its nameplate entry) */
	assert_true(sizeof(struct srv_room) + sizeof(struct srv_np) <= 1024);
	printf("# sizeof(struct srv_room) = %zu bytes\n", sizeof(struct srv_room));
}

static void
counters_line(void **state)
{
	char line[4096];

	start();
	server_format_counters(&S, line, sizeof line);
	assert_non_null(strstr(line, "rooms=0"));
	assert_non_null(strstr(line, "drop_malformed=0"));
	assert_non_null(strstr(line, "relayed_bytes=0"));
}

/* Drains the third-party queue; returns the bytes that went to `to`. */
static size_t
drain_to(const struct netaddr *to_want)
{
	uint8_t q[RV_MAX_PACKET];
	struct netaddr to;
	unsigned pi;
	size_t n, sum = 0;

	while ((n = server_output(&S, NOW, q, sizeof q, &to, &pi)) > 0)
		if (netaddr_eq(&to, to_want))
			sum += n;
	return sum;
}

static void
free_join_claims_a_waiting_room_at_once(void **state)
{
	struct netaddr a = addr(1, 1), b = addr(2, 2), c = addr(3, 3);
	struct rv_msg m;
	struct rep ra, rb, r;

	CFG.free_joins = 50;
	start();
	/* creating a room always takes a cookie, with or without a nameplate */
	m = join_msg(RV_JOIN_ALLOCATE, 0, 1);
	assert_int_equal(send_msg(0, &a, &m).m.type, RV_COOKIE);
	m = join_msg(0, 40, 1);
	assert_int_equal(send_msg(0, &a, &m).m.type, RV_COOKIE);
	assert_int_equal(S.table.nrooms, 0);
	ra = join(&a, 0, 40, 1);
	assert_int_equal(ra.m.type, RV_JOINED);
	/* the claim of the waiting room: JOINED at once, no longer than the JOIN */
	m = join_msg(0, 40, 2);
	rb = send_msg(0, &b, &m);
	assert_true(rb.ok);
	assert_int_equal(rb.m.type, RV_JOINED);
	assert_int_equal(rb.m.role, RV_ROLE_RESPONDER);
	assert_true(rb.len <= RV_FIRST_LEN);
	assert_int_equal(S.ctr.free_joins, 1);
	assert_int_equal(drain_to(&a) > 0, 1);			/* PEER_JOINED to the creator */
	/* the same JOIN again from the same address: the same JOINED */
	r = send_msg(0, &b, &m);
	assert_int_equal(r.m.type, RV_JOINED);
	assert_memory_equal(r.m.auth.token, rb.m.auth.token, RV_TOKEN_LEN);
	/* from another address it needs a cookie, and the room stays full */
	assert_int_equal(send_msg(0, &c, &m).m.type, RV_COOKIE);
	assert_int_equal(join(&c, 0, 40, 3).m.type, RV_ERROR);
	/* a cookieless claim of a burned or unknown nameplate gets a cookie, no state */
	m = join_msg(RV_JOIN_CLAIM_ONLY, 41, 4);
	assert_int_equal(send_msg(0, &c, &m).m.type, RV_COOKIE);
	assert_int_equal(S.table.nrooms, 1);
}

static void
free_join_member_is_paid_for_until_its_token_returns(void **state)
{
	struct netaddr a = addr(1, 1), victim = addr(9, 9);
	struct rv_msg m, send;
	struct rep ra, rb, r;
	static const uint8_t pl[100] = { 1 };
	size_t to_victim = 0, join_len;
	uint8_t buf[RV_MAX_PACKET];

	CFG.free_joins = 50;
	start();
	ra = join(&a, 0, 40, 1);
	/* a JOIN with a forged source: the victim gets JOINED, no more than the JOIN's bytes */
	m = join_msg(0, 40, 2);
	join_len = rv_encode(&m, buf, sizeof buf);
	rb = send_msg(0, &victim, &m);
	assert_int_equal(rb.m.type, RV_JOINED);
	to_victim += rb.len;
	to_victim += drain_to(&victim);
	/* the attacker holds member 0: peer messages and relay packets toward the victim */
	send = member_msg(RV_PEER_SEND, &ra);
	send.payload = pl;
	send.payload_len = sizeof pl;
	for (int i = 1; i <= 40; i++) {
		send.seq = (uint32_t)i;
		r = send_msg(0, &a, &send);
		if (r.len > 0 && netaddr_eq(&r.to, &victim))
			to_victim += r.len;
		r = relay(&a, &ra, 1000);
		if (r.len > 0 && netaddr_eq(&r.to, &victim))
			to_victim += r.len;
		m = member_msg(RV_READY, &ra);
		r = send_msg(0, &a, &m);
		to_victim += drain_to(&victim);
	}
	assert_true(to_victim <= join_len);
	assert_true(to_victim > rb.len);	/* the small forwards it could pay for went */
	assert_true(S.ctr.drop_amplification > 0);
	/* the real member sends its token back: from then on it gets everything */
	m = member_msg(RV_KEEPALIVE, &rb);
	r = send_msg(0, &victim, &m);
	assert_int_equal(r.m.type, RV_KEEPALIVE_ACK);
	r = relay(&a, &ra, 1200);
	assert_int_equal(r.len, 1200);
	assert_true(netaddr_eq(&r.to, &victim));
	send.seq = 41;
	r = send_msg(0, &a, &send);
	assert_int_equal(r.m.type, RV_PEER_RECV);
}

static void
free_joins_stop_under_load(void **state)
{
	struct netaddr a = addr(1, 1);
	struct rv_msg m;
	struct rep r;

	CFG.free_joins = 2;
	start();
	for (uint32_t np = 50; np < 54; np++)
		assert_int_equal(join(&a, 0, np, (uint8_t)np).m.type, RV_JOINED);
	for (uint8_t i = 0; i < 3; i++) {
		struct netaddr b = addr((uint8_t)(20 + i), 2);

		m = join_msg(0, 50 + i, (uint8_t)(100 + i));
		r = send_msg(0, &b, &m);
		/* two a second without a cookie, then the cookie again */
		assert_int_equal(r.m.type, i < 2 ? RV_JOINED : RV_COOKIE);
	}
	NOW += US_PER_S;
	m = join_msg(0, 53, 110);
	assert_int_equal(send_msg(0, &a, &m).m.type, RV_JOINED);
	assert_int_equal(S.ctr.free_joins, 3);
	/* --free-joins 0: never */
	server_free(&S);
	CFG.free_joins = 0;
	start();
	assert_int_equal(join(&a, 0, 50, 1).m.type, RV_JOINED);
	m = join_msg(0, 50, 2);
	assert_int_equal(send_msg(0, &a, &m).m.type, RV_COOKIE);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(discover_answers_both_ports_statelessly),
		T(join_needs_cookie_and_no_state_before),
		T(cookie_rotation),
		T(malformed_counted),
		T(allocation_small_numbers_and_cooldown),
		T(retransmitted_join_same_membership),
		T(claim_create_full_unknown_burned),
		T(bad_token_dropped_and_rebinding),
		T(per_ip_rate_limit),
		T(room_cap),
		T(expiry_in_virtual_time),
		T(peer_messages_and_go),
		T(relay_limits),
		T(global_relay_limit_and_no_relay),
		T(shutdown_refuses_and_notifies),
		T(amplification_bound_everywhere),
		T(small_nameplate_table),
		cmocka_unit_test(memory_per_waiting_room),
		T(counters_line),
		T(free_join_claims_a_waiting_room_at_once),
		T(free_join_member_is_paid_for_until_its_token_returns),
		T(free_joins_stop_under_load),
	};

	return cmocka_run_group_tests_name("server_core", tests, NULL, NULL);
}
