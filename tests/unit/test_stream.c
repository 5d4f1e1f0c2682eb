/*
 * The stream core through its API: half-close in each order, abort with a reason, idle timeout
 * and keepalive, zero-length streams, a slow reader (flow control), backpressure and zero-copy
 * writes, large packets, path change and validation, and hostile payloads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "frame.h"
#include "sim.h"
#include "stream.h"

#define MS UINT64_C(1000)
#define SEC UINT64_C(1000000)

static void
link_cfg(struct sim_link_cfg *l, uint64_t delay_us, uint64_t rate)
{
	memset(l, 0, sizeof *l);
	l->delay_us = delay_us;
	l->rate_bps = rate;
	l->queue_bytes = rate / 8 * delay_us * 2 / SEC + 100000;
}

static void
base_config(struct sim_config *cfg, uint64_t bytes0, uint64_t bytes1)
{
	sim_config_default(cfg);
	cfg->bytes[0] = bytes0;
	cfg->bytes[1] = bytes1;
	link_cfg(&cfg->link[0], 10 * MS, 100000000);
	link_cfg(&cfg->link[1], 10 * MS, 100000000);
}

static void
run_ok(struct sim *sim, const struct sim_config *cfg)
{
	char why[200];

	assert_int_equal(sim_init(sim, cfg), 0);
	sim_run(sim);
	if (!sim_ok(sim, why, sizeof why))
		fail_msg("%s", why);
}

static void
test_zero_length(void **state)
{
	struct sim_config cfg;
	struct sim sim;

	base_config(&cfg, 0, 0);
	run_ok(&sim, &cfg);
	/* Done within a few round trips: FIN, ACK, CLOSE. */
	assert_true(sim.now < 200 * MS);
	assert_int_equal(stream_deadline(sim.node[0].s), UINT64_MAX);
	sim_free(&sim);
}

/* One side finishes its direction long before the other: its FIN reaches the reader (EOF)
 * while the other direction keeps flowing; both end DONE. */
static void
half_close(int early)
{
	struct sim_config cfg;
	struct sim sim;
	char why[200];
	int late = 1 - early;

	base_config(&cfg, early == 0 ? 1000 : 3000000, early == 0 ? 3000000 : 1000);
	assert_int_equal(sim_init(&sim, &cfg), 0);
	sim_run_until(&sim, 100 * MS);
	assert_true(stream_read_eof(sim.node[late].s));		/* the short side's FIN */
	assert_true(stream_write_done(sim.node[early].s));
	assert_int_equal(stream_state(sim.node[early].s), STREAM_OPEN);
	assert_false(stream_read_eof(sim.node[early].s));
	sim_run(&sim);
	if (!sim_ok(&sim, why, sizeof why))
		fail_msg("%s", why);
	sim_free(&sim);
}

static void test_half_close_first(void **state) { half_close(0); }
static void test_half_close_second(void **state) { half_close(1); }

static void
test_abort(void **state)
{
	struct sim_config cfg;
	struct sim sim;
	char text[64];

	base_config(&cfg, 50000000, 50000000);
	assert_int_equal(sim_init(&sim, &cfg), 0);
	sim.node[0].abort_at = 300 * MS;
	sim.node[0].abort_reason = STREAM_CLOSE_SIGNAL(2);
	sim.node[0].abort_at_set = true;
	sim_run(&sim);
	assert_int_equal(stream_state(sim.node[0].s), STREAM_CLOSED_LOCAL);
	assert_int_equal(stream_state(sim.node[1].s), STREAM_CLOSED_PEER);
	assert_true(stream_close_reason(sim.node[1].s) == STREAM_CLOSE_SIGNAL(2));
	assert_string_equal(stream_reason_text(stream_close_reason(sim.node[1].s), text,
	    sizeof text), "interrupted by signal 2");
	/* The peer learned it about one one-way delay later. */
	assert_true(sim.node[1].done_at >= 310 * MS && sim.node[1].done_at < 330 * MS);
	assert_int_equal(stream_writable(sim.node[0].s), 0);
	sim_free(&sim);
}

