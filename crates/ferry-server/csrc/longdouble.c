/* INCRBYFLOAT arithmetic in C's long double.
 *
 * Redis adds INCRBYFLOAT increments as `long double` and prints the result
 * with "%.17Lf" minus trailing zeros. Rust has no long double type, and
 * doing the sum in f64 gives different digits (10.5 + 0.1 prints as
 * 10.59999999999999964 instead of 10.6), so this shim does exactly what
 * Redis does with the platform's own long double. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FERRY_LD_MAX_CHARS 5120

/* Parses like Redis's string2ld: no leading space, nothing after the
 * number, no NaN, no overflow. Returns 1 on success. */
static int parse_ld(const char *s, size_t len, long double *out) {
    char buf[FERRY_LD_MAX_CHARS + 1];
    char *end;
    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (isspace((unsigned char)buf[0])) return 0;
    errno = 0;
    long double v = strtold(buf, &end);
    if (*end != '\0' || isnan(v)) return 0;
    if (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO)) return 0;
    *out = v;
    return 1;
}

/* Adds the decimal strings `a` and `b`. Writes the result as Redis formats it
 * into `out` and its length into `out_len`.
 * Returns 0 on success, 1 if `a` is not a float, 2 if `b` is not,
 * 3 if the sum is NaN or infinite, 4 if `out` is too small. */
int ferry_ld_add(const char *a, size_t alen, const char *b, size_t blen,
                 char *out, size_t out_cap, size_t *out_len) {
    long double x, y;
    if (!parse_ld(a, alen, &x)) return 1;
    if (!parse_ld(b, blen, &y)) return 2;
    long double sum = x + y;
    if (isnan(sum) || isinf(sum)) return 3;
    int n = snprintf(out, out_cap, "%.17Lf", sum);
    if (n < 0 || (size_t)n >= out_cap) return 4;
    size_t l = (size_t)n;
    if (memchr(out, '.', l) != NULL) {
        while (l > 0 && out[l - 1] == '0') l--;
        if (l > 0 && out[l - 1] == '.') l--;
    }
    if (l == 2 && out[0] == '-' && out[1] == '0') {
        out[0] = '0';
        l = 1;
    }
    *out_len = l;
    return 0;
}

/* Parses a float as Redis's string2ld does; returns 1 when valid. */
int ferry_ld_valid(const char *a, size_t alen) {
    long double x;
    return parse_ld(a, alen, &x);
}
