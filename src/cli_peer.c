/* Option parsing of the peer, and where its code comes from (argv, PUNCHCAT_CODE, a file). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"
#include "code.h"
#include "defaults.h"
#include "exitcode.h"
#include "log.h"
#include "peer.h"

#define CODE_MAX 256

static const char usage[] =
    "usage: punchcat [OPTIONS] [CODE]\n"
    "       punchcat serve [OPTIONS]\n"
    "\n"
    "Pipe stdin to a peer and the peer's data to stdout, end-to-end encrypted, through NATs.\n"
    "Without CODE, get a code and print it; with CODE, join the peer that has it.\n"
    "\n"
    "  -s, --server HOST[:PORT]  rendezvous server (else $PUNCHCAT_SERVER; port 7430)\n"
    "  -v, --verbose             report path changes and a summary (repeat for more)\n"
    "  -q, --quiet               print errors only\n"
    "  -P, --progress            show a progress bar on stderr\n"
    "  -w, --wait SECONDS        give up waiting for the peer after SECONDS (600)\n"
    "      --no-relay            direct path only; exit 6 if punching fails\n"
    "      --force-relay         never go direct\n"
    "  -4, -6                    IPv4 or IPv6 only\n"
    "  -p, --port PORT           local UDP port (default: any)\n"
    "      --code-file FILE      read the code from FILE (or set $PUNCHCAT_CODE)\n"
    "      --words N             password words in a generated code (3..8, default 3)\n"
    "  -h, --help                this help\n"
    "  -V, --version             print the version\n"
    "\n"
    "Exit status: 0 all data delivered, 1 error, 2 usage, 3 wrong code, 4 no peer,\n"
    "5 connection lost, 6 no direct path. See punchcat(1).\n";

enum { OPT_NO_RELAY = 256, OPT_FORCE_RELAY, OPT_CODE_FILE, OPT_WORDS };

static const struct option longopts[] = {
	{ "server", required_argument, NULL, 's' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "progress", no_argument, NULL, 'P' },
	{ "wait", required_argument, NULL, 'w' },
	{ "no-relay", no_argument, NULL, OPT_NO_RELAY },
	{ "force-relay", no_argument, NULL, OPT_FORCE_RELAY },
	{ "port", required_argument, NULL, 'p' },
	{ "code-file", required_argument, NULL, OPT_CODE_FILE },
	{ "words", required_argument, NULL, OPT_WORDS },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* Copies a code into a fresh heap buffer and wipes the source. */
static char *
take_code(char *src)
{
	size_t n = strnlen(src, CODE_MAX + 1);
	char *c;

	if (n > CODE_MAX)
		return NULL;
	c = malloc(n + 1);
	if (c == NULL)
		return NULL;
	memcpy(c, src, n + 1);
	sodium_memzero(src, n);
	return c;
}

/* Reads the first line of FILE as the code. */
static int
read_code_file(const char *path, char **code)
{
	char buf[CODE_MAX + 2];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL) {
		log_err("cannot read code file %s: %s", path, strerror(errno));
		return EXIT_USAGE;
	}
	if (fgets(buf, sizeof buf, f) == NULL)
		buf[0] = '\0';
	fclose(f);
	n = strcspn(buf, "\r\n");
	if (n > CODE_MAX) {
		sodium_memzero(buf, sizeof buf);
		log_err("code file %s: the code is longer than %d characters", path, CODE_MAX);
		return EXIT_USAGE;
	}
	buf[n] = '\0';
	if (n == 0) {
		log_err("code file %s is empty", path);
		return EXIT_USAGE;
	}
	*code = take_code(buf);
	sodium_memzero(buf, sizeof buf);
	return *code ? 0 : EXIT_ERROR;
}

