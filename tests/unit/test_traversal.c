/*
 * NAT traversal core in virtual time: two peers behind modelled NATs (none, full cone,
 * address-restricted, port-restricted, symmetric), a 10 ms link each way, probes carried by a
 * tiny in-test network. Checks which combinations find a direct path, the birthday search,
 * schedule bounds, forged, reflected and misdirected probes, and candidate message parsing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "clock.h"
#include "handshake.h"
#include "traversal.h"

enum nat_kind { NAT_NONE, NAT_FULL_CONE, NAT_ADDR_RESTRICTED, NAT_PORT_RESTRICTED, NAT_SYMMETRIC };

#define MAX_MAPS 1024
#define MAX_FLIGHT 4096
#define DELAY_US (10 * US_PER_MS)

struct map {
	uint16_t lport;			/* local port */
	struct netaddr dst;		/* for symmetric: the destination it was made for */
	uint16_t pport;			/* public port */
};

/* Destinations each mapping has sent to (what the filtering lets back in). */
struct seen {
	uint16_t pport;
	struct netaddr dst;
};
#define MAX_SEEN 8192

struct side {
	struct handshake hs;
	struct trav t;
	enum nat_kind nat;
	struct netaddr host;		/* private address (port of socket 0) */
	struct netaddr pub;		/* public IP of the NAT (port unused) */
	struct map maps[MAX_MAPS];
	unsigned nmaps;
	struct seen seen[MAX_SEEN];
	unsigned nseen;
	uint64_t rng;
	unsigned sent;
	uint64_t sent_at[8192];
};

struct flight {
	uint64_t at;
	int to_side;			/* 0 or 1 */
	unsigned sock;
	struct netaddr from;
	uint8_t buf[TRAV_PROBE_LEN];
	size_t len;
};

static struct side S[2];
static struct flight F[MAX_FLIGHT];
static unsigned nflight;
static bool blackhole;		/* the network drops everything */
static uint64_t world_now;	/* run() continues from here */
static const struct netaddr server = { .family = 4, .ip = { 198, 51, 100, 1 }, .port = 7430 };

static struct netaddr
v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
	struct netaddr n = { .family = 4, .ip = { a, b, c, d }, .port = port };

	return n;
}

static uint64_t
srng(struct side *s)
{
	s->rng = s->rng * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
	return s->rng >> 33;
}

static struct map *
mapping(struct side *s, uint16_t lport, const struct netaddr *dst)
{
	struct map *m;

	for (unsigned i = 0; i < s->nmaps; i++) {
		m = &s->maps[i];
		if (m->lport == lport && (s->nat != NAT_SYMMETRIC || netaddr_eq(&m->dst, dst)))
			return m;
	}
	assert_true(s->nmaps < MAX_MAPS);
	m = &s->maps[s->nmaps++];
	memset(m, 0, sizeof *m);
	m->lport = lport;
	m->dst = *dst;
	m->pport = s->nat == NAT_SYMMETRIC ? (uint16_t)(1024 + srng(s) % 64512) : lport;
	return m;
}

/* Outbound through the NAT: returns the public source address. */
static struct netaddr
nat_out(struct side *s, uint16_t lport, const struct netaddr *dst)
{
	struct netaddr src = s->host;
	struct map *m;

	src.port = lport;
	if (s->nat == NAT_NONE)
		return src;
	m = mapping(s, lport, dst);
	assert_true(s->nseen < MAX_SEEN);
	s->seen[s->nseen].pport = m->pport;
	s->seen[s->nseen++].dst = *dst;
	src = s->pub;
	src.port = m->pport;
	return src;
}

/* Inbound: the local port a packet to public port pport from src reaches, or 0 (dropped). */
static uint16_t
nat_in(const struct side *s, uint16_t pport, const struct netaddr *src)
{
	for (unsigned k = 0; k < s->nseen; k++) {
		const struct seen *e = &s->seen[k];
		bool ok = s->nat == NAT_FULL_CONE ||
		    (s->nat == NAT_ADDR_RESTRICTED && netaddr_same_ip(&e->dst, src)) ||
		    netaddr_eq(&e->dst, src);

		if (e->pport != pport || !ok)
			continue;
		for (unsigned i = 0; i < s->nmaps; i++)
			if (s->maps[i].pport == pport)
				return s->maps[i].lport;
	}
	return 0;
}

