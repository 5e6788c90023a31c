"""Boards/s of the batched MDRNN/MDLSTM forward pass vs. a loop over population members.

    python experiments/bench_mdlstm.py [--cell lstm] [--hidden 4] [--device cpu] [--reps 3] [--threads 1]

For each board size N and population × games P×B, the whole population is evaluated in
one call (per-member weights through ``bmm``), then member by member (P calls with
P = 1); both must give the same scores. A "board" is one position scored by one member
(all four sweeps). Prints a table.
"""
from __future__ import annotations

import argparse
import time

import torch

from dps.policies.mdlstm import MDLSTMPolicy

CONFIGS = [(5, 16, 16), (5, 64, 64), (9, 16, 16), (9, 64, 64), (19, 16, 16), (19, 64, 64)]


def timed(fn, reps, sync):
    fn()  # warm-up
    sync()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        sync()
        times.append(time.perf_counter() - t0)
    return out, min(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell", default="lstm", choices=["lstm", "tanh"])
    ap.add_argument("--hidden", type=int, default=4)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = ap.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    g = torch.Generator().manual_seed(args.seed)
    print(f"MDLSTM bench: cell={args.cell} hidden={args.hidden} device={dev} "
          f"threads={torch.get_num_threads()} reps={args.reps} (best of)")
    print(f"{'N':>3} {'P':>4} {'B':>4} {'P*B':>5} | {'batched boards/s':>17} {'loop boards/s':>14} "
          f"{'speed-up':>8} | {'max |diff|':>10}")
    with torch.no_grad():
        for N, P, B in CONFIGS:
            pol = MDLSTMPolicy((2, N, N), N * N, args.hidden, args.cell)
            params = torch.stack([pol.init_params(g) for _ in range(P)]).to(dev)
            v = torch.randint(0, 3, (P, B, N, N), generator=g)
            obs = torch.stack([v == 1, v == 2], 2).float().to(dev)
            # timed() calls these closures before the loop moves on; the defaults bind this config's values
            batched, t_b = timed(lambda pol=pol, params=params, obs=obs: pol.step(params, obs, ())[0],
                                 args.reps, sync)
            looped, t_l = timed(lambda pol=pol, params=params, obs=obs, P=P:
                                torch.cat([pol.step(params[p:p + 1], obs[p:p + 1], ())[0] for p in range(P)]),
                                args.reps, sync)
            diff = (batched - looped).abs().max().item()
            scale = batched.abs().max().item()
            assert diff <= 1e-5 * max(1.0, scale), f"batched and looped scores differ by {diff} (scale {scale})"
            n = P * B
            print(f"{N:>3} {P:>4} {B:>4} {n:>5} | {n / t_b:>17,.0f} {n / t_l:>14,.0f} "
                  f"{t_l / t_b:>7.1f}x | {diff:>10.1e}")


if __name__ == "__main__":
    main()
