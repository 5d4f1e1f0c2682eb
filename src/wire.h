/*
 * Bounded reading and writing of network byte strings.
 *
 * Every parser of network input goes through struct rd: reads past the end never touch memory,
 * they set rd.bad and return zeros, so a parser reads all its fields and checks rd_ok() once.
 * Writers work the same way with struct wr. Integers are big-endian; varints are QUIC's
 * (RFC 9000 section 16: 2-bit length prefix, 1/2/4/8 bytes, values below 2^62).
 */
#ifndef PUNCHCAT_WIRE_H
#define PUNCHCAT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define VARINT_MAX ((UINT64_C(1) << 62) - 1)

struct rd {
	const uint8_t *p;
	const uint8_t *end;
	bool bad;
};

struct wr {
	uint8_t *p;
	uint8_t *start;
	uint8_t *end;
	bool bad;
};

static inline void
rd_init(struct rd *r, const void *buf, size_t len)
{
	r->p = buf;
	r->end = r->p + len;
	r->bad = false;
}

static inline size_t rd_left(const struct rd *r) { return (size_t)(r->end - r->p); }
static inline bool rd_ok(const struct rd *r) { return !r->bad; }
/* True when every byte was consumed and nothing was read past the end. */
static inline bool rd_done(const struct rd *r) { return !r->bad && r->p == r->end; }

/* Returns a pointer to the next n bytes and skips them, or NULL (and marks bad). */
static inline const uint8_t *
rd_bytes(struct rd *r, size_t n)
{
	const uint8_t *q = r->p;

	if (r->bad || n > rd_left(r)) {
		r->bad = true;
		return NULL;
	}
	r->p += n;
	return q;
}

static inline bool
rd_copy(struct rd *r, void *dst, size_t n)
{
	const uint8_t *q = rd_bytes(r, n);

	if (q == NULL) {
		memset(dst, 0, n);
		return false;
	}
	memcpy(dst, q, n);
	return true;
}

static inline uint64_t
rd_be(struct rd *r, size_t n)
{
	const uint8_t *q = rd_bytes(r, n);
	uint64_t v = 0;

	if (q == NULL)
		return 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | q[i];
	return v;
}

static inline uint8_t rd_u8(struct rd *r) { return (uint8_t)rd_be(r, 1); }
static inline uint16_t rd_u16(struct rd *r) { return (uint16_t)rd_be(r, 2); }
static inline uint32_t rd_u32(struct rd *r) { return (uint32_t)rd_be(r, 4); }
static inline uint64_t rd_u64(struct rd *r) { return rd_be(r, 8); }

static inline uint64_t
rd_varint(struct rd *r)
{
	/* Value bits of a 1-, 2-, 4- and 8-byte varint (a table: clear to static analysis). */
	static const uint64_t mask[4] = { 0x3f, 0x3fff, 0x3fffffff, VARINT_MAX };
	unsigned k;

	if (r->bad || r->p >= r->end) {
		r->bad = true;
		return 0;
	}
	k = r->p[0] >> 6;
	return rd_be(r, (size_t)1 << k) & mask[k];
}

static inline void
wr_init(struct wr *w, void *buf, size_t cap)
{
	w->p = w->start = buf;
	w->end = w->p + cap;
	w->bad = false;
}

static inline size_t wr_len(const struct wr *w) { return (size_t)(w->p - w->start); }
static inline size_t wr_left(const struct wr *w) { return (size_t)(w->end - w->p); }
static inline bool wr_ok(const struct wr *w) { return !w->bad; }

/* Reserves n bytes and returns them for the caller to fill, or NULL (and marks bad). */
static inline uint8_t *
wr_reserve(struct wr *w, size_t n)
{
	uint8_t *q = w->p;

	if (w->bad || n > wr_left(w)) {
		w->bad = true;
		return NULL;
	}
	w->p += n;
	return q;
}

static inline bool
wr_bytes(struct wr *w, const void *src, size_t n)
{
	uint8_t *q = wr_reserve(w, n);

	if (q == NULL)
		return false;
	if (n > 0)
		memcpy(q, src, n);
	return true;
}

static inline bool
wr_be(struct wr *w, uint64_t v, size_t n)
{
	uint8_t *q = wr_reserve(w, n);

	if (q == NULL)
		return false;
	for (size_t i = n; i-- > 0; v >>= 8)
		q[i] = (uint8_t)v;
	return true;
}

static inline bool wr_u8(struct wr *w, uint8_t v) { return wr_be(w, v, 1); }
static inline bool wr_u16(struct wr *w, uint16_t v) { return wr_be(w, v, 2); }
static inline bool wr_u32(struct wr *w, uint32_t v) { return wr_be(w, v, 4); }
static inline bool wr_u64(struct wr *w, uint64_t v) { return wr_be(w, v, 8); }

/* Bytes the varint encoding of v takes (v must be <= VARINT_MAX). */
static inline size_t
varint_len(uint64_t v)
{
	return v < 64 ? 1 : v < 16384 ? 2 : v < 1073741824 ? 4 : 8;
}

static inline bool
wr_varint(struct wr *w, uint64_t v)
{
	size_t n = varint_len(v);
	uint8_t *q;

	if (v > VARINT_MAX) {
		w->bad = true;
		return false;
	}
	q = w->p;
	if (!wr_be(w, v, n))
		return false;
	q[0] |= (uint8_t)((n == 1 ? 0 : n == 2 ? 1 : n == 4 ? 2 : 3) << 6);
	return true;
}

#endif
