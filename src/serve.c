/* The server's libevent shell. Not built yet: see issue #5. */
#include "exitcode.h"
#include "log.h"
#include "serve.h"

int
serve_run(struct serve_opts *o)
{
	(void)o;
	log_err("the server is not implemented yet in this build");
	return EXIT_ERROR;
}
