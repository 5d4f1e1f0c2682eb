/*
 * udpprobe: a small UDP prober that checks what a NAT in the lab (scripts/natlab.sh) really does,
 * without punchcat: which external address a socket is mapped to per destination (mapping) and
 * which sources may answer it (filtering), plus a blaster and a sink to measure throughput.
 * IPv4 only (the lab is IPv4).
 *
 *   udpprobe serve [-t SECONDS] ADDR:PORT...
 *       Reflector bound to every ADDR:PORT. A datagram "Q SEQ" is answered from the same socket
 *       with "M MAPPED SEQ" (MAPPED = the sender's address as seen here). "Q SEQ R ADDR:PORT"
 *       asks for the answer to come from the bound socket ADDR:PORT instead, to test filtering.
 *   udpprobe query [-b PORT] [-w MS] [-c COUNT] [-i MS] DST[/FROM]...
 *       From one socket, for each DST: COUNT queries (default 1), each waiting up to MS (default
 *       500) for its answer. One line per DST:
 *         DST reply FROM MAPPED RTT_MS | DST timeout | DST refused (ICMP unreachable came back)
 *       with -c > 1:  DST sent N received M median_rtt_ms X
 *   udpprobe blast [-b PORT] [-s SIZE] [-n COUNT] [-r MBIT] DST
 *       Sends COUNT datagrams of SIZE bytes (default 1200), paced at MBIT if given.
 *   udpprobe sink [-t IDLE_MS] [-n COUNT] ADDR:PORT
 *       Counts datagrams until IDLE_MS (default 1000) pass without one after the first, or
 *       COUNT arrived; prints "received N datagrams B bytes in S s = R Mbit/s" (first to last).
 * Exit status: 0 when the command ran (timeouts are results, not errors), 2 on usage errors,
 * 1 on system errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOCKS 16
#define MAX_COUNT 100000

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void die_usage(const char *msg)
{
	fprintf(stderr, "udpprobe: %s\n", msg);
	fprintf(stderr, "usage: udpprobe serve|query|blast|sink ... (see tests/tools/udpprobe.c)\n");
	exit(2);
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static bool parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	long port;
	size_t n;

	if (colon == NULL)
		return false;
	n = (size_t)(colon - s);
	if (n == 0 || n >= sizeof(host))
		return false;
	memcpy(host, s, n);
	host[n] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || end == colon + 1 || port < 0 || port > 65535)
		return false;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1;
}

static void fmt_addr(const struct sockaddr_in *sa, char *buf, size_t cap)
{
	char ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof(ip));
	snprintf(buf, cap, "%s:%u", ip, (unsigned)ntohs(sa->sin_port));
}

static long parse_num(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < lo || v > hi) {
		fprintf(stderr, "udpprobe: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

static int udp_socket(const struct sockaddr_in *bind_to)
{
	int one = 1;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int buf = 4 << 20;

	if (fd < 0) {
		perror("udpprobe: socket");
		exit(1);
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	/* Report ICMP errors (port unreachable) on this unconnected socket as ECONNREFUSED. */
	setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
	if (bind_to != NULL && bind(fd, (const struct sockaddr *)bind_to, sizeof(*bind_to)) != 0) {
		char b[64];

		fmt_addr(bind_to, b, sizeof(b));
		fprintf(stderr, "udpprobe: bind %s: %s\n", b, strerror(errno));
		exit(1);
	}
	return fd;
}

/* Reads a decimal number at *p and moves *p past it. */
static bool take_ulong(const char **p, unsigned long *v)
{
	char *end;

	if (**p < '0' || **p > '9')
		return false;
	errno = 0;
	*v = strtoul(*p, &end, 10);
	if (errno != 0)
		return false;
	*p = end;
	return true;
}

/* Copies the next word at *p (at most cap - 1 bytes) and moves *p past it. */
static bool take_word(const char **p, char *out, size_t cap)
{
	size_t n = strcspn(*p, " ");

	if (n == 0 || n >= cap)
		return false;
	memcpy(out, *p, n);
	out[n] = '\0';
	*p += n;
	return true;
}