static void
send_from(int from_side, const struct trav_out *o, uint64_t now)
{
	struct side *s = &S[from_side], *d = &S[!from_side];
	uint16_t lport = (uint16_t)(s->host.port + o->sock);
	struct netaddr src = nat_out(s, lport, &o->to);
	struct flight *f;
	uint16_t dport;

	if (s->sent < 8192)
		s->sent_at[s->sent] = now;
	s->sent++;
	if (blackhole)
		return;
	/* Route: to the peer's public IP through its NAT, or to its host address directly when
	 * both sit behind one NAT (same LAN); anything else is lost. */
	if (d->nat != NAT_NONE && netaddr_same_ip(&o->to, &d->pub)) {
		dport = nat_in(d, o->to.port, &src);
	} else if (netaddr_same_ip(&o->to, &d->host) &&
	    (d->nat == NAT_NONE || netaddr_same_ip(&s->pub, &d->pub))) {
		dport = o->to.port;
		if (d->nat != NAT_NONE)
			src = (struct netaddr){ .family = 4, .port = lport };
		if (d->nat != NAT_NONE)
			memcpy(src.ip, s->host.ip, 4);
	} else {
		return;
	}
	if (dport < d->host.port || dport >= d->host.port + TRAV_MAX_SOCKS)
		return;
	assert_true(nflight < MAX_FLIGHT);
	f = &F[nflight++];
	f->at = now + DELAY_US;
	f->to_side = !from_side;
	f->sock = dport - d->host.port;
	f->from = src;
	memcpy(f->buf, o->buf, o->len);
	f->len = o->len;
}

static void
handshake_pair(void)
{
	static const char pw[] = "orbit-canvas-tulip";
	struct hs_params p = { .initiator = true, .password = pw, .password_len = sizeof pw - 1,
		.nameplate = 7, .sid = { 1, 2, 3 } };
	struct hs_params q = p;
	uint8_t m[HS_MSG_MAX];
	size_t n;

	q.initiator = false;
	assert_int_equal(hs_init(&S[0].hs, &p), 0);
	assert_int_equal(hs_init(&S[1].hs, &q), 0);
	for (int round = 0; round < 4; round++) {
		while ((n = hs_build(&S[0].hs, m, sizeof m)) > 0)
			hs_receive(&S[1].hs, m, n);
		while ((n = hs_build(&S[1].hs, m, sizeof m)) > 0)
			hs_receive(&S[0].hs, m, n);
	}
	assert_int_equal(hs_state(&S[0].hs), HS_DONE);
	assert_int_equal(hs_state(&S[1].hs), HS_DONE);
}

/* Sets both sides up and exchanges candidates; both get GO at time 0. */
static void
setup_world(enum nat_kind na, enum nat_kind nb, bool same_nat, bool relay_only_b)
{
	uint8_t msg[TRAV_CAND_MSG_MAX];
	size_t n;

	memset(S, 0, sizeof S);
	nflight = 0;
	blackhole = false;
	world_now = 0;
	handshake_pair();
	S[0].nat = na;
	S[1].nat = nb;
	S[0].rng = 11;
	S[1].rng = 29;
	S[0].host = na == NAT_NONE ? v4(198, 51, 100, 10, 5000) : v4(10, 0, 0, 1, 5000);
	S[1].host = nb == NAT_NONE ? v4(198, 51, 100, 20, 6000) :
	    same_nat ? v4(10, 0, 0, 2, 6000) : v4(10, 0, 1, 1, 6000);
	S[0].pub = v4(203, 0, 113, 1, 0);
	S[1].pub = same_nat ? S[0].pub : v4(203, 0, 113, 2, 0);
	for (int i = 0; i < 2; i++) {
		struct trav_params tp = { .initiator = i == 0, .seed = 100 + (uint64_t)i,
			.relay_only = i == 1 && relay_only_b };
		struct netaddr alt = server, r0, r1;

		alt.port++;
		trav_init(&S[i].t, &tp, &S[i].hs);
		r0 = nat_out(&S[i], S[i].host.port, &server);
		r1 = nat_out(&S[i], S[i].host.port, &alt);
		if (S[i].nat != NAT_NONE)
			assert_true(trav_add_host(&S[i].t, &S[i].host));
		trav_set_reflexive(&S[i].t, &r0, &r1);
	}
	for (int i = 0; i < 2; i++) {
		n = trav_build_candidates(&S[i].t, msg, sizeof msg);
		assert_true(n > 0);
		assert_true(trav_peer_candidates(&S[!i].t, 0, msg, n));
	}
	for (int i = 0; i < 2; i++) {
		trav_set_sockets(&S[i].t, trav_sockets_wanted(&S[i].t));
		trav_go(&S[i].t, 0);
	}
}

