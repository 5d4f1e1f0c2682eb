/* Messages on stderr, every line prefixed "punchcat: ". Never log a code or key. */
#ifndef PUNCHCAT_LOG_H
#define PUNCHCAT_LOG_H

/* -1 quiet (errors only), 0 normal, 1.. more detail (-v, -vv). */
extern int log_level;

void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Printed when log_level >= level. */
void log_verbose(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
