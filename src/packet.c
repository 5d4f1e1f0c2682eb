/*
 * Peer packet protection: header as associated data, nonce = 0^32 || packet number, per-direction
 * keys that roll forward by epoch, an anti-replay window updated only after authentication.
 */
#include "packet.h"

#include <stdio.h>
#include <string.h>

#include "wire.h"

#define NONCE_LEN 12
/* crypto_kdf context of the key ratchet: next = KDF(current, id = next epoch, "pc-rekey"). */
static const char rekey_ctx[crypto_kdf_CONTEXTBYTES + 1] = "pc-rekey";

bool
pkt_aes_available(void)
{
	return sodium_init() >= 0 && crypto_aead_aes256gcm_is_available() == 1;
}

static void
key_set(struct pkt_key *k, enum pkt_cipher cipher, const uint8_t raw[PKT_KEY_LEN])
{
	if (raw != k->key)
		memcpy(k->key, raw, PKT_KEY_LEN);
	if (cipher == PKT_AES256GCM)
		crypto_aead_aes256gcm_beforenm(&k->aes, k->key);
}

/* dst = the key of the epoch after the one src belongs to. dst may equal src. */
static void
key_next(struct pkt_key *dst, const struct pkt_key *src, enum pkt_cipher cipher,
    uint64_t next_epoch)
{
	uint8_t k[PKT_KEY_LEN];

	crypto_kdf_derive_from_key(k, sizeof k, next_epoch, rekey_ctx, src->key);
	key_set(dst, cipher, k);
	sodium_memzero(k, sizeof k);
}

static void
make_nonce(uint8_t nonce[NONCE_LEN], uint64_t pn)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(pn >> (56 - 8 * i));
}

int
pkt_init_raw(struct pkt_ctx *c, enum pkt_cipher cipher, const uint8_t tx_key[PKT_KEY_LEN],
    const uint8_t rx_key[PKT_KEY_LEN], uint32_t tx_cid, uint32_t rx_cid, uint64_t now)
{
	if (sodium_init() < 0)
		return -1;
	memset(c, 0, sizeof *c);
	if (cipher != PKT_CHACHA20POLY1305 && !(cipher == PKT_AES256GCM && pkt_aes_available()))
		return -1;
	c->locked = sodium_mlock(c, sizeof *c) == 0;
	c->cipher = cipher;
	c->tx_cid = tx_cid;
	c->rx_cid = rx_cid;
	c->rekey_packets = cipher == PKT_AES256GCM ? PKT_REKEY_PACKETS_AESGCM : PKT_REKEY_PACKETS;
	c->rekey_us = PKT_REKEY_US;
	key_set(&c->tx, cipher, tx_key);
	c->tx_epoch_start = now;
	key_set(&c->rx[1], cipher, rx_key);
	key_next(&c->rx[2], &c->rx[1], cipher, 1);
	replay_init(&c->replay);
	return 0;
}

void
pkt_free(struct pkt_ctx *c)
{
	if (c->locked)
		sodium_munlock(c, sizeof *c);	/* wipes too */
	else
		sodium_memzero(c, sizeof *c);
}

void
pkt_on_acked(struct pkt_ctx *c, uint64_t largest_acked)
{
	c->ack_gate = true;
	if (!c->peer_acked_any || largest_acked > c->peer_acked_pn)
		c->peer_acked_pn = largest_acked;
	c->peer_acked_any = true;
}

/* Checks the packet number, rekeys when due and writes the header into buf[0..PKT_HDR_LEN).
 * Returns false when the key may not seal this packet. */
static bool
seal_begin(struct pkt_ctx *c, uint64_t now, uint64_t pn, uint8_t *buf)
{
	struct wr w;

	if (c->tx_exhausted || pn > PKT_PN_MAX || (c->tx_any && pn <= c->tx_last_pn)) {
		c->tx_exhausted = true;
		return false;
	}
	if (!c->tx_any)
		c->tx_epoch_first_pn = pn;
	if ((c->tx_epoch_packets >= c->rekey_packets || now >= c->tx_epoch_start + c->rekey_us) &&
	    (!c->ack_gate || (c->peer_acked_any && c->peer_acked_pn >= c->tx_epoch_first_pn))) {
		c->tx_epoch++;
		key_next(&c->tx, &c->tx, c->cipher, c->tx_epoch);
		c->tx_epoch_packets = 0;
		c->tx_epoch_start = now;
		c->tx_epoch_first_pn = pn;
	}
	wr_init(&w, buf, PKT_HDR_LEN);
	wr_u8(&w, (uint8_t)(PKT_KIND_DATA | (c->tx_epoch & PKT_KIND_PHASE_BIT)));
	wr_u32(&w, c->tx_cid);
	wr_u64(&w, pn);
	return true;
}

