/*
 * wanem: a userspace WAN emulator for the NAT lab (this kernel has no netem). It joins two
 * network interfaces (veth ends inside a lab namespace) with AF_PACKET sockets and forwards every
 * Ethernet frame between them through an emulated link per direction:
 *
 *   arrival -> loss (random, Gilbert-Elliott) -> duplication -> rate limit with a finite
 *   drop-tail queue -> one-way delay + jitter -> (optional reordering: held back by a gap) -> out
 *
 * Everything is decided when a frame arrives, so each direction needs only two FIFO rings (in
 * order, and held back) and no heap: release times in each ring are non-decreasing.
 * Seeded (xoshiro256**): the same seed and the same input give the same decisions.
 *
 * Usage: wanem [-s SEED] IF_A IF_B [SCOPE] [PARAM VALUE...]...
 *   (the seed may also be given as PARAM "seed N"; default 1)
 *   SCOPE is "both" (the default), "ab" (IF_A to IF_B only) or "ba"; it applies to the PARAMs
 *   that follow it. PARAMs:
 *     delay MS        one-way delay (fractions allowed)
 *     jitter MS       uniform +-MS around the delay (frames stay in order unless reordered)
 *     loss PCT        random loss
 *     gemodel P R [BAD [GOOD]]  Gilbert-Elliott loss, in percent: P = good->bad, R = bad->good
 *                     per frame, BAD/GOOD = loss in each state (default 100 / 0)
 *     duplicate PCT   send a second copy
 *     reorder PCT [GAP_MS]  hold a frame back by GAP_MS (default 10) so later ones pass it
 *     rate RATE       bottleneck rate: 200mbit, 500kbit, 1gbit, or bit/s
 *     limit BYTES     bottleneck queue (default 64 kB per direction); tail drop beyond it
 * The interfaces must have checksum offload off (ethtool -K IF tx off), or re-injected frames
 * carry unfinished checksums and are dropped by the receiver.
 * Prints "wanem: ready" on stderr once forwarding; on SIGTERM/SIGINT prints one statistics line
 * per direction and exits 0. SIGUSR1 prints the statistics and goes on.
 */
#define _GNU_SOURCE /* ppoll */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define SLOT_BYTES 2048		/* an Ethernet frame at MTU 1500 fits; larger ones are counted */
#define RING_SLOTS 8192	/* per ring: 20 k frames/s (200 Mbit/s) x 400 ms in flight */
#define BURST 64		/* frames read per readiness before servicing the queues */

struct slot {
	uint64_t release_ns;
	uint32_t len;
	unsigned char data[SLOT_BYTES];
};

struct ring {
	struct slot *s;
	uint32_t head, count;
	uint64_t last_release_ns;	/* keeps the ring in release order */
};

struct params {
	double delay_ms, jitter_ms, loss, dup, reorder, reorder_gap_ms;
	double ge_p, ge_r, ge_bad, ge_good;	/* probabilities 0..1 */
	double rate_bps;			/* 0 = unlimited */
	double limit_bytes;
};

struct stats {
	uint64_t in, out, lost, ge_lost, dup, reordered, queue_drop, ring_drop, oversize;
};

struct dir {
	const char *name;
	struct params p;
	uint64_t rng[4];
	bool ge_bad_state;
	double link_free_ns;		/* when the bottleneck finishes its queued frames */
	struct ring main, late;
	int out_fd;
	struct stats st;
};

