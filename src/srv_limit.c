#include "srv_limit.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define IP_PROBES 8

void
tb_init(struct tbucket *b, double burst, uint64_t now)
{
	b->tokens = burst;
	b->last = now;
}

bool
tb_take(struct tbucket *b, uint64_t now, double rate, double burst, double cost)
{
	if (now > b->last) {
		b->tokens += (double)(now - b->last) * rate / (double)US_PER_S;
		if (b->tokens > burst)
			b->tokens = burst;
		b->last = now;
	}
	if (b->tokens < cost)
		return false;
	b->tokens -= cost;
	return true;
}

int
ip_table_init(struct ip_table *t, unsigned size_log2, double rate_per_s, double burst,
    uint64_t key)
{
	size_t n = (size_t)1 << size_log2;

	memset(t, 0, sizeof *t);
	t->e = calloc(n, sizeof *t->e);
	if (t->e == NULL)
		return -1;
	t->mask = n - 1;
	t->key = key;
	t->rate = rate_per_s;
	t->burst = burst;
	return 0;
}

void
ip_table_free(struct ip_table *t)
{
	free(t->e);
	t->e = NULL;
}

bool
ip_table_take(struct ip_table *t, const struct netaddr *a, uint64_t now)
{
	struct netaddr key = *a;
	struct ip_entry *victim = NULL;
	size_t h;

	key.port = 0;
	h = (size_t)netaddr_hash(&key, t->key);
	for (unsigned i = 0; i < IP_PROBES; i++) {
		struct ip_entry *e = &t->e[(h + i) & t->mask];

		if (e->family == a->family && memcmp(e->ip, a->ip, sizeof e->ip) == 0)
			return tb_take(&e->b, now, t->rate, t->burst, 1);
		if (e->family == 0) {
			victim = e;
			break;
		}
		if (victim == NULL || e->b.last < victim->b.last)
			victim = e;
	}
	if (victim->family != 0)
		t->evictions++;
	victim->family = a->family;
	memcpy(victim->ip, a->ip, sizeof victim->ip);
	tb_init(&victim->b, t->burst, now);
	return tb_take(&victim->b, now, t->rate, t->burst, 1);
}