/* "Q SEQ" or "Q SEQ R ADDR:PORT"; want is "" without R. */
static bool parse_query(const char *in, unsigned long *seq, char *want, size_t cap)
{
	want[0] = '\0';
	if (strncmp(in, "Q ", 2) != 0)
		return false;
	in += 2;
	if (!take_ulong(&in, seq))
		return false;
	if (*in == '\0')
		return true;
	if (strncmp(in, " R ", 3) != 0)
		return false;
	in += 3;
	return take_word(&in, want, cap) && *in == '\0';
}

/* "M MAPPED SEQ". */
static bool parse_answer(const char *in, char *mapped, size_t cap, unsigned long *seq)
{
	if (strncmp(in, "M ", 2) != 0)
		return false;
	in += 2;
	if (!take_word(&in, mapped, cap) || *in++ != ' ')
		return false;
	return take_ulong(&in, seq) && *in == '\0';
}

/* ---- serve ---- */

static int cmd_serve(int argc, char **argv)
{
	struct sockaddr_in addrs[MAX_SOCKS];
	struct pollfd pfd[MAX_SOCKS];
	int n = 0, opt;
	long seconds = 0;
	uint64_t end;

	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt == 't')
			seconds = parse_num(optarg, 1, 86400, "seconds");
		else
			die_usage("serve: unknown option");
	}
	for (int i = optind; i < argc; i++) {
		if (n == MAX_SOCKS)
			die_usage("serve: too many addresses");
		if (!parse_addr(argv[i], &addrs[n]))
			die_usage("serve: bad ADDR:PORT");
		pfd[n].fd = udp_socket(&addrs[n]);
		pfd[n].events = POLLIN;
		n++;
	}
	if (n == 0)
		die_usage("serve: no address");
	end = seconds ? now_us() + (uint64_t)seconds * 1000000u : 0;
	while (!stop_flag && (end == 0 || now_us() < end)) {
		if (poll(pfd, (nfds_t)n, 200) <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			char in[256], out[256], from[64], want[64];
			struct sockaddr_in src, alt;
			socklen_t sl = sizeof(src);
			unsigned long seq;
			int out_fd = pfd[i].fd;
			ssize_t len;

			if (!(pfd[i].revents & (POLLIN | POLLERR)))
				continue;
			len = recvfrom(pfd[i].fd, in, sizeof(in) - 1, MSG_DONTWAIT,
			    (struct sockaddr *)&src, &sl);
			if (len <= 0)
				continue;
			in[len] = '\0';
			if (!parse_query(in, &seq, want, sizeof(want)))
				continue;
			if (want[0] != '\0') {
				out_fd = -1;
				if (!parse_addr(want, &alt))
					continue;
				for (int j = 0; j < n; j++)
					if (addrs[j].sin_port == alt.sin_port &&
					    addrs[j].sin_addr.s_addr == alt.sin_addr.s_addr)
						out_fd = pfd[j].fd;
				if (out_fd < 0)
					continue;
			}
			fmt_addr(&src, from, sizeof(from));
			len = snprintf(out, sizeof(out), "M %s %lu", from, seq);
			sendto(out_fd, out, (size_t)len, 0, (struct sockaddr *)&src, sizeof(src));
		}
	}
	return 0;
}

