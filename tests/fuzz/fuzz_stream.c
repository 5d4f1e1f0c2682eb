/*
 * Fuzzes the stream core with arbitrary packet payloads (as if authenticated: the AEAD does not
 * protect against a peer that is itself hostile). The input is a sequence of
 * [length (2 bytes, big-endian) | payload] records, fed as packets with increasing numbers,
 * with the core's own packets and timers run in between so acknowledgments have something to
 * refer to. Crashes, sanitizer reports, or a broken invariant (more readable than the window,
 * a packet longer than asked) are failures.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[STREAM_PAYLOAD_DEFAULT], junk[4096];
	struct stream_config cfg;
	struct stream *s;
	uint64_t now = 1000, pn, rx_pn = 0;
	size_t at = 0;

	stream_config_default(&cfg);
	cfg.send_buffer = 1 << 16;
	cfg.recv_window = 1 << 16;
	cfg.recv_window_max = 1 << 17;
	s = stream_new(&cfg, 0);
	if (s == NULL)
		abort();
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
		for (int k = 0; k < 64 && (n = stream_next_packet(s, now, out, sizeof out, &pn)); k++)
			if (n > sizeof out)
				abort();
		if (stream_readable(s) > cfg.recv_window_max)
			abort();
		stream_read(s, junk, sizeof junk);
	}
	stream_free(s);
	return 0;
}
