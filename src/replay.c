/* RFC 6479-style anti-replay window: a ring of bitmap blocks that slides by whole blocks. */
#include "replay.h"

#include <string.h>

#define BLOCK_BITS 64
#define BLOCK_MASK (REPLAY_BLOCKS - 1)

void
replay_init(struct replay *r)
{
	memset(r, 0, sizeof *r);
}

enum replay_verdict
replay_check(const struct replay *r, uint64_t pn)
{
	uint64_t blk;

	if (!r->any || pn > r->top)
		return REPLAY_NEW;
	if (r->top - pn >= REPLAY_WINDOW)
		return REPLAY_OLD;
	blk = (pn / BLOCK_BITS) & BLOCK_MASK;
	if (r->block[blk] & (UINT64_C(1) << (pn % BLOCK_BITS)))
		return REPLAY_DUP;
	return REPLAY_NEW;
}

void
replay_update(struct replay *r, uint64_t pn)
{
	uint64_t cur, target, steps;

	if (!r->any) {
		r->any = true;
		r->top = pn;
	} else if (pn > r->top) {
		/* Clear every block the window slides past; at most the whole ring. */
		cur = r->top / BLOCK_BITS;
		target = pn / BLOCK_BITS;
		steps = target - cur;
		if (steps > REPLAY_BLOCKS)
			steps = REPLAY_BLOCKS;
		for (uint64_t i = 1; i <= steps; i++)
			r->block[(cur + i) & BLOCK_MASK] = 0;
		r->top = pn;
	}
	r->block[(pn / BLOCK_BITS) & BLOCK_MASK] |= UINT64_C(1) << (pn % BLOCK_BITS);
}
