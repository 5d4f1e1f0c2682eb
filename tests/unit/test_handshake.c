/* The peers' handshake: full runs, wrong codes, tampered and truncated messages, the key
 * schedule's products (packets, mailbox, probe MACs, verification string). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "handshake.h"

struct msg {
	uint8_t b[HS_MSG_MAX];
	size_t n;
};

static struct hs_params
params(bool initiator, const char *password)
{
	struct hs_params p = {
		.initiator = initiator,
		.password = password,
		.password_len = strlen(password),
		.nameplate = 7,
		.sid = { 0x5a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
	};

	return p;
}

static void
start(struct handshake *a, struct handshake *b, const char *pa, const char *pb)
{
	struct hs_params p = params(true, pa), q = params(false, pb);

	assert_int_equal(hs_init(a, &p), 0);
	assert_int_equal(hs_init(b, &q), 0);
}

/* Takes every message h has to send (at most 4). */
static size_t
drain(struct handshake *h, struct msg *out)
{
	size_t k = 0;

	while (k < 4 && (out[k].n = hs_build(h, out[k].b, sizeof out[k].b)) > 0)
		k++;
	assert_int_equal(hs_build(h, out[0].b + 0, 0), 0);	/* nothing more, even with cap 0 */
	return k;
}

/* Delivers messages both ways until neither side has anything to send. mutate (may be
 * NULL) can change the index-th message from a to b before delivery. */
static void
exchange(struct handshake *a, struct handshake *b,
    void (*mutate)(struct msg *, size_t index, void *), void *arg)
{
	struct msg ma[4], mb[4];
	size_t na, nb, index = 0;

	for (int round = 0; round < 4; round++) {
		na = drain(a, ma);
		nb = drain(b, mb);
		if (na == 0 && nb == 0)
			return;
		for (size_t i = 0; i < na; i++, index++) {
			if (mutate)
				mutate(&ma[i], index, arg);
			hs_receive(b, ma[i].b, ma[i].n);
		}
		for (size_t i = 0; i < nb; i++)
			hs_receive(a, mb[i].b, mb[i].n);
	}
	fail_msg("handshake did not settle");
}

static void
full_handshake(void **state)
{
	struct handshake a, b;
	struct pkt_ctx pa, pb;
	uint8_t buf[256];
	uint64_t pn;

	start(&a, &b, "orbit-canvas-tulip", "orbit-canvas-tulip");
	assert_int_equal(hs_state(&a), HS_RUNNING);
	assert_null(hs_verifier(&a));
	assert_int_equal(hs_pkt_init(&a, &pa, 0), -1);		/* nothing before confirmation */
	exchange(&a, &b, NULL, NULL);
	assert_int_equal(hs_state(&a), HS_DONE);
	assert_int_equal(hs_state(&b), HS_DONE);
	assert_null(hs_error(&a));
	assert_string_equal(hs_verifier(&a), hs_verifier(&b));
	assert_int_equal(strlen(hs_verifier(&a)), HS_VERIFIER_LEN);
	assert_int_equal(a.cipher, PKT_CHACHA20POLY1305);	/* nobody offered AES */
	assert_true(a.peer_cid == b.rx_cid && b.peer_cid == a.rx_cid);

	assert_int_equal(hs_pkt_init(&a, &pa, 0), 0);
	assert_int_equal(hs_pkt_init(&b, &pb, 0), 0);
	memcpy(buf + PKT_HDR_LEN, "hello", 5);
	assert_int_equal(pkt_seal(&pa, 0, 1, buf, 5), 5 + PKT_OVERHEAD);
	assert_int_equal(pkt_open(&pb, 0, buf, 5 + PKT_OVERHEAD, &pn), 5);
	assert_memory_equal(buf + PKT_HDR_LEN, "hello", 5);
	memcpy(buf + PKT_HDR_LEN, "world!", 6);
	assert_int_equal(pkt_seal(&pb, 0, 1, buf, 6), 6 + PKT_OVERHEAD);
	assert_int_equal(pkt_open(&pa, 0, buf, 6 + PKT_OVERHEAD, &pn), 6);
	/* Our own packet reflected back does not open. */
	assert_int_equal(pkt_seal(&pa, 0, 2, buf, 6), 6 + PKT_OVERHEAD);
	assert_int_equal(pkt_open(&pa, 0, buf, 6 + PKT_OVERHEAD, &pn), -1);

	/* Late handshake messages after completion are ignored, not fatal. */
	assert_int_equal(hs_receive(&a, (const uint8_t *)"\x02", 1), HS_DONE);
	pkt_free(&pa);
	pkt_free(&pb);
	hs_free(&a);
	hs_free(&b);
}