/* Encrypts len bytes at m into buf + PKT_HDR_LEN (m may be that very place) and appends the
 * tag; the header in buf is the associated data. */
static size_t
seal_end(struct pkt_ctx *c, uint64_t pn, uint8_t *buf, const uint8_t *m, size_t len)
{
	uint8_t nonce[NONCE_LEN];

	make_nonce(nonce, pn);
	if (c->cipher == PKT_AES256GCM)
		crypto_aead_aes256gcm_encrypt_detached_afternm(buf + PKT_HDR_LEN,
		    buf + PKT_HDR_LEN + len, NULL, m, len, buf, PKT_HDR_LEN, NULL, nonce,
		    &c->tx.aes);
	else
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(buf + PKT_HDR_LEN,
		    buf + PKT_HDR_LEN + len, NULL, m, len, buf, PKT_HDR_LEN, NULL, nonce,
		    c->tx.key);
	c->tx_any = true;
	c->tx_last_pn = pn;
	c->tx_epoch_packets++;
	c->sealed++;
	return len + PKT_OVERHEAD;
}

size_t
pkt_seal(struct pkt_ctx *c, uint64_t now, uint64_t pn, uint8_t *buf, size_t len)
{
	if (!seal_begin(c, now, pn, buf))
		return 0;
	return seal_end(c, pn, buf, buf + PKT_HDR_LEN, len);
}

size_t
pkt_seal_split(struct pkt_ctx *c, uint64_t now, uint64_t pn, uint8_t *buf, size_t head_len,
    uint8_t *tail, size_t tail_len)
{
	uint8_t saved[PKT_SPLIT_HEAD_MAX];
	size_t n;

	if (head_len > sizeof saved) {
		memmove(buf + PKT_HDR_LEN + head_len, tail, tail_len);	/* cannot borrow: copy */
		return pkt_seal(c, now, pn, buf, head_len + tail_len);
	}
	if (!seal_begin(c, now, pn, buf))
		return 0;
	memcpy(saved, tail - head_len, head_len);
	memcpy(tail - head_len, buf + PKT_HDR_LEN, head_len);
	n = seal_end(c, pn, buf, tail - head_len, head_len + tail_len);
	memcpy(tail - head_len, saved, head_len);
	return n;
}

static ssize_t
drop(struct pkt_ctx *c, enum pkt_drop why)
{
	c->drops[why]++;
	return -1;
}

/* Which rx key a packet with this phase and number needs: 0 previous, 1 current, 2 next. */
static int
rx_slot(const struct pkt_ctx *c, uint64_t now, unsigned phase, uint64_t pn)
{
	if (phase == (c->rx_epoch & PKT_KIND_PHASE_BIT))
		return 1;
	if (c->rx_epoch > 0 && pn < c->rx_epoch_first_pn)
		return c->rx_prev_valid && now < c->rx_prev_until ? 0 : -1;
	return 2;
}

/* A packet authenticated under the next key: the peer moved to the next epoch. */
static void
rx_advance(struct pkt_ctx *c, uint64_t now, uint64_t pn)
{
	c->rx[0] = c->rx[1];
	c->rx[1] = c->rx[2];
	c->rx_epoch++;
	key_next(&c->rx[2], &c->rx[1], c->cipher, c->rx_epoch + 1);
	c->rx_prev_valid = true;
	c->rx_prev_until = now + PKT_PREV_KEY_US;
	c->rx_epoch_first_pn = pn;
}