static volatile sig_atomic_t stop_flag, stats_flag;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		stats_flag = 1;
	else
		stop_flag = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- seeded randomness: splitmix64 to seed xoshiro256** ---- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(uint64_t s[4])
{
	uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

/* Uniform in [0, 1). */
static double rng_unit(uint64_t s[4])
{
	return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

static bool chance(struct dir *d, double p)
{
	return p > 0 && rng_unit(d->rng) < p;
}

/* ---- rings ---- */

static void ring_init(struct ring *r)
{
	r->s = calloc(RING_SLOTS, sizeof(*r->s));
	if (r->s == NULL) {
		fprintf(stderr, "wanem: out of memory\n");
		exit(1);
	}
}

static struct slot *ring_head(const struct ring *r)
{
	return r->count ? &r->s[r->head] : NULL;
}

static bool ring_push(struct ring *r, const unsigned char *frame, uint32_t len, uint64_t release)
{
	struct slot *s;

	if (r->count == RING_SLOTS)
		return false;
	if (release < r->last_release_ns)
		release = r->last_release_ns;
	r->last_release_ns = release;
	s = &r->s[(r->head + r->count) % RING_SLOTS];
	s->release_ns = release;
	s->len = len;
	memcpy(s->data, frame, len);
	r->count++;
	return true;
}

static void ring_pop(struct ring *r)
{
	r->head = (r->head + 1) % RING_SLOTS;
	r->count--;
}

/* ---- the emulated link ---- */

/* Decides the fate of one copy of a frame: queue, delay, reorder. */
static void enqueue_copy(struct dir *d, const unsigned char *frame, uint32_t len, uint64_t now)
{
	const struct params *p = &d->p;
	double depart = (double)now;
	uint64_t release;
	double jitter = 0;

	if (p->rate_bps > 0) {
		double backlog_ns = d->link_free_ns > depart ? d->link_free_ns - depart : 0;
		double backlog_bytes = backlog_ns * p->rate_bps / 8e9;

		if (backlog_bytes + len > p->limit_bytes) {
			d->st.queue_drop++;
			return;
		}
		if (d->link_free_ns > depart)
			depart = d->link_free_ns;
		depart += (double)len * 8e9 / p->rate_bps;
		d->link_free_ns = depart;
	}
	if (p->jitter_ms > 0)
		jitter = (rng_unit(d->rng) * 2 - 1) * p->jitter_ms;
	{
		double delay_ns = (p->delay_ms + jitter) * 1e6;

		release = (uint64_t)(depart + (delay_ns > 0 ? delay_ns : 0));
	}
	if (chance(d, p->reorder)) {
		d->st.reordered++;
		if (!ring_push(&d->late, frame, len, release + (uint64_t)(p->reorder_gap_ms * 1e6)))
			d->st.ring_drop++;
		return;
	}
	if (!ring_push(&d->main, frame, len, release))
		d->st.ring_drop++;
}

static void on_frame(struct dir *d, const unsigned char *frame, uint32_t len, uint64_t now)
{
	const struct params *p = &d->p;

	d->st.in++;
	if (chance(d, p->loss)) {
		d->st.lost++;
		return;
	}
	if (p->ge_p > 0 || d->ge_bad_state) {
		/* Gilbert-Elliott: move between the states, then lose with the state's rate. */
		if (d->ge_bad_state ? chance(d, p->ge_r) : chance(d, p->ge_p))
			d->ge_bad_state = !d->ge_bad_state;
		if (chance(d, d->ge_bad_state ? p->ge_bad : p->ge_good)) {
			d->st.ge_lost++;
			return;
		}
	}
	enqueue_copy(d, frame, len, now);
	if (chance(d, p->dup)) {
		d->st.dup++;
		enqueue_copy(d, frame, len, now);
	}
}

/* Sends every frame whose time has come; returns the next release time (0 = none queued). */
static uint64_t flush_due(struct dir *d, uint64_t now)
{
	for (;;) {
		struct slot *a = ring_head(&d->main), *b = ring_head(&d->late);
		struct ring *r;
		struct slot *s;

		if (a == NULL && b == NULL)
			return 0;
		if (a != NULL && (b == NULL || a->release_ns <= b->release_ns))
			r = &d->main, s = a;
		else
			r = &d->late, s = b;
		if (s->release_ns > now)
			return s->release_ns;
		if (send(d->out_fd, s->data, s->len, MSG_DONTWAIT) < 0 && errno != ENOBUFS &&
		    errno != EAGAIN && errno != ENETDOWN && errno != ENXIO) {
			fprintf(stderr, "wanem: send (%s): %s\n", d->name, strerror(errno));
			exit(1);
		}
		d->st.out++;
		ring_pop(r);
	}
}

static void print_stats(const struct dir *dirs)
{
	for (int i = 0; i < 2; i++) {
		const struct stats *s = &dirs[i].st;

		fprintf(stderr,
		    "wanem: %s: in %llu out %llu lost %llu ge_lost %llu dup %llu reordered %llu "
		    "queue_drop %llu ring_drop %llu oversize %llu\n",
		    dirs[i].name, (unsigned long long)s->in, (unsigned long long)s->out,
		    (unsigned long long)s->lost, (unsigned long long)s->ge_lost,
		    (unsigned long long)s->dup, (unsigned long long)s->reordered,
		    (unsigned long long)s->queue_drop, (unsigned long long)s->ring_drop,
		    (unsigned long long)s->oversize);
	}
}

/* ---- setup ---- */

static int open_iface(const char *ifname)
{
	struct sockaddr_ll sll;
	struct packet_mreq mr;
	unsigned int idx = if_nametoindex(ifname);
	int one = 1, buf = 16 << 20;
	int fd;

	if (idx == 0) {
		fprintf(stderr, "wanem: no interface '%s'\n", ifname);
		exit(1);
	}
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (fd < 0) {
		perror("wanem: socket(AF_PACKET)");
		exit(1);
	}
	/* Our own transmissions on this interface must not come back as input. */
	setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)idx;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) != 0) {
		fprintf(stderr, "wanem: bind %s: %s\n", ifname, strerror(errno));
		exit(1);
	}
	memset(&mr, 0, sizeof(mr));
	mr.mr_ifindex = (int)idx;
	mr.mr_type = PACKET_MR_PROMISC;
	setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr));
	return fd;
}

