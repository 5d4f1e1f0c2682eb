/*
 * CPace (draft-irtf-cfrg-cpace-21), suite CPACE-RISTR255-SHA512, initiator-responder setting.
 *
 * Both parties call cpace_start with the same PRS (password), CI (channel identifier) and sid
 * (session id), send their share Y with their associated data AD, and call cpace_finish with
 * the peer's share and AD to get the 64-byte intermediate session key ISK. Party A (the
 * initiator) and party B (the responder) get the same ISK only when PRS, CI, sid and both
 * (Y, AD) pairs match; an invalid share or the identity makes cpace_finish fail.
 * K is never exposed (draft section 10.3).
 */
#ifndef PUNCHCAT_CPACE_H
#define PUNCHCAT_CPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPACE_SHARE_LEN 32
#define CPACE_SCALAR_LEN 32
#define CPACE_ISK_LEN 64
#define CPACE_SID_MAX 64
#define CPACE_AD_MAX 64

struct cpace {
	uint8_t y[CPACE_SCALAR_LEN];		/* secret scalar */
	uint8_t share[CPACE_SHARE_LEN];		/* our Y */
	uint8_t sid[CPACE_SID_MAX];
	size_t sid_len;
	bool initiator;
	bool started;
};

/* The encoded generator g = element_derivation(SHA-512(generator_string(...))).
 * Returns -1 on bad lengths. */
int cpace_generator(uint8_t g[CPACE_SHARE_LEN], const uint8_t *prs, size_t prs_len,
    const uint8_t *ci, size_t ci_len, const uint8_t *sid, size_t sid_len);
/* Samples a scalar and computes our share (then in c->share). Returns -1 on failure. */
int cpace_start(struct cpace *c, bool initiator, const uint8_t *prs, size_t prs_len,
    const uint8_t *ci, size_t ci_len, const uint8_t *sid, size_t sid_len);
/* Tests only: as cpace_start with a given scalar (the draft's test vectors). */
int cpace_start_with_scalar(struct cpace *c, bool initiator, const uint8_t *prs,
    size_t prs_len, const uint8_t *ci, size_t ci_len, const uint8_t *sid, size_t sid_len,
    const uint8_t y[CPACE_SCALAR_LEN]);
/* ISK from the peer's share. Returns -1 (and writes nothing) when the share does not decode
 * or K is the identity: the caller must abort. Wipes the scalar either way. */
int cpace_finish(struct cpace *c, const uint8_t *own_ad, size_t own_ad_len,
    const uint8_t peer_share[CPACE_SHARE_LEN], const uint8_t *peer_ad, size_t peer_ad_len,
    uint8_t isk[CPACE_ISK_LEN]);
void cpace_wipe(struct cpace *c);

#endif
