/* Connection-long buffers: small ones are plain malloc, big ones 2 MiB-aligned and, where the
 * kernel offers transparent huge pages, backed by them (see bigbuf.h for why). */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bigbuf.h"

#define MIB ((size_t)1 << 20)

static bool
thp_offered(void)
{
	char line[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

	if (f == NULL)
		return false;
	if (fgets(line, sizeof line, f) == NULL)
		line[0] = '\0';
	fclose(f);
	return strstr(line, "[always]") != NULL || strstr(line, "[madvise]") != NULL;
}

/* AnonHugePages of this process, KiB (-1 when unknown). */
static long
anon_huge_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/smaps_rollup", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "AnonHugePages: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static void
small_and_big(void **state)
{
	uint8_t *a = bigbuf_alloc(1000), *b = bigbuf_alloc(3 * MIB);

	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal((uintptr_t)b % (2 * MIB), 0);
	memset(a, 1, 1000);
	memset(b, 2, 3 * MIB);		/* all of it is ours */
	bigbuf_free(a);
	bigbuf_free(b);
	bigbuf_free(NULL);
}

static void
big_ring_on_huge_pages(void **state)
{
	long before = anon_huge_kib(), after;
	uint8_t *p;

	if (!thp_offered() || before < 0) {
		fprintf(stderr, "skipped: this kernel offers no transparent huge pages\n");
		skip();
	}
	p = bigbuf_alloc(16 * MIB);
	assert_non_null(p);
	memset(p, 3, 16 * MIB);
	after = anon_huge_kib();
	/* At least one huge page (the kernel may fall back for some under fragmentation). */
	assert_true(after - before >= 2048);
	bigbuf_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(small_and_big),
		cmocka_unit_test(big_ring_on_huge_pages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
