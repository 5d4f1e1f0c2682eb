/*
 * Tests and fuzzers: two handshakes for one password, the initiator first, optionally run to
 * completion by passing every message straight across (no rendezvous in between).
 */
#ifndef PUNCHCAT_HS_PAIR_H
#define PUNCHCAT_HS_PAIR_H

#include <stdbool.h>
#include <string.h>

#include "handshake.h"

/* Returns false when a handshake did not start or (with finish) did not reach HS_DONE. */
static inline bool
hs_pair(struct handshake *a, struct handshake *b, const char *password, uint32_t nameplate,
    bool finish)
{
	struct hs_params p = { .initiator = true, .password = password,
		.password_len = strlen(password), .nameplate = nameplate };
	struct hs_params q = p;
	uint8_t m[HS_MSG_MAX];
	size_t n;

	q.initiator = false;
	if (hs_init(a, &p) != 0 || hs_init(b, &q) != 0)
		return false;
	for (int r = 0; finish && r < 4; r++) {
		while ((n = hs_build(a, m, sizeof m)) > 0)
			hs_receive(b, m, n);
		while ((n = hs_build(b, m, sizeof m)) > 0)
			hs_receive(a, m, n);
	}
	return !finish || (hs_state(a) == HS_DONE && hs_state(b) == HS_DONE);
}

#endif
