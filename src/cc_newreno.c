/* NewReno (RFC 9002 section 7): slow start, then one packet per window of acknowledged bytes;
 * halve on a loss event. */
#include "cc.h"

void
cc_newreno_on_ack(struct cc *c, const struct cc_ack *a)
{
	/* No growth while recovering from a loss event (packets sent before it). */
	if (c->in_recovery_any && a->largest_sent_time <= c->recovery_start)
		return;
	if (c->cwnd < c->ssthresh) {
		c->cwnd += a->acked_bytes;
		return;
	}
	c->acked_acc += a->acked_bytes;
	while (c->acked_acc >= c->cwnd) {
		c->acked_acc -= c->cwnd;
		c->cwnd += c->mss;
	}
}

void
cc_newreno_on_congestion(struct cc *c, uint64_t now)
{
	c->ssthresh = c->cwnd / 2;
	c->cwnd = c->ssthresh;
	c->acked_acc = 0;
}
