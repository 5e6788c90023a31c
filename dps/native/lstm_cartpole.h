/* Whole episodes of the LSTM policy on the cart-pole (one type T; included by kernels.c).
 *
 * The rollout of dps/rollout.py for this pair, with each group of 4 slots of a member run
 * in lock-step to its end and then the next group: a slot stops costing anything when its
 * group has ended, and the policy's state never leaves the cache. Per slot and step it
 * does what the torch loop does: observation = float32(state[obs_index] * obs_scale), the
 * policy step, the greedy action (discrete: output 1 > output 0; continuous: the squashed
 * tanh of the output, clipped to [-1, 1] by the env), the physics, the reward, failure test,
 * time limit (success: reached the env's max_steps without failing). The reward is 1 for
 * every step taken, or with damping != 0 the damping fitness's shaped reward of
 * dps/envs/cartpole.py: J = the sum of |x| + |θ1| + |ẋ| + |θ̇1| (internal indices jig) over
 * the last 100 states, from step 101 on the potential D = 0.675 / max(J, 1e-9) (0 where that
 * is NaN), reward 1e-4 + D - D_prev, in double and added to the return in T as the torch
 * loop does. J is summed in a different order than torch's reduction (last bits).
 * A tie between the two discrete outputs or a NaN output on a live slot is where the torch
 * loop draws random numbers or marks a broken slot: the call then returns 1 and the caller
 * runs the torch loop instead; otherwise 0. */
int NAME(dps_lstm_cartpole)(int64_t P, int64_t B, int64_t D, const T *params, int64_t n_obs, int64_t H,
                            int64_t L, const int64_t *offs, int skip, int64_t n_out, const T *in_scale,
                            const cp_const *k, int discrete, const double *q0, const int64_t *obs_index,
                            const double *obs_scale, const double *bounds, int damping,
                            const int64_t *jig, int64_t env_max_steps, int64_t steps, T *returns, int64_t *lengths, uint8_t *success, T *work) {
    FLUSH_DENORMALS
    const int64_t nq = 2 + 2 * k->poles, EH = 4 * H;
    int status = 0;
    /* work: policy scratch, then per layer two generations of (h, c) for 4 slots, then x and out */
    T *scratch = work, *st = work + WORK(H, n_obs);
    T *xo = st + 4 * L * EH, *out = xo + 4 * n_obs;
    T *hs[2][L], *cs[2][L];
    for (int64_t l = 0; l < L; l++) {
        hs[0][l] = st + (4 * l + 0) * EH; cs[0][l] = st + (4 * l + 1) * EH;
        hs[1][l] = st + (4 * l + 2) * EH; cs[1][l] = st + (4 * l + 3) * EH;
    }
    for (int64_t p = 0; p < P && !status; p++) {
        const T *w = params + p * D;
        for (int64_t e0 = 0; e0 < B && !status;) {
            const int E = B - e0 >= 4 ? 4 : 1;
            const int64_t slot0 = p * B + e0;
            double q[4][6], ring[4][100], pot[4];
            int alive[4];
            for (int e = 0; e < E; e++) {
                for (int64_t i = 0; i < nq; i++) q[e][i] = q0[(slot0 + e) * nq + i];
                alive[e] = 1;
                pot[e] = 0;
                for (int i = 0; i < 100; i++) ring[e][i] = 0;
                returns[slot0 + e] = 0;
                lengths[slot0 + e] = 0;
                success[slot0 + e] = 0;
            }
            for (int64_t l = 0; l < L; l++)
                for (int64_t j = 0; j < E * H; j++) hs[0][l][j] = cs[0][l][j] = 0;
            int cur = 0, n_alive = E;
            for (int64_t t = 0; t < steps && n_alive > 0; t++) {
                for (int e = 0; e < E; e++)
                    for (int64_t i = 0; i < n_obs; i++)
                        xo[e * n_obs + i] = (T)(float)(q[e][obs_index[i]] * obs_scale[i]);
                NAME(lstm_group)(E, w, n_obs, H, L, offs, skip, n_out, in_scale, xo, hs[cur], cs[cur],
                                 hs[1 - cur], cs[1 - cur], out, scratch);
                cur = 1 - cur;
                for (int e = 0; e < E; e++) {
                    if (!alive[e]) continue;
                    const T *o = out + e * n_out;
                    double force;
                    if (discrete) {
                        if (!(o[1] > o[0]) && !(o[0] > o[1])) { status = 1; break; }
                        force = o[1] > o[0] ? 10.0 : -10.0;
                    } else {
                        if (o[0] != o[0]) { status = 1; break; }
                        const T a = (T)-1 + (EXP_TANH(o[0]) + (T)1) * (T)0.5 * (T)2;
                        double ad = (double)a;
                        force = 10.0 * (ad < -1.0 ? -1.0 : (ad > 1.0 ? 1.0 : ad));
                    }
                    cp_step(k, q[e], force);
                    const int failed = cp_failed(q[e], bounds, nq);
                    if (damping) {
                        const double *qe = q[e];
                        ring[e][t % 100] = ((fabs(qe[jig[0]]) + fabs(qe[jig[1]])) + fabs(qe[jig[2]])) + fabs(qe[jig[3]]);
                        double d = pot[e];
                        if (t + 1 > 100) {
                            double J = 0;
                            for (int i = 0; i < 100; i++) J += ring[e][i];
                            d = 0.675 / (J < 1e-9 ? 1e-9 : J);  /* NaN J stays NaN */
                            if (d != d) d = 0;
                        }
                        returns[slot0 + e] += (T)(1e-4 + d - pot[e]);
                        pot[e] = d;
                    } else {
                        returns[slot0 + e] += (T)1;
                    }
                    lengths[slot0 + e] += 1;
                    if (failed || t + 1 >= env_max_steps) {
                        success[slot0 + e] = !failed && t + 1 >= env_max_steps;
                        alive[e] = 0;
                        n_alive--;
                    }
                }
                if (status) break;
            }
            e0 += E;
        }
    }
    RESTORE_DENORMALS
    return status;
}
