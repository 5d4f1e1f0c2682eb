/*
 * relaybench: measurements for scripts/bench-relay.sh against a running `punchcat serve`.
 *
 *   relaybench relay SERVER:PORT SECONDS   two members of one room; A blasts 1200-byte relay
 *                                          packets, B counts what arrives
 *   relaybench relay-gso SERVER:PORT SECONDS  the same, A sending runs of GSO_SEGS packets per
 *                                          UDP GSO send and B receiving with UDP GRO (as
 *                                          fast peers do): the relay, not the load, is the limit
 *   relaybench forward SECONDS             the same through a trivial recvmmsg/sendmmsg UDP
 *                                          forwarder (the baseline)
 *   relaybench gsocheck SERVER:PORT 0      A sends one UDP GSO run of distinct relay packets
 *                                          (the last one shorter); B must get each of them,
 *                                          intact and in order (exit 0), else exit 1; exit 77
 *                                          when the kernel has no UDP GSO
 *   relaybench rooms SERVER:PORT N         creates N waiting rooms (one cookie, N JOINs)
 *   relaybench rendezvous SERVER:PORT RUNS time from start to GO for two peers, median
 * Prints "key=value" lines.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "clock.h"
#include "log.h"
#include "netaddr.h"
#include "rv_client.h"

#define BATCH 64
#define PKT 1200
/* relay-gso: datagrams per GSO send, GSO sends per sendmmsg */
#define GSO_SEGS 40
#define GSO_MSGS 8

static int
udp_socket(const struct netaddr *bind_to)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0), sz = 16 * 1024 * 1024;
	struct sockaddr_storage ss;
	socklen_t sl;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz);
	if (bind_to != NULL) {
		sl = netaddr_to_sa(bind_to, &ss);
		if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
			perror("bind");
			exit(1);
		}
	}
	return fd;
}

static struct netaddr
local_addr(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	struct netaddr a;

	getsockname(fd, (struct sockaddr *)&ss, &sl);
	netaddr_from_sa(&a, (struct sockaddr *)&ss, sl);
	return a;
}

static void
send_to(int fd, const struct netaddr *to, const void *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = netaddr_to_sa(to, &ss);

	(void)sendto(fd, buf, len, 0, (struct sockaddr *)&ss, sl);
}

/* Runs one client until it reports `want` (or an error); serves it over fd. */
static bool
client_step(struct rv_client *c, int fd, const struct netaddr *server, uint64_t wait_us)
{
	uint8_t buf[RV_MAX_PACKET];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t now = clock_now_us();
	unsigned pi;
	size_t n;

	while ((n = rv_client_output(c, now, buf, sizeof buf, &pi)) > 0) {
		struct netaddr to = *server;

		to.port = (uint16_t)(to.port + pi);
		send_to(fd, &to, buf, n);
	}
	if (poll(&p, 1, (int)(wait_us / 1000)) > 0) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		struct netaddr from;
		ssize_t r = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&ss, &sl);

		if (r > 0 && netaddr_from_sa(&from, (struct sockaddr *)&ss, sl))
			rv_client_input(c, clock_now_us(), from.port == server->port ? 0 : 1, buf,
			    (size_t)r);
	}
	if (rv_client_deadline(c) <= clock_now_us())
		rv_client_on_timeout(c, clock_now_us());
	return true;
}

