/*
 * Rate limits of the server, sans-IO: token buckets (per source IP for JOINs, per relay session,
 * global relay) and a bounded table of per-IP buckets.
 */
#ifndef PUNCHCAT_SRV_LIMIT_H
#define PUNCHCAT_SRV_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"

/* A token bucket: `rate` tokens per second, at most `burst`, starting full. */
struct tbucket {
	double tokens;
	uint64_t last;		/* time of the last refill, microseconds */
};

void tb_init(struct tbucket *b, double burst, uint64_t now);
/* Refills, then takes cost tokens if there are that many. */
bool tb_take(struct tbucket *b, uint64_t now, double rate, double burst, double cost);

/*
 * Per-IP buckets in a fixed table (open addressing, a few probes). When the probed slots are all
 * taken by other IPs, the one idle longest is reused: memory stays bounded whatever the number
 * of sources. Keys are IPs only (not ports), hashed with a secret key.
 */
struct ip_entry {
	uint8_t family;
	uint8_t ip[16];
	struct tbucket b;
};

struct ip_table {
	struct ip_entry *e;
	size_t mask;		/* size - 1; size is a power of two */
	uint64_t key;
	double rate, burst;
	uint64_t evictions;
};

/* size_log2 of 16 gives 65536 entries (~2.5 MiB). Returns -1 if out of memory. */
int ip_table_init(struct ip_table *t, unsigned size_log2, double rate_per_s, double burst,
    uint64_t key);
void ip_table_free(struct ip_table *t);
/* Takes one token from the bucket of a's IP. */
bool ip_table_take(struct ip_table *t, const struct netaddr *a, uint64_t now);

#endif
