/* For the fuzzers that drive the traversal core: polls it dry and checks what it sends. */
#ifndef PUNCHCAT_FUZZ_TRAV_H
#define PUNCHCAT_FUZZ_TRAV_H

#include <stdlib.h>

#include "traversal.h"

static inline void
fuzz_trav_drain(struct trav *t, uint64_t now)
{
	struct trav_out o;

	for (int i = 0; i < 4096 && trav_poll(t, now, &o); i++)
		if (o.len != TRAV_PROBE_LEN || o.sock >= TRAV_MAX_SOCKS || o.to.family == 0)
			abort();
	if (trav_deadline(t) < now && trav_poll(t, now, &o))
		abort();	/* a past deadline with nothing left to do would spin the shell */
}

#endif
