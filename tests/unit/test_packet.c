/* Peer packet protection: round trips, tampering, replay, reordering, key phases, limits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "packet.h"
#include "replay.h"

#define SEC UINT64_C(1000000)
#define CAP 1500

struct pair {
	struct pkt_ctx a, b;	/* a seals to b and b to a */
};

static void
pair_init(struct pair *p, enum pkt_cipher cipher)
{
	uint8_t ka[PKT_KEY_LEN], kb[PKT_KEY_LEN];

	memset(ka, 0x11, sizeof ka);
	memset(kb, 0x22, sizeof kb);
	assert_int_equal(pkt_init_raw(&p->a, cipher, ka, kb, 0xb0b0b0b0, 0xa0a0a0a0, 0), 0);
	assert_int_equal(pkt_init_raw(&p->b, cipher, kb, ka, 0xa0a0a0a0, 0xb0b0b0b0, 0), 0);
}

static void
pair_free(struct pair *p)
{
	pkt_free(&p->a);
	pkt_free(&p->b);
}

/* Seals a payload that encodes pn into buf; returns the datagram length. */
static size_t
seal(struct pkt_ctx *c, uint64_t now, uint64_t pn, uint8_t *buf, size_t plen)
{
	for (size_t i = 0; i < plen; i++)
		buf[PKT_HDR_LEN + i] = (uint8_t)(pn * 7 + i);
	return pkt_seal(c, now, pn, buf, plen);
}

static void
expect_open(struct pkt_ctx *c, uint64_t now, uint8_t *buf, size_t len, uint64_t want_pn)
{
	uint64_t pn = ~UINT64_C(0);
	ssize_t n = pkt_open(c, now, buf, len, &pn);

	assert_int_equal(n, (ssize_t)(len - PKT_OVERHEAD));
	assert_true(pn == want_pn);
	for (ssize_t i = 0; i < n; i++)
		assert_int_equal(buf[PKT_HDR_LEN + i], (uint8_t)(want_pn * 7 + (uint64_t)i));
}

static void
expect_drop(struct pkt_ctx *c, uint64_t now, uint8_t *buf, size_t len, enum pkt_drop why)
{
	uint64_t before = c->drops[why], pn;

	assert_int_equal(pkt_open(c, now, buf, len, &pn), -1);
	assert_true(c->drops[why] == before + 1);
}

static void
roundtrip(enum pkt_cipher cipher)
{
	static const size_t sizes[] = { 0, 1, 15, 16, 17, 1171, 1400 };
	struct pair p;
	uint8_t buf[CAP];
	uint64_t pn = 0;

	pair_init(&p, cipher);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++, pn++) {
		size_t n = seal(&p.a, 0, pn, buf, sizes[i]);

		assert_int_equal(n, sizes[i] + PKT_OVERHEAD);
		assert_int_equal(buf[0], PKT_KIND_DATA);
		assert_true(pkt_is_data(buf, n));
		expect_open(&p.b, 0, buf, n, pn);
		n = seal(&p.b, 0, pn, buf, sizes[i]);
		expect_open(&p.a, 0, buf, n, pn);
	}
	assert_true(p.a.opened == pn && p.b.opened == pn);
	pair_free(&p);
}

static void
roundtrip_chacha(void **state)
{
	roundtrip(PKT_CHACHA20POLY1305);
}

static void
roundtrip_aesgcm(void **state)
{
	if (!pkt_aes_available()) {
		printf("# no hardware AES-256-GCM here: nothing to test\n");
		skip();
	}
	roundtrip(PKT_AES256GCM);
}

static void
ciphers_do_not_mix(void **state)
{
	struct pkt_ctx a, b;
	uint8_t k[PKT_KEY_LEN] = { 1 }, buf[CAP];
	size_t n;

	if (!pkt_aes_available()) {
		printf("# no hardware AES-256-GCM here: nothing to test\n");
		skip();
	}
	assert_int_equal(pkt_init_raw(&a, PKT_AES256GCM, k, k, 5, 5, 0), 0);
	assert_int_equal(pkt_init_raw(&b, PKT_CHACHA20POLY1305, k, k, 5, 5, 0), 0);
	n = seal(&a, 0, 1, buf, 100);
	expect_drop(&b, 0, buf, n, PKT_DROP_TAG);
	pkt_free(&a);
	pkt_free(&b);
}

