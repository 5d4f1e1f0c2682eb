/*
 * The reliable stream: one ordered, flow- and congestion-controlled byte stream in each
 * direction between two peers, carried in the payload of peer packets (src/packet.h).
 *
 * Sans-IO, in the shape of ngtcp2/picoquic: the caller (a libevent shell, or the simulator)
 * hands in `now` (monotonic microseconds) and the decrypted payload of each received packet,
 * asks for packets to send, and arms one timer at stream_deadline(). The core never reads a
 * clock, never touches a socket and never allocates after stream_new(): every buffer is
 * allocated once there and bounded by the configuration.
 *
 * The shell's loop:
 *   - on a datagram: pkt_open() it, then stream_on_packet(s, now, pn, payload, len);
 *   - on stdin readable: stream_write() (or stream_write_reserve()/stream_write_commit() to
 *     read() straight into the send buffer) while stream_writable() > 0; on EOF
 *     stream_shutdown_write();
 *   - on the timer: stream_on_timeout(s, now);
 *   - after any of these: while ((n = stream_next_packet(s, now, buf + PKT_HDR_LEN, cap, &pn)))
 *     pkt_seal(ctx, now, pn, buf, n) and send; then write out what stream_read_peek() offers
 *     and stream_read_consume() it; re-arm the timer at stream_deadline(s);
 *   - check stream_state(s): STREAM_DONE -> exit 0, STREAM_CLOSED_PEER -> the peer aborted
 *     (stream_close_reason()), STREAM_LOST -> exit 5 (connection lost).
 *
 * `now` must never go backwards (a monotonic clock).
 *
 * Packet numbers are chosen here: 0, 1, 2, ... strictly increasing, never reused (every
 * retransmission goes in a new packet). Frames and their encodings are in src/frame.h and in
 * STREAM FRAMES of punchcat-protocol(7); loss recovery and congestion control in LOSS RECOVERY
 * AND CONGESTION CONTROL.
 */
#ifndef PUNCHCAT_STREAM_H
#define PUNCHCAT_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Frame bytes per packet: a 1200-byte datagram minus the 29 bytes of packet overhead. */
#define STREAM_PAYLOAD_DEFAULT 1171
/* Smallest and largest accepted max_payload (the largest fits a UDP datagram on loopback). */
#define STREAM_PAYLOAD_MIN 256
#define STREAM_PAYLOAD_MAX 65000

/* Close reasons (the CLOSE frame's code; see punchcat-protocol(7)). */
#define STREAM_CLOSE_NONE	0	/* no error (sent after a clean finish) */
#define STREAM_CLOSE_PROTOCOL	1	/* malformed or impossible frame */
#define STREAM_CLOSE_FLOW	2	/* data beyond the granted flow-control credit */
#define STREAM_CLOSE_INTERNAL	3	/* the sender hit an internal limit */
#define STREAM_CLOSE_APP_ERROR	4	/* the peer's application failed (e.g. writing its output) */
#define STREAM_CLOSE_IDLE	5	/* local only: idle timeout (never sent) */
/* Application reasons: STREAM_CLOSE_APP_BASE + N = "interrupted by signal N". */
#define STREAM_CLOSE_APP_BASE	0x100
#define STREAM_CLOSE_SIGNAL(n)	((uint64_t)STREAM_CLOSE_APP_BASE + (uint64_t)(n))

enum stream_cc {
	STREAM_CC_BBR = 0,	/* default: model-based, paced, tolerant of random loss */
	STREAM_CC_CUBIC,	/* RFC 9438 (loss-based), for comparison and fairness tests */
	STREAM_CC_NEWRENO	/* RFC 9002 section 7 (loss-based) */
};

struct stream_config {
	size_t max_payload;		/* frame bytes per packet (STREAM_PAYLOAD_*) */
	size_t send_buffer;		/* bytes of the send buffer (written, not yet acknowledged) */
	size_t recv_window;		/* initial receive credit in bytes (auto-tuned upwards) */
	size_t recv_window_max;		/* cap of the auto-tuned credit = receive buffer size */
	enum stream_cc cc;
	uint64_t initial_rtt_us;	/* RTT assumed before the first sample */
	uint64_t max_ack_delay_us;	/* longest we delay an acknowledgment */
	uint64_t idle_timeout_us;	/* no authenticated packet for this long: STREAM_LOST */
	uint64_t keepalive_us;		/* send a PING after this long without sending (0 = never) */
	uint64_t seed;			/* makes PATH_CHALLENGE data unique (any random value) */
};