static void
aes_only_when_both_offer(void **state)
{
	for (int mask = 0; mask < 4; mask++) {
		struct hs_params p = params(true, "x-y"), q = params(false, "x-y");
		struct handshake a, b;

		p.offer_aes = mask & 1;
		q.offer_aes = mask & 2;
		assert_int_equal(hs_init(&a, &p), 0);
		assert_int_equal(hs_init(&b, &q), 0);
		exchange(&a, &b, NULL, NULL);
		assert_int_equal(hs_state(&a), HS_DONE);
		assert_int_equal(a.cipher, mask == 3 && pkt_aes_available() ? PKT_AES256GCM :
		    PKT_CHACHA20POLY1305);
		assert_int_equal(b.cipher, a.cipher);
		{
			struct pkt_ctx pa, pb;
			uint8_t buf[64];
			uint64_t pn;

			assert_int_equal(hs_pkt_init(&a, &pa, 0), 0);
			assert_int_equal(hs_pkt_init(&b, &pb, 0), 0);
			assert_int_equal(pkt_seal(&pb, 0, 9, buf, 3), 3 + PKT_OVERHEAD);
			assert_int_equal(pkt_open(&pa, 0, buf, 3 + PKT_OVERHEAD, &pn), 3);
			pkt_free(&pa);
			pkt_free(&pb);
		}
		hs_free(&a);
		hs_free(&b);
	}
}

static void
wrong_password_fails_both(void **state)
{
	struct handshake a, b;

	start(&a, &b, "orbit-canvas-tulip", "orbit-canvas-tulips");
	exchange(&a, &b, NULL, NULL);
	assert_int_equal(hs_state(&a), HS_FAIL);
	assert_int_equal(hs_state(&b), HS_FAIL);
	assert_string_equal(hs_error(&a), "authentication failed (wrong code?)");
	assert_string_equal(hs_error(&b), "authentication failed (wrong code?)");
	assert_null(hs_verifier(&a));
	assert_int_equal(hs_pkt_init(&b, &(struct pkt_ctx){ 0 }, 0), -1);
	hs_free(&a);
	hs_free(&b);
}

/* Step by step: the shares cross, then the confirmations cross, and both sides have failed.
 * A message sealed after our confirmation (candidates) never opens on the other side. */
static void
wrong_password_fails_in_one_round_trip(void **state)
{
	struct handshake a, b;
	struct msg sa[4], sb[4], ca[4], cb[4];
	uint8_t plain[HS_MSG_MAX];
	size_t n;

	start(&a, &b, "42-our-secret", "42-our-secret2");
	assert_int_equal(drain(&a, sa), 1);
	assert_int_equal(drain(&b, sb), 1);
	assert_int_equal(sa[0].n, HS_SHARE_LEN);
	assert_int_equal(hs_receive(&b, sa[0].b, sa[0].n), HS_RUNNING);
	assert_int_equal(hs_receive(&a, sb[0].b, sb[0].n), HS_RUNNING);
	assert_false(hs_can_seal(&a));		/* our confirmation goes first */
	assert_int_equal(hs_mailbox_seal(&a, "x", 1, sa[1].b, HS_MSG_MAX), 0);
	assert_int_equal(drain(&a, ca), 1);
	assert_int_equal(drain(&b, cb), 1);
	assert_int_equal(ca[0].n, HS_CONFIRM_LEN);
	assert_true(hs_can_seal(&a));
	n = hs_mailbox_seal(&a, "x", 1, sa[1].b, HS_MSG_MAX);
	assert_true(n > 0);
	assert_int_equal(hs_receive(&b, ca[0].b, ca[0].n), HS_FAIL);
	assert_int_equal(hs_receive(&a, cb[0].b, cb[0].n), HS_FAIL);
	assert_false(hs_can_seal(&a));
	assert_int_equal(hs_mailbox_open(&b, sa[1].b, n, plain, sizeof plain), -1);
	assert_int_equal(drain(&a, ca), 0);
	hs_free(&a);
	hs_free(&b);
}