/* The cipher a test runs with: its prestate, ChaCha20-Poly1305 without one. AES-256-GCM
 * tests skip (saying why) where the CPU has no AES instructions. */
static enum pkt_cipher aes = PKT_AES256GCM;

static enum pkt_cipher
cipher_of(void **state)
{
	enum pkt_cipher c = *state ? *(enum pkt_cipher *)*state : PKT_CHACHA20POLY1305;

	if (c == PKT_AES256GCM && !pkt_aes_available()) {
		printf("# no hardware AES-256-GCM here: nothing to test\n");
		skip();
	}
	return c;
}

/* Every single-byte change and every truncation of a packet is rejected. */
static void
tamper_and_truncate(void **state)
{
	struct pair p;
	uint8_t orig[CAP], buf[CAP];
	size_t n;
	uint64_t pn;

	pair_init(&p, cipher_of(state));
	n = seal(&p.a, 0, 1000, orig, 64);
	for (size_t i = 0; i < n; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			memcpy(buf, orig, n);
			buf[i] ^= (uint8_t)(1u << bit);
			assert_int_equal(pkt_open(&p.b, 0, buf, n, &pn), -1);
		}
		memcpy(buf, orig, n);
		buf[i] ^= 0xff;
		assert_int_equal(pkt_open(&p.b, 0, buf, n, &pn), -1);
	}
	for (size_t len = 0; len < n; len++) {
		memcpy(buf, orig, n);
		assert_int_equal(pkt_open(&p.b, 0, buf, len, &pn), -1);
	}
	/* Extra trailing byte: the tag moves, so it fails too. */
	memcpy(buf, orig, n);
	buf[n] = 0;
	assert_int_equal(pkt_open(&p.b, 0, buf, n + 1, &pn), -1);
	assert_true(p.b.opened == 0);
	assert_true(p.b.drops[PKT_DROP_TAG] > 0 && p.b.drops[PKT_DROP_SHORT] == PKT_OVERHEAD);
	assert_true(p.b.drops[PKT_DROP_KIND] > 0 && p.b.drops[PKT_DROP_CID] > 0);
	/* The original still opens: nothing above moved the window. */
	memcpy(buf, orig, n);
	expect_open(&p.b, 0, buf, n, 1000);
	pair_free(&p);
}

static void
drop_reasons(void **state)
{
	struct pair p;
	uint8_t buf[CAP];
	size_t n;

	pair_init(&p, PKT_CHACHA20POLY1305);
	n = seal(&p.a, 0, 3, buf, 10);
	expect_drop(&p.a, 0, buf, n, PKT_DROP_CID);		/* our own packet back */
	buf[0] = PKT_KIND_PROBE_FIRST;
	expect_drop(&p.b, 0, buf, n, PKT_DROP_KIND);
	assert_false(pkt_is_data(buf, n));
	memset(buf, 0, sizeof buf);
	buf[0] = PKT_KIND_DATA;
	buf[1] = buf[2] = buf[3] = buf[4] = 0xb0;
	memset(buf + 5, 0xff, 8);				/* pn 2^64-1 */
	expect_drop(&p.b, 0, buf, 40, PKT_DROP_LIMIT);
	assert_string_equal(pkt_drop_name(PKT_DROP_REPLAY), "replay");
	{
		char line[128];

		size_t n2 = pkt_format_drops(&p.b, line, sizeof line);

		assert_int_equal(n2, strlen(line));
		assert_string_equal(line, "kind=1 limit=1");
		n2 = pkt_format_drops(&p.a, line, sizeof line);
		assert_int_equal(n2, strlen(line));
		assert_string_equal(line, "connection-id=1");
		assert_int_equal(pkt_format_drops(&p.a, line, 8), 0);	/* too small: nothing */
		p.a.drops[PKT_DROP_CID] = 0;
		pkt_format_drops(&p.a, line, sizeof line);
		assert_string_equal(line, "none");
		assert_string_equal(pkt_cipher_name(p.a.cipher), "chacha20poly1305");
	}
	pair_free(&p);
}

