/* NAT traversal core: candidates, authenticated probes, schedule, birthday search. */
#include <string.h>

#include "clock.h"
#include "traversal.h"
#include "wire.h"

#define DIR_INITIATOR 1
#define DIR_RESPONDER 2
#define PROBE_BODY_LEN (TRAV_PROBE_LEN - HS_PROBE_MAC_LEN)
#define ADDR_FIELD_OFF 10
#define ADDR_FIELD_LEN 19
#define TRIGGER_GAP_US (50 * US_PER_MS)
#define BDAY_SOCK_GAP_US (1 * US_PER_MS)
#define PORT_LOW 1024

static uint64_t
rng_next(struct trav *t)
{
	/* splitmix64: plenty for txids (also MAC-protected) and random ports. */
	uint64_t z = (t->rng += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Gap after the k-th probe of a pair: 50 ms, then doubling up to 800 ms, then 1 s. */
static uint64_t
probe_gap(unsigned k)
{
	if (k >= 5)
		return US_PER_S;
	return (UINT64_C(50) << k) * US_PER_MS;
}

static uint64_t
check_span(const struct trav *t)
{
	return t->p.check_span_us ? t->p.check_span_us : TRAV_CHECK_SPAN_US;
}

/* Higher is better. Same public IP: probably one LAN, host addresses first. */
static int
type_rank(const struct trav *t, uint8_t type)
{
	if (t->same_public_ip)
		return type == TRAV_HOST ? 3 : type == TRAV_PRFLX ? 2 : 1;
	return type == TRAV_SRFLX ? 3 : type == TRAV_PRFLX ? 2 : 1;
}

void
trav_init(struct trav *t, const struct trav_params *p, const struct handshake *hs)
{
	memset(t, 0, sizeof *t);
	t->hs = hs;
	t->p = *p;
	t->rng = p->seed;
	t->best = -1;
	t->n_socks = 1;
	t->retry_at = TIME_NEVER;
	t->state = p->relay_only ? TRAV_RELAY_ONLY : TRAV_WAITING;
}

static bool
usable(const struct netaddr *a)
{
	static const uint8_t zero[16];

	return (a->family == 4 || a->family == 6) && a->port != 0 &&
	    memcmp(a->ip, zero, a->family == 4 ? 4 : 16) != 0;
}

static bool
add_own(struct trav *t, const struct netaddr *a, uint8_t type)
{
	if (!usable(a))
		return true;
	for (unsigned i = 0; i < t->n_own; i++)
		if (netaddr_eq(&t->own[i].addr, a))
			return true;
	if (t->n_own >= TRAV_MAX_CANDS)
		return false;
	t->own[t->n_own].addr = *a;
	t->own[t->n_own].type = type;
	t->n_own++;
	return true;
}

bool
trav_add_host(struct trav *t, const struct netaddr *a)
{
	return add_own(t, a, TRAV_HOST);
}

void
trav_set_reflexive(struct trav *t, const struct netaddr *main, const struct netaddr *alt)
{
	t->refl = *main;
	if (alt != NULL)
		t->refl_alt = *alt;
	/* Endpoint-dependent mapping: the NAT gave the two server ports different ports. */
	t->hard = alt != NULL && usable(main) && usable(alt) && netaddr_same_ip(main, alt) &&
	    main->port != alt->port;
	(void)add_own(t, main, TRAV_SRFLX);
}

size_t
trav_build_candidates(struct trav *t, uint8_t *out, size_t cap)
{
	struct wr w;
	uint8_t flags = 0;

	if (t->hard)
		flags |= TRAV_FLAG_HARD;
	if (t->p.relay_only)
		flags |= TRAV_FLAG_RELAY_ONLY;
	wr_init(&w, out, cap);
	wr_u8(&w, TRAV_CAND_VERSION);
	wr_u8(&w, flags);
	wr_u8(&w, (uint8_t)(t->p.relay_only ? 0 : t->n_own));
	for (unsigned i = 0; i < t->n_own && !t->p.relay_only; i++) {
		wr_u8(&w, t->own[i].type);
		wr_netaddr(&w, &t->own[i].addr);
	}
	return wr_ok(&w) ? wr_len(&w) : 0;
}

static int
find_pair(const struct trav *t, const struct netaddr *a)
{
	for (unsigned i = 0; i < t->n_pairs; i++)
		if (netaddr_eq(&t->pairs[i].addr, a))
			return (int)i;
	return -1;
}

static bool
checking(const struct trav *t)
{
	return t->go && t->have_peer && t->state != TRAV_RELAY_ONLY;
}

static void
start_pair(struct trav *t, struct trav_pair *pr, uint64_t now)
{
	pr->start = now;
	pr->next = now;
	pr->sent = 0;
}

/* Adds (or upgrades) a remote address; returns its index or -1 when the table is full. */
static int
add_pair(struct trav *t, uint64_t now, const struct netaddr *a, uint8_t type)
{
	int i = find_pair(t, a);
	struct trav_pair *pr;

	if (i >= 0) {
		if (type_rank(t, type) > type_rank(t, t->pairs[i].type))
			t->pairs[i].type = type;
		return i;
	}
	if (t->n_pairs >= TRAV_MAX_PAIRS)
		return -1;
	pr = &t->pairs[t->n_pairs];
	memset(pr, 0, sizeof *pr);
	pr->addr = *a;
	pr->type = type;
	pr->next = TIME_NEVER;
	if (checking(t) && t->best < 0)
		start_pair(t, pr, now);
	return (int)t->n_pairs++;
}

static void
begin_round(struct trav *t, uint64_t now)
{
	t->round_start = now;
	t->retry_at = TIME_NEVER;
	if (t->state != TRAV_CONNECTED)
		t->state = TRAV_CHECKING;
	for (unsigned i = 0; i < t->n_pairs; i++)
		if (!t->pairs[i].valid)
			start_pair(t, &t->pairs[i], now);
}

static void
maybe_start(struct trav *t, uint64_t now)
{
	if (!checking(t) || t->state != TRAV_WAITING)
		return;
	t->go_at = now;
	/* Birthday search only when exactly one side maps per destination. */
	t->birthday = t->hard != ((t->peer_flags & TRAV_FLAG_HARD) != 0) &&
	    usable(&t->peer_refl);
	t->bday_start = now + TRAV_BIRTHDAY_AFTER_US;
	t->bday_end = t->bday_start + TRAV_BIRTHDAY_SPAN_US;
	t->bday_next = t->bday_start;
	t->bday_sock_next = 1;
	begin_round(t, now);
}

bool
trav_peer_candidates(struct trav *t, uint64_t now, const uint8_t *msg, size_t len)
{
	struct trav_cand c[TRAV_MAX_CANDS];
	struct rd r;
	unsigned n;
	uint8_t flags;

	rd_init(&r, msg, len);
	if (rd_u8(&r) != TRAV_CAND_VERSION)
		return false;
	flags = rd_u8(&r);
	n = rd_u8(&r);
	if (n > TRAV_MAX_CANDS || (flags & ~(TRAV_FLAG_HARD | TRAV_FLAG_RELAY_ONLY)) != 0)
		return false;
	for (unsigned i = 0; i < n; i++) {
		c[i].type = rd_u8(&r);
		if (c[i].type != TRAV_HOST && c[i].type != TRAV_SRFLX)
			return false;
		if (!rd_netaddr(&r, &c[i].addr))
			return false;
	}
	if (!rd_done(&r) || t->have_peer)
		return false;
	t->have_peer = true;
	t->peer_flags = flags;
	if (flags & TRAV_FLAG_RELAY_ONLY)
		t->state = TRAV_RELAY_ONLY;
	for (unsigned i = 0; i < n; i++)
		if (c[i].type == TRAV_SRFLX && !usable(&t->peer_refl))
			t->peer_refl = c[i].addr;
	t->same_public_ip = usable(&t->peer_refl) && usable(&t->refl) &&
	    netaddr_same_ip(&t->peer_refl, &t->refl);
	for (unsigned i = 0; i < n; i++)
		if (usable(&c[i].addr) && (t->p.relay_only == false))
			(void)add_pair(t, now, &c[i].addr, c[i].type);
	maybe_start(t, now);
	return true;
}

void
trav_go(struct trav *t, uint64_t now)
{
	if (t->go)
		return;
	t->go = true;
	maybe_start(t, now);
}

bool
trav_is_probe(const uint8_t *buf, size_t len)
{
	return len > 0 && buf[0] >= 0x48 && buf[0] <= 0x4b;
}

static uint8_t
own_dir(const struct trav *t)
{
	return t->p.initiator ? DIR_INITIATOR : DIR_RESPONDER;
}

/* Builds a probe into o; false before the handshake is done. */
static bool
build_probe(const struct trav *t, struct trav_out *o, uint8_t kind, uint64_t txid,
    const struct netaddr *observed)
{
	struct wr w;

	memset(o->buf, 0, sizeof o->buf);
	wr_init(&w, o->buf, PROBE_BODY_LEN);
	wr_u8(&w, kind);
	wr_u8(&w, own_dir(t));
	wr_u64(&w, txid);
	if (observed != NULL)
		wr_netaddr(&w, observed);
	if (!wr_ok(&w))
		return false;
	if (hs_probe_mac(t->hs, o->buf + PROBE_BODY_LEN, o->buf, PROBE_BODY_LEN) != 0)
		return false;
	o->len = TRAV_PROBE_LEN;
	return true;
}

/* Makes a request from sock to `to` and remembers its id. */
static bool
make_request(struct trav *t, uint64_t now, unsigned sock, const struct netaddr *to,
    struct trav_out *o)
{
	struct trav_req *q;
	uint64_t txid = rng_next(t);

	if (!build_probe(t, o, TRAV_KIND_REQUEST, txid, NULL))
		return false;
	o->sock = (uint16_t)sock;
	o->to = *to;
	q = &t->reqs[t->req_next];
	t->req_next = (t->req_next + 1) % TRAV_OUTSTANDING;
	q->txid = txid;
	q->sent_at = now;
	q->to = *to;
	q->sock = (uint16_t)sock;
	q->used = true;
	t->st.requests_sent++;
	return true;
}

static struct trav_out *
queue_slot(struct trav *t)
{
	struct trav_out *o;

	if (t->reply_n >= TRAV_REPLIES)
		return NULL;	/* a burst of requests: drop; the peer retries */
	o = &t->replies[(t->reply_head + t->reply_n) % TRAV_REPLIES];
	t->reply_n++;
	return o;
}

static bool
better(const struct trav *t, int a, int b)
{
	if (b < 0)
		return true;
	return type_rank(t, t->pairs[a].type) > type_rank(t, t->pairs[b].type);
}

static void
validated(struct trav *t, uint64_t now, int i, unsigned sock, uint64_t rtt)
{
	struct trav_pair *pr = &t->pairs[i];

	if (pr->valid && pr->sock == sock) {
		if (i == t->best)
			t->consent_last = now;	/* the chosen path still answers */
		return;
	}
	pr->valid = true;
	pr->sock = (uint16_t)sock;
	pr->rtt = rtt;
	pr->next = TIME_NEVER;
	if (t->best < 0 || better(t, i, t->best)) {
		t->best = i;
		t->best_gen++;
		t->consent_last = now;
		t->consent_next = now + TRAV_CONSENT_US;
	}
	t->state = TRAV_CONNECTED;
	t->retry_at = TIME_NEVER;
	/* Stop checking pairs that could not beat the chosen one. */
	for (unsigned k = 0; k < t->n_pairs; k++)
		if (!t->pairs[k].valid && !better(t, (int)k, t->best))
			t->pairs[k].next = TIME_NEVER;
}

static void
on_request(struct trav *t, uint64_t now, unsigned sock, const struct netaddr *from,
    uint64_t txid)
{
	struct trav_out *o;
	int i;

	t->st.requests_rx++;
	/* Always answer to where the request came from, from the socket it reached. */
	o = queue_slot(t);
	if (o != NULL) {
		if (build_probe(t, o, TRAV_KIND_RESPONSE, txid, from)) {
			o->sock = (uint16_t)sock;
			o->to = *from;
			t->st.responses_sent++;
		} else {
			t->reply_n--;
		}
	}
	/* A source we did not know is a peer-reflexive candidate: check it back at once. */
	i = add_pair(t, now, from, TRAV_PRFLX);
	if (i < 0 || (t->pairs[i].valid && t->pairs[i].sock == sock))
		return;
	if (t->best >= 0 && !better(t, i, t->best))
		return;
	if (now - t->pairs[i].last_trigger < TRIGGER_GAP_US && t->pairs[i].last_trigger != 0)
		return;
	t->pairs[i].last_trigger = now;
	o = queue_slot(t);
	if (o != NULL && !make_request(t, now, sock, from, o))
		t->reply_n--;
}

static void
on_response(struct trav *t, uint64_t now, unsigned sock, const struct netaddr *from,
    uint64_t txid)
{
	int i;

	t->st.responses_rx++;
	for (unsigned k = 0; k < TRAV_OUTSTANDING; k++) {
		struct trav_req *q = &t->reqs[k];

		if (!q->used || q->txid != txid)
			continue;
		/* Believed only from where the request went, on the socket it left from. */
		if (q->sock != sock || !netaddr_eq(&q->to, from))
			break;
		q->used = false;
		i = add_pair(t, now, from, TRAV_PRFLX);
		if (i >= 0)
			validated(t, now, i, sock, now - q->sent_at);
		return;
	}
	t->st.unmatched++;
}

void
trav_receive(struct trav *t, uint64_t now, unsigned sock, const struct netaddr *from,
    const uint8_t *buf, size_t len)
{
	struct rd r;
	uint8_t kind, dir;
	uint64_t txid;

	if (t->state == TRAV_RELAY_ONLY && t->p.relay_only)
		return;
	if (len != TRAV_PROBE_LEN || sock >= t->n_socks || !usable(from)) {
		t->st.bad_format++;
		return;
	}
	if (!hs_probe_verify(t->hs, buf + PROBE_BODY_LEN, buf, PROBE_BODY_LEN)) {
		t->st.bad_mac++;
		return;
	}
	rd_init(&r, buf, PROBE_BODY_LEN);
	kind = rd_u8(&r);
	dir = rd_u8(&r);
	txid = rd_u64(&r);
	if (dir == own_dir(t)) {
		t->st.reflected++;	/* our own probe sent back at us */
		return;
	}
	if (dir != DIR_INITIATOR && dir != DIR_RESPONDER) {
		t->st.bad_format++;
		return;
	}
	if (kind == TRAV_KIND_REQUEST)
		on_request(t, now, sock, from, txid);
	else if (kind == TRAV_KIND_RESPONSE)
		on_response(t, now, sock, from, txid);
	else
		t->st.bad_format++;
}

static bool
round_over(const struct trav *t, uint64_t now)
{
	for (unsigned i = 0; i < t->n_pairs; i++)
		if (t->pairs[i].next != TIME_NEVER)
			return false;
	if (t->birthday && t->best < 0 && now < t->bday_end)
		return false;
	return now >= t->round_start + check_span(t) || t->n_pairs == 0;
}

/* Bookkeeping at `now`: pairs whose span ended, failed rounds, background retries. */
static void
advance(struct trav *t, uint64_t now)
{
	if (!checking(t) || t->state == TRAV_WAITING)
		return;
	for (unsigned i = 0; i < t->n_pairs; i++) {
		struct trav_pair *pr = &t->pairs[i];

		if (pr->next != TIME_NEVER && now >= pr->start + check_span(t) && !pr->valid)
			pr->next = TIME_NEVER;
	}
	if (t->state == TRAV_CHECKING && round_over(t, now)) {
		t->state = TRAV_FAILED;
		t->retry_at = now + TRAV_RETRY_US;
	}
	if (t->state == TRAV_FAILED && now >= t->retry_at)
		begin_round(t, now);
	if (t->best >= 0 && now >= t->consent_last + TRAV_CONSENT_TIMEOUT_US) {
		t->paths_lost++;
		trav_path_lost(t, now);
	}
}

/* Consent freshness: keep asking the chosen path whether it still works. */
static bool
poll_consent(struct trav *t, uint64_t now, struct trav_out *o)
{
	const struct trav_pair *pr;

	if (t->best < 0 || now < t->consent_next)
		return false;
	pr = &t->pairs[t->best];
	t->consent_next = now + TRAV_CONSENT_US;
	return make_request(t, now, pr->sock, &pr->addr, o);
}

static bool
poll_birthday(struct trav *t, uint64_t now, struct trav_out *o)
{
	struct netaddr to;

	if (!t->birthday || t->best >= 0 || now < t->bday_next || now >= t->bday_end)
		return false;
	if (t->hard) {
		/* Every extra socket opens a mapping towards the easy side's address. */
		if (t->n_socks < 2) {
			t->bday_next = now + BDAY_SOCK_GAP_US;
			return false;
		}
		if (t->bday_sock_next >= t->n_socks)
			t->bday_sock_next = 1;
		if (!make_request(t, now, t->bday_sock_next, &t->peer_refl, o))
			return false;
		t->bday_sock_next++;
		t->bday_next = now + (t->bday_sock_next >= t->n_socks ?
		    TRAV_BIRTHDAY_REFRESH_US : BDAY_SOCK_GAP_US);
	} else {
		to = t->peer_refl;
		to.port = (uint16_t)(PORT_LOW + rng_next(t) % (65536 - PORT_LOW));
		if (!make_request(t, now, 0, &to, o))
			return false;
		t->bday_next = now + US_PER_S / TRAV_BIRTHDAY_RATE;
	}
	t->st.birthday_probes++;
	return true;
}

bool
trav_poll(struct trav *t, uint64_t now, struct trav_out *o)
{
	if (t->reply_n > 0) {
		*o = t->replies[t->reply_head];
		t->reply_head = (t->reply_head + 1) % TRAV_REPLIES;
		t->reply_n--;
		return true;
	}
	advance(t, now);
	if (!checking(t) || t->state == TRAV_WAITING)
		return false;
	for (unsigned i = 0; i < t->n_pairs; i++) {
		struct trav_pair *pr = &t->pairs[i];

		if (pr->next > now)
			continue;
		if (!make_request(t, now, 0, &pr->addr, o))
			return false;
		pr->next = now + probe_gap(pr->sent);
		pr->sent++;
		return true;
	}
	if (poll_consent(t, now, o))
		return true;
	return poll_birthday(t, now, o);
}

uint64_t
trav_deadline(const struct trav *t)
{
	uint64_t d = TIME_NEVER;

	if (t->reply_n > 0)
		return 0;
	if (!checking(t) || t->state == TRAV_WAITING)
		return TIME_NEVER;
	for (unsigned i = 0; i < t->n_pairs; i++) {
		const struct trav_pair *pr = &t->pairs[i];

		if (pr->next < d)
			d = pr->next;
		/* The end of a pair's span may end the round. */
		if (pr->next != TIME_NEVER && pr->start + check_span(t) < d)
			d = pr->start + check_span(t);
	}
	if (t->birthday && t->best < 0 && t->bday_end > t->bday_next && t->bday_next < d)
		d = t->bday_next;
	if (t->state == TRAV_CHECKING) {
		/* When the round may end: after the span, and after a running birthday search. */
		uint64_t end = t->round_start + check_span(t);

		if (t->birthday && t->best < 0 && t->bday_end > end)
			end = t->bday_end;
		if (end < d)
			d = end;
	}
	if (t->state == TRAV_FAILED && t->retry_at < d)
		d = t->retry_at;
	if (t->best >= 0) {
		if (t->consent_next < d)
			d = t->consent_next;
		if (t->consent_last + TRAV_CONSENT_TIMEOUT_US < d)
			d = t->consent_last + TRAV_CONSENT_TIMEOUT_US;
	}
	return d;
}

unsigned
trav_sockets_wanted(const struct trav *t)
{
	if (t->hard && t->have_peer && !(t->peer_flags & TRAV_FLAG_HARD) &&
	    t->state != TRAV_RELAY_ONLY)
		return TRAV_BIRTHDAY_SOCKS;
	return 1;
}

void
trav_set_sockets(struct trav *t, unsigned n)
{
	t->n_socks = n < 1 ? 1 : n > TRAV_MAX_SOCKS ? TRAV_MAX_SOCKS : n;
}

enum trav_state
trav_get_state(const struct trav *t)
{
	return t->state;
}

bool
trav_best(const struct trav *t, unsigned *sock, struct netaddr *to, uint64_t *rtt)
{
	if (t->best < 0)
		return false;
	if (sock != NULL)
		*sock = t->pairs[t->best].sock;
	if (to != NULL)
		*to = t->pairs[t->best].addr;
	if (rtt != NULL)
		*rtt = t->pairs[t->best].rtt;
	return true;
}

uint64_t
trav_generation(const struct trav *t)
{
	return t->best_gen;
}

void
trav_path_lost(struct trav *t, uint64_t now)
{
	if (t->best < 0)
		return;
	for (unsigned i = 0; i < t->n_pairs; i++)
		t->pairs[i].valid = false;
	t->best = -1;
	t->best_gen++;
	t->state = TRAV_CHECKING;
	begin_round(t, now);
}

bool
trav_failed(const struct trav *t)
{
	return t->state == TRAV_RELAY_ONLY ||
	    (t->state == TRAV_FAILED && t->best < 0);
}

bool
trav_peer_hard(const struct trav *t)
{
	return (t->peer_flags & TRAV_FLAG_HARD) != 0;
}
