/*
 * The peer's side of the rendezvous protocol, sans-IO (see RENDEZVOUS MESSAGES and RELAY in
 * punchcat-protocol(7)).
 *
 * It joins a room on the server (allocating a nameplate, or claiming/creating a given one),
 * answers the address-validation cookie, learns the room's sid, our CPace role and our reflexive
 * address as seen on both server ports, carries opaque messages to the other member reliably and
 * in order (PAKE shares, then mailbox-sealed candidate messages), asks for GO, reports a failed
 * PAKE, keeps the server binding alive, and wraps/unwraps relay envelopes.
 *
 * The caller owns one UDP socket. port_index 0 is the server's main port, 1 is main+1 (mapping
 * discovery). Usage:
 *   rv_client_init(&c, &cfg, now);
 *   loop:
 *     while ((n = rv_client_output(&c, now, buf, sizeof buf, &pi)) > 0) send to server port+pi
 *     on a datagram from server port+pi whose first byte is 0x50-0x5f or 0x62:
 *         rv_client_input(&c, now, pi, buf, n)
 *     on a datagram from the server whose first byte is 0x61: rv_client_relay_unwrap()
 *     when now >= rv_client_deadline(&c): rv_client_on_timeout(&c, now)
 *     while (rv_client_next_event(&c, &ev)) handle ev
 * Nothing here allocates, reads a clock or touches a socket. All buffers are bounded.
 *
 * Notes for the peer:
 *  - Send peer messages only after RV_EV_JOINED; they reach the other member once it is in the
 *    room. Before leaving, wait for rv_client_peer_messages_acked() if the last one matters.
 *  - A room ends when either member leaves, fails or goes silent: after GO, RV_EV_PEER_LEFT or
 *    RV_EV_ERROR (SHUTTING_DOWN, NO_ROOM) only mean the server can no longer introduce or
 *    relay; a direct path already working may carry on.
 *  - Once connected (keys confirmed), call rv_client_allow_resume(): from then on a lost room
 *    (NO_ROOM, the server shutting down or restarting, the room expired) is not an error: the
 *    client re-joins the same nameplate by itself (rv_client_resume) and reports
 *    RV_EV_RESUMING, then RV_EV_RESUMED with the new room. The relay is off in between. Peer
 *    messages keep their sequence numbers across rooms (the server never looks at them).
 *    Call rv_client_relay_verified() for every relayed packet that authenticated: a resumed
 *    room that carries none (a stranger took the nameplate) is left and joined again; and when
 *    the relay goes quiet the client asks the server with a KEEPALIVE (after 1 s, 2 s, 4 s
 *    ...), so even a peer that only receives learns of a restart within about a second.
 *  - RV_EV_PEER_LEFT with reason RV_LEFT_PAKE_FAILED means the other side's key exchange failed
 *    (a wrong code): exit 3 like our own failure.
 */
#ifndef PUNCHCAT_RV_CLIENT_H
#define PUNCHCAT_RV_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"
#include "rv_wire.h"

/* Keepalive of the server binding while in a room (NAT bindings live ~30 s). */
#define RV_KEEPALIVE_US (20 * UINT64_C(1000000))
/* Give up when the server has not answered a JOIN for this long. */
#define RV_JOIN_TIMEOUT_US (10 * UINT64_C(1000000))
/* JOINED waits at most this long for the discovery port's answer before it is reported. */
#define RV_DISCOVERY_WAIT_US (500 * UINT64_C(1000))
/* Resuming: pause after a refused JOIN (room full, rate-limited, ...) before the next one. */
#define RV_RESUME_RETRY_US (1 * UINT64_C(1000000))
/* A resumed room with both members and no authenticated relayed packet for this long is left
 * and joined again (a stranger may hold the nameplate). */
#define RV_RESUME_VERIFY_US (4 * UINT64_C(1000000))
/* Peer messages queued and not yet acknowledged by the other member. */
#define RV_TXQ_LEN 16
/* Peer messages received in order and not yet taken by rv_client_next_event. */
#define RV_RXQ_LEN 16
/* Events waiting for rv_client_next_event (room for every queued message and then some). */
#define RV_EVQ_LEN 40

struct rv_client_cfg {
	uint32_t nameplate;		/* 0 = ask the server to allocate one */
	bool claim_only;		/* fail (RV_ERR_UNKNOWN_NAMEPLATE) rather than create */
	const uint8_t *test_nonce;	/* tests only: RV_NONCE_LEN bytes; NULL = random */
};

