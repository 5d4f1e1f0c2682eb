/* The server's protocol logic: cookies, rooms, peer message forwarding, GO, relay, expiry. */
#include "server_core.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "clock.h"
#include "log.h"

#define COOKIE_MAC_LEN (RV_COOKIE_LEN - 1)
/* REBIND replies (to addresses not yet proved) per second, server-wide. */
#define REBIND_RATE 200.0
/* An ERROR message: type, version, nonce, code. */
#define RV_ERROR_LEN (2 + RV_NONCE_LEN + 1)

void
server_cfg_defaults(struct server_cfg *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->max_rooms = 100000;
	cfg->nameplate_max = RV_NAMEPLATE_MAX;
	cfg->ip_rate_per_min = 30;
	cfg->ip_burst = 10;
	cfg->room_expiry_s = 600;
	cfg->idle_s = 120;
	cfg->burn_s = 600;
	cfg->cooldown_s = 60;
	cfg->relay_rate = 12.5e6;
	cfg->relay_burst = 1e6;
	cfg->relay_quota = UINT64_C(10000000000);
	cfg->global_relay_rate = 125e6;
	cfg->free_joins = 50;
	cfg->max_packet = RV_MAX_PACKET;
	cfg->no_relay = false;
}

/* One second's worth of cookieless claims may come at once. */
static double
free_join_burst(const struct server_cfg *cfg)
{
	return cfg->free_joins < 1 ? 1 : cfg->free_joins;
}

int
server_init(struct server *s, const struct server_cfg *cfg, uint64_t now)
{
	unsigned ip_log2 = 10;

	memset(s, 0, sizeof *s);
	if (sodium_init() < 0 || cfg->max_rooms == 0 || cfg->max_rooms > SRV_MAX_ROOMS ||
	    cfg->max_packet < RV_FIRST_LEN || cfg->max_packet > RV_MAX_PACKET ||
	    cfg->ip_rate_per_min <= 0 || cfg->ip_burst < 1 || cfg->relay_burst < cfg->max_packet ||
	    cfg->free_joins < 0)
		return -1;
	s->cfg = *cfg;
	if (srv_table_init(&s->table, cfg->max_rooms, cfg->nameplate_max) != 0)
		return -1;
	/* per-IP buckets: twice the rooms, 1024 to 65536 entries */
	while (ip_log2 < 16 && (1u << ip_log2) < 2 * cfg->max_rooms)
		ip_log2++;
	if (ip_table_init(&s->ips, ip_log2, cfg->ip_rate_per_min / 60.0, cfg->ip_burst,
	    randombytes_random() | (uint64_t)randombytes_random() << 32) != 0) {
		srv_table_free(&s->table);
		return -1;
	}
	tb_init(&s->global_relay, cfg->global_relay_rate / 10, now);	/* 100 ms worth */
	tb_init(&s->rebind_bucket, REBIND_RATE, now);
	tb_init(&s->free_joins, free_join_burst(cfg), now);
	randombytes_buf(s->secret_cur, sizeof s->secret_cur);
	randombytes_buf(s->secret_prev, sizeof s->secret_prev);
	s->bucket_cur = now / RV_COOKIE_PERIOD_US;
	s->recent_key = randombytes_random() | (uint64_t)randombytes_random() << 32;
	s->start = now;
	return 0;
}

void
server_free(struct server *s)
{
	srv_table_free(&s->table);
	ip_table_free(&s->ips);
	sodium_memzero(s->secret_cur, sizeof s->secret_cur);
	sodium_memzero(s->secret_prev, sizeof s->secret_prev);
}

/* ---- cookies ---- */

static void
cookie_rotate(struct server *s, uint64_t now)
{
	uint64_t b = now / RV_COOKIE_PERIOD_US;

	if (b <= s->bucket_cur)
		return;
	if (b == s->bucket_cur + 1)
		memcpy(s->secret_prev, s->secret_cur, sizeof s->secret_prev);
	else
		randombytes_buf(s->secret_prev, sizeof s->secret_prev);
	randombytes_buf(s->secret_cur, sizeof s->secret_cur);
	s->bucket_cur = b;
}

