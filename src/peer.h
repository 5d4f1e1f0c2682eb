/* The peer: `punchcat [OPTIONS] [CODE]`. */
#ifndef PUNCHCAT_PEER_H
#define PUNCHCAT_PEER_H

#include <stdbool.h>
#include <stdint.h>

struct peer_opts {
	char *code;		/* NULL: ask the server for a nameplate; heap copy, wiped on exit */
	const char *server;	/* HOST[:PORT] */
	int verbose;		/* -v count */
	bool quiet;
	bool progress;
	unsigned wait_s;
	bool no_relay;
	bool force_relay;
	int family;		/* 0 any, 4 or 6 */
	uint16_t port;		/* local UDP port, 0 = any */
	unsigned words;		/* password words to generate */
};

/* Parses argv and runs the peer; returns the exit status. */
int peer_cli(int argc, char **argv);
int peer_run(struct peer_opts *o);

#endif