/* The path dies: both sides report STREAM_LOST after the idle timeout, not before. */
static void
test_idle_timeout(void **state)
{
	struct sim_config cfg;
	struct sim sim;

	base_config(&cfg, 100000000, 0);
	cfg.switch_at_us = 500 * MS;
	link_cfg(&cfg.switch_link[0], 10 * MS, 100000000);
	link_cfg(&cfg.switch_link[1], 10 * MS, 100000000);
	cfg.switch_link[0].loss = cfg.switch_link[1].loss = 1.0;
	assert_int_equal(sim_init(&sim, &cfg), 0);
	sim_run(&sim);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(stream_state(sim.node[i].s), STREAM_LOST);
		assert_true(stream_close_reason(sim.node[i].s) == STREAM_CLOSE_IDLE);
		assert_true(sim.node[i].done_at >= 500 * MS + STREAM_IDLE_TIMEOUT_US_DEFAULT - 50 * MS);
		assert_true(sim.node[i].done_at <= 500 * MS + STREAM_IDLE_TIMEOUT_US_DEFAULT + 50 * MS);
	}
	sim_free(&sim);
}

/* Nothing to send for minutes (no FIN): keepalive PINGs keep both sides open; shorter
 * keepalive configured on one side is honoured. */
static void
test_keepalive(void **state)
{
	struct sim_config cfg;
	struct sim sim;
	struct stream_stats st;

	base_config(&cfg, 100, 100);
	cfg.stream[1].keepalive_us = 5 * SEC;
	assert_int_equal(sim_init(&sim, &cfg), 0);
	sim.node[0].shutdown = sim.node[1].shutdown = true;	/* never FIN */
	sim_run_until(&sim, 120 * SEC);
	for (int i = 0; i < 2; i++)
		assert_int_equal(stream_state(sim.node[i].s), STREAM_OPEN);
	stream_get_stats(sim.node[1].s, &st);
	assert_true(st.packets_sent >= 120 / 5);
	assert_true(st.packets_sent < 120 / 5 * 3 + 20);
	sim_free(&sim);
}

/* A keepalive falls due in the same moment as new data: the PING must not follow the STREAM
 * frame, which has no length field and so runs to the end of the packet (the PING byte would
 * become a stream byte). */
static void
keepalive_with_data(bool split)
{
	struct stream_config cfg;
	struct stream *s;
	uint8_t out[2000];
	uint64_t pn, now = 6 * SEC;
	size_t n;
	struct rd r;
	struct frame f;
	struct stream_tail tail = {0};
	bool saw_stream = false, saw_ping = false;

	stream_config_default(&cfg);
	cfg.keepalive_us = 5 * SEC;
	s = stream_new(&cfg, 0);
	assert_non_null(s);
	stream_on_timeout(s, now);		/* idle past the keepalive: a PING is pending */
	assert_int_equal(stream_write(s, "hi", 2), 2);
	n = split ? stream_next_packet_split(s, now, out, sizeof out, &pn, &tail) :
	    stream_next_packet(s, now, out, sizeof out, &pn);
	assert_true(n > 0);
	if (tail.len > 0)
		memcpy(out + n - tail.len, tail.data, tail.len);
	rd_init(&r, out, n);
	while (rd_left(&r) > 0) {
		assert_int_equal(frame_parse(&r, &f), 0);
		if ((f.type & ~(uint64_t)3) == FRAME_STREAM) {
			assert_int_equal(f.u.stream.len, 2);
			assert_memory_equal(f.u.stream.data, "hi", 2);
			saw_stream = true;
		}
		saw_ping |= f.type == FRAME_PING;
	}
	assert_true(saw_stream);
	assert_true(saw_ping);
	stream_free(s);
}

static void test_keepalive_with_data(void **state) { keepalive_with_data(false); }
static void test_keepalive_with_data_split(void **state) { keepalive_with_data(true); }

/* A reader taking 1 MB/s slows a sender on a 100 Mbit/s path: no byte lost, credit never
 * exceeded (that would be a flow-control close), buffers bounded by the configuration. */
