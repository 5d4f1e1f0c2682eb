/*
 * The peer's UDP sockets: opening, batched receive and send, and the first-byte demux.
 *
 * Where the kernel has them, runs of equal-sized datagrams to one address leave as one UDP GSO
 * send (UDP_SEGMENT: one trip through the stack for the run), and UDP GRO hands us runs of one
 * sender's datagrams as one buffer (fewer wake-ups and syscalls), split here before the demux.
 * A kernel that refuses GSO once gets plain sendmmsg from then on; GRO needs no fallback (a
 * kernel without it delivers datagrams one by one, as before).
 */
#define _GNU_SOURCE	/* recvmmsg, sendmmsg */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "log.h"
#include "peer_int.h"
#include "rv_wire.h"
#include "udpseg.h"

/* Receive batches per readiness event before the pump runs (fairness with stdin/stdout). */
#define RX_ROUNDS 8
/* A GSO send carries at most this many bytes (the UDP length limit, with room to spare). */
#define GSO_MAX_BYTES 65000


/* The kernel refused UDP_SEGMENT once (old kernel, or a device without it): no more tries. */
static bool gso_off;

static void
sa_from(const struct peer *p, const struct netaddr *a, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	if (p->family == AF_INET6 && a->family == 4) {
		/* Dual-stack socket: IPv4 destinations as IPv4-mapped IPv6 addresses. */
		memset(ss, 0, sizeof *ss);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a->port);
		s6->sin6_addr.s6_addr[10] = 0xff;
		s6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&s6->sin6_addr.s6_addr[12], a->ip, 4);
		*len = sizeof *s6;
		return;
	}
	*len = netaddr_to_sa(a, ss);
}

static void
set_bufs(int fd)
{
	int v = PEER_SOCKBUF;

	/* As root the FORCE variants pass the sysctl caps; otherwise the plain ones. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof v) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
}

static void on_readable(evutil_socket_t fd, short what, void *arg);

struct rx_arg {
	struct peer *p;
	unsigned sock;
};

static struct rx_arg rx_args[TRAV_MAX_SOCKS];

static void
pmtu_probe_mode(int fd, int family)
{
	int v4 = IP_PMTUDISC_PROBE, v6 = IPV6_PMTUDISC_PROBE;

	(void)setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v4, sizeof v4);
	if (family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v6, sizeof v6);
}

static int
open_one(struct peer *p, unsigned idx, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct psock *s = &p->socks[idx];
	int fd, off = 0, on = 1;

	fd = socket(p->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (p->family == AF_INET6) {
		int v6only = p->v6only ? on : off;

		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
	}
	set_bufs(fd);
	/* runs of datagrams in one buffer where the kernel can (else one by one) */
	(void)setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof on);
	/* Don't fragment, and don't let a cached path MTU refuse our probes: the stream finds
	 * the path's MTU itself (stream_pmtu_search); a datagram too big for the interface
	 * fails with EMSGSIZE and counts as lost. */
	pmtu_probe_mode(fd, p->family);
	memset(&ss, 0, sizeof ss);
	if (p->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		len = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		len = sizeof *s4;
	}
	if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	len = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
	    !netaddr_from_sa(&s->local, (struct sockaddr *)&ss, len)) {
		close(fd);
		return -1;
	}
	rx_args[idx].p = p;
	rx_args[idx].sock = idx;
	s->fd = fd;
	s->ev = event_new(p->base, fd, EV_READ | EV_PERSIST, on_readable, &rx_args[idx]);
	if (s->ev == NULL || event_add(s->ev, NULL) != 0) {
		close(fd);
		return -1;
	}
	return 0;
}

