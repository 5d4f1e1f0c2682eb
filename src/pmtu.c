/* Path MTU search (see pmtu.h). */
#include "pmtu.h"

static void
try_size(struct pmtu *m, uint64_t next, size_t size)
{
	m->trying = size;
	m->lost = 0;
	m->next = next;
}

void
pmtu_start(struct pmtu *m, uint64_t now, size_t base, size_t ceiling)
{
	uint64_t seq = m->seq;

	*m = (struct pmtu){ .base = base, .best = base, .seq = seq, .epoch_seq = seq };
	if (ceiling > base) {
		m->ceiling = ceiling;
		try_size(m, now, ceiling);
	}
}

void
pmtu_stop(struct pmtu *m)
{
	m->ceiling = 0;
	m->trying = 0;
	m->in_flight = false;
}

size_t
pmtu_due(const struct pmtu *m, uint64_t now)
{
	return m->trying != 0 && !m->in_flight && now >= m->next ? m->trying : 0;
}

uint64_t
pmtu_deadline(const struct pmtu *m)
{
	return m->trying != 0 && !m->in_flight ? m->next : UINT64_MAX;
}

uint64_t
pmtu_on_sent(struct pmtu *m)
{
	m->in_flight = true;
	m->in_flight_seq = m->seq;
	return m->seq++;
}

size_t
pmtu_on_acked(struct pmtu *m, uint64_t now, size_t payload, uint64_t seq)
{
	if (m->ceiling == 0 || seq < m->epoch_seq)
		return m->best;		/* a probe from before a stop, path change or black hole */
	if (seq == m->in_flight_seq)
		m->in_flight = false;
	if (payload > m->best)
		m->best = payload;
	if (m->best >= m->ceiling)
		m->trying = 0;		/* as far as we go */
	else if (m->trying != 0 && m->trying <= m->best)
		try_size(m, now + PMTU_RAISE_US, m->ceiling);	/* the ceiling again, later */
	return m->best;
}

void
pmtu_on_lost(struct pmtu *m, uint64_t now, size_t payload, uint64_t seq)
{
	size_t mid;

	if (m->ceiling == 0 || !m->in_flight || seq != m->in_flight_seq || payload != m->trying)
		return;
	m->in_flight = false;
	if (++m->lost < PMTU_MAX_PROBES)
		return;		/* the next probe of this size may go at once */
	mid = m->best + (m->trying - m->best) / 2;
	if (m->trying == m->ceiling && mid >= m->best + PMTU_MIN_STEP)
		try_size(m, now, mid);
	else
		try_size(m, now + PMTU_RAISE_US, m->ceiling);
}

size_t
pmtu_black_hole(struct pmtu *m, uint64_t now)
{
	m->epoch_seq = m->seq;
	m->best = m->base;
	if (m->ceiling > m->base)
		try_size(m, now + PMTU_BLACK_HOLE_RETRY_US, m->ceiling);
	m->in_flight = false;
	return m->base;
}
