/*
 * CUBIC (RFC 9438): after a loss the window follows W(t) = C (t - K)^3 + W_max, never below the
 * Reno-friendly estimate; multiplicative decrease 0.7; fast convergence.
 */
#include "cc.h"

#include <math.h>

#define CUBIC_C 0.4
#define CUBIC_BETA 0.7

void
cc_cubic_on_ack(struct cc *c, const struct cc_ack *a)
{
	struct cc_cubic *q = &c->u.cubic;
	double mss = (double)c->mss, cwnd, t, target, rtt;

	if (c->in_recovery_any && a->largest_sent_time <= c->recovery_start)
		return;
	if (c->cwnd < c->ssthresh) {
		c->cwnd += a->acked_bytes;
		return;
	}
	cwnd = (double)c->cwnd / mss;
	if (q->epoch_start == 0) {
		q->epoch_start = a->now;
		if (q->w_max < cwnd) {
			q->w_max = cwnd;
			q->k = 0;
		} else {
			q->k = cbrt((q->w_max - cwnd) / CUBIC_C);
		}
		q->w_est = cwnd;
	}
	rtt = (double)(a->min_rtt_us > 0 ? a->min_rtt_us : c->srtt_us) / 1e6;
	t = (double)(a->now - q->epoch_start) / 1e6 + rtt;
	target = CUBIC_C * (t - q->k) * (t - q->k) * (t - q->k) + q->w_max;
	if (target > 1.5 * cwnd)
		target = 1.5 * cwnd;
	/* Reno-friendly region: grows like Reno with the same average rate. */
	q->w_est += 3.0 * (1 - CUBIC_BETA) / (1 + CUBIC_BETA) * (double)a->acked_bytes / mss / cwnd;
	if (q->w_est > target)
		target = q->w_est;
	if (target > cwnd) {
		double inc = (target - cwnd) / cwnd * (double)a->acked_bytes;

		c->cwnd += (uint64_t)inc;
		if (c->cwnd > (uint64_t)(target * mss))
			c->cwnd = (uint64_t)(target * mss);
	}
}

void
cc_cubic_on_congestion(struct cc *c, uint64_t now)
{
	struct cc_cubic *q = &c->u.cubic;
	double cwnd = (double)c->cwnd / (double)c->mss;

	/* Fast convergence: give up bandwidth sooner when the window keeps shrinking. */
	if (cwnd < q->w_max)
		q->w_max = cwnd * (1 + CUBIC_BETA) / 2;
	else
		q->w_max = cwnd;
	c->ssthresh = (uint64_t)((double)c->cwnd * CUBIC_BETA);
	c->cwnd = c->ssthresh;
	q->epoch_start = 0;
}