static void
cookie_mac(const uint8_t secret[32], uint64_t bucket, const struct netaddr *a,
    uint8_t mac[COOKIE_MAC_LEN])
{
	uint8_t in[1 + 16 + 2 + 8];

	in[0] = a->family;
	memcpy(in + 1, a->ip, 16);
	in[17] = (uint8_t)(a->port >> 8);
	in[18] = (uint8_t)a->port;
	for (int i = 0; i < 8; i++)
		in[19 + i] = (uint8_t)(bucket >> (8 * (7 - i)));
	crypto_generichash(mac, COOKIE_MAC_LEN, in, sizeof in, secret, 32);
}

void
server_make_cookie(struct server *s, uint64_t now, const struct netaddr *a,
    uint8_t cookie[RV_COOKIE_LEN])
{
	cookie_rotate(s, now);
	cookie[0] = (uint8_t)s->bucket_cur;
	cookie_mac(s->secret_cur, s->bucket_cur, a, cookie + 1);
}

/* Valid in the bucket it was made in and the next one (2 to 4 minutes). */
static bool
cookie_ok(struct server *s, uint64_t now, const struct netaddr *a,
    const uint8_t cookie[RV_COOKIE_LEN])
{
	uint8_t mac[COOKIE_MAC_LEN];

	cookie_rotate(s, now);
	if (cookie[0] == (uint8_t)s->bucket_cur)
		cookie_mac(s->secret_cur, s->bucket_cur, a, mac);
	else if (cookie[0] == (uint8_t)(s->bucket_cur - 1))
		cookie_mac(s->secret_prev, s->bucket_cur - 1, a, mac);
	else
		return false;
	return sodium_memcmp(mac, cookie + 1, COOKIE_MAC_LEN) == 0;
}

/* ---- replies ---- */

/*
 * Encodes m into scratch as a reply to `from`. Unless the address is proved (cookie or member
 * token), a reply longer than the request is not sent: amplification stays <= 1.
 */
static size_t
reply(struct server *s, const struct rv_msg *m, size_t req_len, bool proved, const uint8_t **out)
{
	size_t n = rv_encode(m, s->scratch, sizeof s->scratch);

	if (n == 0 || (!proved && n > req_len)) {
		s->ctr.drop_amplification++;
		return 0;
	}
	*out = s->scratch;
	return n;
}

static size_t
reply_error(struct server *s, const uint8_t nonce[RV_NONCE_LEN], uint8_t code, size_t req_len,
    bool proved, const uint8_t **out)
{
	struct rv_msg m = { .type = RV_ERROR, .code = code };

	memcpy(m.nonce, nonce, RV_NONCE_LEN);
	return reply(s, &m, req_len, proved, out);
}

/*
 * Pays for n bytes to a member admitted without a cookie (join_without_cookie) out of what it
 * sent; false when they would exceed it. Proved members always pass.
 */
static bool
member_may_send(struct server *s, struct srv_member *mem, size_t n)
{
	if (!mem->unproved)
		return true;
	if (n > mem->budget) {
		s->ctr.drop_amplification++;
		return false;
	}
	mem->budget = (uint16_t)(mem->budget - n);
	return true;
}

static void
enqueue(struct server *s, const struct srv_member *mem, uint32_t room_id, uint8_t member,
    uint8_t type, uint8_t code)
{
	struct srv_qent *e;

	if (s->q_count == SRV_QUEUE_LEN) {
		s->ctr.drop_queue_full++;
		return;
	}
	e = &s->q[(s->q_head + s->q_count++) % SRV_QUEUE_LEN];
	e->room_id = room_id;
	e->member = member;
	e->type = type;
	e->code = code;
	e->to = mem->addr;
	memcpy(e->nonce, mem->nonce, RV_NONCE_LEN);
}

/* ---- JOIN ---- */

static size_t
recent_index(const struct server *s, const uint8_t nonce[RV_NONCE_LEN])
{
	uint8_t k[crypto_shorthash_KEYBYTES] = { 0 }, h[crypto_shorthash_BYTES];
	uint64_t v = 0;

	memcpy(k, &s->recent_key, sizeof s->recent_key);
	crypto_shorthash(h, nonce, RV_NONCE_LEN, k);
	for (int i = 0; i < 8; i++)
		v = v << 8 | h[i];
	return (size_t)(v % (sizeof s->recent / sizeof s->recent[0]));
}

