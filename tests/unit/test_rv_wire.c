/* Rendezvous message codec: every type round-trips; truncated, padded-wrong or foreign input fails. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "rv_wire.h"

static const uint8_t all_types[] = {
	RV_JOIN, RV_COOKIE, RV_JOINED, RV_DISCOVER, RV_OBSERVED, RV_PEER_SEND, RV_PEER_RECV,
	RV_READY, RV_GO, RV_FAIL, RV_LEAVE, RV_PEER_LEFT, RV_KEEPALIVE, RV_KEEPALIVE_ACK,
	RV_ERROR, RV_PEER_JOINED,
};

static void
sample(struct rv_msg *m, uint8_t type)
{
	static const uint8_t payload[] = "opaque peer message";

	memset(m, 0, sizeof *m);
	m->type = type;
	m->flags = type == RV_JOIN ? 0 : RV_FLAG_PEER_PRESENT;
	m->role = RV_ROLE_RESPONDER;
	m->port_index = 1;
	m->code = 3;
	m->expiry_s = 600;
	m->nameplate = 4242;
	m->seq = 7;
	m->ack = 6;
	memset(m->nonce, 0xa5, RV_NONCE_LEN);
	memset(m->cookie, 0x5a, RV_COOKIE_LEN);
	memset(m->sid, 0x11, RV_SID_LEN);
	m->auth.room_id = 0x01234567;
	m->auth.member = 1;
	memset(m->auth.token, 0x22, RV_TOKEN_LEN);
	assert_true(netaddr_parse(&m->addr, "[2001:db8::7]:40000", 0));
	m->payload = payload;
	m->payload_len = sizeof payload;
}

static void
every_type_round_trips(void **state)
{
	for (size_t i = 0; i < sizeof all_types; i++) {
		struct rv_msg m, d;
		uint8_t buf[RV_MAX_PACKET];
		size_t n;

		sample(&m, all_types[i]);
		n = rv_encode(&m, buf, sizeof buf);
		assert_true(n > 2);
		assert_int_equal(buf[0], all_types[i]);
		assert_int_equal(buf[1], RV_VERSION);
		assert_true(rv_decode(&d, buf, n));
		assert_int_equal(d.type, m.type);
		assert_string_not_equal(rv_type_name(m.type), "?");
		switch (m.type) {
		case RV_JOIN:
		case RV_DISCOVER:
			assert_int_equal(n, RV_FIRST_LEN);
			break;
		case RV_KEEPALIVE:
			assert_int_equal(n, RV_KEEPALIVE_LEN);
			break;
		case RV_JOINED:
			assert_memory_equal(d.sid, m.sid, RV_SID_LEN);
			assert_memory_equal(d.auth.token, m.auth.token, RV_TOKEN_LEN);
			assert_int_equal(d.auth.room_id, m.auth.room_id);
			assert_true(netaddr_eq(&d.addr, &m.addr));
			assert_int_equal(d.expiry_s, 600);
			assert_int_equal(d.role, RV_ROLE_RESPONDER);
			break;
		case RV_PEER_SEND:
		case RV_PEER_RECV:
			assert_int_equal(d.payload_len, m.payload_len);
			assert_memory_equal(d.payload, m.payload, m.payload_len);
			assert_int_equal(d.seq, 7);
			assert_int_equal(d.ack, 6);
			break;
		default:
			break;
		}
		if (m.type == RV_PEER_SEND || m.type == RV_READY || m.type == RV_FAIL ||
		    m.type == RV_LEAVE || m.type == RV_KEEPALIVE)
			assert_int_equal(d.auth.room_id, m.auth.room_id);	/* member messages */
		else
			assert_memory_equal(d.nonce, m.nonce, RV_NONCE_LEN);
	}
}

static void
truncations_rejected(void **state)
{
	for (size_t i = 0; i < sizeof all_types; i++) {
		struct rv_msg m, d;
		uint8_t buf[RV_MAX_PACKET];
		size_t n;

		sample(&m, all_types[i]);
		n = rv_encode(&m, buf, sizeof buf);
		for (size_t k = 0; k < n; k++) {
			/* payload-carrying types may lose payload bytes and stay valid */
			if ((m.type == RV_PEER_SEND || m.type == RV_PEER_RECV) &&
			    k >= n - m.payload_len + 1)
				continue;
			assert_false(rv_decode(&d, buf, k));
		}
		/* one byte more than the format holds */
		if (m.type != RV_PEER_SEND && m.type != RV_PEER_RECV && m.type != RV_JOIN &&
		    m.type != RV_DISCOVER && m.type != RV_KEEPALIVE) {
			buf[n] = 0;
			assert_false(rv_decode(&d, buf, n + 1));
		}
	}
}

