"""Games per second of the batched Atari-Go engine against the plain one-game-at-a-time
reference, in the same run.

    python experiments/bench_atari_go.py [--games 16384] [--repeats 3] [--threads 2]

Matches L0 vs L0 (random) and L2 vs L2 (killer) at N = 5, 9, 19 (``--sizes``); batched on
the CPU (and CUDA when available) with finished games dropped from the batch, on each
engine that can play the match: ``bits`` (:mod:`dps.envs.atari_go.bitboard`, N ≤ 7, L0–L2;
what ``play_match`` uses there; L0 vs L0 evaluates every ply at once, ``play_random_games``,
and ``bits, ply loop`` is the same match one ply at a time) and ``boards`` (:class:`dps.envs.atari_go.boards.Boards`,
any N and level). The reference plays games one after another (its time is measured on
enough games for ~2 s). Median of the repeats; ratio = batched / reference.
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

import torch

from dps.envs.atari_go.bitboard import play_match_bits
from dps.envs.atari_go.opponents import match_engine, play_match
from dps.envs.atari_go.reference import play_reference_game


def _match(level, N, games, seed, device, engine):
    if engine == "bits, ply loop":  # L0 vs L0 on bitboards, one ply at a time (the former default)
        gen = torch.Generator(device=device).manual_seed(seed)
        return play_match_bits(level, level, N, games, (gen, gen), device, all_plies=False)
    return play_match(level, level, N, games, seed=seed, device=device, engine=engine)


def rate_batched(level, N, games, repeats, device, engine):
    _match(level, N, min(games, 256), 0, device, engine)  # warm-up
    out = []
    for r in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        _match(level, N, games, r + 1, device, engine)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        out.append(games / (time.perf_counter() - t))
    return statistics.median(out)


def rate_reference(level, N, repeats, budget=2.0):
    out = []
    for r in range(repeats):
        rng = random.Random(r)
        n, t = 0, time.perf_counter()
        while time.perf_counter() - t < budget / repeats or n < 3:
            play_reference_game(N, level, level, rng)
            n += 1
        out.append(n / (time.perf_counter() - t))
    return statistics.median(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--games", type=int, default=16384, help="G at N=5 (N=9: G/4, N=19: G/16)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", default="5,9,19")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {args.threads} CPU threads, median of {args.repeats}")
    print("| match | N | engine | device | G | batched games/s | reference games/s | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for level in ("L0", "L2"):
        for N in (int(s) for s in args.sizes.split(",")):
            ref = rate_reference(level, N, args.repeats)
            G = max(256, args.games // (1 if N <= 5 else 4 if N <= 9 else 16))
            engines = ["bits", "boards"] if match_engine(level, level, N) == "bits" else ["boards"]
            if level == "L0" and "bits" in engines:
                engines.insert(1, "bits, ply loop")
            for dev in devices:
                Gd = G if dev == "cpu" else G * 8
                for engine in engines:
                    fast = rate_batched(level, N, Gd, args.repeats, dev, engine)
                    print(f"| {level} vs {level} | {N} | {engine} | {dev} | {Gd} | {fast:,.0f} | {ref:,.0f} "
                          f"| {fast / ref:,.0f}× |", flush=True)


if __name__ == "__main__":
    main()