/* Two clients in one room, both past GO. */
static int
pair(const struct netaddr *server, struct rv_client *a, struct rv_client *b, int *fa, int *fb)
{
	struct rv_client_cfg ca = { 0 }, cb = { 0 };
	struct netaddr lo = { .family = 4, .ip = { 127, 0, 0, 1 } };
	struct rv_event ev;
	bool ga = false, gb = false;
	uint64_t end = clock_now_us() + 5 * US_PER_S;

	*fa = udp_socket(&lo);
	*fb = udp_socket(&lo);
	rv_client_init(a, &ca, clock_now_us());
	while (clock_now_us() < end && cb.nameplate == 0) {
		client_step(a, *fa, server, 1000);
		while (rv_client_next_event(a, &ev))
			if (ev.kind == RV_EV_JOINED)
				cb.nameplate = ev.nameplate;
	}
	rv_client_init(b, &cb, clock_now_us());
	rv_client_ready(a, clock_now_us());
	while (clock_now_us() < end && !(ga && gb)) {
		client_step(a, *fa, server, 100);
		client_step(b, *fb, server, 100);
		while (rv_client_next_event(a, &ev))
			ga |= ev.kind == RV_EV_GO;
		while (rv_client_next_event(b, &ev)) {
			if (ev.kind == RV_EV_JOINED)
				rv_client_ready(b, clock_now_us());
			gb |= ev.kind == RV_EV_GO;
		}
	}
	return ga && gb ? 0 : -1;
}

/*
 * Blasts PKT-byte datagrams (prepared by the caller in bufs) from fd_tx to `to` for `secs`,
 * while a child process counts what arrives on fd_rx. Prints the figures.
 */
/* Datagrams in received message m: several when it is a GRO run. */
static uint64_t
datagrams_in(struct mmsghdr *m)
{
	struct msghdr *mh = &m->msg_hdr;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		int seg;

		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
			memcpy(&seg, CMSG_DATA(c), sizeof seg);
			if (seg > 0)
				return (m->msg_len + (unsigned)seg - 1) / (unsigned)seg;
		}
	}
	return 1;
}

/* Sends with UDP GSO: GSO_MSGS sends of GSO_SEGS copies of the len-byte packet. */
static uint64_t
send_gso_batch(int fd, struct sockaddr_storage *ss, socklen_t sl, const uint8_t *pkt, size_t len)
{
	static uint8_t run[GSO_SEGS * (PKT + 64)];
	static union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl[GSO_MSGS];
	static struct mmsghdr msgs[GSO_MSGS];
	static struct iovec iov[GSO_MSGS];
	static bool ready;
	int r;

	if (!ready) {
		uint16_t seg = (uint16_t)len;

		for (int i = 0; i < GSO_SEGS; i++)
			memcpy(run + (size_t)i * len, pkt, len);
		for (int i = 0; i < GSO_MSGS; i++) {
			struct cmsghdr *cm;

			iov[i].iov_base = run;
			iov[i].iov_len = GSO_SEGS * len;
			memset(&msgs[i], 0, sizeof msgs[i]);
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = ss;
			msgs[i].msg_hdr.msg_namelen = sl;
			msgs[i].msg_hdr.msg_control = ctl[i].buf;
			msgs[i].msg_hdr.msg_controllen = sizeof ctl[i].buf;
			cm = CMSG_FIRSTHDR(&msgs[i].msg_hdr);
			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof seg);
			memcpy(CMSG_DATA(cm), &seg, sizeof seg);
		}
		ready = true;
	}
	r = sendmmsg(fd, msgs, GSO_MSGS, 0);
	return r > 0 ? (uint64_t)r * GSO_SEGS : 0;
}

