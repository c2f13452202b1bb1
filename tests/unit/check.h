/* check.h: the unit-test harness. Each tests/unit/test_*.c is one program whose main() calls
 * RUN(fn) for each test; results are TAP lines ("ok 3 - name", "not ok 4 - name") that
 * tests/run.sh counts. A failed CHECK prints where and why, marks the test failed and goes on.
 * The program exits non-zero when any test failed. */
#ifndef DFS_CHECK_H
#define DFS_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failed_now;   /* failures in the running test */
static int check_total_failed;
static int check_count;

#define CHECK(cond, ...)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            printf("# %s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);         \
            printf(__VA_ARGS__);                                                      \
            printf("\n");                                                             \
            check_failed_now++;                                                       \
        }                                                                             \
    } while (0)

/* |a - b| <= atol + rtol * |b| (b is the reference) */
#define CHECK_CLOSE(a, b, atol, rtol)                                                 \
    do {                                                                              \
        double ca_ = (double)(a), cb_ = (double)(b);                                  \
        CHECK(fabs(ca_ - cb_) <= (atol) + (rtol) * fabs(cb_), "%s = %.9g, %s = %.9g", \
              #a, ca_, #b, cb_);                                                      \
    } while (0)

#define RUN(fn)                                                                       \
    do {                                                                              \
        check_failed_now = 0;                                                         \
        fn();                                                                         \
        check_count++;                                                                \
        printf("%sok %d - %s\n", check_failed_now ? "not " : "", check_count, #fn);  \
        fflush(stdout);                                                               \
        if (check_failed_now) check_total_failed++;                                   \
    } while (0)

/* Report a test as skipped, with why ("no GPU: ..."): TAP "ok N - name # SKIP why". */
#define SKIP(fn, ...)                                                                 \
    do {                                                                              \
        check_count++;                                                                \
        printf("ok %d - %s # SKIP ", check_count, #fn);                               \
        printf(__VA_ARGS__);                                                          \
        printf("\n");                                                                 \
        fflush(stdout);                                                               \
    } while (0)

#define CHECK_DONE() (printf("1..%d\n", check_count), check_total_failed ? 1 : 0)

#endif
