/*
 * Fuzzes pkt_open with arbitrary datagrams, and seal/open round trips of arbitrary payloads
 * across key-phase changes. Crashes, sanitizer reports or a round trip that does not give back
 * the payload are failures.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pkt_ctx tx, rx, victim;
static uint64_t next_pn, now;

static void
setup(void)
{
	static const uint8_t k1[PKT_KEY_LEN] = { 1 }, k2[PKT_KEY_LEN] = { 2 };

	if (pkt_init_raw(&tx, PKT_CHACHA20POLY1305, k1, k2, 0x01020304, 0x0a0b0c0d, 0) != 0 ||
	    pkt_init_raw(&rx, PKT_CHACHA20POLY1305, k2, k1, 0x0a0b0c0d, 0x01020304, 0) != 0 ||
	    pkt_init_raw(&victim, PKT_CHACHA20POLY1305, k2, k1, 0x0a0b0c0d, 0x01020304, 0) != 0)
		abort();
	tx.rekey_packets = 7;		/* exercise key phases often */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[2048];
	static int ready;
	uint64_t pn;
	ssize_t n;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (size > sizeof buf - PKT_OVERHEAD)
		return 0;
	/* 1: arbitrary bytes as a datagram. */
	memcpy(buf, data, size);
	n = pkt_open(&victim, now, buf, size, &pn);
	if (n >= 0 && (size_t)n != size - PKT_OVERHEAD)
		abort();
	/* 2: the input as a payload, sealed and opened. */
	if (next_pn >= PKT_PN_MAX)
		return 0;
	memcpy(buf + PKT_HDR_LEN, data, size);
	now += 1000;
	if (pkt_seal(&tx, now, next_pn, buf, size) != size + PKT_OVERHEAD)
		abort();
	n = pkt_open(&rx, now, buf, size + PKT_OVERHEAD, &pn);
	if (n != (ssize_t)size || pn != next_pn || memcmp(buf + PKT_HDR_LEN, data, size) != 0)
		abort();
	/* The same packet again is a replay. */
	next_pn += 1 + (size > 0 ? data[0] % 3 : 0);
	return 0;
}
