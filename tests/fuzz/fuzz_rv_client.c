/*
 * Fuzzes the peer's rendezvous client: it joins a real in-memory server, then gets arbitrary
 * datagrams (as rendezvous input, relay envelopes, timer steps and API calls chosen by the
 * input). Crashes, sanitizer reports or an oversized output are failures.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/rv_harness.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct world W;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct server_cfg cfg;
	struct node *a, *b;
	struct rv_event ev;
	size_t off = 0;

	log_level = -2;
	server_cfg_defaults(&cfg);
	cfg.max_rooms = 8;
	cfg.nameplate_max = 64;	/* small table: a server costs microseconds to build */
	if (w_init(&W, &cfg) != 0)
		abort();
	a = w_node(&W, 0, 5, false);
	b = w_node(&W, 1, 5, false);
	w_run(&W, 20 * US_PER_MS, US_PER_MS);
	while (off + 3 <= size) {
		uint8_t sel = data[off], buf[RV_MAX_PACKET + 8];
		size_t len = ((size_t)data[off + 1] << 8 | data[off + 2]) % (RV_MAX_PACKET + 8);
		struct node *n = (sel & 1) ? b : a;
		const uint8_t *pkt;
		size_t plen;

		off += 3;
		if (len > size - off)
			len = size - off;
		memcpy(buf, data + off, len);
		off += len;
		switch ((sel >> 1) & 7) {
		case 0:
		case 1:
			rv_client_input(&n->c, W.now, (sel >> 4) & 1, buf, len);
			break;
		case 2:
			if (rv_client_relay_unwrap(&n->c, buf, len, &pkt, &plen) &&
			    (pkt != buf + RV_RELAY_HDR_LEN || plen + RV_RELAY_HDR_LEN != len))
				abort();
			break;
		case 3:
			rv_client_send_peer_message(&n->c, W.now, buf, len);
			break;
		case 4:
			rv_client_ready(&n->c, W.now);
			break;
		case 5:
			if (sel & 0x80)
				rv_client_report_pake_failure(&n->c, W.now);
			else
				rv_client_leave(&n->c, W.now);
			break;
		default:
			W.now += (uint64_t)len * 10 * US_PER_MS;
			break;
		}
		w_pump(&W);
		while (rv_client_next_event(&n->c, &ev))
			if (ev.kind == RV_EV_PEER_MESSAGE && ev.msg_len > RV_PEER_MSG_MAX)
				abort();
	}
	server_free(&W.s);
	return 0;
}
