"""Games per second of the batched Atari-Go engine against the plain one-game-at-a-time
reference, in the same run; or (``--table sizes``) of the engine and of the MDLSTM player
per board size.

    python experiments/bench_atari_go.py [--games 16384] [--repeats 3] [--threads 2]
    python experiments/bench_atari_go.py --table sizes [--games 8192] [--player-games 1024] [--policy SPEC]

Default table: matches L0 vs L0 (random) and L2 vs L2 (killer) at N = 5, 9, 19 (``--sizes``); batched on
the CPU (and CUDA when available) with finished games dropped from the batch, on each
engine that can play the match: ``bits`` (:mod:`dps.envs.atari_go.bitboard`, N ≤ 7, L0–L2;
what ``play_match`` uses there; L0 vs L0 evaluates every ply at once, ``play_random_games``,
and ``bits, ply loop`` is the same match one ply at a time) and ``boards`` (:class:`dps.envs.atari_go.boards.Boards`,
any N and level). The reference plays games one after another (its time is measured on
enough games for ~2 s). Median of the repeats; ratio = batched / reference.

``--table sizes`` (N = 5, 7, 9, 11, 13, 19 unless ``--sizes``; CPU): the engine's L0 vs L0
and L2 vs L2 through ``play_match`` (its default engine for N), and a greedy
network (``--policy``, default ``mdlstm:hidden=4``) with random weights (seed 0) against L2, through
``AtariGoEnv`` + :func:`dps.rollout.rollout` (every game stays in the batch until the
last ends) and through the report's :func:`dps.evaluation.atari_go.play_cell` (finished
games leave the batch). G is ``--games`` (engine) or ``--player-games`` (player) at N = 5,
scaled by 25/N² (a multiple of 64, at least 64) so that every size takes similar time.
Median of the repeats; the machine's load average is printed before and after.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import time

import torch

from dps.envs.atari_go.bitboard import play_match_bits
from dps.envs.atari_go.env import AtariGoEnv
from dps.envs.atari_go.opponents import match_engine, play_match
from dps.envs.atari_go.reference import play_reference_game
from dps.evaluation.atari_go import play_cell
from dps.policies import make_policy
from dps.rollout import rollout


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


def rate(play, games, repeats):
    """Median games/s of ``play(games, seed)`` over ``repeats`` runs after a small warm-up,
    and the last run's return value."""
    play(min(games, 64), 0)
    out, last = [], None
    for r in range(repeats):
        t = time.perf_counter()
        last = play(games, r + 1)
        out.append(games / (time.perf_counter() - t))
    return statistics.median(out), last


def scaled(games_at_5, N):
    return max(64, games_at_5 * 25 // (N * N) // 64 * 64)


def size_row(N, games, player_games, repeats, policy="mdlstm:hidden=4"):
    """One row of ``--table sizes`` (module docstring) as a markdown line."""
    Ge, Gp = scaled(games, N), scaled(player_games, N)
    engine = {lv: rate(lambda g, s, lv=lv: play_match(lv, lv, N, g, seed=s), Ge, repeats)[0]
              for lv in ("L0", "L2")}
    pol = make_policy(policy, (2, N, N), N * N)
    params = pol.init_params(torch.Generator().manual_seed(0)).reshape(1, -1)

    def by_rollout(g, s):
        rollout(pol, AtariGoEnv(size=N, opponent="L2", games=g), params, g, s)

    def by_report_loop(g, s):
        return play_cell(pol, params, N, "L2", g, (s,))

    plain = rate(by_rollout, Gp, repeats)[0]
    loop, last = rate(by_report_loop, Gp, repeats)
    names = "/".join(dict.fromkeys(match_engine(lv, lv, N) for lv in ("L0", "L2")))
    return (f"| {N} | {names} | {Ge} | {engine['L0']:,.0f} | {engine['L2']:,.0f} | {Gp} | {plain:,.1f} "
            f"| {loop:,.1f} | {float(last['plies'].float().mean()):.1f} |")


def size_table(sizes, games, player_games, repeats, policy="mdlstm:hidden=4"):
    """The per-size table of ``--table sizes``, printed row by row."""
    print("| N | engine | G (engine) | L0 vs L0 games/s | L2 vs L2 games/s | G (player) "
          "| MDLSTM vs L2, rollout games/s | MDLSTM vs L2, report loop games/s | MDLSTM vs L2 mean plies |")
    print("|---|---|---|---|---|---|---|---|---|")
    for N in sizes:
        print(size_row(N, games, player_games, repeats, policy), flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", choices=("engines", "sizes"), default="engines")
    ap.add_argument("--games", type=int, default=None,
                    help="G at N=5 (engines: default 16384, N=9: G/4, N=19: G/16; sizes: default 8192, "
                         "scaled by 25/N²)")
    ap.add_argument("--player-games", type=int, default=1024, help="MDLSTM player's G at N=5 (--table sizes)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", default=None, help="board sizes (engines: 5,9,19; sizes: 5,7,9,11,13,19)")
    ap.add_argument("--policy", default="mdlstm:hidden=4", help="the player's policy spec (--table sizes)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.table == "sizes":
        sizes = [int(s) for s in (args.sizes or "5,7,9,11,13,19").split(",")]
        print(f"torch {torch.__version__}, {args.threads} CPU threads, median of {args.repeats}, "
              f"load average {os.getloadavg()[0]:.2f}, {time.strftime('%Y-%m-%d %H:%M')}")
        print(f"player: {args.policy}, random weights (seed 0)")
        size_table(sizes, args.games or 8192, args.player_games, args.repeats, args.policy)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        return
    games = args.games or 16384
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {args.threads} CPU threads, median of {args.repeats}")
    print("| match | N | engine | device | G | batched games/s | reference games/s | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for level in ("L0", "L2"):
        for N in (int(s) for s in (args.sizes or "5,9,19").split(",")):
            ref = rate_reference(level, N, args.repeats)
            G = max(256, games // (1 if N <= 5 else 4 if N <= 9 else 16))
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
