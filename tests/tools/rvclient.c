/*
 * rvclient: drives the real rv_client against a real `punchcat serve` over UDP, for the bats
 * tests and the benchmark. Prints one line per event on stdout.
 *
 *   rvclient [OPTIONS] SERVER:PORT
 *     -n N        nameplate (default 0: allocate)      -c  claim only
 *     -b ADDR     local address to bind (default: any of the server's family)
 *     -m TEXT     send TEXT to the peer once in the room (repeatable)
 *     -e N        wait for N peer messages              -r  ask for GO and wait for it
 *     -R N        after GO (or when the peer is there), relay N 1200-byte packets and wait for N
 *     -A N        allocation flood: N JOINs with fresh nonces from this socket; prints
 *                 "joined=J refused=R" (no waiting for peers)
 *     -t SECONDS  give up after this long (default 10)  -H SECONDS  stay this long at the end
 * Exit: 0 done, the rv_error_exit() status on a server error, 1 on timeout.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "clock.h"
#include "log.h"
#include "netaddr.h"
#include "rv_client.h"

#define MAX_MSGS 8

static int fd = -1;
static struct netaddr server;

static void
send_to(unsigned pi, const uint8_t *buf, size_t len)
{
	struct netaddr to = server;
	struct sockaddr_storage ss;
	socklen_t sl;

	to.port = (uint16_t)(server.port + pi);
	sl = netaddr_to_sa(&to, &ss);
	if (sendto(fd, buf, len, 0, (struct sockaddr *)&ss, sl) < 0 && errno != EAGAIN)
		perror("rvclient: sendto");
}

/* Receives one datagram within wait_us; returns its length or 0, *pi from its source port. */
static size_t
recv_from(uint8_t *buf, size_t cap, uint64_t wait_us, unsigned *pi)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	struct netaddr from;
	ssize_t n;

	if (poll(&p, 1, (int)(wait_us / 1000)) <= 0)
		return 0;
	n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&ss, &sl);
	if (n <= 0 || !netaddr_from_sa(&from, (struct sockaddr *)&ss, sl))
		return 0;
	*pi = from.port == server.port ? 0 : 1;
	return (size_t)n;
}

static void
hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

static int
alloc_flood(unsigned n, uint64_t timeout_us)
{
	unsigned joined = 0, refused = 0;
	uint8_t buf[RV_MAX_PACKET];

	for (unsigned i = 0; i < n; i++) {
		struct rv_client c;
		struct rv_client_cfg cfg = { 0 };
		uint64_t end = clock_now_us() + timeout_us;
		bool done = false;

		rv_client_init(&c, &cfg, clock_now_us());
		while (!done && clock_now_us() < end) {
			uint64_t now = clock_now_us(), d;
			struct rv_event ev;
			unsigned pi;
			size_t len;

			while ((len = rv_client_output(&c, now, buf, sizeof buf, &pi)) > 0)
				send_to(pi, buf, len);
			d = rv_client_deadline(&c);
			len = recv_from(buf, sizeof buf, d > now ? (d - now < 50000 ? d - now : 50000) : 0,
			    &pi);
			now = clock_now_us();
			if (len > 0)
				rv_client_input(&c, now, pi, buf, len);
			if (rv_client_deadline(&c) <= now)
				rv_client_on_timeout(&c, now);
			while (rv_client_next_event(&c, &ev)) {
				if (ev.kind == RV_EV_JOINED) {
					joined++;
					done = true;
				} else if (ev.kind == RV_EV_ERROR) {
					refused++;
					done = true;
				}
			}
		}
	}
	printf("joined=%u refused=%u\n", joined, refused);
	return 0;
}