static void
blast(const char *label, int fd_tx, const struct netaddr *to, uint8_t bufs[BATCH][PKT + 64],
    size_t len, int fd_rx, double secs, bool gso)
{
	int pipefd[2];
	pid_t child;
	uint64_t sent = 0, got = 0, t0, t1;
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_storage ss;
	socklen_t sl = netaddr_to_sa(to, &ss);

	if (pipe(pipefd) != 0)
		exit(1);
	child = fork();
	if (child == 0) {
		static uint8_t rb[BATCH][65536];
		static union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} rctl[BATCH];
		struct mmsghdr rm[BATCH];
		struct iovec riov[BATCH];
		uint64_t n = 0, first = 0, last = 0;
		int one = 1;

		if (gso)
			(void)setsockopt(fd_rx, SOL_UDP, UDP_GRO, &one, sizeof one);
		for (;;) {
			struct pollfd p = { .fd = fd_rx, .events = POLLIN };
			int r;

			for (int i = 0; i < BATCH; i++) {
				riov[i].iov_base = rb[i];
				riov[i].iov_len = gso ? sizeof rb[i] : 2048;
				memset(&rm[i], 0, sizeof rm[i]);
				rm[i].msg_hdr.msg_iov = &riov[i];
				rm[i].msg_hdr.msg_iovlen = 1;
				rm[i].msg_hdr.msg_control = rctl[i].buf;
				rm[i].msg_hdr.msg_controllen = sizeof rctl[i].buf;
			}
			if (poll(&p, 1, 500) <= 0)
				break;
			r = recvmmsg(fd_rx, rm, BATCH, MSG_DONTWAIT, NULL);
			if (r <= 0)
				continue;
			if (first == 0)
				first = clock_now_us();
			last = clock_now_us();
			for (int i = 0; i < r; i++)
				n += datagrams_in(&rm[i]);
		}
		dprintf(pipefd[1], "%llu %llu\n", (unsigned long long)n,
		    (unsigned long long)(last - first));
		_exit(0);
	}
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = len;
		memset(&msgs[i], 0, sizeof msgs[i]);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &ss;
		msgs[i].msg_hdr.msg_namelen = sl;
	}
	t0 = clock_now_us();
	t1 = t0 + (uint64_t)(secs * 1e6);
	while (clock_now_us() < t1) {
		int r;

		if (gso) {
			sent += send_gso_batch(fd_tx, &ss, sl, bufs[0], len);
			continue;
		}
		r = sendmmsg(fd_tx, msgs, BATCH, 0);
		if (r > 0)
			sent += (uint64_t)r;
	}
	{
		char line[128] = { 0 };
		unsigned long long n = 0, us = 1;
		ssize_t r;

		waitpid(child, NULL, 0);
		r = read(pipefd[0], line, sizeof line - 1);
		if (r > 0)
			sscanf(line, "%llu %llu", &n, &us);
		got = n;
		if (us == 0)
			us = 1;
		printf("%s_sent=%llu %s_received=%llu %s_pps=%.0f %s_MBps=%.1f %s_Gbps=%.2f\n",
		    label, (unsigned long long)sent, label, (unsigned long long)got, label,
		    (double)got * 1e6 / (double)us, label,
		    (double)got * PKT / (double)us, label, (double)got * PKT * 8 / 1e3 / (double)us);
	}
}

static int
mode_relay(const struct netaddr *server, double secs, bool gso)
{
	static uint8_t bufs[BATCH][PKT + 64];
	struct rv_client a, b;
	int fa, fb;
	size_t len = 0;

	if (pair(server, &a, &b, &fa, &fb) != 0) {
		fprintf(stderr, "relaybench: could not set up a room\n");
		return 1;
	}
	for (int i = 0; i < BATCH; i++) {
		memset(bufs[i] + RV_RELAY_HDR_LEN, 0x40, PKT);
		len = rv_client_relay_wrap(&a, bufs[i], PKT - RV_RELAY_HDR_LEN);
	}
	blast(gso ? "relaygso" : "relay", fa, server, bufs, len, fb, secs, gso);
	return 0;
}

