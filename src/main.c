/* punchcat: peer-to-peer netcat. `punchcat serve` runs the rendezvous; anything else is a peer. */
#include <signal.h>
#include <string.h>

#include "peer.h"
#include "serve.h"

int
main(int argc, char **argv)
{
	/* A closed stdout or socket is an error we report, not a reason to die silently. */
	signal(SIGPIPE, SIG_IGN);
	if (argc > 1 && strcmp(argv[1], "serve") == 0)
		return serve_cli(argc - 1, argv + 1);
	return peer_cli(argc, argv);
}