/* ---- query ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Waits for the answer to seq until deadline. Returns 1 answer, 0 timeout, -1 refused. */
static int await_answer(int fd, unsigned long seq, uint64_t deadline, struct sockaddr_in *from,
    char *mapped, size_t mapcap)
{
	for (;;) {
		uint64_t now = now_us();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char buf[256], m[64];
		socklen_t sl = sizeof(*from);
		unsigned long got;
		ssize_t len;

		if (now >= deadline || stop_flag)
			return 0;
		if (poll(&p, 1, (int)((deadline - now + 999) / 1000)) <= 0)
			continue;
		len = recvfrom(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT, (struct sockaddr *)from, &sl);
		if (len < 0) {
			if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH) {
				char eb[512];

				/* Drain the queued ICMP error so the next query starts clean. */
				while (recv(fd, eb, sizeof(eb), MSG_ERRQUEUE | MSG_DONTWAIT) >= 0)
					;
				return -1;
			}
			continue;
		}
		buf[len] = '\0';
		if (parse_answer(buf, m, sizeof(m), &got) && got == seq) {
			snprintf(mapped, mapcap, "%s", m);
			return 1;
		}
	}
}

static int cmd_query(int argc, char **argv)
{
	struct sockaddr_in local = {.sin_family = AF_INET};
	long wait_ms = 500, count = 1, interval_ms = 0;
	static uint64_t rtts[MAX_COUNT];
	unsigned long seq = (unsigned long)getpid() * 100000ul;
	int fd, opt;

	while ((opt = getopt(argc, argv, "b:w:c:i:")) != -1) {
		switch (opt) {
		case 'b':
			local.sin_port = htons((uint16_t)parse_num(optarg, 0, 65535, "port"));
			break;
		case 'w':
			wait_ms = parse_num(optarg, 1, 60000, "wait");
			break;
		case 'c':
			count = parse_num(optarg, 1, MAX_COUNT, "count");
			break;
		case 'i':
			interval_ms = parse_num(optarg, 0, 10000, "interval");
			break;
		default:
			die_usage("query: unknown option");
		}
	}
	if (optind >= argc)
		die_usage("query: no destination");
	fd = udp_socket(&local);
	for (int i = optind; i < argc && !stop_flag; i++) {
		char spec[128], *slash, msg[160], fromtxt[64], mapped[64] = "";
		struct sockaddr_in dst, from, alt;
		long received = 0, refused = 0;
		uint64_t last_rtt = 0;

		snprintf(spec, sizeof(spec), "%s", argv[i]);
		slash = strchr(spec, '/');
		if (slash != NULL)
			*slash++ = '\0';
		if (!parse_addr(spec, &dst) || (slash != NULL && !parse_addr(slash, &alt)))
			die_usage("query: bad DST[/FROM]");
		fromtxt[0] = '\0';
		for (long k = 0; k < count && !stop_flag; k++) {
			uint64_t t0 = now_us();
			int len, r;

			seq++;
			if (slash != NULL)
				len = snprintf(msg, sizeof(msg), "Q %lu R %s", seq, slash);
			else
				len = snprintf(msg, sizeof(msg), "Q %lu", seq);
			if (sendto(fd, msg, (size_t)len, 0, (struct sockaddr *)&dst, sizeof(dst)) < 0 &&
			    errno != ECONNREFUSED) {
				fprintf(stderr, "udpprobe: sendto %s: %s\n", spec, strerror(errno));
				return 1;
			}
			r = await_answer(fd, seq, t0 + (uint64_t)wait_ms * 1000u, &from, mapped,
			    sizeof(mapped));
			if (r > 0) {
				last_rtt = now_us() - t0;
				rtts[received++] = last_rtt;
				fmt_addr(&from, fromtxt, sizeof(fromtxt));
			} else if (r < 0) {
				refused++;
			}
			if (interval_ms > 0 && k + 1 < count) {
				struct timespec ts = {interval_ms / 1000, (interval_ms % 1000) * 1000000};

				nanosleep(&ts, NULL);
			}
		}
		if (count > 1) {
			long mid = received / 2;

			qsort(rtts, (size_t)received, sizeof(rtts[0]), cmp_u64);
			printf("%s sent %ld received %ld median_rtt_ms %.1f\n", argv[i], count, received,
			    received ? (double)rtts[mid] / 1000.0 : 0.0);
		} else if (received) {
			printf("%s reply %s %s %.1f\n", argv[i], fromtxt, mapped,
			    (double)last_rtt / 1000.0);
		} else {
			printf("%s %s\n", argv[i], refused ? "refused" : "timeout");
		}
		fflush(stdout);
	}
	close(fd);
	return 0;
}