static size_t
reply_joined(struct server *s, struct srv_room *r, uint8_t member, const uint8_t **out)
{
	const struct srv_member *mem = &r->m[member];
	struct rv_msg m = { .type = RV_JOINED };
	size_t n;

	memcpy(m.nonce, mem->nonce, RV_NONCE_LEN);
	m.nameplate = r->nameplate;
	m.role = member == 0 ? RV_ROLE_INITIATOR : RV_ROLE_RESPONDER;
	m.flags = (uint8_t)((r->nmembers == 2 ? RV_FLAG_PEER_PRESENT : 0) |
	    (s->cfg.no_relay ? 0 : RV_FLAG_RELAY));
	m.expiry_s = (uint16_t)(s->cfg.room_expiry_s > 65535 ? 65535 : s->cfg.room_expiry_s);
	memcpy(m.sid, r->sid, RV_SID_LEN);
	m.auth.room_id = r->id;
	m.auth.member = member;
	memcpy(m.auth.token, mem->token, RV_TOKEN_LEN);
	m.addr = mem->addr;
	n = reply(s, &m, 0, true, out);
	return member_may_send(s, &r->m[member], n) ? n : 0;
}

/* A retransmitted JOIN (its JOINED was lost) gets the same membership again. */
static int
join_retransmit(struct server *s, const struct rv_msg *m, const struct netaddr *from)
{
	struct srv_room *r;

	if (m->flags & RV_JOIN_ALLOCATE) {
		size_t i = recent_index(s, m->nonce);

		if (memcmp(s->recent[i].nonce, m->nonce, RV_NONCE_LEN) != 0)
			return -1;
		r = srv_room_by_id(&s->table, s->recent[i].room_id);
	} else {
		r = srv_room_by_nameplate(&s->table, m->nameplate);
	}
	if (r == NULL)
		return -1;
	for (uint8_t i = 0; i < r->nmembers; i++) {
		if (sodium_memcmp(r->m[i].nonce, m->nonce, RV_NONCE_LEN) != 0)
			continue;
		/* the same client (its NAT may have moved it since; the cookie proved the new address) */
		r->m[i].addr = *from;
		r->m[i].unproved = false;
		return (int)(srv_room_slot(&s->table, r) << 1 | i);
	}
	return -1;
}

static void
member_init(struct srv_member *mem, const struct netaddr *from, const uint8_t *nonce)
{
	mem->addr = *from;
	memcpy(mem->nonce, nonce, RV_NONCE_LEN);
	randombytes_buf(mem->token, RV_TOKEN_LEN);
	mem->ready = false;
	mem->go_sent = false;
	mem->unproved = false;
	mem->budget = 0;
}

static struct srv_room *
create_room(struct server *s, uint64_t now, uint32_t nameplate, const struct rv_msg *m,
    const struct netaddr *from)
{
	struct srv_room *r = srv_room_create(&s->table, nameplate, now);

	if (r == NULL)
		return NULL;
	member_init(&r->m[0], from, m->nonce);
	tb_init(&r->relay_bucket, s->cfg.relay_burst, now);
	s->ctr.rooms_created++;
	log_verbose(1, "room %08x created (%u rooms)", r->id, s->table.nrooms);
	return r;
}

/*
 * A JOIN without a cookie that claims the free seat of a waiting room is admitted while the
 * server is not under load (at most cfg.free_joins per second; WireGuard answers handshakes
 * without a cookie the same way): it saves the joining peer, the one a person waits for, a
 * round trip. Rooms are still only created with a cookie. The new member is unproved: replies
 * and everything forwarded to it are paid from the bytes of its JOIN (member_may_send) until
 * a message with its token comes in, so a JOIN with a forged source reflects no more than it
 * cost. A retransmitted cookieless JOIN from the same address gets its JOINED again.
 * Returns 0 when the JOIN needs a cookie after all.
 */