int
psock_open_main(struct peer *p)
{
	p->q.n = 0;
	for (unsigned i = 0; i < PEER_BATCH; i++) {
		p->q.bufs[i] = malloc(PEER_DGRAM_MAX);
		if (p->q.bufs[i] == NULL)
			return -1;
	}
	p->rxbufs = malloc((size_t)PEER_BATCH * PEER_DGRAM_MAX);
	if (p->rxbufs == NULL)
		return -1;
	/* Dual-stack unless -4 or -6, so host candidates of both families can be offered. */
	p->family = p->o->family == 4 ? AF_INET : AF_INET6;
	p->v6only = p->o->family == 6;
	if (open_one(p, 0, p->o->port) != 0) {
		if (p->o->family != 0 || p->server.family != 4)
			return -1;
		p->family = AF_INET;	/* no IPv6 on this machine */
		if (open_one(p, 0, p->o->port) != 0)
			return -1;
	}
	p->nsocks = 1;
	return 0;
}

int
psock_open_extra(struct peer *p, unsigned want)
{
	if (want > TRAV_MAX_SOCKS)
		want = TRAV_MAX_SOCKS;
	while (p->nsocks < want) {
		if (open_one(p, p->nsocks, 0) != 0) {
			log_verbose(2, "birthday search: %u sockets (%s)", p->nsocks, strerror(errno));
			return -1;
		}
		p->nsocks++;
	}
	return 0;
}

void
psock_close_all(struct peer *p)
{
	for (unsigned i = 0; i < p->nsocks; i++) {
		if (p->socks[i].ev != NULL)
			event_free(p->socks[i].ev);
		close(p->socks[i].fd);
		p->socks[i].ev = NULL;
	}
	p->nsocks = 0;
	for (unsigned i = 0; i < PEER_BATCH; i++) {
		free(p->q.bufs[i]);
		p->q.bufs[i] = NULL;
	}
	free(p->rxbufs);
	p->rxbufs = NULL;
}

/* Datagrams i and j of the queue go to the same address. */
static bool
same_to(const struct sendq *q, unsigned i, unsigned j)
{
	return q->tolen[i] == q->tolen[j] && memcmp(&q->to[i], &q->to[j], q->tolen[i]) == 0;
}

/*
 * The run of datagrams starting at i that one GSO send can carry: same address, the size of
 * the first (the last may be shorter), GSO_MAX_BYTES in all. Returns its end.
 */
static unsigned
run_end(const struct sendq *q, unsigned i)
{
	size_t seg = q->lens[i], total = seg;
	unsigned j = i + 1;

	if (gso_off || seg > q->gso_seg_max)
		return j;	/* a probe that is too big must fail alone, not with a run */
	while (j < q->n && q->lens[j] <= seg && total + q->lens[j] <= GSO_MAX_BYTES &&
	    same_to(q, i, j)) {
		total += q->lens[j];
		if (q->lens[j++] < seg)
			break;	/* a shorter one may only end a run */
	}
	return j;
}

void
psock_flush(struct peer *p)
{
	struct mmsghdr m[PEER_BATCH];
	struct iovec iov[PEER_BATCH];
	union {
		char buf[UDPSEG_CTL_LEN];
		struct cmsghdr align;
	} ctl[PEER_BATCH];
	unsigned first[PEER_BATCH + 1];	/* message k carries datagrams first[k] .. first[k+1] */
	struct sendq *q = &p->q;
	unsigned nmsg = 0, done = 0;

	if (q->n == 0 || q->sock >= p->nsocks) {
		q->n = 0;
		return;
	}
	memset(m, 0, sizeof m);
	for (unsigned i = 0; i < q->n; i++) {
		iov[i].iov_base = q->bufs[i];
		iov[i].iov_len = q->lens[i];
	}
	for (unsigned i = 0; i < q->n; nmsg++) {
		unsigned j = run_end(q, i);
		struct msghdr *h = &m[nmsg].msg_hdr;

		first[nmsg] = i;
		h->msg_iov = &iov[i];
		h->msg_iovlen = j - i;
		h->msg_name = &q->to[i];
		h->msg_namelen = q->tolen[i];
		if (j - i > 1)
			udpseg_set_gso(h, ctl[nmsg].buf, (uint16_t)q->lens[i]);
		i = j;
	}
	first[nmsg] = q->n;
	while (done < nmsg) {
		int r = sendmmsg(p->socks[q->sock].fd, m + done, nmsg - done, 0);

		if (r < 0) {
			struct msghdr *h = &m[done].msg_hdr;

			if (errno == EINTR)
				continue;
			if (h->msg_iovlen > 1 && (errno == EIO || errno == EINVAL ||
			    errno == ENOPROTOOPT || errno == EOPNOTSUPP)) {
				/* no GSO here: this run and the rest of the queue one by one */
				log_verbose(2, "UDP GSO refused (%s): sending datagrams one by one",
				    strerror(errno));
				gso_off = true;
				for (unsigned i = first[done]; i < q->n; i++) {
					memset(&m[i], 0, sizeof m[i]);
					m[i].msg_hdr.msg_iov = &iov[i];
					m[i].msg_hdr.msg_iovlen = 1;
					m[i].msg_hdr.msg_name = &q->to[i];
					m[i].msg_hdr.msg_namelen = q->tolen[i];
					first[i] = i;
				}
				first[q->n] = q->n;
				done = first[done];
				nmsg = q->n;
				continue;
			}
			/* Unreachable destination, buffer trouble: those datagrams are lost; the
			 * stream and the probes retransmit. */
			q->dropped += first[done + 1] - first[done];
			log_verbose(3, "send: %s", strerror(errno));
			done++;
			continue;
		}
		q->sent += first[done + (unsigned)r] - first[done];
		done += (unsigned)r;
	}
	q->n = 0;
}