ssize_t
pkt_open(struct pkt_ctx *c, uint64_t now, uint8_t *buf, size_t len, uint64_t *pn)
{
	uint8_t nonce[NONCE_LEN];
	size_t plen;
	struct rd r;
	unsigned phase;
	uint64_t n;
	int slot, rc;

	if (c->rx_prev_valid && now >= c->rx_prev_until) {
		sodium_memzero(&c->rx[0], sizeof c->rx[0]);
		c->rx_prev_valid = false;
	}
	if (len < PKT_OVERHEAD)
		return drop(c, PKT_DROP_SHORT);
	rd_init(&r, buf, PKT_HDR_LEN);
	phase = rd_u8(&r);
	if ((phase & ~PKT_KIND_PHASE_BIT) != PKT_KIND_DATA)
		return drop(c, PKT_DROP_KIND);
	phase &= PKT_KIND_PHASE_BIT;
	if (rd_u32(&r) != c->rx_cid)
		return drop(c, PKT_DROP_CID);
	n = rd_u64(&r);
	if (n > PKT_PN_MAX || c->rx_exhausted)
		return drop(c, PKT_DROP_LIMIT);
	switch (replay_check(&c->replay, n)) {
	case REPLAY_NEW: break;
	case REPLAY_DUP: return drop(c, PKT_DROP_REPLAY);
	case REPLAY_OLD: return drop(c, PKT_DROP_OLD);
	}
	if ((slot = rx_slot(c, now, phase, n)) < 0)
		return drop(c, PKT_DROP_OLD);
	plen = len - PKT_OVERHEAD;
	make_nonce(nonce, n);
	if (c->cipher == PKT_AES256GCM)
		rc = crypto_aead_aes256gcm_decrypt_detached_afternm(buf + PKT_HDR_LEN, NULL,
		    buf + PKT_HDR_LEN, plen, buf + PKT_HDR_LEN + plen, buf, PKT_HDR_LEN, nonce,
		    &c->rx[slot].aes);
	else
		rc = crypto_aead_chacha20poly1305_ietf_decrypt_detached(buf + PKT_HDR_LEN, NULL,
		    buf + PKT_HDR_LEN, plen, buf + PKT_HDR_LEN + plen, buf, PKT_HDR_LEN, nonce,
		    c->rx[slot].key);
	if (rc != 0) {
		if (++c->forgeries >= PKT_FORGERY_LIMIT)
			c->rx_exhausted = true;
		return drop(c, PKT_DROP_TAG);
	}
	replay_update(&c->replay, n);
	if (slot == 2)
		rx_advance(c, now, n);
	c->opened++;
	*pn = n;
	return (ssize_t)plen;
}

bool
pkt_is_data(const uint8_t *buf, size_t len)
{
	return len > 0 && (buf[0] & ~PKT_KIND_PHASE_BIT) == PKT_KIND_DATA;
}

bool
pkt_exhausted(const struct pkt_ctx *c)
{
	return c->tx_exhausted || c->rx_exhausted;
}

const char *
pkt_drop_name(enum pkt_drop d)
{
	static const char *const names[PKT_DROP_N] = {
		[PKT_DROP_SHORT] = "short",
		[PKT_DROP_KIND] = "kind",
		[PKT_DROP_CID] = "connection-id",
		[PKT_DROP_TAG] = "tag",
		[PKT_DROP_REPLAY] = "replay",
		[PKT_DROP_OLD] = "too-old",
		[PKT_DROP_LIMIT] = "limit",
	};

	return (unsigned)d < PKT_DROP_N ? names[d] : "?";
}

const char *
pkt_cipher_name(enum pkt_cipher cipher)
{
	return cipher == PKT_AES256GCM ? "aes256gcm" : "chacha20poly1305";
}

size_t
pkt_format_drops(const struct pkt_ctx *c, char *buf, size_t cap)
{
	size_t len = 0;
	bool any = false;
	int n;

	if (cap == 0)
		return 0;
	buf[0] = '\0';
	for (int d = 0; d < PKT_DROP_N; d++) {
		if (c->drops[d] == 0)
			continue;
		any = true;
		n = snprintf(buf + len, cap - len, "%s%s=%llu", len ? " " : "",
		    pkt_drop_name((enum pkt_drop)d), (unsigned long long)c->drops[d]);
		if (n < 0 || (size_t)n >= cap - len)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';		/* a counter that did not fit is left out */
	if (!any) {
		n = snprintf(buf, cap, "none");
		len = n > 0 && (size_t)n < cap ? (size_t)n : 0;
	}
	return len;
}
