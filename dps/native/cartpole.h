/* Cart-pole physics of dps/envs/cartpole.py for one slot, in double precision, with the same
 * operations in the same order as the torch env (so the state differs from it only where
 * libm's sin/cos round differently from torch's). Internal state order: x, θ1[, θ2], ẋ, θ̇1[, θ̇2]. */
#include <math.h>

typedef struct {
    int poles, gym;
    double c_fric[2], c_ml[2], c_3m4[2], c_l[2], c_mass;  /* Wieland's constants (cartpole.py) */
    double g, tau, rk4_tau, gravity;                       /* gym: g, tau; rk4: tau of one RK4 step */
    int rk4_steps;
    double gm_mp, gm_mc, gm_l;                             /* gymnasium's masses and half-length */
} cp_const;

/* dq/dt of Wieland's equations (cartpole.py CartPole._wieland, same operation order) */
static inline void cp_wieland(const cp_const *k, const double *q, double force, double *d) {
    const int n = k->poles;
    double cs[2] = {0, 0}, sn[2], fg[2] = {0, 0}, fe[2] = {0, 0};
    for (int i = 0; i < n; i++) {
        const double th = q[1 + i], thd = q[n + 2 + i];
        cs[i] = cos(th);
        sn[i] = sin(th);
        fg[i] = k->c_fric[i] * thd + k->gravity * sn[i];
        fe[i] = k->c_3m4[i] * cs[i] * fg[i] + (thd * thd * sn[i]) * k->c_ml[i];
    }
    double den_sum = cs[0] * cs[0] * k->c_3m4[0], fe_sum = fe[0];
    if (n == 2) { den_sum = den_sum + cs[1] * cs[1] * k->c_3m4[1]; fe_sum = fe_sum + fe[1]; }
    const double xa = (force + fe_sum) / (k->c_mass - den_sum);
    for (int i = 0; i <= n; i++) d[i] = q[n + 1 + i];
    d[n + 1] = xa;
    for (int i = 0; i < n; i++) d[n + 2 + i] = (fg[i] + xa * cs[i]) * k->c_l[i];
}

/* one action: two RK4 steps (rk4) or gymnasium's Euler step (gym) */
static inline void cp_step(const cp_const *k, double *q, double force) {
    const int nq = 2 + 2 * k->poles;
    if (k->gym) {
        const double x = q[0], th = q[1], xd = q[2], thd = q[3];
        const double total = k->gm_mp + k->gm_mc, pml = k->gm_mp * k->gm_l;
        const double cs = cos(th), sn = sin(th);
        const double temp = (force + pml * (thd * thd) * sn) / total;
        const double tha = (k->g * sn - cs * temp) / (k->gm_l * (4.0 / 3.0 - k->gm_mp * (cs * cs) / total));
        const double xa = temp - pml * tha * cs / total;
        q[0] = x + k->tau * xd;
        q[1] = th + k->tau * thd;
        q[2] = xd + k->tau * xa;
        q[3] = thd + k->tau * tha;
        return;
    }
    double k1[6], k2[6], k3[6], k4[6], t[6];
    const double h = k->rk4_tau;
    for (int s = 0; s < k->rk4_steps; s++) {
        cp_wieland(k, q, force, k1);
        for (int i = 0; i < nq; i++) t[i] = q[i] + k1[i] * (0.5 * h);
        cp_wieland(k, t, force, k2);
        for (int i = 0; i < nq; i++) t[i] = q[i] + k2[i] * (0.5 * h);
        cp_wieland(k, t, force, k3);
        for (int i = 0; i < nq; i++) t[i] = q[i] + k3[i] * h;
        cp_wieland(k, t, force, k4);
        for (int i = 0; i < nq; i++) q[i] = q[i] + ((k1[i] + k4[i]) + (k2[i] + k3[i]) * 2.0) * (h / 6.0);
    }
}

/* the env's failure test: not (|q_i| <= bound_i for all i); NaN fails */
static inline int cp_failed(const double *q, const double *bounds, int nq) {
    for (int i = 0; i < nq; i++)
        if (!(fabs(q[i]) <= bounds[i])) return 1;
    return 0;
}