uint8_t *
psock_next_buf(struct peer *p, unsigned sock)
{
	if (p->q.n > 0 && (p->q.sock != sock || p->q.n >= PEER_BATCH))
		psock_flush(p);
	return p->q.bufs[p->q.n];
}

void
psock_send_built(struct peer *p, unsigned sock, const struct netaddr *to, size_t len)
{
	struct sendq *q = &p->q;

	if (q->n > 0 && q->sock != sock)
		psock_flush(p);	/* cannot happen after psock_next_buf(sock) */
	q->sock = sock;
	q->lens[q->n] = len;
	sa_from(p, to, &q->to[q->n], &q->tolen[q->n]);
	q->n++;
	if (q->n >= PEER_BATCH)
		psock_flush(p);
}

void
psock_send(struct peer *p, unsigned sock, const struct netaddr *to, const uint8_t *buf,
    size_t len)
{
	uint8_t *b;

	if (len > PEER_DGRAM_MAX)
		return;
	b = psock_next_buf(p, sock);
	memcpy(b, buf, len);
	psock_send_built(p, sock, to, len);
}

bool
psock_is_server(const struct peer *p, const struct netaddr *from, unsigned *port_index)
{
	if (!netaddr_same_ip(from, &p->server))
		return false;
	if (from->port == p->server.port) {
		*port_index = 0;
		return true;
	}
	if (from->port == (uint16_t)(p->server.port + 1)) {
		*port_index = 1;
		return true;
	}
	return false;
}

/* One datagram: rendezvous, relay, probe or direct data, by its first byte and source. */
static void
demux(struct peer *p, uint64_t now, unsigned sock, const struct netaddr *from, uint8_t *buf,
    size_t len)
{
	unsigned port_index;

	if (len == 0)
		return;
	if (sock == 0 && psock_is_server(p, from, &port_index)) {
		if (buf[0] == RV_RELAY_FWD) {
			path_on_datagram(p, now, sock, from, buf, len, true);
			return;
		}
		if (rv_is_rendezvous(buf, len) || buf[0] == RV_RELAY_REBIND) {
			peer_on_rendezvous(p, now, port_index, buf, len);
			return;
		}
	}
	if (path_direct_blocked(p, now))
		return;		/* test knob: the direct path does not exist */
	if (trav_is_probe(buf, len)) {
		if (p->hs_started)
			trav_receive(&p->trav, now, sock, from, buf, len);
		return;
	}
	if (pkt_is_data(buf, len))
		path_on_datagram(p, now, sock, from, buf, len, false);
}

/* The GRO segment size of a received message, or 0 when it holds one datagram. */

