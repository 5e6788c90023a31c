/* The LSTM step for one scalar type T and its 64-byte vector type VT (included by kernels.c once
 * per type). */
/* gates of one slot: z (4H) -> new cell and hidden state. With a = e^-z_i, b = e^-2z_g,
 * i g = (1 - b) / ((1 + a)(1 + b)) and, with d = e^-2c, e = e^-z_o, o tanh(c) = (1 - d) /
 * ((1 + e)(1 + d)): three divisions per cell instead of five (a division costs several
 * multiplications). The products overflow to infinity only where the exact value is
 * below 1e-37 in magnitude; the quotient is then 0. */
#define GATE_BODY(ZI, ZF, ZO)                                                                     \
    const T a = EXP(-(ZI)), b = EXP((T)-2 * z[2 * H + j]);                                        \
    const T f = (T)1 / ((T)1 + EXP(-(ZF)));                                                       \
    const T c = f * cp[j] + ((T)1 - b) / (((T)1 + a) * ((T)1 + b));                               \
    const T d = EXP((T)-2 * c), e = EXP(-(ZO));                                                   \
    cn[j] = c;                                                                                    \
    hn[j] = ((T)1 - d) / (((T)1 + e) * ((T)1 + d));
static void NAME(gates)(int64_t H, const T *restrict z, const T *restrict pe, const T *restrict cp,
                        T *restrict cn, T *restrict hn) {
    if (pe) {
        for (int64_t j = 0; j < H; j++) {
            GATE_BODY(z[j] + pe[j] * cp[j], z[H + j] + pe[H + j] * cp[j], z[3 * H + j] + pe[2 * H + j] * c)
        }
    } else {
        for (int64_t j = 0; j < H; j++) {
            GATE_BODY(z[j], z[H + j], z[3 * H + j])
        }
    }
}
#undef GATE_BODY

/* z[e] = b + sum_k u[e][k] W[k, :] + sum_k v[e][k] W[nu + k, :] for E slots at once (u: E rows
 * of nu at stride su, v: E rows of nv at stride sv, z: E rows of G) — the product of the
 * rows [u, v] with W without packing them. Each element is summed in row order whatever E
 * and the column block, so a slot's result is the same in any grouping. Columns in blocks
 * of one vector VT (64 bytes) held in registers; the columns left over one by one, in the
 * same order. */
#define AFFINE(E)                                                                                     \
static void NAME(affine##E)(int64_t nu, const T *restrict u, int64_t su, int64_t nv,                  \
                            const T *restrict v, int64_t sv, int64_t G, const T *restrict W,          \
                            const T *restrict b, T *restrict z) {                                     \
    const int64_t lanes = (int64_t)(sizeof(VT) / sizeof(T));                                          \
    const T *restrict Wv = W + nu * G;                                                                \
    int64_t j0 = 0;                                                                                   \
    for (; j0 + lanes <= G; j0 += lanes) {                                                            \
        VT acc[E], r;                                                                                 \
        memcpy(&r, b + j0, sizeof r);                                                                 \
        for (int e = 0; e < E; e++) acc[e] = r;                                                       \
        for (int64_t k = 0; k < nu; k++) {                                                            \
            memcpy(&r, W + k * G + j0, sizeof r);                                                     \
            for (int e = 0; e < E; e++) acc[e] += u[e * su + k] * r;                                  \
        }                                                                                             \
        for (int64_t k = 0; k < nv; k++) {                                                            \
            memcpy(&r, Wv + k * G + j0, sizeof r);                                                    \
            for (int e = 0; e < E; e++) acc[e] += v[e * sv + k] * r;                                  \
        }                                                                                             \
        for (int e = 0; e < E; e++) memcpy(z + e * G + j0, &acc[e], sizeof r);                        \
    }                                                                                                 \
    for (int e = 0; e < E; e++)                                                                       \
        for (int64_t j = j0; j < G; j++) {                                                            \
            T s = b[j];                                                                               \
            for (int64_t k = 0; k < nu; k++) s += u[e * su + k] * W[k * G + j];                       \
            for (int64_t k = 0; k < nv; k++) s += v[e * sv + k] * Wv[k * G + j];                      \
            z[e * G + j] = s;                                                                         \
        }                                                                                             \
}
AFFINE(4)
AFFINE(1)
#undef AFFINE

