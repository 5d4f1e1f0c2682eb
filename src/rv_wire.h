/*
 * Wire format of the rendezvous messages (0x50-0x5f) and relay envelopes (0x60-0x6f) between a
 * peer and `punchcat serve` (see RENDEZVOUS MESSAGES and RELAY in punchcat-protocol(7)).
 *
 * Every rendezvous message starts with its type byte and the version byte RV_VERSION. Messages
 * from the server carry the client's 8-byte session nonce right after the version, so an off-path
 * attacker cannot forge them. Messages of a member (after JOINED) carry an auth block: the room
 * id, the member index and the member's 16-byte token.
 *
 * The decoders parse with explicit bounds and reject anything malformed, short, or of another
 * version; trailing bytes are allowed only where the format says (padding, payloads).
 */
#ifndef PUNCHCAT_RV_WIRE_H
#define PUNCHCAT_RV_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"

#define RV_VERSION 1
/* Client first packets (JOIN, DISCOVER) are padded to at least this many bytes. */
#define RV_FIRST_LEN 1200
/* Members pad KEEPALIVE to this so its reply is never larger than the request. */
#define RV_KEEPALIVE_LEN 64
#define RV_COOKIE_LEN 16
#define RV_TOKEN_LEN 16
#define RV_NONCE_LEN 8
#define RV_SID_LEN 16
/* Largest opaque payload of a PEER message (PAKE shares, sealed candidate messages). */
#define RV_PEER_MSG_MAX 1024
/* Relay envelope header: type(1) | version(1) | member(1) | reserved(1) | room id(4). */
#define RV_RELAY_HDR_LEN 8
/* Largest datagram either side sends or accepts by default. */
#define RV_MAX_PACKET 1472

enum rv_type {
	RV_JOIN = 0x50,			/* c->s: allocate, claim or create a nameplate (padded) */
	RV_COOKIE = 0x51,		/* s->c: retry JOIN with this address-validation cookie */
	RV_JOINED = 0x52,		/* s->c: you are in the room: sid, role, token, reflexive addr */
	RV_DISCOVER = 0x53,		/* c->s (either port, padded): what address do you see? */
	RV_OBSERVED = 0x54,		/* s->c: this is the address I see on port N */
	RV_PEER_SEND = 0x55,		/* c->s: opaque message (and ack) for the other member */
	RV_PEER_RECV = 0x56,		/* s->c: opaque message (and ack) from the other member */
	RV_READY = 0x57,		/* c->s: ready to punch */
	RV_GO = 0x58,			/* s->c: both are ready: punch now */
	RV_FAIL = 0x59,			/* c->s: the PAKE failed: burn the nameplate */
	RV_LEAVE = 0x5a,		/* c->s: leaving the room */
	RV_PEER_LEFT = 0x5b,		/* s->c: the other member left (reason) */
	RV_KEEPALIVE = 0x5c,		/* c->s: keep the room and the binding; rebinds the address */
	RV_KEEPALIVE_ACK = 0x5d,	/* s->c: flags and the address seen */
	RV_ERROR = 0x5e,		/* s->c: error code */
	RV_PEER_JOINED = 0x5f,		/* s->c: the other member arrived */
	RV_RELAY_DATA = 0x60,		/* c->s: relay this peer packet to the other member */
	RV_RELAY_FWD = 0x61,		/* s->c: a peer packet relayed from the other member */
	RV_RELAY_REBIND = 0x62		/* s->c: relay packet from an unbound address: prove token */
};

/* JOIN flags. Without either flag: claim the nameplate, or create it when nobody holds it. */
#define RV_JOIN_ALLOCATE 0x01		/* the server picks a fresh nameplate (nameplate = 0) */
#define RV_JOIN_CLAIM_ONLY 0x02		/* fail with UNKNOWN_NAMEPLATE rather than create */

/* JOINED / KEEPALIVE_ACK flags. */
#define RV_FLAG_PEER_PRESENT 0x01
#define RV_FLAG_RELAY 0x02		/* the server relays for this room */

/* Roles: the creator of a room is the CPace initiator, the claimer the responder. */
#define RV_ROLE_INITIATOR 0
#define RV_ROLE_RESPONDER 1

