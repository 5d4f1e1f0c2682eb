/*
 * The peer's libevent shell, shared by its files (one concern each):
 *   peer.c         the state machine: resolve the server, rendezvous, handshake, candidates,
 *                  GO, exit codes, signals, the pump that runs after every event
 *   peer_sock.c    UDP sockets, batched receive (recvmmsg) and send (sendmmsg), demux
 *   peer_path.c    relay first, direct when validated, back to relay when it dies
 *   peer_io.c      stdin and stdout: non-blocking, backpressure both ways, half-close rules
 *   peer_report.c  -v path lines and summary, -P progress bar
 * The protocol logic lives in the sans-IO cores (rv_client, handshake, traversal, packet,
 * stream); these files only move bytes between them and the system.
 */
#ifndef PUNCHCAT_PEER_INT_H
#define PUNCHCAT_PEER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "code.h"
#include "handshake.h"
#include "netaddr.h"
#include "packet.h"
#include "peer.h"
#include "rv_client.h"
#include "stream.h"
#include "traversal.h"

struct event_base;
struct event;
struct evdns_base;
struct evdns_getaddrinfo_request;

/* Largest datagram we send or receive (a loopback direct path may use big ones). */
#define PEER_DGRAM_MAX 65536
/* Datagrams per recvmmsg / sendmmsg call. */
#define PEER_BATCH 32
/* Stream payload on a direct path to a loopback address: lo's MTU is 65536, so nearly the
 * largest UDP datagram (65029 bytes with our overhead; 65077 with IPv6's header). Twice the
 * old 32768 cut the sender's CPU per GiB by about 3 % (per-datagram costs halve). */
#define PEER_LOOPBACK_PAYLOAD 65000
/* The largest payload a path MTU search tries elsewhere: 1500-byte packets (Ethernet), less
 * the IP and UDP headers and our packet overhead. Paths start at STREAM_PAYLOAD_DEFAULT. */
#define PEER_PMTU_CEILING_V4 (1500 - 20 - 8 - PKT_OVERHEAD)
#define PEER_PMTU_CEILING_V6 (1500 - 40 - 8 - PKT_OVERHEAD)
/* Socket buffers we ask for (the kernel may cap them). */
#define PEER_SOCKBUF (8 << 20)
/* Bytes moved between stdin/stdout and the stream per pump before serving the network. */
#define PEER_IO_SLICE (1 << 20)
#define PEER_PIPE_SIZE (1 << 20)	/* stdin and stdout pipes grow to this */

enum peer_phase {
	PH_RESOLVING,		/* waiting for evdns */
	PH_MEETING,		/* rendezvous and handshake */
	PH_CONNECTED,		/* keys confirmed: stream running */
	PH_DONE			/* exit_code is set: leave the loop */
};

struct psock {
	int fd;
	struct event *ev;
	struct netaddr local;
};

/* Outgoing datagrams waiting for one sendmmsg (all from one socket). */
struct sendq {
	unsigned n;
	unsigned sock;
	size_t lens[PEER_BATCH];
	struct sockaddr_storage to[PEER_BATCH];
	socklen_t tolen[PEER_BATCH];
	uint8_t *bufs[PEER_BATCH];	/* PEER_DGRAM_MAX bytes each, allocated once */
	size_t gso_seg_max;		/* larger datagrams (path MTU probes) leave alone */
	uint64_t sent, dropped;
};

struct peer_io {
	bool in_eof;		/* stdin finished (EOF, or closed by the terminal rule) */
	bool in_pollable;	/* stdin can be watched by the event loop */
	bool in_ready;		/* the loop said stdin is readable */
	bool in_tty;
	bool in_regular;
	uint64_t in_size;	/* size of a regular-file stdin, else 0 */
	bool out_pollable;
	bool out_blocked;	/* a write would block: wait for EV_WRITE */
	bool out_failed;
	int in_flags, out_flags;	/* fcntl flags to restore */
	bool in_flags_set, out_flags_set;
	struct event *in_ev, *out_ev;
	bool in_ev_on, out_ev_on;
	uint64_t bytes_in, bytes_out;
};

