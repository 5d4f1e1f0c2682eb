/*
 * Fuzzes code parsing: any text either is rejected with a message or parses to a code whose
 * formatted form parses back to the same nameplate and password (normalisation is stable).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "code.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[CODE_TEXT_MAX + 64], formatted[CODE_TEXT_MAX + 16];
	struct code c, again;
	const char *why;

	if (size >= sizeof text)
		size = sizeof text - 1;
	memcpy(text, data, size);
	text[size] = '\0';
	why = code_parse(&c, text);
	if (why != NULL) {
		if (*why == '\0' || c.password_len != 0 || c.nameplate != 0)
			abort();
		return 0;
	}
	if (c.nameplate == 0 || c.nameplate > CODE_NAMEPLATE_MAX || c.password_len == 0 ||
	    c.password_len != strlen(c.password))
		abort();
	if (code_format(&c, formatted, sizeof formatted) == 0)
		abort();
	if (code_parse(&again, formatted) != NULL || again.nameplate != c.nameplate ||
	    strcmp(again.password, c.password) != 0)
		abort();
	return 0;
}
