"""The Atari-Go evaluation report (the protocol of docs/ATARI_GO.md, "Report and play").

For each board size N and ladder opponent: win rate over ``games`` fresh greedy games
(colours alternating, so half as Black, half as White), Black and White separately with
95 % Wilson intervals, and the mean game length in plies; the same for a random-weight
network of the same policy class (the floor). Policies whose parameter count does not
depend on N (MDLSTM) are rebuilt for each N with the same options and play every size; a
policy tied to one size (linear, MLP) is evaluated on its own N only.

A cell's games are played by :func:`play_cell`, a greedy-only counterpart of
:func:`dps.rollout.rollout` on :class:`~dps.envs.atari_go.env.AtariGoEnv` (the env package
knows nothing of policies, so this lives here). It is faster in two ways:

* the trained and the floor network play in one batch of boards: one engine and one
  computation of the opponent's move classes per ply serve both (each network's scores
  are still one policy call on its own games);
* finished games leave the batch after every step, so the cost follows the games' total
  length, not the longest game times the number of games (on 19×19 the longest of 1000
  games is two to four times the mean).

Random draws are those of one plain rollout per network with the cell's seed: each network
has its own generator, from which the opponent's seed is drawn first (as
``AtariGoEnv.reset`` does); a greedy tie is broken with the numbers that rollout would draw
at that step for that game (drawn only when some game ties: the numbers skipped before are
drawn with them); and the opponent picks each game's move from the numbers its full-batch
draw would give that game. The games are therefore the plain rollout's games as long as the
network's scores do not depend on which other games share the batch. Dropping games changes
the batch shape, which can move a score by one ulp (a vectorised kernel's scalar tail), and
so, at a near-tie, a move; hence the report is exactly reproducible (same seed, games,
sizes, opponents and torch thread count ⇒ the same numbers), and equal to plain rollouts
except for such rare flips (``compact=False`` plays exactly the rollout's games).
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch

from ..checkpoint import write_atomic
from ..envs.atari_go.bitboard import BitBoards
from ..envs.atari_go.boards import Boards
from ..envs.atari_go.constants import BLACK, WHITE
from ..envs.atari_go.env import AtariGoEnv
from ..envs.atari_go.opponents import Opponent, match_engine, opponent_name, pick
from ..policies.heads import break_ties, greedy_scores
from ..rollout import rollout
from ..seeding import make_generator
from ..spec import signature_options

OPPONENTS = ("L0", "L2", "L4", "L5", "L6")
SIZES = (5, 7, 9, 11, 13, 19)
FLOOR = "random-weight floor"


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95 % Wilson score interval of a binomial proportion k/n."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, mid - half), min(1.0, mid + half))


def policy_for_size(policy, N: int):
    """The same policy class and options for an N×N board, or None when its parameter
    count would change (a size-specific policy)."""
    if tuple(getattr(policy, "obs_shape", ())) == (2, N, N):
        return policy
    kwargs = {}
    for name in signature_options(type(policy)):
        if hasattr(policy, name):
            kwargs[name] = getattr(policy, name)
    try:
        other = type(policy)((2, N, N), N * N, **kwargs)
    except Exception:  # noqa: BLE001 - whatever stops the class building an N×N copy: not playable on N
        return None
    return other if other.num_params == policy.num_params else None


@torch.no_grad()
def play_cell(policy, params: torch.Tensor, N: int, opponent: str, games: int, seeds,
              device="cpu", compact: bool = True) -> dict:
    """``games`` greedy games on N×N against ``opponent`` for each row of ``params (P, D)``,
    row p with seed ``seeds[p]`` (module docstring: the draws are those of
    ``rollout(policy, AtariGoEnv(N, opponent), params[p:p+1], games, seeds[p])``).
    Game b of each row has the agent White when b is even (the opponent opens), Black when
    odd. Returns ``(P, games)`` tensors ``won`` (bool), ``agent_color`` (int8) and
    ``plies`` (long)."""
    device = torch.device(device)
    params = params.to(device)
    P, B, M = params.shape[0], int(games), N * N
    if len(seeds) != P:
        raise ValueError(f"play_cell needs one seed per parameter row ({P}), got {len(seeds)}")
    level = opponent_name(opponent)
    if policy.initial_state(1, 1):
        # a policy with memory across moves (an LSTM on the flat board): one plain rollout per
        # row, as the draws above are defined; the batched loop below keeps no state
        return _rollout_cell(policy, params, N, level, B, seeds, device)
    G = P * B
    bd = (BitBoards if match_engine(level, level, N) == "bits" else Boards)(N, G, device)
    agent_all = torch.where(torch.arange(B, device=device).repeat(P) % 2 == 0, WHITE, BLACK).to(torch.int8)
    gens, opps = [], []
    for s in seeds:
        gen = make_generator(int(s), device)
        opp_seed = int(torch.randint(0, 2 ** 62, (1,), generator=gen, device=gen.device))
        gens.append(gen)
        opps.append(Opponent(level, opp_seed, device))
    pending = [0] * P        # tie-breaking numbers a plain rollout would have drawn and we have not
    ids = torch.arange(G, device=device)   # slot p·B + b of each game in the batch
    agent = agent_all
    bounds = [(p * B, (p + 1) * B) for p in range(P)]  # each row's games: batch rows lo..hi
    winner = torch.zeros(G, dtype=torch.int8, device=device)
    plies = torch.zeros(G, dtype=torch.long, device=device)

    def record(rows):
        winner[ids[rows]] = bd.winner[rows]
        plies[ids[rows]] = bd.plies[rows]

    def opponent_moves(members):
        # the classes are a function of the positions only, so one computation serves every row;
        # each row's opponent then picks as it would over the full batch of its games
        classes = opps[0].classes(bd)
        move = torch.zeros(bd.G, dtype=torch.long, device=device)
        for p in members:
            lo, hi = bounds[p]
            slot = ids[lo:hi] - p * B
            full = [torch.zeros(B, M, dtype=torch.bool, device=device).index_copy_(0, slot, c[lo:hi])
                    for c in classes]
            move[lo:hi] = pick(full, opps[p].generator).index_select(0, slot)
        return move

    bd.play(opponent_moves(range(P)), active=agent == WHITE)
    for _ in range((M + 1) // 2 + 1):  # AtariGoEnv.max_steps: the agent's moves in the longest game
        done = bd.done.clone()  # the games that had ended before this step
        members = [p for p, (lo, hi) in enumerate(bounds) if hi > lo and not bool(done[lo:hi].all())]
        if not members:
            break
        obs = bd.planes(agent)
        mask = bd.legal() | done[:, None]
        action = torch.zeros(bd.G, dtype=torch.long, device=device)
        for p in members:
            lo, hi = bounds[p]
            slot = ids[lo:hi] - p * B
            out, _ = policy.step(params[p:p + 1], obs[lo:hi].unsqueeze(0), ())
            scores = greedy_scores(out[0], mask[lo:hi])
            top, best = scores.topk(2, -1)
            pending[p] += B * M
            if bool(((top[:, 0] > top[:, 1]) | done[lo:hi]).all()):  # a unique maximum in every live game
                action[lo:hi] = best[:, 0]
            else:  # a tie in a live game: the rollout's draw for this step, in this game's rows
                u = torch.rand(pending[p], generator=gens[p], device=device, dtype=scores.dtype)
                pending[p] = 0
                noise = u[u.numel() - B * M:].view(B, M).index_select(0, slot)
                action[lo:hi] = break_ties(scores, noise)
        bd.play(action, active=~done)
        bd.play(opponent_moves(members), active=~bd.done)
        n_done = int(torch.count_nonzero(bd.done))
        if compact and n_done:  # a copy of the live games costs less than playing on with the dead ones
            record(bd.done.nonzero()[:, 0])
            keep = (~bd.done).nonzero()[:, 0]
            bd, ids, agent = bd.select(keep), ids[keep], agent[keep]
            ends = torch.bincount(ids // B, minlength=P).cumsum(0).tolist()
            bounds = [(0 if p == 0 else ends[p - 1], ends[p]) for p in range(P)]
    record(torch.arange(bd.G, device=device))
    return {"won": (winner == agent_all).reshape(P, B), "agent_color": agent_all.reshape(P, B),
            "plies": plies.reshape(P, B)}


def _rollout_cell(policy, params: torch.Tensor, N: int, level: str, games: int, seeds, device) -> dict:
    """:func:`play_cell` by one ``rollout`` per row of ``params``."""
    out = {"won": [], "agent_color": [], "plies": []}
    for p, seed in enumerate(seeds):
        env = AtariGoEnv(size=N, opponent=level, games=games, device=device)
        rollout(policy, env, params[p:p + 1], games, int(seed))
        res = env.results()
        for key in out:
            out[key].append(res[key][0])
    return {key: torch.stack(v) for key, v in out.items()}


def cell_stats(won: torch.Tensor, color: torch.Tensor, plies: torch.Tensor) -> dict:
    """One row of the report from one network's games (``(games,)`` tensors): win rates
    overall, as Black and as White with their Wilson intervals and game counts, and the
    mean number of plies."""
    games = int(won.numel())
    out = {"games": games, "mean_plies": float(plies.float().mean())}
    k = int(won.sum())
    out["win"] = k / games
    out["win_ci"] = wilson(k, games)
    for name, c in (("black", BLACK), ("white", WHITE)):
        sel = color == c
        n, kc = int(sel.sum()), int((won & sel).sum())
        out[name] = kc / max(n, 1)
        out[f"{name}_ci"] = wilson(kc, n)
        out[f"{name}_games"] = n
    return out


def win_rates(policy, params: torch.Tensor, N: int, opponent: str, games: int, seed: int,
              device="cpu") -> dict:
    """One cell of the report for one network: ``games`` greedy games of ``params`` against
    ``opponent`` on N×N (seed ``seed``), as :func:`cell_stats`."""
    res = play_cell(policy, params.reshape(1, -1), N, opponent, games, (seed,), device)
    return cell_stats(res["won"][0], res["agent_color"][0], res["plies"][0])


def final_report(env: AtariGoEnv, policy, params: torch.Tensor, run_dir, seed: int = 0,
                 games: int = 1000, sizes=SIZES, opponents=OPPONENTS) -> dict:
    """The report of ``params`` trained on ``env``: writes ``report.md`` and
    ``report.json`` into ``run_dir`` and returns a compact dict ``{"N5/L2": win rate, …,
    "floor": {…}}`` for ``summary.json``. Cell (N, i-th opponent) is played with seed
    ``seed·1000 + 10·N + i`` by both the trained and the floor network, together
    (:func:`play_cell`). ``report.json`` also holds each size's wall time in seconds
    (``size_wall_s``, keyed by N) and the torch thread count it was measured with."""
    params = params.detach().reshape(-1).cpu()
    device = env.device
    floor_params = policy.init_params(torch.Generator().manual_seed(int(seed) + 1))
    both = torch.stack([params, floor_params.to(params.dtype)])
    rows, skipped, wall = [], [], {}
    for N in sizes:
        pol = policy_for_size(policy, N)
        if pol is None:
            skipped.append(N)
            continue
        t0 = time.perf_counter()
        for i, opp in enumerate(opponents):
            s = int(seed) * 1000 + N * 10 + i
            res = play_cell(pol, both, N, opp, games, (s, s), device)
            for p, player in enumerate(("trained", FLOOR)):
                rows.append({"N": N, "opponent": opp, "player": player,
                             **cell_stats(res["won"][p], res["agent_color"][p], res["plies"][p])})
        wall[str(N)] = round(time.perf_counter() - t0, 3)
    describe = policy.describe() if hasattr(policy, "describe") else type(policy).__name__
    data = {"policy": describe, "games_per_cell": games, "seed": int(seed),
            "trained_on": {"size": env.N, "opponent": env.opponent}, "rows": rows,
            "sizes_skipped": skipped, "size_wall_s": wall, "threads": torch.get_num_threads()}
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    # one-space indent and no trailing newline, the layout report readers already parse
    write_atomic(run_dir / "report.json", json.dumps(data, indent=1))
    write_atomic(run_dir / "report.md", to_markdown(data))
    compact = {f"N{r['N']}/{r['opponent']}": round(r["win"], 4) for r in rows if r["player"] == "trained"}
    compact["floor"] = {f"N{r['N']}/{r['opponent']}": round(r["win"], 4)
                        for r in rows if r["player"] != "trained"}
    return compact


def to_markdown(data: dict) -> str:
    """``report.md`` for the ``report.json`` data of :func:`final_report`: the transfer
    table first (trained win rate per opponent and board size, the floor's in parentheses),
    each size's wall time, then every cell in detail."""
    def ci(lo_hi):
        return f"[{lo_hi[0]:.3f}, {lo_hi[1]:.3f}]"

    rows = data["rows"]
    sizes = list(dict.fromkeys(r["N"] for r in rows))
    opponents = list(dict.fromkeys(r["opponent"] for r in rows))
    win = {(r["N"], r["opponent"], r["player"]): r["win"] for r in rows}
    lines = [f"# Atari-Go report — {data['policy']}", "",
             (f"Trained on {data['trained_on']['size']}×{data['trained_on']['size']} against "
              f"{data['trained_on']['opponent']}. {data['games_per_cell']} greedy games per cell, "
              "colours alternating; 95 % Wilson intervals; plies = both players' moves."), "",
             "## Transfer", "",
             "Win rate of the trained network (of the random-weight floor in parentheses).", "",
             "| opponent | " + " | ".join(f"{N}×{N}" for N in sizes) + " |",
             "|---" * (len(sizes) + 1) + "|"]
    for opp in opponents:
        cells = [f"{win[N, opp, 'trained']:.3f} ({win[N, opp, FLOOR]:.3f})" if (N, opp, "trained") in win else "—"
                 for N in sizes]
        lines.append(f"| {opp} | " + " | ".join(cells) + " |")
    wall = data.get("size_wall_s", {})
    if wall:
        lines += ["", (f"Wall time per size (torch threads: {data.get('threads', '?')}): "
                       + ", ".join(f"{N}×{N} {wall[str(N)]:.1f} s" for N in sizes if str(N) in wall)
                       + f"; total {sum(wall.values()):.1f} s.")]
    lines += ["", "## All cells", "",
              "| N | opponent | player | win | as Black | as White | mean plies |",
              "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['N']} | {r['opponent']} | {r['player']} | {r['win']:.3f} {ci(r['win_ci'])} "
                     f"| {r['black']:.3f} {ci(r['black_ci'])} | {r['white']:.3f} {ci(r['white_ci'])} "
                     f"| {r['mean_plies']:.1f} |")
    if data["sizes_skipped"]:
        lines += ["", ("Sizes not evaluated (the policy's parameters depend on N): "
                       f"{', '.join(map(str, data['sizes_skipped']))}.")]
    return "\n".join(lines) + "\n"
