/* Encoding and bounded decoding of rendezvous messages and relay envelope headers. */
#include "rv_wire.h"

#include <string.h>

#include <sodium.h>

#include "wire.h"

static void
wr_auth(struct wr *w, const struct rv_auth *a)
{
	wr_u32(w, a->room_id);
	wr_u8(w, a->member);
	wr_bytes(w, a->token, RV_TOKEN_LEN);
}

static void
rd_auth(struct rd *r, struct rv_auth *a)
{
	a->room_id = rd_u32(r);
	a->member = rd_u8(r);
	rd_copy(r, a->token, RV_TOKEN_LEN);
	if (a->member > 1)
		r->bad = true;
}

/* Zero padding up to total bytes (nothing if already longer). */
static void
wr_pad(struct wr *w, size_t total)
{
	size_t n = wr_len(w);
	uint8_t *q;

	if (n >= total)
		return;
	q = wr_reserve(w, total - n);
	if (q != NULL)
		memset(q, 0, total - n);
}

size_t
rv_encode(const struct rv_msg *m, uint8_t *out, size_t cap)
{
	struct wr w;

	wr_init(&w, out, cap);
	wr_u8(&w, m->type);
	wr_u8(&w, RV_VERSION);
	switch (m->type) {
	case RV_JOIN:
		if (m->nameplate > RV_NAMEPLATE_MAX)
			return 0;
		wr_u8(&w, m->flags);
		wr_u32(&w, m->nameplate);
		wr_bytes(&w, m->nonce, RV_NONCE_LEN);
		wr_bytes(&w, m->cookie, RV_COOKIE_LEN);
		wr_pad(&w, RV_FIRST_LEN);
		break;
	case RV_DISCOVER:
		wr_bytes(&w, m->nonce, RV_NONCE_LEN);
		wr_pad(&w, RV_FIRST_LEN);
		break;
	case RV_COOKIE:
		wr_bytes(&w, m->nonce, RV_NONCE_LEN);
		wr_bytes(&w, m->cookie, RV_COOKIE_LEN);
		break;
	case RV_JOINED:
		wr_bytes(&w, m->nonce, RV_NONCE_LEN);
		wr_u32(&w, m->nameplate);
		wr_u8(&w, m->role);
		wr_u8(&w, m->flags);
		wr_u16(&w, m->expiry_s);
		wr_bytes(&w, m->sid, RV_SID_LEN);
		wr_auth(&w, &m->auth);
		wr_netaddr(&w, &m->addr);
		break;
	case RV_OBSERVED:
		wr_bytes(&w, m->nonce, RV_NONCE_LEN);
		wr_u8(&w, m->port_index);
		wr_netaddr(&w, &m->addr);
		break;
	case RV_PEER_SEND:
	case RV_PEER_RECV:
		if (m->payload_len > RV_PEER_MSG_MAX)
			return 0;
		if (m->type == RV_PEER_SEND)
			wr_auth(&w, &m->auth);
		else
			wr_bytes(&w, m->nonce, RV_NONCE_LEN);
		wr_u32(&w, m->seq);
		wr_u32(&w, m->ack);
		wr_bytes(&w, m->payload, m->payload_len);
		break;
	case RV_READY:
	case RV_FAIL:
	case RV_LEAVE:
		wr_auth(&w, &m->auth);
		break;
	case RV_KEEPALIVE:
		wr_auth(&w, &m->auth);
		wr_pad(&w, RV_KEEPALIVE_LEN);
		break;
	case RV_KEEPALIVE_ACK:
		wr_bytes(&w, m->nonce, RV_NONCE_LEN);
		wr_u8(&w, m->flags);
		wr_netaddr(&w, &m->addr);
		break;
	case RV_GO:
	case RV_PEER_JOINED:
		wr_bytes(&w, m->nonce, RV_NONCE_LEN);
		break;
	case RV_PEER_LEFT:
	case RV_ERROR:
		wr_bytes(&w, m->nonce, RV_NONCE_LEN);
		wr_u8(&w, m->code);
		break;
	default:
		return 0;
	}
	return wr_ok(&w) ? wr_len(&w) : 0;
}

/*
 * All remaining bytes are zero (padding must be zeros, so it can carry nothing). libsodium's
 * check is word-wide and outside the fuzzers' instrumentation (a byte loop here was a quarter of
 * fuzz_rv_client's time).
 */
static bool
rd_zeros(struct rd *r)
{
	size_t n = rd_left(r);
	const uint8_t *q = rd_bytes(r, n);

	return q != NULL && (n == 0 || sodium_is_zero(q, n) == 1);
}

