/*
 * units: human quantities in config files: bytes ("10GB", "500MiB", "1.5TB",
 * "4096") and durations ("10s", "1h", "7d", "90m", "250ms"); and a u64's decimal
 * digits for output that avoids printf.
 *
 * Decimal prefixes are powers of 1000 (GB = 10^9), binary ones powers of
 * 1024 (GiB), as storage vendors and `df -H`/`df -h` use them. Pure code.
 */
#ifndef EW_UNITS_H
#define EW_UNITS_H

#include <stdint.h>

/* Parses a byte quantity. Returns 0, or -1 if s is not one (or overflows). */
int units_parse_bytes(const char *s, uint64_t *out);

/* Parses a duration into seconds. Returns 0, or -1 if s is not one. */
int units_parse_duration(const char *s, double *seconds);

/* Parses a non-negative integer (decimal, no unit) up to max. Returns 0 or -1. */
int units_parse_uint(const char *s, uint64_t max, uint64_t *out);

/* Parses on/off, yes/no, true/false, 1/0. Returns 0 or -1. */
int units_parse_bool(const char *s, int *out);

/* Writes v in decimal to the end of buf (no NUL), for hot paths that avoid
 * printf. Returns where the digits start; they run to buf + UNITS_U64_DIGITS. */
#define UNITS_U64_DIGITS 20
char *units_format_u64(uint64_t v, char buf[UNITS_U64_DIGITS]);

#endif
