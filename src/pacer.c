/* Token-bucket pacer (see pacer.h). */
#include "pacer.h"

static void
refill(struct pacer *p, uint64_t now)
{
	uint64_t add;

	if (now <= p->last)
		return;
	if (p->rate == 0) {
		p->tokens = p->capacity;
		p->last = now;
		return;
	}
	/* Whole bytes only; keep the remainder's time for the next refill. */
	add = (now - p->last) * p->rate / 1000000;
	if (add == 0)
		return;
	p->last = add >= p->capacity ? now : p->last + add * 1000000 / p->rate;
	p->tokens = p->tokens + add > p->capacity ? p->capacity : p->tokens + add;
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
	if (p->tokens > cap)
		p->tokens = cap;
}

void
pacer_init(struct pacer *p, uint64_t mss, uint64_t now)
{
	*p = (struct pacer){0};
	p->last = now;
	pacer_set_rate(p, 0, mss);
	p->tokens = p->capacity;
}

bool
pacer_can_send(struct pacer *p, uint64_t now, uint64_t bytes)
{
	refill(p, now);
	return p->rate == 0 || p->tokens >= bytes || p->tokens >= p->capacity;
}

void
pacer_on_sent(struct pacer *p, uint64_t bytes)
{
	p->tokens = p->tokens > bytes ? p->tokens - bytes : 0;
}

uint64_t
pacer_next_time(const struct pacer *p, uint64_t now, uint64_t bytes)
{
	uint64_t tokens = p->tokens, need;

	if (p->rate == 0 || tokens >= bytes || tokens >= p->capacity)
		return now;
	need = bytes - tokens;
	/* Round up so the bucket really holds the bytes at that time. */
	return p->last + (need * 1000000 + p->rate - 1) / p->rate;
}
