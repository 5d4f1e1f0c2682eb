/*
 * The peers' handshake: CPace shares carrying each side's capabilities and receive connection
 * id as associated data, key confirmation both ways (draft-irtf-cfrg-cpace-21 section 10.4),
 * then a key schedule from ISK.
 */
#include "handshake.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "wire.h"

/* crypto_kdf context and subkey ids of the key schedule. */
static const char kdf_ctx[crypto_kdf_CONTEXTBYTES + 1] = "punchcat";
enum { KDF_I2R = 1, KDF_R2I = 2, KDF_MAILBOX = 3, KDF_PROBE = 4, KDF_VERIFIER = 5 };

static enum hs_state
fail(struct handshake *h, const char *why)
{
	if (h->state != HS_FAIL) {
		h->state = HS_FAIL;
		h->error = why;
	}
	/* Keys derived from a failed run are useless: drop them (the confirmation stays). */
	sodium_memzero(h->key_i2r, sizeof h->key_i2r);
	sodium_memzero(h->key_r2i, sizeof h->key_r2i);
	sodium_memzero(h->mailbox_key, sizeof h->mailbox_key);
	sodium_memzero(h->probe_key, sizeof h->probe_key);
	cpace_wipe(&h->cpace);
	return h->state;
}

/* CI = lv_cat("punchcat", version, decimal nameplate) */
static size_t
make_ci(uint8_t *ci, size_t cap, uint32_t nameplate)
{
	char np[16];
	int n = snprintf(np, sizeof np, "%u", (unsigned)nameplate);
	struct wr w;

	wr_init(&w, ci, cap);
	wr_u8(&w, 8);
	wr_bytes(&w, "punchcat", 8);
	wr_u8(&w, 1);
	wr_u8(&w, HS_VERSION);
	wr_u8(&w, (uint8_t)n);
	wr_bytes(&w, np, (size_t)n);
	return wr_ok(&w) ? wr_len(&w) : 0;
}

int
hs_init(struct handshake *h, const struct hs_params *p)
{
	uint8_t ci[32];
	size_t ci_len;
	int rc;

	if (sodium_init() < 0)
		return -1;
	memset(h, 0, sizeof *h);
	h->locked = sodium_mlock(h, sizeof *h) == 0;
	h->initiator = p->initiator;
	memcpy(h->sid, p->sid, HS_SID_LEN);
	h->rx_cid = p->rx_cid;
	while (h->rx_cid == 0)
		h->rx_cid = randombytes_random();
	/* Offer AES only if this machine really has it, whatever the caller asked. */
	h->own_ad[0] = p->offer_aes && pkt_aes_available() ? HS_CAP_AES : 0;
	h->own_ad[1] = (uint8_t)(h->rx_cid >> 24);
	h->own_ad[2] = (uint8_t)(h->rx_cid >> 16);
	h->own_ad[3] = (uint8_t)(h->rx_cid >> 8);
	h->own_ad[4] = (uint8_t)h->rx_cid;
	if (p->password == NULL || p->password_len == 0 ||
	    (ci_len = make_ci(ci, sizeof ci, p->nameplate)) == 0) {
		hs_free(h);
		return -1;
	}
	if (p->test_scalar != NULL)
		rc = cpace_start_with_scalar(&h->cpace, p->initiator,
		    (const uint8_t *)p->password, p->password_len, ci, ci_len, p->sid, HS_SID_LEN,
		    p->test_scalar);
	else
		rc = cpace_start(&h->cpace, p->initiator, (const uint8_t *)p->password,
		    p->password_len, ci, ci_len, p->sid, HS_SID_LEN);
	if (rc != 0) {
		hs_free(h);
		return -1;
	}
	h->state = HS_RUNNING;
	h->share_pending = true;
	return 0;
}

