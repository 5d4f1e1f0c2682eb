/*
 * Fuzzes the handshake's message parsing: the input is a sequence of messages
 * (length byte, bytes) fed to a fresh responder; then, on a finished pair, the same messages
 * are offered as mailbox messages and probe MACs. Nothing may crash, and nothing forged may
 * complete a handshake or open.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct handshake done_a, done_b;

static struct hs_params
params(bool initiator)
{
	static const uint8_t scalar[32] = { 9 };
	struct hs_params p = {
		.initiator = initiator,
		.password = "orbit-canvas-tulip",
		.password_len = 18,
		.nameplate = 7,
		.sid = { 1, 2, 3 },
		.rx_cid = initiator ? 11 : 22,
		.test_scalar = initiator ? NULL : scalar,
	};

	return p;
}

static void
setup(void)
{
	struct hs_params p = params(true), q = params(false);
	uint8_t m[HS_MSG_MAX];
	size_t n;

	if (hs_init(&done_a, &p) != 0 || hs_init(&done_b, &q) != 0)
		abort();
	for (int round = 0; round < 3; round++) {
		while ((n = hs_build(&done_a, m, sizeof m)) > 0)
			hs_receive(&done_b, m, n);
		while ((n = hs_build(&done_b, m, sizeof m)) > 0)
			hs_receive(&done_a, m, n);
	}
	if (hs_state(&done_a) != HS_DONE || hs_state(&done_b) != HS_DONE)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct hs_params q = params(false);
	struct handshake h;
	uint8_t out[HS_MSG_MAX];
	size_t off = 0;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (hs_init(&h, &q) != 0)
		abort();
	while (off < size) {
		size_t n = data[off++];

		if (n > size - off)
			n = size - off;
		hs_receive(&h, data + off, n);
		while (hs_build(&h, out, sizeof out) > 0)
			;
		if (hs_mailbox_open(&done_b, data + off, n, out, sizeof out) >= 0)
			abort();	/* forged mailbox message opened */
		if (n >= HS_PROBE_MAC_LEN &&
		    hs_probe_verify(&done_b, data + off, data + off + HS_PROBE_MAC_LEN,
		    n - HS_PROBE_MAC_LEN))
			abort();
		off += n;
	}
	/* Without the initiator's secret scalar nobody can confirm. */
	if (hs_state(&h) == HS_DONE)
		abort();
	hs_free(&h);
	return 0;
}
