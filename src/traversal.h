/*
 * NAT traversal, sans-IO (see NAT TRAVERSAL in punchcat-protocol(7)).
 *
 * The peer shell feeds it our candidates (host addresses, the server-reflexive addresses seen
 * on both server ports), the peer's candidate message (exchanged sealed through the server
 * mailbox) and every probe datagram (kinds 0x48-0x4b) with the local socket it came in on;
 * it asks for probes to send (socket index, destination, bytes) and the next deadline, and
 * reads back the best validated direct path. No clock, no sockets, no allocation.
 *
 * Checks are authenticated request/response probes (MAC under the probe key of the
 * handshake). A response is believed only when it carries the id of a request we sent and
 * comes from the address that request went to; requests are answered to their source, and an
 * unknown source becomes a peer-reflexive candidate that we probe at once (triggered check):
 * that is how an endpoint-independent NAT meets an endpoint-dependent one.
 *
 * Sockets: index 0 is the shell's main socket (server, relay, direct). In birthday mode the
 * hard side asks for more sockets (trav_sockets_wanted) and the shell reports how many it has
 * (trav_set_sockets); each probes the easy side's reflexive address so that its NAT opens one
 * mapping per socket, while the easy side probes random ports of the hard side's IP.
 */
#ifndef PUNCHCAT_TRAVERSAL_H
#define PUNCHCAT_TRAVERSAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "handshake.h"
#include "netaddr.h"

#define TRAV_MAX_CANDS 16		/* per side, in a candidate message */
#define TRAV_MAX_PAIRS 48		/* remote addresses we check (candidates + learned) */
#define TRAV_MAX_SOCKS 256		/* sockets, the main one included */
#define TRAV_PROBE_LEN 48		/* every probe and response has this size */
#define TRAV_OUTSTANDING 512		/* requests remembered for matching responses */
#define TRAV_REPLIES 32			/* responses waiting to be sent */
#define TRAV_CAND_MSG_MAX (3 + TRAV_MAX_CANDS * 20)
#define TRAV_CAND_VERSION 1

/* Probe kinds (first byte). */
#define TRAV_KIND_REQUEST	0x48
#define TRAV_KIND_RESPONSE	0x49
/* 0x4a, 0x4b reserved. */

/* Candidate message flags. */
#define TRAV_FLAG_HARD		0x01	/* endpoint-dependent mapping (reflexive ports differ) */
#define TRAV_FLAG_RELAY_ONLY	0x02	/* the sender will not go direct (--force-relay) */

/* Schedule (microseconds). */
#define TRAV_CHECK_SPAN_US	(UINT64_C(10) * 1000000)	/* a pair is checked this long */
#define TRAV_RETRY_US		(UINT64_C(15) * 1000000)	/* a new round after failing */
#define TRAV_BIRTHDAY_AFTER_US	(UINT64_C(1) * 1000000)	/* cheap methods first: a few RTTs */
#define TRAV_BIRTHDAY_SPAN_US	(UINT64_C(20) * 1000000)
#define TRAV_BIRTHDAY_SOCKS	256
#define TRAV_BIRTHDAY_RATE	100	/* random-port probes per second, easy side */
#define TRAV_BIRTHDAY_REFRESH_US (UINT64_C(5) * 1000000)	/* hard side re-probes */
/* Consent freshness on the chosen path (also its NAT keepalive): a request this often, and
 * the path is dead when no response came for TRAV_CONSENT_TIMEOUT_US. */
#define TRAV_CONSENT_US		(UINT64_C(500) * 1000)
#define TRAV_CONSENT_TIMEOUT_US	(UINT64_C(3) * 1000000)

enum trav_cand_type {
	TRAV_HOST = 1,
	TRAV_SRFLX = 2,
	TRAV_PRFLX = 3
};

enum trav_state {
	TRAV_WAITING,		/* no candidates from the peer yet, or no GO */
	TRAV_CHECKING,		/* probing, nothing validated yet */
	TRAV_CONNECTED,		/* a direct path is validated (trav_best) */
	TRAV_FAILED,		/* a whole round found nothing; retrying in the background */
	TRAV_RELAY_ONLY		/* one side refuses direct paths */
};

struct trav_cand {
	struct netaddr addr;
	uint8_t type;
};

struct trav_pair {
	struct netaddr addr;		/* remote */
	uint64_t start;			/* first probe of this round */
	uint64_t next;			/* next probe; TIME_NEVER when done */
	uint64_t rtt;
	uint64_t last_trigger;		/* last triggered check (rate limit) */
	uint16_t sent;			/* probes this round */
	uint16_t sock;			/* socket the validating request left from */
	uint8_t type;			/* best type this address is known as */
	bool valid;			/* a response came back */
};

struct trav_req {
	uint64_t txid;
	uint64_t sent_at;
	struct netaddr to;
	uint16_t sock;
	bool used;
};