static void
replay_and_window(void **state)
{
	struct pair p;
	uint8_t buf[CAP], old[CAP], dup[CAP];
	size_t n, nold, ndup;

	pair_init(&p, PKT_CHACHA20POLY1305);
	nold = seal(&p.a, 0, 5, old, 20);
	ndup = seal(&p.a, 0, 6, dup, 20);
	n = seal(&p.a, 0, 7, buf, 20);
	expect_open(&p.b, 0, buf, n, 7);
	memcpy(buf, dup, ndup);
	expect_open(&p.b, 0, buf, ndup, 6);		/* reordered inside the window */
	memcpy(buf, dup, ndup);
	expect_drop(&p.b, 0, buf, ndup, PKT_DROP_REPLAY);
	n = seal(&p.a, 0, 7 + REPLAY_WINDOW + 10, buf, 20);
	expect_open(&p.b, 0, buf, n, 7 + REPLAY_WINDOW + 10);
	expect_drop(&p.b, 0, old, nold, PKT_DROP_OLD);	/* behind the window now */
	pair_free(&p);
}

/* Many packets delivered in a scrambled order inside the window all open once. */
static void
reorder_inside_window(void **state)
{
	enum { N = 3000 };
	static uint8_t pkts[N][80];
	static size_t lens[N];
	struct pair p;
	uint32_t order[N];
	uint8_t buf[CAP];

	pair_init(&p, PKT_CHACHA20POLY1305);
	for (uint32_t i = 0; i < N; i++) {
		lens[i] = seal(&p.a, 0, i, pkts[i], 40);
		order[i] = i;
	}
	for (uint32_t i = N - 1; i > 0; i--) {		/* deterministic shuffle */
		uint32_t j = (i * 2654435761u) % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (uint32_t i = 0; i < N; i++) {
		memcpy(buf, pkts[order[i]], lens[order[i]]);
		expect_open(&p.b, 0, buf, lens[order[i]], order[i]);
	}
	for (uint32_t i = 0; i < N; i += 97) {
		memcpy(buf, pkts[i], lens[i]);
		expect_drop(&p.b, 0, buf, lens[i], PKT_DROP_REPLAY);
	}
	pair_free(&p);
}

static void
replay_unit(void **state)
{
	struct replay r;

	replay_init(&r);
	assert_int_equal(replay_check(&r, 0), REPLAY_NEW);
	replay_update(&r, 0);
	assert_int_equal(replay_check(&r, 0), REPLAY_DUP);
	replay_update(&r, 100000);
	assert_int_equal(replay_check(&r, 0), REPLAY_OLD);
	assert_int_equal(replay_check(&r, 100000 - REPLAY_WINDOW + 1), REPLAY_NEW);
	assert_int_equal(replay_check(&r, 100000 - REPLAY_WINDOW), REPLAY_OLD);
	replay_update(&r, 100000 - 64);
	assert_int_equal(replay_check(&r, 100000 - 64), REPLAY_DUP);
	assert_int_equal(replay_check(&r, 100000 - 63), REPLAY_NEW);
	/* A slide of exactly one ring must clear the reused block. */
	replay_update(&r, 100000 + REPLAY_BLOCKS * 64);
	assert_int_equal(replay_check(&r, 100000 + REPLAY_BLOCKS * 64 - 1), REPLAY_NEW);
	assert_true(REPLAY_WINDOW >= 2048);
}

/* Epoch changes by packet count, with packets reordered across the change. */
static void
epoch_change_with_reordering(void **state)
{
	enum { N = 40 };
	struct pair p;
	uint8_t pkts[N][64], buf[CAP];
	size_t lens[N];

	pair_init(&p, cipher_of(state));
	p.a.rekey_packets = 10;		/* epochs: 0-9, 10-19, 20-29, 30-39 */
	for (uint64_t i = 0; i < N; i++) {
		lens[i] = seal(&p.a, 0, i, pkts[i], 24);
		assert_int_equal(pkts[i][0], PKT_KIND_DATA | ((i / 10) & 1));
	}
#define DELIVER(i, t) do { memcpy(buf, pkts[i], lens[i]); expect_open(&p.b, (t), buf, lens[i], (i)); } while (0)
	for (int i = 0; i < 9; i++)
		DELIVER(i, 0);
	DELIVER(11, 0);		/* first packet of epoch 1 arrives before 9 and 10 */
	assert_true(p.b.rx_epoch == 1);
	DELIVER(9, SEC);	/* epoch 0 via the previous key */
	DELIVER(10, SEC);	/* epoch 1 with a lower number than 11 */
	for (int i = 12; i < 19; i++)
		DELIVER(i, SEC);
	DELIVER(21, 2 * SEC);	/* into epoch 2; 19 and 20 are late */
	DELIVER(20, 2 * SEC);
	DELIVER(19, 2 * SEC);
	for (int i = 22; i < 30; i++)
		DELIVER(i, 2 * SEC);
	DELIVER(30, 3 * SEC);	/* into epoch 3 */
	assert_true(p.b.rx_epoch == 3);
	/* A duplicate of an epoch-2 packet after the change is still caught by the window. */
	memcpy(buf, pkts[29], lens[29]);
	expect_drop(&p.b, 3 * SEC + PKT_PREV_KEY_US, buf, lens[29], PKT_DROP_REPLAY);
	for (int i = 31; i < N; i++)
		DELIVER(i, 20 * SEC);
#undef DELIVER
	pair_free(&p);
}

static void
old_key_expires(void **state)
{
	struct pair p;
	uint8_t late[CAP], buf[CAP];
	size_t nlate, n;

	pair_init(&p, PKT_CHACHA20POLY1305);
	p.a.rekey_packets = 2;
	n = seal(&p.a, 0, 0, buf, 8);
	expect_open(&p.b, 0, buf, n, 0);
	nlate = seal(&p.a, 0, 1, late, 8);
	n = seal(&p.a, 0, 2, buf, 8);		/* epoch 1 */
	expect_open(&p.b, 10 * SEC, buf, n, 2);
	expect_drop(&p.b, 10 * SEC + PKT_PREV_KEY_US, late, nlate, PKT_DROP_OLD);
	pair_free(&p);
}

/*
 * Regression (found by the simulator torture): a key phase whose packets are all lost. Without
 * the acknowledgment gate the sender moves on to the phase after it, with the receiver's phase
 * bit but not its key, and nothing opens again. With pkt_on_acked the sender waits for an ack
 * of the current phase before the next change (RFC 9001 6.1), so the receiver always follows.
 */
static void
rekey_waits_for_ack(void **state)
{
	struct pair p;
	uint8_t buf[CAP];
	size_t n;
	uint64_t pn = 0;

	pair_init(&p, PKT_CHACHA20POLY1305);
	p.a.rekey_packets = 4;
	pkt_on_acked(&p.a, 0);
	for (; pn < 4; pn++) {			/* epoch 0: delivered and acknowledged */
		n = seal(&p.a, 0, pn, buf, 8);
		expect_open(&p.b, 0, buf, n, pn);
	}
	pkt_on_acked(&p.a, 3);
	for (; pn < 12; pn++) {			/* epoch 1 begins at 4; all of it is lost */
		n = seal(&p.a, 0, pn, buf, 8);
		assert_int_equal(buf[0], PKT_KIND_DATA | 1);	/* no ack from epoch 1: no epoch 2 */
	}
	assert_true(p.a.tx_epoch == 1);
	n = seal(&p.a, 0, pn, buf, 8);		/* the receiver still follows */
	expect_open(&p.b, 0, buf, n, pn);
	assert_true(p.b.rx_epoch == 1);
	pkt_on_acked(&p.a, pn);
	pkt_on_acked(&p.a, 2);			/* an older ack changes nothing */
	assert_true(p.a.peer_acked_pn == pn);
	n = seal(&p.a, 0, ++pn, buf, 8);	/* acknowledged: epoch 2 */
	assert_int_equal(buf[0], PKT_KIND_DATA);
	assert_true(p.a.tx_epoch == 2);
	expect_open(&p.b, 0, buf, n, pn);
	assert_true(p.b.rx_epoch == 2);
	pair_free(&p);
}

/* Rekeying by time: the phase flips after PKT_REKEY_US and the receiver follows. */
static void
epoch_change_by_time(void **state)
{
	struct pair p;
	uint8_t buf[CAP];
	size_t n;
	uint64_t t = 0;

	pair_init(&p, PKT_CHACHA20POLY1305);
	for (uint64_t pn = 0; pn < 6; pn++, t += PKT_REKEY_US / 2) {
		n = seal(&p.a, t, pn, buf, 30);
		assert_int_equal(buf[0], PKT_KIND_DATA | ((pn / 2) & 1));
		expect_open(&p.b, t, buf, n, pn);
	}
	assert_true(p.a.tx_epoch == 2 && p.b.rx_epoch == 2);
	pair_free(&p);
}

/* A forged packet with the other phase must not move the receiver to the next key. */
static void
forged_phase_does_not_advance(void **state)
{
	struct pair p;
	uint8_t buf[CAP];
	size_t n;

	pair_init(&p, PKT_CHACHA20POLY1305);
	n = seal(&p.a, 0, 1, buf, 30);
	buf[0] ^= PKT_KIND_PHASE_BIT;
	expect_drop(&p.b, 0, buf, n, PKT_DROP_TAG);
	assert_true(p.b.rx_epoch == 0);
	n = seal(&p.a, 0, 2, buf, 30);
	expect_open(&p.b, 0, buf, n, 2);
	pair_free(&p);
}

static void
counter_limit(void **state)
{
	struct pair p;
	uint8_t buf[CAP];
	size_t n;

	pair_init(&p, PKT_CHACHA20POLY1305);
	n = seal(&p.a, 0, PKT_PN_MAX - 1, buf, 10);
	expect_open(&p.b, 0, buf, n, PKT_PN_MAX - 1);
	n = seal(&p.a, 0, PKT_PN_MAX, buf, 10);
	expect_open(&p.b, 0, buf, n, PKT_PN_MAX);
	assert_false(pkt_exhausted(&p.a));
	assert_int_equal(seal(&p.a, 0, PKT_PN_MAX + 1, buf, 10), 0);
	assert_true(pkt_exhausted(&p.a));
	assert_int_equal(seal(&p.a, 0, PKT_PN_MAX, buf, 10), 0);	/* stays closed */
	n = seal(&p.b, 0, 1, buf, 10);		/* receiving still works (a CLOSE may arrive) */
	expect_open(&p.a, 0, buf, n, 1);
	pair_free(&p);

	/* The forgery limit: past it nothing opens, not even a genuine packet. */
	pair_init(&p, PKT_CHACHA20POLY1305);
	p.b.forgeries = PKT_FORGERY_LIMIT - 2;
	n = seal(&p.a, 0, 1, buf, 10);
	buf[n - 1] ^= 1;
	expect_drop(&p.b, 0, buf, n, PKT_DROP_TAG);
	assert_false(pkt_exhausted(&p.b));
	buf[n - 1] ^= 1;
	buf[n - 2] ^= 1;
	expect_drop(&p.b, 0, buf, n, PKT_DROP_TAG);
	assert_true(pkt_exhausted(&p.b));
	buf[n - 2] ^= 1;
	expect_drop(&p.b, 0, buf, n, PKT_DROP_LIMIT);
	pair_free(&p);

	/* A packet number that does not increase would reuse a nonce: refused. */
	pair_init(&p, PKT_CHACHA20POLY1305);
	assert_int_equal(seal(&p.a, 0, 5, buf, 10), 10 + PKT_OVERHEAD);
	assert_int_equal(seal(&p.a, 0, 5, buf, 10), 0);
	pair_free(&p);
	pair_init(&p, PKT_CHACHA20POLY1305);
	assert_int_equal(seal(&p.a, 0, 5, buf, 10), 10 + PKT_OVERHEAD);
	assert_int_equal(seal(&p.a, 0, 4, buf, 10), 0);
	pair_free(&p);
}

static void
free_wipes_keys(void **state)
{
	struct pair p;
	static const uint8_t zero[PKT_KEY_LEN];

	pair_init(&p, PKT_CHACHA20POLY1305);
	pair_free(&p);
	assert_memory_equal(p.a.tx.key, zero, PKT_KEY_LEN);
	assert_memory_equal(p.a.rx[1].key, zero, PKT_KEY_LEN);
	assert_memory_equal(p.a.rx[2].key, zero, PKT_KEY_LEN);
}

/* A payload in two pieces seals to the very bytes of the same payload in one piece, and the
 * bytes borrowed in front of the tail are back afterwards; a head too long to borrow for is
 * copied instead. */
static void
seal_split_matches(void **state)
{
	enum pkt_cipher c = cipher_of(state);
	struct pair one, two;
	uint8_t ring[4096], before[4096], whole[CAP], split[CAP];
	size_t heads[] = { 1, 40, PKT_SPLIT_HEAD_MAX, PKT_SPLIT_HEAD_MAX + 1 }, tail_len = 1000;

	pair_init(&one, c);
	pair_init(&two, c);
	for (size_t i = 0; i < sizeof ring; i++)
		ring[i] = (uint8_t)(i * 13 + 5);
	memcpy(before, ring, sizeof ring);
	for (size_t k = 0; k < sizeof heads / sizeof heads[0]; k++) {
		size_t h = heads[k], at = 1024, n1, n2;

		for (size_t i = 0; i < h; i++)
			whole[PKT_HDR_LEN + i] = split[PKT_HDR_LEN + i] = (uint8_t)(0xa0 ^ i);
		memcpy(whole + PKT_HDR_LEN + h, ring + at, tail_len);
		n1 = pkt_seal(&one.a, 0, k + 1, whole, h + tail_len);
		n2 = pkt_seal_split(&two.a, 0, k + 1, split, h, ring + at, tail_len);
		assert_int_equal(n1, h + tail_len + PKT_OVERHEAD);
		assert_int_equal(n2, n1);
		assert_memory_equal(split, whole, n1);
		assert_memory_equal(ring, before, sizeof ring);
		assert_int_equal(pkt_open(&two.b, 0, split, n2, &(uint64_t){0}), (ssize_t)(h + tail_len));
	}
	pair_free(&one);
	pair_free(&two);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(roundtrip_chacha),
		cmocka_unit_test(roundtrip_aesgcm),
		cmocka_unit_test(ciphers_do_not_mix),
		cmocka_unit_test(tamper_and_truncate),
		cmocka_unit_test_prestate(tamper_and_truncate, &aes),
		cmocka_unit_test(drop_reasons),
		cmocka_unit_test(replay_and_window),
		cmocka_unit_test(reorder_inside_window),
		cmocka_unit_test(replay_unit),
		cmocka_unit_test(epoch_change_with_reordering),
		cmocka_unit_test_prestate(epoch_change_with_reordering, &aes),
		cmocka_unit_test(old_key_expires),
		cmocka_unit_test(epoch_change_by_time),
		cmocka_unit_test(rekey_waits_for_ack),
		cmocka_unit_test(forged_phase_does_not_advance),
		cmocka_unit_test(counter_limit),
		cmocka_unit_test(free_wipes_keys),
		cmocka_unit_test(seal_split_matches),
		cmocka_unit_test_prestate(seal_split_matches, &aes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