/* Sealed between our confirmation and the peer's: the peer opens it only once it verified
 * ours (mailbox order puts the confirmation first), and then it opens. */
static void
sealed_before_confirmation_opens_after(void **state)
{
	struct handshake a, b;
	struct msg sa[4], sb[4], ca[4], cb[4];
	uint8_t plain[HS_MSG_MAX];
	size_t n;

	start(&a, &b, "42-our-secret", "42-our-secret");
	assert_int_equal(drain(&a, sa), 1);
	assert_int_equal(drain(&b, sb), 1);
	assert_int_equal(hs_receive(&b, sa[0].b, sa[0].n), HS_RUNNING);
	assert_int_equal(drain(&b, cb), 1);		/* b: confirmation out... */
	n = hs_mailbox_seal(&b, "cands", 5, sb[1].b, HS_MSG_MAX);	/* ...then sealed */
	assert_true(n > 0);
	assert_int_equal(hs_receive(&a, sb[0].b, sb[0].n), HS_RUNNING);
	assert_int_equal(hs_mailbox_open(&a, sb[1].b, n, plain, sizeof plain), -1);
	assert_int_equal(hs_receive(&a, cb[0].b, cb[0].n), HS_DONE);
	assert_int_equal(hs_mailbox_open(&a, sb[1].b, n, plain, sizeof plain), 5);
	assert_memory_equal(plain, "cands", 5);
	assert_int_equal(drain(&a, ca), 1);
	assert_int_equal(hs_receive(&b, ca[0].b, ca[0].n), HS_DONE);
	hs_free(&a);
	hs_free(&b);
}

/* Same password but another nameplate, sid or role assignment: no agreement. */
static void
bound_inputs_must_match(void **state)
{
	for (int v = 0; v < 3; v++) {
		struct hs_params p = params(true, "same"), q = params(false, "same");
		struct handshake a, b;

		if (v == 0)
			q.nameplate = 8;
		else if (v == 1)
			q.sid[15] ^= 1;
		else
			q.initiator = true;		/* both think they created the room */
		assert_int_equal(hs_init(&a, &p), 0);
		assert_int_equal(hs_init(&b, &q), 0);
		exchange(&a, &b, NULL, NULL);
		assert_int_equal(hs_state(&a), HS_FAIL);
		assert_int_equal(hs_state(&b), HS_FAIL);
		hs_free(&a);
		hs_free(&b);
	}
}

struct flip {
	size_t target, pos;
	long newlen;		/* >= 0: truncate (or extend with a zero) to this length */
};

static void
flip_one(struct msg *m, size_t index, void *arg)
{
	struct flip *f = arg;

	if (index != f->target)
		return;
	if (f->newlen >= 0) {
		if ((size_t)f->newlen > m->n)
			m->b[m->n] = 0;
		m->n = (size_t)f->newlen;
	} else {
		m->b[f->pos] ^= 0x01 << (f->pos % 8);
	}
}

/* Every single-byte change and every truncation of the initiator's share (message 0) and
 * confirmation (message 1) is rejected: the responder fails. A changed share also keeps the
 * initiator from finishing; a changed confirmation cannot (the responder's own one was
 * genuine), so there only the responder fails. */
static void
tampered_messages_rejected(void **state)
{
	static const size_t lens[2] = { HS_SHARE_LEN, HS_CONFIRM_LEN };

	for (size_t target = 0; target < 2; target++) {
		for (long len = -1; len <= (long)lens[target] + 1; len++) {
			size_t npos = len < 0 ? lens[target] : 1;

			if (len == (long)lens[target])
				continue;			/* unchanged */
			for (size_t pos = 0; pos < npos; pos++) {
				struct flip f = { target, pos, len };
				struct handshake a, b;

				start(&a, &b, "pw", "pw");
				exchange(&a, &b, flip_one, &f);
				if (hs_state(&b) != HS_FAIL)
					fail_msg("message %zu len %ld pos %zu accepted", target,
					    len, pos);
				if (target == 0)
					assert_int_not_equal(hs_state(&a), HS_DONE);
				hs_free(&a);
				hs_free(&b);
			}
		}
	}
}