size_t
hs_build(struct handshake *h, uint8_t *out, size_t cap)
{
	struct wr w;

	wr_init(&w, out, cap);
	if (h->state == HS_FAIL)
		h->share_pending = false;	/* but a confirmation still lets the peer see it */
	if (h->share_pending) {
		wr_u8(&w, HS_MSG_SHARE);
		wr_u8(&w, HS_VERSION);
		wr_bytes(&w, h->cpace.share, CPACE_SHARE_LEN);
		wr_bytes(&w, h->own_ad, sizeof h->own_ad);
		if (!wr_ok(&w))
			return 0;
		h->share_pending = false;
		return wr_len(&w);
	}
	if (h->confirm_pending) {
		wr_u8(&w, HS_MSG_CONFIRM);
		wr_bytes(&w, h->own_tag, HS_TAG_LEN);
		if (!wr_ok(&w))
			return 0;
		h->confirm_pending = false;
		return wr_len(&w);
	}
	return 0;
}

/* tag = HMAC-SHA-512(mac_key, lv_cat(Y, AD)) truncated to HS_TAG_LEN bytes. */
static void
confirm_tag(uint8_t tag[HS_TAG_LEN], const uint8_t mac_key[crypto_hash_sha512_BYTES],
    const uint8_t y[CPACE_SHARE_LEN], const uint8_t ad[5])
{
	crypto_auth_hmacsha512_state st;
	uint8_t full[crypto_auth_hmacsha512_BYTES], l;

	crypto_auth_hmacsha512_init(&st, mac_key, crypto_hash_sha512_BYTES);
	l = CPACE_SHARE_LEN;
	crypto_auth_hmacsha512_update(&st, &l, 1);
	crypto_auth_hmacsha512_update(&st, y, CPACE_SHARE_LEN);
	l = 5;
	crypto_auth_hmacsha512_update(&st, &l, 1);
	crypto_auth_hmacsha512_update(&st, ad, 5);
	crypto_auth_hmacsha512_final(&st, full);
	memcpy(tag, full, HS_TAG_LEN);
	sodium_memzero(&st, sizeof st);
	sodium_memzero(full, sizeof full);
}

/* Key schedule: PRK = HMAC-SHA-512(key = sid, ISK)[0..32] (an HKDF-extract with sid as salt),
 * subkeys = crypto_kdf_derive_from_key(PRK, id, "punchcat"); confirmation MAC key as in the
 * draft's section 10.4: SHA-512("CPaceMac" || sid || ISK). */
static void
derive(struct handshake *h, const uint8_t isk[CPACE_ISK_LEN])
{
	crypto_hash_sha512_state hs;
	uint8_t prk_full[crypto_auth_hmacsha512_BYTES], prk[crypto_kdf_KEYBYTES];
	uint8_t mac_key[crypto_hash_sha512_BYTES], v[crypto_kdf_BYTES_MIN];
	crypto_auth_hmacsha512_state st;
	uint64_t n = 0;

	crypto_auth_hmacsha512_init(&st, h->sid, HS_SID_LEN);
	crypto_auth_hmacsha512_update(&st, isk, CPACE_ISK_LEN);
	crypto_auth_hmacsha512_final(&st, prk_full);
	memcpy(prk, prk_full, sizeof prk);
	crypto_kdf_derive_from_key(h->key_i2r, HS_KEY_LEN, KDF_I2R, kdf_ctx, prk);
	crypto_kdf_derive_from_key(h->key_r2i, HS_KEY_LEN, KDF_R2I, kdf_ctx, prk);
	crypto_kdf_derive_from_key(h->mailbox_key, HS_KEY_LEN, KDF_MAILBOX, kdf_ctx, prk);
	crypto_kdf_derive_from_key(h->probe_key, HS_KEY_LEN, KDF_PROBE, kdf_ctx, prk);
	crypto_kdf_derive_from_key(v, sizeof v, KDF_VERIFIER, kdf_ctx, prk);
	for (size_t i = 0; i < 8; i++)
		n = n << 8 | v[i];
	n %= 100000000;
	snprintf(h->verifier, sizeof h->verifier, "%04u %04u", (unsigned)(n / 10000),
	    (unsigned)(n % 10000));

	crypto_hash_sha512_init(&hs);
	crypto_hash_sha512_update(&hs, (const uint8_t *)"CPaceMac", 8);
	crypto_hash_sha512_update(&hs, h->sid, HS_SID_LEN);
	crypto_hash_sha512_update(&hs, isk, CPACE_ISK_LEN);
	crypto_hash_sha512_final(&hs, mac_key);
	confirm_tag(h->own_tag, mac_key, h->cpace.share, h->own_ad);
	confirm_tag(h->peer_tag, mac_key, h->peer_share, h->peer_ad);

	sodium_memzero(&st, sizeof st);
	sodium_memzero(&hs, sizeof hs);
	sodium_memzero(prk_full, sizeof prk_full);
	sodium_memzero(prk, sizeof prk);
	sodium_memzero(mac_key, sizeof mac_key);
	sodium_memzero(v, sizeof v);
}

