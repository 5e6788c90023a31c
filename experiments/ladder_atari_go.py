"""Reproduce the opponent-ladder table of docs/ATARI_GO.md: the win rate of the first player
against the second, colours alternating, with the z-score against the reference table
counting both sides' sampling error.

    python experiments/ladder_atari_go.py [--games 40000] [--sizes 5,7,9] [--device cpu]
                                          [--pairs L2:L0,L4:L2,L5:L2,L6:L5] [--json]
                                          [--engine batched|reference] [--seed 0]

``--json`` prints one JSON object per cell (``pair``, ``N``, ``games``, ``win``, ``stderr``,
``reference``, ``reference_games``, ``z``, …) instead of the markdown table. Matches of
L0–L2 on boards up to 7×7 run on the bitboard engine (see ``play_match``). ``--engine
reference`` plays the cells one game at a time with the plain BFS engine and players of
``dps.envs.atari_go.reference`` (Python's ``random``): an independent second
implementation of the rules and the ladder, for cross-checking a cell (slow: L6 plays
every candidate move on a copy).
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from dps.envs.atari_go.opponents import opponent_name, win_rate
from dps.envs.atari_go.reference import reference_win_rate

# docs/ATARI_GO.md, "Opponent ladder": an independent simulator's win rates and the games
# behind each (40,000 per cell; L6 vs L5: 40,000 on 5×5, 24,000 on 7×7)
REFERENCE = {("L2", "L0"): {5: 0.863, 7: 0.908, 9: 0.928},
             ("L4", "L2"): {5: 0.800, 7: 0.833, 9: 0.859},
             ("L5", "L2"): {5: 0.939, 7: 0.974, 9: 0.986},
             ("L6", "L5"): {5: 0.548, 7: 0.557}}
REFERENCE_GAMES = {("L6", "L5"): {5: 40_000, 7: 24_000}}
DEFAULT_REFERENCE_GAMES = 40_000


def reference(pair: tuple, N: int) -> tuple[float | None, int | None]:
    """``(win rate, games)`` of the reference table for ``pair`` on N×N, or ``(None, None)``."""
    value = REFERENCE.get(pair, {}).get(N)
    if value is None:
        return None, None
    return value, REFERENCE_GAMES.get(pair, {}).get(N, DEFAULT_REFERENCE_GAMES)


def z_both(measured: float, stderr: float, value: float, ref_games: int) -> float:
    """(measured − reference) over the standard error of the difference, counting the
    reference's own binomial error at ``ref_games`` games."""
    se = (stderr ** 2 + value * (1 - value) / ref_games) ** 0.5
    return (measured - value) / max(se, 1e-12)


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """``"L6:L5,L4:L2"`` → ``[("L6", "L5"), ("L4", "L2")]`` (``-`` also separates where no
    ``:`` is given; level aliases are accepted: ``win-in-2:attack``)."""
    pairs = []
    for item in text.split(","):
        # ':' separates when present, so aliases with hyphens (win-in-2:L5) work; else '-' (L2-L0)
        parts = item.strip().split(":" if ":" in item else "-")
        if len(parts) != 2:
            raise ValueError(f"--pairs takes matches like L6:L5,L4:L2, got {item.strip()!r}")
        pairs.append((opponent_name(parts[0]), opponent_name(parts[1])))
    return pairs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--games", type=int, default=40_000)
    ap.add_argument("--sizes", default="5,7,9")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--pairs", default=None, help="matches like L6:L5,L4:L2 (default: the reference table's)")
    ap.add_argument("--json", action="store_true", help="one JSON object per cell instead of a table")
    ap.add_argument("--engine", choices=("batched", "reference"), default="batched",
                    help="batched torch engine (default) or the one-game BFS reference")
    args = ap.parse_args(argv)
    if args.games < 2:
        ap.error(f"--games must be an integer >= 2, got {args.games}")
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
        pairs = parse_pairs(args.pairs) if args.pairs else list(REFERENCE)
    except Exception as e:  # noqa: BLE001 - any malformed list is one usage line
        ap.error(str(e))
    if not args.json:
        where = f"device {args.device}" if args.engine == "batched" else "one-game BFS reference engine"
        print(f"{args.games} games per cell, colours alternating, {where}, seed {args.seed}")
        print("z: (measured − reference) / s.e. of the difference (both sides' sampling error)")
        print("| match | N | measured ± s.e. | reference (games) | z | as Black | as White | plies | s |")
        print("|---|---|---|---|---|---|---|---|---|")
    for a, b in pairs:
        for N in sizes:
            t = time.perf_counter()
            if args.engine == "reference":
                r = reference_win_rate(a, b, N, args.games, seed=args.seed * 100 + N)
            else:
                r = win_rate(a, b, N, args.games, seed=args.seed * 100 + N, device=args.device)
            dt = time.perf_counter() - t
            value, n_ref = reference((a, b), N)
            z = None if value is None else z_both(r["win_rate"], r["stderr"], value, n_ref)
            if args.json:
                print(json.dumps({"pair": f"{a}:{b}", "N": N, "games": r["games"], "win": r["win_rate"],
                                  "stderr": r["stderr"], "reference": value, "reference_games": n_ref,
                                  "z": z, "as_black": r["as_black"], "as_white": r["as_white"],
                                  "mean_plies": r["mean_plies"], "engine": args.engine,
                                  "seed": args.seed, "seconds": round(dt, 2)}), flush=True)
            else:
                ref = "" if value is None else f"{value:.3f} ({n_ref})"
                zs = "" if z is None else f"{z:+.1f}"
                print(f"| {a} vs {b} | {N} | {r['win_rate']:.4f} ± {r['stderr']:.4f} | {ref} | {zs} "
                      f"| {r['as_black']:.3f} | {r['as_white']:.3f} | {r['mean_plies']:.1f} | {dt:.0f} |",
                      flush=True)


if __name__ == "__main__":
    main()
