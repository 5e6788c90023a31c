/* dps's C kernels (dps/native/__init__.py builds them): one step of the batched LSTM policy
 * of dps/policies/lstm.py (lstm_step.h), and whole cart-pole episodes of that policy
 * (lstm_cartpole.h, physics in cartpole.h), for float and double policies.
 *
 * The LSTM is the same function as the torch step: gates i, f, g, o from z = [x, h] W + b,
 * optional peepholes, stacked layers, optional input->readout skip, linear readout. Slots
 * are computed in groups of 4 of one member, but every element of a slot is computed by
 * the same instructions in the same order whatever the group and the batch (the sums run
 * over rows in order; the vector/scalar split is over columns, the same for every slot),
 * and the exponential is computed here, not by libm, so a slot's numbers do not depend on
 * which other slots share the batch. Rounding differs from torch's kernels (a few units in
 * the last place per gate; docs/BENCHMARKS.md); the tests compare both paths.
 */
#include <stdint.h>
#include <string.h>

#include "cartpole.h"

/* e^x for |x| <= 87 (float) / 708 (double): x = n ln2 + r, |r| <= ln2/2, 2^n built in the
 * exponent bits. Float: e^r = 1 + r + r^2 p(r) with p of degree 5 (the classical minimax
 * coefficients of the Cephes library's expf; relative error < 2^-23 on the interval). Double:
 * the Taylor polynomial of degree 13 (truncation < 2e-16). NaN stays NaN: the clamps are
 * written as comparisons that are false for NaN. */
static inline float exp_f(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 87.0f ? 87.0f : x;
    float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    int32_t e = ((int32_t)n + 127) << 23;
    float s;
    memcpy(&s, &e, sizeof s);
    return p * s;
}

static inline double exp_d(double x) {
    x = x < -708.0 ? -708.0 : x;
    x = x > 708.0 ? 708.0 : x;
    double n = __builtin_floor(x * 1.4426950408889634074 + 0.5);
    double r = x - n * 6.93147180369123816490e-01;
    r = r - n * 1.90821492927058770002e-10;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    int64_t e = ((int64_t)n + 1023) << 52;
    double s;
    memcpy(&s, &e, sizeof s);
    return p * s;
}

/* denormal numbers (saturated gates produce them) cost ~100x per operation on x86; flush
 * them to zero for the duration of a call (the torch path keeps them: a difference below
 * 1e-37 in float) */
#if defined(__SSE__)
#include <xmmintrin.h>
#define FLUSH_DENORMALS const unsigned int csr_ = _mm_getcsr(); _mm_setcsr(csr_ | 0x8040);
#define RESTORE_DENORMALS _mm_setcsr(csr_);
#else
#define FLUSH_DENORMALS
#define RESTORE_DENORMALS
#endif

#define T float
typedef float vf32 __attribute__((vector_size(64)));
#define VT vf32
#define EXP exp_f
#define NAME(x) x##_f32
#define EXP_TANH tanhf
#include "lstm_step.h"
#include "lstm_cartpole.h"
#undef T
#undef VT
#undef EXP
#undef NAME
#undef EXP_TANH
#define T double
typedef double vf64 __attribute__((vector_size(64)));
#define VT vf64
#define EXP exp_d
#define NAME(x) x##_f64
#define EXP_TANH tanh
#include "lstm_step.h"
#include "lstm_cartpole.h"
