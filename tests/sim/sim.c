/* Deterministic network simulator (see sim.h). */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { EV_ARRIVE, EV_TIMER, EV_READ, EV_SWITCH, EV_ABORT };

struct sim_event {
	uint64_t time, seq;
	uint32_t kind, node, buf, len;
	uint64_t epoch;
};

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

double
sim_rand(struct sim *sim)
{
	return (double)(splitmix64(&sim->rng) >> 11) / 9007199254740992.0;
}

static uint64_t
ns_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Cheap timestamps for measuring the core: the TSC on x86-64 (a few ns to read, where
 * clock_gettime can cost as much as the code it measures on a VM), converted to seconds over
 * the whole run; elsewhere the monotonic clock. */
static uint64_t
ticks(void)
{
#if defined(__x86_64__)
	return __builtin_ia32_rdtsc();
#else
	return ns_now();
#endif
}

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void
core_add(struct sim_node *n, uint64_t t0)
{
	n->core_ns += ticks() - t0;
	n->core_calls++;
}

/* What one measurement costs by itself (the smallest of many empty ones), to subtract. */
static uint64_t
tick_overhead(void)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < 2000; i++) {
		uint64_t t0 = ticks(), t1 = ticks();

		best = min_u64(best, t1 - t0);
	}
	return best;
}

double
sim_core_seconds(const struct sim *sim, int node)
{
	uint64_t dt = ticks() - sim->ticks_start, dns = ns_now() - sim->ns_start;

	const struct sim_node *n = &sim->node[node];
	uint64_t spent = n->core_ns - min_u64(n->core_ns, n->core_calls * sim->tick_overhead);

	if (dt == 0)
		return 0;
	return (double)spent * ((double)dns / (double)dt) / 1e9;
}

static uint64_t
pattern_word(uint64_t seed, uint64_t block)
{
	uint64_t x = seed ^ (block * UINT64_C(0x9e3779b97f4a7c15));

	return splitmix64(&x);
}

/* The application bytes at offsets off..off+n of the pattern with this seed: 8-byte words of
 * a hash of (seed, offset / 8), in memory order. */
static void
pattern_fill(uint64_t seed, uint64_t off, uint8_t *dst, size_t n)
{
	size_t i = 0;

	while (i < n && ((off + i) & 7) != 0) {
		uint64_t v = pattern_word(seed, (off + i) >> 3);

		dst[i] = ((const uint8_t *)&v)[(off + i) & 7];
		i++;
	}
	for (; i + 8 <= n; i += 8) {
		uint64_t v = pattern_word(seed, (off + i) >> 3);

		memcpy(dst + i, &v, 8);
	}
	for (; i < n; i++) {
		uint64_t v = pattern_word(seed, (off + i) >> 3);

		dst[i] = ((const uint8_t *)&v)[(off + i) & 7];
	}
}

/* ---- event heap ---- */

