/*
 * Peer-to-peer messages through the rendezvous mailbox: demultiplexing and building.
 * See peer_mailbox.h.
 */
#include "peer_mailbox.h"
#include "wire.h"

enum mb_kind
mb_demux(struct handshake *hs, const uint8_t *msg, size_t len, uint8_t *plain, size_t cap,
    struct mb_msg *out)
{
	ssize_t n;
	struct rd r;

	out->body = NULL;
	out->len = 0;
	out->size = 0;
	if (len == 0)
		return MB_IGNORE;
	if (msg[0] != HS_MSG_MAILBOX)
		/* Handshake messages only matter while it runs; late copies are harmless. */
		return hs_state(hs) == HS_RUNNING ? MB_HANDSHAKE : MB_IGNORE;
	if (hs_state(hs) != HS_DONE)
		return MB_IGNORE;	/* cannot open it yet; the sender only seals after DONE */
	n = hs_mailbox_open(hs, msg, len, plain, cap);
	if (n < 1)
		return MB_BAD;
	switch (plain[0]) {
	case MB_CANDIDATES:
		out->body = plain + 1;
		out->len = (size_t)n - 1;
		return MB_GOT_CANDIDATES;
	case MB_SIZE:
		rd_init(&r, plain + 1, (size_t)n - 1);
		out->size = rd_u64(&r);
		return rd_done(&r) ? MB_GOT_SIZE : MB_BAD;
	default:
		return MB_IGNORE;	/* a later version's message */
	}
}

size_t
mb_build_candidates(struct trav *t, uint8_t *out, size_t cap)
{
	size_t n;

	if (cap < 2)
		return 0;
	out[0] = MB_CANDIDATES;
	n = trav_build_candidates(t, out + 1, cap - 1);
	return n > 0 ? n + 1 : 0;
}

size_t
mb_build_size(uint64_t size, uint8_t *out, size_t cap)
{
	struct wr w;

	wr_init(&w, out, cap);
	wr_u8(&w, MB_SIZE);
	wr_u64(&w, size);
	return wr_ok(&w) ? wr_len(&w) : 0;
}