/* One step of E slots of one member (E = 4 or 1), its weights at w. offs: per layer l:
 * offs[3l] = W (rows n_l + H, cols 4H), offs[3l+1] = b (4H), offs[3l+2] = peepholes (3H) or -1;
 * then offs[3L] = W_out (F x n_out), offs[3L+1] = b_out. x: E rows of n_in inputs (before
 * input scaling); in_scale: the n_in inputs' factors; hp/cp/hn/cn: per layer, E rows of H;
 * out: E rows of n_out; work: at least WORK(H, n_in) elements. */
#ifndef WORK
#define WORK(H, n_in) (4 * (4 * (H) + (n_in)))
#endif
static inline void NAME(lstm_group)(int E, const T *w, int64_t n_in, int64_t H, int64_t L, const int64_t *offs,
                                    int skip, int64_t n_out, const T *in_scale, const T *x, T *const *hp,
                                    T *const *cp, T *const *hn, T *const *cn, T *out, T *work) {
    const int64_t G = 4 * H;
    T *restrict z = work, *restrict xs = z + 4 * G;  /* E rows of gates; E rows of scaled inputs */
    for (int e = 0; e < E; e++)
        for (int64_t k = 0; k < n_in; k++) xs[e * n_in + k] = x[e * n_in + k] * in_scale[k];
    const T *u = xs;
    int64_t nu = n_in;
    for (int64_t l = 0; l < L; l++) {
        const T *W = w + offs[3 * l], *b = w + offs[3 * l + 1];
        const T *pe = offs[3 * l + 2] >= 0 ? w + offs[3 * l + 2] : 0;
        if (E == 4) NAME(affine4)(nu, u, nu, H, hp[l], H, G, W, b, z);
        else NAME(affine1)(nu, u, nu, H, hp[l], H, G, W, b, z);
        for (int e = 0; e < E; e++)
            NAME(gates)(H, z + e * G, pe, cp[l] + e * H, cn[l] + e * H, hn[l] + e * H);
        u = hn[l];
        nu = H;
    }
    const T *Wo = w + offs[3 * L], *bo = w + offs[3 * L + 1];
    for (int e = 0; e < E; e++) {
        const T *hl = hn[L - 1] + e * H, *xe = xs + e * n_in;
        T *o = out + e * n_out;
        for (int64_t m = 0; m < n_out; m++) {
            T s = bo[m];
            for (int64_t k = 0; k < H; k++) s += hl[k] * Wo[k * n_out + m];
            if (skip) for (int64_t k = 0; k < n_in; k++) s += xe[k] * Wo[(H + k) * n_out + m];
            o[m] = s;
        }
    }
}

/* One step for P members x B slots: x (P, B, n_in); h_in/c_in/h_out/c_out: L pointers to
 * (P, B, H); out (P, B, n_out). Slots in groups of 4 consecutive ones of a member. */
void NAME(dps_lstm_step)(int64_t P, int64_t B, int64_t D, const T *params, int64_t n_in, int64_t H,
                         int64_t L, const int64_t *offs, int skip, int64_t n_out, const T *in_scale,
                         const T *x, T *const *h_in, T *const *c_in, T *const *h_out, T *const *c_out,
                         T *out, T *work) {
    FLUSH_DENORMALS
    T *hp[L], *cp[L], *hn[L], *cn[L];
    for (int64_t p = 0; p < P; p++) {
        for (int64_t e0 = 0; e0 < B;) {
            const int E = B - e0 >= 4 ? 4 : 1;
            const int64_t slot = p * B + e0;
            for (int64_t l = 0; l < L; l++) {
                hp[l] = h_in[l] + slot * H; cp[l] = c_in[l] + slot * H;
                hn[l] = h_out[l] + slot * H; cn[l] = c_out[l] + slot * H;
            }
            NAME(lstm_group)(E, params + p * D, n_in, H, L, offs, skip, n_out, in_scale, x + slot * n_in,
                             hp, cp, hn, cn, out + slot * n_out, work);
            e0 += E;
        }
    }
    RESTORE_DENORMALS
}
