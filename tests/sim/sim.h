/*
 * Deterministic network simulator for the stream core: two endpoints, each a real stream core
 * (src/stream.h) whose packets are sealed and opened with the real packet layer (src/packet.h),
 * connected by two one-way links in virtual time. A link has one-way delay, jitter, a rate with
 * a finite drop-tail queue, a token-bucket policer (as a relay enforces: no queue, what exceeds
 * the bucket is dropped), random and Gilbert-Elliott (bursty) loss, reordering, duplication
 * and corruption (which the AEAD must catch). The links may be replaced mid-transfer (a path
 * switch: relay <-> direct, NAT rebinding), optionally dropping what was in flight.
 *
 * Everything random comes from one seeded generator, so a run is reproducible from its seed.
 * Each endpoint's application writes a known pseudo-random byte pattern and the other side
 * checks every byte it reads against it.
 */
#ifndef PUNCHCAT_SIM_H
#define PUNCHCAT_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet.h"
#include "stream.h"

struct sim_link_cfg {
	uint64_t delay_us;		/* one-way propagation delay */
	uint64_t jitter_us;		/* extra delay, uniform in [0, jitter) (may reorder) */
	uint64_t rate_bps;		/* bottleneck rate in bits/s of datagram bytes; 0 = none */
	uint64_t queue_bytes;		/* drop-tail queue in front of it; 0 = unbounded */
	uint64_t police_rate_bps;	/* token-bucket policer in bits/s of datagram bytes; 0 = none */
	uint64_t police_burst;		/* its bucket depth in bytes (starts full) */
	double loss;			/* independent loss probability */
	double ge_enter_bad, ge_leave_bad, ge_loss_bad;	/* Gilbert-Elliott; 0 = off */
	double reorder;			/* probability of an extra reorder_us of delay */
	uint64_t reorder_us;
	double duplicate;		/* probability of delivering twice */
	double corrupt;			/* probability of flipping one byte */
	size_t mtu;			/* largest datagram it carries (larger: dropped); 0 = any */
};

struct sim_link {
	struct sim_link_cfg cfg;
	uint64_t busy_until_ns;		/* when the serializer is free */
	bool ge_bad;
	double police_tokens;		/* bytes the policer lets through now */
	uint64_t police_last_us;	/* time of its last refill */
	bool police_started;		/* the bucket was filled (at the first datagram) */
	uint64_t sent, dropped_loss, dropped_queue, dropped_police, corrupted, duplicated;
	uint64_t dropped_mtu;
	uint64_t qdelay_hist[4096];	/* queueing delay in 100 us bins (data packets) */
	uint64_t qdelay_count;
};

struct sim_node {
	struct stream *s;
	struct pkt_ctx pkt;
	uint64_t to_send;		/* bytes the application writes, then FIN */
	uint64_t written;
	uint64_t pattern_out, pattern_in;	/* byte pattern seeds, ours and the peer's */
	uint64_t received;		/* bytes read and checked */
	uint64_t mismatch_at;		/* first wrong byte + 1; 0 = none */
	uint64_t read_chunk;		/* slow reader: bytes per read_interval_us (0 = unlimited) */
	uint64_t read_interval_us;
	uint64_t next_read;
	uint64_t timer_at;
	uint64_t open_failures;		/* datagrams pkt_open refused */
	uint64_t done_at;		/* virtual time the state left STREAM_OPEN */
	uint64_t core_ns;		/* time in stream_* calls, in ticks: sim_core_seconds() */
	uint64_t core_calls;
	unsigned past_deadlines;	/* services in a row that left the deadline in the past */
	bool shutdown;
	bool abort_at_set;
	uint64_t abort_at, abort_reason;
};

struct sim_config {
	struct sim_link_cfg link[2];	/* link[0] carries node 0 -> node 1 */
	struct stream_config stream[2];
	uint64_t bytes[2];		/* bytes node i sends */
	uint64_t seed;
	bool crypto;			/* seal/open with src/packet.h (needed for corruption) */
	uint64_t switch_at_us;		/* path switch time; 0 = none */
	struct sim_link_cfg switch_link[2];
	bool switch_drops_in_flight;	/* the old path dies: what is on it is lost */
	uint64_t read_chunk[2], read_interval_us[2];	/* slow readers */
	uint64_t max_time_us;		/* give up at this virtual time */
	bool measure_core;		/* time the core's calls (bench) */
	/* Torture: */
	uint64_t rekey_packets;		/* lower the packet layer's rekey interval (0 = default) */
	uint64_t switch_every_us;	/* after the first switch, switch back and forth this often */
	unsigned switch_count;		/* ... this many more times */
	bool check_invariants;		/* check sim_invariants() after every event (see below) */
	/* Path MTU: with pmtu_ceiling > 0 each stream starts at pmtu_base and searches up to
	 * the ceiling (stream_pmtu_search), again after every path switch. From mtu_change_at_us
	 * on both links carry datagrams of at most mtu_after bytes (a black hole, no switch). */
	size_t pmtu_base, pmtu_ceiling;
	uint64_t mtu_change_at_us;
	size_t mtu_after;
};

struct sim_event;

struct sim {
	struct sim_config cfg;
	uint64_t now;
	uint64_t rng;
	struct sim_node node[2];
	struct sim_link link[2];
	uint64_t epoch[2];		/* packets sent on an older path carry an older epoch */
	bool switched;

	struct sim_event *heap;
	size_t heap_n, heap_cap;
	uint64_t seq;

	uint8_t **bufs;			/* packet buffers, recycled through a free list */
	uint32_t *free_list;
	size_t bufs_n, free_n, buf_cap;

	uint64_t events;
	uint64_t ticks_start, ns_start, tick_overhead;
	unsigned switches;		/* path switches done */
	char violation[240];		/* first broken invariant ("" = none) */
};

void sim_config_default(struct sim_config *cfg);
/* Returns -1 when out of memory. */
int sim_init(struct sim *sim, const struct sim_config *cfg);
void sim_free(struct sim *sim);
/* Runs until both streams left STREAM_OPEN (and flushed), or max_time_us. Returns the
 * virtual end time. */
uint64_t sim_run(struct sim *sim);
/* Runs until virtual time t. */
void sim_run_until(struct sim *sim, uint64_t t);
/*
 * With cfg.check_invariants, after every event of a node: no byte read out of order, twice or
 * beyond what the peer wrote; the core's counters consistent (acked <= sent <= written, nothing
 * sent beyond the peer's flow credit); the send buffer and the unread received bytes within
 * their configured bounds; the timer deadline no further ahead than the idle timeout (plus a
 * tick), and not left in the past by more than SIM_TICK_US: a past deadline means "call
 * stream_on_timeout now" (an ACK can make the probe timer overdue, RFC 9002 6.2.1), which must
 * then move it, so it may stay in the past for at most SIM_MAX_PAST_DEADLINES services in a row
 * (else the shell would spin). The first violation stops the run and is reported by sim_ok().
 */
#define SIM_TICK_US 1000
#define SIM_MAX_PAST_DEADLINES 3
/* True when both sides are STREAM_DONE, every byte arrived and matched (and, with
 * check_invariants, no invariant broke). */
bool sim_ok(const struct sim *sim, char *why, size_t cap);
/* The p-th percentile (0..1) of a link's queueing delay, microseconds. */
uint64_t sim_qdelay_percentile(const struct sim_link *l, double p);
/* Seconds node spent inside the stream core (cfg.measure_core). */
double sim_core_seconds(const struct sim *sim, int node);
/* Uniform random number in [0, 1) from the simulation's generator. */
double sim_rand(struct sim *sim);

#endif
