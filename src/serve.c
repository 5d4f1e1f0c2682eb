/*
 * The server's libevent shell: sockets, batches, timers, signals, privileges. The protocol is
 * all in server_core.c.
 *
 * Each listen address gets two UDP sockets: PORT (index 0: rendezvous and relay) and PORT+1
 * (index 1: mapping discovery). Datagrams are read with recvmmsg in batches of SERVE_BATCH and
 * written with sendmmsg, or with UDP GSO for runs of relayed packets to one member; relayed
 * packets are forwarded from the receive buffer itself.
 *
 * Where the kernel has UDP GRO, the sockets ask for it: a run of datagrams of one flow (a peer
 * sending with GSO, or a NIC coalescing) arrives as one buffer with its segment size, which is
 * split here into the datagrams it carries, each checked on its own. The run then usually leaves
 * as one GSO send too: one trip through the stack each way for up to 64 datagrams.
 */
#define _GNU_SOURCE 1
#include "serve.h"

#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "defaults.h"
#include "exitcode.h"
#include "log.h"
#include "netaddr.h"
#include "udpseg.h"

#define SERVE_BATCH 64
#define SERVE_MAX_SOCKS (2 * SERVE_MAX_LISTEN)
/* Batches read per readiness event before letting the other sockets and timers run. */
#define SERVE_BATCHES_PER_EVENT 16
#define SERVE_SOCKBUF (4 * 1024 * 1024)
/*
 * A receive buffer holds one GRO run (at most 64 KiB); the kernel writes only what arrived, so
 * single datagrams touch one page of it.
 */
#define SERVE_BUF 65536
/* Longer than any valid datagram (a relay envelope holds at most RV_MAX_PACKET bytes). */
#define SERVE_MAX_DGRAM 2048
/* UDP GSO: one sendmsg carries up to this many equal datagrams to one address (kernel max 64). */
#define GSO_MAX_SEGS 40
#define GSO_MAX_BYTES 60000

struct ssock {
	int fd;
	unsigned port_index;
	uint8_t family;
	struct event *ev;
	struct serve *sv;
	/* outgoing batch */
	struct mmsghdr out[SERVE_BATCH];
	struct iovec out_iov[SERVE_BATCH];
	struct sockaddr_storage out_sa[SERVE_BATCH];
	uint8_t out_copy[SERVE_BATCH][RV_MAX_PACKET];
	unsigned nout;
};

struct serve {
	struct server core;
	struct event_base *base;
	struct ssock socks[SERVE_MAX_SOCKS];
	int nsocks;
	struct event *timer, *sig_term, *sig_int, *sig_usr1;
	bool stopping;
	bool gso_off;			/* the kernel refused UDP_SEGMENT once: plain sendmmsg */
	uint64_t send_errors;
	/* receive batch */
	struct mmsghdr in[SERVE_BATCH];
	struct iovec in_iov[SERVE_BATCH];
	struct sockaddr_storage in_sa[SERVE_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} in_ctl[SERVE_BATCH];
	uint8_t in_buf[SERVE_BATCH][SERVE_BUF];
};

static void
send_plain(struct ssock *s, unsigned from, unsigned to)
{
	while (from < to) {
		int n = sendmmsg(s->fd, s->out + from, to - from, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* a full socket buffer or an unreachable peer: drop the rest, count it */
			s->sv->send_errors += to - from;
			return;
		}
		from += (unsigned)n;
	}
}

/* Datagrams i and j go to the same address. */
static bool
same_dest(const struct ssock *s, unsigned i, unsigned j)
{
	return s->out[i].msg_hdr.msg_namelen == s->out[j].msg_hdr.msg_namelen &&
	    memcmp(&s->out_sa[i], &s->out_sa[j], s->out[i].msg_hdr.msg_namelen) == 0;
}

/*
 * Sends out[i..j) (same address, equal lengths but the last, which may be shorter) as one
 * UDP GSO send: the kernel splits the gathered iovecs into datagrams of the first one's size.
 */
