/*
 * Fuzzes the server core: the input is a sequence of datagrams (2-byte header: source and port
 * selector, length) from a few sources, one of them a member of a live room. JOINs may get a
 * valid cookie patched in, so the stateful paths are reached. Crashes, sanitizer reports, or a
 * reply that breaks the amplification bound are failures.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "server_core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct server S;
static bool ready;

static void
src_addr(struct netaddr *a, unsigned i)
{
	memset(a, 0, sizeof *a);
	a->family = (i & 4) ? 6 : 4;
	a->ip[0] = 10;
	a->ip[3] = (uint8_t)(i & 3);
	a->port = (uint16_t)(1000 + (i & 3));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct server_cfg cfg;
	uint64_t now = 1000 * US_PER_S;
	size_t off = 0;

	if (!ready) {
		log_level = -2;
		ready = true;
	}
	server_cfg_defaults(&cfg);
	cfg.max_rooms = 64;
	cfg.nameplate_max = 256;	/* small table: a server costs microseconds to build */
	cfg.relay_burst = 4000;
	if (server_init(&S, &cfg, now) != 0)
		abort();
	while (off + 3 <= size) {
		uint8_t sel = data[off], buf[RV_MAX_PACKET + 8];
		size_t len = ((size_t)data[off + 1] << 8 | data[off + 2]) % (RV_MAX_PACKET + 8);
		struct netaddr from, to;
		const uint8_t *out;
		unsigned pi = sel >> 7, opi;
		size_t n;

		off += 3;
		if (len > size - off)
			len = size - off;
		memcpy(buf, data + off, len);
		off += len;
		src_addr(&from, sel & 7);
		if ((sel & 0x08) && len >= 2 + 1 + 4 + 8 + RV_COOKIE_LEN && buf[0] == RV_JOIN)
			server_make_cookie(&S, now, &from, buf + 2 + 1 + 4 + 8);
		now += (uint64_t)(sel & 0x70) * 10 * US_PER_S;
		if (sel & 0x40)
			server_on_timeout(&S, now);
		n = server_input(&S, now, pi, &from, buf, len, &out, &to, &opi);
		if (n > RV_MAX_PACKET || (n > 0 && netaddr_eq(&to, &from) && out[0] != RV_JOINED &&
		    out[0] != RV_GO && out[0] != RV_ERROR && out[0] != RV_RELAY_FWD && n > len))
			abort();	/* only replies to proved addresses may exceed the request */
		while ((n = server_output(&S, now, buf, sizeof buf, &to, &opi)) > 0)
			if (n > RV_MAX_PACKET)
				abort();
	}
	server_shutdown(&S, now);
	{
		uint8_t buf[RV_MAX_PACKET];
		struct netaddr to;
		unsigned opi;

		while (server_output(&S, now, buf, sizeof buf, &to, &opi) > 0)
			;
	}
	if (!server_shutdown_done(&S) || S.ctr.drop_amplification != 0)
		abort();
	server_free(&S);
	return 0;
}
