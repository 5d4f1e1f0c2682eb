/*
 * Time. The sans-IO cores never read a clock: they are handed `now`, a monotonic time in
 * microseconds (uint64_t). Only the libevent shells call clock_now_us().
 */
#ifndef PUNCHCAT_CLOCK_H
#define PUNCHCAT_CLOCK_H

#include <stdint.h>

#define US_PER_MS UINT64_C(1000)
#define US_PER_S UINT64_C(1000000)
/* A deadline that never comes. */
#define TIME_NEVER UINT64_MAX

uint64_t clock_now_us(void);

#endif
