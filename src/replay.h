/*
 * Anti-replay sliding window for peer packet numbers (RFC 6479 style).
 *
 * The window is a ring of 64-bit blocks indexed by packet number; sliding it forward clears whole
 * blocks instead of shifting bits, so both the check and the update are O(1) for small steps.
 * The usable window is (REPLAY_BLOCKS - 1) * 64 = 4032 packets behind the highest one seen.
 * Callers check before authenticating and update only after the tag verified, so a forged packet
 * can never move the window.
 */
#ifndef PUNCHCAT_REPLAY_H
#define PUNCHCAT_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#define REPLAY_BLOCKS 64			/* a power of two */
#define REPLAY_WINDOW ((uint64_t)(REPLAY_BLOCKS - 1) * 64)

enum replay_verdict {
	REPLAY_NEW = 0,		/* never seen and inside (or ahead of) the window */
	REPLAY_DUP,		/* already accepted once */
	REPLAY_OLD		/* too far behind the highest packet number: cannot tell */
};

struct replay {
	uint64_t top;		/* highest accepted packet number */
	bool any;		/* false until the first update */
	uint64_t block[REPLAY_BLOCKS];
};

void replay_init(struct replay *r);
enum replay_verdict replay_check(const struct replay *r, uint64_t pn);
/* Marks pn as seen (call only after pn authenticated and replay_check said REPLAY_NEW). */
void replay_update(struct replay *r, uint64_t pn);

#endif
