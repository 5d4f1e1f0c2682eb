/*
 * Congestion controllers behind one small interface: BBR (default; model-based, paced,
 * tolerant of random loss), CUBIC (RFC 9438) and NewReno (RFC 9002 section 7). The loss
 * recovery module (recovery.c) feeds them acknowledgments with delivery-rate samples and loss
 * events; they answer with a congestion window and a pacing rate.
 */
#ifndef PUNCHCAT_CC_H
#define PUNCHCAT_CC_H

#include <stdbool.h>
#include <stdint.h>

#include "stream.h"

/* Numbers below this RTT count as this RTT when sizing windows: on loopback and LAN paths the
 * measured RTT is dominated by batching in the endpoints, and a window sized from a 20 us
 * sample would cap throughput (BBR uses bw x this floor as its smallest BDP). */
#define CC_RTT_FLOOR_US UINT64_C(1000)
#define CC_MIN_CWND_PACKETS 4
#define CC_INITIAL_CWND_PACKETS 16

/* One acknowledgment, as the controllers see it. */
struct cc_ack {
	uint64_t now;
	uint64_t acked_bytes;		/* newly acknowledged in-flight bytes */
	uint64_t bytes_in_flight;	/* after this acknowledgment */
	uint64_t rtt_us;		/* latest RTT sample, 0 = none in this ack */
	uint64_t min_rtt_us, srtt_us;
	uint64_t largest_sent_time;	/* send time of the newest packet acknowledged */
	/* Delivery rate sample (draft-cheng-iccrg-delivery-rate-estimation). */
	uint64_t delivery_rate;		/* bytes per second, 0 = no sample */
	uint64_t delivered;		/* bytes delivered since the start */
	uint64_t prior_delivered;	/* delivered when the newest acknowledged packet was sent */
	bool app_limited;		/* the sample was taken while the sender had too little */
};

struct cc_minmax {
	struct {
		uint64_t t, v;
	} s[3];
};

/* Phases of the sending rate, by send time, to tell which rate a lost or acknowledged packet
 * was sent at (cc_bbr.c, policer detection). */
#define CC_BBR_PHASES 16

struct cc_bbr {
	struct cc_minmax bw;		/* windowed max of delivery rate, over rounds */
	uint64_t min_rtt, min_rtt_stamp;
	uint64_t round_count, next_round_delivered;
	uint64_t full_bw;
	uint64_t cycle_stamp;
	uint64_t probe_rtt_done_stamp;
	uint64_t prior_cwnd;
	uint64_t extra_acked[2];
	uint64_t extra_acked_round;
	uint64_t ack_epoch_start, ack_epoch_acked;
	uint64_t round_min_rtt;		/* smallest RTT sample in the current round */
	uint64_t cycle_min_rtt[2];	/* smallest RTT sample, this and the last 8 rounds */
	uint64_t cycle_min_round;	/* round_count when cycle_min_rtt[0] began */
	uint64_t probe_rtt_skipped;	/* PROBE_RTTs skipped (the RTT stayed near the min) */
	/* Policer handling (see cc_bbr.c). */
	uint64_t round_start_time, round_start_delivered, delivered;
	uint64_t round_lost, round_acked;	/* bytes, this round (STARTUP exit on loss) */
	uint64_t loss_exit_time, loss_exit_delivered, last_rtt;
	struct {
		uint64_t start;		/* send time the phase began */
		uint8_t cls;		/* BBR_CLS_* */
	} phase[CC_BBR_PHASES];
	unsigned phase_head;		/* index of the newest phase */
	uint64_t cls_lost[3], cls_acked[3];	/* bytes, by class of the send-time phase */
	uint64_t lt_start_time, lt_start_delivered, lt_start_round;	/* evidence window */
	uint64_t lt_bw;			/* policed rate, bytes/s; 0 = not policed */
	uint64_t lt_until, lt_round_until;	/* hold lt_bw until both have passed */
	uint64_t lt_last_end;		/* when the last hold ended */
	unsigned lt_holds;		/* consecutive detections (doubles the hold) */
	double pacing_gain, cwnd_gain;
	unsigned mode, cycle_index, full_bw_count, extra_acked_slot;
	bool round_start, filled_pipe, probe_rtt_round_done, has_rate;
};

struct cc_cubic {
	double w_max;			/* window before the last reduction, in packets */
	double k;			/* seconds to get back to w_max */
	double w_est;			/* Reno-friendly estimate, packets */
	uint64_t epoch_start;
	uint64_t acked_acc;
};

struct cc {
	enum stream_cc kind;
	uint64_t mss;
	uint64_t cwnd;			/* bytes */
	uint64_t ssthresh;
	uint64_t pacing_rate;		/* bytes per second */
	uint64_t srtt_us;
	uint64_t recovery_start;	/* losses of packets sent before this are one event */
	uint64_t undo_cwnd, undo_ssthresh;
	double undo_w_max;
	bool in_recovery_any;
	bool undo_valid;
	uint64_t acked_acc;		/* NewReno congestion avoidance */
	union {
		struct cc_bbr bbr;
		struct cc_cubic cubic;
	} u;
};

void cc_init(struct cc *c, enum stream_cc kind, uint64_t mss, uint64_t initial_rtt_us,
    uint64_t now);
void cc_on_ack(struct cc *c, const struct cc_ack *a);
/* Packets sent at or before largest_sent_time were lost (a congestion signal). */
void cc_on_loss(struct cc *c, uint64_t now, uint64_t lost_bytes, uint64_t largest_sent_time,
    uint64_t bytes_in_flight);
void cc_on_persistent_congestion(struct cc *c, uint64_t now);
/* The last loss event was spurious (its packets were acknowledged after all): undo it. */
void cc_on_spurious(struct cc *c, uint64_t now);
/* The packet size changed (path change). */
void cc_set_mss(struct cc *c, uint64_t mss);

/* Per-controller parts (cc_bbr.c, cc_cubic.c, cc_newreno.c). */
void cc_bbr_init(struct cc *c, uint64_t now);
void cc_bbr_on_ack(struct cc *c, const struct cc_ack *a);
void cc_bbr_on_loss(struct cc *c, uint64_t now, uint64_t lost_bytes, uint64_t largest_sent_time,
    uint64_t bytes_in_flight);
void cc_cubic_on_ack(struct cc *c, const struct cc_ack *a);
void cc_cubic_on_congestion(struct cc *c, uint64_t now);
void cc_newreno_on_ack(struct cc *c, const struct cc_ack *a);
void cc_newreno_on_congestion(struct cc *c, uint64_t now);

#endif