static size_t
join_without_cookie(struct server *s, uint64_t now, const struct rv_msg *m,
    const struct netaddr *from, size_t len, const uint8_t **out)
{
	struct srv_room *r;
	struct srv_member *mem;

	if ((m->flags & RV_JOIN_ALLOCATE) || m->nameplate > s->table.np_max ||
	    (r = srv_room_by_nameplate(&s->table, m->nameplate)) == NULL)
		return 0;
	if (r->nmembers == 2) {
		mem = &r->m[1];
		if (!mem->unproved || !netaddr_eq(&mem->addr, from) ||
		    sodium_memcmp(mem->nonce, m->nonce, RV_NONCE_LEN) != 0)
			return 0;
		mem->budget = (uint16_t)(mem->budget + len > UINT16_MAX ? UINT16_MAX :
		    mem->budget + len);
		return reply_joined(s, r, 1, out);
	}
	if (s->cfg.free_joins <= 0 || srv_np_burned(&s->table, m->nameplate,
	    (uint32_t)(now / US_PER_S)) || !ip_table_take(&s->ips, from, now))
		return 0;
	if (!tb_take(&s->free_joins, now, s->cfg.free_joins, free_join_burst(&s->cfg), 1))
		return 0;	/* under load: everyone shows a cookie first */
	mem = &r->m[1];
	member_init(mem, from, m->nonce);
	mem->unproved = true;
	mem->budget = (uint16_t)(len > UINT16_MAX ? UINT16_MAX : len);
	srv_room_add_member(&s->table, r, now);
	s->ctr.rooms_joined++;
	s->ctr.free_joins++;
	enqueue(s, &r->m[0], r->id, 0, RV_PEER_JOINED, 0);
	log_verbose(1, "room %08x: second member joined (no cookie: not under load)", r->id);
	return reply_joined(s, r, 1, out);
}

static size_t
handle_join(struct server *s, uint64_t now, const struct rv_msg *m, const struct netaddr *from,
    size_t len, const uint8_t **out)
{
	uint32_t now_s = (uint32_t)(now / US_PER_S);
	struct srv_room *r;
	int again;

	if (s->shutting_down)
		return reply_error(s, m->nonce, RV_E_SHUTTING_DOWN, len, false, out);
	if (!cookie_ok(s, now, from, m->cookie)) {
		struct rv_msg c = { .type = RV_COOKIE };
		size_t n;

		if (!sodium_is_zero(m->cookie, RV_COOKIE_LEN))
			s->ctr.drop_bad_cookie++;
		else if ((n = join_without_cookie(s, now, m, from, len, out)) > 0)
			return n;
		memcpy(c.nonce, m->nonce, RV_NONCE_LEN);
		server_make_cookie(s, now, from, c.cookie);
		s->ctr.cookies_sent++;
		return reply(s, &c, len, false, out);
	}
	/* from here the source address is proved */
	again = join_retransmit(s, m, from);
	if (again >= 0)
		return reply_joined(s, &s->table.rooms[again >> 1], (uint8_t)(again & 1), out);
	if (!ip_table_take(&s->ips, from, now)) {
		s->ctr.rate_limited++;
		return reply_error(s, m->nonce, RV_E_RATE_LIMITED, len, true, out);
	}
	if (m->flags & RV_JOIN_ALLOCATE) {
		uint32_t np = s->table.nrooms < s->cfg.max_rooms ? srv_np_pick(&s->table, now_s) : 0;
		size_t i;

		if (np == 0 || (r = create_room(s, now, np, m, from)) == NULL) {
			s->ctr.server_full++;
			return reply_error(s, m->nonce, RV_E_SERVER_FULL, len, true, out);
		}
		i = recent_index(s, m->nonce);
		memcpy(s->recent[i].nonce, m->nonce, RV_NONCE_LEN);
		s->recent[i].room_id = r->id;
		return reply_joined(s, r, 0, out);
	}
	if (m->nameplate > s->table.np_max) {
		/* only with a nameplate table smaller than the wire's range (tests, fuzzers) */
		s->ctr.unknown_nameplate++;
		return reply_error(s, m->nonce, RV_E_BAD_NAMEPLATE, len, true, out);
	}
	if (srv_np_burned(&s->table, m->nameplate, now_s)) {
		s->ctr.burned_refused++;
		return reply_error(s, m->nonce, RV_E_BURNED, len, true, out);
	}
	r = srv_room_by_nameplate(&s->table, m->nameplate);
	if (r == NULL) {
		if (m->flags & RV_JOIN_CLAIM_ONLY) {
			s->ctr.unknown_nameplate++;
			return reply_error(s, m->nonce, RV_E_UNKNOWN_NAMEPLATE, len, true, out);
		}
		if (s->table.nrooms >= s->cfg.max_rooms ||
		    (r = create_room(s, now, m->nameplate, m, from)) == NULL) {
			s->ctr.server_full++;
			return reply_error(s, m->nonce, RV_E_SERVER_FULL, len, true, out);
		}
		return reply_joined(s, r, 0, out);
	}
	if (r->nmembers == 2) {
		s->ctr.room_full++;
		return reply_error(s, m->nonce, RV_E_ROOM_FULL, len, true, out);
	}
	member_init(&r->m[1], from, m->nonce);
	srv_room_add_member(&s->table, r, now);
	s->ctr.rooms_joined++;
	enqueue(s, &r->m[0], r->id, 0, RV_PEER_JOINED, 0);
	log_verbose(1, "room %08x: second member joined", r->id);
	return reply_joined(s, r, 1, out);
}