static void
out_of_order_and_garbage(void **state)
{
	struct handshake a, b;
	struct msg m[4];

	/* A confirmation before any share. */
	start(&a, &b, "pw", "pw");
	assert_int_equal(hs_receive(&b, (const uint8_t *)"\x02" "0123456789abcdef0123456789abcdef",
	    HS_CONFIRM_LEN), HS_FAIL);
	hs_free(&a);
	hs_free(&b);
	/* The same share twice. */
	start(&a, &b, "pw", "pw");
	assert_int_equal(drain(&a, m), 1);
	assert_int_equal(hs_receive(&b, m[0].b, m[0].n), HS_RUNNING);
	assert_int_equal(hs_receive(&b, m[0].b, m[0].n), HS_FAIL);
	hs_free(&a);
	hs_free(&b);
	/* Empty, unknown kind, and a mailbox message during the handshake. */
	for (int k = 0; k < 3; k++) {
		static const uint8_t junk[3][2] = { { 0 }, { 0x7f, 0 }, { HS_MSG_MAILBOX, 0 } };

		start(&a, &b, "pw", "pw");
		assert_int_equal(hs_receive(&b, junk[k], k == 0 ? 0 : 2), HS_FAIL);
		assert_non_null(hs_error(&b));
		assert_int_equal(drain(&b, m), 0);	/* a failed side sends no share */
		hs_free(&a);
		hs_free(&b);
	}
	/* A peer share that is the identity or not a point. */
	for (int k = 0; k < 2; k++) {
		uint8_t share[HS_SHARE_LEN] = { HS_MSG_SHARE, HS_VERSION };

		start(&a, &b, "pw", "pw");
		if (k == 1)
			memset(share + 2, 0xff, CPACE_SHARE_LEN);
		assert_int_equal(hs_receive(&b, share, sizeof share), HS_FAIL);
		assert_string_equal(hs_error(&b), "invalid key share from the peer");
		hs_free(&a);
		hs_free(&b);
	}
	/* Our own messages reflected back (a malicious server): must not confirm. */
	start(&a, &b, "pw", "pw");
	assert_int_equal(drain(&a, m), 1);
	hs_receive(&a, m[0].b, m[0].n);
	while ((m[1].n = hs_build(&a, m[1].b, sizeof m[1].b)) > 0)
		hs_receive(&a, m[1].b, m[1].n);
	assert_int_equal(hs_state(&a), HS_FAIL);
	assert_string_equal(hs_error(&a), "the peer's key share is our own (reflected)");
	hs_free(&a);
	hs_free(&b);
	/* Bad parameters. */
	{
		struct hs_params p = params(true, "");

		assert_int_equal(hs_init(&a, &p), -1);
	}
}

static void
done_pair(struct handshake *a, struct handshake *b)
{
	start(a, b, "orbit-canvas-tulip", "orbit-canvas-tulip");
	exchange(a, b, NULL, NULL);
	assert_int_equal(hs_state(a), HS_DONE);
	assert_int_equal(hs_state(b), HS_DONE);
}

static void
mailbox_messages(void **state)
{
	struct handshake a, b, c, d;
	uint8_t m1[HS_MSG_MAX], m2[HS_MSG_MAX], bad[HS_MSG_MAX], out[HS_MSG_MAX];
	size_t n1, n2;
	static const char cand[] = "candidates: 10.0.0.2:4000 203.0.113.7:5000";

	start(&a, &b, "pw", "pw");
	assert_int_equal(hs_mailbox_seal(&a, "x", 1, m1, sizeof m1), 0);	/* too early */
	hs_free(&a);
	hs_free(&b);

	done_pair(&a, &b);
	n1 = hs_mailbox_seal(&a, cand, sizeof cand, m1, sizeof m1);
	assert_int_equal(n1, sizeof cand + HS_MAILBOX_OVERHEAD);
	n2 = hs_mailbox_seal(&a, "second", 6, m2, sizeof m2);
	/* Every flip and truncation is rejected, and does not advance the sequence. */
	for (size_t i = 0; i < n1; i++) {
		memcpy(bad, m1, n1);
		bad[i] ^= 0x20;
		assert_int_equal(hs_mailbox_open(&b, bad, n1, out, sizeof out), -1);
	}
	for (size_t len = 0; len < n1; len++)
		assert_int_equal(hs_mailbox_open(&b, m1, len, out, sizeof out), -1);
	/* Our own message does not open at our side (direction is in the nonce). */
	assert_int_equal(hs_mailbox_open(&a, m1, n1, out, sizeof out), -1);
	assert_int_equal(hs_mailbox_open(&b, m1, n1, out, sizeof out), (ssize_t)sizeof cand);
	assert_memory_equal(out, cand, sizeof cand);
	assert_int_equal(hs_mailbox_open(&b, m1, n1, out, sizeof out), -1);	/* replay */
	assert_int_equal(hs_mailbox_open(&b, m2, n2, out, 5), -1);		/* no room */
	assert_int_equal(hs_mailbox_open(&b, m2, n2, out, sizeof out), 6);
	/* The other direction. */
	n1 = hs_mailbox_seal(&b, "back", 4, m1, sizeof m1);
	assert_int_equal(hs_mailbox_open(&a, m1, n1, out, sizeof out), 4);
	/* Limits. */
	assert_int_equal(hs_mailbox_seal(&a, out, HS_MAILBOX_MAX + 1, m1, sizeof m1), 0);
	assert_int_equal(hs_mailbox_seal(&a, out, HS_MAILBOX_MAX, m1, sizeof m1), HS_MSG_MAX);
	/* Another session's key does not open it. */
	done_pair(&c, &d);
	n1 = hs_mailbox_seal(&a, "x", 1, m1, sizeof m1);
	assert_int_equal(hs_mailbox_open(&d, m1, n1, out, sizeof out), -1);
	hs_free(&a);
	hs_free(&b);
	hs_free(&c);
	hs_free(&d);
}