static enum hs_state
receive_share(struct handshake *h, const uint8_t *msg, size_t len)
{
	uint8_t isk[CPACE_ISK_LEN];
	struct rd r;
	int rc;

	if (h->have_peer_share)
		return fail(h, "unexpected handshake message from the peer");
	rd_init(&r, msg, len);
	rd_u8(&r);
	if (rd_u8(&r) != HS_VERSION)
		return fail(h, "the peer speaks another protocol version");
	rd_copy(&r, h->peer_share, CPACE_SHARE_LEN);
	rd_copy(&r, h->peer_ad, sizeof h->peer_ad);
	if (!rd_done(&r))
		return fail(h, "malformed handshake message from the peer");
	/* Our own share sent back to us: with it the server could also reflect our own
	 * confirmation, which would then verify (draft section 10.1.2, loopback attacks). */
	if (memcmp(h->peer_share, h->cpace.share, CPACE_SHARE_LEN) == 0)
		return fail(h, "the peer's key share is our own (reflected)");
	h->have_peer_share = true;
	h->peer_cid = (uint32_t)h->peer_ad[1] << 24 | (uint32_t)h->peer_ad[2] << 16 |
	    (uint32_t)h->peer_ad[3] << 8 | h->peer_ad[4];
	rc = cpace_finish(&h->cpace, h->own_ad, sizeof h->own_ad, h->peer_share, h->peer_ad,
	    sizeof h->peer_ad, isk);
	if (rc != 0)
		return fail(h, "invalid key share from the peer");
	derive(h, isk);
	sodium_memzero(isk, sizeof isk);
	h->cipher = (h->own_ad[0] & HS_CAP_AES) && (h->peer_ad[0] & HS_CAP_AES) ?
	    PKT_AES256GCM : PKT_CHACHA20POLY1305;
	h->confirm_pending = true;
	return h->state;
}

static enum hs_state
receive_confirm(struct handshake *h, const uint8_t *msg, size_t len)
{
	if (!h->have_peer_share || h->cpace.started)
		return fail(h, "unexpected handshake message from the peer");
	if (len != HS_CONFIRM_LEN)
		return fail(h, "malformed handshake message from the peer");
	if (crypto_verify_32(msg + 1, h->peer_tag) != 0)
		return fail(h, "authentication failed (wrong code?)");
	h->state = HS_DONE;
	return h->state;
}

enum hs_state
hs_receive(struct handshake *h, const uint8_t *msg, size_t len)
{
	if (h->state == HS_FAIL)
		return h->state;
	if (h->state == HS_DONE) {
		h->ignored++;
		return h->state;
	}
	if (len == 0)
		return fail(h, "malformed handshake message from the peer");
	switch (msg[0]) {
	case HS_MSG_SHARE: return receive_share(h, msg, len);
	case HS_MSG_CONFIRM: return receive_confirm(h, msg, len);
	default: return fail(h, "unexpected handshake message from the peer");
	}
}

enum hs_state
hs_state(const struct handshake *h)
{
	return h->state;
}

const char *
hs_error(const struct handshake *h)
{
	return h->state == HS_FAIL ? h->error : NULL;
}