struct peer_report {
	uint64_t started;		/* stream start (keys confirmed) */
	uint64_t last_bar;
	uint64_t peer_size;		/* size the peer announced (0 unknown) */
	bool bar_shown;
	unsigned path_changes;
};

struct peer {
	/* Ordered by alignment (keys first: the AES state wants 16 bytes); see peer.c. */
	struct pkt_ctx pkt;
	struct peer_opts *o;
	struct event_base *base;
	struct evdns_base *dns;
	struct evdns_getaddrinfo_request *dns_req;
	struct event *timer, *sigint_ev, *sigterm_ev, *sighup_ev, *kick_ev;
	uint64_t start, wait_until;
	uint64_t trav_gen;		/* trav_generation() last acted on */
	uint8_t *rxbufs;		/* PEER_BATCH * PEER_DGRAM_MAX */
	uint64_t direct_since;		/* when the current direct path was taken */
	uint64_t direct_first;		/* when the first direct path was taken (test knob) */
	struct stream *st;
	uint64_t close_until;
	/* Test knobs (environment, documented as test-only in punchcat(1)). */
	uint64_t test_block_direct_after_us;	/* 0 = never */
	uint64_t test_idle_us;			/* 0 = default */
	uint64_t test_check_us;			/* 0 = default */

	struct peer_report rep;
	struct peer_io io;
	struct code code;
	struct handshake hs;
	struct sendq q;
	struct psock socks[TRAV_MAX_SOCKS];
	struct trav trav;
	struct rv_client rv;

	enum peer_phase phase;
	int exit_code;
	unsigned nsocks;
	int family;			/* AF_INET or AF_INET6 (dual-stack unless -6) */
	unsigned direct_sock;
	int close_exit;			/* exit status once the CLOSE left */
	struct netaddr server;		/* main port; discovery is port + 1 */
	struct netaddr direct_to;

	bool have_code;
	bool server_loopback;
	bool rv_active;			/* stop driving it once it failed after connecting */
	bool hs_started;
	bool cands_posted;		/* our CANDIDATES (and READY) went out */
	bool pkt_ready;
	bool v6only;
	bool on_direct;
	bool have_path;			/* relay or direct usable now */
	bool direct_seen;		/* a direct path was validated once */
	bool closing;			/* CLOSE sent (signal, output failure) */
	bool test_block_direct;
};

/* peer.c */
void peer_exit(struct peer *p, int code);
void peer_kick(struct peer *p);		/* run the pump again soon */
void peer_on_rendezvous(struct peer *p, uint64_t now, unsigned port_index,
    const uint8_t *buf, size_t len);

/* peer_sock.c */
int psock_open_main(struct peer *p);
int psock_open_extra(struct peer *p, unsigned want);
void psock_close_all(struct peer *p);
/* Queues a datagram from socket sock to `to`; sent at the latest by psock_flush. */
void psock_send(struct peer *p, unsigned sock, const struct netaddr *to, const uint8_t *buf,
    size_t len);
/* A buffer of PEER_DGRAM_MAX bytes to build the next datagram in place (or NULL when full,
 * after which psock_send copies). */
uint8_t *psock_next_buf(struct peer *p, unsigned sock);
void psock_send_built(struct peer *p, unsigned sock, const struct netaddr *to, size_t len);
void psock_flush(struct peer *p);
void psock_host_candidates(struct peer *p);
bool psock_is_server(const struct peer *p, const struct netaddr *from, unsigned *port_index);

/* peer_path.c */
void path_start(struct peer *p, uint64_t now);
void path_update(struct peer *p, uint64_t now);
void path_on_datagram(struct peer *p, uint64_t now, unsigned sock, const struct netaddr *from,
    uint8_t *buf, size_t len, bool relayed);
void path_send(struct peer *p, uint64_t now);
bool path_direct_blocked(const struct peer *p, uint64_t now);

/* peer_io.c */
int io_init(struct peer *p);
void io_start(struct peer *p);
void io_pump(struct peer *p, uint64_t now);
void io_restore(struct peer *p);
bool io_all_written(const struct peer *p);

/* peer_report.c */
void report_path(struct peer *p, bool direct, const struct netaddr *to);
void report_progress(struct peer *p, uint64_t now, bool final);
void report_summary(struct peer *p, uint64_t now);

#endif
