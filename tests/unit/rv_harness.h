/*
 * In-memory world for the rendezvous tests: one real server core and a few real clients, each
 * client with the source address the server sees on each of its two ports (different ports model
 * an endpoint-dependent NAT). Datagrams are delivered at once; `drop` can lose some.
 * Header-only (static functions) so each test program includes it.
 */
#ifndef RV_HARNESS_H
#define RV_HARNESS_H

#include <string.h>

#include "clock.h"
#include "rv_client.h"
#include "server_core.h"

#define W_NODES 4

struct node {
	struct rv_client c;
	bool used;
	struct netaddr addr[2];		/* as the server sees us on port 0 / port 1 */
	bool port1_dead;		/* the discovery port never answers */
	uint8_t relay_rx[RV_MAX_PACKET];
	size_t relay_rx_len;
	unsigned relay_rx_count;
	unsigned sent[0x70];		/* datagrams sent by first byte */
};

struct world {
	struct server s;
	struct node n[W_NODES];
	uint64_t now;
	unsigned drop_pct;		/* lose this percentage of datagrams (seeded, repeatable) */
	uint32_t rng;
	unsigned delivered;
};

static inline void
w_addr(struct netaddr *a, uint8_t last, uint16_t port)
{
	memset(a, 0, sizeof *a);
	a->family = 4;
	a->ip[0] = 203;
	a->ip[1] = 0;
	a->ip[2] = 113;
	a->ip[3] = last;
	a->port = port;
}

static inline int
w_init(struct world *w, const struct server_cfg *cfg)
{
	memset(w, 0, sizeof *w);
	w->now = 1000 * US_PER_S;
	return server_init(&w->s, cfg, w->now);
}

static inline struct node *
w_node(struct world *w, int i, uint32_t nameplate, bool claim_only)
{
	struct node *n = &w->n[i];
	struct rv_client_cfg cfg = { .nameplate = nameplate, .claim_only = claim_only };

	memset(n, 0, sizeof *n);
	n->used = true;
	w_addr(&n->addr[0], (uint8_t)(10 + i), (uint16_t)(40000 + i));
	n->addr[1] = n->addr[0];
	rv_client_init(&n->c, &cfg, w->now);
	return n;
}

static inline bool
w_lose(struct world *w)
{
	if (w->drop_pct == 0)
		return false;
	w->rng = w->rng * 1103515245u + 12345u;
	return (w->rng >> 16) % 100 < w->drop_pct;
}

static inline void
w_to_client(struct world *w, const struct netaddr *to, unsigned pi, const uint8_t *buf,
    size_t len)
{
	if (w_lose(w))
		return;
	for (int i = 0; i < W_NODES; i++) {
		struct node *n = &w->n[i];
		const uint8_t *pkt;
		size_t plen;

		if (!n->used || !netaddr_eq(&n->addr[pi], to))
			continue;
		w->delivered++;
		if (len > 0 && buf[0] == RV_RELAY_FWD) {
			if (rv_client_relay_unwrap(&n->c, buf, len, &pkt, &plen)) {
				memcpy(n->relay_rx, pkt, plen);
				n->relay_rx_len = plen;
				n->relay_rx_count++;
			}
		} else {
			rv_client_input(&n->c, w->now, pi, buf, len);
		}
		return;
	}
}

/* Sends one datagram from node n (port pi) to the server and delivers what comes back. */
static inline void
w_to_server(struct world *w, struct node *n, unsigned pi, uint8_t *buf, size_t len)
{
	const uint8_t *out;
	struct netaddr to;
	unsigned opi;
	size_t m;
	uint8_t qbuf[RV_MAX_PACKET];

	if (len > 0 && buf[0] < 0x70)
		n->sent[buf[0]]++;
	if (w_lose(w) || (pi == 1 && n->port1_dead))
		return;
	m = server_input(&w->s, w->now, pi, &n->addr[pi], buf, len, &out, &to, &opi);
	if (m > 0) {
		uint8_t copy[RV_MAX_PACKET];

		memcpy(copy, out, m);
		w_to_client(w, &to, opi, copy, m);
	}
	while ((m = server_output(&w->s, w->now, qbuf, sizeof qbuf, &to, &opi)) > 0)
		w_to_client(w, &to, opi, qbuf, m);
}

/* Runs everything due at w->now until quiet. */
static inline void
w_pump(struct world *w)
{
	uint8_t buf[RV_MAX_PACKET];

	for (int round = 0; round < 1000; round++) {
		bool any = false;

		if (server_deadline(&w->s) <= w->now) {
			uint8_t qbuf[RV_MAX_PACKET];
			struct netaddr to;
			unsigned opi;
			size_t m;

			server_on_timeout(&w->s, w->now);
			while ((m = server_output(&w->s, w->now, qbuf, sizeof qbuf, &to, &opi)) > 0)
				w_to_client(w, &to, opi, qbuf, m);
		}
		for (int i = 0; i < W_NODES; i++) {
			struct node *n = &w->n[i];
			unsigned pi;
			size_t len;

			if (!n->used)
				continue;
			if (rv_client_deadline(&n->c) <= w->now)
				rv_client_on_timeout(&n->c, w->now);
			while ((len = rv_client_output(&n->c, w->now, buf, sizeof buf, &pi)) > 0) {
				any = true;
				w_to_server(w, n, pi, buf, len);
			}
		}
		if (!any)
			return;
	}
}

/* Advances virtual time to `until` in steps of step_us, pumping at each. */
static inline void
w_run(struct world *w, uint64_t dur_us, uint64_t step_us)
{
	uint64_t until = w->now + dur_us;

	w_pump(w);
	while (w->now < until) {
		w->now += step_us;
		w_pump(w);
	}
}

/* The next event of node n of this kind, skipping others; false if none. */
static inline bool
w_event(struct node *n, enum rv_event_kind kind, struct rv_event *ev)
{
	while (rv_client_next_event(&n->c, ev))
		if (ev->kind == kind)
			return true;
	return false;
}

#endif
