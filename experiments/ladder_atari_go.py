"""Reproduce the opponent-ladder table of docs/ATARI_GO.md (win rate of the first player
against the second, colours alternating, ≥ 10⁴ games per cell) with standard errors.

    python experiments/ladder_atari_go.py [--games 10000] [--sizes 5,7,9] [--device cpu]
                                          [--cells L2-L0,L4-L2] [--extra]
                                          [--engine batched|reference]

Matches of L0–L2 on boards up to 7×7 run on the bitboard engine (see ``play_match``).
``--engine reference`` plays the cells one game at a time with the plain BFS engine and
players of ``dps.envs.atari_go.reference`` (Python's ``random``; L0–L5): an independent
second implementation of the rules and the ladder, for cross-checking a cell.
"""
from __future__ import annotations

import argparse
import time

import torch

from dps.envs.atari_go.opponents import win_rate
from dps.envs.atari_go.reference import reference_win_rate

REF_GAMES = 10_000  # docs/ATARI_GO.md: the references come from >= 10^4 games of another simulator
REFERENCE = {("L2", "L0"): {5: 0.865, 7: 0.906, 9: 0.934},
             ("L4", "L2"): {5: 0.79, 7: 0.83, 9: 0.88},
             ("L5", "L2"): {5: 0.94, 7: 0.97, 9: 0.98}}


def rounding_halfwidth(value: float) -> float:
    """Half a unit in the last printed digit of a reference (0.005 for 0.79, 0.0005 for
    0.865): the value the table rounded lies within this distance of the printed one."""
    return 0.5 * 10.0 ** -len(repr(value).split(".")[1])


def z_rounded(measured: float, stderr: float, value: float) -> float:
    """Signed distance in standard errors ``stderr`` from ``measured`` to the interval of
    values that print as ``value`` (0 inside it)."""
    h = rounding_halfwidth(value)
    gap = measured - (value + h) if measured > value + h else min(0.0, measured - (value - h))
    return gap / max(stderr, 1e-9)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--games", type=int, default=10000)
    ap.add_argument("--sizes", default="5,7,9")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--extra", action="store_true", help="also L1/L3/L6 cells")
    ap.add_argument("--cells", default=None,
                    help="comma-separated matches like L2-L0 (default: the reference table's)")
    ap.add_argument("--engine", choices=("batched", "reference"), default="batched",
                    help="batched torch engine (default) or the one-game BFS reference (L0-L5)")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    cells = dict(REFERENCE)
    if args.extra:
        cells.update({("L1", "L0"): {}, ("L3", "L2"): {}, ("L6", "L5"): {}})
    if args.cells:
        want = [tuple(c.strip().upper().split("-")) for c in args.cells.split(",")]
        bad = [c for c in want if len(c) != 2]
        if bad:
            ap.error(f"--cells takes matches like L2-L0, got {args.cells!r}")
        cells = {c: REFERENCE.get(c, {}) for c in want}
    if args.engine == "reference":
        bad = [f"{a}-{b}" for a, b in cells if "L6" in (a, b)]
        if bad:
            ap.error(f"the reference engine plays L0-L5; drop {', '.join(bad)}")
    where = f"device {args.device}" if args.engine == "batched" else "one-game BFS reference engine"
    print(f"{args.games} games per cell, colours alternating, {where}, seed {args.seed}")
    print("z: (measured − reference) / our s.e.; z₂: the same over the s.e. of the difference, "
          f"counting the reference's own sampling error at {REF_GAMES} games; zᵣ: the distance to "
          "the interval of values that round to the reference as printed (0.79: 0.785-0.795) "
          "over that same s.e. of the difference")
    print("| match | N | measured ± s.e. | reference | z | z₂ | zᵣ | as Black | as White | plies | s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for (a, b), ref in cells.items():
        for N in sizes:
            t = time.perf_counter()
            if args.engine == "reference":
                r = reference_win_rate(a, b, N, args.games, seed=args.seed * 100 + N)
            else:
                r = win_rate(a, b, N, args.games, seed=args.seed * 100 + N, device=args.device)
            dt = time.perf_counter() - t
            rv = ref.get(N)
            z = f"{(r['win_rate'] - rv) / max(r['stderr'], 1e-9):+.1f}" if rv is not None else ""
            se2 = None if rv is None else (r["stderr"] ** 2 + rv * (1 - rv) / REF_GAMES) ** 0.5
            z2 = "" if rv is None else f"{(r['win_rate'] - rv) / max(se2, 1e-9):+.1f}"
            zr = "" if rv is None else f"{z_rounded(r['win_rate'], se2, rv):+.1f}"
            print(f"| {a} vs {b} | {N} | {r['win_rate']:.4f} ± {r['stderr']:.4f} | "
                  f"{'' if rv is None else rv} | {z} | {z2} | {zr} | {r['as_black']:.3f} | {r['as_white']:.3f} "
                  f"| {r['mean_plies']:.1f} | {dt:.0f} |", flush=True)


if __name__ == "__main__":
    main()
