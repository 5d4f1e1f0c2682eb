/*
 * Crypto benchmark (make bench-sim): seal+open throughput of 1200-byte peer packets against
 * raw crypto_aead_chacha20poly1305_ietf_encrypt/decrypt of the same sizes in the same run
 * (median of 7 interleaved runs), and the cost of a CPace exchange and of a full handshake
 * (both sides). Prints figures; it fails only if something does not verify.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "handshake.h"
#include "packet.h"

#define DGRAM 1200
#define PAYLOAD (DGRAM - PKT_OVERHEAD)
#define PACKETS 40000
#define RUNS 7
#define CHUNK 2000

static double
seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return v[n / 2];
}

/* Raw AEAD: encrypt then decrypt `count` payloads with a 13-byte header as AD. Seconds. */
static double
run_raw(uint64_t count)
{
	static uint8_t m[PAYLOAD], c[PAYLOAD + 16], ad[PKT_HDR_LEN];
	uint8_t key[32] = { 1 }, nonce[12] = { 0 };
	unsigned long long clen, mlen;
	double t0 = seconds();

	for (uint64_t i = 0; i < count; i++) {
		memcpy(nonce + 4, &i, 8);
		crypto_aead_chacha20poly1305_ietf_encrypt(c, &clen, m, PAYLOAD, ad, sizeof ad, NULL,
		    nonce, key);
		if (crypto_aead_chacha20poly1305_ietf_decrypt(m, &mlen, NULL, c, clen, ad,
		    sizeof ad, nonce, key) != 0) {
			fprintf(stderr, "bench_crypto: raw decrypt failed\n");
			exit(1);
		}
	}
	return seconds() - t0;
}

/* pkt_seal + pkt_open of `count` datagrams of DGRAM bytes between a and b. Seconds. */
static double
run_pkt(struct pkt_ctx *a, struct pkt_ctx *b, uint64_t *next_pn, uint64_t count)
{
	static uint8_t buf[DGRAM];
	uint64_t pn;
	double t0 = seconds();

	for (uint64_t i = 0; i < count; i++, (*next_pn)++) {
		if (pkt_seal(a, 0, *next_pn, buf, PAYLOAD) != DGRAM ||
		    pkt_open(b, 0, buf, DGRAM, &pn) != PAYLOAD) {
			fprintf(stderr, "bench_crypto: packet did not verify\n");
			exit(1);
		}
	}
	return seconds() - t0;
}

static double
rate(double secs)
{
	return secs > 0 ? (double)PACKETS * DGRAM / secs / 1e6 : 0;
}

static double
cpace_us(int iters)
{
	static const uint8_t sid[16] = { 1 }, ci[4] = "ci";
	uint8_t ia[CPACE_ISK_LEN], ib[CPACE_ISK_LEN];
	struct cpace a, b;
	double t0 = seconds();

	for (int i = 0; i < iters; i++) {
		if (cpace_start(&a, true, (const uint8_t *)"pw", 2, ci, 2, sid, 16) != 0 ||
		    cpace_start(&b, false, (const uint8_t *)"pw", 2, ci, 2, sid, 16) != 0 ||
		    cpace_finish(&a, NULL, 0, b.share, NULL, 0, ia) != 0 ||
		    cpace_finish(&b, NULL, 0, a.share, NULL, 0, ib) != 0 ||
		    memcmp(ia, ib, sizeof ia) != 0) {
			fprintf(stderr, "bench_crypto: CPace disagreed\n");
			exit(1);
		}
	}
	return (seconds() - t0) / iters * 1e6;
}

static double
handshake_us(int iters)
{
	struct hs_params p = { .initiator = true, .password = "orbit-canvas-tulip",
		.password_len = 18, .nameplate = 7 }, q = p;
	struct handshake a, b;
	uint8_t m[HS_MSG_MAX];
	size_t n;
	double t0 = seconds();

	q.initiator = false;
	for (int i = 0; i < iters; i++) {
		if (hs_init(&a, &p) != 0 || hs_init(&b, &q) != 0)
			exit(1);
		for (int round = 0; round < 3; round++) {
			while ((n = hs_build(&a, m, sizeof m)) > 0)
				hs_receive(&b, m, n);
			while ((n = hs_build(&b, m, sizeof m)) > 0)
				hs_receive(&a, m, n);
		}
		if (hs_state(&a) != HS_DONE || hs_state(&b) != HS_DONE) {
			fprintf(stderr, "bench_crypto: handshake failed\n");
			exit(1);
		}
		hs_free(&a);
		hs_free(&b);
	}
	return (seconds() - t0) / iters * 1e6;
}

int
main(void)
{
	static struct pkt_ctx ca, cb, aa, ab;
	double raw[RUNS], pkt[RUNS], aes[RUNS], cp[RUNS], hs[RUNS];
	uint8_t k1[32] = { 1 }, k2[32] = { 2 };
	uint64_t pn = 0, apn = 0;
	bool have_aes;

	if (sodium_init() < 0)
		return 1;
	have_aes = pkt_aes_available();
	if (pkt_init_raw(&ca, PKT_CHACHA20POLY1305, k1, k2, 7, 9, 0) != 0 ||
	    pkt_init_raw(&cb, PKT_CHACHA20POLY1305, k2, k1, 9, 7, 0) != 0 ||
	    (have_aes && (pkt_init_raw(&aa, PKT_AES256GCM, k1, k2, 7, 9, 0) != 0 ||
	    pkt_init_raw(&ab, PKT_AES256GCM, k2, k1, 9, 7, 0) != 0)))
		return 1;
	run_raw(CHUNK);			/* warm up */
	run_pkt(&ca, &cb, &pn, CHUNK);
	for (int r = 0; r < RUNS; r++) {
		double traw = 0, tpkt = 0, taes = 0;

		/* Small alternating chunks, so load from other processes hits both alike. */
		for (int k = 0; k < PACKETS / CHUNK; k++) {
			traw += run_raw(CHUNK);
			tpkt += run_pkt(&ca, &cb, &pn, CHUNK);
			if (have_aes)
				taes += run_pkt(&aa, &ab, &apn, CHUNK);
		}
		raw[r] = rate(traw);
		pkt[r] = rate(tpkt);
		aes[r] = rate(taes);
		cp[r] = cpace_us(50);
		hs[r] = handshake_us(50);
	}
	printf("bench_crypto: %d-byte datagrams (%d-byte payload), %d per run, median of %d runs\n",
	    DGRAM, PAYLOAD, PACKETS, RUNS);
	printf("  raw chacha20poly1305-ietf encrypt+decrypt  %8.1f MB/s\n", median(raw, RUNS));
	printf("  pkt_seal+pkt_open chacha20poly1305         %8.1f MB/s (%.1f %% of raw)\n",
	    median(pkt, RUNS), 100 * median(pkt, RUNS) / median(raw, RUNS));
	if (have_aes)
		printf("  pkt_seal+pkt_open aes256gcm                %8.1f MB/s\n",
		    median(aes, RUNS));
	else
		printf("  pkt_seal+pkt_open aes256gcm                (no hardware AES here)\n");
	printf("  CPace exchange, both sides                 %8.1f us\n", median(cp, RUNS));
	printf("  full handshake incl. confirmation+keys     %8.1f us\n", median(hs, RUNS));
	pkt_free(&ca);
	pkt_free(&cb);
	if (have_aes) {
		pkt_free(&aa);
		pkt_free(&ab);
	}
	return 0;
}
