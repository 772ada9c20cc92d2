/* The fp32 FMA ceiling of one core, in C: 12 zmm FMA chains, no loads. Two versions of the loop:
 *  - same_start: every chain starts at zero and does the same operations, the way the loop is usually
 *    first written. The chains then hold equal values, and gcc -O2 keeps ONE of them (a single
 *    vfmadd132ps per iteration, `objdump -d`), so the loop runs one 4-cycle dependent FMA per iteration
 *    while the count below assumes 12: it reads 96 "FLOPs" per cycle, 1.5x what the core can do.
 *  - distinct_start: chain i starts at a different value, so all 12 FMAs stay (12 vfmadd per iteration)
 *    and the figure is the real ceiling: 2 FMA pipes x 16 lanes x 2 FLOPs = 64 FLOPs per cycle.
 * It also measures the clock (a chain of dependent adds), whose 64x is the ceiling the real loop should read.
 * tools/fma_ceiling.sh builds this, shows both loops' code and compares them with the managed loop. */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define STEP12                                                                                  \
    for (long i = 0; i < n; i++) {                                                              \
        a0 = _mm512_fmadd_ps(a0, x, y); a1 = _mm512_fmadd_ps(a1, x, y);                         \
        a2 = _mm512_fmadd_ps(a2, x, y); a3 = _mm512_fmadd_ps(a3, x, y);                         \
        a4 = _mm512_fmadd_ps(a4, x, y); a5 = _mm512_fmadd_ps(a5, x, y);                         \
        a6 = _mm512_fmadd_ps(a6, x, y); a7 = _mm512_fmadd_ps(a7, x, y);                         \
        a8 = _mm512_fmadd_ps(a8, x, y); a9 = _mm512_fmadd_ps(a9, x, y);                         \
        a10 = _mm512_fmadd_ps(a10, x, y); a11 = _mm512_fmadd_ps(a11, x, y);                     \
    }                                                                                           \
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),      \
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));     \
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));       \
    return _mm512_reduce_add_ps(s);

__attribute__((noinline)) float same_start(long n)
{
    __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
    __m512 a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
    STEP12
}

__attribute__((noinline)) float distinct_start(long n)
{
    __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    __m512 a0 = _mm512_set1_ps(0.00f), a1 = _mm512_set1_ps(0.01f), a2 = _mm512_set1_ps(0.02f);
    __m512 a3 = _mm512_set1_ps(0.03f), a4 = _mm512_set1_ps(0.04f), a5 = _mm512_set1_ps(0.05f);
    __m512 a6 = _mm512_set1_ps(0.06f), a7 = _mm512_set1_ps(0.07f), a8 = _mm512_set1_ps(0.08f);
    __m512 a9 = _mm512_set1_ps(0.09f), a10 = _mm512_set1_ps(0.10f), a11 = _mm512_set1_ps(0.11f);
    STEP12
}

/* The core clock: a chain of dependent integer adds runs at one add per cycle. */
static double clock_ghz(int repeats)
{
    const long n = 10000000;
    double best = 1e30;
    for (int r = 0; r <= repeats; r++) {
        long count = n, x = 0;
        double t = now();
        __asm__ volatile("1:\n\t.rept 20\n\tadd %1, %1\n\t.endr\n\tdec %0\n\tjnz 1b" : "+r"(count), "+r"(x));
        t = now() - t;
        if (r > 0 && t < best) best = t;
    }
    return n * 20.0 / best / 1e9;
}

static double best_gflops(float (*loop)(long), int repeats, float *sink)
{
    const long n = 2000000;
    double best = 1e30;
    for (int r = 0; r <= repeats; r++) {
        double t = now();
        *sink += loop(n);
        t = now() - t;
        if (r > 0 && t < best) best = t;
    }
    return n * 12.0 * 16 * 2 / best / 1e9;
}

int main(int argc, char **argv)
{
    int repeats = argc > 1 ? atoi(argv[1]) : 20;
    float sink = 0;
    double ghz = clock_ghz(repeats);
    printf("clock %.2f GHz (dependent adds): 64 FLOPs per cycle = %.1f GFLOP/s\n", ghz, 64 * ghz);
    printf("C loop, 12 chains from distinct starts (real): %.1f GFLOP/s; "
           "from one start (gcc keeps 1 chain, counted as 12): %.1f GFLOP/s (best of %d)\n",
           best_gflops(distinct_start, repeats, &sink), best_gflops(same_start, repeats, &sink), repeats);
    return sink == 12345.0f;
}