static int
finish(struct peer_opts *o, int argc, char **argv, const char *code_file)
{
	char *env_code = getenv("PUNCHCAT_CODE");
	int rc;

	if (o->no_relay && o->force_relay)
		return cli_usage_error("punchcat", "--no-relay and --force-relay exclude each other");
	if (optind < argc - 1)
		return cli_usage_error("punchcat", "unexpected argument '%s' (one CODE at most)",
		    argv[optind + 1]);
	if (optind == argc - 1) {
		if (code_file != NULL)
			return cli_usage_error("punchcat", "give the code once: as CODE or --code-file");
		o->code = take_code(argv[optind]);
		if (o->code == NULL)
			return cli_usage_error("punchcat", "the code is too long");
	} else if (code_file != NULL) {
		if ((rc = read_code_file(code_file, &o->code)) != 0)
			return rc;
	} else if (env_code != NULL && *env_code != '\0') {
		/* Wiped in place, so /proc/PID/environ no longer shows it either. */
		o->code = take_code(env_code);
		if (o->code == NULL)
			return cli_usage_error("punchcat", "PUNCHCAT_CODE is too long");
	}
	if (o->code != NULL) {
		struct code parsed;
		const char *why = code_parse(&parsed, o->code);

		code_wipe(&parsed);
		if (why != NULL) {
			log_err("malformed code: %s", why);
			return EXIT_USAGE;
		}
	}
	if (o->server == NULL)
		o->server = getenv("PUNCHCAT_SERVER");
	if (o->server == NULL || *o->server == '\0') {
		log_err("no rendezvous server: use --server HOST[:PORT] or set PUNCHCAT_SERVER "
		    "(run your own with 'punchcat serve')");
		return EXIT_USAGE;
	}
	return 0;
}

int
peer_cli(int argc, char **argv)
{
	struct peer_opts o = { .wait_s = PUNCHCAT_WAIT_S, .words = PUNCHCAT_WORDS };
	const char *code_file = NULL;
	unsigned long v;
	int c, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:vqPw:p:46hV", longopts, NULL)) != -1) {
		switch (c) {
		case 's': o.server = optarg; break;
		case 'v': o.verbose++; break;
		case 'q': o.quiet = true; break;
		case 'P': o.progress = true; break;
		case 'w':
			if (!cli_number(optarg, 1, 604800, &v))
				return cli_usage_error("punchcat", "--wait takes seconds from 1 to 604800, "
				    "not '%s'", optarg);
			o.wait_s = (unsigned)v;
			break;
		case 'p':
			if (!cli_number(optarg, 0, 65535, &v))
				return cli_usage_error("punchcat", "--port takes a number from 0 to 65535, "
				    "not '%s'", optarg);
			o.port = (uint16_t)v;
			break;
		case '4':
		case '6':
			if (o.family != 0 && o.family != c - '0')
				return cli_usage_error("punchcat", "-4 and -6 exclude each other");
			o.family = c - '0';
			break;
		case OPT_NO_RELAY: o.no_relay = true; break;
		case OPT_FORCE_RELAY: o.force_relay = true; break;
		case OPT_CODE_FILE: code_file = optarg; break;
		case OPT_WORDS:
			if (!cli_number(optarg, PUNCHCAT_WORDS, PUNCHCAT_WORDS_MAX, &v))
				return cli_usage_error("punchcat", "--words takes a number from %d to %d",
				    PUNCHCAT_WORDS, PUNCHCAT_WORDS_MAX);
			o.words = (unsigned)v;
			break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		case 'V': printf("punchcat %s\n", PUNCHCAT_VERSION); return EXIT_OK;
		default: return cli_bad_option("punchcat", c, argv);
		}
	}
	if (o.quiet)
		log_level = -1;
	else
		log_level = o.verbose;
	if ((rc = finish(&o, argc, argv, code_file)) != 0) {
		if (o.code != NULL)
			sodium_memzero(o.code, strlen(o.code));
		free(o.code);
		return rc;
	}
	rc = peer_run(&o);
	if (o.code != NULL) {
		sodium_memzero(o.code, strlen(o.code));
		free(o.code);
	}
	return rc;
}
