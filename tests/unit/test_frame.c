/* Stream frames: encodings round-trip, ACK ranges, and every kind of malformed input fails. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "frame.h"
#include "rangeset.h"

static void
test_round_trip(void **state)
{
	uint8_t buf[256], data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct wr w;
	struct rd r;
	struct frame f;

	wr_init(&w, buf, sizeof buf);
	assert_true(frame_write_ping(&w));
	assert_true(frame_write_max_data(&w, 123456789));
	assert_true(frame_write_path(&w, FRAME_PATH_CHALLENGE, data));
	assert_true(frame_write_path(&w, FRAME_PATH_RESPONSE, data));
	assert_true(frame_write_close(&w, 0x102, "interrupted by signal 2"));
	assert_true(frame_write_stream_hdr(&w, 70000, 3, false, true));
	assert_true(wr_bytes(&w, "abc", 3));
	assert_true(frame_write_stream_hdr(&w, 70003, 0, true, false));
	assert_true(wr_bytes(&w, "tail", 4));

	rd_init(&r, buf, wr_len(&w));
	assert_int_equal(frame_parse(&r, &f), 0);
	assert_true(f.type == FRAME_PING);
	assert_int_equal(frame_parse(&r, &f), 0);
	assert_true(f.type == FRAME_MAX_DATA && f.u.max_data == 123456789);
	assert_int_equal(frame_parse(&r, &f), 0);
	assert_true(f.type == FRAME_PATH_CHALLENGE);
	assert_memory_equal(f.u.path_data, data, 8);
	assert_int_equal(frame_parse(&r, &f), 0);
	assert_true(f.type == FRAME_PATH_RESPONSE);
	assert_int_equal(frame_parse(&r, &f), 0);
	assert_true(f.type == FRAME_CLOSE && f.u.close.code == 0x102);
	assert_int_equal(f.u.close.reason_len, strlen("interrupted by signal 2"));
	assert_int_equal(frame_parse(&r, &f), 0);
	assert_true(f.u.stream.offset == 70000 && f.u.stream.len == 3 && !f.u.stream.fin);
	assert_memory_equal(f.u.stream.data, "abc", 3);
	assert_int_equal(frame_parse(&r, &f), 0);	/* no length: runs to the end */
	assert_true(f.u.stream.offset == 70003 && f.u.stream.len == 4 && f.u.stream.fin);
	assert_memory_equal(f.u.stream.data, "tail", 4);
	assert_true(rd_done(&r));
}

static void
test_ack_ranges(void **state)
{
	/* Received: 0-4, 7, 10-19, 1000-1000 (ranges are [lo, hi)). */
	const struct range got[] = { { 0, 5 }, { 7, 8 }, { 10, 20 }, { 1000, 1001 } };
	const uint64_t want[][2] = { { 1000, 1000 }, { 10, 19 }, { 7, 7 }, { 0, 4 } };
	uint8_t buf[128];
	struct wr w;
	struct rd r;
	struct frame f;
	struct ack_iter it;
	uint64_t lo, hi;
	size_t i = 0;

	wr_init(&w, buf, sizeof buf);
	assert_true(frame_write_ack(&w, got, 4, 250, 32));
	assert_true(frame_write_ping(&w));
	rd_init(&r, buf, wr_len(&w));
	assert_int_equal(frame_parse(&r, &f), 0);
	assert_true(f.type == FRAME_ACK && f.u.ack.largest == 1000 && f.u.ack.delay_us == 250);
	ack_iter_init(&it, &f.u.ack);
	while (ack_iter_next(&it, &lo, &hi)) {
		assert_true(i < 4);
		assert_true(lo == want[i][0] && hi == want[i][1]);
		i++;
	}
	assert_int_equal(i, 4);
	assert_int_equal(frame_parse(&r, &f), 0);	/* the PING after it */
	assert_true(f.type == FRAME_PING && rd_done(&r));

	/* At most max_ranges: the lowest are left out. */
	wr_init(&w, buf, sizeof buf);
	assert_true(frame_write_ack(&w, got, 4, 0, 2));
	rd_init(&r, buf, wr_len(&w));
	assert_int_equal(frame_parse(&r, &f), 0);
	assert_true(f.u.ack.range_count == 1);
}

