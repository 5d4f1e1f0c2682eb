/* Bounded reader/writer, QUIC varints and the compact address type. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "netaddr.h"
#include "wire.h"

static void
varint_roundtrip(void **state)
{
	static const uint64_t vals[] = { 0, 1, 63, 64, 16383, 16384, 1073741823, 1073741824,
		VARINT_MAX };
	uint8_t buf[8];

	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		struct wr w;
		struct rd r;

		wr_init(&w, buf, sizeof buf);
		assert_true(wr_varint(&w, vals[i]));
		assert_int_equal(wr_len(&w), varint_len(vals[i]));
		rd_init(&r, buf, wr_len(&w));
		assert_true(rd_varint(&r) == vals[i]);
		assert_true(rd_done(&r));
	}
}

static void
varint_rfc9000_examples(void **state)
{
	/* RFC 9000 appendix A.1 */
	static const uint8_t e8[] = { 0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c };
	static const uint8_t e4[] = { 0x9d, 0x7f, 0x3e, 0x7d };
	static const uint8_t e2[] = { 0x7b, 0xbd };
	struct rd r;

	rd_init(&r, e8, sizeof e8);
	assert_true(rd_varint(&r) == UINT64_C(151288809941952652));
	rd_init(&r, e4, sizeof e4);
	assert_true(rd_varint(&r) == 494878333);
	rd_init(&r, e2, sizeof e2);
	assert_true(rd_varint(&r) == 15293);
}

static void
reads_past_end_are_caught(void **state)
{
	static const uint8_t b[] = { 0x80, 0x01 };	/* a 4-byte varint cut short */
	struct rd r;

	rd_init(&r, b, sizeof b);
	assert_int_equal(rd_varint(&r), 0);
	assert_false(rd_ok(&r));
	rd_init(&r, b, sizeof b);
	assert_int_equal(rd_u16(&r), 0x8001);
	assert_true(rd_done(&r));
	assert_int_equal(rd_u8(&r), 0);
	assert_false(rd_ok(&r));
	rd_init(&r, b, 0);
	assert_int_equal(rd_varint(&r), 0);
	assert_false(rd_ok(&r));
	rd_init(&r, b, sizeof b);
	assert_null(rd_bytes(&r, 3));
	assert_false(rd_ok(&r));
}

static void
writes_past_end_are_caught(void **state)
{
	uint8_t buf[3];
	struct wr w;

	wr_init(&w, buf, sizeof buf);
	assert_true(wr_u16(&w, 0x1234));
	assert_false(wr_u16(&w, 0x5678));
	assert_false(wr_ok(&w));
	assert_int_equal(wr_len(&w), 2);
	wr_init(&w, buf, sizeof buf);
	assert_false(wr_varint(&w, VARINT_MAX + 1));
}

static void
netaddr_parse_format(void **state)
{
	struct netaddr a, b;
	char s[NETADDR_STRLEN];

	assert_true(netaddr_parse(&a, "203.0.113.7:7430", 0));
	assert_string_equal(netaddr_fmt(&a, s), "203.0.113.7:7430");
	assert_true(netaddr_parse(&b, "[2001:db8::1]", 99));
	assert_string_equal(netaddr_fmt(&b, s), "[2001:db8::1]:99");
	assert_false(netaddr_eq(&a, &b));
	assert_false(netaddr_parse(&a, "2001:db8::1:5", 0));
	assert_false(netaddr_parse(&a, "1.2.3.4:0", 0));
	assert_false(netaddr_parse(&a, "1.2.3.4:65536", 0));
	assert_false(netaddr_parse(&a, "1.2.3.4", 0));
	assert_false(netaddr_parse(&a, "[1.2.3.4]:5", 0));
	assert_false(netaddr_parse(&a, "[::1", 0));
}

static void
netaddr_wire_roundtrip(void **state)
{
	struct netaddr a, b;
	uint8_t buf[32];
	struct wr w;
	struct rd r;

	assert_true(netaddr_parse(&a, "[2001:db8::7]:65535", 0));
	wr_init(&w, buf, sizeof buf);
	assert_true(wr_netaddr(&w, &a));
	assert_int_equal(wr_len(&w), netaddr_wire_len(&a));
	rd_init(&r, buf, wr_len(&w));
	assert_true(rd_netaddr(&r, &b));
	assert_true(rd_done(&r));
	assert_true(netaddr_eq(&a, &b));
	buf[0] = 5;	/* unknown family */
	rd_init(&r, buf, wr_len(&w));
	assert_false(rd_netaddr(&r, &b));
	for (size_t n = 0; n < netaddr_wire_len(&a); n++) {
		buf[0] = 6;
		rd_init(&r, buf, n);
		assert_false(rd_netaddr(&r, &b));
	}
}

static void
netaddr_sockaddr_roundtrip(void **state)
{
	struct netaddr a, b;
	struct sockaddr_storage ss;
	socklen_t len;

	assert_true(netaddr_parse(&a, "127.0.0.1:5", 0));
	len = netaddr_to_sa(&a, &ss);
	assert_true(netaddr_from_sa(&b, (struct sockaddr *)&ss, len));
	assert_true(netaddr_eq(&a, &b));
	assert_true(netaddr_is_loopback(&b));
	assert_true(netaddr_parse(&a, "[::ffff:198.51.100.9]:7", 0));
	len = netaddr_to_sa(&a, &ss);
	assert_true(netaddr_from_sa(&b, (struct sockaddr *)&ss, len));
	assert_int_equal(b.family, 4);	/* mapped addresses become IPv4 */
	assert_true(netaddr_hash(&a, 1) != netaddr_hash(&a, 2));
}

static void
hostport_split_forms(void **state)
{
	char host[64];
	uint16_t port;

	assert_null(hostport_split("relay.example:9", host, sizeof host, &port, 7430));
	assert_string_equal(host, "relay.example");
	assert_int_equal(port, 9);
	assert_null(hostport_split("relay.example", host, sizeof host, &port, 7430));
	assert_int_equal(port, 7430);
	assert_null(hostport_split("[::1]:8", host, sizeof host, &port, 7430));
	assert_string_equal(host, "::1");
	assert_non_null(hostport_split(":8", host, sizeof host, &port, 7430));
	assert_non_null(hostport_split("h:x", host, sizeof host, &port, 7430));
	assert_non_null(hostport_split("::1", host, sizeof host, &port, 7430));
	assert_non_null(hostport_split("[::1]x", host, sizeof host, &port, 7430));
	assert_non_null(hostport_split("abcdefgh", host, 4, &port, 7430));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(varint_roundtrip),
		cmocka_unit_test(varint_rfc9000_examples),
		cmocka_unit_test(reads_past_end_are_caught),
		cmocka_unit_test(writes_past_end_are_caught),
		cmocka_unit_test(netaddr_parse_format),
		cmocka_unit_test(netaddr_wire_roundtrip),
		cmocka_unit_test(netaddr_sockaddr_roundtrip),
		cmocka_unit_test(hostport_split_forms),
	};

	return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
