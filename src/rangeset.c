/* Bounded range sets (see rangeset.h). */
#include "rangeset.h"

#include <stdlib.h>
#include <string.h>

int
rangeset_init(struct rangeset *rs, size_t cap)
{
	rs->n = 0;
	rs->cap = cap < 1 ? 1 : cap;
	rs->r = calloc(rs->cap, sizeof *rs->r);
	return rs->r == NULL ? -1 : 0;
}

void
rangeset_free(struct rangeset *rs)
{
	free(rs->r);
	rs->r = NULL;
	rs->n = rs->cap = 0;
}

/* Index of the first range with hi >= x (n when none). */
static size_t
first_reaching(const struct rangeset *rs, uint64_t x)
{
	size_t lo = 0, hi = rs->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rs->r[mid].hi >= x)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Adds a range that overlaps or touches r[i]: merges r[i..j]. */
static void
merge_at(struct rangeset *rs, size_t i, uint64_t lo, uint64_t hi)
{
	size_t j = i;

	while (j + 1 < rs->n && rs->r[j + 1].lo <= hi)
		j++;
	if (lo < rs->r[i].lo)
		rs->r[i].lo = lo;
	rs->r[i].hi = rs->r[j].hi > hi ? rs->r[j].hi : hi;
	if (j > i) {
		memmove(&rs->r[i + 1], &rs->r[j + 1], (rs->n - j - 1) * sizeof *rs->r);
		rs->n -= j - i;
	}
}

/* Where [lo, hi) goes: returns the index and whether it must be inserted as a new range. */
static size_t
locate(const struct rangeset *rs, uint64_t lo, uint64_t hi, bool *insert)
{
	size_t i;

	if (rs->n == 0 || rs->r[rs->n - 1].hi < lo) {
		*insert = true;
		return rs->n;
	}
	i = first_reaching(rs, lo);
	*insert = rs->r[i].lo > hi;
	return i;
}

int
rangeset_add(struct rangeset *rs, uint64_t lo, uint64_t hi)
{
	bool insert;
	size_t i;

	if (lo >= hi)
		return 0;
	/* Fast path: extends the top range (in-order data, consecutive packet numbers). */
	if (rs->n > 0 && lo <= rs->r[rs->n - 1].hi && lo >= rs->r[rs->n - 1].lo) {
		if (hi > rs->r[rs->n - 1].hi)
			rs->r[rs->n - 1].hi = hi;
		return 0;
	}
	i = locate(rs, lo, hi, &insert);
	if (!insert) {
		merge_at(rs, i, lo, hi);
		return 0;
	}
	if (rs->n == rs->cap)
		return -1;
	memmove(&rs->r[i + 1], &rs->r[i], (rs->n - i) * sizeof *rs->r);
	rs->r[i].lo = lo;
	rs->r[i].hi = hi;
	rs->n++;
	return 0;
}

void
rangeset_add_cover(struct rangeset *rs, uint64_t lo, uint64_t hi)
{
	bool insert;
	size_t i;

	if (lo >= hi || rangeset_add(rs, lo, hi) == 0)
		return;
	/* Full: stretch a neighbour over the gap, so the set becomes a superset. */
	i = locate(rs, lo, hi, &insert);
	if (i == rs->n)
		rs->r[i - 1].hi = hi;
	else
		merge_at(rs, i, lo, rs->r[i].lo);
}

void
rangeset_add_drop_low(struct rangeset *rs, uint64_t lo, uint64_t hi)
{
	if (lo >= hi)
		return;
	while (rangeset_add(rs, lo, hi) != 0) {
		if (hi <= rs->r[0].lo)
			return;		/* the new range would be the lowest: forget it */
		memmove(&rs->r[0], &rs->r[1], (rs->n - 1) * sizeof *rs->r);
		rs->n--;
	}
}

void
rangeset_remove_below(struct rangeset *rs, uint64_t x)
{
	size_t i = 0;

	while (i < rs->n && rs->r[i].hi <= x)
		i++;
	if (i > 0) {
		memmove(&rs->r[0], &rs->r[i], (rs->n - i) * sizeof *rs->r);
		rs->n -= i;
	}
	if (rs->n > 0 && rs->r[0].lo < x)
		rs->r[0].lo = x;
}

const struct range *
rangeset_next(const struct rangeset *rs, uint64_t x)
{
	size_t i = first_reaching(rs, x + 1);

	return i < rs->n ? &rs->r[i] : NULL;
}

const struct range *
rangeset_find(const struct rangeset *rs, uint64_t x)
{
	const struct range *r = rangeset_next(rs, x);

	return r != NULL && r->lo <= x ? r : NULL;
}

bool
rangeset_contains(const struct rangeset *rs, uint64_t x)
{
	return rangeset_find(rs, x) != NULL;
}

bool
rangeset_take_front(struct rangeset *rs, uint64_t max, uint64_t *lo, uint64_t *hi)
{
	if (rs->n == 0 || max == 0)
		return false;
	*lo = rs->r[0].lo;
	if (rs->r[0].hi - rs->r[0].lo > max) {
		*hi = *lo + max;
		rs->r[0].lo = *hi;
	} else {
		*hi = rs->r[0].hi;
		memmove(&rs->r[0], &rs->r[1], (rs->n - 1) * sizeof *rs->r);
		rs->n--;
	}
	return true;
}
