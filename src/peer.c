/*
 * The peer: resolve the server without blocking, join the room, run the handshake through the
 * server's mailbox, exchange sealed candidates, start the stream over the relay, punch on GO,
 * and decide the exit status. One pump runs after every event and drives every core; one timer
 * is armed at the earliest deadline any of them asked for.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <sodium.h>

#include "clock.h"
#include "defaults.h"
#include "exitcode.h"
#include "log.h"
#include "peer_int.h"
#include "peer_mailbox.h"
#include "wire.h"

/* After a CLOSE (signal), how long we keep answering before exiting. */
#define CLOSE_LINGER_US (100 * US_PER_MS)

static void pump(struct peer *p);

void
peer_exit(struct peer *p, int code)
{
	if (p->phase == PH_DONE)
		return;
	p->exit_code = code;
	p->phase = PH_DONE;
}

void
peer_kick(struct peer *p)
{
	if (p->kick_ev != NULL)
		event_active(p->kick_ev, 0, 0);
}

static uint64_t
env_ms(const char *name)
{
	const char *v = getenv(name);
	char *end;
	unsigned long long n;

	if (v == NULL || *v == '\0')
		return 0;
	n = strtoull(v, &end, 10);
	return *end == '\0' ? (uint64_t)n * US_PER_MS : 0;
}