static double parse_double(const char *s, double lo, double hi, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi)) {
		fprintf(stderr, "wanem: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

static double parse_rate(const char *s)
{
	char *end;
	double v, mult = 1;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || !(v > 0)) {
		fprintf(stderr, "wanem: bad rate '%s'\n", s);
		exit(2);
	}
	if (strcasecmp(end, "kbit") == 0)
		mult = 1e3;
	else if (strcasecmp(end, "mbit") == 0)
		mult = 1e6;
	else if (strcasecmp(end, "gbit") == 0)
		mult = 1e9;
	else if (*end != '\0' && strcasecmp(end, "bit") != 0) {
		fprintf(stderr, "wanem: bad rate unit in '%s' (bit, kbit, mbit, gbit)\n", s);
		exit(2);
	}
	return v * mult;
}

static void usage(void)
{
	fprintf(stderr, "usage: wanem [-s SEED] IF_A IF_B [both|ab|ba] [seed N] [delay MS] [jitter MS] "
			"[loss PCT] [gemodel P R [BAD [GOOD]]] [duplicate PCT] [reorder PCT [GAP_MS]] "
			"[rate RATE] [limit BYTES]\n");
	exit(2);
}

static bool is_number(const char *s)
{
	char *end;

	strtod(s, &end);
	return end != s && *end == '\0';
}

/* Applies one PARAM (with its values from argv) to the directions in scope; returns args used. */
static int parse_param(struct dir *dirs, bool ab, bool ba, int argc, char **argv, int i)
{
	const char *k = argv[i];
	int used = 2;
	struct params v;

	if (i + 1 >= argc)
		usage();
	memset(&v, 0, sizeof(v));
	for (int j = 0; j < 2; j++) {
		struct params *p = &dirs[j].p;

		if ((j == 0 && !ab) || (j == 1 && !ba))
			continue;
		if (strcmp(k, "delay") == 0) {
			p->delay_ms = parse_double(argv[i + 1], 0, 60000, "delay");
		} else if (strcmp(k, "jitter") == 0) {
			p->jitter_ms = parse_double(argv[i + 1], 0, 60000, "jitter");
		} else if (strcmp(k, "loss") == 0) {
			p->loss = parse_double(argv[i + 1], 0, 100, "loss") / 100;
		} else if (strcmp(k, "duplicate") == 0) {
			p->dup = parse_double(argv[i + 1], 0, 100, "duplicate") / 100;
		} else if (strcmp(k, "reorder") == 0) {
			p->reorder = parse_double(argv[i + 1], 0, 100, "reorder") / 100;
			used = 2;
			if (i + 2 < argc && is_number(argv[i + 2])) {
				p->reorder_gap_ms = parse_double(argv[i + 2], 0, 60000, "gap");
				used = 3;
			}
		} else if (strcmp(k, "gemodel") == 0) {
			if (i + 2 >= argc)
				usage();
			p->ge_p = parse_double(argv[i + 1], 0, 100, "gemodel p") / 100;
			p->ge_r = parse_double(argv[i + 2], 0, 100, "gemodel r") / 100;
			used = 3;
			if (i + 3 < argc && is_number(argv[i + 3])) {
				p->ge_bad = parse_double(argv[i + 3], 0, 100, "gemodel bad") / 100;
				used = 4;
				if (i + 4 < argc && is_number(argv[i + 4])) {
					p->ge_good = parse_double(argv[i + 4], 0, 100, "gemodel good") / 100;
					used = 5;
				}
			}
		} else if (strcmp(k, "rate") == 0) {
			p->rate_bps = parse_rate(argv[i + 1]);
		} else if (strcmp(k, "limit") == 0) {
			p->limit_bytes = parse_double(argv[i + 1], 1500, 1e9, "limit");
		} else {
			fprintf(stderr, "wanem: unknown parameter '%s'\n", k);
			usage();
		}
	}
	return used;
}

static void parse_args(int argc, char **argv, struct dir *dirs, uint64_t *seed,
    const char **if_a, const char **if_b)
{
	bool ab = true, ba = true;
	int i = 1;

	if (i + 1 < argc && strcmp(argv[i], "-s") == 0) {
		*seed = (uint64_t)parse_double(argv[i + 1], 0, 1e18, "seed");
		i += 2;
	}
	if (i + 2 > argc)
		usage();
	*if_a = argv[i++];
	*if_b = argv[i++];
	for (int j = 0; j < 2; j++) {
		dirs[j].p.limit_bytes = 65536;
		dirs[j].p.reorder_gap_ms = 10;
		dirs[j].p.ge_bad = 1;
	}
	while (i < argc) {
		if (strcmp(argv[i], "seed") == 0 && i + 1 < argc) {
			*seed = (uint64_t)parse_double(argv[i + 1], 0, 1e18, "seed");
			i += 2;
			continue;
		}
		if (strcmp(argv[i], "both") == 0 || strcmp(argv[i], "ab") == 0 ||
		    strcmp(argv[i], "ba") == 0) {
			ab = strcmp(argv[i], "ba") != 0;
			ba = strcmp(argv[i], "ab") != 0;
			i++;
			continue;
		}
		i += parse_param(dirs, ab, ba, argc, argv, i);
	}
}

int main(int argc, char **argv)
{
	static struct dir dirs[2];
	static unsigned char frame[65536];
	struct pollfd pfd[2];
	struct sigaction sa;
	const char *if_a, *if_b;
	uint64_t seed = 1;

	parse_args(argc, argv, dirs, &seed, &if_a, &if_b);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);

	pfd[0].fd = open_iface(if_a);
	pfd[1].fd = open_iface(if_b);
	pfd[0].events = pfd[1].events = POLLIN;
	dirs[0].name = "ab";
	dirs[1].name = "ba";
	dirs[0].out_fd = pfd[1].fd;
	dirs[1].out_fd = pfd[0].fd;
	for (int j = 0; j < 2; j++) {
		uint64_t x = seed ^ (0x51ed2701u * (uint64_t)(j + 1));

		for (int k = 0; k < 4; k++)
			dirs[j].rng[k] = splitmix64(&x);
		ring_init(&dirs[j].main);
		ring_init(&dirs[j].late);
	}
	fprintf(stderr, "wanem: ready\n");

	while (!stop_flag) {
		uint64_t now = now_ns(), next = 0;
		struct timespec ts, *tsp = NULL;

		for (int j = 0; j < 2; j++) {
			uint64_t t = flush_due(&dirs[j], now);

			if (t != 0 && (next == 0 || t < next))
				next = t;
		}
		if (stats_flag) {
			stats_flag = 0;
			print_stats(dirs);
		}
		if (next != 0) {
			uint64_t wait = next > now ? next - now : 0;

			ts.tv_sec = (time_t)(wait / 1000000000u);
			ts.tv_nsec = (long)(wait % 1000000000u);
			tsp = &ts;
		}
		if (ppoll(pfd, 2, tsp, NULL) <= 0)
			continue;
		for (int j = 0; j < 2; j++) {
			if (!(pfd[j].revents & POLLIN))
				continue;
			for (int k = 0; k < BURST; k++) {
				struct sockaddr_ll from;
				socklen_t fl = sizeof(from);
				ssize_t len = recvfrom(pfd[j].fd, frame, sizeof(frame),
				    MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&from, &fl);

				if (len < 0)
					break;
				if (from.sll_pkttype == PACKET_OUTGOING)
					continue;
				if (len > SLOT_BYTES) {
					dirs[j].st.oversize++;
					continue;
				}
				on_frame(&dirs[j], frame, (uint32_t)len, now_ns());
			}
		}
	}
	print_stats(dirs);
	return 0;
}
