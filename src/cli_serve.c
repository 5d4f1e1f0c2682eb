/* Option parsing of `punchcat serve`. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "exitcode.h"
#include "log.h"
#include "serve.h"

static const char usage[] =
    "usage: punchcat serve [OPTIONS]\n"
    "\n"
    "Run a rendezvous and relay server for punchcat peers on UDP port 7430 (and 7431 for\n"
    "NAT mapping discovery). The relay forwards end-to-end encrypted packets it cannot read.\n"
    "\n"
    "  -l, --listen ADDR:PORT    listen here (repeatable; default all addresses, port 7430)\n"
    "      --no-relay            rendezvous only, never relay data\n"
    "      --user USER           drop root privileges to USER after binding\n"
    "  -v, --verbose             log more events (repeat for more)\n"
    "  -q, --quiet               log errors only\n"
    "  -h, --help                this help\n";

enum { OPT_NO_RELAY = 256, OPT_USER };

static const struct option longopts[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "no-relay", no_argument, NULL, OPT_NO_RELAY },
	{ "user", required_argument, NULL, OPT_USER },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

int
serve_cli(int argc, char **argv)
{
	struct serve_opts o = { 0 };
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":l:vqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (o.nlisten == SERVE_MAX_LISTEN)
				return cli_usage_error("punchcat serve", "at most %d --listen addresses",
				    SERVE_MAX_LISTEN);
			o.listen[o.nlisten++] = optarg;
			break;
		case OPT_NO_RELAY: o.no_relay = true; break;
		case OPT_USER: o.user = optarg; break;
		case 'v': o.verbose++; break;
		case 'q': o.quiet = true; break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		case 'V': printf("punchcat %s\n", PUNCHCAT_VERSION); return EXIT_OK;
		default: return cli_bad_option("punchcat serve", c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error("punchcat serve", "unexpected argument '%s'", argv[optind]);
	log_level = o.quiet ? -1 : o.verbose;
	return serve_run(&o);
}
