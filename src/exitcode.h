/* Exit statuses of the peer (documented in punchcat(1) and ../shared/CLI-CONTRACT.md). */
#ifndef PUNCHCAT_EXITCODE_H
#define PUNCHCAT_EXITCODE_H

enum exit_status {
	EXIT_OK = 0,		/* every byte both ways delivered and acknowledged */
	EXIT_ERROR = 1,		/* network, system or internal error */
	EXIT_USAGE = 2,		/* bad option or malformed code */
	EXIT_AUTH = 3,		/* authentication failed (wrong code) */
	EXIT_NOPEER = 4,	/* peer did not arrive / nameplate unknown or taken */
	EXIT_LOST = 5,		/* connection lost before all data was delivered */
	EXIT_NODIRECT = 6,	/* no direct path and relay not allowed */
	EXIT_SIGNAL_BASE = 128	/* 128+N: killed by signal N */
};

#endif