static void
test_slow_reader(void **state)
{
	struct sim_config cfg;
	struct sim sim;
	struct stream_stats st;

	base_config(&cfg, 5000000, 0);
	cfg.read_chunk[1] = 10000;
	cfg.read_interval_us[1] = 10 * MS;
	cfg.stream[1].recv_window = 256 * 1024;
	cfg.stream[1].recv_window_max = 512 * 1024;
	run_ok(&sim, &cfg);
	assert_true(sim.now >= 5 * SEC);		/* the reader set the pace */
	assert_true(sim.now < 6 * SEC);
	stream_get_stats(sim.node[1].s, &st);
	assert_true(st.recv_window <= 512 * 1024);
	stream_get_stats(sim.node[0].s, &st);
	assert_true(st.send_credit <= 5000000 + 512 * 1024);
	sim_free(&sim);
}

/* The receive window grows from 64 KiB while reordered and lost data sits in the buffer (the
 * ring in use grows with it and must move what it holds), up to the configured cap. */
static void
test_window_autotune(void **state)
{
	struct sim_config cfg;
	struct sim sim;
	struct stream_stats st;

	base_config(&cfg, 30000000, 0);
	for (int i = 0; i < 2; i++) {
		link_cfg(&cfg.link[i], 10 * MS, 1000000000);
		cfg.link[i].loss = 0.01;
		cfg.link[i].reorder = 0.05;
		cfg.link[i].reorder_us = 3 * MS;
	}
	cfg.stream[1].recv_window = 65536;
	cfg.stream[1].recv_window_max = 4 << 20;
	run_ok(&sim, &cfg);
	stream_get_stats(sim.node[1].s, &st);
	assert_true(st.recv_window >= 1 << 20);
	assert_true(st.recv_window <= 4 << 20);
	sim_free(&sim);
}

static void
test_large_packets(void **state)
{
	struct sim_config cfg;
	struct sim sim;
	struct stream_stats st;

	base_config(&cfg, 200000000, 20000000);
	for (int i = 0; i < 2; i++) {
		cfg.stream[i].max_payload = STREAM_PAYLOAD_MAX;
		link_cfg(&cfg.link[i], 50, 10000000000);	/* loopback-like: 100 us RTT */
		cfg.link[i].queue_bytes = 4000000;
	}
	run_ok(&sim, &cfg);
	stream_get_stats(sim.node[0].s, &st);
	/* 200 MB at 10 Gbit/s is 0.16 s; allow for startup, not for a window cap. */
	assert_true(sim.now < 400 * MS);
	assert_true(st.packets_sent < 200000000 / 60000 + 1000);
	sim_free(&sim);
}

static void
test_backpressure_and_zero_copy(void **state)
{
	struct stream_config cfg;
	struct stream *s;
	uint8_t chunk[3000];
	size_t room, total = 0, n;
	uint8_t *p;

	stream_config_default(&cfg);
	cfg.send_buffer = 65536;
	s = stream_new(&cfg, 0);
	assert_non_null(s);
	assert_int_equal(stream_writable(s), 65536);
	memset(chunk, 7, sizeof chunk);
	while ((n = stream_write(s, chunk, sizeof chunk)) > 0)
		total += n;
	assert_int_equal(total, 65536);
	assert_int_equal(stream_writable(s), 0);
	p = stream_write_reserve(s, &room);
	assert_non_null(p);
	assert_int_equal(room, 0);
	stream_free(s);

	s = stream_new(&cfg, 0);
	p = stream_write_reserve(s, &room);
	assert_int_equal(room, 65536);
	memcpy(p, "hello", 5);
	stream_write_commit(s, 5);
	assert_int_equal(stream_writable(s), 65536 - 5);
	stream_shutdown_write(s);
	assert_int_equal(stream_writable(s), 0);
	assert_int_equal(stream_write(s, "x", 1), 0);
	stream_free(s);
}

/* Writes data[*at ..) into both senders as far as they take it (they always take the same). */
static void
fill_both(struct stream *a, struct stream *b, const uint8_t *data, size_t size, size_t *at)
{
	size_t n = stream_write(a, data + *at, size - *at);

	assert_int_equal(stream_write(b, data + *at, n), n);
	*at += n;
	if (*at == size) {
		stream_shutdown_write(a);
		stream_shutdown_write(b);
	}
}

/*
 * stream_next_packet_split gives the same packets as stream_next_packet, leaving the data in
 * the send buffer when the frames before it fit in front of it there. Two identical senders, a
 * (copies) and b (split), send through a 16 KiB ring to one receiver, which loses every 7th
 * packet of a and answers both with the same acknowledgments: the ring wraps (the copy takes
 * over), lost data goes again from the ring, and ACK frames for the receiver's MAX_DATA
 * updates come before the data.
 */
