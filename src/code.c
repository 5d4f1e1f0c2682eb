/* Parsing, normalising, generating and formatting codes (see code.h). */
#include "code.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "wordlist.h"

static bool is_space(char ch) { return ch == ' ' || ch == '\t'; }
static bool is_sep(char ch) { return ch == '-' || is_space(ch); }
static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static bool is_alnum(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static const char *
fail(struct code *c, const char *why)
{
	code_wipe(c);
	return why;
}

const char *
code_parse(struct code *c, const char *text)
{
	size_t len, i, n = 0;
	uint32_t np = 0;

	memset(c, 0, sizeof *c);
	len = strnlen(text, CODE_TEXT_MAX + 1);
	if (len > CODE_TEXT_MAX)
		return fail(c, "the code is longer than 256 characters");
	for (i = 0; i < len; i++) {
		if (!is_alnum(text[i]) && !is_sep(text[i])) {
			/* Say where, not what: the message must not reveal the code. */
			static __thread char msg[96];

			snprintf(msg, sizeof msg, "the code may contain only letters, digits, "
			    "hyphens and spaces (character %zu is not one)", i + 1);
			return fail(c, msg);
		}
	}
	i = 0;
	while (i < len && is_space(text[i]))
		i++;
	if (i == len)
		return fail(c, "the code is empty");
	if (!is_digit(text[i]))
		return fail(c, "the code must start with the nameplate number, as in "
		    "7-orbit-canvas-tulip");
	for (; i < len && is_digit(text[i]); i++) {
		np = np * 10 + (uint32_t)(text[i] - '0');
		if (np > CODE_NAMEPLATE_MAX)
			return fail(c, "the nameplate (the number before the first hyphen) is "
			    "larger than 999999");
	}
	if (i < len && !is_sep(text[i]))
		return fail(c, "the nameplate (before the first hyphen) must be a number");
	if (np == 0)
		return fail(c, "the nameplate (the number before the first hyphen) must be "
		    "from 1 to 999999");
	c->nameplate = np;
	/* The password: runs of separators become one hyphen, letters go lower case. */
	while (i < len) {
		while (i < len && is_sep(text[i]))
			i++;
		if (i == len)
			break;
		if (n > 0)
			c->password[n++] = '-';
		for (; i < len && !is_sep(text[i]); i++) {
			char ch = text[i];

			c->password[n++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
		}
	}
	if (n == 0)
		return fail(c, "the code has no password after the nameplate, as in "
		    "7-orbit-canvas-tulip");
	c->password[n] = '\0';
	c->password_len = n;
	return NULL;
}

void
code_generate(struct code *c, uint32_t nameplate, unsigned words)
{
	size_t n = 0;

	if (words < CODE_WORDS_MIN)
		words = CODE_WORDS_MIN;
	if (words > CODE_WORDS_MAX)
		words = CODE_WORDS_MAX;
	memset(c, 0, sizeof *c);
	c->nameplate = nameplate;
	for (unsigned w = 0; w < words; w++) {
		const char *word = wordlist[randombytes_uniform(WORDLIST_LEN)];
		size_t wl = strlen(word);

		if (w > 0)
			c->password[n++] = '-';
		memcpy(c->password + n, word, wl);
		n += wl;
	}
	c->password[n] = '\0';
	c->password_len = n;
}

size_t
code_format(const struct code *c, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%u-%s", (unsigned)c->nameplate, c->password);

	if (n < 0 || (size_t)n >= cap) {
		if (cap > 0)
			sodium_memzero(buf, cap);
		return 0;
	}
	return (size_t)n;
}

void
code_wipe(struct code *c)
{
	sodium_memzero(c, sizeof *c);
}