struct trav_out {
	uint16_t sock;			/* socket index to send from */
	struct netaddr to;
	size_t len;
	uint8_t buf[TRAV_PROBE_LEN];
};

struct trav_params {
	bool initiator;			/* the room's creator (probe direction byte) */
	bool relay_only;		/* --force-relay */
	uint64_t seed;			/* random txids and ports; the shell passes random bytes */
	uint64_t check_span_us;		/* 0 = TRAV_CHECK_SPAN_US */
};

struct trav_stats {
	uint64_t requests_sent, responses_sent, requests_rx, responses_rx;
	uint64_t bad_mac, bad_format, unmatched, reflected, birthday_probes;
};

struct trav {
	const struct handshake *hs;
	struct trav_params p;
	uint64_t rng;

	struct trav_cand own[TRAV_MAX_CANDS];
	unsigned n_own;
	struct netaddr refl, refl_alt;	/* reflexive on the main and the discovery port */
	bool hard;

	bool have_peer;
	uint8_t peer_flags;
	struct netaddr peer_refl;	/* first server-reflexive candidate of the peer */
	bool same_public_ip;

	bool go;
	uint64_t go_at;
	uint64_t round_start;
	uint64_t retry_at;		/* next background round after TRAV_FAILED */
	enum trav_state state;

	struct trav_pair pairs[TRAV_MAX_PAIRS];
	unsigned n_pairs;
	int best;			/* index into pairs, -1 none */
	uint64_t best_gen;		/* bumped when the best path changes */
	uint64_t consent_next;		/* next consent request on the best path */
	uint64_t consent_last;		/* last response on the best path */
	uint64_t paths_lost;		/* chosen paths that stopped answering */

	struct trav_req reqs[TRAV_OUTSTANDING];
	unsigned req_next;

	struct trav_out replies[TRAV_REPLIES];
	unsigned reply_head, reply_n;

	/* Birthday mode. */
	bool birthday;			/* we take part (exactly one side is hard) */
	uint64_t bday_start, bday_end;
	uint64_t bday_next;		/* next probe (easy side) or next refresh (hard side) */
	unsigned bday_sock_next;	/* hard side: next socket to probe from */
	unsigned n_socks;		/* sockets the shell has, >= 1 */

	struct trav_stats st;
};

void trav_init(struct trav *t, const struct trav_params *p, const struct handshake *hs);
/* Our host candidate (the main socket's port); duplicates and unusable addresses are
 * ignored. Returns false when the list is full. */
bool trav_add_host(struct trav *t, const struct netaddr *a);
/* Our reflexive address as the server saw it on its main port and on the discovery port
 * (alt may be NULL when unknown). Different ports mean endpoint-dependent mapping. */
void trav_set_reflexive(struct trav *t, const struct netaddr *main, const struct netaddr *alt);
/* The plaintext candidate message for the peer (seal it with hs_mailbox_seal). */
size_t trav_build_candidates(struct trav *t, uint8_t *out, size_t cap);
/* The peer's candidate message (after hs_mailbox_open). Returns false if malformed. */
bool trav_peer_candidates(struct trav *t, uint64_t now, const uint8_t *msg, size_t len);
/* The server's GO: start checking (at once if the peer's candidates are in). */
void trav_go(struct trav *t, uint64_t now);

/* True for a datagram of a probe kind (0x48-0x4b). */
bool trav_is_probe(const uint8_t *buf, size_t len);
/* A probe datagram from `from` received on socket `sock`. */
void trav_receive(struct trav *t, uint64_t now, unsigned sock, const struct netaddr *from,
    const uint8_t *buf, size_t len);
/* Next datagram to send at `now`; false when nothing is due. */
bool trav_poll(struct trav *t, uint64_t now, struct trav_out *o);
/* When to call trav_poll next (TIME_NEVER: only after new input). */
uint64_t trav_deadline(const struct trav *t);

/* Sockets the shell should have open (1, or TRAV_BIRTHDAY_SOCKS on the hard side). */
unsigned trav_sockets_wanted(const struct trav *t);
/* How many the shell has (index 0 .. n-1). */
void trav_set_sockets(struct trav *t, unsigned n);

enum trav_state trav_get_state(const struct trav *t);
/* The best validated path: socket index and remote address. False when none. */
bool trav_best(const struct trav *t, unsigned *sock, struct netaddr *to, uint64_t *rtt);
/* Changes whenever trav_best changes. */
uint64_t trav_generation(const struct trav *t);
/* The direct path stopped working: forget it and check again. */
void trav_path_lost(struct trav *t, uint64_t now);
/* True once a whole round failed and no birthday search is running (--no-relay gives up). */
bool trav_failed(const struct trav *t);
bool trav_peer_hard(const struct trav *t);

#endif
