/*
 * Codes: NAMEPLATE-PASSWORD, e.g. 7-orbit-canvas-tulip or a user-chosen 42-our-secret.
 *
 * The nameplate (a decimal number) only routes to a room on the server; the password is only
 * ever the PAKE input. Parsing is case-insensitive and takes spaces (or several hyphens) as one
 * hyphen; the normalised password (lower case, words joined by single hyphens) is what both
 * sides feed to CPace, so "7 Orbit  CANVAS-tulip" and "7-orbit-canvas-tulip" meet.
 */
#ifndef PUNCHCAT_CODE_H
#define PUNCHCAT_CODE_H

#include <stddef.h>
#include <stdint.h>

#define CODE_TEXT_MAX 256		/* characters of a code as typed */
#define CODE_NAMEPLATE_MAX 999999u
#define CODE_WORDS_MIN 2		/* generated passwords: 2..8 words of 8 bits */
#define CODE_WORDS_MAX 8

struct code {
	uint32_t nameplate;		/* 1..CODE_NAMEPLATE_MAX */
	size_t password_len;
	char password[CODE_TEXT_MAX + 1];	/* normalised; NUL-terminated */
};

/* Parses text into c. Returns NULL, or a message saying what is wrong (never echoing the
 * code; static or thread-local, valid until the next call). c is wiped on failure. */
const char *code_parse(struct code *c, const char *text);
/* A fresh password of `words` random words from the built-in list (clamped to 2..8) for the
 * nameplate. */
void code_generate(struct code *c, uint32_t nameplate, unsigned words);
/* Writes "NAMEPLATE-PASSWORD" (NUL-terminated); returns its length, or 0 if cap is too small. */
size_t code_format(const struct code *c, char *buf, size_t cap);
void code_wipe(struct code *c);

#endif
