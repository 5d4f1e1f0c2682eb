/* Codes: parsing, normalising, error messages, generation, the word list. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "code.h"
#include "wordlist.h"

static void
parse_ok(const char *text, uint32_t nameplate, const char *password)
{
	struct code c;
	const char *why = code_parse(&c, text);

	if (why != NULL)
		fail_msg("'%s': %s", text, why);
	assert_int_equal(c.nameplate, nameplate);
	assert_string_equal(c.password, password);
	assert_int_equal(c.password_len, strlen(password));
}

static void
parse_bad(const char *text, const char *want_fragment)
{
	struct code c;
	const char *why = code_parse(&c, text);

	if (why == NULL)
		fail_msg("'%s' was accepted", text);
	if (strstr(why, want_fragment) == NULL)
		fail_msg("'%s': got '%s', wanted '%s'", text, why, want_fragment);
	assert_int_equal(c.nameplate, 0);
	assert_int_equal(c.password[0], 0);
}

static void
parses_and_normalises(void **state)
{
	parse_ok("7-orbit-canvas-tulip", 7, "orbit-canvas-tulip");
	parse_ok("7 Orbit  CANVAS-tulip", 7, "orbit-canvas-tulip");
	parse_ok("  7--orbit - canvas\ttulip-  ", 7, "orbit-canvas-tulip");
	parse_ok("42-our-secret", 42, "our-secret");
	parse_ok("42 OurSecret2026", 42, "oursecret2026");
	parse_ok("007-x", 7, "x");
	parse_ok("999999-a", 999999, "a");
	parse_ok("1-2-3", 1, "2-3");
}

static void
precise_errors(void **state)
{
	char longcode[CODE_TEXT_MAX + 2];

	parse_bad("", "empty");
	parse_bad("   ", "empty");
	parse_bad("orbit-canvas", "start with the nameplate");
	parse_bad("-7-orbit", "start with the nameplate");
	parse_bad("7a-orbit", "must be a number");
	parse_bad("1000000-orbit", "larger than 999999");
	parse_bad("99999999999999999999-orbit", "larger than 999999");
	parse_bad("0-orbit", "from 1 to 999999");
	parse_bad("7", "no password");
	parse_bad("7-", "no password");
	parse_bad("7 - - ", "no password");
	parse_bad("7-orbit_canvas", "only letters, digits");
	parse_bad("7-orbit.canvas", "only letters, digits");
	parse_bad("7-caf\xc3\xa9", "only letters, digits");
	parse_bad("7-orbit\n", "only letters, digits");
	parse_bad("7-orbit.canvas", "(character 8 is not one)");
	parse_bad("7-caf\xc3\xa9", "(character 6 is not one)");
	memset(longcode, 'a', sizeof longcode - 1);
	longcode[0] = '7';
	longcode[1] = '-';
	longcode[sizeof longcode - 1] = '\0';
	parse_bad(longcode, "longer than 256");
	longcode[CODE_TEXT_MAX] = '\0';			/* exactly 256 is fine */
	parse_ok(longcode, 7, longcode + 2);
}

/* Error messages never contain the code's text. */
static void
errors_do_not_echo(void **state)
{
	static const char *const bad[] = { "x-secretword", "7a-secretword", "7-secret_word" };
	struct code c;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *why = code_parse(&c, bad[i]);

		assert_non_null(why);
		assert_null(strstr(why, "secret"));
	}
}

static void
generate_format_parse(void **state)
{
	char buf[CODE_TEXT_MAX + 16];
	struct code g, p;

	for (unsigned words = CODE_WORDS_MIN; words <= CODE_WORDS_MAX; words++) {
		for (int k = 0; k < 50; k++) {
			size_t hyphens = 0;

			code_generate(&g, 1 + (uint32_t)k * 1111, words);
			for (size_t i = 0; i < g.password_len; i++)
				hyphens += g.password[i] == '-';
			assert_int_equal(hyphens, words - 1);
			assert_true(code_format(&g, buf, sizeof buf) > 0);
			assert_null(code_parse(&p, buf));
			assert_int_equal(p.nameplate, g.nameplate);
			assert_string_equal(p.password, g.password);
		}
	}
	code_generate(&g, 5, 1);			/* clamped to the minimum */
	assert_non_null(strchr(g.password, '-'));
	assert_int_equal(code_format(&g, buf, 3), 0);	/* too small */
	code_wipe(&g);
	assert_int_equal(g.nameplate, 0);
	assert_int_equal(g.password_len, 0);
}

/* Generated words come from the whole list, roughly evenly. */
static void
generation_uses_the_list(void **state)
{
	static unsigned seen[WORDLIST_LEN];
	struct code g;
	unsigned missing = 0;

	for (int k = 0; k < 2000; k++) {
		char *save, *w;

		code_generate(&g, 1, 4);
		for (w = strtok_r(g.password, "-", &save); w; w = strtok_r(NULL, "-", &save)) {
			unsigned i;

			for (i = 0; i < WORDLIST_LEN && strcmp(wordlist[i], w) != 0; i++)
				;
			assert_true(i < WORDLIST_LEN);
			seen[i]++;
		}
	}
	for (unsigned i = 0; i < WORDLIST_LEN; i++)
		missing += seen[i] == 0;
	assert_int_equal(missing, 0);	/* 8000 draws: P(a word never drawn) ~ 256 e^-31 */
}

static void
wordlist_is_sound(void **state)
{
	for (unsigned i = 0; i < WORDLIST_LEN; i++) {
		size_t n = strlen(wordlist[i]);

		assert_true(n >= 3 && n <= WORDLIST_WORD_MAX);
		for (size_t k = 0; k < n; k++)
			assert_true(wordlist[i][k] >= 'a' && wordlist[i][k] <= 'z');
		for (unsigned j = 0; j < WORDLIST_LEN; j++)
			if (i != j)	/* distinct, and none a prefix of another */
				assert_false(strncmp(wordlist[i], wordlist[j], n) == 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_and_normalises),
		cmocka_unit_test(precise_errors),
		cmocka_unit_test(errors_do_not_echo),
		cmocka_unit_test(generate_format_parse),
		cmocka_unit_test(generation_uses_the_list),
		cmocka_unit_test(wordlist_is_sound),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