static bool
send_gso(struct ssock *s, unsigned i, unsigned j)
{
	union {
		char buf[UDPSEG_CTL_LEN];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = s->out[i].msg_hdr;

	mh.msg_iov = &s->out_iov[i];
	mh.msg_iovlen = j - i;
	udpseg_set_gso(&mh, ctl.buf, (uint16_t)s->out_iov[i].iov_len);
	for (;;) {
		if (sendmsg(s->fd, &mh, 0) >= 0)
			return true;
		if (errno == EINTR)
			continue;
		if (errno == EINVAL || errno == EIO || errno == ENOPROTOOPT || errno == EOPNOTSUPP) {
			s->sv->gso_off = true;	/* no GSO here: fall back for good */
			return false;
		}
		s->sv->send_errors += j - i;
		return true;
	}
}

/*
 * Sends the batch. Relayed packets mostly go in runs to the same member with the same size:
 * such runs leave in one GSO send (one trip through the stack instead of one per packet);
 * everything else goes with sendmmsg.
 */
static void
flush(struct ssock *s)
{
	unsigned i = 0, plain_from = 0;

	while (i < s->nout && !s->sv->gso_off) {
		size_t seg = s->out_iov[i].iov_len, total = seg;
		unsigned j = i + 1;

		while (j < s->nout && j - i < GSO_MAX_SEGS && total + s->out_iov[j].iov_len <=
		    GSO_MAX_BYTES && s->out_iov[j].iov_len <= seg && same_dest(s, i, j)) {
			total += s->out_iov[j].iov_len;
			if (s->out_iov[j++].iov_len < seg)
				break;	/* a shorter one may only end the run */
		}
		if (j - i < 4) {
			i = j;
			continue;
		}
		send_plain(s, plain_from, i);
		if (!send_gso(s, i, j)) {
			plain_from = i;
			break;
		}
		i = plain_from = j;
	}
	send_plain(s, plain_from, s->nout);
	s->nout = 0;
}

static void
flush_all(struct serve *sv)
{
	for (int i = 0; i < sv->nsocks; i++)
		if (sv->socks[i].nout > 0)
			flush(&sv->socks[i]);
}

/* The socket to send from: the receiving one when the family fits, else one that fits. */
static struct ssock *
out_sock(struct serve *sv, struct ssock *via, const struct netaddr *to, unsigned port_index)
{
	if (via != NULL && via->family == to->family && via->port_index == port_index)
		return via;
	for (int i = 0; i < sv->nsocks; i++) {
		struct ssock *s = &sv->socks[i];

		if (s->family == to->family && s->port_index == port_index)
			return s;
	}
	return NULL;
}

/*
 * Queues one datagram: `inplace` (the receive buffer, which outlives the batch) is sent as it
 * is; otherwise buf is copied.
 */
static void
queue_out(struct serve *sv, struct ssock *via, const struct netaddr *to, unsigned port_index,
    const uint8_t *buf, size_t len, uint8_t *inplace)
{
	struct ssock *s = out_sock(sv, via, to, port_index);
	unsigned i;

	if (s == NULL) {
		sv->send_errors++;
		return;
	}
	if (s->nout == SERVE_BATCH)
		flush(s);
	i = s->nout++;
	if (inplace == NULL) {
		memcpy(s->out_copy[i], buf, len);
		inplace = s->out_copy[i];
	}
	s->out_iov[i].iov_base = inplace;
	s->out_iov[i].iov_len = len;
	memset(&s->out[i], 0, sizeof s->out[i]);
	s->out[i].msg_hdr.msg_iov = &s->out_iov[i];
	s->out[i].msg_hdr.msg_iovlen = 1;
	s->out[i].msg_hdr.msg_name = &s->out_sa[i];
	s->out[i].msg_hdr.msg_namelen = netaddr_to_sa(to, &s->out_sa[i]);
}

static void
drain_core(struct serve *sv, uint64_t now)
{
	uint8_t buf[RV_MAX_PACKET];
	struct netaddr to;
	unsigned pi;
	size_t n;

	while ((n = server_output(&sv->core, now, buf, sizeof buf, &to, &pi)) > 0)
		queue_out(sv, NULL, &to, pi, buf, n, NULL);
}

static void
arm_timer(struct serve *sv, uint64_t now)
{
	uint64_t d = server_deadline(&sv->core);
	uint64_t wait = d == TIME_NEVER ? 60 * US_PER_S : d > now ? d - now : 0;
	struct timeval tv;

	if (wait > 60 * US_PER_S)
		wait = 60 * US_PER_S;
	tv.tv_sec = (time_t)(wait / US_PER_S);
	tv.tv_usec = (suseconds_t)(wait % US_PER_S);
	evtimer_add(sv->timer, &tv);
}

/* One datagram (a whole message, or one segment of a GRO run) into the core. */
static void
input_one(struct serve *sv, struct ssock *s, uint64_t now, const struct netaddr *from,
    uint8_t *buf, size_t len)
{
	struct netaddr to;
	const uint8_t *out;
	unsigned opi;
	size_t m = server_input(&sv->core, now, s->port_index, from, buf, len, &out, &to, &opi);

	if (m > 0)
		queue_out(sv, s, &to, opi, out, m, out == buf ? buf : NULL);
}

static void
on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct ssock *s = arg;
	struct serve *sv = s->sv;

	for (int b = 0; b < SERVE_BATCHES_PER_EVENT; b++) {
		uint64_t now;
		int n;

		for (int i = 0; i < SERVE_BATCH; i++) {
			sv->in_iov[i].iov_base = sv->in_buf[i];
			sv->in_iov[i].iov_len = SERVE_BUF;
			memset(&sv->in[i].msg_hdr, 0, sizeof sv->in[i].msg_hdr);
			sv->in[i].msg_hdr.msg_iov = &sv->in_iov[i];
			sv->in[i].msg_hdr.msg_iovlen = 1;
			sv->in[i].msg_hdr.msg_name = &sv->in_sa[i];
			sv->in[i].msg_hdr.msg_namelen = sizeof sv->in_sa[i];
			sv->in[i].msg_hdr.msg_control = sv->in_ctl[i].buf;
			sv->in[i].msg_hdr.msg_controllen = sizeof sv->in_ctl[i].buf;
		}
		n = recvmmsg(fd, sv->in, SERVE_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		now = clock_now_us();
		for (int i = 0; i < n; i++) {
			struct netaddr from;
			size_t len = sv->in[i].msg_len, seg = udpseg_gro_size(&sv->in[i].msg_hdr);

			if (!netaddr_from_sa(&from, (struct sockaddr *)&sv->in_sa[i],
			    sv->in[i].msg_hdr.msg_namelen))
				continue;
			if ((sv->in[i].msg_hdr.msg_flags & MSG_TRUNC) != 0) {
				/* larger than any valid datagram: counted as such */
				input_one(sv, s, now, &from, sv->in_buf[i], SERVE_MAX_DGRAM);
				continue;
			}
			if (seg == 0 || seg >= len) {
				input_one(sv, s, now, &from, sv->in_buf[i], len);
				continue;
			}
			/* a GRO run: datagrams of seg bytes from one sender, the last maybe shorter */
			for (size_t off = 0; off < len; off += seg)
				input_one(sv, s, now, &from, sv->in_buf[i] + off,
				    len - off < seg ? len - off : seg);
		}
		drain_core(sv, now);
		flush_all(sv);
		if (n < SERVE_BATCH)
			break;
	}
	arm_timer(sv, clock_now_us());
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct serve *sv = arg;
	uint64_t now = clock_now_us();

	if (server_deadline(&sv->core) <= now)
		server_on_timeout(&sv->core, now);
	drain_core(sv, now);
	flush_all(sv);
	arm_timer(sv, now);
}

static void
log_counters(struct serve *sv)
{
	char line[2048];

	server_format_counters(&sv->core, line, sizeof line);
	log_err("counters: %s send_errors=%llu", line, (unsigned long long)sv->send_errors);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct serve *sv = arg;
	uint64_t now = clock_now_us();

	if (sig == SIGUSR1) {
		log_counters(sv);
		return;
	}
	if (sv->stopping)
		return;
	sv->stopping = true;
	log_info("stopping on signal %d: telling %u rooms", (int)sig, sv->core.table.nrooms);
	server_shutdown(&sv->core, now);
	while (!server_shutdown_done(&sv->core)) {
		drain_core(sv, now);
		flush_all(sv);
	}
	flush_all(sv);
	event_base_loopexit(sv->base, NULL);
}

static int
set_opts(int fd, bool v6)
{
	int one = 1, buf = SERVE_SOCKBUF;

	if (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0)
		return -1;
	/* larger buffers absorb relay bursts; failure here only costs throughput */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
	/* runs of datagrams in one buffer where the kernel can (else one by one, as before) */
	(void)setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one);
	return evutil_make_socket_nonblocking(fd);
}