static void
on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct rx_arg *a = arg;
	struct peer *p = a->p;
	struct mmsghdr m[PEER_BATCH];
	struct iovec iov[PEER_BATCH];
	struct sockaddr_storage from[PEER_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl[PEER_BATCH];
	uint64_t now;

	(void)what;
	memset(ctl, 0, sizeof ctl);	/* the kernel fills it; zeroed once for the analyzers */
	for (int round = 0; round < RX_ROUNDS && p->phase != PH_DONE; round++) {
		int r;

		memset(m, 0, sizeof m);
		for (unsigned i = 0; i < PEER_BATCH; i++) {
			iov[i].iov_base = p->rxbufs + (size_t)i * PEER_DGRAM_MAX;
			iov[i].iov_len = PEER_DGRAM_MAX;
			m[i].msg_hdr.msg_iov = &iov[i];
			m[i].msg_hdr.msg_iovlen = 1;
			m[i].msg_hdr.msg_name = &from[i];
			m[i].msg_hdr.msg_namelen = sizeof from[i];
			m[i].msg_hdr.msg_control = ctl[i].buf;
			m[i].msg_hdr.msg_controllen = sizeof ctl[i].buf;
		}
		r = recvmmsg(fd, m, PEER_BATCH, MSG_DONTWAIT, NULL);
		if (r <= 0)
			break;
		now = clock_now_us();
		for (int i = 0; i < r; i++) {
			struct netaddr src;
			uint8_t *b = iov[i].iov_base;
			size_t len = m[i].msg_len, seg = udpseg_gro_size(&m[i].msg_hdr);

			if (m[i].msg_hdr.msg_flags & MSG_TRUNC)
				continue;	/* larger than any datagram we accept */
			if (!netaddr_from_sa(&src, (struct sockaddr *)&from[i],
			    m[i].msg_hdr.msg_namelen))
				continue;
			if (seg == 0 || seg >= len) {
				demux(p, now, a->sock, &src, b, len);
				continue;
			}
			/* a GRO run: one sender's datagrams of seg bytes, the last maybe shorter */
			for (size_t off = 0; off < len && p->phase != PH_DONE; off += seg)
				demux(p, now, a->sock, &src, b + off, len - off < seg ? len - off : seg);
		}
		if (r < PEER_BATCH)
			break;
	}
	peer_kick(p);
}

static bool
host_usable(const struct peer *p, const struct netaddr *a)
{
	if (a->family == 4 && p->family == AF_INET6 && p->v6only)
		return false;
	if (a->family == 6 && p->family == AF_INET)
		return false;
	if (a->family == 6 && a->ip[0] == 0xfe && (a->ip[1] & 0xc0) == 0x80)
		return false;	/* link-local: needs a scope id */
	/* A server on loopback means both peers are on this machine: loopback is the host
	 * candidate then, and nothing else (keeps local tests off the real interfaces). */
	return netaddr_is_loopback(a) == p->server_loopback;
}

void
psock_host_candidates(struct peer *p)
{
	struct ifaddrs *ifa, *i;
	uint16_t port = p->socks[0].local.port;

	if (p->server_loopback) {
		struct netaddr lo = { .family = p->server.family, .port = port };

		if (lo.family == 4) {
			lo.ip[0] = 127;
			lo.ip[3] = 1;
		} else {
			lo.ip[15] = 1;
		}
		(void)trav_add_host(&p->trav, &lo);
		return;
	}
	if (getifaddrs(&ifa) != 0)
		return;
	for (i = ifa; i != NULL; i = i->ifa_next) {
		struct netaddr a;
		socklen_t len;

		if (i->ifa_addr == NULL || !(i->ifa_flags & IFF_UP))
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			len = sizeof(struct sockaddr_in);
		else if (i->ifa_addr->sa_family == AF_INET6)
			len = sizeof(struct sockaddr_in6);
		else
			continue;
		if (!netaddr_from_sa(&a, i->ifa_addr, len))
			continue;
		a.port = port;
		if (host_usable(p, &a) && !trav_add_host(&p->trav, &a))
			break;
	}
	freeifaddrs(ifa);
}