/* Runs the world until `until` or until both sides have a path. Returns the end time. */
static uint64_t
run(uint64_t until, bool stop_when_connected)
{
	uint64_t now = world_now;
	struct trav_out o;

	for (int steps = 0; steps < 2000000; steps++) {
		uint64_t next = TIME_NEVER;
		unsigned k = 0;

		for (int i = 0; i < 2; i++) {
			while (trav_poll(&S[i].t, now, &o))
				send_from(i, &o, now);
		}
		if (stop_when_connected && trav_best(&S[0].t, NULL, NULL, NULL) &&
		    trav_best(&S[1].t, NULL, NULL, NULL))
			return world_now = now;
		for (int i = 0; i < 2; i++) {
			uint64_t d = trav_deadline(&S[i].t);

			if (d < next)
				next = d;
		}
		for (unsigned i = 0; i < nflight; i++)
			if (F[i].at < next)
				next = F[i].at;
		if (next == TIME_NEVER || next > until)
			return world_now = until;
		now = next > now ? next : now;
		/* Deliver what has arrived; keep the rest in order. */
		for (unsigned i = 0; i < nflight; i++) {
			if (F[i].at <= now)
				trav_receive(&S[F[i].to_side].t, now, F[i].sock, &F[i].from, F[i].buf,
				    F[i].len);
			else
				F[k++] = F[i];
		}
		nflight = k;
	}
	fail_msg("simulation did not settle");
	return 0;
}

static void
expect_direct(uint64_t within_us, uint8_t want_type_a)
{
	uint64_t t = run(within_us, true);
	struct netaddr to;
	unsigned sock;

	assert_true(t < within_us);
	assert_true(trav_best(&S[0].t, &sock, &to, NULL));
	assert_int_equal(trav_get_state(&S[0].t), TRAV_CONNECTED);
	assert_int_equal(S[0].t.pairs[S[0].t.best].type, want_type_a);
	assert_true(trav_best(&S[1].t, NULL, NULL, NULL));
}

static void
cone_meets_cone(void **state)
{
	setup_world(NAT_PORT_RESTRICTED, NAT_PORT_RESTRICTED, false, false);
	expect_direct(500 * US_PER_MS, TRAV_SRFLX);
	assert_int_equal(trav_sockets_wanted(&S[0].t), 1);
	assert_int_equal(S[0].t.st.birthday_probes + S[1].t.st.birthday_probes, 0);
}

static void
public_meets_port_restricted(void **state)
{
	setup_world(NAT_NONE, NAT_PORT_RESTRICTED, false, false);
	expect_direct(500 * US_PER_MS, TRAV_SRFLX);
}

static void
address_restricted_meets_symmetric_without_birthday(void **state)
{
	/* The symmetric side's probe comes from a new port: the address-restricted NAT lets it
	 * in, the request is answered to its source and that source is checked back. */
	setup_world(NAT_ADDR_RESTRICTED, NAT_SYMMETRIC, false, false);
	assert_true(S[1].t.hard);
	assert_false(S[0].t.hard);
	expect_direct(TRAV_BIRTHDAY_AFTER_US, TRAV_PRFLX);
	assert_int_equal(S[0].t.st.birthday_probes + S[1].t.st.birthday_probes, 0);
}

