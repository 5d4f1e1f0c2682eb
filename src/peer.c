/* The peer's libevent shell. Not built yet: see issue #6. */
#include "exitcode.h"
#include "log.h"
#include "peer.h"

int
peer_run(struct peer_opts *o)
{
	(void)o;
	log_err("the peer is not implemented yet in this build");
	return EXIT_ERROR;
}