/* ---- member messages ---- */

static void
free_room(struct server *s, struct srv_room *r, uint64_t now, bool burn)
{
	srv_room_free(&s->table, r, (uint32_t)(now / US_PER_S),
	    burn ? s->cfg.burn_s : s->cfg.cooldown_s, burn);
}

/* NO_ROOM: the nonce field names the room instead (the client accepts that for NO_ROOM). */
static size_t
reply_no_room(struct server *s, uint32_t room_id, uint8_t member, size_t len,
    const uint8_t **out)
{
	uint8_t tag[RV_NONCE_LEN] = { 0 };

	tag[0] = (uint8_t)(room_id >> 24);
	tag[1] = (uint8_t)(room_id >> 16);
	tag[2] = (uint8_t)(room_id >> 8);
	tag[3] = (uint8_t)room_id;
	tag[4] = member;
	s->ctr.no_room++;
	return reply_error(s, tag, RV_E_NO_ROOM, len, false, out);
}

static size_t
handle_member(struct server *s, uint64_t now, const struct rv_msg *m, const struct netaddr *from,
    size_t len, const uint8_t **out, struct netaddr *to)
{
	struct srv_room *r = srv_room_by_id(&s->table, m->auth.room_id);
	struct srv_member *me, *other;
	uint8_t who = m->auth.member;

	if (r == NULL)
		return reply_no_room(s, m->auth.room_id, who, len, out);
	if (who >= r->nmembers || sodium_memcmp(r->m[who].token, m->auth.token, RV_TOKEN_LEN) != 0) {
		/* the same answer as for an unknown room: a member of a room this server lost
		 * (restart) whose id is in use again re-joins, and a guesser learns nothing */
		s->ctr.drop_bad_token++;
		return reply_no_room(s, m->auth.room_id, who, len, out);
	}
	me = &r->m[who];
	me->unproved = false;	/* its token came back: it got our JOINED */
	other = r->nmembers == 2 ? &r->m[who ^ 1] : NULL;
	if (!netaddr_eq(&me->addr, from)) {
		/* the token proves it: the member moved (NAT rebinding) */
		me->addr = *from;
		s->ctr.rebinds++;
		log_verbose(2, "room %08x: member %u moved", r->id, who);
	}
	srv_room_touch(&s->table, r, now);
	switch (m->type) {
	case RV_PEER_SEND: {
		struct rv_msg f = { .type = RV_PEER_RECV, .seq = m->seq, .ack = m->ack,
			.payload = m->payload, .payload_len = m->payload_len };
		size_t n;

		if (other == NULL) {
			s->ctr.drop_no_peer++;
			return 0;
		}
		memcpy(f.nonce, other->nonce, RV_NONCE_LEN);
		n = reply(s, &f, len, true, out);
		if (!member_may_send(s, other, n))
			return 0;	/* the sender retransmits; by then it may be proved */
		*to = other->addr;	/* forwarded to the other member, not back */
		return n;
	}
	case RV_READY: {
		struct rv_msg g = { .type = RV_GO };

		me->ready = true;
		if (other == NULL || !other->ready)
			return 0;
		if (!other->go_sent) {
			other->go_sent = true;
			enqueue(s, other, r->id, who ^ 1, RV_GO, 0);
		}
		if (!me->go_sent) {
			me->go_sent = true;
			s->ctr.go_sent++;
		}
		memcpy(g.nonce, me->nonce, RV_NONCE_LEN);
		return reply(s, &g, len, true, out);
	}
	case RV_FAIL:
		if (other != NULL)
			enqueue(s, other, r->id, who ^ 1, RV_PEER_LEFT, RV_LEFT_PAKE_FAILED);
		s->ctr.rooms_burned++;
		log_info("room %08x: key exchange failed; nameplate burned for %u s", r->id,
		    s->cfg.burn_s);
		free_room(s, r, now, true);
		return 0;
	case RV_LEAVE:
		if (other != NULL)
			enqueue(s, other, r->id, who ^ 1, RV_PEER_LEFT, RV_LEFT_LEAVE);
		s->ctr.rooms_left++;
		log_verbose(1, "room %08x: member %u left", r->id, who);
		free_room(s, r, now, false);
		return 0;
	case RV_KEEPALIVE: {
		struct rv_msg k = { .type = RV_KEEPALIVE_ACK, .addr = *from };

		k.flags = (uint8_t)((other ? RV_FLAG_PEER_PRESENT : 0) |
		    (s->cfg.no_relay ? 0 : RV_FLAG_RELAY));
		memcpy(k.nonce, me->nonce, RV_NONCE_LEN);
		return reply(s, &k, len, false, out);
	}
	default:
		return 0;
	}
}

