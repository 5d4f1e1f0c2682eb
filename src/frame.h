/*
 * Stream frames: the plaintext payload of a data packet is a sequence of frames, each a varint
 * type followed by its fields (STREAM FRAMES in punchcat-protocol(7)). Parsing is bounded
 * (src/wire.h); an unknown type or a malformed field makes the whole packet a protocol error,
 * since frames carry no length to skip them by.
 */
#ifndef PUNCHCAT_FRAME_H
#define PUNCHCAT_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define FRAME_PADDING		0x00
#define FRAME_PING		0x01
#define FRAME_ACK		0x02
#define FRAME_CLOSE		0x04
#define FRAME_MAX_DATA		0x05
#define FRAME_PATH_CHALLENGE	0x06
#define FRAME_PATH_RESPONSE	0x07
#define FRAME_STREAM		0x08	/* 0x08-0x0b: | FRAME_STREAM_LEN | FRAME_STREAM_FIN */
#define FRAME_STREAM_LEN	0x02	/* a length field follows; else data runs to the end */
#define FRAME_STREAM_FIN	0x01

#define FRAME_ACK_RANGES_MAX	256	/* more additional ranges in one ACK is an error */
#define FRAME_PATH_DATA_LEN	8
#define FRAME_REASON_MAX	255	/* bytes of CLOSE reason text */
/* Largest STREAM frame header: type, offset (8), length (8). */
#define FRAME_STREAM_HDR_MAX	17

struct frame_ack {
	uint64_t largest;
	uint64_t delay_us;
	uint64_t first_range;		/* packets below largest in the first range */
	uint64_t range_count;		/* additional (gap, length) pairs */
	struct rd ranges;		/* their encoding, already validated */
};

struct frame {
	uint64_t type;
	union {
		struct {
			uint64_t offset;
			uint64_t len;
			const uint8_t *data;
			bool fin;
		} stream;
		struct frame_ack ack;
		uint64_t max_data;
		uint8_t path_data[FRAME_PATH_DATA_LEN];
		struct {
			uint64_t code;
			const uint8_t *reason;
			size_t reason_len;
		} close;
	} u;
};

/* Parses the next frame. Returns 0, or -1 when the input is malformed (unknown type, a field
 * past the end, an ACK range below zero, a stream offset + length above 2^62 - 1). */
int frame_parse(struct rd *r, struct frame *f);

/* Walks the ranges of a parsed ACK from the highest down: *lo..*hi inclusive. */
struct ack_iter {
	struct rd r;
	uint64_t left;		/* additional ranges still to return */
	uint64_t next_hi;	/* highest packet number of the next range */
	uint64_t first_range;
	bool first;
	bool broken;		/* a range went below zero */
};
void ack_iter_init(struct ack_iter *it, const struct frame_ack *a);
bool ack_iter_next(struct ack_iter *it, uint64_t *lo, uint64_t *hi);

/* Writers: return false (and mark w bad) when the frame does not fit. */
bool frame_write_ping(struct wr *w);
bool frame_write_max_data(struct wr *w, uint64_t max);
bool frame_write_path(struct wr *w, uint64_t type, const uint8_t data[FRAME_PATH_DATA_LEN]);
bool frame_write_close(struct wr *w, uint64_t code, const char *reason);
/* ACK from ranges[0..n) sorted ascending ([lo, hi) each), the highest first on the wire,
 * at most max_ranges of them (the lowest are left out when there are more). */
struct range;
bool frame_write_ack(struct wr *w, const struct range *ranges, size_t n, uint64_t delay_us,
    size_t max_ranges);
/* STREAM header; the caller then writes len data bytes. With has_len false the frame must be
 * the last in the packet. */
bool frame_write_stream_hdr(struct wr *w, uint64_t offset, uint64_t len, bool fin, bool has_len);
/* Bytes frame_write_stream_hdr takes. */
size_t frame_stream_hdr_len(uint64_t offset, uint64_t len, bool has_len);

#endif
