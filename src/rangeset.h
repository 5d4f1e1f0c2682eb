/*
 * Bounded sets of half-open ranges [lo, hi) of 64-bit numbers: received packet numbers (for
 * ACK frames), received and acknowledged stream offsets, stream bytes to retransmit.
 *
 * The ranges are kept sorted and disjoint in one array allocated once; adding at the top (the
 * common case) is O(1), elsewhere O(log n) to find plus a memmove. The capacity is fixed, so
 * each caller says what to do when a new range does not fit: refuse it (rangeset_add), widen a
 * neighbour to cover it (rangeset_add_cover: for sets where a superset is harmless, like bytes
 * to retransmit), or forget the lowest range (rangeset_add_drop_low: for acknowledgments,
 * where forgetting only causes a needless retransmission).
 */
#ifndef PUNCHCAT_RANGESET_H
#define PUNCHCAT_RANGESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct range {
	uint64_t lo, hi;	/* [lo, hi) */
};

struct rangeset {
	struct range *r;
	size_t n, cap;
};

/* Returns -1 when out of memory. cap >= 1. */
int rangeset_init(struct rangeset *rs, size_t cap);
void rangeset_free(struct rangeset *rs);
static inline void rangeset_clear(struct rangeset *rs) { rs->n = 0; }
static inline bool rangeset_empty(const struct rangeset *rs) { return rs->n == 0; }

/* Adds [lo, hi), merging with overlapping or touching ranges. Returns 0, or -1 (and changes
 * nothing) when that would need more than cap ranges. */
int rangeset_add(struct rangeset *rs, uint64_t lo, uint64_t hi);
/* Adds [lo, hi); when full, widens the nearest neighbour instead (the set grows a superset). */
void rangeset_add_cover(struct rangeset *rs, uint64_t lo, uint64_t hi);
/* Adds [lo, hi); when full, forgets the lowest ranges (or the new one, if it is the lowest). */
void rangeset_add_drop_low(struct rangeset *rs, uint64_t lo, uint64_t hi);
/* Removes everything below x. */
void rangeset_remove_below(struct rangeset *rs, uint64_t x);
bool rangeset_contains(const struct rangeset *rs, uint64_t x);
/* The range containing x, or NULL. */
const struct range *rangeset_find(const struct rangeset *rs, uint64_t x);
/* The first range with hi > x (the one containing x, or the next above), or NULL. */
const struct range *rangeset_next(const struct rangeset *rs, uint64_t x);
/* Removes and returns in lo, hi the lowest up to max numbers. Returns false when empty. */
bool rangeset_take_front(struct rangeset *rs, uint64_t max, uint64_t *lo, uint64_t *hi);

#endif