/* ---- relay ---- */

static size_t
handle_relay(struct server *s, uint64_t now, unsigned port_index, const struct netaddr *from,
    uint8_t *buf, size_t len, const uint8_t **out, struct netaddr *to)
{
	struct rv_relay_hdr h;
	struct srv_room *r;
	struct srv_member *other;

	if (!rv_relay_hdr_read(&h, buf, len) || h.type != RV_RELAY_DATA || port_index != 0) {
		s->ctr.drop_malformed++;
		return 0;
	}
	r = srv_room_by_id(&s->table, h.room_id);
	if (r == NULL || h.member >= r->nmembers) {
		/* after a restart the peers learn at once that their room is gone and re-join
		 * (ERROR is shorter than any envelope with a packet; shares the REBIND budget) */
		s->ctr.relay_unbound++;
		if (len < RV_ERROR_LEN)
			return 0;	/* an empty envelope: ERROR would be longer */
		if (!tb_take(&s->rebind_bucket, now, REBIND_RATE, REBIND_RATE, 1)) {
			s->ctr.relay_rebind_limited++;
			return 0;
		}
		return reply_no_room(s, h.room_id, h.member, len, out);
	}
	if (s->cfg.no_relay) {
		s->ctr.relay_denied++;
		return 0;
	}
	if (!netaddr_eq(&r->m[h.member].addr, from)) {
		/* maybe the member's NAT moved it: ask it to prove its token (8 bytes, <= len) */
		s->ctr.relay_unbound++;
		if (!tb_take(&s->rebind_bucket, now, REBIND_RATE, REBIND_RATE, 1)) {
			s->ctr.relay_rebind_limited++;
			return 0;
		}
		s->ctr.relay_rebind_sent++;
		rv_relay_hdr_write(s->scratch, RV_RELAY_REBIND, h.member, h.room_id);
		*out = s->scratch;
		*to = *from;
		return RV_RELAY_HDR_LEN;
	}
	if (r->nmembers < 2) {
		s->ctr.relay_denied++;
		return 0;
	}
	if (r->relay_bytes + len > s->cfg.relay_quota) {
		if (!r->relay_over_quota)
			log_info("room %08x: relay quota reached", r->id);
		r->relay_over_quota = true;
		s->ctr.relay_over_quota++;
		return 0;
	}
	if (!tb_take(&r->relay_bucket, now, s->cfg.relay_rate, s->cfg.relay_burst, (double)len)) {
		s->ctr.relay_rate_limited++;
		return 0;
	}
	if (!tb_take(&s->global_relay, now, s->cfg.global_relay_rate,
	    s->cfg.global_relay_rate / 10, (double)len)) {
		s->ctr.relay_global_limited++;
		return 0;
	}
	other = &r->m[h.member ^ 1];
	if (!member_may_send(s, other, len))
		return 0;
	buf[0] = RV_RELAY_FWD;		/* in place: the packet itself is never copied */
	r->relay_bytes += len;
	s->ctr.relayed_packets++;
	s->ctr.relayed_bytes += len;
	srv_room_touch(&s->table, r, now);
	*out = buf;
	*to = other->addr;
	return len;
}

/* ---- entry points ---- */

