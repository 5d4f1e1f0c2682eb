/*
 * The peer's mailbox messages (src/peer_mailbox.c): what the sender builds opens and parses on
 * the other side; handshake messages are routed only while the handshake runs; forged, replayed,
 * malformed and unknown messages are told apart and none of them reaches a parser with a length
 * it did not check.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "handshake.h"
#include "hs_pair.h"
#include "peer_mailbox.h"
#include "traversal.h"

struct pair {
	struct handshake a, b;
};

static void
handshake_pair(struct pair *p, bool finish)
{
	assert_true(hs_pair(&p->a, &p->b, "mailbox", 3, finish));
}

/* Seals plain from a to b and demultiplexes it on b. */
static enum mb_kind
deliver(struct pair *p, const uint8_t *plain, size_t len, uint8_t *out, struct mb_msg *m)
{
	uint8_t sealed[HS_MSG_MAX];
	size_t n = hs_mailbox_seal(&p->a, plain, len, sealed, sizeof sealed);

	assert_true(n > 0);
	return mb_demux(&p->b, sealed, n, out, HS_MSG_MAX, m);
}

static void
candidates_round_trip(void **state)
{
	struct pair p;
	struct trav ta, tb;
	struct trav_params tp = { .initiator = true, .seed = 1 };
	struct netaddr refl = { .family = 4, .ip = { 203, 0, 113, 4 }, .port = 4444 };
	struct netaddr host = { .family = 4, .ip = { 10, 1, 2, 3 }, .port = 5555 };
	uint8_t plain[MB_PLAIN_MAX], out[HS_MSG_MAX];
	struct mb_msg m;
	size_t n;

	(void)state;
	handshake_pair(&p, true);
	trav_init(&ta, &tp, &p.a);
	trav_set_reflexive(&ta, &refl, NULL);
	trav_add_host(&ta, &host);
	n = mb_build_candidates(&ta, plain, sizeof plain);
	assert_true(n > 1);
	assert_int_equal(plain[0], MB_CANDIDATES);
	assert_int_equal(deliver(&p, plain, n, out, &m), MB_GOT_CANDIDATES);
	assert_int_equal(m.len, n - 1);
	assert_memory_equal(m.body, plain + 1, n - 1);
	tp.initiator = false;
	trav_init(&tb, &tp, &p.b);
	trav_set_reflexive(&tb, &refl, NULL);
	assert_true(trav_peer_candidates(&tb, 0, m.body, m.len));
	assert_int_equal(mb_build_candidates(&ta, plain, 1), 0);	/* no room: nothing */
}

static void
size_message(void **state)
{
	struct pair p;
	uint8_t plain[16], out[HS_MSG_MAX];
	struct mb_msg m;
	size_t n;

	(void)state;
	handshake_pair(&p, true);
	n = mb_build_size(0x0123456789abcdefULL, plain, sizeof plain);
	assert_int_equal(n, 9);
	assert_int_equal(deliver(&p, plain, n, out, &m), MB_GOT_SIZE);
	assert_true(m.size == 0x0123456789abcdefULL);
	assert_int_equal(mb_build_size(1, plain, 8), 0);
	/* one byte short or long: malformed, not a size */
	assert_int_equal(deliver(&p, plain, 8, out, &m), MB_BAD);
	plain[9] = 0;
	assert_int_equal(deliver(&p, plain, 10, out, &m), MB_BAD);
}

static void
forged_replayed_unknown_and_empty(void **state)
{
	struct pair p;
	uint8_t plain[4] = { 0x7f, 1, 2, 3 }, sealed[HS_MSG_MAX], out[HS_MSG_MAX];
	struct mb_msg m;
	size_t n;

	(void)state;
	handshake_pair(&p, true);
	assert_int_equal(deliver(&p, plain, sizeof plain, out, &m), MB_IGNORE);	/* later kind */
	assert_int_equal(deliver(&p, plain, 0, out, &m), MB_BAD);		/* no kind byte */
	n = hs_mailbox_seal(&p.a, (const uint8_t[]){ MB_CANDIDATES }, 1, sealed, sizeof sealed);
	assert_int_equal(mb_demux(&p.b, sealed, n, out, sizeof out, &m), MB_GOT_CANDIDATES);
	assert_int_equal(m.len, 0);
	assert_int_equal(mb_demux(&p.b, sealed, n, out, sizeof out, &m), MB_BAD);	/* replay */
	n = hs_mailbox_seal(&p.a, plain, sizeof plain, sealed, sizeof sealed);
	sealed[n - 1] ^= 1;
	assert_int_equal(mb_demux(&p.b, sealed, n, out, sizeof out, &m), MB_BAD);	/* forged */
	assert_int_equal(mb_demux(&p.b, sealed, 3, out, sizeof out, &m), MB_BAD);	/* short */
	assert_int_equal(mb_demux(&p.b, sealed, 0, out, sizeof out, &m), MB_IGNORE);
	/* a handshake message after DONE is not routed to the handshake again */
	sealed[0] = 0x01;
	assert_int_equal(mb_demux(&p.b, sealed, n, out, sizeof out, &m), MB_IGNORE);
}

static void
routing_before_done(void **state)
{
	struct pair p;
	uint8_t msg[HS_MSG_MAX], out[HS_MSG_MAX];
	struct mb_msg m;
	size_t n;

	(void)state;
	handshake_pair(&p, false);
	n = hs_build(&p.a, msg, sizeof msg);
	assert_true(n > 0);
	assert_int_equal(mb_demux(&p.b, msg, n, out, sizeof out, &m), MB_HANDSHAKE);
	/* a mailbox message cannot be opened before the keys: ignored, not an error */
	msg[0] = HS_MSG_MAILBOX;
	assert_int_equal(mb_demux(&p.b, msg, n, out, sizeof out, &m), MB_IGNORE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(candidates_round_trip),
		cmocka_unit_test(size_message),
		cmocka_unit_test(forged_replayed_unknown_and_empty),
		cmocka_unit_test(routing_before_done),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
