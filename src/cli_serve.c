/* Option parsing of `punchcat serve`. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "defaults.h"
#include "exitcode.h"
#include "log.h"
#include "serve.h"

static const char usage[] =
    "usage: punchcat serve [OPTIONS]\n"
    "\n"
    "Run a rendezvous and relay server for punchcat peers on UDP port 7430 (and 7431 for\n"
    "NAT mapping discovery). The relay forwards end-to-end encrypted packets it cannot read.\n"
    "\n"
    "  -l, --listen ADDR:PORT        listen here; the discovery port is PORT+1 (repeatable;\n"
    "                                default 0.0.0.0:7430 and [::]:7430; port 0 picks one)\n"
    "      --no-relay                rendezvous only, never relay data\n"
    "      --user USER               drop root privileges to USER after binding\n"
    "      --allow-root              keep running as root (not recommended)\n"
    "      --max-rooms N             rooms at most (default 100000)\n"
    "      --ip-rate N               JOINs per minute per source IP (default 30)\n"
    "      --ip-burst N              JOINs in a burst per source IP (default 10)\n"
    "      --free-joins N            joins of a waiting room per second answered\n"
    "                                without a cookie round trip (default 50; 0 = never)\n"
    "      --room-expiry SECONDS     an unclaimed room lives this long (default 600)\n"
    "      --relay-idle SECONDS      a full room silent this long ends (default 120)\n"
    "      --burn-time SECONDS       a nameplate is blocked this long after a failed\n"
    "                                key exchange (default 600)\n"
    "      --nameplate-cooldown SECONDS  before a released nameplate is allocated\n"
    "                                again (default 60)\n"
    "      --relay-rate BYTES        relay bytes per second per room (default 12.5M)\n"
    "      --relay-burst BYTES       relay burst per room (default 1M)\n"
    "      --relay-quota BYTES       relay bytes per room in all (default 10G)\n"
    "      --global-relay-rate BYTES relay bytes per second in all (default 125M)\n"
    "      --max-packet BYTES        largest datagram accepted (default 1472)\n"
    "  -v, --verbose                 log more events (repeat for more)\n"
    "  -q, --quiet                   log errors only\n"
    "  -h, --help                    this help\n"
    "\n"
    "Sizes take a decimal suffix K, M, G or T. SIGUSR1 logs the counters.\n";

enum {
	OPT_NO_RELAY = 256, OPT_USER, OPT_ALLOW_ROOT, OPT_MAX_ROOMS, OPT_IP_RATE, OPT_IP_BURST,
	OPT_ROOM_EXPIRY, OPT_RELAY_IDLE, OPT_BURN_TIME, OPT_COOLDOWN, OPT_RELAY_RATE,
	OPT_RELAY_BURST, OPT_RELAY_QUOTA, OPT_GLOBAL_RELAY_RATE, OPT_MAX_PACKET, OPT_FREE_JOINS
};

static const struct option longopts[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "no-relay", no_argument, NULL, OPT_NO_RELAY },
	{ "user", required_argument, NULL, OPT_USER },
	{ "allow-root", no_argument, NULL, OPT_ALLOW_ROOT },
	{ "max-rooms", required_argument, NULL, OPT_MAX_ROOMS },
	{ "ip-rate", required_argument, NULL, OPT_IP_RATE },
	{ "ip-burst", required_argument, NULL, OPT_IP_BURST },
	{ "room-expiry", required_argument, NULL, OPT_ROOM_EXPIRY },
	{ "relay-idle", required_argument, NULL, OPT_RELAY_IDLE },
	{ "burn-time", required_argument, NULL, OPT_BURN_TIME },
	{ "nameplate-cooldown", required_argument, NULL, OPT_COOLDOWN },
	{ "relay-rate", required_argument, NULL, OPT_RELAY_RATE },
	{ "relay-burst", required_argument, NULL, OPT_RELAY_BURST },
	{ "relay-quota", required_argument, NULL, OPT_RELAY_QUOTA },
	{ "global-relay-rate", required_argument, NULL, OPT_GLOBAL_RELAY_RATE },
	{ "free-joins", required_argument, NULL, OPT_FREE_JOINS },
	{ "max-packet", required_argument, NULL, OPT_MAX_PACKET },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

bool
serve_parse_size(const char *s, double min, double *out)
{
	char *end;
	double v;

	if (*s < '0' || *s > '9')
		return false;
	v = strtod(s, &end);
	switch (*end) {
	case 'K': case 'k': v *= 1e3; end++; break;
	case 'M': case 'm': v *= 1e6; end++; break;
	case 'G': case 'g': v *= 1e9; end++; break;
	case 'T': case 't': v *= 1e12; end++; break;
	default: break;
	}
	if (*end != '\0' || !isfinite(v) || v < min || v > 1e15)
		return false;
	*out = v;
	return true;
}

/* A whole number option in [min, max]; returns -1 after reporting a usage error. */
static int
number(const char *name, const char *arg, unsigned long min, unsigned long max,
    unsigned long *v)
{
	if (cli_number(arg, min, max, v))
		return 0;
	cli_usage_error("punchcat serve", "%s wants a whole number from %lu to %lu, not '%s'",
	    name, min, max, arg);
	return -1;
}