static void
harden(void)
{
	struct rlimit no_core = { 0, 0 };

	/* Keys and the code live in this process: no core dumps, no ptrace by the same user. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)setrlimit(RLIMIT_CORE, &no_core);
}

/* ---- rendezvous and handshake ---- */

static void
post_handshake(struct peer *p, uint64_t now)
{
	uint8_t m[HS_MSG_MAX];
	size_t n;

	while ((n = hs_build(&p->hs, m, sizeof m)) > 0)
		if (rv_client_send_peer_message(&p->rv, now, m, n) != 0)
			log_verbose(2, "rendezvous: message queue full");
}

static void
auth_failed(struct peer *p, uint64_t now)
{
	log_err("authentication failed (wrong code?)");
	if (p->rv_active)
		rv_client_report_pake_failure(&p->rv, now);
	peer_exit(p, EXIT_AUTH);
}

static void
post_mailbox(struct peer *p, uint64_t now, const uint8_t *plain, size_t len)
{
	uint8_t sealed[HS_MSG_MAX];
	size_t n = hs_mailbox_seal(&p->hs, plain, len, sealed, sizeof sealed);

	if (n == 0 || rv_client_send_peer_message(&p->rv, now, sealed, n) != 0)
		log_verbose(2, "rendezvous: could not post a sealed message");
}

/*
 * Our candidates (and the size of a regular file on stdin) go out as soon as our key
 * confirmation has: sealed with the session's keys, they open only for a peer that derived the
 * same keys, and it reads them after verifying that confirmation. READY goes with them. The
 * joining peer gets the room creator's share with its JOINED, so its candidates and READY
 * leave half a round trip before the creator could answer, and the server's GO meets the
 * peer's candidates a round trip sooner than if both waited for key confirmation.
 */
static void
post_candidates(struct peer *p, uint64_t now)
{
	uint8_t m[MB_PLAIN_MAX];
	size_t n;

	if (p->cands_posted || !hs_can_seal(&p->hs))
		return;
	p->cands_posted = true;
	n = mb_build_candidates(&p->trav, m, sizeof m);
	if (n > 0)
		post_mailbox(p, now, m, n);
	if (p->io.in_regular && (n = mb_build_size(p->io.in_size, m, sizeof m)) > 0)
		post_mailbox(p, now, m, n);
	rv_client_ready(&p->rv, now);
}

/* Keys confirmed both ways: start the stream on the relay (our candidates and READY went out
 * already, with our confirmation: post_candidates). */
static void
on_keys(struct peer *p, uint64_t now)
{
	struct stream_config cfg;

	if (hs_pkt_init(&p->hs, &p->pkt, now) != 0) {
		log_err("internal error: no packet keys after the handshake");
		peer_exit(p, EXIT_ERROR);
		return;
	}
	p->pkt_ready = true;
	stream_config_default(&cfg);
	if (p->test_idle_us != 0) {
		cfg.idle_timeout_us = p->test_idle_us;
		if (cfg.keepalive_us > p->test_idle_us / 3)
			cfg.keepalive_us = p->test_idle_us / 3;	/* idle is not lost */
	}
	/* The stream sizes its rings for the largest payload it may use. Both peers on this
	 * machine (server on loopback): allow the big loopback datagrams of a direct path.
	 * Elsewhere what a 1500-byte MTU carries: paths start with 1200-byte datagrams and a
	 * direct one searches its path MTU up to that (peer_path.c). */
	cfg.max_payload = p->server_loopback ? PEER_LOOPBACK_PAYLOAD : PEER_PMTU_CEILING_V4;
	randombytes_buf(&cfg.seed, sizeof cfg.seed);
	p->st = stream_new(&cfg, now);
	if (p->st == NULL) {
		log_err("out of memory");
		peer_exit(p, EXIT_ERROR);
		return;
	}
	p->phase = PH_CONNECTED;
	p->rep.started = now;
	log_verbose(1, "connected; verification %s, cipher %s", hs_verifier(&p->hs),
	    pkt_cipher_name(p->pkt.cipher));
	rv_client_allow_resume(&p->rv);		/* a server restart now only pauses the relay */
	path_start(p, now);
	io_start(p);
}

/* Every message the other peer posts through the rendezvous: handshake or sealed mailbox. */
static void
on_peer_message(struct peer *p, uint64_t now, const uint8_t *msg, size_t len)
{
	uint8_t plain[HS_MSG_MAX];
	struct mb_msg m;
	enum hs_state st;

	if (!p->hs_started)
		return;
	switch (mb_demux(&p->hs, msg, len, plain, sizeof plain, &m)) {
	case MB_HANDSHAKE:
		st = hs_receive(&p->hs, msg, len);
		post_handshake(p, now);
		post_candidates(p, now);
		if (st == HS_FAIL) {
			log_verbose(2, "handshake: %s",
			    hs_error(&p->hs) ? hs_error(&p->hs) : "failed");
			auth_failed(p, now);
		} else if (st == HS_DONE) {
			on_keys(p, now);
		}
		break;
	case MB_GOT_CANDIDATES:
		if (!trav_peer_candidates(&p->trav, now, m.body, m.len))
			log_verbose(2, "rendezvous: malformed candidates from the peer");
		else
			log_verbose(2, "candidates from the peer%s%s",
			    trav_peer_hard(&p->trav) ? " (endpoint-dependent mapping)" : "",
			    trav_get_state(&p->trav) == TRAV_RELAY_ONLY ? " (relay only)" : "");
		break;
	case MB_GOT_SIZE:
		p->rep.peer_size = m.size;
		break;
	case MB_BAD:
		log_verbose(2, "rendezvous: dropped a mailbox message that did not open or parse");
		break;
	case MB_IGNORE:
		break;
	}
	sodium_memzero(plain, sizeof plain);
}

static void
print_code(struct peer *p)
{
	char text[CODE_TEXT_MAX + 16];

	if (code_format(&p->code, text, sizeof text) == 0)
		return;
	/* Printed even with -q: without it nobody can join. */
	log_err("code: %s", text);
	log_info("on the other machine run: punchcat %s", text);
	sodium_memzero(text, sizeof text);
}

static void
on_joined(struct peer *p, uint64_t now, const struct rv_event *ev)
{
	struct hs_params hp = { 0 };
	struct trav_params tp = { 0 };
	char a[NETADDR_STRLEN], b[NETADDR_STRLEN];

	if (!p->have_code || p->hs_started)
		return;
	hp.initiator = ev->initiator;
	hp.password = p->code.password;
	hp.password_len = p->code.password_len;
	hp.nameplate = p->code.nameplate;
	memcpy(hp.sid, ev->sid, HS_SID_LEN);
	hp.offer_aes = pkt_aes_available();
	if (hs_init(&p->hs, &hp) != 0) {
		log_err("internal error: cannot start the handshake");
		peer_exit(p, EXIT_ERROR);
		return;
	}
	p->hs_started = true;
	tp.initiator = ev->initiator;
	tp.relay_only = p->o->force_relay;
	tp.check_span_us = p->test_check_us;
	randombytes_buf(&tp.seed, sizeof tp.seed);
	trav_init(&p->trav, &tp, &p->hs);
	trav_set_reflexive(&p->trav, &ev->reflexive[0],
	    ev->reflexive[1].family != 0 ? &ev->reflexive[1] : NULL);
	psock_host_candidates(p);
	log_verbose(2, "in room %" PRIu32 " as %s; seen as %s and %s%s", p->code.nameplate,
	    ev->initiator ? "initiator" : "responder", netaddr_fmt(&ev->reflexive[0], a),
	    ev->reflexive[1].family ? netaddr_fmt(&ev->reflexive[1], b) : "-",
	    p->trav.hard ? " (endpoint-dependent mapping)" : "");
	post_handshake(p, now);
}

static void
on_rv_event(struct peer *p, uint64_t now, const struct rv_event *ev)
{
	switch (ev->kind) {
	case RV_EV_NAMEPLATE:
		if (!p->have_code) {
			code_generate(&p->code, ev->nameplate, p->o->words);
			p->have_code = true;
			print_code(p);
		}
		break;
	case RV_EV_JOINED:
		on_joined(p, now, ev);
		break;
	case RV_EV_PEER_JOINED:
		log_verbose(2, "the peer arrived");
		break;
	case RV_EV_PEER_MESSAGE:
		on_peer_message(p, now, ev->msg, ev->msg_len);
		break;
	case RV_EV_GO:
		log_verbose(2, "GO: punching");
		if (p->hs_started)
			trav_go(&p->trav, now);
		break;
	case RV_EV_PEER_LEFT:
		if (ev->left_reason == RV_LEFT_PAKE_FAILED && p->phase == PH_MEETING) {
			log_err("authentication failed (wrong code?)");
			peer_exit(p, EXIT_AUTH);
		} else if (p->phase == PH_MEETING) {
			log_err("the peer left before the connection was set up");
			peer_exit(p, EXIT_NOPEER);
		}
		break;
	case RV_EV_RESUMING:
		log_verbose(1, "rendezvous server lost our room (%s); joining nameplate %" PRIu32
		    " again", rv_error_str(ev->error), ev->nameplate);
		break;
	case RV_EV_RESUMED:
		/* The stream's own timers resend what was lost (not stream_path_changed: that
		 * would restart the idle clock, and a stranger forcing resumes must not keep a
		 * dead connection alive past the idle timeout). */
		log_verbose(1, "rendezvous: back in a room on nameplate %" PRIu32 "; relay resumed",
		    ev->nameplate);
		break;
	case RV_EV_ERROR:
		if (p->phase == PH_CONNECTED) {
			/* Connected already: the data goes on without the server if it can. */
			log_verbose(1, "rendezvous server: %s", rv_error_str(ev->error));
			p->rv_active = false;
			break;
		}
		log_err("%s", rv_error_str(ev->error));
		if (ev->error == RV_ERR_TIMEOUT)
			log_info("check the server address (%s) and that UDP ports %u and %u reach "
			    "it", p->o->server, (unsigned)p->server.port,
			    (unsigned)p->server.port + 1);
		peer_exit(p, rv_error_exit(ev->error));
		break;
	default:
		break;
	}
}

void
peer_on_rendezvous(struct peer *p, uint64_t now, unsigned port_index, const uint8_t *buf,
    size_t len)
{
	if (p->rv_active)
		rv_client_input(&p->rv, now, port_index, buf, len);
}

static void
drive_rendezvous(struct peer *p, uint64_t now)
{
	struct rv_event ev;
	uint8_t buf[RV_MAX_PACKET + 64];
	unsigned pi;
	size_t n;

	if (!p->rv_active)
		return;
	if (rv_client_deadline(&p->rv) <= now)
		rv_client_on_timeout(&p->rv, now);
	while (p->rv_active && rv_client_next_event(&p->rv, &ev))
		on_rv_event(p, now, &ev);
	while ((n = rv_client_output(&p->rv, now, buf, sizeof buf, &pi)) > 0) {
		struct netaddr to = p->server;

		to.port = (uint16_t)(to.port + pi);
		psock_send(p, 0, &to, buf, n);
	}
}

static void
drive_traversal(struct peer *p, uint64_t now)
{
	struct trav_out o;
	unsigned want;

	if (!p->hs_started || hs_state(&p->hs) != HS_DONE)
		return;
	want = trav_sockets_wanted(&p->trav);
	if (want > p->nsocks) {
		(void)psock_open_extra(p, want);
		trav_set_sockets(&p->trav, p->nsocks);
		log_verbose(2, "birthday search with %u sockets", p->nsocks);
	}
	while (trav_poll(&p->trav, now, &o))
		if (!path_direct_blocked(p, now))
			psock_send(p, o.sock, &o.to, o.buf, o.len);
}

/* ---- the stream's end ---- */

static void
check_stream(struct peer *p, uint64_t now)
{
	char why[96];

	if (p->st == NULL)
		return;
	if (p->io.out_failed && !p->closing) {
		stream_close(p->st, now, STREAM_CLOSE_APP_ERROR);
		p->closing = true;
		p->close_exit = EXIT_ERROR;
		p->close_until = now + CLOSE_LINGER_US;
	}
	switch (stream_state(p->st)) {
	case STREAM_DONE:
		if (io_all_written(p)) {
			report_summary(p, now);
			peer_exit(p, EXIT_OK);
		}
		break;
	case STREAM_LOST:
		log_err("connection lost: nothing from the peer for too long");
		peer_exit(p, EXIT_LOST);
		break;
	case STREAM_CLOSED_PEER:
		log_err("the peer closed the connection: %s",
		    stream_reason_text(stream_close_reason(p->st), why, sizeof why));
		peer_exit(p, EXIT_LOST);
		break;
	case STREAM_CLOSED_LOCAL:
		if (!p->closing) {
			log_err("connection closed: %s",
			    stream_reason_text(stream_close_reason(p->st), why, sizeof why));
			peer_exit(p, EXIT_ERROR);
		} else if (now >= p->close_until) {
			peer_exit(p, p->close_exit);
		}
		break;
	default:
		break;
	}
	if (p->phase != PH_CONNECTED)
		return;
	/* Direct only, and no direct path will come. */
	if (!p->have_path && !p->on_direct && p->hs_started && trav_failed(&p->trav)) {
		if (p->o->no_relay)
			log_err("no direct path to the peer, and --no-relay forbids the relay");
		else
			log_err("no direct path to the peer, and the server does not relay");
		peer_exit(p, EXIT_NODIRECT);
	}
}

/* ---- the loop ---- */

static void
arm_timer(struct peer *p, uint64_t now)
{
	uint64_t d = TIME_NEVER, x;
	struct timeval tv;

	if (p->rv_active && (x = rv_client_deadline(&p->rv)) < d)
		d = x;
	if (p->hs_started && hs_state(&p->hs) == HS_DONE && (x = trav_deadline(&p->trav)) < d)
		d = x;
	if (p->st != NULL && (x = stream_deadline(p->st)) < d)
		d = x;
	if (p->phase == PH_MEETING && p->wait_until < d)
		d = p->wait_until;
	if (p->closing && p->close_until < d)
		d = p->close_until;
	if (p->o->progress && p->st != NULL && now + 200 * US_PER_MS < d)
		d = now + 200 * US_PER_MS;
	if (d == TIME_NEVER) {
		evtimer_del(p->timer);
		return;
	}
	x = d > now ? d - now : 0;
	tv.tv_sec = (time_t)(x / US_PER_S);
	tv.tv_usec = (suseconds_t)(x % US_PER_S);
	evtimer_add(p->timer, &tv);
}

static void
pump(struct peer *p)
{
	uint64_t now = clock_now_us();

	if (p->phase == PH_MEETING || p->phase == PH_CONNECTED) {
		drive_rendezvous(p, now);
		drive_traversal(p, now);
		path_update(p, now);
	}
	if (p->st != NULL && p->phase == PH_CONNECTED) {
		if (stream_deadline(p->st) <= now)
			stream_on_timeout(p->st, now);
		io_pump(p, now);
		path_send(p, now);
		check_stream(p, now);
		report_progress(p, now, false);
	}
	if (p->phase == PH_MEETING && now >= p->wait_until) {
		log_err("the peer did not arrive within %u s", p->o->wait_s);
		peer_exit(p, EXIT_NOPEER);
	}
	if (p->phase == PH_DONE) {
		if (p->rv_active) {
			/* Leave the room now rather than at its expiry. */
			rv_client_leave(&p->rv, now);
			drive_rendezvous(p, now);
		}
		psock_flush(p);
		event_base_loopbreak(p->base);
		return;
	}
	psock_flush(p);
	arm_timer(p, now);
}

static void
on_event(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pump(arg);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct peer *p = arg;
	uint64_t now = clock_now_us();

	(void)what;
	if (p->closing || p->phase == PH_DONE)
		return;
	log_info("interrupted by signal %d", (int)sig);
	if (p->st != NULL) {
		/* Tell the peer why, then go. */
		stream_close(p->st, now, STREAM_CLOSE_SIGNAL((int)sig));
		p->closing = true;
		p->close_exit = EXIT_SIGNAL_BASE + (int)sig;
		p->close_until = now;
		path_send(p, now);
		psock_flush(p);
	}
	peer_exit(p, EXIT_SIGNAL_BASE + (int)sig);
	pump(p);
}

/* ---- start ---- */

static void
start_meeting(struct peer *p, const struct netaddr *server)
{
	struct rv_client_cfg cfg = { 0 };
	char a[NETADDR_STRLEN];

	p->server = *server;
	p->server_loopback = netaddr_is_loopback(server);
	if (psock_open_main(p) != 0) {
		log_err("cannot open a UDP socket: %s", strerror(errno));
		peer_exit(p, EXIT_ERROR);
		pump(p);
		return;
	}
	log_verbose(2, "server %s, local port %u", netaddr_fmt(server, a),
	    (unsigned)p->socks[0].local.port);
	cfg.nameplate = p->have_code ? p->code.nameplate : 0;
	rv_client_init(&p->rv, &cfg, clock_now_us());
	p->rv_active = true;
	p->phase = PH_MEETING;
	pump(p);
}

static void
on_resolved(int err, struct evutil_addrinfo *res, void *arg)
{
	struct peer *p = arg;
	struct netaddr a;
	uint16_t port = p->server.port;

	p->dns_req = NULL;
	if (err != 0 || res == NULL) {
		log_err("cannot resolve the server '%s': %s", p->o->server,
		    evutil_gai_strerror(err));
		if (res != NULL)
			evutil_freeaddrinfo(res);
		peer_exit(p, EXIT_ERROR);
		pump(p);
		return;
	}
	if (!netaddr_from_sa(&a, res->ai_addr, (socklen_t)res->ai_addrlen)) {
		evutil_freeaddrinfo(res);
		log_err("the server's address is of an unknown family");
		peer_exit(p, EXIT_ERROR);
		pump(p);
		return;
	}
	evutil_freeaddrinfo(res);
	a.port = port;
	start_meeting(p, &a);
}

static int
resolve(struct peer *p)
{
	char host[256];
	uint16_t port;
	const char *why = hostport_split(p->o->server, host, sizeof host, &port, PUNCHCAT_PORT);
	struct netaddr a;
	struct evutil_addrinfo hints;

	if (why != NULL) {
		log_err("bad --server '%s': %s", p->o->server, why);
		return EXIT_USAGE;
	}
	if (netaddr_parse(&a, host, port)) {
		if ((p->o->family == 4 && a.family != 4) || (p->o->family == 6 && a.family != 6)) {
			log_err("the server address does not match -%d", p->o->family);
			return EXIT_USAGE;
		}
		start_meeting(p, &a);
		return 0;
	}
	p->dns = evdns_base_new(p->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (p->dns == NULL) {
		log_err("cannot resolve %s: no name servers configured", host);
		return EXIT_ERROR;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = p->o->family == 4 ? AF_INET : p->o->family == 6 ? AF_INET6 : AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_protocol = IPPROTO_UDP;
	p->server.port = port;
	p->phase = PH_RESOLVING;
	p->dns_req = evdns_getaddrinfo(p->dns, host, NULL, &hints, on_resolved, p);
	return 0;
}

static int
setup(struct peer *p)
{
	const char *why, *env;

	struct event_config *ec = event_config_new();

	/* Pacing releases sub-millisecond bursts: timers need better than epoll's 1 ms. */
	if (ec != NULL)
		(void)event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	p->base = ec != NULL ? event_base_new_with_config(ec) : event_base_new();
	if (ec != NULL)
		event_config_free(ec);
	if (p->base == NULL)
		return -1;
	p->timer = evtimer_new(p->base, on_event, p);
	p->kick_ev = event_new(p->base, -1, 0, on_event, p);
	p->sigint_ev = evsignal_new(p->base, SIGINT, on_signal, p);
	p->sigterm_ev = evsignal_new(p->base, SIGTERM, on_signal, p);
	p->sighup_ev = evsignal_new(p->base, SIGHUP, on_signal, p);
	if (p->timer == NULL || p->kick_ev == NULL || p->sigint_ev == NULL ||
	    p->sigterm_ev == NULL || p->sighup_ev == NULL)
		return -1;
	evsignal_add(p->sigint_ev, NULL);
	evsignal_add(p->sigterm_ev, NULL);
	evsignal_add(p->sighup_ev, NULL);
	if (io_init(p) != 0)
		return -1;
	if (p->o->code != NULL) {
		why = code_parse(&p->code, p->o->code);
		if (why != NULL)
			return -1;	/* cli_peer.c checked it already */
		p->have_code = true;
	}
	env = getenv("PUNCHCAT_TEST_BLOCK_DIRECT");
	p->test_block_direct = env != NULL && strcmp(env, "1") == 0;
	p->test_block_direct_after_us = env_ms("PUNCHCAT_TEST_BLOCK_DIRECT_AFTER_MS");
	p->test_idle_us = env_ms("PUNCHCAT_TEST_IDLE_MS");
	p->test_check_us = env_ms("PUNCHCAT_TEST_CHECK_MS");
	return 0;
}

static void
teardown(struct peer *p)
{
	if (p->dns_req != NULL)
		evdns_getaddrinfo_cancel(p->dns_req);
	stream_free(p->st);
	if (p->pkt_ready)
		pkt_free(&p->pkt);
	if (p->hs_started)
		hs_free(&p->hs);
	code_wipe(&p->code);
	sodium_munlock(&p->code, sizeof p->code);
	io_restore(p);
	psock_close_all(p);
	if (p->dns != NULL)
		evdns_base_free(p->dns, 0);
	if (p->timer)
		event_free(p->timer);
	if (p->kick_ev)
		event_free(p->kick_ev);
	if (p->sigint_ev)
		event_free(p->sigint_ev);
	if (p->sigterm_ev)
		event_free(p->sigterm_ev);
	if (p->sighup_ev)
		event_free(p->sighup_ev);
	if (p->base)
		event_base_free(p->base);
}

int
peer_run(struct peer_opts *o)
{
	struct peer *p;
	int rc;

	harden();
	if (sodium_init() < 0) {
		log_err("libsodium failed to initialise");
		return EXIT_ERROR;
	}
	p = calloc(1, sizeof *p);
	if (p == NULL) {
		log_err("out of memory");
		return EXIT_ERROR;
	}
	(void)sodium_mlock(&p->code, sizeof p->code);
	p->o = o;
	p->exit_code = -1;
	p->start = clock_now_us();
	p->wait_until = p->start + (uint64_t)o->wait_s * US_PER_S;
	if (setup(p) != 0) {
		log_err("cannot set up the event loop");
		teardown(p);
		free(p);
		return EXIT_ERROR;
	}
	rc = resolve(p);
	if (rc != 0)
		peer_exit(p, rc);
	else if (p->phase != PH_DONE)
		event_base_dispatch(p->base);
	rc = p->exit_code < 0 ? EXIT_ERROR : p->exit_code;
	teardown(p);
	free(p);
	return rc;
}
