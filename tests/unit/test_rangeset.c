/* Bounded range sets: merging, lookups, each overflow policy, against a bitmap model. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rangeset.h"

static void
expect_ranges(const struct rangeset *rs, const uint64_t *pairs, size_t n)
{
	assert_int_equal(rs->n, n);
	for (size_t i = 0; i < n; i++) {
		assert_true(rs->r[i].lo == pairs[2 * i]);
		assert_true(rs->r[i].hi == pairs[2 * i + 1]);
	}
}

static void
test_merge(void **state)
{
	struct rangeset rs;

	assert_int_equal(rangeset_init(&rs, 8), 0);
	assert_int_equal(rangeset_add(&rs, 10, 20), 0);
	assert_int_equal(rangeset_add(&rs, 30, 40), 0);
	assert_int_equal(rangeset_add(&rs, 0, 5), 0);
	expect_ranges(&rs, (const uint64_t[]){ 0, 5, 10, 20, 30, 40 }, 3);
	assert_int_equal(rangeset_add(&rs, 20, 30), 0);	/* touching both sides */
	expect_ranges(&rs, (const uint64_t[]){ 0, 5, 10, 40 }, 2);
	assert_int_equal(rangeset_add(&rs, 3, 12), 0);
	expect_ranges(&rs, (const uint64_t[]){ 0, 40 }, 1);
	assert_int_equal(rangeset_add(&rs, 7, 7), 0);		/* empty: nothing */
	assert_int_equal(rangeset_add(&rs, 50, 60), 0);
	assert_true(rangeset_contains(&rs, 0));
	assert_true(rangeset_contains(&rs, 39));
	assert_false(rangeset_contains(&rs, 40));
	assert_false(rangeset_contains(&rs, 49));
	assert_true(rangeset_contains(&rs, 55));
	assert_true(rangeset_next(&rs, 45)->lo == 50);
	assert_null(rangeset_next(&rs, 60));
	assert_null(rangeset_find(&rs, 45));
	rangeset_remove_below(&rs, 20);
	expect_ranges(&rs, (const uint64_t[]){ 20, 40, 50, 60 }, 2);
	rangeset_remove_below(&rs, 55);
	expect_ranges(&rs, (const uint64_t[]){ 55, 60 }, 1);
	rangeset_free(&rs);
}

static void
test_overflow_policies(void **state)
{
	struct rangeset rs;
	uint64_t lo, hi;

	assert_int_equal(rangeset_init(&rs, 2), 0);
	assert_int_equal(rangeset_add(&rs, 10, 20), 0);
	assert_int_equal(rangeset_add(&rs, 30, 40), 0);
	assert_int_equal(rangeset_add(&rs, 50, 60), -1);	/* refused, unchanged */
	expect_ranges(&rs, (const uint64_t[]){ 10, 20, 30, 40 }, 2);
	assert_int_equal(rangeset_add(&rs, 35, 45), 0);	/* merging needs no room */

	rangeset_add_cover(&rs, 50, 60);			/* widens the top neighbour */
	expect_ranges(&rs, (const uint64_t[]){ 10, 20, 30, 60 }, 2);
	rangeset_add_cover(&rs, 0, 5);				/* widens the lowest */
	expect_ranges(&rs, (const uint64_t[]){ 0, 20, 30, 60 }, 2);
	rangeset_add_cover(&rs, 22, 25);			/* fills up to the next */
	expect_ranges(&rs, (const uint64_t[]){ 0, 20, 22, 60 }, 2);

	rangeset_clear(&rs);
	rangeset_add_drop_low(&rs, 10, 11);
	rangeset_add_drop_low(&rs, 20, 21);
	rangeset_add_drop_low(&rs, 30, 31);			/* forgets 10 */
	expect_ranges(&rs, (const uint64_t[]){ 20, 21, 30, 31 }, 2);
	rangeset_add_drop_low(&rs, 5, 6);			/* lowest of all: ignored */
	expect_ranges(&rs, (const uint64_t[]){ 20, 21, 30, 31 }, 2);

	assert_true(rangeset_take_front(&rs, 100, &lo, &hi));
	assert_true(lo == 20 && hi == 21);
	rangeset_clear(&rs);
	assert_int_equal(rangeset_add(&rs, 100, 250), 0);
	assert_true(rangeset_take_front(&rs, 100, &lo, &hi));
	assert_true(lo == 100 && hi == 200);
	assert_true(rangeset_take_front(&rs, 100, &lo, &hi));
	assert_true(lo == 200 && hi == 250);
	assert_false(rangeset_take_front(&rs, 100, &lo, &hi));
	rangeset_free(&rs);
}

/* Random adds and removals against a bitmap: same membership, ranges sorted and disjoint. */
static void
test_against_model(void **state)
{
	enum { N = 2000 };
	static bool model[N];
	struct rangeset rs;
	uint64_t x = 12345, floor = 0;

	assert_int_equal(rangeset_init(&rs, 4096), 0);
	for (int round = 0; round < 3000; round++) {
		x = x * 6364136223846793005u + 1442695040888963407u;
		uint64_t lo = (x >> 33) % N, len = (x >> 20) % 17;
		uint64_t hi = lo + len > N ? N : lo + len;

		if (round % 97 == 96) {
			floor += (x >> 40) % 20;
			rangeset_remove_below(&rs, floor);
			for (uint64_t i = 0; i < floor && i < N; i++)
				model[i] = false;
			continue;
		}
		assert_int_equal(rangeset_add(&rs, lo, hi), 0);
		for (uint64_t i = lo; i < hi; i++)
			model[i] = true;
		for (uint64_t i = 0; i < floor && i < N; i++)
			model[i] = false;
		rangeset_remove_below(&rs, floor);
	}
	for (size_t i = 1; i < rs.n; i++)
		assert_true(rs.r[i - 1].hi < rs.r[i].lo);
	for (uint64_t i = 0; i < N; i++)
		assert_int_equal(rangeset_contains(&rs, i), model[i]);
	rangeset_free(&rs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_overflow_policies),
		cmocka_unit_test(test_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