static void
port_restricted_meets_symmetric_by_birthday(void **state)
{
	uint64_t first, last;
	unsigned sock;
	unsigned n = 0;

	setup_world(NAT_PORT_RESTRICTED, NAT_SYMMETRIC, false, false);
	assert_int_equal(trav_sockets_wanted(&S[1].t), TRAV_BIRTHDAY_SOCKS);
	assert_int_equal(trav_sockets_wanted(&S[0].t), 1);
	expect_direct(TRAV_BIRTHDAY_AFTER_US + TRAV_BIRTHDAY_SPAN_US, TRAV_PRFLX);
	assert_true(S[0].t.st.birthday_probes > 0);
	assert_true(trav_best(&S[1].t, &sock, NULL, NULL));
	assert_true(sock >= 1);		/* one of the extra sockets met the easy side */
	/* The easy side's rate stays bounded: at most ~100 probes in any second of the search. */
	first = TRAV_BIRTHDAY_AFTER_US;
	for (unsigned i = 0; i < S[0].sent && i < 8192; i++) {
		if (S[0].sent_at[i] < first)
			continue;
		last = S[0].sent_at[i];
		n = 0;
		for (unsigned k = i; k < S[0].sent && k < 8192 && S[0].sent_at[k] < last + US_PER_S;
		    k++)
			n++;
		assert_true(n <= TRAV_BIRTHDAY_RATE + 10);
	}
}

static void
symmetric_pair_gives_up(void **state)
{
	setup_world(NAT_SYMMETRIC, NAT_SYMMETRIC, false, false);
	assert_int_equal(trav_sockets_wanted(&S[0].t), 1);
	(void)run(TRAV_CHECK_SPAN_US + US_PER_S, false);
	assert_false(trav_best(&S[0].t, NULL, NULL, NULL));
	assert_true(trav_failed(&S[0].t));
	assert_true(trav_failed(&S[1].t));
	assert_int_equal(S[0].t.st.birthday_probes + S[1].t.st.birthday_probes, 0);
	/* Probes are bounded: a handful per pair over the span. */
	assert_true(S[0].sent < 60);
	/* Background retry later. */
	assert_int_equal(trav_deadline(&S[0].t), S[0].t.retry_at);
}

static void
same_lan_prefers_host(void **state)
{
	setup_world(NAT_PORT_RESTRICTED, NAT_PORT_RESTRICTED, true, false);
	assert_true(S[0].t.same_public_ip);
	(void)run(300 * US_PER_MS, false);
	assert_true(trav_best(&S[0].t, NULL, NULL, NULL));
	assert_int_equal(S[0].t.pairs[S[0].t.best].type, TRAV_HOST);
}

static void
relay_only_side_stops_both(void **state)
{
	setup_world(NAT_NONE, NAT_NONE, false, true);
	(void)run(2 * US_PER_S, false);
	assert_int_equal(trav_get_state(&S[0].t), TRAV_RELAY_ONLY);
	assert_int_equal(trav_get_state(&S[1].t), TRAV_RELAY_ONLY);
	assert_true(trav_failed(&S[0].t));
	assert_int_equal(S[0].sent + S[1].sent, 0);
}

static void
lost_path_is_found_again(void **state)
{
	uint64_t gen, t0;

	setup_world(NAT_NONE, NAT_PORT_RESTRICTED, false, false);
	expect_direct(300 * US_PER_MS, TRAV_SRFLX);
	gen = trav_generation(&S[0].t);
	/* Consent requests keep the path while it answers. */
	t0 = run(world_now + 10 * US_PER_S, false);
	assert_true(trav_best(&S[0].t, NULL, NULL, NULL));
	assert_int_equal(trav_generation(&S[0].t), gen);
	/* Then the path goes dark: both sides notice within the consent timeout. */
	blackhole = true;
	(void)run(t0 + TRAV_CONSENT_TIMEOUT_US + TRAV_CONSENT_US + US_PER_MS, false);
	assert_false(trav_best(&S[0].t, NULL, NULL, NULL));
	assert_false(trav_best(&S[1].t, NULL, NULL, NULL));
	assert_int_equal(S[0].t.paths_lost, 1);
	assert_true(trav_generation(&S[0].t) != gen);
	assert_int_equal(trav_get_state(&S[0].t), TRAV_CHECKING);
	/* And it is found again when the network comes back. */
	blackhole = false;
	(void)run(world_now + 2 * US_PER_S, true);
	assert_true(trav_best(&S[0].t, NULL, NULL, NULL));
	assert_true(trav_best(&S[1].t, NULL, NULL, NULL));
}

