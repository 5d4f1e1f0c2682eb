/*
 * Which path the stream's packets take: the relay from the first moment after key
 * confirmation, the direct path as soon as the traversal core validated one, the relay again
 * when the direct path stops answering (the core keeps checking in the background). Packets
 * are accepted from either path at any time: each side picks its sending path on its own.
 */
#include <string.h>

#include "log.h"
#include "peer_int.h"
#include "rv_wire.h"

/* Frame bytes per packet on a path: big datagrams on loopback, 1200-byte ones elsewhere. */
static size_t
payload_for(const struct peer *p, bool direct, const struct netaddr *to)
{
	if (direct && netaddr_is_loopback(to))
		return PEER_LOOPBACK_PAYLOAD;
	return STREAM_PAYLOAD_DEFAULT;
}

bool
path_direct_blocked(const struct peer *p, uint64_t now)
{
	if (p->test_block_direct)
		return true;
	return p->test_block_direct_after_us != 0 && p->direct_seen &&
	    now >= p->direct_first + p->test_block_direct_after_us;
}

static bool
relay_allowed(const struct peer *p)
{
	return !p->o->no_relay && rv_client_relay_ok(&p->rv);
}

static void
use_relay(struct peer *p, uint64_t now)
{
	p->on_direct = false;
	if (!relay_allowed(p)) {
		p->have_path = false;	/* wait for a direct path (or exit 6) */
		return;
	}
	p->have_path = true;
	rv_client_relay_in_use(&p->rv, true);
	stream_set_max_payload(p->st, STREAM_PAYLOAD_DEFAULT);
	report_path(p, false, &p->server);
}

void
path_start(struct peer *p, uint64_t now)
{
	p->trav_gen = trav_generation(&p->trav);
	use_relay(p, now);
	path_update(p, now);
}

void
path_update(struct peer *p, uint64_t now)
{
	uint64_t gen = trav_generation(&p->trav);
	struct netaddr to;
	unsigned sock;
	uint64_t rtt;

	if (p->st == NULL || gen == p->trav_gen || p->o->force_relay)
		return;
	p->trav_gen = gen;
	if (trav_best(&p->trav, &sock, &to, &rtt)) {
		if (p->on_direct && sock == p->direct_sock && netaddr_eq(&to, &p->direct_to))
			return;
		p->on_direct = true;
		p->have_path = true;
		rv_client_relay_in_use(&p->rv, false);
		p->direct_sock = sock;
		p->direct_to = to;
		p->direct_since = now;
		if (!p->direct_seen) {
			p->direct_seen = true;
			p->direct_first = now;
		}
		stream_path_changed(p->st, now, rtt);	/* its check measured the RTT */
		stream_set_max_payload(p->st, payload_for(p, true, &to));
		if (!netaddr_is_loopback(&to))
			stream_pmtu_search(p->st, now, to.family == 4 ? PEER_PMTU_CEILING_V4 :
			    PEER_PMTU_CEILING_V6);
		report_path(p, true, &to);
		return;
	}
	if (p->on_direct) {
		log_verbose(2, "the direct path stopped answering");
		stream_path_changed(p->st, now, 0);
		use_relay(p, now);
	}
}

void
path_on_datagram(struct peer *p, uint64_t now, unsigned sock, const struct netaddr *from,
    uint8_t *buf, size_t len, bool relayed)
{
	uint64_t pn, acked;
	ssize_t n;

	(void)sock;
	(void)from;
	if (relayed) {
		const uint8_t *pkt;
		size_t plen;

		if (!rv_client_relay_unwrap(&p->rv, buf, len, &pkt, &plen))
			return;
		/* The packet lies inside buf: open it in place. */
		buf += pkt - buf;
		len = plen;
	}
	if (!p->pkt_ready || p->st == NULL)
		return;
	n = pkt_open(&p->pkt, now, buf, len, &pn);
	if (n < 0)
		return;
	if (relayed)
		rv_client_relay_verified(&p->rv, now);	/* the room holds our peer */
	(void)stream_on_packet(p->st, now, pn, buf + PKT_HDR_LEN, (size_t)n);
	/* our next key phase waits for an ack of the current one (RFC 9001 6.1) */
	if ((acked = stream_largest_acked(p->st)) > 0)
		pkt_on_acked(&p->pkt, acked - 1);
}

/* Seals the stream's next packet at buf (header room in front); returns the datagram
 * length or 0 when the stream has nothing to send now. */
static size_t
next_sealed(struct peer *p, uint64_t now, uint8_t *buf, size_t cap)
{
	_Static_assert(STREAM_TAIL_HEAD_MAX <= PKT_SPLIT_HEAD_MAX, "the seal must borrow enough");
	struct stream_tail tail;
	uint64_t pn;
	size_t n = stream_next_packet_split(p->st, now, buf + PKT_HDR_LEN, cap - PKT_OVERHEAD,
	    &pn, &tail);

	if (n == 0)
		return 0;
	/* The payload bytes go from the send buffer straight into the datagram, encrypted. */
	if (tail.len > 0)
		n = pkt_seal_split(&p->pkt, now, pn, buf, n - tail.len, tail.data, tail.len);
	else
		n = pkt_seal(&p->pkt, now, pn, buf, n);
	if (n == 0 && !p->closing) {
		/* The key may not seal more: the connection cannot go on. */
		log_err("packet number space exhausted; closing");
		stream_close(p->st, now, STREAM_CLOSE_INTERNAL);
	}
	return n;
}

void
path_send(struct peer *p, uint64_t now)
{
	if (p->st == NULL || !p->pkt_ready || !p->have_path)
		return;
	if (!p->on_direct && !rv_client_relay_ok(&p->rv))
		return;		/* re-joining after a server restart: the stream waits */
	/* datagrams above the stream's payload are path MTU probes: never in a GSO run */
	p->q.gso_seg_max = stream_payload(p->st) + PKT_OVERHEAD +
	    (p->on_direct ? 0 : RV_RELAY_HDR_LEN);
	for (unsigned i = 0; i < 100000; i++) {
		uint8_t *b;
		size_t n;

		if (p->on_direct) {
			b = psock_next_buf(p, p->direct_sock);
			n = next_sealed(p, now, b, PEER_DGRAM_MAX);
			if (n == 0)
				break;
			if (!path_direct_blocked(p, now))
				psock_send_built(p, p->direct_sock, &p->direct_to, n);
		} else {
			b = psock_next_buf(p, 0);
			n = next_sealed(p, now, b + RV_RELAY_HDR_LEN,
			    PEER_DGRAM_MAX - RV_RELAY_HDR_LEN);
			if (n == 0)
				break;
			n = rv_client_relay_wrap(&p->rv, b, n);
			if (n > 0)
				psock_send_built(p, 0, &p->server, n);
		}
	}
}