/* Default configuration values. */
#define STREAM_SEND_BUFFER_DEFAULT	((size_t)16 << 20)
#define STREAM_RECV_WINDOW_DEFAULT	((size_t)1 << 20)
#define STREAM_RECV_WINDOW_MAX_DEFAULT	((size_t)16 << 20)
#define STREAM_INITIAL_RTT_US_DEFAULT	UINT64_C(333000)
#define STREAM_MAX_ACK_DELAY_US_DEFAULT	UINT64_C(25000)
#define STREAM_IDLE_TIMEOUT_US_DEFAULT	UINT64_C(30000000)
#define STREAM_KEEPALIVE_US_DEFAULT	UINT64_C(15000000)

enum stream_state {
	STREAM_OPEN = 0,	/* transferring (or lingering to re-acknowledge the peer's end) */
	STREAM_DONE,		/* both directions finished: our data and FIN acknowledged, the
				 * peer's data and FIN read by the application */
	STREAM_CLOSED_LOCAL,	/* we aborted (stream_close, or the peer broke the protocol) */
	STREAM_CLOSED_PEER,	/* the peer aborted with a CLOSE frame: stream_close_reason() */
	STREAM_LOST		/* nothing authenticated from the peer for idle_timeout_us */
};

enum stream_path_state {
	STREAM_PATH_VALID = 0,	/* the first path, or a new one whose PATH_CHALLENGE was answered */
	STREAM_PATH_VALIDATING,	/* PATH_CHALLENGE sent, no answer yet */
	STREAM_PATH_FAILED	/* no PATH_RESPONSE within the validation time */
};

/* For the -v summary and tests. Byte counts are application bytes. */
struct stream_stats {
	uint64_t bytes_sent;		/* stream bytes sent for the first time */
	uint64_t bytes_acked;		/* stream bytes the peer acknowledged (contiguous) */
	uint64_t bytes_received;	/* stream bytes received in order (readable or read) */
	uint64_t bytes_retransmitted;	/* stream bytes sent again */
	uint64_t packets_sent;
	uint64_t packets_received;
	uint64_t packets_lost;		/* declared lost (including spurious) */
	uint64_t packets_spurious;	/* declared lost, then acknowledged after all */
	uint64_t pmtu_probes;		/* path MTU probes sent */
	uint64_t payload;		/* frame bytes per packet now */
	uint64_t pto_count;		/* probe timeouts fired */
	uint64_t srtt_us, min_rtt_us, rttvar_us, latest_rtt_us;
	uint64_t cwnd;			/* congestion window, bytes */
	uint64_t pacing_rate;		/* bytes per second (0 = not paced) */
	uint64_t bytes_in_flight;
	uint64_t send_credit;		/* the peer's MAX_DATA (highest offset we may send) */
	uint64_t recv_window;		/* our current auto-tuned receive credit */
	uint64_t reorder_threshold;	/* current packet reordering threshold */
	uint64_t largest_acked;		/* largest packet number the peer acknowledged + 1
					 * (0 = none yet): for pkt_on_acked() */
};

struct stream;

void stream_config_default(struct stream_config *cfg);
/* Allocates the connection and all its buffers. Out-of-range configuration values are
 * clamped. Returns NULL when out of memory. */
struct stream *stream_new(const struct stream_config *cfg, uint64_t now);
/* Frees everything (NULL is fine). */
void stream_free(struct stream *s);

/* The decrypted frames of one authenticated packet. Returns 0, or -1 when the payload is
 * malformed or breaks the protocol: the stream is then STREAM_CLOSED_LOCAL and will send a
 * CLOSE with the reason. Packets may arrive in any order and more than once. */
int stream_on_packet(struct stream *s, uint64_t now, uint64_t pn, const uint8_t *payload,
    size_t len);

/* Writes the frames of the next packet to send into buf (cap bytes; at most max_payload are
 * used) and its packet number into *pn. Returns the length, or 0 when nothing may be sent now
 * (nothing to send, congestion window full, or the pacer says wait: see stream_deadline()).
 * Call it in a loop: it releases at most a pacing burst at a time. */
size_t stream_next_packet(struct stream *s, uint64_t now, uint8_t *buf, size_t cap,
    uint64_t *pn);
/*
 * The same, but the data of the packet's STREAM frame may stay where it is in the send buffer,
 * which saves copying every payload byte: then tail->len > 0, buf holds the first
 * (return value - tail->len) bytes of the packet and tail->data the rest. As many bytes as
 * buf holds (at most STREAM_TAIL_HEAD_MAX) just before tail->data are send-buffer bytes the
 * caller may borrow, to put the packet's first bytes in front of the data and seal it in one
 * piece, if it puts them back before the next call into the stream. tail->len == 0: all of
 * the packet is in buf.
 */