/* One GSO run of CHECK_SEGS relay packets through the server; B checks what arrives. */
#define CHECK_SEGS 20
static int
mode_gsocheck(const struct netaddr *server)
{
	static uint8_t run[CHECK_SEGS * PKT], rb[2048];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
	struct rv_client a, b;
	struct sockaddr_storage ss;
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *cm;
	int fa, fb;
	size_t len = 0, total = 0;
	uint16_t seg;

	if (pair(server, &a, &b, &fa, &fb) != 0) {
		fprintf(stderr, "relaybench: could not set up a room\n");
		return 1;
	}
	/* relay packets of PKT bytes, packet i filled with byte i; the last one half as long */
	for (int i = 0; i < CHECK_SEGS; i++) {
		uint8_t *p = run + total;
		size_t body = (i == CHECK_SEGS - 1 ? PKT / 2 : PKT) - RV_RELAY_HDR_LEN;

		memset(p + RV_RELAY_HDR_LEN, 0x40 + i, body);
		len = rv_client_relay_wrap(&a, p, body);
		total += len;
	}
	seg = PKT;
	memset(&mh, 0, sizeof mh);
	memset(&ctl, 0, sizeof ctl);
	iov.iov_base = run;
	iov.iov_len = total;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_name = &ss;
	mh.msg_namelen = netaddr_to_sa(server, &ss);
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof ctl.buf;
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof seg);
	memcpy(CMSG_DATA(cm), &seg, sizeof seg);
	if (sendmsg(fa, &mh, 0) < 0) {
		printf("gsocheck: no UDP GSO here (%s)\n", strerror(errno));
		return 77;
	}
	for (int i = 0; i < CHECK_SEGS; i++) {
		struct pollfd p = { .fd = fb, .events = POLLIN };
		size_t want = i == CHECK_SEGS - 1 ? PKT / 2 : PKT;
		ssize_t r;

		if (poll(&p, 1, 2000) <= 0) {
			printf("gsocheck: only %d of %d relayed packets arrived\n", i, CHECK_SEGS);
			return 1;
		}
		r = recv(fb, rb, sizeof rb, 0);
		if (r < 0 || (size_t)r < RV_RELAY_HDR_LEN) {
			printf("gsocheck: bad datagram %d\n", i);
			return 1;
		}
		/* what B gets: the relay header, then the peer packet as A sent it */
		if ((size_t)r != want) {
			printf("gsocheck: datagram %d is %zd bytes, want %zu\n", i, r, want);
			return 1;
		}
		for (size_t k = RV_RELAY_HDR_LEN; k < (size_t)r; k++)
			if (rb[k] != 0x40 + i) {
				printf("gsocheck: datagram %d differs at byte %zu\n", i, k);
				return 1;
			}
	}
	printf("gsocheck: %d relayed packets from one GSO run arrived intact and in order\n",
	    CHECK_SEGS);
	return 0;
}

/* The baseline: a process that forwards everything from one socket to a fixed address. */
static int
mode_forward(double secs)
{
	static uint8_t bufs[BATCH][PKT + 64];
	struct netaddr lo = { .family = 4, .ip = { 127, 0, 0, 1 } }, fwd_addr, dst;
	int ffwd = udp_socket(&lo), ftx = udp_socket(&lo), frx = udp_socket(&lo);
	pid_t fwd;

	fwd_addr = local_addr(ffwd);
	dst = local_addr(frx);
	fwd = fork();
	if (fwd == 0) {
		static uint8_t rb[BATCH][2048];
		cpu_set_t cpus;

		/* on CPU 0 like the server in scripts/bench-relay.sh (the rest runs elsewhere) */
		CPU_ZERO(&cpus);
		CPU_SET(0, &cpus);
		(void)sched_setaffinity(0, sizeof cpus, &cpus);
		struct mmsghdr rm[BATCH];
		struct iovec riov[BATCH];
		struct sockaddr_storage ss;
		socklen_t sl = netaddr_to_sa(&dst, &ss);

		for (;;) {
			int r;

			for (int i = 0; i < BATCH; i++) {
				riov[i].iov_base = rb[i];
				riov[i].iov_len = sizeof rb[i];
				memset(&rm[i], 0, sizeof rm[i]);
				rm[i].msg_hdr.msg_iov = &riov[i];
				rm[i].msg_hdr.msg_iovlen = 1;
			}
			r = recvmmsg(ffwd, rm, BATCH, 0, NULL);
			if (r <= 0)
				continue;
			for (int i = 0; i < r; i++) {
				riov[i].iov_len = rm[i].msg_len;
				rm[i].msg_hdr.msg_name = &ss;
				rm[i].msg_hdr.msg_namelen = sl;
			}
			(void)sendmmsg(ffwd, rm, (unsigned)r, 0);
		}
	}
	for (int i = 0; i < BATCH; i++)
		memset(bufs[i], 0x40, PKT);
	blast("forward", ftx, &fwd_addr, bufs, PKT, frx, secs, false);
	kill(fwd, SIGKILL);
	waitpid(fwd, NULL, 0);
	return 0;
}

