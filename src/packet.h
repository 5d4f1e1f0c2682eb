/*
 * Peer packets: in-place AEAD of the end-to-end encrypted datagrams between two peers.
 *
 * Layout (see PEER PACKETS in punchcat-protocol(7)):
 *   type(1) | receiver connection id(4) | packet number(8) | ciphertext | tag(16)
 * The 13-byte header is sent in clear and authenticated as associated data. The nonce is
 * 0^32 || packet number (big-endian), so a packet number is never sealed twice under one key:
 * pkt_seal refuses a number that is not above the last one it sealed.
 *
 * Type byte of data packets: 0x40 | key phase (bit 0). Each direction rekeys on its own: after
 * PKT_REKEY_PACKETS packets or PKT_REKEY_US microseconds the sender derives the next key from
 * the current one and flips the phase bit; the receiver follows when a packet with the other
 * phase and a higher packet number authenticates under the next key, and keeps the previous key
 * for PKT_PREV_KEY_US for packets reordered across the change.
 *
 * Sans-IO: no clock reads, no allocation. struct pkt_ctx is public so callers can embed it; use
 * it only through these functions.
 */
#ifndef PUNCHCAT_PACKET_H
#define PUNCHCAT_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <sodium.h>

#include "replay.h"

#define PKT_HDR_LEN 13   /* type(1) | receiver connection id(4) | packet number(8) */
#define PKT_TAG_LEN 16
#define PKT_OVERHEAD (PKT_HDR_LEN + PKT_TAG_LEN)
#define PKT_SPLIT_HEAD_MAX 256	/* pkt_seal_split borrows at most this much in front of a tail */
#define PKT_KEY_LEN 32

/* Peer packet kinds (first byte, 0x40-0x4f; see punchcat-protocol(7)). */
#define PKT_KIND_DATA		0x40	/* 0x40 key phase 0, 0x41 key phase 1 */
#define PKT_KIND_PHASE_BIT	0x01
#define PKT_KIND_PROBE_FIRST	0x48	/* 0x48-0x4b: NAT-traversal probes (peer module) */
#define PKT_KIND_PROBE_LAST	0x4b
/* 0x42-0x47 and 0x4c-0x4f are reserved and dropped. */

/* Highest packet number a sender may use: far below 2^64 (nonce wrap), and more than a
 * connection can reach (2^48 packets at a million per second take nine years). */
#define PKT_PN_MAX ((UINT64_C(1) << 48) - 1)
/* Rekey intervals (each direction on its own). AES-256-GCM rekeys sooner (RFC 9001 6.6). */
#define PKT_REKEY_PACKETS (UINT64_C(1) << 24)
#define PKT_REKEY_PACKETS_AESGCM (UINT64_C(1) << 23)
#define PKT_REKEY_US (UINT64_C(120) * 1000000)
/* How long the receiver keeps the previous key after a key change. */
#define PKT_PREV_KEY_US (UINT64_C(5) * 1000000)
/* Failed authentications after which the context refuses everything (AEAD integrity limit
 * of ChaCha20-Poly1305 per RFC 9001 6.6 is 2^36; we stop well before). */
#define PKT_FORGERY_LIMIT (UINT64_C(1) << 32)

enum pkt_cipher {
	PKT_CHACHA20POLY1305 = 0,
	PKT_AES256GCM = 1
};

/* Why pkt_open dropped a datagram; counted in pkt_ctx.drops. */
enum pkt_drop {
	PKT_DROP_SHORT,		/* shorter than header + tag */
	PKT_DROP_KIND,		/* not a data packet */
	PKT_DROP_CID,		/* not our receive connection id */
	PKT_DROP_TAG,		/* authentication failed */
	PKT_DROP_REPLAY,	/* packet number already accepted */
	PKT_DROP_OLD,		/* behind the replay window, or its key is gone */
	PKT_DROP_LIMIT,		/* packet number above PKT_PN_MAX, or forgery limit reached */
	PKT_DROP_N
};

struct pkt_key {
	uint8_t key[PKT_KEY_LEN];
	crypto_aead_aes256gcm_state aes;	/* expanded key when the cipher is AES-256-GCM */
};

struct pkt_ctx {
	/* Keys first: they carry the 16-byte alignment of the AES state. */
	struct pkt_key tx;
	struct pkt_key rx[3];		/* previous, current, next epoch's key (precomputed) */
	struct replay replay;

