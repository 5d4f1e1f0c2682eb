/*
 * Fuzzes the stream core with arbitrary packet payloads (as if authenticated: the AEAD does not
 * protect against a peer that is itself hostile). The input is a sequence of
 * [length (2 bytes, big-endian) | payload] records, fed as packets with increasing numbers,
 * with the core's own packets and timers run in between so acknowledgments have something to
 * refer to. Inputs of odd length run a path MTU search (src/pmtu.c) from 1171 to 1443 bytes,
 * so acknowledgments and losses of probes are reached too. Crashes, sanitizer reports, or a
 * broken invariant (more readable than the window, a packet longer than asked) are failures.
 * Packets are taken the way the shell takes them (stream_next_packet_split).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "stream.h"
#include "wire.h"

#define PMTU_CEILING 1443

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Does what the shell does with a packet whose data stayed in the send buffer: borrows the
 * head's length in front of the tail (the sanitizer checks that this is send-buffer memory),
 * joins head and tail there, and puts the bytes back. False if the joined packet does not
 * parse as frames (the stream built it, so it must). */
static bool
borrow_and_parse(const uint8_t *head, size_t head_len, uint8_t *tail, size_t tail_len)
{
	uint8_t saved[STREAM_TAIL_HEAD_MAX];
	struct rd r;
	struct frame f;
	bool ok = true;

	if (head_len > sizeof saved)
		return false;
	memcpy(saved, tail - head_len, head_len);
	memcpy(tail - head_len, head, head_len);
	rd_init(&r, tail - head_len, head_len + tail_len);
	while (ok && rd_left(&r) > 0)
		ok = frame_parse(&r, &f) == 0;
	memcpy(tail - head_len, saved, head_len);
	return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[PMTU_CEILING], junk[4096];
	bool pmtu = size & 1;
	size_t cap = pmtu ? sizeof out : STREAM_PAYLOAD_DEFAULT;
	struct stream_config cfg;
	struct stream *s;
	uint64_t now = 1000, pn, rx_pn = 0;
	size_t at = 0;
	struct stream_tail tail;

	stream_config_default(&cfg);
	cfg.send_buffer = 1 << 16;
	cfg.recv_window = 1 << 16;
	cfg.recv_window_max = 1 << 17;
	if (pmtu)
		cfg.max_payload = PMTU_CEILING;
	s = stream_new(&cfg, 0);
	if (s == NULL)
		abort();
	if (pmtu) {
		stream_set_max_payload(s, STREAM_PAYLOAD_DEFAULT);
		stream_pmtu_search(s, 0, PMTU_CEILING);
	}
	memset(junk, 'j', sizeof junk);
	stream_write(s, junk, sizeof junk);
	while (at + 2 <= size) {
		size_t len = (size_t)data[at] << 8 | data[at + 1], n;

		at += 2;
		if (len > size - at)
			len = size - at;
		(void)stream_on_packet(s, now, rx_pn, data + at, len);
		at += len;
		rx_pn += 1 + (len & 3);		/* gaps and reordering-like holes */
		now += 1000 + (len & 0xff) * 100;
		if (stream_deadline(s) <= now)
			stream_on_timeout(s, now);
		for (int k = 0; k < 64 && (n = stream_next_packet_split(s, now, out, cap, &pn,
		    &tail)); k++) {
			if (n > cap || (n > stream_payload(s) && n != PMTU_CEILING &&
			    n != stream_payload(s) + (PMTU_CEILING - stream_payload(s)) / 2))
				abort();	/* larger than the payload: only a probe, of its sizes */
			if (tail.len > 0 && !borrow_and_parse(out, n - tail.len, tail.data,
			    tail.len))
				abort();
		}
		if (stream_readable(s) > cfg.recv_window_max)
			abort();
		stream_read(s, junk, sizeof junk);
	}
	stream_free(s);
	return 0;
}