/* ---- blast / sink ---- */

static int cmd_blast(int argc, char **argv)
{
	struct sockaddr_in local = {.sin_family = AF_INET}, dst;
	long size = 1200, count = 10000, mbit = 0;
	static char buf[65536];
	uint64_t start;
	int fd, opt;

	while ((opt = getopt(argc, argv, "b:s:n:r:")) != -1) {
		switch (opt) {
		case 'b':
			local.sin_port = htons((uint16_t)parse_num(optarg, 0, 65535, "port"));
			break;
		case 's':
			size = parse_num(optarg, 1, 65000, "size");
			break;
		case 'n':
			count = parse_num(optarg, 1, 100000000, "count");
			break;
		case 'r':
			mbit = parse_num(optarg, 1, 100000, "rate");
			break;
		default:
			die_usage("blast: unknown option");
		}
	}
	if (optind + 1 != argc || !parse_addr(argv[optind], &dst))
		die_usage("blast: need one DST ADDR:PORT");
	fd = udp_socket(&local);
	memset(buf, 0xa5, sizeof(buf));
	start = now_us();
	for (long i = 0; i < count && !stop_flag; i++) {
		if (mbit > 0) {
			/* Pace: datagram i leaves no earlier than i * size * 8 / rate. */
			uint64_t due = start + (uint64_t)i * (uint64_t)size * 8u / (uint64_t)mbit;
			uint64_t now = now_us();

			if (due > now + 200) {
				struct timespec ts = {0, (long)(due - now) * 1000};

				nanosleep(&ts, NULL);
			}
		}
		while (sendto(fd, buf, (size_t)size, 0, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
			if (errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED) {
				perror("udpprobe: sendto");
				return 1;
			}
			if (errno == ECONNREFUSED)
				break;
		}
	}
	printf("sent %ld datagrams of %ld bytes in %.3f s\n", count, size,
	    (double)(now_us() - start) / 1e6);
	close(fd);
	return 0;
}

static int cmd_sink(int argc, char **argv)
{
	struct sockaddr_in addr;
	long idle_ms = 1000, want = 0;
	uint64_t first = 0, last = 0, bytes = 0, n = 0;
	static char buf[65536];
	int fd, opt;

	while ((opt = getopt(argc, argv, "t:n:")) != -1) {
		if (opt == 't')
			idle_ms = parse_num(optarg, 1, 600000, "idle");
		else if (opt == 'n')
			want = parse_num(optarg, 1, 100000000, "count");
		else
			die_usage("sink: unknown option");
	}
	if (optind + 1 != argc || !parse_addr(argv[optind], &addr))
		die_usage("sink: need one ADDR:PORT");
	fd = udp_socket(&addr);
	printf("listening\n");
	fflush(stdout);
	while (!stop_flag && (want == 0 || (long)n < want)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t len;

		if (poll(&p, 1, n ? (int)idle_ms : 200) <= 0) {
			if (n)
				break;
			continue;
		}
		len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (len < 0)
			continue;
		last = now_us();
		if (n++ == 0)
			first = last;
		bytes += (uint64_t)len;
	}
	{
		double s = (double)(last - first) / 1e6;

		printf("received %llu datagrams %llu bytes in %.3f s = %.1f Mbit/s\n",
		    (unsigned long long)n, (unsigned long long)bytes, s,
		    s > 0 ? (double)bytes * 8.0 / s / 1e6 : 0.0);
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		die_usage("no command");
	if (strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (strcmp(argv[1], "query") == 0)
		return cmd_query(argc - 1, argv + 1);
	if (strcmp(argv[1], "blast") == 0)
		return cmd_blast(argc - 1, argv + 1);
	if (strcmp(argv[1], "sink") == 0)
		return cmd_sink(argc - 1, argv + 1);
	die_usage("unknown command");
	return 2;
}
