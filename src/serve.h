/* The rendezvous and relay server: `punchcat serve [OPTIONS]`. */
#ifndef PUNCHCAT_SERVE_H
#define PUNCHCAT_SERVE_H

#include <stdbool.h>

#include "server_core.h"

#define SERVE_MAX_LISTEN 16

struct serve_opts {
	const char *listen[SERVE_MAX_LISTEN];
	int nlisten;
	bool no_relay;
	int verbose;
	bool quiet;
	const char *user;
	bool allow_root;
	struct server_cfg cfg;		/* limits (defaults from server_cfg_defaults) */
};

/* Parses argv (argv[0] is "serve") and runs the server; returns the exit status. */
int serve_cli(int argc, char **argv);
int serve_run(struct serve_opts *o);

/*
 * Parses a byte count or rate with an optional decimal suffix K, M, G or T ("12.5M" =
 * 12 500 000). Returns false for anything else, or below min.
 */
bool serve_parse_size(const char *s, double min, double *out);

#endif