static int
size(const char *name, const char *arg, double min, double *v)
{
	if (serve_parse_size(arg, min, v))
		return 0;
	cli_usage_error("punchcat serve", "%s wants a size of at least %.0f bytes (suffix K, M, "
	    "G or T allowed), not '%s'", name, min, arg);
	return -1;
}

/* Applies one limit option to o->cfg; returns -1 after a usage error. */
static int
limit_option(struct serve_opts *o, int c, const char *arg)
{
	struct server_cfg *g = &o->cfg;
	unsigned long n = 0;
	double d = 0;
	int rc = 0;

	switch (c) {
	case OPT_MAX_ROOMS:
		rc = number("--max-rooms", arg, 1, SRV_MAX_ROOMS, &n);
		g->max_rooms = (uint32_t)n;
		break;
	case OPT_IP_RATE:
		rc = number("--ip-rate", arg, 1, 1000000, &n);
		g->ip_rate_per_min = (double)n;
		break;
	case OPT_FREE_JOINS:
		rc = number("--free-joins", arg, 0, 1000000, &n);
		g->free_joins = (double)n;
		break;
	case OPT_IP_BURST:
		rc = number("--ip-burst", arg, 1, 1000000, &n);
		g->ip_burst = (double)n;
		break;
	case OPT_ROOM_EXPIRY:
		rc = number("--room-expiry", arg, 1, 86400, &n);
		g->room_expiry_s = (uint32_t)n;
		break;
	case OPT_RELAY_IDLE:
		rc = number("--relay-idle", arg, 1, 86400, &n);
		g->idle_s = (uint32_t)n;
		break;
	case OPT_BURN_TIME:
		rc = number("--burn-time", arg, 0, 86400UL * 7, &n);
		g->burn_s = (uint32_t)n;
		break;
	case OPT_COOLDOWN:
		rc = number("--nameplate-cooldown", arg, 0, 86400, &n);
		g->cooldown_s = (uint32_t)n;
		break;
	case OPT_RELAY_RATE:
		rc = size("--relay-rate", arg, 1, &d);
		g->relay_rate = d;
		break;
	case OPT_RELAY_BURST:
		rc = size("--relay-burst", arg, RV_MAX_PACKET, &d);
		g->relay_burst = d;
		break;
	case OPT_RELAY_QUOTA:
		rc = size("--relay-quota", arg, 0, &d);
		g->relay_quota = (uint64_t)d;
		break;
	case OPT_GLOBAL_RELAY_RATE:
		rc = size("--global-relay-rate", arg, 10 * RV_MAX_PACKET, &d);
		g->global_relay_rate = d;
		break;
	case OPT_MAX_PACKET:
		rc = number("--max-packet", arg, RV_FIRST_LEN, RV_MAX_PACKET, &n);
		g->max_packet = n;
		break;
	default:
		return 1;
	}
	return rc;
}

int
serve_cli(int argc, char **argv)
{
	struct serve_opts o = { 0 };
	int c;

	server_cfg_defaults(&o.cfg);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":l:vqhV", longopts, NULL)) != -1) {
		int rc = limit_option(&o, c, optarg);

		if (rc < 0)
			return EXIT_USAGE;
		if (rc == 0)
			continue;
		switch (c) {
		case 'l':
			if (o.nlisten == SERVE_MAX_LISTEN)
				return cli_usage_error("punchcat serve", "at most %d --listen addresses",
				    SERVE_MAX_LISTEN);
			o.listen[o.nlisten++] = optarg;
			break;
		case OPT_NO_RELAY: o.no_relay = true; break;
		case OPT_USER: o.user = optarg; break;
		case OPT_ALLOW_ROOT: o.allow_root = true; break;
		case 'v': o.verbose++; break;
		case 'q': o.quiet = true; break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		case 'V': printf("punchcat %s\n", PUNCHCAT_VERSION); return EXIT_OK;
		default: return cli_bad_option("punchcat serve", c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error("punchcat serve", "unexpected argument '%s'", argv[optind]);
	if (o.cfg.relay_burst < (double)o.cfg.max_packet)
		return cli_usage_error("punchcat serve", "--relay-burst must be at least "
		    "--max-packet (%zu bytes)", o.cfg.max_packet);
	o.cfg.no_relay = o.no_relay;
	log_level = o.quiet ? -1 : o.verbose;
	return serve_run(&o);
}
