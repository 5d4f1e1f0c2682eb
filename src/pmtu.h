/*
 * Packetization-layer path MTU discovery for the stream (RFC 8899, DPLPMTUD, reduced): the
 * stream starts a path at a base payload every IPv4/IPv6 path carries (1200-byte datagrams)
 * and, when the shell allows a larger ceiling (a direct path that is not loopback), sends
 * probes: single PING+PADDING packets of the larger size. An acknowledged probe raises the
 * payload; a lost one is not a congestion signal. The ceiling is tried first, then a size
 * half way; each gets PMTU_MAX_PROBES probes. Without success the search waits
 * PMTU_RAISE_US and starts again (a route may change). When large packets stop getting
 * through (a black hole: two PTOs in a row at a raised size) the stream drops back to the
 * base and searches again soon. Sans-IO: state and decisions only; stream.c sends.
 */
#ifndef PUNCHCAT_PMTU_H
#define PUNCHCAT_PMTU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PMTU_MAX_PROBES 3
#define PMTU_RAISE_US (600 * UINT64_C(1000000))	/* RFC 8899 PMTU_RAISE_TIMER */
#define PMTU_BLACK_HOLE_RETRY_US (5 * UINT64_C(1000000))
#define PMTU_MIN_STEP 32	/* a size between two closer than this is not worth a probe */

struct pmtu {
	size_t base;		/* payload every path carries; what a black hole falls back to */
	size_t ceiling;		/* the most to try; 0 = no search */
	size_t trying;		/* payload of the current probe size; 0 = search done */
	size_t best;		/* the largest acknowledged probe (or base) */
	unsigned lost;		/* probes of `trying` declared lost */
	bool in_flight;		/* a probe is outstanding */
	uint64_t next;		/* no probe before this time */
	uint64_t seq;		/* probes sent, ever (never reset: names each probe) */
	uint64_t in_flight_seq;	/* the outstanding probe */
	uint64_t epoch_seq;	/* probes before this one predate the search or black hole */
};

/* Starts a search from base (in use now) up to ceiling; ceiling <= base means none. */
void pmtu_start(struct pmtu *m, uint64_t now, size_t base, size_t ceiling);
/* Ends any search (the path is one that must not be probed, such as the relay). */
void pmtu_stop(struct pmtu *m);
/* Payload of the probe to send at `now`, or 0. */
size_t pmtu_due(const struct pmtu *m, uint64_t now);
/* When a probe will be due (UINT64_MAX: none is pending). */
uint64_t pmtu_deadline(const struct pmtu *m);
/* A probe went: returns its sequence number, to give back with its ack or loss. */
uint64_t pmtu_on_sent(struct pmtu *m);
/* Probe seq of `payload` bytes was acknowledged: returns the payload to use from now on.
 * Probes from before the current search (or black hole) do not count. */
size_t pmtu_on_acked(struct pmtu *m, uint64_t now, size_t payload, uint64_t seq);
/* Probe seq was declared lost; only the outstanding one counts (late reports of older
 * probes would skip sizes or the raise timer). */
void pmtu_on_lost(struct pmtu *m, uint64_t now, size_t payload, uint64_t seq);
/* Large packets stopped getting through: returns the base to fall back to. */
size_t pmtu_black_hole(struct pmtu *m, uint64_t now);

#endif
