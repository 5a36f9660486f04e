/* SORT's numeric weights, read with the C library's own strtod.
 *
 * Redis 7.0 turns each weight into a double with plain strtod on the
 * NUL-terminated value and refuses it when anything follows the number,
 * when errno is ERANGE (overflow, and also underflow to a subnormal or
 * zero) or when it is NaN. Leading blanks, hexadecimal floats, "inf",
 * "infinity" and an empty string (read as 0) are accepted. Calling the same
 * strtod reproduces every one of those corner cases. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Returns 1 and stores the weight, or 0 when SORT refuses it. */
int ferry_sort_strtod(const char *s, size_t len, double *out) {
    char small[128];
    char *buf = small;
    if (len >= sizeof(small)) {
        buf = malloc(len + 1);
        if (buf == NULL) return 0;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    /* Like Redis, only the C string counts: a NUL byte ends the value. */
    int ok = *end == '\0' && errno != ERANGE && !isnan(v);
    if (buf != small) free(buf);
    *out = v;
    return ok;
}
