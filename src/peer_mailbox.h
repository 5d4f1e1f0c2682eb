/*
 * The messages the peers send each other through the rendezvous once keys are confirmed, and
 * the demultiplexing of every peer message the rendezvous delivers. Sans-IO and free of the
 * peer's state so that tests/fuzz/fuzz_mailbox.c can drive it with hostile input and with
 * correctly sealed input of any content.
 *
 * A peer message is either a handshake message (while the handshake runs) or, once it is done,
 * a mailbox message sealed with the mailbox key (HS_MSG_MAILBOX). The first byte of an opened
 * mailbox message says what it is (see NAT TRAVERSAL in punchcat-protocol(7)):
 *   MB_CANDIDATES  followed by a candidate message (trav_build_candidates)
 *   MB_SIZE        followed by u64 size of the sender's regular-file input (for -P)
 * Unknown kinds are ignored so a later version can add some.
 */
#ifndef PUNCHCAT_PEER_MAILBOX_H
#define PUNCHCAT_PEER_MAILBOX_H

#include <stddef.h>
#include <stdint.h>

#include "handshake.h"
#include "traversal.h"

#define MB_CANDIDATES 0x01
#define MB_SIZE 0x02

/* Largest plaintext a caller builds: the kind byte and a full candidate message. */
#define MB_PLAIN_MAX (1 + TRAV_CAND_MSG_MAX)

enum mb_kind {
	MB_IGNORE,		/* nothing to do: wrong state, empty, or an unknown kind */
	MB_HANDSHAKE,		/* give msg to hs_receive */
	MB_GOT_CANDIDATES,	/* body/len: the candidate message, for trav_peer_candidates */
	MB_GOT_SIZE,		/* size: the peer's input size */
	MB_BAD,			/* a mailbox message that did not open or parse */
};

struct mb_msg {
	const uint8_t *body;	/* points into the caller's plain buffer */
	size_t len;
	uint64_t size;
};

/*
 * Classifies one peer message. Mailbox messages are opened into plain (cap >= HS_MSG_MAX);
 * out describes what they carry. Never trusts a length it did not check.
 */
enum mb_kind mb_demux(struct handshake *hs, const uint8_t *msg, size_t len, uint8_t *plain,
    size_t cap, struct mb_msg *out);

/* The plaintexts to seal with hs_mailbox_seal. Return the length, or 0 if cap is too small. */
size_t mb_build_candidates(struct trav *t, uint8_t *out, size_t cap);
size_t mb_build_size(uint64_t size, uint8_t *out, size_t cap);

#endif