	uint64_t rekey_packets;		/* tests may lower these after init */
	uint64_t rekey_us;
	uint64_t tx_epoch;
	uint64_t tx_epoch_packets;	/* sealed under the current tx key */
	uint64_t tx_epoch_start;	/* `now` when the current tx key was taken into use */
	uint64_t tx_last_pn;
	uint64_t tx_epoch_first_pn;	/* first packet sealed under the current tx key */
	uint64_t peer_acked_pn;		/* largest packet number the peer acknowledged */
	uint64_t rx_epoch;		/* epoch of rx[1] */
	uint64_t rx_prev_until;		/* rx[0] usable before this time */
	uint64_t rx_epoch_first_pn;	/* packet that moved us into rx_epoch */
	uint64_t sealed, opened, forgeries;
	uint64_t drops[PKT_DROP_N];

	enum pkt_cipher cipher;
	uint32_t tx_cid;		/* the peer's receive connection id, written in our headers */
	uint32_t rx_cid;		/* ours, required in what we open */
	bool tx_any;			/* tx_last_pn is valid */
	bool rx_prev_valid;
	bool tx_exhausted;		/* refuses to seal from now on */
	bool rx_exhausted;		/* refuses to open from now on (forgery limit) */
	bool locked;			/* sodium_mlock succeeded */
	bool ack_gate;			/* pkt_on_acked was called: rekeys wait for an ack */
	bool peer_acked_any;
};

/* True when this machine can run AES-256-GCM in hardware (offered in the handshake). */
bool pkt_aes_available(void);
/* From raw keys and connection ids (the handshake, tests and the simulator use it).
 * tx_cid goes into our headers (the peer's receive id); rx_cid is ours.
 * Returns -1 if the cipher is not available here. */
int pkt_init_raw(struct pkt_ctx *c, enum pkt_cipher cipher, const uint8_t tx_key[PKT_KEY_LEN],
    const uint8_t rx_key[PKT_KEY_LEN], uint32_t tx_cid, uint32_t rx_cid, uint64_t now);
/* Wipes every key. */
void pkt_free(struct pkt_ctx *c);

/*
 * Tells the sender the largest packet number the peer has acknowledged (the stream's ACKs).
 * From the first call on, a new key phase starts only once a packet of the current one was
 * acknowledged (RFC 9001 6.1): otherwise a phase whose packets were all lost (a path dying with
 * them in flight) leaves the receiver two phases behind, with the same phase bit, unable to open
 * anything again. Found by the simulator torture with short rekey intervals.
 */
void pkt_on_acked(struct pkt_ctx *c, uint64_t largest_acked);

/* buf: PKT_HDR_LEN bytes of room, then len payload bytes; capacity >= len + PKT_OVERHEAD.
 * Writes the header, encrypts in place, appends the tag; returns the datagram length,
 * or 0 when the key may not seal more packets (caller closes the connection): pn not above
 * the last sealed one, or above PKT_PN_MAX. */
size_t pkt_seal(struct pkt_ctx *c, uint64_t now, uint64_t pn, uint8_t *buf, size_t len);
/* The same for a payload in two pieces: head_len bytes at buf + PKT_HDR_LEN, then tail_len
 * bytes at tail, sealed into buf (capacity >= head_len + tail_len + PKT_OVERHEAD) as one
 * payload. The head_len bytes just before tail are borrowed and put back before it returns
 * (the AEAD needs its plaintext in one piece; the tail is not copied). */
size_t pkt_seal_split(struct pkt_ctx *c, uint64_t now, uint64_t pn, uint8_t *buf,
    size_t head_len, uint8_t *tail, size_t tail_len);
/* Verifies and decrypts in place. Returns the payload length (payload at buf + PKT_HDR_LEN)
 * and sets *pn, or -1 after counting why in c->drops (the payload bytes may then have been
 * overwritten with zeros: do not try the buffer as anything else afterwards). */
ssize_t pkt_open(struct pkt_ctx *c, uint64_t now, uint8_t *buf, size_t len, uint64_t *pn);

/* True when buf starts like a data packet (for the caller's first-byte demux). */
bool pkt_is_data(const uint8_t *buf, size_t len);
/* True once the context has refused to seal (pn limit) or to open (forgery limit). */
bool pkt_exhausted(const struct pkt_ctx *c);
/* Short name of a drop reason, for -v statistics. */
const char *pkt_drop_name(enum pkt_drop d);
/* "chacha20poly1305" or "aes256gcm". */
const char *pkt_cipher_name(enum pkt_cipher cipher);
/* Writes the non-zero drop counters as "tag=3 replay=1" (or "none"); returns the length. */
size_t pkt_format_drops(const struct pkt_ctx *c, char *buf, size_t cap);

#endif
