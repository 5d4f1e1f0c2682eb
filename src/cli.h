/* Helpers shared by the option parsers of the peer and the server. */
#ifndef PUNCHCAT_CLI_H
#define PUNCHCAT_CLI_H

#include <stdbool.h>

/* Prints "punchcat: MSG" and a hint to run CMD --help, returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reports the option getopt_long rejected (opterr must be 0, optstring must start with ':'). */
int cli_bad_option(const char *cmd, int c, char **argv);
/* Parses a decimal number in [min, max]; false if anything else. */
bool cli_number(const char *s, unsigned long min, unsigned long max, unsigned long *out);

#endif
