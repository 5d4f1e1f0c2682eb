/*
 * Large buffers that live as long as a connection (the stream's send ring),
 * backed by transparent huge pages where the kernel offers them (madvise mode). With 4 KiB
 * pages, reading stdin into a 16 MiB ring cost the loopback sender a quarter more CPU per GiB
 * (2.31 -> 1.71 s/GiB, +17 % throughput, measured by alternating runs). Without THP this is
 * plain malloc(): the same memory, only the page size differs. The price: a ring's first
 * touch makes 2 MiB resident instead of 4 KiB, so a tiny transfer's RSS grows by a few MiB.
 */
#ifndef PUNCHCAT_BIGBUF_H
#define PUNCHCAT_BIGBUF_H

#include <stddef.h>

/* n bytes, uninitialised; NULL when out of memory. Free with bigbuf_free(). */
void *bigbuf_alloc(size_t n);
void bigbuf_free(void *p);

#endif