static void
wrong_version_and_padding_rejected(void **state)
{
	struct rv_msg m, d;
	uint8_t buf[RV_MAX_PACKET];
	size_t n;

	sample(&m, RV_JOIN);
	n = rv_encode(&m, buf, sizeof buf);
	assert_true(rv_decode(&d, buf, n));
	buf[1] = RV_VERSION + 1;
	assert_false(rv_decode(&d, buf, n));
	buf[1] = RV_VERSION;
	buf[n - 1] = 1;			/* padding must be zero */
	assert_false(rv_decode(&d, buf, n));
	buf[n - 1] = 0;
	assert_false(rv_decode(&d, buf, RV_MAX_PACKET + 1));	/* oversized */
	buf[2] = 0x80;			/* unknown flag */
	assert_false(rv_decode(&d, buf, n));
	/* allocate with a nameplate, and claim of nameplate 0 or above the maximum */
	m.flags = RV_JOIN_ALLOCATE;
	assert_false(rv_decode(&d, buf, rv_encode(&m, buf, sizeof buf)));
	m.flags = 0;
	m.nameplate = 0;
	assert_false(rv_decode(&d, buf, rv_encode(&m, buf, sizeof buf)));
	m.nameplate = RV_NAMEPLATE_MAX + 1;
	assert_int_equal(rv_encode(&m, buf, sizeof buf), 0);
}

static void
peer_message_bounds(void **state)
{
	static uint8_t big[RV_PEER_MSG_MAX + 1];
	struct rv_msg m, d;
	uint8_t buf[RV_MAX_PACKET];
	size_t n;

	sample(&m, RV_PEER_SEND);
	m.payload = big;
	m.payload_len = RV_PEER_MSG_MAX;
	n = rv_encode(&m, buf, sizeof buf);
	assert_true(n > 0 && n <= 1200);
	assert_true(rv_decode(&d, buf, n));
	m.payload_len = RV_PEER_MSG_MAX + 1;
	assert_int_equal(rv_encode(&m, buf, sizeof buf), 0);
	/* a pure ack has seq 0 and nothing else; seq 0 with a payload is malformed */
	m.payload_len = 0;
	m.seq = 0;
	assert_true(rv_decode(&d, buf, rv_encode(&m, buf, sizeof buf)));
	m.payload_len = 5;
	assert_false(rv_decode(&d, buf, rv_encode(&m, buf, sizeof buf)));
	/* a member index other than 0 or 1 */
	sample(&m, RV_READY);
	m.auth.member = 2;
	assert_false(rv_decode(&d, buf, rv_encode(&m, buf, sizeof buf)));
}

static void
foreign_kinds_rejected(void **state)
{
	struct rv_msg d;
	uint8_t buf[64] = { 0 };

	for (int t = 0; t < 256; t++) {
		buf[0] = (uint8_t)t;
		buf[1] = RV_VERSION;
		if (t < 0x50 || t > 0x5f)
			assert_false(rv_decode(&d, buf, sizeof buf));
	}
	assert_false(rv_decode(&d, buf, 0));
	assert_false(rv_decode(&d, buf, 1));
	assert_string_equal(rv_type_name(0x20), "?");
}

static void
relay_header(void **state)
{
	uint8_t buf[RV_RELAY_HDR_LEN + 4];
	struct rv_relay_hdr h;

	rv_relay_hdr_write(buf, RV_RELAY_DATA, 1, 0xdeadbeef);
	assert_true(rv_relay_hdr_read(&h, buf, sizeof buf));
	assert_int_equal(h.type, RV_RELAY_DATA);
	assert_int_equal(h.member, 1);
	assert_int_equal(h.room_id, 0xdeadbeef);
	assert_false(rv_relay_hdr_read(&h, buf, RV_RELAY_HDR_LEN - 1));
	buf[1] = 9;
	assert_false(rv_relay_hdr_read(&h, buf, sizeof buf));
	buf[1] = RV_VERSION;
	buf[2] = 2;
	assert_false(rv_relay_hdr_read(&h, buf, sizeof buf));
	buf[2] = 0;
	buf[0] = 0x41;
	assert_false(rv_relay_hdr_read(&h, buf, sizeof buf));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_type_round_trips),
		cmocka_unit_test(truncations_rejected),
		cmocka_unit_test(wrong_version_and_padding_rejected),
		cmocka_unit_test(peer_message_bounds),
		cmocka_unit_test(foreign_kinds_rejected),
		cmocka_unit_test(relay_header),
	};

	return cmocka_run_group_tests_name("rv_wire", tests, NULL, NULL);
}
