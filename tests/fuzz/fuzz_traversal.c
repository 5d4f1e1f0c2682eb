/*
 * Fuzzes the NAT traversal core with a script of operations taken from the input: candidate
 * messages of any length up to 511 bytes, raw probe datagrams, correctly authenticated probes
 * with arbitrary bodies (to reach the logic behind the MAC), socket counts and time steps,
 * polling after each. Crashes, sanitizer reports or an output that breaks the core's promises
 * are failures.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "clock.h"
#include "fuzz_trav.h"
#include "handshake.h"
#include "hs_pair.h"
#include "traversal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct handshake hs_a, hs_b;

static void
setup(void)
{
	if (sodium_init() < 0 || !hs_pair(&hs_a, &hs_b, "fuzz", 1, true))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static struct trav t;
	struct trav_params tp = { .initiator = false, .seed = 7 };
	struct netaddr refl = { .family = 4, .ip = { 203, 0, 113, 9 }, .port = 4000 };
	struct netaddr alt = refl;
	uint64_t now = 0;
	size_t i = 0;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (size > 0)
		alt.port = (uint16_t)(4000 + (data[0] & 1));
	trav_init(&t, &tp, &hs_b);
	trav_set_reflexive(&t, &refl, &alt);
	trav_go(&t, now);
	while (i + 2 <= size) {
		uint8_t op = data[i];
		size_t len = data[i + 1];
		const uint8_t *chunk = data + i + 2;
		struct netaddr from = { .family = 4, .ip = { 198, 51, 100, (uint8_t)(op >> 2) },
			.port = (uint16_t)(1000 + op) };
		uint8_t probe[TRAV_PROBE_LEN];

		if ((op & 7) == 0 && (op & 8))
			len += 256;	/* candidate messages up to 511 bytes (the largest is 323) */
		if (len > size - i - 2)
			len = size - i - 2;
		i += 2 + len;
		switch (op & 7) {
		case 0:
			(void)trav_peer_candidates(&t, now, chunk, len);
			break;
		case 1:
			trav_receive(&t, now, op >> 6, &from, chunk, len);
			break;
		case 2:
		case 3:
			/* A probe signed by the peer: arbitrary body, valid MAC. */
			memset(probe, 0, sizeof probe);
			memcpy(probe, chunk, len < 32 ? len : 32);
			(void)hs_probe_mac(&hs_a, probe + 32, probe, 32);
			trav_receive(&t, now, op >> 6, &from, probe, sizeof probe);
			break;
		case 4:
			trav_set_sockets(&t, (unsigned)len);
			break;
		case 5:
			trav_path_lost(&t, now);
			break;
		default:
			now += (uint64_t)len * 50 * US_PER_MS;
			break;
		}
		fuzz_trav_drain(&t, now);
	}
	return 0;
}
