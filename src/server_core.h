/*
 * The rendezvous and relay server, sans-IO (see RENDEZVOUS MESSAGES and RELAY in
 * punchcat-protocol(7)).
 *
 * The shell hands each datagram in with its source address, the port index it arrived on (0 main,
 * 1 discovery) and `now`; the core answers in place or from its own scratch buffer. Messages for
 * third parties (GO to the other member, PEER_JOINED, PEER_LEFT, shutdown notices) wait in a
 * bounded queue that server_output drains. Nothing here reads a clock, touches a socket or
 * allocates after server_init.
 *
 * Abuse resistance: no room is created and no reply is larger than the request before the
 * stateless cookie proves the source address (MAC over a secret rotated every RV_COOKIE_PERIOD,
 * the source IP and port, and the time bucket); every reply to an address not proved by a cookie
 * or a member token is at most as long as the datagram that caused it (amplification <= 1).
 * The one exception saves the joining peer a round trip: while the server is not under load
 * (--free-joins per second) a JOIN without a cookie may take the free seat of a waiting room;
 * that member stays unproved, and everything sent to it is paid from the bytes it sent, until a
 * message with its token arrives (the token went only to its address).
 */
#ifndef PUNCHCAT_SERVER_CORE_H
#define PUNCHCAT_SERVER_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"
#include "rv_wire.h"
#include "srv_limit.h"
#include "srv_table.h"

/* Cookie secret rotation period; a cookie is accepted in its bucket and the next one. */
#define RV_COOKIE_PERIOD_US (120 * UINT64_C(1000000))
#define SRV_QUEUE_LEN 4096

struct server_cfg {
	uint32_t max_rooms;		/* --max-rooms 100000 */
	uint32_t nameplate_max;		/* RV_NAMEPLATE_MAX; smaller in tests and fuzzers */
	double ip_rate_per_min;		/* --ip-rate 30 (JOINs per minute per source IP) */
	double ip_burst;		/* --ip-burst 10 */
	uint32_t room_expiry_s;		/* --room-expiry 600: unclaimed room lifetime */
	uint32_t idle_s;		/* --relay-idle 120: a full room silent this long ends */
	uint32_t burn_s;		/* --burn-time 600: nameplate blocked after a failed PAKE */
	uint32_t cooldown_s;		/* --nameplate-cooldown 60: before an allocation reuses it */
	double relay_rate;		/* --relay-rate 12.5M bytes/s per room */
	double relay_burst;		/* --relay-burst 1M bytes */
	uint64_t relay_quota;		/* --relay-quota 10G bytes per room */
	double global_relay_rate;	/* --global-relay-rate 125M bytes/s */
	double free_joins;		/* --free-joins 50: cookieless claims per second, 0 = none */
	size_t max_packet;		/* --max-packet 1472 */
	bool no_relay;			/* --no-relay */
};

/* Counters printed on SIGUSR1 (and read by tests). */
struct server_counters {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t drop_malformed;	/* unparsable, unknown type, bad padding */
	uint64_t drop_version;		/* another protocol version */
	uint64_t drop_short;		/* a first packet below RV_FIRST_LEN */
	uint64_t drop_oversized;	/* above --max-packet */
	uint64_t drop_wrong_port;	/* JOIN or member message on the discovery port */
	uint64_t drop_bad_cookie;
	uint64_t drop_bad_token;
	uint64_t drop_no_peer;		/* PEER message while alone in the room */
	uint64_t drop_queue_full;
	uint64_t drop_amplification;	/* a reply that would have exceeded the request */
	uint64_t free_joins;		/* claims admitted without a cookie */
	uint64_t relay_denied, relay_rate_limited, relay_over_quota, relay_global_limited,
	    relay_unbound, relay_rebind_sent, relay_rebind_limited;
	uint64_t cookies_sent, rate_limited, server_full, room_full, burned_refused,
	    unknown_nameplate, no_room;
	uint64_t rooms_created, rooms_joined, rooms_expired, rooms_left, rooms_burned, go_sent;
	uint64_t rebinds;
	uint64_t relayed_packets, relayed_bytes;
};

struct srv_qent {
	uint32_t room_id;
	uint8_t member;
	uint8_t type;			/* RV_GO, RV_PEER_JOINED, RV_PEER_LEFT, RV_ERROR */
	uint8_t code;
	struct netaddr to;
	uint8_t nonce[RV_NONCE_LEN];
};

struct server {
	struct server_cfg cfg;
	struct srv_table table;
	struct ip_table ips;
	struct tbucket global_relay, rebind_bucket, free_joins;
	/* cookies */
	uint8_t secret_cur[32], secret_prev[32];
	uint64_t bucket_cur;
	/* recent allocations by JOIN nonce, so a retransmitted JOIN gets the same room */
	struct {
		uint8_t nonce[RV_NONCE_LEN];
		uint32_t room_id;
	} recent[4096];
	uint64_t recent_key;
	/* third-party messages */
	struct srv_qent q[SRV_QUEUE_LEN];
	size_t q_head, q_count;
	/* shutdown: notices are generated room by room from this cursor */
	bool shutting_down;
	uint32_t shutdown_cursor;
	uint8_t shutdown_member;
	uint64_t start;
	uint8_t scratch[RV_MAX_PACKET];
	struct server_counters ctr;
};

void server_cfg_defaults(struct server_cfg *cfg);
/* Allocates the tables (once). Returns -1 on bad configuration or no memory. */
int server_init(struct server *s, const struct server_cfg *cfg, uint64_t now);
void server_free(struct server *s);

/*
 * One datagram of len bytes in buf (cap bytes writable) from `from`, arrived on port_index.
 * Returns the length of the datagram to send (0 = nothing) and sets *out (into buf for relayed
 * packets, which are forwarded in place, or into the server's scratch buffer), *to and
 * *out_port. Then drain server_output.
 */
size_t server_input(struct server *s, uint64_t now, unsigned port_index,
    const struct netaddr *from, uint8_t *buf, size_t len, const uint8_t **out,
    struct netaddr *to, unsigned *out_port);

/* The next queued datagram (into buf), or 0. */
size_t server_output(struct server *s, uint64_t now, uint8_t *buf, size_t cap,
    struct netaddr *to, unsigned *out_port);

uint64_t server_deadline(const struct server *s);
/* Expires rooms and frees blocked nameplates whose time has come. */
void server_on_timeout(struct server *s, uint64_t now);

/* Stop: refuse new JOINs and tell every member (drain with server_output). */
void server_shutdown(struct server *s, uint64_t now);
/* True when shutting down and every notice has been output. */
bool server_shutdown_done(const struct server *s);

/* Writes the counters as one line ("rooms=... relayed_bytes=... drop_malformed=..."). */
void server_format_counters(const struct server *s, char *buf, size_t cap);

/* Tests: the cookie the server expects from this address now. */
void server_make_cookie(struct server *s, uint64_t now, const struct netaddr *a,
    uint8_t cookie[RV_COOKIE_LEN]);

#endif