int
main(int argc, char **argv)
{
	struct rv_client_cfg cfg = { 0 };
	struct rv_client c;
	const char *msgs[MAX_MSGS], *bind_addr = NULL;
	unsigned nmsgs = 0, expect = 0, got = 0, relay_n = 0, relay_sent = 0, relay_got = 0;
	unsigned alloc_n = 0;
	bool want_go = false, go = false, joined = false, peer = false;
	double timeout_s = 10, hold_s = 0;
	uint64_t end, hold_until = 0;
	uint8_t buf[RV_MAX_PACKET + 64];
	int opt, status = 1;

	while ((opt = getopt(argc, argv, "n:cb:m:e:rR:A:t:H:")) != -1) {
		switch (opt) {
		case 'n': cfg.nameplate = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'c': cfg.claim_only = true; break;
		case 'b': bind_addr = optarg; break;
		case 'm': if (nmsgs < MAX_MSGS) msgs[nmsgs++] = optarg; break;
		case 'e': expect = (unsigned)atoi(optarg); break;
		case 'r': want_go = true; break;
		case 'R': relay_n = (unsigned)atoi(optarg); break;
		case 'A': alloc_n = (unsigned)atoi(optarg); break;
		case 't': timeout_s = atof(optarg); break;
		case 'H': hold_s = atof(optarg); break;
		default: fprintf(stderr, "rvclient: bad option\n"); return 2;
		}
	}
	if (optind + 1 != argc || !netaddr_parse(&server, argv[optind], 7430) ||
	    sodium_init() < 0) {
		fprintf(stderr, "usage: rvclient [OPTIONS] SERVER:PORT\n");
		return 2;
	}
	log_level = -1;
	fd = socket(server.family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
	{
		int sz = 8 * 1024 * 1024;	/* relay bursts arrive faster than we read */

		setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz);
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	}
	if (bind_addr != NULL) {
		struct netaddr b;
		struct sockaddr_storage ss;
		socklen_t sl;

		if (!netaddr_parse(&b, bind_addr, 0)) {
			if (!netaddr_parse(&b, bind_addr, 1))
				return 2;
			b.port = 0;	/* an address alone: any port */
		}
		sl = netaddr_to_sa(&b, &ss);
		if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
			perror("rvclient: bind");
			return 1;
		}
	}
	if (alloc_n > 0)
		return alloc_flood(alloc_n, (uint64_t)(timeout_s * 1e6));
	end = clock_now_us() + (uint64_t)(timeout_s * 1e6);
	rv_client_init(&c, &cfg, clock_now_us());
	for (;;) {
		uint64_t now = clock_now_us(), d, wait;
		struct rv_event ev;
		unsigned pi;
		size_t len;
		bool done;

		while ((len = rv_client_output(&c, now, buf, sizeof buf, &pi)) > 0)
			send_to(pi, buf, len);
		/* relay packets, once the peer is there (and GO came, when asked for) */
		while (relay_n > 0 && relay_sent < relay_n && peer && (go || !want_go) &&
		    rv_client_relay_ok(&c)) {
			memset(buf + RV_RELAY_HDR_LEN, 0x40, 1200);
			len = rv_client_relay_wrap(&c, buf, 1200);
			send_to(0, buf, len);
			relay_sent++;
		}
		done = joined && got >= expect && rv_client_peer_messages_acked(&c) && (!want_go || go) && relay_got >= relay_n &&
		    (relay_n == 0 || relay_sent >= relay_n);
		if (done && hold_until == 0) {
			hold_until = now + (uint64_t)(hold_s * 1e6);
			status = 0;
		}
		if (hold_until != 0 && now >= hold_until)
			break;
		if (now >= end) {
			printf("timeout\n");
			break;
		}
		d = rv_client_deadline(&c);
		wait = d > now ? d - now : 0;
		if (wait > 20000)
			wait = 20000;
		len = recv_from(buf, sizeof buf, wait, &pi);
		now = clock_now_us();
		if (len > 0) {
			const uint8_t *pkt;
			size_t plen;

			if (buf[0] == RV_RELAY_FWD) {
				if (rv_client_relay_unwrap(&c, buf, len, &pkt, &plen) && plen == 1200)
					relay_got++;
			} else {
				rv_client_input(&c, now, pi, buf, len);
			}
		}
		if (rv_client_deadline(&c) <= now)
			rv_client_on_timeout(&c, now);
		while (rv_client_next_event(&c, &ev)) {
			char sid[2 * RV_SID_LEN + 1], r0[NETADDR_STRLEN], r1[NETADDR_STRLEN];

			switch (ev.kind) {
			case RV_EV_NAMEPLATE:
				printf("nameplate %u\n", ev.nameplate);
				break;
			case RV_EV_JOINED:
				hex(ev.sid, RV_SID_LEN, sid);
				printf("joined %u %s sid=%s reflexive=%s,%s%s\n", ev.nameplate,
				    ev.initiator ? "initiator" : "responder", sid,
				    netaddr_fmt(&ev.reflexive[0], r0),
				    ev.reflexive[1].family ? netaddr_fmt(&ev.reflexive[1], r1) : "-",
				    ev.mapping_varies ? " mapping-varies" : "");
				joined = true;
				for (unsigned i = 0; i < nmsgs; i++)
					rv_client_send_peer_message(&c, now, msgs[i], strlen(msgs[i]));
				if (want_go)
					rv_client_ready(&c, now);
				break;
			case RV_EV_PEER_JOINED:
				printf("peer_joined\n");
				peer = true;
				break;
			case RV_EV_PEER_MESSAGE:
				printf("message %.*s\n", (int)ev.msg_len, (const char *)ev.msg);
				got++;
				peer = true;
				break;
			case RV_EV_GO:
				printf("go\n");
				go = true;
				break;
			case RV_EV_PEER_LEFT:
				printf("peer_left %u\n", ev.left_reason);
				break;
			case RV_EV_ERROR:
				printf("error %s\n", rv_error_str(ev.error));
				fflush(stdout);
				return rv_error_exit(ev.error);
			default:
				break;
			}
			fflush(stdout);
		}
	}
	if (relay_n > 0)
		printf("relayed sent=%u got=%u\n", relay_sent, relay_got);
	rv_client_leave(&c, clock_now_us());
	{
		unsigned pi;
		size_t len;

		while ((len = rv_client_output(&c, clock_now_us(), buf, sizeof buf, &pi)) > 0)
			send_to(pi, buf, len);
	}
	return status;
}
