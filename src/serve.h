/* The rendezvous and relay server: `punchcat serve [OPTIONS]`. */
#ifndef PUNCHCAT_SERVE_H
#define PUNCHCAT_SERVE_H

#include <stdbool.h>

#define SERVE_MAX_LISTEN 16

struct serve_opts {
	const char *listen[SERVE_MAX_LISTEN];
	int nlisten;
	bool no_relay;
	int verbose;
	bool quiet;
	const char *user;
};

/* Parses argv (argv[0] is "serve") and runs the server; returns the exit status. */
int serve_cli(int argc, char **argv);
int serve_run(struct serve_opts *o);

#endif