/* Error codes of RV_ERROR. */
enum rv_errcode {
	RV_E_UNKNOWN_NAMEPLATE = 1,	/* CLAIM_ONLY and nobody holds it */
	RV_E_ROOM_FULL = 2,		/* two members already */
	RV_E_BURNED = 3,		/* a PAKE failed on this nameplate recently */
	RV_E_RATE_LIMITED = 4,		/* too many JOINs from this IP */
	RV_E_SERVER_FULL = 5,		/* room cap reached, or no nameplate free */
	RV_E_SHUTTING_DOWN = 6,		/* the server is stopping */
	RV_E_NO_ROOM = 7,		/* room id or token unknown (expired, or server restarted) */
	RV_E_BAD_NAMEPLATE = 8		/* nameplate out of range */
};

/* Reasons of RV_PEER_LEFT. */
enum rv_left_reason {
	RV_LEFT_LEAVE = 1,		/* the other member said LEAVE */
	RV_LEFT_PAKE_FAILED = 2,	/* the other member reported a failed PAKE */
	RV_LEFT_EXPIRED = 3,		/* the room expired (idle) */
	RV_LEFT_SHUTDOWN = 4		/* the server is stopping */
};

/* Highest nameplate (codes use 1..999999). */
#define RV_NAMEPLATE_MAX 999999u

/* A member's credentials in every message it sends after JOINED. */
struct rv_auth {
	uint32_t room_id;
	uint8_t member;			/* 0 or 1 */
	uint8_t token[RV_TOKEN_LEN];
};

/* One decoded rendezvous message; which fields are set depends on type. */
struct rv_msg {
	uint8_t type;
	uint8_t flags;				/* JOIN, JOINED, KEEPALIVE_ACK */
	uint8_t role;				/* JOINED */
	uint8_t port_index;			/* OBSERVED */
	uint8_t code;				/* ERROR code, PEER_LEFT reason */
	uint16_t expiry_s;			/* JOINED: the room expires if unclaimed this long */
	uint32_t nameplate;			/* JOIN, JOINED */
	uint32_t seq, ack;			/* PEER_SEND, PEER_RECV */
	uint8_t nonce[RV_NONCE_LEN];		/* JOIN, and every server message */
	uint8_t cookie[RV_COOKIE_LEN];		/* JOIN (all zero = none), COOKIE */
	uint8_t sid[RV_SID_LEN];		/* JOINED */
	struct rv_auth auth;			/* member messages; JOINED gives it */
	struct netaddr addr;			/* JOINED, OBSERVED, KEEPALIVE_ACK: reflexive address */
	const uint8_t *payload;			/* PEER_SEND, PEER_RECV: points into the input */
	size_t payload_len;
};

/* True for the kinds of datagram this module handles (first byte 0x50-0x6f). */
static inline bool
rv_is_rendezvous(const uint8_t *buf, size_t len)
{
	return len >= 2 && buf[0] >= 0x50 && buf[0] <= 0x5f;
}

static inline bool
rv_is_relay(const uint8_t *buf, size_t len)
{
	return len >= 1 && buf[0] >= 0x60 && buf[0] <= 0x6f;
}

/*
 * Encodes m (its type picks the layout) into out. JOIN and DISCOVER are padded with zeros to
 * RV_FIRST_LEN and KEEPALIVE to RV_KEEPALIVE_LEN. Returns the length, or 0 if cap is too small
 * or a field is out of range.
 */
size_t rv_encode(const struct rv_msg *m, uint8_t *out, size_t cap);

/*
 * Decodes one rendezvous message. Returns false for anything malformed: unknown type, other
 * version, short, a client first packet below RV_FIRST_LEN, a bad address, an oversized
 * payload, trailing bytes where none may be. m->payload points into buf.
 */
bool rv_decode(struct rv_msg *m, const uint8_t *buf, size_t len);

/* Relay envelope header (RV_RELAY_DATA, RV_RELAY_FWD, RV_RELAY_REBIND). */
struct rv_relay_hdr {
	uint8_t type;
	uint8_t member;
	uint32_t room_id;
};

/* Writes the RV_RELAY_HDR_LEN header bytes at buf (the packet follows at buf + HDR_LEN). */
void rv_relay_hdr_write(uint8_t *buf, uint8_t type, uint8_t member, uint32_t room_id);
/* Parses the header of an envelope of len bytes; false if short or of another version. */
bool rv_relay_hdr_read(struct rv_relay_hdr *h, const uint8_t *buf, size_t len);

/* Short English name of a message type, for logs ("JOIN"), or "?". */
const char *rv_type_name(uint8_t type);

#endif
