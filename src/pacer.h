/*
 * Token-bucket pacer: packets leave at the congestion controller's pacing rate, in bursts of
 * at most PACER_BURST_US worth of bytes (at least PACER_MIN_BURST_PACKETS packets), so a shell
 * whose timers fire with ~1 ms granularity can still reach high rates, and a bottleneck queue
 * never sees more than about a millisecond of back-to-back packets.
 */
#ifndef PUNCHCAT_PACER_H
#define PUNCHCAT_PACER_H

#include <stdbool.h>
#include <stdint.h>

#define PACER_BURST_US UINT64_C(1000)
#define PACER_MIN_BURST_PACKETS 2

struct pacer {
	uint64_t rate;		/* bytes per second; 0 = not paced */
	uint64_t tokens;	/* bytes that may leave now, times 10^6 (exact refills) */
	uint64_t capacity;	/* bucket size, bytes */
	uint64_t last;		/* time tokens were last added */
	uint64_t mss;
	uint64_t burst_left;	/* one-time allowance (the initial window), bytes */
};

void pacer_init(struct pacer *p, uint64_t mss, uint64_t now);
void pacer_set_rate(struct pacer *p, uint64_t rate, uint64_t mss);
/* Lets `bytes` leave at once on top of the rate (the initial window of a new path). */
void pacer_grant(struct pacer *p, uint64_t bytes);
/* True when a packet of `bytes` may leave at now (refills the bucket first). */
bool pacer_can_send(struct pacer *p, uint64_t now, uint64_t bytes);
void pacer_on_sent(struct pacer *p, uint64_t bytes);
/* When a packet of `bytes` may leave (now or later). */
uint64_t pacer_next_time(const struct pacer *p, uint64_t now, uint64_t bytes);

#endif