static void
test_split_packets(void **state)
{
	struct stream_config cfg;
	struct stream *a, *b, *r;
	static uint8_t data[400000], got[400000];
	uint8_t pa[2000], pb[2000], pr[2000];
	uint64_t pna, pnb, pnr, now = 0;
	size_t na, nb, nr, at = 0, rcvd = 0, in_place = 0, copied = 0, sent = 0, with_ack = 0;
	struct stream_tail tail;
	struct stream_stats st;

	stream_config_default(&cfg);
	cfg.send_buffer = 16384;
	a = stream_new(&cfg, 0);
	b = stream_new(&cfg, 0);
	stream_config_default(&cfg);
	r = stream_new(&cfg, 0);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(r);
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i * 31 + i / 251);
	for (int step = 0; step < 20000 && rcvd < sizeof data; step++, now += 200) {
		fill_both(a, b, data, sizeof data, &at);
		if (stream_deadline(a) <= now) {
			stream_on_timeout(a, now);
			stream_on_timeout(b, now);
		}
		while ((na = stream_next_packet(a, now, pa, sizeof pa, &pna)) > 0) {
			nb = stream_next_packet_split(b, now, pb, sizeof pb, &pnb, &tail);
			assert_int_equal(nb, na);
			assert_true(pnb == pna);
			if (tail.len > 0) {
				memcpy(pb + nb - tail.len, tail.data, tail.len);
				in_place++;
				with_ack += pb[0] == FRAME_ACK;
			} else {
				copied++;
			}
			assert_memory_equal(pb, pa, na);
			if (++sent % 7 != 0)
				(void)stream_on_packet(r, now + 100, pna, pa, na);
		}
		assert_int_equal(stream_next_packet_split(b, now, pb, sizeof pb, &pnb, &tail), 0);
		rcvd += stream_read(r, got + rcvd, sizeof got - rcvd);
		if (stream_deadline(r) <= now + 100)
			stream_on_timeout(r, now + 100);
		while ((nr = stream_next_packet(r, now + 100, pr, sizeof pr, &pnr)) > 0) {
			(void)stream_on_packet(a, now + 200, pnr, pr, nr);
			(void)stream_on_packet(b, now + 200, pnr, pr, nr);
		}
	}
	assert_int_equal(rcvd, sizeof data);
	assert_memory_equal(got, data, sizeof data);
	assert_true(in_place > copied);		/* most data goes straight from the ring */
	assert_true(copied >= 10);		/* wraps of the 16 KiB ring, and acks alone */
	assert_true(with_ack >= 1);		/* a head longer than the STREAM header */
	stream_get_stats(a, &st);
	assert_true(st.bytes_retransmitted > 0);	/* sent again from the ring */
	stream_free(a);
	stream_free(b);
	stream_free(r);
}

/* Feeds one payload to a fresh stream; returns stream_on_packet's result and the state. */
static int
feed(const uint8_t *payload, size_t len, enum stream_state *st, uint64_t *reason)
{
	struct stream_config cfg;
	struct stream *s;
	uint8_t out[2000];
	uint64_t pn;
	int rc;
	size_t n;
	struct rd r;
	struct frame f;
	bool saw_close = false;

	stream_config_default(&cfg);
	s = stream_new(&cfg, 0);
	assert_non_null(s);
	rc = stream_on_packet(s, 1000, 0, payload, len);
	*st = stream_state(s);
	*reason = stream_close_reason(s);
	if (*st == STREAM_CLOSED_LOCAL) {
		/* The next packet carries the CLOSE with our reason. */
		n = stream_next_packet(s, 2000, out, sizeof out, &pn);
		assert_true(n > 0);
		rd_init(&r, out, n);
		while (rd_left(&r) > 0) {
			assert_int_equal(frame_parse(&r, &f), 0);
			if (f.type == FRAME_CLOSE) {
				assert_true(f.u.close.code == *reason);
				saw_close = true;
			}
		}
		assert_true(saw_close);
	}
	stream_free(s);
	return rc;
}

