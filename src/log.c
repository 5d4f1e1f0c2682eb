#include "log.h"

#include <stdarg.h>
#include <stdio.h>

int log_level;

static void
emit(const char *fmt, va_list ap)
{
	char line[1024];

	/* One write per line so lines from two processes sharing stderr do not interleave. */
	vsnprintf(line, sizeof line, fmt, ap);
	fprintf(stderr, "punchcat: %s\n", line);
}

void
log_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_level < 0)
		return;
	va_start(ap, fmt);
	emit(fmt, ap);
	va_end(ap);
}

void
log_verbose(int level, const char *fmt, ...)
{
	va_list ap;

	if (log_level < level)
		return;
	va_start(ap, fmt);
	emit(fmt, ap);
	va_end(ap);
}