static int
mode_rooms(const struct netaddr *server, unsigned n)
{
	struct netaddr lo = { .family = 4, .ip = { 127, 0, 0, 1 } };
	int fd = udp_socket(&lo);
	struct rv_msg m = { .type = RV_JOIN, .flags = RV_JOIN_ALLOCATE };
	uint8_t buf[RV_MAX_PACKET], rb[RV_MAX_PACKET];
	unsigned joined = 0, sent = 0;
	uint64_t t0 = clock_now_us();
	size_t len;

	/* one cookie for this address, then JOINs with fresh nonces, 256 in flight at most */
	len = rv_encode(&m, buf, sizeof buf);
	send_to(fd, server, buf, len);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct rv_msg r;
		ssize_t k;

		if (poll(&p, 1, 1000) <= 0)
			return 1;
		k = recv(fd, rb, sizeof rb, 0);
		if (k > 0 && rv_decode(&r, rb, (size_t)k) && r.type == RV_COOKIE) {
			memcpy(m.cookie, r.cookie, RV_COOKIE_LEN);
			break;
		}
	}
	while (joined < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t k;

		while (sent < n && sent - joined < 256) {
			uint32_t i = sent++;

			memcpy(m.nonce, &i, sizeof i);
			m.nonce[7] = 0x77;
			len = rv_encode(&m, buf, sizeof buf);
			send_to(fd, server, buf, len);
		}
		if (poll(&p, 1, 2000) <= 0)
			break;
		while ((k = recv(fd, rb, sizeof rb, MSG_DONTWAIT)) > 0)
			if (rb[0] == RV_JOINED)
				joined++;
			else if (rb[0] == RV_ERROR)
				n--;	/* refused (limits): stop counting it */
	}
	printf("rooms_created=%u seconds=%.2f\n", joined, (double)(clock_now_us() - t0) / 1e6);
	/* keep the socket (and so nothing) open: waiting rooms stay until they expire */
	return 0;
}

static int
cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static int
mode_rendezvous(const struct netaddr *server, unsigned runs)
{
	uint64_t t[64];

	if (runs > 64)
		runs = 64;
	for (unsigned i = 0; i < runs; i++) {
		struct rv_client a, b;
		int fa, fb;
		uint64_t t0 = clock_now_us();

		if (pair(server, &a, &b, &fa, &fb) != 0)
			return 1;
		t[i] = clock_now_us() - t0;
		rv_client_leave(&a, clock_now_us());
		rv_client_leave(&b, clock_now_us());
		client_step(&a, fa, server, 0);
		client_step(&b, fb, server, 0);
		close(fa);
		close(fb);
	}
	qsort(t, runs, sizeof t[0], cmp_u64);
	printf("rendezvous_runs=%u rendezvous_median_ms=%.2f rendezvous_max_ms=%.2f\n", runs,
	    (double)t[runs / 2] / 1e3, (double)t[runs - 1] / 1e3);
	return 0;
}

int
main(int argc, char **argv)
{
	struct netaddr server;

	if (sodium_init() < 0)
		return 1;
	log_level = -1;
	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && strcmp(argv[1], "forward") == 0)
		return mode_forward(atof(argv[2]));
	if (argc != 4 || !netaddr_parse(&server, argv[2], 0)) {
		fprintf(stderr, "usage: relaybench relay|relay-gso|gsocheck|rooms|rendezvous SERVER:PORT ARG | "
		    "relaybench forward SECONDS\n");
		return 2;
	}
	if (strcmp(argv[1], "relay") == 0)
		return mode_relay(&server, atof(argv[3]), false);
	if (strcmp(argv[1], "relay-gso") == 0)
		return mode_relay(&server, atof(argv[3]), true);
	if (strcmp(argv[1], "gsocheck") == 0)
		return mode_gsocheck(&server);
	if (strcmp(argv[1], "rooms") == 0)
		return mode_rooms(&server, (unsigned)atoi(argv[3]));
	if (strcmp(argv[1], "rendezvous") == 0)
		return mode_rendezvous(&server, (unsigned)atoi(argv[3]));
	return 2;
}
