/*
 * Fuzzes the peer's demultiplexing of rendezvous peer messages (src/peer_mailbox.c) and what it
 * feeds: mailbox opening, the message kinds, and the candidate parser of the traversal core with
 * candidate messages of any length up to the mailbox's limit. The input is a script of
 * operations: raw peer messages (hostile: forged, truncated, replayed), plaintexts the real peer
 * seals correctly (so the parsers behind the MAC are reached), replays of the last sealed one,
 * and time steps with the traversal core polled after each. A crash, a sanitizer report or an
 * output that breaks a promise of mb_demux or trav_poll is a failure.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "clock.h"
#include "fuzz_trav.h"
#include "handshake.h"
#include "hs_pair.h"
#include "peer_mailbox.h"
#include "traversal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct handshake hs_a0, hs_b0;

static void
setup(void)
{
	if (sodium_init() < 0 || !hs_pair(&hs_a0, &hs_b0, "fuzz", 1, true))
		abort();
}

/* Checks mb_demux's promises about what it returns. */
static enum mb_kind
demux(struct handshake *hs, const uint8_t *msg, size_t len, uint8_t *plain, struct mb_msg *m)
{
	enum mb_kind k = mb_demux(hs, msg, len, plain, HS_MSG_MAX, m);

	if (k == MB_GOT_CANDIDATES &&
	    (m->body != plain + 1 || m->len > HS_MAILBOX_MAX - 1))
		abort();
	if (k == MB_HANDSHAKE)
		abort();	/* both handshakes are done: nothing may go to hs_receive */
	return k;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static struct handshake hs_a, hs_b;
	static struct trav t;
	struct trav_params tp = { .initiator = false, .seed = 11 };
	struct netaddr refl = { .family = 4, .ip = { 203, 0, 113, 9 }, .port = 4000 };
	uint8_t sealed[HS_MSG_MAX], plain[HS_MSG_MAX];
	size_t sealed_len = 0, i = 0;
	uint64_t now = 0;
	struct mb_msg m;

	if (!ready) {
		setup();
		ready = 1;
	}
	hs_a = hs_a0;		/* fresh mailbox sequence numbers for every input */
	hs_b = hs_b0;
	trav_init(&t, &tp, &hs_b);
	trav_set_reflexive(&t, &refl, NULL);
	trav_go(&t, now);
	while (i + 3 <= size) {
		uint8_t op = data[i];
		size_t len = (size_t)data[i + 1] | (size_t)(data[i + 2] & 3) << 8;
		const uint8_t *chunk = data + i + 3;
		enum mb_kind k = MB_IGNORE;

		if (len > size - i - 3)
			len = size - i - 3;
		i += 3 + len;
		switch (op & 3) {
		case 0:		/* anything an attacker can post */
			k = demux(&hs_b, chunk, len, plain, &m);
			break;
		case 1:		/* what the real peer seals: any plaintext */
			sealed_len = hs_mailbox_seal(&hs_a, chunk, len, sealed, sizeof sealed);
			if (sealed_len == 0) {
				if (len <= HS_MAILBOX_MAX)
					abort();	/* must fit */
				break;
			}
			k = demux(&hs_b, sealed, sealed_len, plain, &m);
			if (len > 0 && k == MB_BAD && chunk[0] != MB_SIZE)
				abort();	/* an authentic message opens */
			break;
		case 2:		/* the last sealed message again: a replay never opens */
			if (sealed_len > 0 && demux(&hs_b, sealed, sealed_len, plain, &m) != MB_BAD)
				abort();
			break;
		default:
			now += (uint64_t)len * 20 * US_PER_MS;
			break;
		}
		if (k == MB_GOT_CANDIDATES) {
			/* a fresh core for each message, so every one reaches the parser */
			if (op & 4) {
				trav_init(&t, &tp, &hs_b);
				trav_set_reflexive(&t, &refl, NULL);
				trav_go(&t, now);
			}
			(void)trav_peer_candidates(&t, now, m.body, m.len);
		}
		fuzz_trav_drain(&t, now);
	}
	return 0;
}