static int
bind_one(const struct netaddr *a)
{
	struct sockaddr_storage ss;
	socklen_t sl = netaddr_to_sa(a, &ss);
	int fd = socket(a->family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (set_opts(fd, a->family == 6) != 0 || bind(fd, (struct sockaddr *)&ss, sl) != 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static uint16_t
bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	struct netaddr a;

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
	    !netaddr_from_sa(&a, (struct sockaddr *)&ss, sl))
		return 0;
	return a.port;
}

/* Binds PORT and PORT+1 on a (port 0: finds a free pair). Returns 0 or -1 with errno. */
static int
bind_pair(struct netaddr *a, int fds[2])
{
	for (int attempt = 0; attempt < 64; attempt++) {
		struct netaddr a1;
		int e;

		fds[0] = bind_one(a);
		if (fds[0] < 0)
			return -1;
		a1 = *a;
		a1.port = bound_port(fds[0]);
		if (a1.port == 0 || a1.port == 65535) {
			close(fds[0]);
			if (a->port != 0) {
				errno = EINVAL;
				return -1;
			}
			continue;
		}
		a1.port++;
		fds[1] = bind_one(&a1);
		if (fds[1] >= 0) {
			a->port = (uint16_t)(a1.port - 1);
			return 0;
		}
		e = errno;
		close(fds[0]);
		errno = e;
		if (a->port != 0)
			return -1;
	}
	errno = EADDRINUSE;
	return -1;
}

/* netaddr_parse with port 0 allowed ("pick a free pair"). */
static bool
parse_listen(struct netaddr *a, const char *spec)
{
	char tmp[NETADDR_STRLEN + 8];
	size_t n = strlen(spec);

	if (n >= 2 && n < sizeof tmp && strcmp(spec + n - 2, ":0") == 0) {
		memcpy(tmp, spec, n - 1);
		tmp[n - 1] = '1';
		tmp[n] = '\0';
		if (!netaddr_parse(a, tmp, PUNCHCAT_PORT))
			return false;
		a->port = 0;
		return true;
	}
	return netaddr_parse(a, spec, PUNCHCAT_PORT);
}

static int
add_listener(struct serve *sv, const char *spec)
{
	struct netaddr a;
	char txt[NETADDR_STRLEN];
	int fds[2];

	if (!parse_listen(&a, spec)) {
		log_err("--listen wants ADDR:PORT with a literal IPv4 or [IPv6] address, not '%s'",
		    spec);
		return EXIT_USAGE;
	}
	if (a.port == 65535) {
		log_err("--listen %s: the discovery port PORT+1 must exist", spec);
		return EXIT_USAGE;
	}
	if (bind_pair(&a, fds) != 0) {
		log_err("cannot listen on %s: %s", spec, strerror(errno));
		return EXIT_ERROR;
	}
	for (unsigned i = 0; i < 2; i++) {
		struct ssock *s = &sv->socks[sv->nsocks++];

		s->fd = fds[i];
		s->port_index = i;
		s->family = a.family;
		s->sv = sv;
		s->ev = event_new(sv->base, fds[i], EV_READ | EV_PERSIST, on_readable, s);
		if (s->ev == NULL || event_add(s->ev, NULL) != 0) {
			log_err("cannot watch a socket");
			return EXIT_ERROR;
		}
	}
	log_info("listening on %s", netaddr_fmt(&a, txt));
	return EXIT_OK;
}

static int
drop_privileges(const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL) {
		log_err("--user %s: no such user", user);
		return -1;
	}
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		log_err("cannot become user %s: %s", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		log_err("dropping root privileges to %s did not stick", user);
		return -1;
	}
	log_info("running as user %s", user);
	return 0;
}

