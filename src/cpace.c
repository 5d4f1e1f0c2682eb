/*
 * CPace over ristretto255 with SHA-512 (draft-irtf-cfrg-cpace-21, sections 7, 8.1, 8.3 and
 * appendix A). Strings are hashed piecewise with the LEB128 length prefixes of lv_cat, so no
 * buffer ever holds the whole generator string (which contains the password).
 */
#include "cpace.h"

#include <string.h>

#include <sodium.h>

#define SHA512_BLOCK 128
static const char dsi[] = "CPaceRistretto255";
static const char dsi_isk[] = "CPaceRistretto255_ISK";

/* LEB128 of n into out (at most 10 bytes); returns the byte count. */
static size_t
leb128(uint8_t out[10], size_t n)
{
	size_t i = 0;

	do {
		out[i] = (uint8_t)(n & 0x7f);
		n >>= 7;
		if (n != 0)
			out[i] |= 0x80;
		i++;
	} while (n != 0);
	return i;
}

/* Hashes prepend_len(data). */
static void
lv_update(crypto_hash_sha512_state *st, const void *data, size_t len)
{
	uint8_t l[10];

	crypto_hash_sha512_update(st, l, leb128(l, len));
	if (len > 0)
		crypto_hash_sha512_update(st, data, len);
}

int
cpace_generator(uint8_t g[CPACE_SHARE_LEN], const uint8_t *prs, size_t prs_len,
    const uint8_t *ci, size_t ci_len, const uint8_t *sid, size_t sid_len)
{
	static const uint8_t zeros[SHA512_BLOCK];
	crypto_hash_sha512_state st;
	uint8_t h[crypto_hash_sha512_BYTES], l[10];
	size_t used, zpad;

	if (sodium_init() < 0)
		return -1;
	/* len_zpad = max(0, s_in_bytes - 1 - len(prepend_len(PRS)) - len(prepend_len(DSI))) */
	used = 1 + leb128(l, prs_len) + prs_len + leb128(l, sizeof dsi - 1) + sizeof dsi - 1;
	zpad = used < SHA512_BLOCK ? SHA512_BLOCK - used : 0;
	crypto_hash_sha512_init(&st);
	lv_update(&st, dsi, sizeof dsi - 1);
	lv_update(&st, prs, prs_len);
	lv_update(&st, zeros, zpad);
	lv_update(&st, ci, ci_len);
	lv_update(&st, sid, sid_len);
	crypto_hash_sha512_final(&st, h);
	crypto_core_ristretto255_from_hash(g, h);
	sodium_memzero(&st, sizeof st);
	sodium_memzero(h, sizeof h);
	return 0;
}

static int
start(struct cpace *c, bool initiator, const uint8_t *prs, size_t prs_len, const uint8_t *ci,
    size_t ci_len, const uint8_t *sid, size_t sid_len, const uint8_t *y)
{
	uint8_t g[CPACE_SHARE_LEN];
	int rc;

	memset(c, 0, sizeof *c);
	if (sid_len > CPACE_SID_MAX || cpace_generator(g, prs, prs_len, ci, ci_len, sid,
	    sid_len) != 0)
		return -1;
	if (y != NULL)
		memcpy(c->y, y, CPACE_SCALAR_LEN);
	else
		crypto_core_ristretto255_scalar_random(c->y);
	rc = crypto_scalarmult_ristretto255(c->share, c->y, g);
	sodium_memzero(g, sizeof g);
	if (rc != 0) {
		cpace_wipe(c);
		return -1;
	}
	memcpy(c->sid, sid, sid_len);
	c->sid_len = sid_len;
	c->initiator = initiator;
	c->started = true;
	return 0;
}

int
cpace_start(struct cpace *c, bool initiator, const uint8_t *prs, size_t prs_len,
    const uint8_t *ci, size_t ci_len, const uint8_t *sid, size_t sid_len)
{
	return start(c, initiator, prs, prs_len, ci, ci_len, sid, sid_len, NULL);
}

int
cpace_start_with_scalar(struct cpace *c, bool initiator, const uint8_t *prs, size_t prs_len,
    const uint8_t *ci, size_t ci_len, const uint8_t *sid, size_t sid_len,
    const uint8_t y[CPACE_SCALAR_LEN])
{
	return start(c, initiator, prs, prs_len, ci, ci_len, sid, sid_len, y);
}

int
cpace_finish(struct cpace *c, const uint8_t *own_ad, size_t own_ad_len,
    const uint8_t peer_share[CPACE_SHARE_LEN], const uint8_t *peer_ad, size_t peer_ad_len,
    uint8_t isk[CPACE_ISK_LEN])
{
	crypto_hash_sha512_state st;
	uint8_t k[CPACE_SHARE_LEN];
	int rc;

	if (!c->started)
		return -1;
	/* scalar_mult_vfy: fails on a non-canonical or invalid encoding and on the identity. */
	rc = crypto_scalarmult_ristretto255(k, c->y, peer_share);
	sodium_memzero(c->y, sizeof c->y);
	c->started = false;
	if (rc != 0) {
		sodium_memzero(k, sizeof k);
		return -1;
	}
	/* ISK = H(lv_cat(DSI_ISK, sid, K) || lv_cat(Ya, ADa) || lv_cat(Yb, ADb)) */
	crypto_hash_sha512_init(&st);
	lv_update(&st, dsi_isk, sizeof dsi_isk - 1);
	lv_update(&st, c->sid, c->sid_len);
	lv_update(&st, k, sizeof k);
	if (c->initiator) {
		lv_update(&st, c->share, CPACE_SHARE_LEN);
		lv_update(&st, own_ad, own_ad_len);
		lv_update(&st, peer_share, CPACE_SHARE_LEN);
		lv_update(&st, peer_ad, peer_ad_len);
	} else {
		lv_update(&st, peer_share, CPACE_SHARE_LEN);
		lv_update(&st, peer_ad, peer_ad_len);
		lv_update(&st, c->share, CPACE_SHARE_LEN);
		lv_update(&st, own_ad, own_ad_len);
	}
	crypto_hash_sha512_final(&st, isk);
	sodium_memzero(&st, sizeof st);
	sodium_memzero(k, sizeof k);
	return 0;
}

void
cpace_wipe(struct cpace *c)
{
	sodium_memzero(c, sizeof *c);
}