bool
rv_decode(struct rv_msg *m, const uint8_t *buf, size_t len)
{
	struct rd r;
	bool pad_ok = true;

	memset(m, 0, sizeof *m);
	if (len < 2 || len > RV_MAX_PACKET || !rv_is_rendezvous(buf, len) || buf[1] != RV_VERSION)
		return false;
	rd_init(&r, buf + 2, len - 2);
	m->type = buf[0];
	switch (m->type) {
	case RV_JOIN:
		if (len < RV_FIRST_LEN)
			return false;
		m->flags = rd_u8(&r);
		m->nameplate = rd_u32(&r);
		rd_copy(&r, m->nonce, RV_NONCE_LEN);
		rd_copy(&r, m->cookie, RV_COOKIE_LEN);
		pad_ok = rd_ok(&r) && rd_zeros(&r);
		if ((m->flags & ~(RV_JOIN_ALLOCATE | RV_JOIN_CLAIM_ONLY)) != 0)
			return false;
		if ((m->flags & RV_JOIN_ALLOCATE) != 0) {
			if (m->nameplate != 0 || (m->flags & RV_JOIN_CLAIM_ONLY) != 0)
				return false;
		} else if (m->nameplate == 0 || m->nameplate > RV_NAMEPLATE_MAX) {
			return false;
		}
		break;
	case RV_DISCOVER:
		if (len < RV_FIRST_LEN)
			return false;
		rd_copy(&r, m->nonce, RV_NONCE_LEN);
		pad_ok = rd_ok(&r) && rd_zeros(&r);
		break;
	case RV_COOKIE:
		rd_copy(&r, m->nonce, RV_NONCE_LEN);
		rd_copy(&r, m->cookie, RV_COOKIE_LEN);
		break;
	case RV_JOINED:
		rd_copy(&r, m->nonce, RV_NONCE_LEN);
		m->nameplate = rd_u32(&r);
		m->role = rd_u8(&r);
		m->flags = rd_u8(&r);
		m->expiry_s = rd_u16(&r);
		rd_copy(&r, m->sid, RV_SID_LEN);
		rd_auth(&r, &m->auth);
		if (!rd_netaddr(&r, &m->addr) || m->role > RV_ROLE_RESPONDER ||
		    m->nameplate == 0 || m->nameplate > RV_NAMEPLATE_MAX)
			return false;
		break;
	case RV_OBSERVED:
		rd_copy(&r, m->nonce, RV_NONCE_LEN);
		m->port_index = rd_u8(&r);
		if (!rd_netaddr(&r, &m->addr) || m->port_index > 1)
			return false;
		break;
	case RV_PEER_SEND:
	case RV_PEER_RECV:
		if (m->type == RV_PEER_SEND)
			rd_auth(&r, &m->auth);
		else
			rd_copy(&r, m->nonce, RV_NONCE_LEN);
		m->seq = rd_u32(&r);
		m->ack = rd_u32(&r);
		m->payload_len = rd_left(&r);
		m->payload = rd_bytes(&r, m->payload_len);
		/* seq 0 is a pure ack and carries nothing; a message carries something */
		if (m->payload_len > RV_PEER_MSG_MAX || (m->seq == 0) != (m->payload_len == 0))
			return false;
		break;
	case RV_READY:
	case RV_FAIL:
	case RV_LEAVE:
		rd_auth(&r, &m->auth);
		break;
	case RV_KEEPALIVE:
		if (len < RV_KEEPALIVE_LEN)
			return false;
		rd_auth(&r, &m->auth);
		pad_ok = rd_ok(&r) && rd_zeros(&r);
		break;
	case RV_KEEPALIVE_ACK:
		rd_copy(&r, m->nonce, RV_NONCE_LEN);
		m->flags = rd_u8(&r);
		if (!rd_netaddr(&r, &m->addr))
			return false;
		break;
	case RV_GO:
	case RV_PEER_JOINED:
		rd_copy(&r, m->nonce, RV_NONCE_LEN);
		break;
	case RV_PEER_LEFT:
	case RV_ERROR:
		rd_copy(&r, m->nonce, RV_NONCE_LEN);
		m->code = rd_u8(&r);
		break;
	default:
		return false;
	}
	return pad_ok && rd_done(&r);
}

void
rv_relay_hdr_write(uint8_t *buf, uint8_t type, uint8_t member, uint32_t room_id)
{
	buf[0] = type;
	buf[1] = RV_VERSION;
	buf[2] = member;
	buf[3] = 0;
	buf[4] = (uint8_t)(room_id >> 24);
	buf[5] = (uint8_t)(room_id >> 16);
	buf[6] = (uint8_t)(room_id >> 8);
	buf[7] = (uint8_t)room_id;
}

bool
rv_relay_hdr_read(struct rv_relay_hdr *h, const uint8_t *buf, size_t len)
{
	if (len < RV_RELAY_HDR_LEN || !rv_is_relay(buf, len) || buf[1] != RV_VERSION ||
	    buf[2] > 1 || buf[3] != 0)
		return false;
	h->type = buf[0];
	h->member = buf[2];
	h->room_id = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 | (uint32_t)buf[6] << 8 |
	    buf[7];
	return true;
}

const char *
rv_type_name(uint8_t type)
{
	static const char *const names[] = {
		"JOIN", "COOKIE", "JOINED", "DISCOVER", "OBSERVED", "PEER_SEND", "PEER_RECV",
		"READY", "GO", "FAIL", "LEAVE", "PEER_LEFT", "KEEPALIVE", "KEEPALIVE_ACK",
		"ERROR", "PEER_JOINED", "RELAY_DATA", "RELAY_FWD", "RELAY_REBIND",
	};

	if (type < 0x50 || type > RV_RELAY_REBIND)
		return "?";
	return names[type - 0x50];
}
