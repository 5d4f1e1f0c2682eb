/*
 * The peers' handshake, sans-IO: CPace over the server mailbox, key confirmation both ways,
 * then the key schedule (see HANDSHAKE and KEY SCHEDULE in punchcat-protocol(7)).
 *
 * Messages are opaque byte strings of at most HS_MSG_MAX bytes that the caller posts to the
 * other peer through the rendezvous mailbox (reliable and ordered) and feeds back from it:
 *   loop: while ((n = hs_build(h, buf, sizeof buf)) > 0) post(buf, n);
 *         on each mailbox message m: hs_receive(h, m, len);
 * Both sides send their share at once; a side that got the peer's share sends its
 * confirmation; a side is HS_DONE when the peer's confirmation verified. A wrong code makes
 * both sides HS_FAIL as soon as each has the other's confirmation. Packets, probe MACs and
 * opening mailbox messages wait for HS_DONE; sealing a mailbox message is allowed as soon as
 * our own confirmation went out (hs_can_seal): the peer opens it only after verifying that
 * confirmation, and only with the same keys.
 */
#ifndef PUNCHCAT_HANDSHAKE_H
#define PUNCHCAT_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cpace.h"
#include "packet.h"

#define HS_VERSION 1
#define HS_MSG_MAX 512
#define HS_SID_LEN 16
#define HS_KEY_LEN 32
#define HS_TAG_LEN 32
#define HS_PROBE_MAC_LEN 16
#define HS_VERIFIER_LEN 9		/* "1234 5678" */

/* Handshake message kinds (first byte). */
#define HS_MSG_SHARE	0x01
#define HS_MSG_CONFIRM	0x02
#define HS_MSG_MAILBOX	0x03
#define HS_SHARE_LEN	(1 + 1 + CPACE_SHARE_LEN + 1 + 4)
#define HS_CONFIRM_LEN	(1 + HS_TAG_LEN)
#define HS_MAILBOX_OVERHEAD (1 + 8 + 16)
#define HS_MAILBOX_MAX (HS_MSG_MAX - HS_MAILBOX_OVERHEAD)

#define HS_CAP_AES 0x01			/* this side has hardware AES-256-GCM */

enum hs_state {
	HS_RUNNING,		/* waiting for the peer's share or confirmation */
	HS_DONE,		/* keys confirmed both ways */
	HS_FAIL			/* see hs_error(); tell the server (burns the nameplate) */
};

struct hs_params {
	bool initiator;				/* the room's creator */
	const char *password;			/* normalised password (struct code) = PRS */
	size_t password_len;
	uint32_t nameplate;
	uint8_t sid[HS_SID_LEN];		/* from the server, same for both */
	uint32_t rx_cid;			/* our receive connection id; 0 = pick one */
	bool offer_aes;				/* offer AES-256-GCM (only if available) */
	const uint8_t *test_scalar;		/* tests only: CPace scalar; NULL = random */
};

struct handshake {
	enum hs_state state;
	const char *error;
	bool initiator;
	uint8_t sid[HS_SID_LEN];
	struct cpace cpace;
	uint8_t own_ad[5], peer_ad[5];		/* caps(1) | receive connection id(4) */
	uint8_t peer_share[CPACE_SHARE_LEN];
	bool have_peer_share;
	bool share_pending, confirm_pending;
	uint8_t own_tag[HS_TAG_LEN], peer_tag[HS_TAG_LEN];
	uint32_t rx_cid, peer_cid;
	enum pkt_cipher cipher;
	uint8_t key_i2r[HS_KEY_LEN], key_r2i[HS_KEY_LEN];
	uint8_t mailbox_key[HS_KEY_LEN], probe_key[HS_KEY_LEN];
	char verifier[HS_VERIFIER_LEN + 1];
	uint64_t mailbox_tx_seq, mailbox_rx_seq;
	uint64_t ignored;			/* handshake messages after HS_DONE */
	bool locked;
};

/* Starts the handshake (computes our share). Returns -1 on bad parameters. */
int hs_init(struct handshake *h, const struct hs_params *p);
/* Next message to post to the peer, or 0 when nothing is pending. cap >= HS_MSG_MAX. */
size_t hs_build(struct handshake *h, uint8_t *out, size_t cap);
/* A handshake message (share or confirmation) from the peer; returns the new state. */
enum hs_state hs_receive(struct handshake *h, const uint8_t *msg, size_t len);
enum hs_state hs_state(const struct handshake *h);
/* Why the handshake failed (a short sentence), or NULL. */
const char *hs_error(const struct handshake *h);
/* After HS_DONE: the short string both users can compare (-v), e.g. "4821 0937". */
const char *hs_verifier(const struct handshake *h);
/* After HS_DONE: data packet keys, cipher and connection ids into c. Returns -1 before. */
int hs_pkt_init(const struct handshake *h, struct pkt_ctx *c, uint64_t now);
/* After HS_DONE: encrypts a message for the peer through the mailbox (at most
 * HS_MAILBOX_MAX bytes). Returns the message length, or 0. */
/* Whether hs_mailbox_seal() works now: keys derived and our confirmation built (it precedes
 * every sealed message in the mailbox), not failed. */
bool hs_can_seal(const struct handshake *h);
size_t hs_mailbox_seal(struct handshake *h, const void *msg, size_t len, uint8_t *out,
    size_t cap);
/* Opens a mailbox message from the peer into out; returns its length or -1 (forged,
 * replayed, malformed or before HS_DONE). */
ssize_t hs_mailbox_open(struct handshake *h, const uint8_t *msg, size_t len, uint8_t *out,
    size_t cap);
/* MAC of a NAT-traversal probe body under the probe key (both directions use one key; put
 * the direction in the body). Return -1 / false before HS_DONE. */
int hs_probe_mac(const struct handshake *h, uint8_t mac[HS_PROBE_MAC_LEN], const uint8_t *body,
    size_t len);
bool hs_probe_verify(const struct handshake *h, const uint8_t mac[HS_PROBE_MAC_LEN],
    const uint8_t *body, size_t len);
/* Wipes every secret. */
void hs_free(struct handshake *h);

#endif