static int
parse_all(const uint8_t *p, size_t n)
{
	struct rd r;
	struct frame f;

	rd_init(&r, p, n);
	while (rd_left(&r) > 0)
		if (frame_parse(&r, &f) != 0)
			return -1;
	return 0;
}

static void
test_malformed(void **state)
{
	/* Unknown type. */
	assert_int_equal(parse_all((const uint8_t[]){ 0x03 }, 1), -1);
	assert_int_equal(parse_all((const uint8_t[]){ 0x0c }, 1), -1);
	/* Truncated fields. */
	assert_int_equal(parse_all((const uint8_t[]){ FRAME_MAX_DATA }, 1), -1);
	assert_int_equal(parse_all((const uint8_t[]){ FRAME_MAX_DATA, 0x80, 1 }, 3), -1);
	assert_int_equal(parse_all((const uint8_t[]){ FRAME_PATH_CHALLENGE, 1, 2, 3 }, 4), -1);
	assert_int_equal(parse_all((const uint8_t[]){ FRAME_CLOSE, 1, 5, 'a' }, 4), -1);
	/* STREAM length beyond the packet. */
	assert_int_equal(parse_all((const uint8_t[]){ FRAME_STREAM | FRAME_STREAM_LEN, 0, 5, 1 },
	    4), -1);
	/* STREAM offset + length above 2^62 - 1. */
	assert_int_equal(parse_all((const uint8_t[]){ FRAME_STREAM, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 'x' }, 10), -1);
	/* ACK: first range below zero; a gap below zero; too many ranges; truncated ranges. */
	assert_int_equal(parse_all((const uint8_t[]){ FRAME_ACK, 5, 0, 0, 6 }, 5), -1);
	assert_int_equal(parse_all((const uint8_t[]){ FRAME_ACK, 5, 0, 1, 2, 2, 0 }, 7), -1);
	assert_int_equal(parse_all((const uint8_t[]){ FRAME_ACK, 5, 0, 1, 0, 3, 1 }, 7), -1);
	assert_int_equal(parse_all((const uint8_t[]){ FRAME_ACK, 50, 0, 0x41, 0x01, 0 }, 6), -1);
	assert_int_equal(parse_all((const uint8_t[]){ FRAME_ACK, 50, 0, 2, 1, 1, 1 }, 7), -1);
	/* Valid edge cases. */
	assert_int_equal(parse_all((const uint8_t[]){ FRAME_ACK, 5, 0, 0, 5 }, 5), 0);
	assert_int_equal(parse_all((const uint8_t[]){ FRAME_ACK, 5, 0, 1, 0, 3, 0 }, 7), 0);
	assert_int_equal(parse_all((const uint8_t[]){ FRAME_STREAM | FRAME_STREAM_FIN, 0 }, 2), 0);
	assert_int_equal(parse_all((const uint8_t[]){ FRAME_PADDING, FRAME_PADDING }, 2), 0);
}

/* Every truncation and every single-byte change of a valid payload parses or fails cleanly
 * (under ASan this also proves no read goes out of bounds). */
static void
test_mutations(void **state)
{
	const struct range got[] = { { 0, 5 }, { 7, 8 }, { 10, 20 } };
	uint8_t buf[128], copy[128], data[8] = { 0 };
	struct wr w;
	size_t n;

	wr_init(&w, buf, sizeof buf);
	frame_write_ack(&w, got, 3, 9, 32);
	frame_write_max_data(&w, 1 << 20);
	frame_write_path(&w, FRAME_PATH_CHALLENGE, data);
	frame_write_close(&w, 3, "x");
	frame_write_stream_hdr(&w, 1000, 4, true, true);
	wr_bytes(&w, "data", 4);
	n = wr_len(&w);
	for (size_t len = 0; len <= n; len++) {
		memcpy(copy, buf, len);
		(void)parse_all(copy, len);
	}
	for (size_t at = 0; at < n; at++)
		for (unsigned v = 0; v < 256; v += 7) {
			memcpy(copy, buf, n);
			copy[at] = (uint8_t)v;
			(void)parse_all(copy, n);
		}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_ack_ranges),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
