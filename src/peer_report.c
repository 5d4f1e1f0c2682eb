/*
 * What the user sees on stderr: with -v one line per path change, exactly
 *   punchcat: path: direct ADDR:PORT     or     punchcat: path: relay ADDR:PORT
 * and one summary line at the end; with -P a progress bar. stdout never carries any of it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "peer_int.h"

#define BAR_EVERY_US (200 * US_PER_MS)
#define LINE_EVERY_US (5 * US_PER_S)	/* progress lines when stderr is not a terminal */

void
report_path(struct peer *p, bool direct, const struct netaddr *to)
{
	char a[NETADDR_STRLEN];

	p->rep.path_changes++;
	log_verbose(1, "path: %s %s", direct ? "direct" : "relay", netaddr_fmt(to, a));
}

static void
human(char *buf, size_t cap, double v)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, cap, u == 0 ? "%.0f %s" : "%.1f %s", v, unit[u]);
}

void
report_progress(struct peer *p, uint64_t now, bool final)
{
	struct peer_report *r = &p->rep;
	bool tty = isatty(2);
	char sent[32], recv[32], rate[32], eta[32] = "";
	uint64_t moved = p->io.bytes_in > p->io.bytes_out ? p->io.bytes_in : p->io.bytes_out;
	uint64_t total = p->io.in_size > r->peer_size ? p->io.in_size : r->peer_size;
	double secs;

	if (!p->o->progress || p->o->quiet || p->st == NULL)
		return;
	if (!final && now < r->last_bar + (tty ? BAR_EVERY_US : LINE_EVERY_US))
		return;
	r->last_bar = now;
	secs = (double)(now - r->started) / 1e6;
	human(sent, sizeof sent, (double)p->io.bytes_in);
	human(recv, sizeof recv, (double)p->io.bytes_out);
	human(rate, sizeof rate, secs > 0 ? (double)moved / secs : 0);
	if (total > 0 && moved > 0 && moved < total && secs > 0) {
		double left = (double)(total - moved) / ((double)moved / secs);

		snprintf(eta, sizeof eta, " ETA %u:%02u", (unsigned)left / 60, (unsigned)left % 60);
	}
	if (total > 0) {
		unsigned pct = (unsigned)(100.0 * (double)(moved > total ? total : moved) /
		    (double)total);

		fprintf(stderr, "%spunchcat: %3u%% sent %s, received %s, %s/s%s%s", tty ? "\r" : "",
		    pct, sent, recv, rate, eta, tty && !final ? "\033[K" : "\n");
	} else {
		fprintf(stderr, "%spunchcat: sent %s, received %s, %s/s%s", tty ? "\r" : "", sent,
		    recv, rate, tty && !final ? "\033[K" : "\n");
	}
	r->bar_shown = tty && !final;
	if (final && tty)
		fputc('\n', stderr);
}

void
report_summary(struct peer *p, uint64_t now)
{
	struct stream_stats st;
	double secs;
	char rate[32];

	if (p->st == NULL)
		return;
	if (p->rep.bar_shown)
		report_progress(p, now, true);
	stream_get_stats(p->st, &st);
	secs = (double)(now - p->rep.started) / 1e6;
	human(rate, sizeof rate, secs > 0 ? (double)(p->io.bytes_in > p->io.bytes_out ?
	    p->io.bytes_in : p->io.bytes_out) / secs : 0);
	log_verbose(1, "done: sent %" PRIu64 " bytes, received %" PRIu64 " bytes in %.2f s "
	    "(%s/s), %" PRIu64 " bytes retransmitted, %s path", p->io.bytes_in, p->io.bytes_out,
	    secs, rate, st.bytes_retransmitted, p->on_direct ? "direct" : "relay");
	log_verbose(2, "stream: %" PRIu64 " packets sent, %" PRIu64 " received, %" PRIu64
	    " lost (%" PRIu64 " spurious), %" PRIu64 " PTOs; srtt %" PRIu64 " us, min %" PRIu64
	    " us; cwnd %" PRIu64 ", pacing %" PRIu64 " B/s; %" PRIu64 " datagrams not sent; "
	    "payload %" PRIu64 " bytes after %" PRIu64 " path MTU probes",
	    st.packets_sent, st.packets_received, st.packets_lost, st.packets_spurious,
	    st.pto_count, st.srtt_us, st.min_rtt_us, st.cwnd, st.pacing_rate, p->q.dropped,
	    st.payload, st.pmtu_probes);
}