static void
test_hostile_payloads(void **state)
{
	enum stream_state st;
	uint64_t reason;
	uint8_t big[80];

	/* Unknown frame type. */
	assert_int_equal(feed((const uint8_t[]){ 0x3f }, 1, &st, &reason), -1);
	assert_int_equal(st, STREAM_CLOSED_LOCAL);
	assert_true(reason == STREAM_CLOSE_PROTOCOL);
	/* ACK of a packet never sent. */
	assert_int_equal(feed((const uint8_t[]){ FRAME_ACK, 9, 0, 0, 0 }, 5, &st, &reason), -1);
	assert_true(reason == STREAM_CLOSE_PROTOCOL);
	/* Data beyond the initial credit (64 KiB). */
	assert_int_equal(feed((const uint8_t[]){ FRAME_STREAM, 0x80, 0x01, 0x00, 0x00, 'x' }, 6,
	    &st, &reason), -1);
	assert_true(reason == STREAM_CLOSE_FLOW);
	/* FIN, then data past it in the same packet. */
	assert_int_equal(feed((const uint8_t[]){ FRAME_STREAM | FRAME_STREAM_FIN |
	    FRAME_STREAM_LEN, 0, 1, 'a', FRAME_STREAM, 1, 'b' }, 7, &st, &reason), -1);
	assert_true(reason == STREAM_CLOSE_PROTOCOL);
	/* Two different FIN offsets. */
	assert_int_equal(feed((const uint8_t[]){ FRAME_STREAM | FRAME_STREAM_FIN |
	    FRAME_STREAM_LEN, 0, 1, 'a', FRAME_STREAM | FRAME_STREAM_FIN, 0 }, 6, &st, &reason),
	    -1);
	/* Truncated frame. */
	assert_int_equal(feed((const uint8_t[]){ FRAME_MAX_DATA }, 1, &st, &reason), -1);
	/* Valid: padding, ping, data, an empty payload. */
	assert_int_equal(feed((const uint8_t[]){ FRAME_PADDING, FRAME_PING, FRAME_STREAM, 0, 'z' },
	    5, &st, &reason), 0);
	assert_int_equal(st, STREAM_OPEN);
	assert_int_equal(feed(NULL, 0, &st, &reason), 0);
	/* The peer closing with a reason. */
	memset(big, 0, sizeof big);
	assert_int_equal(feed((const uint8_t[]){ FRAME_CLOSE, 0x41, 0x05, 0 }, 4, &st, &reason), 0);
	assert_int_equal(st, STREAM_CLOSED_PEER);
	assert_true(reason == STREAM_CLOSE_SIGNAL(5));
}

/* Duplicated and reordered packets straight into the core (below the AEAD's replay check). */
static void
test_duplicates_in_core(void **state)
{
	struct stream_config cfg;
	struct stream *a, *b;
	uint8_t pkts[8][1200];
	size_t lens[8];
	uint64_t pns[8], pn;
	size_t n = 0;
	uint8_t got[20000];
	size_t have;

	stream_config_default(&cfg);
	a = stream_new(&cfg, 0);
	b = stream_new(&cfg, 0);
	for (size_t i = 0; i < 5000; i++)
		got[i] = (uint8_t)i;
	assert_int_equal(stream_write(a, got, 5000), 5000);
	stream_shutdown_write(a);
	while (n < 8 && (lens[n] = stream_next_packet(a, 0, pkts[n], sizeof pkts[n], &pns[n])) > 0)
		n++;
	assert_true(n >= 5);
	for (size_t k = n; k-- > 0;) {		/* backwards, each twice */
		assert_int_equal(stream_on_packet(b, 10 * MS, pns[k], pkts[k], lens[k]), 0);
		assert_int_equal(stream_on_packet(b, 10 * MS, pns[k], pkts[k], lens[k]), 0);
	}
	memset(got, 0, sizeof got);
	have = stream_read(b, got, sizeof got);
	assert_int_equal(have, 5000);
	for (size_t i = 0; i < 5000; i++)
		assert_int_equal(got[i], (uint8_t)i);
	assert_true(stream_read_eof(b));
	(void)pn;
	stream_free(a);
	stream_free(b);
}

/* Two cores back to back, the sender handed a receive time ahead of its send time (as if its
 * clock stepped back): its ACK frames must not carry a negative delay or half a frame, and no
 * side may see a protocol error. */
