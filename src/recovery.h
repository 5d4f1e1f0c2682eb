/*
 * Loss recovery after RFC 9002: the record of every packet sent (a ring indexed by packet
 * number), RTT estimation with the peer's ack delay, loss detection by packet threshold
 * (adaptive: raised to the reordering actually seen) and time threshold (9/8 RTT, raised after
 * spurious losses), probe timeouts, persistent congestion, undo of spurious losses, and
 * delivery-rate samples for the congestion controller (struct cc, embedded).
 *
 * The stream tells it what each packet carried; it calls back when a packet is acknowledged
 * or lost (the stream then marks the data acknowledged or queues it for retransmission).
 */
#ifndef PUNCHCAT_RECOVERY_H
#define PUNCHCAT_RECOVERY_H

#include <stdbool.h>
#include <stdint.h>

#include "cc.h"
#include "frame.h"

/* sent_pkt.state */
enum {
	SP_FREE = 0,		/* slot unused */
	SP_OUTSTANDING,		/* ack-eliciting, in flight */
	SP_UNTRACKED,		/* only ACK frames: not in flight, never declared lost */
	SP_ACKED,
	SP_LOST			/* declared lost; kept a while to notice a spurious loss */
};

/* sent_pkt.flags: what the packet carried */
#define SP_STREAM	0x01
#define SP_FIN		0x02
#define SP_MAX_DATA	0x04
#define SP_CHALLENGE	0x08
#define SP_HAS_ACK	0x10
#define SP_APP_LIMITED	0x20
#define SP_OLD_PATH	0x40	/* sent before the last path change: no RTT or cc samples */
#define SP_CLOSE	0x80
#define SP_PMTU		0x100	/* a path MTU probe: its loss says nothing about congestion */

struct sent_pkt {
	uint64_t time;			/* sent at */
	uint64_t stream_off;
	uint64_t ack_largest;		/* largest packet number in its ACK frame */
	uint64_t delivered, delivered_time, first_sent_time;	/* rate sampling */
	uint32_t stream_len;
	uint32_t size;			/* bytes counted in flight */
	uint8_t state;
	uint16_t flags;
};

struct recovery_cb {
	void *ctx;
	/* Acknowledged (spurious: it had been declared lost before). */
	void (*acked)(void *ctx, uint64_t pn, const struct sent_pkt *sp, bool spurious);
	/* Lost, or chosen for a probe: the stream sends its content again. */
	void (*lost)(void *ctx, uint64_t pn, const struct sent_pkt *sp);
};

struct recovery {
	struct sent_pkt *ring;
	uint64_t mask;			/* ring size - 1 (a power of two) */
	uint64_t base;			/* lowest packet number still in the ring */
	uint64_t next_pn;
	uint64_t first_outstanding;	/* nothing below it is SP_OUTSTANDING */

	uint64_t latest_rtt, min_rtt, srtt, rttvar;
	uint64_t first_rtt_time;	/* when the first RTT sample was taken */
	uint64_t initial_rtt, max_ack_delay;
	uint64_t path_initial_rtt;	/* RTT assumed on this path before its first sample */
	uint64_t pto_max;		/* backoff stops here (well below the idle timeout) */
	bool has_rtt;

	uint64_t largest_acked;
	bool any_acked;
	uint64_t bytes_in_flight;
	/* Part of bytes_in_flight sent before the last path change. The new path has its own
	 * congestion window: packets still on the old path do not use it up (RFC 9000 9.4). */
	uint64_t old_path_in_flight;
	uint64_t eliciting_in_flight;	/* packets */
	uint64_t last_eliciting_time;
	uint64_t loss_time;		/* 0 = no loss timer */
	unsigned pto_count;
	unsigned probes;		/* probe packets the stream should send now */
	uint64_t reorder_threshold;
	unsigned time_threshold_x8;	/* 9 = 9/8 RTT */
	uint64_t event_lost, event_spurious;	/* of the last loss event (for undo) */

	uint64_t delivered, delivered_time, first_sent_time, app_limited_until;

	uint64_t stat_lost, stat_spurious, stat_pto;

	struct cc cc;
	struct recovery_cb cb;
};

/* Bytes in flight that count against the current path's congestion window. */
static inline uint64_t
recovery_path_in_flight(const struct recovery *rec)
{
	return rec->bytes_in_flight - rec->old_path_in_flight;
}

/* ring_size: a power of two. Returns -1 when out of memory. */
int recovery_init(struct recovery *rec, uint64_t ring_size, enum stream_cc cc, uint64_t mss,
    uint64_t initial_rtt, uint64_t max_ack_delay, uint64_t now, const struct recovery_cb *cb);
void recovery_free(struct recovery *rec);

/* Room in the ring for one more packet (ack-eliciting ones leave a quarter for ACK-only). */
bool recovery_has_room(struct recovery *rec, uint64_t now, bool ack_eliciting);
/* Whether recovery_has_room() would say yes now, without changing anything (for deadlines). */
bool recovery_room(const struct recovery *rec, bool ack_eliciting);
/* When the ring, full, makes room by itself (the oldest packet in flight becomes overdue by a
 * PTO and is declared lost); UINT64_MAX when nothing is in flight. */
uint64_t recovery_room_deadline(const struct recovery *rec);
/* Records the packet about to be sent with number rec->next_pn (then increments it).
 * sp: size, flags, stream range, ack_largest; the rest is filled here. */
void recovery_on_sent(struct recovery *rec, uint64_t now, const struct sent_pkt *sp,
    bool ack_eliciting);
/* Processes an ACK frame. Returns -1 when it acknowledges a packet never sent. */
int recovery_on_ack(struct recovery *rec, uint64_t now, const struct frame_ack *ack);
/* Loss or probe timer: UINT64_MAX when none. */
uint64_t recovery_deadline(const struct recovery *rec);
void recovery_on_timeout(struct recovery *rec, uint64_t now);
/* The sender had less to send than the window allowed (marks rate samples). */
void recovery_set_app_limited(struct recovery *rec);
/* New path: fresh RTT estimate and congestion controller; packets in flight stay. rtt_hint is
 * the new path's RTT as its check measured it (0 = unknown): its initial RTT. */
void recovery_path_reset(struct recovery *rec, uint64_t now, uint64_t mss, uint64_t rtt_hint);
/* Probe timeout duration without backoff. */
uint64_t recovery_pto(const struct recovery *rec);

#endif