static void
serve_free(struct serve *sv)
{
	for (int i = 0; i < sv->nsocks; i++) {
		if (sv->socks[i].ev != NULL)
			event_free(sv->socks[i].ev);
		close(sv->socks[i].fd);
	}
	if (sv->timer != NULL)
		event_free(sv->timer);
	if (sv->sig_term != NULL)
		event_free(sv->sig_term);
	if (sv->sig_int != NULL)
		event_free(sv->sig_int);
	if (sv->sig_usr1 != NULL)
		event_free(sv->sig_usr1);
	if (sv->base != NULL)
		event_base_free(sv->base);
	server_free(&sv->core);
	free(sv);
}

int
serve_run(struct serve_opts *o)
{
	static const char *const defaults[] = { "0.0.0.0:7430", "[::]:7430" };
	struct serve *sv;
	int rc = EXIT_OK;

	if (geteuid() == 0 && o->user == NULL && !o->allow_root) {
		log_err("refusing to run as root: give --user USER (to drop privileges after "
		    "binding) or --allow-root");
		return EXIT_ERROR;
	}
	if (o->user != NULL && geteuid() != 0) {
		log_err("--user needs to be started as root");
		return EXIT_USAGE;
	}
	sv = calloc(1, sizeof *sv);
	if (sv == NULL || server_init(&sv->core, &o->cfg, clock_now_us()) != 0) {
		log_err("cannot set up the server (out of memory, or a bad limit)");
		free(sv);
		return EXIT_ERROR;
	}
	sv->base = event_base_new();
	if (sv->base == NULL) {
		log_err("cannot create the event loop");
		serve_free(sv);
		return EXIT_ERROR;
	}
	if (o->nlisten == 0) {
		for (int i = 0; i < 2 && rc == EXIT_OK; i++)
			rc = add_listener(sv, defaults[i]);
		if (rc != EXIT_OK && sv->nsocks > 0)
			rc = EXIT_OK;	/* a host without IPv6 still serves IPv4 */
	} else {
		for (int i = 0; i < o->nlisten && rc == EXIT_OK; i++)
			rc = add_listener(sv, o->listen[i]);
	}
	if (rc == EXIT_OK && o->user != NULL && drop_privileges(o->user) != 0)
		rc = EXIT_ERROR;
	if (rc != EXIT_OK) {
		serve_free(sv);
		return rc;
	}
	sv->timer = evtimer_new(sv->base, on_timer, sv);
	sv->sig_term = evsignal_new(sv->base, SIGTERM, on_signal, sv);
	sv->sig_int = evsignal_new(sv->base, SIGINT, on_signal, sv);
	sv->sig_usr1 = evsignal_new(sv->base, SIGUSR1, on_signal, sv);
	if (sv->timer == NULL || sv->sig_term == NULL || sv->sig_int == NULL ||
	    sv->sig_usr1 == NULL || evsignal_add(sv->sig_term, NULL) != 0 ||
	    evsignal_add(sv->sig_int, NULL) != 0 || evsignal_add(sv->sig_usr1, NULL) != 0) {
		log_err("cannot set up signals and timers");
		serve_free(sv);
		return EXIT_ERROR;
	}
	log_info("ready: %u rooms at most, relay %s", o->cfg.max_rooms,
	    o->cfg.no_relay ? "off" : "on");
	arm_timer(sv, clock_now_us());
	if (event_base_dispatch(sv->base) != 0) {
		log_err("event loop failed");
		rc = EXIT_ERROR;
	}
	if (rc == EXIT_OK)
		log_info("stopped");
	serve_free(sv);
	return rc;
}