const char *
hs_verifier(const struct handshake *h)
{
	return h->state == HS_DONE ? h->verifier : NULL;
}

int
hs_pkt_init(const struct handshake *h, struct pkt_ctx *c, uint64_t now)
{
	if (h->state != HS_DONE)
		return -1;
	return pkt_init_raw(c, h->cipher, h->initiator ? h->key_i2r : h->key_r2i,
	    h->initiator ? h->key_r2i : h->key_i2r, h->peer_cid, h->rx_cid, now);
}

/* Nonce = direction(1: 1 from the initiator, 2 from the responder) | 0^15 | seq(8). */
static void
mailbox_nonce(uint8_t nonce[crypto_secretbox_NONCEBYTES], bool from_initiator, uint64_t seq)
{
	memset(nonce, 0, crypto_secretbox_NONCEBYTES);
	nonce[0] = from_initiator ? 1 : 2;
	for (int i = 0; i < 8; i++)
		nonce[crypto_secretbox_NONCEBYTES - 1 - i] = (uint8_t)(seq >> (8 * i));
}

bool
hs_can_seal(const struct handshake *h)
{
	return h->state == HS_DONE || (h->state == HS_RUNNING && h->have_peer_share &&
	    !h->confirm_pending);
}

size_t
hs_mailbox_seal(struct handshake *h, const void *msg, size_t len, uint8_t *out, size_t cap)
{
	uint8_t nonce[crypto_secretbox_NONCEBYTES];
	uint64_t seq;
	struct wr w;

	if (!hs_can_seal(h) || len > HS_MAILBOX_MAX || cap < len + HS_MAILBOX_OVERHEAD)
		return 0;
	seq = ++h->mailbox_tx_seq;
	wr_init(&w, out, cap);
	wr_u8(&w, HS_MSG_MAILBOX);
	wr_u64(&w, seq);
	mailbox_nonce(nonce, h->initiator, seq);
	crypto_secretbox_easy(out + 9, msg, len, nonce, h->mailbox_key);
	return len + HS_MAILBOX_OVERHEAD;
}

ssize_t
hs_mailbox_open(struct handshake *h, const uint8_t *msg, size_t len, uint8_t *out, size_t cap)
{
	uint8_t nonce[crypto_secretbox_NONCEBYTES];
	uint64_t seq;
	size_t plen;
	struct rd r;

	if (h->state != HS_DONE || len < HS_MAILBOX_OVERHEAD || len > HS_MSG_MAX)
		return -1;
	rd_init(&r, msg, len);
	if (rd_u8(&r) != HS_MSG_MAILBOX)
		return -1;
	seq = rd_u64(&r);
	plen = len - HS_MAILBOX_OVERHEAD;
	if (seq <= h->mailbox_rx_seq || cap < plen)
		return -1;
	mailbox_nonce(nonce, !h->initiator, seq);
	if (crypto_secretbox_open_easy(out, msg + 9, len - 9, nonce, h->mailbox_key) != 0)
		return -1;
	h->mailbox_rx_seq = seq;
	return (ssize_t)plen;
}

int
hs_probe_mac(const struct handshake *h, uint8_t mac[HS_PROBE_MAC_LEN], const uint8_t *body,
    size_t len)
{
	if (h->state != HS_DONE)
		return -1;
	crypto_generichash(mac, HS_PROBE_MAC_LEN, body, len, h->probe_key, HS_KEY_LEN);
	return 0;
}

bool
hs_probe_verify(const struct handshake *h, const uint8_t mac[HS_PROBE_MAC_LEN],
    const uint8_t *body, size_t len)
{
	uint8_t want[HS_PROBE_MAC_LEN];
	bool ok;

	if (hs_probe_mac(h, want, body, len) != 0)
		return false;
	ok = crypto_verify_16(want, mac) == 0;
	sodium_memzero(want, sizeof want);
	return ok;
}

void
hs_free(struct handshake *h)
{
	if (h->locked)
		sodium_munlock(h, sizeof *h);
	else
		sodium_memzero(h, sizeof *h);
}
