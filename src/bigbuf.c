#include <stdlib.h>
#include <sys/mman.h>

#include "bigbuf.h"

#define HUGE_PAGE ((size_t)2 << 20)

void *
bigbuf_alloc(size_t n)
{
	void *p = NULL;

	if (n < HUGE_PAGE)
		return malloc(n);
	/* Huge pages need 2 MiB-aligned 2 MiB ranges; round the size up so the tail gets one. */
	n = (n + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	if (posix_memalign(&p, HUGE_PAGE, n) != 0)
		return NULL;
#ifdef MADV_HUGEPAGE
	(void)madvise(p, n, MADV_HUGEPAGE);	/* advice only: EINVAL without THP is fine */
#endif
	return p;
}

void
bigbuf_free(void *p)
{
	free(p);
}
