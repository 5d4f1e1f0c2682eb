/* Stream frame encoding and bounded parsing (see frame.h). */
#include "frame.h"

#include <string.h>

#include "rangeset.h"

void
ack_iter_init(struct ack_iter *it, const struct frame_ack *a)
{
	it->r = a->ranges;
	it->left = a->range_count;
	it->next_hi = a->largest;
	it->first_range = a->first_range;
	it->first = true;
	it->broken = false;
}

bool
ack_iter_next(struct ack_iter *it, uint64_t *lo, uint64_t *hi)
{
	uint64_t gap, len;

	if (it->broken)
		return false;
	if (it->first) {
		it->first = false;
		len = it->first_range;
	} else {
		if (it->left == 0)
			return false;
		it->left--;
		gap = rd_varint(&it->r);
		len = rd_varint(&it->r);
		/* The range's highest number is gap + 2 below the previous range's lowest. */
		if (!rd_ok(&it->r) || it->next_hi < gap + 2) {
			it->broken = true;
			return false;
		}
		it->next_hi -= gap + 2;
	}
	if (len > it->next_hi) {
		it->broken = true;
		return false;
	}
	*hi = it->next_hi;
	*lo = it->next_hi - len;
	it->next_hi = *lo;	/* the next range is computed from this lowest number */
	return true;
}

/* Checks every range of an ACK (none may go below packet number 0) and finds its end. */
static int
parse_ack(struct rd *r, struct frame_ack *a)
{
	struct ack_iter it;
	uint64_t lo, hi, seen = 0;

	a->largest = rd_varint(r);
	a->delay_us = rd_varint(r);
	a->range_count = rd_varint(r);
	a->first_range = rd_varint(r);
	if (!rd_ok(r) || a->first_range > a->largest || a->range_count > FRAME_ACK_RANGES_MAX)
		return -1;
	a->ranges = *r;
	ack_iter_init(&it, a);
	while (ack_iter_next(&it, &lo, &hi))
		seen++;
	if (it.broken || seen != a->range_count + 1)
		return -1;
	a->ranges.end = it.r.p;
	r->p = it.r.p;
	return 0;
}

static int
parse_stream(struct rd *r, struct frame *f)
{
	f->u.stream.fin = (f->type & FRAME_STREAM_FIN) != 0;
	f->u.stream.offset = rd_varint(r);
	if (f->type & FRAME_STREAM_LEN)
		f->u.stream.len = rd_varint(r);
	else
		f->u.stream.len = rd_left(r);
	if (!rd_ok(r) || f->u.stream.len > rd_left(r) ||
	    f->u.stream.offset + f->u.stream.len > VARINT_MAX)
		return -1;
	f->u.stream.data = rd_bytes(r, (size_t)f->u.stream.len);
	return 0;
}

int
frame_parse(struct rd *r, struct frame *f)
{
	memset(f, 0, sizeof *f);
	f->type = rd_varint(r);
	if (!rd_ok(r))
		return -1;
	switch (f->type) {
	case FRAME_PADDING:
	case FRAME_PING:
		return 0;
	case FRAME_ACK:
		return parse_ack(r, &f->u.ack);
	case FRAME_CLOSE:
		f->u.close.code = rd_varint(r);
		f->u.close.reason_len = (size_t)rd_varint(r);
		if (!rd_ok(r) || f->u.close.reason_len > FRAME_REASON_MAX)
			return -1;
		f->u.close.reason = rd_bytes(r, f->u.close.reason_len);
		return rd_ok(r) ? 0 : -1;
	case FRAME_MAX_DATA:
		f->u.max_data = rd_varint(r);
		return rd_ok(r) ? 0 : -1;
	case FRAME_PATH_CHALLENGE:
	case FRAME_PATH_RESPONSE:
		return rd_copy(r, f->u.path_data, FRAME_PATH_DATA_LEN) ? 0 : -1;
	case FRAME_STREAM:
	case FRAME_STREAM | FRAME_STREAM_FIN:
	case FRAME_STREAM | FRAME_STREAM_LEN:
	case FRAME_STREAM | FRAME_STREAM_LEN | FRAME_STREAM_FIN:
		return parse_stream(r, f);
	default:
		return -1;
	}
}

bool
frame_write_ping(struct wr *w)
{
	return wr_varint(w, FRAME_PING);
}

bool
frame_write_max_data(struct wr *w, uint64_t max)
{
	return wr_varint(w, FRAME_MAX_DATA) && wr_varint(w, max);
}

bool
frame_write_path(struct wr *w, uint64_t type, const uint8_t data[FRAME_PATH_DATA_LEN])
{
	return wr_varint(w, type) && wr_bytes(w, data, FRAME_PATH_DATA_LEN);
}

bool
frame_write_close(struct wr *w, uint64_t code, const char *reason)
{
	size_t n = reason == NULL ? 0 : strlen(reason);

	if (n > FRAME_REASON_MAX)
		n = FRAME_REASON_MAX;
	return wr_varint(w, FRAME_CLOSE) && wr_varint(w, code) && wr_varint(w, n) &&
	    wr_bytes(w, reason, n);
}

bool
frame_write_ack(struct wr *w, const struct range *ranges, size_t n, uint64_t delay_us,
    size_t max_ranges)
{
	size_t count, i;
	uint64_t prev_lo;

	if (n == 0) {
		w->bad = true;
		return false;
	}
	count = n < max_ranges ? n : max_ranges;
	if (count > FRAME_ACK_RANGES_MAX + 1)
		count = FRAME_ACK_RANGES_MAX + 1;
	i = n - 1;
	if (!wr_varint(w, FRAME_ACK) || !wr_varint(w, ranges[i].hi - 1) ||
	    !wr_varint(w, delay_us) || !wr_varint(w, count - 1) ||
	    !wr_varint(w, ranges[i].hi - 1 - ranges[i].lo))
		return false;
	prev_lo = ranges[i].lo;
	while (--count > 0) {
		i--;
		/* gap: packets missing between this range's top and the previous range's bottom,
		 * minus one; length: packets in this range minus one. */
		if (!wr_varint(w, prev_lo - ranges[i].hi - 1) ||
		    !wr_varint(w, ranges[i].hi - 1 - ranges[i].lo))
			return false;
		prev_lo = ranges[i].lo;
	}
	return true;
}

size_t
frame_stream_hdr_len(uint64_t offset, uint64_t len, bool has_len)
{
	return 1 + varint_len(offset) + (has_len ? varint_len(len) : 0);
}

bool
frame_write_stream_hdr(struct wr *w, uint64_t offset, uint64_t len, bool fin, bool has_len)
{
	uint64_t type = FRAME_STREAM | (fin ? FRAME_STREAM_FIN : 0) |
	    (has_len ? FRAME_STREAM_LEN : 0);

	return wr_varint(w, type) && wr_varint(w, offset) && (!has_len || wr_varint(w, len));
}