size_t
server_input(struct server *s, uint64_t now, unsigned port_index,
    const struct netaddr *from, uint8_t *buf, size_t len, const uint8_t **out,
    struct netaddr *to, unsigned *out_port)
{
	struct rv_msg m;
	size_t n = 0;

	s->ctr.rx_packets++;
	s->ctr.rx_bytes += len;
	*to = *from;
	*out_port = port_index;
	if (len > s->cfg.max_packet) {
		s->ctr.drop_oversized++;
		return 0;
	}
	if (rv_is_relay(buf, len)) {
		*out_port = 0;
		n = handle_relay(s, now, port_index, from, buf, len, out, to);
		goto sent;
	}
	if (!rv_is_rendezvous(buf, len)) {
		s->ctr.drop_malformed++;
		return 0;
	}
	if (buf[1] != RV_VERSION) {
		s->ctr.drop_version++;
		return 0;
	}
	if ((buf[0] == RV_JOIN || buf[0] == RV_DISCOVER) && len < RV_FIRST_LEN) {
		s->ctr.drop_short++;
		return 0;
	}
	if (!rv_decode(&m, buf, len)) {
		s->ctr.drop_malformed++;
		return 0;
	}
	if (m.type == RV_DISCOVER) {
		struct rv_msg o = { .type = RV_OBSERVED, .port_index = (uint8_t)port_index,
			.addr = *from };

		memcpy(o.nonce, m.nonce, RV_NONCE_LEN);
		n = reply(s, &o, len, false, out);
		goto sent;
	}
	if (port_index != 0) {
		s->ctr.drop_wrong_port++;
		return 0;
	}
	switch (m.type) {
	case RV_JOIN:
		n = handle_join(s, now, &m, from, len, out);
		break;
	case RV_PEER_SEND:
	case RV_READY:
	case RV_FAIL:
	case RV_LEAVE:
	case RV_KEEPALIVE:
		n = handle_member(s, now, &m, from, len, out, to);
		break;
	default:
		s->ctr.drop_malformed++;	/* a server-to-client message */
		return 0;
	}
sent:
	if (n > 0) {
		s->ctr.tx_packets++;
		s->ctr.tx_bytes += n;
	}
	return n;
}

size_t
server_output(struct server *s, uint64_t now, uint8_t *buf, size_t cap, struct netaddr *to,
    unsigned *out_port)
{
	struct rv_msg m = { 0 };
	size_t n;

	*out_port = 0;
	while (s->q_count == 0 && s->shutting_down && s->shutdown_cursor < s->table.max_rooms) {
		struct srv_room *r = &s->table.rooms[s->shutdown_cursor];

		if (r->id != 0 && s->shutdown_member < r->nmembers)
			enqueue(s, &r->m[s->shutdown_member], r->id, s->shutdown_member,
			    RV_ERROR, RV_E_SHUTTING_DOWN);
		if (++s->shutdown_member == 2) {
			s->shutdown_member = 0;
			s->shutdown_cursor++;
		}
	}
	while (s->q_count > 0) {
		const struct srv_qent *e = &s->q[s->q_head];
		struct srv_room *r = srv_room_by_id(&s->table, e->room_id);

		m.type = e->type;
		m.code = e->code;
		memcpy(m.nonce, e->nonce, RV_NONCE_LEN);
		*to = e->to;
		s->q_head = (s->q_head + 1) % SRV_QUEUE_LEN;
		s->q_count--;
		n = rv_encode(&m, buf, cap);
		if (n > 0 && r != NULL && e->member < r->nmembers &&
		    netaddr_eq(&r->m[e->member].addr, to) &&
		    !member_may_send(s, &r->m[e->member], n))
			continue;
		if (n > 0) {
			s->ctr.tx_packets++;
			s->ctr.tx_bytes += n;
			return n;
		}
	}
	return 0;
}

uint64_t
server_deadline(const struct server *s)
{
	const struct srv_table *t = &s->table;
	uint64_t d = TIME_NEVER;
	uint32_t np_s = srv_np_next_s(t);

	if (t->waiting_head != SRV_NIL) {
		uint64_t w = t->rooms[t->waiting_head].created + s->cfg.room_expiry_s * US_PER_S;

		d = w < d ? w : d;
	}
	if (t->active_head != SRV_NIL) {
		uint64_t a = t->rooms[t->active_head].last_active + s->cfg.idle_s * US_PER_S;

		d = a < d ? a : d;
	}
	if (np_s != UINT32_MAX && (uint64_t)np_s * US_PER_S < d)
		d = (uint64_t)np_s * US_PER_S;
	return d;
}