/* Errors, mapped to exit statuses by rv_error_exit(). */
enum rv_error {
	RV_ERR_NONE = 0,
	RV_ERR_UNKNOWN_NAMEPLATE,	/* exit 4 */
	RV_ERR_ROOM_FULL,		/* exit 4 */
	RV_ERR_BURNED,			/* exit 4: a wrong code was tried on this nameplate */
	RV_ERR_RATE_LIMITED,		/* exit 1 */
	RV_ERR_SERVER_FULL,		/* exit 1 */
	RV_ERR_SHUTTING_DOWN,		/* exit 1 */
	RV_ERR_NO_ROOM,			/* exit 1: the room vanished (expired, server restart) */
	RV_ERR_BAD_NAMEPLATE,		/* exit 2 */
	RV_ERR_TIMEOUT,			/* exit 1: the server did not answer */
	RV_ERR_PROTOCOL			/* exit 1: the server said something impossible */
};

enum rv_event_kind {
	RV_EV_NONE = 0,
	RV_EV_NAMEPLATE,	/* the server allocated ev.nameplate (print the code now) */
	RV_EV_JOINED,		/* in the room: nameplate, sid, initiator, reflexive[], relay */
	RV_EV_PEER_JOINED,	/* the other member is in the room */
	RV_EV_PEER_MESSAGE,	/* ev.msg / ev.msg_len from the other member, in order */
	RV_EV_GO,		/* both sides are ready: start punching now */
	RV_EV_PEER_LEFT,	/* ev.left_reason (enum rv_left_reason) */
	RV_EV_ERROR,		/* ev.error; the client is finished */
	RV_EV_RESUMING,		/* the room was lost (ev.error says why): re-joining, no relay */
	RV_EV_RESUMED		/* in a new room on the same nameplate: the relay works again */
};

struct rv_event {
	enum rv_event_kind kind;
	uint32_t nameplate;
	uint8_t sid[RV_SID_LEN];
	bool initiator;			/* our CPace role (creator of the room) */
	bool relay;			/* the server offers a relay for this room */
	/*
	 * Our reflexive address seen on server port 0 and port 1 (family 0 if that port never
	 * answered). Different ports mean endpoint-dependent ("symmetric") mapping.
	 */
	struct netaddr reflexive[2];
	bool mapping_varies;
	const uint8_t *msg;		/* PEER_MESSAGE; valid until the next call into the client */
	size_t msg_len;
	uint8_t left_reason;
	enum rv_error error;
};

enum rv_client_state {
	RV_ST_JOINING,		/* sending JOIN (and DISCOVER) */
	RV_ST_IN_ROOM,
	RV_ST_CLOSED,		/* LEAVE sent, PAKE failure reported, or error */
};

struct rv_txmsg {
	uint32_t seq;
	uint16_t len;
	uint8_t data[RV_PEER_MSG_MAX];
};

struct rv_rxmsg {
	uint16_t len;
	uint8_t data[RV_PEER_MSG_MAX];
};

struct rv_client {
	/* large members first (the order keeps padding small) */
	struct rv_txmsg txq[RV_TXQ_LEN];	/* reliable ordered peer messages: go-back-N */
	struct rv_rxmsg rxq[RV_RXQ_LEN];
	struct rv_event evq[RV_EVQ_LEN];
	struct rv_client_cfg cfg;
	struct netaddr reflexive[2];
	struct rv_auth auth;
	uint64_t started, last_heard;
	uint64_t join_next, join_rto;		/* JOIN / DISCOVER retransmission */
	uint64_t joined_at, discover_next;
	uint64_t tx_next, tx_rto;
	uint64_t ready_next;
	uint64_t closing_next;
	uint64_t keepalive_next;		/* keepalive and relay rebinding */
	uint64_t rebind_last;
	uint64_t resumed_at;			/* when the current resumed room got both members */
	uint64_t resumes;			/* rooms re-joined (statistics, tests) */
	uint64_t verify_next;			/* next check of an unverified resumed room */
	uint64_t silence_probe_next, silence_gap;	/* KEEPALIVE when the relay went quiet */
	uint64_t relay_tx, relay_tx_seen;	/* envelopes wrapped; count when the peer came */
	unsigned verify_misses;			/* ticks on the relay, nothing authenticated */
	struct rv_auth stale_auth;		/* a room we leave while resuming (LEAVE once) */
	uint64_t dropped;			/* malformed or unexpected datagrams */
	enum rv_client_state state;
	enum rv_error error;
	uint32_t nameplate;
	uint32_t tx_next_seq;			/* seq of the next message queued */
	uint32_t rx_next_seq;			/* next seq expected from the peer */
	unsigned txq_head, txq_count;
	unsigned tx_sent;			/* queue entries sent in the current round */
	unsigned rxq_head, rxq_count;
	unsigned closing_left;			/* FAIL or LEAVE: sent a few times, then closed */
	unsigned evq_head, evq_count;
	uint8_t nonce[RV_NONCE_LEN];
	uint8_t cookie[RV_COOKIE_LEN];
	uint8_t sid[RV_SID_LEN];
	uint8_t role, room_flags;
	uint8_t closing_type;			/* RV_FAIL or RV_LEAVE, 0 = none */
	bool have_cookie;
	bool discover_due[2];
	bool joined_reported, nameplate_reported;
	bool peer_present, peer_joined_pending;
	bool ack_due;
	bool ready, go;				/* GO */
	bool keepalive_now;
	bool resumable;				/* rv_client_allow_resume() was called */
	bool resuming;				/* re-joining the nameplate after losing the room */
	bool resume_unverified;			/* resumed room: no authenticated relay packet yet */
	bool stale_leave;			/* send LEAVE with stale_auth */
	bool relay_in_use;			/* rv_client_relay_in_use() */
};