static void
forged_reflected_and_misdirected_probes(void **state)
{
	struct trav_out o;
	struct netaddr who = v4(198, 51, 100, 99, 4444);
	struct trav *a;

	setup_world(NAT_NONE, NAT_NONE, false, false);
	a = &S[0].t;
	/* Our own request sent back to us. */
	assert_true(trav_poll(a, 0, &o));
	trav_receive(a, 0, 0, &who, o.buf, o.len);
	assert_int_equal(a->st.reflected, 1);
	/* A forged MAC. */
	o.buf[5] ^= 1;
	trav_receive(a, 0, 0, &who, o.buf, o.len);
	assert_int_equal(a->st.bad_mac, 1);
	/* Wrong size and a socket we do not have. */
	trav_receive(a, 0, 0, &who, o.buf, o.len - 1);
	trav_receive(a, 0, 7, &who, o.buf, o.len);
	assert_int_equal(a->st.bad_format, 2);
	/* B answers A's request, but the answer comes from somewhere else: not believed. */
	o.buf[5] ^= 1;
	{
		struct netaddr a_addr = v4(198, 51, 100, 10, 5000);
		struct trav_out r;

		trav_receive(&S[1].t, 0, 0, &a_addr, o.buf, o.len);
		assert_true(trav_poll(&S[1].t, 0, &r));	/* the response */
		assert_int_equal(r.buf[0], TRAV_KIND_RESPONSE);
		assert_true(netaddr_eq(&r.to, &a_addr));
		trav_receive(a, 0, 0, &who, r.buf, r.len);
		assert_false(trav_best(a, NULL, NULL, NULL));
		assert_int_equal(a->st.unmatched, 1);
		/* From the right address it validates, once. */
		trav_receive(a, 1000, 0, &o.to, r.buf, r.len);
		assert_true(trav_best(a, NULL, NULL, NULL));
		trav_receive(a, 2000, 0, &o.to, r.buf, r.len);
		assert_int_equal(a->st.unmatched, 2);
	}
}

static void
candidate_messages(void **state)
{
	uint8_t msg[TRAV_CAND_MSG_MAX], bad[TRAV_CAND_MSG_MAX];
	struct trav t;
	struct trav_params tp = { .seed = 1 };
	size_t n;

	setup_world(NAT_PORT_RESTRICTED, NAT_NONE, false, false);
	n = trav_build_candidates(&S[0].t, msg, sizeof msg);
	assert_int_equal(n, 3 + 2 * 8);		/* host + server-reflexive, IPv4 */
	for (size_t cut = 0; cut < n; cut++) {
		trav_init(&t, &tp, &S[1].hs);
		assert_false(trav_peer_candidates(&t, 0, msg, cut));
	}
	memcpy(bad, msg, n);
	bad[0] = 2;					/* version */
	trav_init(&t, &tp, &S[1].hs);
	assert_false(trav_peer_candidates(&t, 0, bad, n));
	memcpy(bad, msg, n);
	bad[2] = TRAV_MAX_CANDS + 1;			/* count */
	assert_false(trav_peer_candidates(&t, 0, bad, n));
	memcpy(bad, msg, n);
	bad[3] = TRAV_PRFLX;				/* never announced */
	assert_false(trav_peer_candidates(&t, 0, bad, n));
	memcpy(bad, msg, n);
	bad[1] = 0x80;					/* unknown flag */
	assert_false(trav_peer_candidates(&t, 0, bad, n));
	assert_true(trav_peer_candidates(&t, 0, msg, n));
	assert_false(trav_peer_candidates(&t, 0, msg, n));	/* only once */
	/* Nothing keyed before the handshake is done: no probes at all. */
	{
		struct handshake raw;
		struct trav_out o;

		memset(&raw, 0, sizeof raw);
		trav_init(&t, &tp, &raw);
		assert_true(trav_peer_candidates(&t, 0, msg, n));
		trav_go(&t, 0);
		assert_false(trav_poll(&t, 0, &o));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cone_meets_cone),
		cmocka_unit_test(public_meets_port_restricted),
		cmocka_unit_test(address_restricted_meets_symmetric_without_birthday),
		cmocka_unit_test(port_restricted_meets_symmetric_by_birthday),
		cmocka_unit_test(symmetric_pair_gives_up),
		cmocka_unit_test(same_lan_prefers_host),
		cmocka_unit_test(relay_only_side_stops_both),
		cmocka_unit_test(lost_path_is_found_again),
		cmocka_unit_test(forged_reflected_and_misdirected_probes),
		cmocka_unit_test(candidate_messages),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