#define STREAM_TAIL_HEAD_MAX 256
struct stream_tail {
	uint8_t *data;
	size_t len;
};
size_t stream_next_packet_split(struct stream *s, uint64_t now, uint8_t *buf, size_t cap,
    uint64_t *pn, struct stream_tail *tail);
/* Absolute time at which stream_on_timeout() (and then stream_next_packet()) must be called:
 * ack delay, loss or probe timer, pacing, keepalive, idle timeout. UINT64_MAX = none.
 * A value <= now means "now". */
uint64_t stream_deadline(const struct stream *s);
void stream_on_timeout(struct stream *s, uint64_t now);

/* Sending. stream_writable() is how many bytes stream_write() accepts now (0 when the send
 * buffer is full: backpressure, wait for acknowledgments). */
size_t stream_writable(const struct stream *s);
/* Copies up to len bytes into the send buffer; returns how many (<= stream_writable()). */
size_t stream_write(struct stream *s, const void *buf, size_t len);
/* Zero-copy: a contiguous free part of the send buffer (*len bytes, 0 when full) to fill,
 * then stream_write_commit() the bytes actually filled (<= *len). */
uint8_t *stream_write_reserve(struct stream *s, size_t *len);
void stream_write_commit(struct stream *s, size_t n);
/* No more bytes in our direction (sends FIN). Idempotent; writes after it are refused. */
void stream_shutdown_write(struct stream *s);
/* True when our FIN and every byte before it have been acknowledged. */
bool stream_write_done(const struct stream *s);

/* Receiving, in order. stream_readable() = bytes readable now (contiguous). */
size_t stream_readable(const struct stream *s);
size_t stream_read(struct stream *s, void *buf, size_t cap);
/* Zero-copy: points *data at *len contiguous readable bytes (0 when none); then consume. */
void stream_read_peek(const struct stream *s, const uint8_t **data, size_t *len);
void stream_read_consume(struct stream *s, size_t n);
/* True when the peer's FIN has been received and every byte before it has been read. */
bool stream_read_eof(const struct stream *s);

/* Aborts: sends CLOSE(reason) (STREAM_CLOSE_*, or STREAM_CLOSE_SIGNAL(n)) in the next packet
 * and then only answers the peer with CLOSE. The state becomes STREAM_CLOSED_LOCAL. */
void stream_close(struct stream *s, uint64_t now, uint64_t reason);
enum stream_state stream_state(const struct stream *s);
/* The reason of a CLOSE (received in STREAM_CLOSED_PEER, sent in STREAM_CLOSED_LOCAL). */
uint64_t stream_close_reason(const struct stream *s);
/* "no error", "protocol violation", "interrupted by signal 2", ... into buf; returns buf. */
const char *stream_reason_text(uint64_t reason, char *buf, size_t cap);

/* The peer moved to a new path (relay <-> direct, NAT rebinding), believed by the shell from
 * an authenticated packet with a higher packet number. Sends PATH_CHALLENGE, resets the
 * congestion controller and RTT estimate, and keeps everything in flight (packets still in
 * flight on the old path are given time before they count as lost). rtt_us: the new path's
 * round-trip time as its validation measured it, 0 when unknown. */
void stream_path_changed(struct stream *s, uint64_t now, uint64_t rtt_us);
enum stream_path_state stream_path_state(const struct stream *s);
/* Changes the frame bytes per packet (e.g. a relay envelope takes room on that path) and ends
 * any path MTU search. */
void stream_set_max_payload(struct stream *s, size_t max_payload);
/*
 * Searches for a larger payload on the current path, up to ceiling (at most the configured
 * max_payload), with padded probes (src/pmtu.h); the payload in use now is the base. The
 * shell calls it for paths that may carry more than the base (not the relay) and again after
 * every path change, which returns the stream to the base. Probes go once the path is
 * validated; the datagrams they make are larger than the others: a shell must send a datagram
 * larger than stream_payload() + PKT_OVERHEAD on its own (no GSO run), with the don't-fragment
 * bit set, and may drop it when the kernel refuses it as too large. While a search runs, the
 * cap given to stream_next_packet must hold the ceiling (else the search ends).
 */
void stream_pmtu_search(struct stream *s, uint64_t now, size_t ceiling);
/* Frame bytes per packet in use now. */
size_t stream_payload(const struct stream *s);

void stream_get_stats(const struct stream *s, struct stream_stats *st);
/* The largest packet number the peer acknowledged + 1 (0 = none yet), for pkt_on_acked():
 * after each packet, if (x = stream_largest_acked(s)) pkt_on_acked(ctx, x - 1). */
uint64_t stream_largest_acked(const struct stream *s);
/* Short name of the congestion controller ("bbr", "cubic", "newreno"). */
const char *stream_cc_name(enum stream_cc cc);

#endif