void rv_client_init(struct rv_client *c, const struct rv_client_cfg *cfg, uint64_t now);

/* A datagram that came from server port port_index (0 main, 1 discovery). */
void rv_client_input(struct rv_client *c, uint64_t now, unsigned port_index, const uint8_t *buf,
    size_t len);

/*
 * The next datagram to send to the server, written to buf; returns its length (0 = nothing to
 * send now) and sets *port_index (0 main port, 1 main+1).
 */
size_t rv_client_output(struct rv_client *c, uint64_t now, uint8_t *buf, size_t cap,
    unsigned *port_index);

/* When rv_client_on_timeout must run next (TIME_NEVER when nothing is pending). */
uint64_t rv_client_deadline(const struct rv_client *c);
void rv_client_on_timeout(struct rv_client *c, uint64_t now);

/* Takes the next event; false when none. */
bool rv_client_next_event(struct rv_client *c, struct rv_event *ev);

/*
 * Queues an opaque message (at most RV_PEER_MSG_MAX bytes) for the other member; it is
 * delivered reliably and in order once the other member is in the room. Returns 0, or -1 if
 * too long, the queue is full (RV_TXQ_LEN unacknowledged) or we are not in a room.
 */
int rv_client_send_peer_message(struct rv_client *c, uint64_t now, const void *msg, size_t len);
/* True when every queued peer message was acknowledged by the other member. */
bool rv_client_peer_messages_acked(const struct rv_client *c);

/* We are ready to punch; RV_EV_GO follows when the other member is ready too. */
void rv_client_ready(struct rv_client *c, uint64_t now);
/* The PAKE failed: tell the server (it burns the nameplate). The client then closes. */
void rv_client_report_pake_failure(struct rv_client *c, uint64_t now);
/* Leave the room (tells the other member at once rather than at expiry). */
void rv_client_leave(struct rv_client *c, uint64_t now);

/*
 * Connected: from now on a lost room is re-joined rather than reported as an error (see the
 * notes at the top).
 */
void rv_client_allow_resume(struct rv_client *c);
/*
 * Re-join the same nameplate now (create-or-claim, same nonce, so a room that still exists
 * takes us back as the same member), keeping the peer-message sequence numbers. Refusals are
 * retried every RV_RESUME_RETRY_US; there is no timeout: the caller's own idle timeout bounds
 * it. Only after rv_client_allow_resume(); returns -1 otherwise or when closed.
 */
int rv_client_resume(struct rv_client *c, uint64_t now);
/* A relayed packet of the current room authenticated end to end (the room holds our peer). */
void rv_client_relay_verified(struct rv_client *c, uint64_t now);
/* The caller sends its stream over the relay (true) or a direct path (false): a resumed room
 * must then prove itself with an authenticated packet, even to a peer that only receives. */
void rv_client_relay_in_use(struct rv_client *c, bool on);

/* True in a room whose server relays (relay wrap is possible). */
bool rv_client_relay_ok(const struct rv_client *c);
/*
 * Relay, zero-copy: the peer packet of pkt_len bytes is at buf + RV_RELAY_HDR_LEN; this writes
 * the envelope header at buf and returns the datagram length (send it to port 0), or 0 when not
 * in a room.
 */
size_t rv_client_relay_wrap(struct rv_client *c, uint8_t *buf, size_t pkt_len);
/*
 * A datagram from the server that starts with RV_RELAY_FWD: returns true and the peer packet
 * (*pkt, *pkt_len point into buf) when it is a relay envelope for our room.
 */
bool rv_client_relay_unwrap(struct rv_client *c, const uint8_t *buf, size_t len,
    const uint8_t **pkt, size_t *pkt_len);

/* One-line description of an error, e.g. "nameplate 42 is already taken by two peers". */
const char *rv_error_str(enum rv_error e);
/* Exit status for an error (see enum rv_error). */
int rv_error_exit(enum rv_error e);

#endif