static void
test_clocks_apart(void **state)
{
	static uint8_t pkts[64][STREAM_PAYLOAD_DEFAULT];
	size_t lens[64];
	uint64_t pns[64], now = 0, got = 0;
	struct stream_config cfg;
	struct stream *a, *b;

	stream_config_default(&cfg);
	a = stream_new(&cfg, 0);
	b = stream_new(&cfg, 0);
	for (int it = 0; it < 100000 && got < 4000000; it++) {
		size_t room, n = 0, len;
		const uint8_t *data;

		stream_write_reserve(a, &room);
		stream_write_commit(a, room);
		if (stream_deadline(a) <= now)
			stream_on_timeout(a, now);
		while (n < 64 && (lens[n] = stream_next_packet(a, now, pkts[n], sizeof pkts[n],
		    &pns[n])) > 0)
			n++;
		for (size_t i = 0; i < n; i++)
			assert_int_equal(stream_on_packet(b, now, pns[i], pkts[i], lens[i]), 0);
		while ((stream_read_peek(b, &data, &len), len > 0)) {
			stream_read_consume(b, len);
			got += len;
		}
		if (stream_deadline(b) <= now)
			stream_on_timeout(b, now);
		while ((len = stream_next_packet(b, now, pkts[0], sizeof pkts[0], &pns[0])) > 0)
			assert_int_equal(stream_on_packet(a, now + 100, pns[0], pkts[0], len), 0);
		now += n == 0 ? 10 : 1;
	}
	assert_true(got >= 4000000);
	assert_int_equal(stream_state(a), STREAM_OPEN);
	assert_int_equal(stream_state(b), STREAM_OPEN);
	stream_free(a);
	stream_free(b);
}

static void
test_path_change(void **state)
{
	struct sim_config cfg;
	struct sim sim;
	char why[200];

	base_config(&cfg, 20000000, 2000000);
	cfg.switch_at_us = 700 * MS;
	cfg.switch_drops_in_flight = true;
	link_cfg(&cfg.switch_link[0], 40 * MS, 50000000);
	link_cfg(&cfg.switch_link[1], 40 * MS, 50000000);
	assert_int_equal(sim_init(&sim, &cfg), 0);
	sim_run_until(&sim, 701 * MS);
	assert_int_equal(stream_path_state(sim.node[0].s), STREAM_PATH_VALIDATING);
	sim_run_until(&sim, 900 * MS);
	assert_int_equal(stream_path_state(sim.node[0].s), STREAM_PATH_VALID);
	assert_int_equal(stream_path_state(sim.node[1].s), STREAM_PATH_VALID);
	sim_run(&sim);
	if (!sim_ok(&sim, why, sizeof why))
		fail_msg("%s", why);
	sim_free(&sim);
}

static void
test_path_validation_fails(void **state)
{
	struct sim_config cfg;
	struct sim sim;

	base_config(&cfg, 1000, 1000);
	cfg.stream[0].keepalive_us = 0;
	assert_int_equal(sim_init(&sim, &cfg), 0);
	sim.node[0].shutdown = true;		/* never FIN: keep it open */
	sim_run_until(&sim, 200 * MS);
	sim.link[1].cfg.loss = 1.0;		/* nothing comes back any more */
	stream_path_changed(sim.node[0].s, sim.now, 0);
	sim_run_until(&sim, 200 * MS + 6 * STREAM_INITIAL_RTT_US_DEFAULT + 10 * MS);
	assert_int_equal(stream_path_state(sim.node[0].s), STREAM_PATH_FAILED);
	sim_free(&sim);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zero_length),
		cmocka_unit_test(test_half_close_first),
		cmocka_unit_test(test_half_close_second),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_idle_timeout),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_keepalive_with_data),
		cmocka_unit_test(test_keepalive_with_data_split),
		cmocka_unit_test(test_split_packets),
		cmocka_unit_test(test_slow_reader),
		cmocka_unit_test(test_window_autotune),
		cmocka_unit_test(test_large_packets),
		cmocka_unit_test(test_backpressure_and_zero_copy),
		cmocka_unit_test(test_hostile_payloads),
		cmocka_unit_test(test_duplicates_in_core),
		cmocka_unit_test(test_clocks_apart),
		cmocka_unit_test(test_path_change),
		cmocka_unit_test(test_path_validation_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
