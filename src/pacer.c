/* Token-bucket pacer (see pacer.h). */
#include "pacer.h"

#define SCALE UINT64_C(1000000)	/* tokens are bytes x 10^6: rate x microseconds, no rounding */

static void
refill(struct pacer *p, uint64_t now)
{
	uint64_t dt, cap = p->capacity * SCALE;

	if (now <= p->last)
		return;
	dt = now - p->last;
	p->last = now;
	if (p->rate == 0 || dt >= 10 * SCALE || p->tokens + dt * p->rate >= cap) {
		p->tokens = cap;
		return;
	}
	p->tokens += dt * p->rate;
}

void
pacer_set_rate(struct pacer *p, uint64_t rate, uint64_t mss)
{
	uint64_t cap = rate * PACER_BURST_US / 1000000;

	p->rate = rate;
	p->mss = mss;
	if (cap < PACER_MIN_BURST_PACKETS * mss)
		cap = PACER_MIN_BURST_PACKETS * mss;
	p->capacity = cap;
	if (p->tokens > cap * SCALE)
		p->tokens = cap * SCALE;
}

void
pacer_init(struct pacer *p, uint64_t mss, uint64_t now)
{
	*p = (struct pacer){0};
	p->last = now;
	pacer_set_rate(p, 0, mss);
	p->tokens = p->capacity * SCALE;
}

void
pacer_grant(struct pacer *p, uint64_t bytes)
{
	p->burst_left = bytes;
}

bool
pacer_can_send(struct pacer *p, uint64_t now, uint64_t bytes)
{
	refill(p, now);
	return p->rate == 0 || p->burst_left >= bytes || p->tokens >= bytes * SCALE;
}

void
pacer_on_sent(struct pacer *p, uint64_t bytes)
{
	if (p->burst_left >= bytes) {
		p->burst_left -= bytes;
		return;
	}
	p->burst_left = 0;
	p->tokens = p->tokens > bytes * SCALE ? p->tokens - bytes * SCALE : 0;
}

uint64_t
pacer_next_time(const struct pacer *p, uint64_t now, uint64_t bytes)
{
	uint64_t need;

	if (p->rate == 0 || p->burst_left >= bytes || p->tokens >= bytes * SCALE)
		return now;
	need = bytes * SCALE - p->tokens;
	/* Round up so the bucket really holds the bytes at that time. */
	return p->last + (need + p->rate - 1) / p->rate;
}