static bool
ev_before(const struct sim_event *a, const struct sim_event *b)
{
	return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

static void
push(struct sim *sim, struct sim_event ev)
{
	size_t i;

	if (sim->heap_n == sim->heap_cap) {
		size_t cap = sim->heap_cap ? 2 * sim->heap_cap : 1024;
		struct sim_event *h = realloc(sim->heap, cap * sizeof *h);

		if (h == NULL)
			abort();
		sim->heap = h;
		sim->heap_cap = cap;
	}
	ev.seq = sim->seq++;
	i = sim->heap_n++;
	while (i > 0 && ev_before(&ev, &sim->heap[(i - 1) / 2])) {
		sim->heap[i] = sim->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	sim->heap[i] = ev;
}

static struct sim_event
pop(struct sim *sim)
{
	struct sim_event top = sim->heap[0], last = sim->heap[--sim->heap_n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= sim->heap_n)
			break;
		if (c + 1 < sim->heap_n && ev_before(&sim->heap[c + 1], &sim->heap[c]))
			c++;
		if (!ev_before(&sim->heap[c], &last))
			break;
		sim->heap[i] = sim->heap[c];
		i = c;
	}
	if (sim->heap_n > 0)
		sim->heap[i] = last;
	return top;
}

/* ---- packet buffers ---- */

static uint32_t
buf_get(struct sim *sim)
{
	if (sim->free_n == 0) {
		uint8_t **b = realloc(sim->bufs, (sim->bufs_n + 1) * sizeof *b);
		uint32_t *f = realloc(sim->free_list, (sim->bufs_n + 1) * sizeof *f);

		if (b == NULL || f == NULL)
			abort();
		sim->bufs = b;
		sim->free_list = f;
		if ((sim->bufs[sim->bufs_n] = malloc(sim->buf_cap)) == NULL)
			abort();
		sim->free_list[sim->free_n++] = (uint32_t)sim->bufs_n++;
	}
	return sim->free_list[--sim->free_n];
}

static void
buf_put(struct sim *sim, uint32_t b)
{
	sim->free_list[sim->free_n++] = b;
}

/* ---- setup ---- */

void
sim_config_default(struct sim_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	for (int i = 0; i < 2; i++) {
		stream_config_default(&cfg->stream[i]);
		cfg->stream[i].seed = (uint64_t)i + 1;
		cfg->link[i].delay_us = 10000;
	}
	cfg->crypto = true;
	cfg->seed = 1;
	cfg->max_time_us = UINT64_C(600) * 1000000;
}

int
sim_init(struct sim *sim, const struct sim_config *cfg)
{
	uint8_t k0[PKT_KEY_LEN], k1[PKT_KEY_LEN];

	memset(sim, 0, sizeof *sim);
	sim->cfg = *cfg;
	sim->ticks_start = ticks();
	sim->ns_start = ns_now();
	if (cfg->measure_core)
		sim->tick_overhead = tick_overhead();
	sim->rng = cfg->seed;
	sim->buf_cap = STREAM_PAYLOAD_MAX + PKT_OVERHEAD;
	for (int i = 0; i < 2; i++)
		sim->link[i].cfg = cfg->link[i];
	memset(k0, 0x5a, sizeof k0);
	memset(k1, 0xa5, sizeof k1);
	k0[0] = (uint8_t)cfg->seed;
	for (int i = 0; i < 2; i++) {
		struct sim_node *n = &sim->node[i];

		n->s = stream_new(&cfg->stream[i], 0);
		if (n->s == NULL)
			return -1;
		if (cfg->pmtu_ceiling > 0) {
			stream_set_max_payload(n->s, cfg->pmtu_base);
			stream_pmtu_search(n->s, 0, cfg->pmtu_ceiling);
		}
		if (pkt_init_raw(&n->pkt, PKT_CHACHA20POLY1305, i == 0 ? k0 : k1, i == 0 ? k1 : k0,
		    i == 0 ? 0x1111 : 0x2222, i == 0 ? 0x2222 : 0x1111, 0) != 0)
			return -1;
		if (cfg->rekey_packets > 0)
			n->pkt.rekey_packets = cfg->rekey_packets;
		n->to_send = cfg->bytes[i];
		n->pattern_out = cfg->seed * 31 + (uint64_t)i + 7;
		n->read_chunk = cfg->read_chunk[i];
		n->read_interval_us = cfg->read_interval_us[i];
		n->timer_at = UINT64_MAX;
	}
	sim->node[0].pattern_in = sim->node[1].pattern_out;
	sim->node[1].pattern_in = sim->node[0].pattern_out;
	for (uint32_t i = 0; i < 2; i++) {
		push(sim, (struct sim_event){ .time = 0, .kind = EV_TIMER, .node = i });
		sim->node[i].timer_at = 0;
		if (sim->node[i].read_chunk > 0)
			push(sim, (struct sim_event){ .time = 0, .kind = EV_READ, .node = i });
	}
	if (cfg->switch_at_us > 0)
		push(sim, (struct sim_event){ .time = cfg->switch_at_us, .kind = EV_SWITCH });
	return 0;
}

void
sim_free(struct sim *sim)
{
	for (int i = 0; i < 2; i++) {
		stream_free(sim->node[i].s);
		pkt_free(&sim->node[i].pkt);
	}
	for (size_t i = 0; i < sim->bufs_n; i++)
		free(sim->bufs[i]);
	free(sim->bufs);
	free(sim->free_list);
	free(sim->heap);
}

/* ---- links ---- */

static void
record_qdelay(struct sim_link *l, uint64_t us, size_t len)
{
	uint64_t bin = us / 100;

	if (len < 200)
		return;		/* acknowledgments are not the traffic being measured */
	if (bin >= sizeof l->qdelay_hist / sizeof l->qdelay_hist[0])
		bin = sizeof l->qdelay_hist / sizeof l->qdelay_hist[0] - 1;
	l->qdelay_hist[bin]++;
	l->qdelay_count++;
}

uint64_t
sim_qdelay_percentile(const struct sim_link *l, double p)
{
	uint64_t want = (uint64_t)((double)l->qdelay_count * p), seen = 0;
	size_t nbins = sizeof l->qdelay_hist / sizeof l->qdelay_hist[0];

	for (size_t i = 0; i < nbins; i++) {
		seen += l->qdelay_hist[i];
		if (seen > want)
			return i * 100 + 50;
	}
	return nbins * 100;
}

static bool
lose(struct sim *sim, struct sim_link *l)
{
	const struct sim_link_cfg *c = &l->cfg;

	if (c->ge_enter_bad > 0) {
		if (!l->ge_bad && sim_rand(sim) < c->ge_enter_bad)
			l->ge_bad = true;
		else if (l->ge_bad && sim_rand(sim) < c->ge_leave_bad)
			l->ge_bad = false;
		if (l->ge_bad && sim_rand(sim) < c->ge_loss_bad)
			return true;
	}
	return c->loss > 0 && sim_rand(sim) < c->loss;
}

/* A token-bucket policer (a relay's per-room limit): the bucket holds up to police_burst bytes,
 * refills at police_rate_bps, and a datagram passes only if the bucket holds its length (then
 * the length is taken). Nothing is queued: what exceeds the bucket is dropped. */
static bool
police(struct sim *sim, struct sim_link *l, size_t len)
{
	const struct sim_link_cfg *c = &l->cfg;

	if (c->police_rate_bps == 0)
		return true;
	if (!l->police_started) {
		l->police_started = true;
		l->police_tokens = (double)c->police_burst;
	} else {
		l->police_tokens += (double)(sim->now - l->police_last_us) *
		    (double)c->police_rate_bps / 8 / 1e6;
		if (l->police_tokens > (double)c->police_burst)
			l->police_tokens = (double)c->police_burst;
	}
	l->police_last_us = sim->now;
	if (l->police_tokens < (double)len)
		return false;
	l->police_tokens -= (double)len;
	return true;
}

static int trace = -1;	/* SIM_TRACE=1 in the environment: one line per datagram */

static bool
tracing(void)
{
	if (trace < 0)
		trace = getenv("SIM_TRACE") != NULL;
	return trace > 0;
}

/* Puts a datagram from node `from` on its link; takes ownership of buffer b. */
/* The link's MTU, or the smaller one of a black hole from its time on. */
static bool
too_big(const struct sim *sim, const struct sim_link *l, size_t len)
{
	size_t mtu = l->cfg.mtu;

	if (sim->cfg.mtu_change_at_us > 0 && sim->now >= sim->cfg.mtu_change_at_us)
		mtu = sim->cfg.mtu_after;
	return mtu > 0 && len > mtu;
}

static void
link_send(struct sim *sim, int from, uint32_t b, size_t len)
{
	struct sim_link *l = &sim->link[from];
	const struct sim_link_cfg *c = &l->cfg;
	uint64_t depart_ns = sim->now * 1000, arrive;
	struct sim_event ev = { .kind = EV_ARRIVE, .node = (uint32_t)(1 - from), .buf = b,
		.len = (uint32_t)len, .epoch = sim->epoch[from] };

	l->sent++;
	if (tracing()) {
		struct stream_stats st;

		stream_get_stats(sim->node[from].s, &st);
		fprintf(stderr, "%10.6f %d> len %zu cwnd %llu infl %llu srtt %llu state %d\n",
		    (double)sim->now / 1e6, from, len, (unsigned long long)st.cwnd,
		    (unsigned long long)st.bytes_in_flight, (unsigned long long)st.srtt_us,
		    (int)stream_state(sim->node[from].s));
	}
	if (too_big(sim, l, len)) {
		if (tracing())
			fprintf(stderr, "  too big\n");
		l->dropped_mtu++;
		buf_put(sim, b);
		return;
	}
	if (lose(sim, l)) {
		if (tracing())
			fprintf(stderr, "  lost\n");
		l->dropped_loss++;
		buf_put(sim, b);
		return;
	}
	if (!police(sim, l, len)) {
		if (tracing())
			fprintf(stderr, "  policed\n");
		l->dropped_police++;
		buf_put(sim, b);
		return;
	}
	if (c->rate_bps > 0) {
		uint64_t now_ns = sim->now * 1000;
		uint64_t backlog_ns = l->busy_until_ns > now_ns ? l->busy_until_ns - now_ns : 0;
		uint64_t backlog = backlog_ns * c->rate_bps / 8 / 1000000000u;

		if (c->queue_bytes > 0 && backlog + len > c->queue_bytes) {
			if (tracing())
				fprintf(stderr, "  queue full\n");
			l->dropped_queue++;
			buf_put(sim, b);
			return;
		}
		record_qdelay(l, backlog_ns / 1000, len);
		depart_ns = (l->busy_until_ns > now_ns ? l->busy_until_ns : now_ns) +
		    len * 8 * 1000000000u / c->rate_bps;
		l->busy_until_ns = depart_ns;
	} else {
		record_qdelay(l, 0, len);
	}
	arrive = (depart_ns + 999) / 1000 + c->delay_us;
	if (c->jitter_us > 0)
		arrive += (uint64_t)(sim_rand(sim) * (double)c->jitter_us);
	if (c->reorder > 0 && sim_rand(sim) < c->reorder)
		arrive += c->reorder_us;
	if (c->corrupt > 0 && sim_rand(sim) < c->corrupt) {
		size_t at = (size_t)(sim_rand(sim) * (double)len);

		sim->bufs[b][at] ^= (uint8_t)(1 + (unsigned)(sim_rand(sim) * 255));
		l->corrupted++;
	}
	if (c->duplicate > 0 && sim_rand(sim) < c->duplicate) {
		uint32_t d = buf_get(sim);
		struct sim_event dup = ev;

		memcpy(sim->bufs[d], sim->bufs[b], len);
		dup.buf = d;
		dup.time = arrive + (uint64_t)(sim_rand(sim) * (double)(c->delay_us + 1));
		push(sim, dup);
		l->duplicated++;
	}
	ev.time = arrive;
	push(sim, ev);
}

/* ---- endpoints ---- */

static void
app_write(struct sim *sim, struct sim_node *n)
{
	while (n->written < n->to_send) {
		size_t room;
		uint8_t *dst = stream_write_reserve(n->s, &room);

		if (room == 0)
			break;
		if (room > n->to_send - n->written)
			room = (size_t)(n->to_send - n->written);
		pattern_fill(n->pattern_out, n->written, dst, room);
		stream_write_commit(n->s, room);
		n->written += room;
	}
	if (n->written == n->to_send && !n->shutdown) {
		stream_shutdown_write(n->s);
		n->shutdown = true;
	}
}

static void
app_read(struct sim *sim, struct sim_node *n, uint64_t budget)
{
	uint8_t want[4096];

	while (budget > 0) {
		const uint8_t *data;
		size_t len;

		stream_read_peek(n->s, &data, &len);
		if (len == 0)
			break;
		if (len > budget)
			len = (size_t)budget;
		for (size_t i = 0; i < len; i += sizeof want) {
			size_t k = len - i < sizeof want ? len - i : sizeof want;

			pattern_fill(n->pattern_in, n->received + i, want, k);
			if (n->mismatch_at == 0 && memcmp(want, data + i, k) != 0) {
				for (size_t j = 0; j < k; j++)
					if (want[j] != data[i + j]) {
						n->mismatch_at = n->received + i + j + 1;
						break;
					}
			}
		}
		stream_read_consume(n->s, len);
		n->received += len;
		budget -= len;
	}
}

static void
send_all(struct sim *sim, int i)
{
	struct sim_node *n = &sim->node[i];

	for (;;) {
		uint32_t b = buf_get(sim);
		uint8_t *buf = sim->bufs[b];
		uint64_t pn, t0 = sim->cfg.measure_core ? ticks() : 0;
		struct stream_tail tail;
		size_t len = stream_next_packet_split(n->s, sim->now, buf + PKT_HDR_LEN,
		    sim->buf_cap - PKT_OVERHEAD, &pn, &tail);

		if (sim->cfg.measure_core)
			core_add(n, t0);
		if (len == 0) {
			buf_put(sim, b);
			return;
		}
		/* the shell's way: the payload goes from the send buffer into the datagram */
		if (sim->cfg.crypto) {
			len = tail.len > 0 ? pkt_seal_split(&n->pkt, sim->now, pn, buf,
			    len - tail.len, tail.data, tail.len) :
			    pkt_seal(&n->pkt, sim->now, pn, buf, len);
			if (len == 0)
				abort();	/* the stream reused a packet number */
		} else {
			if (tail.len > 0)
				memcpy(buf + PKT_HDR_LEN + len - tail.len, tail.data, tail.len);
			memcpy(buf + 5, &pn, sizeof pn);
			len += PKT_OVERHEAD;
		}
		link_send(sim, i, b, len);
	}
}

static void
schedule_timer(struct sim *sim, int i)
{
	struct sim_node *n = &sim->node[i];
	uint64_t t = stream_deadline(n->s);

	if (t == UINT64_MAX)
		return;
	if (t <= sim->now)
		t = sim->now + 1;	/* still blocked (e.g. no room): look again shortly */
	if (t < n->timer_at || n->timer_at <= sim->now) {
		n->timer_at = t;
		push(sim, (struct sim_event){ .time = t, .kind = EV_TIMER, .node = (uint32_t)i });
	}
}

static uint64_t
pow2_ceil(uint64_t v)
{
	uint64_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

/* Records the first broken invariant of node i (see sim.h). */
static void
check_invariants(struct sim *sim, int i)
{
	const struct sim_node *n = &sim->node[i], *peer = &sim->node[1 - i];
	const struct stream_config *c = &sim->cfg.stream[i];
	size_t payload = c->max_payload < STREAM_PAYLOAD_MIN ? STREAM_PAYLOAD_MIN :
	    c->max_payload > STREAM_PAYLOAD_MAX ? STREAM_PAYLOAD_MAX : c->max_payload;
	uint64_t sbuf = pow2_ceil(c->send_buffer > 4 * payload ? c->send_buffer : 4 * payload);
	uint64_t rmax = pow2_ceil(c->recv_window_max > 65536 ? c->recv_window_max : 65536);
	uint64_t d = stream_deadline(n->s), idle = c->idle_timeout_us;
	struct stream_stats st;
	const char *what = NULL;

	if (sim->violation[0] != '\0')
		return;
	stream_get_stats(n->s, &st);
	if (n->mismatch_at != 0)
		what = "a byte read out of order or twice";
	else if (n->received > peer->written)
		what = "read more bytes than the peer wrote";
	else if (st.bytes_received < n->received || st.bytes_received > peer->written)
		what = "in-order bytes received out of range";
	else if (st.bytes_acked > st.bytes_sent || st.bytes_sent > n->written)
		what = "acked > sent or sent > written";
	else if (st.bytes_sent > st.send_credit)
		what = "sent beyond the peer's flow credit";
	else if (n->written - st.bytes_acked > sbuf)
		what = "send buffer over its bound";
	else if (st.bytes_received - n->received > rmax || st.recv_window > rmax)
		what = "receive buffer over its bound";
	else if (d != UINT64_MAX && d + SIM_TICK_US < sim->now &&
	    ++sim->node[i].past_deadlines > SIM_MAX_PAST_DEADLINES)
		what = "deadline stays in the past (the shell would spin)";
	else if (d != UINT64_MAX && d > sim->now + (idle ? idle : STREAM_IDLE_TIMEOUT_US_DEFAULT) +
	    SIM_TICK_US)
		what = "deadline further than the idle timeout";
	if (d == UINT64_MAX || d + SIM_TICK_US >= sim->now)
		sim->node[i].past_deadlines = 0;
	if (what != NULL)
		snprintf(sim->violation, sizeof sim->violation, "node %d at %llu us (event %llu): "
		    "%s (read %llu, peer wrote %llu, sent %llu, acked %llu, credit %llu, "
		    "deadline %lld us from now)", i, (unsigned long long)sim->now,
		    (unsigned long long)sim->events, what, (unsigned long long)n->received,
		    (unsigned long long)peer->written, (unsigned long long)st.bytes_sent,
		    (unsigned long long)st.bytes_acked, (unsigned long long)st.send_credit,
		    d == UINT64_MAX ? -1LL : (long long)(d - sim->now));
}

static void
service(struct sim *sim, int i)
{
	struct sim_node *n = &sim->node[i];
	uint64_t t0 = sim->cfg.measure_core ? ticks() : 0;

	if (stream_deadline(n->s) <= sim->now)
		stream_on_timeout(n->s, sim->now);
	if (sim->cfg.measure_core)
		core_add(n, t0);
	app_write(sim, n);
	if (n->read_chunk == 0)
		app_read(sim, n, UINT64_MAX);
	send_all(sim, i);
	if (n->done_at == 0 && stream_state(n->s) != STREAM_OPEN)
		n->done_at = sim->now;
	schedule_timer(sim, i);
	if (sim->cfg.check_invariants)
		check_invariants(sim, i);
}

static void
arrive(struct sim *sim, const struct sim_event *ev)
{
	struct sim_node *n = &sim->node[ev->node];
	uint8_t *buf = sim->bufs[ev->buf];
	uint64_t pn, t0;
	ssize_t len;

	if (sim->cfg.switch_drops_in_flight && ev->epoch != sim->epoch[1 - ev->node]) {
		buf_put(sim, ev->buf);
		return;
	}
	if (sim->cfg.crypto) {
		len = pkt_open(&n->pkt, sim->now, buf, ev->len, &pn);
	} else {
		memcpy(&pn, buf + 5, sizeof pn);
		len = (ssize_t)ev->len - PKT_OVERHEAD;
	}
	if (len < 0) {
		n->open_failures++;
	} else {
		t0 = sim->cfg.measure_core ? ticks() : 0;
		stream_on_packet(n->s, sim->now, pn, buf + PKT_HDR_LEN, (size_t)len);
		if (sim->cfg.measure_core)
			core_add(n, t0);
		if (sim->cfg.crypto) {
			/* what the peer shell does: rekeys wait for an acknowledgment */
			uint64_t acked = stream_largest_acked(n->s);

			if (acked > 0)
				pkt_on_acked(&n->pkt, acked - 1);
		}
	}
	buf_put(sim, ev->buf);
	service(sim, (int)ev->node);
}

static void
path_switch(struct sim *sim)
{
	uint64_t rtt;

	for (int i = 0; i < 2; i++) {
		/* back and forth: odd switches to switch_link, even ones back to link */
		sim->link[i].cfg = sim->switches % 2 == 0 ? sim->cfg.switch_link[i] :
		    sim->cfg.link[i];
		sim->link[i].busy_until_ns = 0;
		sim->link[i].police_started = false;
		sim->epoch[i]++;
	}
	sim->switched = true;
	if (sim->cfg.switch_every_us > 0 && sim->switches < sim->cfg.switch_count)
		push(sim, (struct sim_event){ .time = sim->now + sim->cfg.switch_every_us,
		    .kind = EV_SWITCH });
	sim->switches++;
	/* the propagation RTT of the new links, as a path check would measure it */
	rtt = sim->link[0].cfg.delay_us + sim->link[1].cfg.delay_us;
	for (int i = 0; i < 2; i++) {
		stream_path_changed(sim->node[i].s, sim->now, rtt);
		if (sim->cfg.pmtu_ceiling > 0)
			stream_pmtu_search(sim->node[i].s, sim->now, sim->cfg.pmtu_ceiling);
		service(sim, i);
	}
}

static bool
finished(const struct sim *sim)
{
	for (int i = 0; i < 2; i++) {
		const struct sim_node *n = &sim->node[i];

		if (stream_state(n->s) == STREAM_OPEN || stream_deadline(n->s) <= sim->now)
			return false;
	}
	return true;
}

static void
step(struct sim *sim)
{
	struct sim_event ev = pop(sim);
	struct sim_node *n = &sim->node[ev.node];

	sim->now = ev.time;
	sim->events++;
	switch (ev.kind) {
	case EV_ARRIVE:
		arrive(sim, &ev);
		break;
	case EV_TIMER:
		if (ev.time == n->timer_at) {
			n->timer_at = UINT64_MAX;
			service(sim, (int)ev.node);
		}
		break;
	case EV_READ:
		app_read(sim, n, n->read_chunk);
		service(sim, (int)ev.node);
		if (stream_state(n->s) == STREAM_OPEN)
			push(sim, (struct sim_event){ .time = sim->now + n->read_interval_us,
			    .kind = EV_READ, .node = ev.node });
		break;
	case EV_SWITCH:
		path_switch(sim);
		break;
	case EV_ABORT:
		stream_close(n->s, sim->now, n->abort_reason);
		service(sim, (int)ev.node);
		break;
	default:
		break;
	}
}

uint64_t
sim_run(struct sim *sim)
{
	for (int i = 0; i < 2; i++)
		if (sim->node[i].abort_at_set) {
			sim->node[i].abort_at_set = false;
			push(sim, (struct sim_event){ .time = sim->node[i].abort_at,
			    .kind = EV_ABORT, .node = (uint32_t)i });
		}
	while (sim->heap_n > 0 && sim->heap[0].time <= sim->cfg.max_time_us) {
		step(sim);
		if (finished(sim) || sim->violation[0] != '\0')
			break;
	}
	return sim->now;
}

void
sim_run_until(struct sim *sim, uint64_t t)
{
	for (int i = 0; i < 2; i++)
		if (sim->node[i].abort_at_set) {
			sim->node[i].abort_at_set = false;
			push(sim, (struct sim_event){ .time = sim->node[i].abort_at,
			    .kind = EV_ABORT, .node = (uint32_t)i });
		}
	while (sim->heap_n > 0 && sim->heap[0].time <= t)
		step(sim);
	if (sim->now < t)
		sim->now = t;
}

bool
sim_ok(const struct sim *sim, char *why, size_t cap)
{
	if (sim->violation[0] != '\0') {
		snprintf(why, cap, "%s", sim->violation);
		return false;
	}
	for (int i = 0; i < 2; i++) {
		const struct sim_node *n = &sim->node[i], *peer = &sim->node[1 - i];

		if (n->mismatch_at != 0) {
			snprintf(why, cap, "node %d: wrong byte at offset %llu", i,
			    (unsigned long long)(n->mismatch_at - 1));
			return false;
		}
		if (stream_state(n->s) != STREAM_DONE) {
			snprintf(why, cap, "node %d: state %d at %llu us, received %llu of %llu", i,
			    (int)stream_state(n->s), (unsigned long long)sim->now,
			    (unsigned long long)n->received, (unsigned long long)peer->to_send);
			return false;
		}
		if (n->received != peer->to_send || !stream_read_eof(n->s)) {
			snprintf(why, cap, "node %d: received %llu of %llu", i,
			    (unsigned long long)n->received, (unsigned long long)peer->to_send);
			return false;
		}
	}
	return true;
}