static void
probe_macs(void **state)
{
	struct handshake a, b, c, d;
	uint8_t mac[HS_PROBE_MAC_LEN];
	static const uint8_t body[] = "probe 1 from initiator";

	start(&a, &b, "pw", "pw");
	assert_int_equal(hs_probe_mac(&a, mac, body, sizeof body), -1);
	assert_false(hs_probe_verify(&b, mac, body, sizeof body));
	hs_free(&a);
	hs_free(&b);
	done_pair(&a, &b);
	done_pair(&c, &d);
	assert_int_equal(hs_probe_mac(&a, mac, body, sizeof body), 0);
	assert_true(hs_probe_verify(&b, mac, body, sizeof body));
	assert_false(hs_probe_verify(&b, mac, body, sizeof body - 1));
	assert_false(hs_probe_verify(&d, mac, body, sizeof body));
	mac[3] ^= 4;
	assert_false(hs_probe_verify(&b, mac, body, sizeof body));
	hs_free(&a);
	hs_free(&b);
	hs_free(&c);
	hs_free(&d);
}

/* With fixed scalars the run is deterministic: same verification string every time, and
 * hs_free wipes the keys. */
static void
deterministic_with_test_scalars(void **state)
{
	static const uint8_t ya[32] = { 3 }, yb[32] = { 5 };
	char first[HS_VERIFIER_LEN + 1] = "";
	static const uint8_t zero[HS_KEY_LEN];

	for (int k = 0; k < 2; k++) {
		struct hs_params p = params(true, "pw"), q = params(false, "pw");
		struct handshake a, b;

		p.test_scalar = ya;
		q.test_scalar = yb;
		p.rx_cid = 1;
		q.rx_cid = 2;
		assert_int_equal(hs_init(&a, &p), 0);
		assert_int_equal(hs_init(&b, &q), 0);
		exchange(&a, &b, NULL, NULL);
		assert_int_equal(hs_state(&a), HS_DONE);
		if (k == 0)
			strcpy(first, hs_verifier(&a));
		else
			assert_string_equal(first, hs_verifier(&a));
		hs_free(&a);
		hs_free(&b);
		assert_memory_equal(a.key_i2r, zero, HS_KEY_LEN);
		assert_memory_equal(b.mailbox_key, zero, HS_KEY_LEN);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_handshake),
		cmocka_unit_test(aes_only_when_both_offer),
		cmocka_unit_test(wrong_password_fails_both),
		cmocka_unit_test(wrong_password_fails_in_one_round_trip),
		cmocka_unit_test(sealed_before_confirmation_opens_after),
		cmocka_unit_test(bound_inputs_must_match),
		cmocka_unit_test(tampered_messages_rejected),
		cmocka_unit_test(out_of_order_and_garbage),
		cmocka_unit_test(mailbox_messages),
		cmocka_unit_test(probe_macs),
		cmocka_unit_test(deterministic_with_test_scalars),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
