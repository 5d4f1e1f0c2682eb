/*
 * udpsend: sends hostile datagrams to a server, for the bats tests and the benchmark.
 *
 *   udpsend [-b ADDR] [-n COUNT] [-s MIN-MAX] [-k KIND] TARGET:PORT
 *     -k random     random bytes, first byte 0x40-0x6f (default)
 *        short      JOIN headers below the padded size
 *        version    valid JOINs with another version byte
 *        oversized  2000-byte datagrams
 *        garbage    first byte outside the punchcat kinds
 * Datagrams go out with sendmmsg in batches of 64; prints "sent N".
 */
#define _GNU_SOURCE 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "netaddr.h"
#include "rv_wire.h"

#define BATCH 64
#define MAXLEN 2048

int
main(int argc, char **argv)
{
	static uint8_t bufs[BATCH][MAXLEN];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct netaddr to, b;
	struct sockaddr_storage ss, bs;
	socklen_t sl;
	const char *kind = "random", *bind_addr = NULL;
	unsigned long count = 1000, sent = 0;
	unsigned smin = 1, smax = 1400;
	int opt, fd;

	while ((opt = getopt(argc, argv, "b:n:s:k:")) != -1) {
		switch (opt) {
		case 'b': bind_addr = optarg; break;
		case 'n': count = strtoul(optarg, NULL, 10); break;
		case 's': if (sscanf(optarg, "%u-%u", &smin, &smax) != 2) return 2; break;
		case 'k': kind = optarg; break;
		default: return 2;
		}
	}
	if (optind + 1 != argc || !netaddr_parse(&to, argv[optind], 0) || sodium_init() < 0 ||
	    smin < 1 || smax < smin || smax > MAXLEN) {
		fprintf(stderr, "usage: udpsend [-b ADDR] [-n COUNT] [-s MIN-MAX] [-k KIND] "
		    "TARGET:PORT\n");
		return 2;
	}
	fd = socket(to.family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
	if (bind_addr != NULL) {
		if (!netaddr_parse(&b, bind_addr, 1))
			return 2;
		b.port = 0;
		sl = netaddr_to_sa(&b, &bs);
		if (bind(fd, (struct sockaddr *)&bs, sl) != 0) {
			perror("udpsend: bind");
			return 1;
		}
	}
	sl = netaddr_to_sa(&to, &ss);
	while (sent < count) {
		unsigned n = count - sent < BATCH ? (unsigned)(count - sent) : BATCH;
		int r;

		for (unsigned i = 0; i < n; i++) {
			uint8_t *p = bufs[i];
			size_t len = smin + randombytes_uniform(smax - smin + 1);

			randombytes_buf(p, MAXLEN);
			if (strcmp(kind, "random") == 0) {
				p[0] = (uint8_t)(0x40 + randombytes_uniform(0x30));
				if (randombytes_uniform(2))
					p[1] = RV_VERSION;
			} else if (strcmp(kind, "short") == 0) {
				p[0] = RV_JOIN;
				p[1] = RV_VERSION;
				len = 2 + randombytes_uniform(RV_FIRST_LEN - 2);
			} else if (strcmp(kind, "version") == 0) {
				struct rv_msg m = { .type = RV_JOIN, .flags = RV_JOIN_ALLOCATE };

				len = rv_encode(&m, p, MAXLEN);
				p[1] = (uint8_t)(RV_VERSION + 1 + randombytes_uniform(200));
			} else if (strcmp(kind, "oversized") == 0) {
				p[0] = RV_JOIN;
				p[1] = RV_VERSION;
				len = 2000;
			} else {
				p[0] = (uint8_t)(0x70 + randombytes_uniform(0x90));
			}
			iov[i].iov_base = p;
			iov[i].iov_len = len;
			memset(&msgs[i], 0, sizeof msgs[i]);
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &ss;
			msgs[i].msg_hdr.msg_namelen = sl;
		}
		r = sendmmsg(fd, msgs, n, 0);
		if (r < 0) {
			perror("udpsend: sendmmsg");
			return 1;
		}
		sent += (unsigned long)r;
	}
	printf("sent %lu\n", sent);
	return 0;
}