void
server_on_timeout(struct server *s, uint64_t now)
{
	struct srv_room *r;

	while ((r = srv_oldest_waiting(&s->table)) != NULL &&
	    r->created + s->cfg.room_expiry_s * US_PER_S <= now) {
		enqueue(s, &r->m[0], r->id, 0, RV_PEER_LEFT, RV_LEFT_EXPIRED);
		s->ctr.rooms_expired++;
		log_verbose(1, "room %08x expired unclaimed", r->id);
		free_room(s, r, now, false);
	}
	while ((r = srv_oldest_active(&s->table)) != NULL &&
	    r->last_active + s->cfg.idle_s * US_PER_S <= now) {
		enqueue(s, &r->m[0], r->id, 0, RV_PEER_LEFT, RV_LEFT_EXPIRED);
		enqueue(s, &r->m[1], r->id, 1, RV_PEER_LEFT, RV_LEFT_EXPIRED);
		s->ctr.rooms_expired++;
		log_verbose(1, "room %08x expired idle", r->id);
		free_room(s, r, now, false);
	}
	srv_np_tick(&s->table, (uint32_t)(now / US_PER_S));
}

void
server_shutdown(struct server *s, uint64_t now)
{
	s->shutting_down = true;
	s->shutdown_cursor = 0;
	s->shutdown_member = 0;
}

bool
server_shutdown_done(const struct server *s)
{
	return s->shutting_down && s->q_count == 0 && s->shutdown_cursor >= s->table.max_rooms;
}

void
server_format_counters(const struct server *s, char *buf, size_t cap)
{
	const struct server_counters *c = &s->ctr;

	snprintf(buf, cap,
	    "rooms=%u created=%llu joined=%llu expired=%llu left=%llu burned=%llu go=%llu "
	    "rx=%llu tx=%llu relayed_packets=%llu relayed_bytes=%llu rebinds=%llu "
	    "cookies=%llu free_joins=%llu rate_limited=%llu server_full=%llu room_full=%llu burned_refused=%llu "
	    "unknown_nameplate=%llu no_room=%llu "
	    "drop_malformed=%llu drop_version=%llu drop_short=%llu drop_oversized=%llu "
	    "drop_wrong_port=%llu drop_bad_cookie=%llu drop_bad_token=%llu drop_no_peer=%llu "
	    "drop_queue_full=%llu drop_amplification=%llu relay_denied=%llu relay_rate=%llu "
	    "relay_quota=%llu relay_global=%llu relay_unbound=%llu",
	    s->table.nrooms, (unsigned long long)c->rooms_created,
	    (unsigned long long)c->rooms_joined, (unsigned long long)c->rooms_expired,
	    (unsigned long long)c->rooms_left, (unsigned long long)c->rooms_burned,
	    (unsigned long long)c->go_sent, (unsigned long long)c->rx_packets,
	    (unsigned long long)c->tx_packets, (unsigned long long)c->relayed_packets,
	    (unsigned long long)c->relayed_bytes, (unsigned long long)c->rebinds,
	    (unsigned long long)c->cookies_sent, (unsigned long long)c->free_joins,
	    (unsigned long long)c->rate_limited,
	    (unsigned long long)c->server_full, (unsigned long long)c->room_full,
	    (unsigned long long)c->burned_refused, (unsigned long long)c->unknown_nameplate,
	    (unsigned long long)c->no_room, (unsigned long long)c->drop_malformed,
	    (unsigned long long)c->drop_version, (unsigned long long)c->drop_short,
	    (unsigned long long)c->drop_oversized, (unsigned long long)c->drop_wrong_port,
	    (unsigned long long)c->drop_bad_cookie, (unsigned long long)c->drop_bad_token,
	    (unsigned long long)c->drop_no_peer, (unsigned long long)c->drop_queue_full,
	    (unsigned long long)c->drop_amplification, (unsigned long long)c->relay_denied,
	    (unsigned long long)c->relay_rate_limited, (unsigned long long)c->relay_over_quota,
	    (unsigned long long)c->relay_global_limited, (unsigned long long)c->relay_unbound);
}
