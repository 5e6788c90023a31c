"""The Atari-Go evaluation report (the protocol of docs/ATARI_GO.md, "Report and play").

For each board size N and ladder opponent: win rate over ``games`` fresh greedy games
(colours alternating, so half as Black, half as White), Black and White separately with
95 % Wilson intervals, and the mean game length in plies; the same for a random-weight
network of the same policy class (the floor). Policies whose parameter count does not
depend on N (MDLSTM) are rebuilt for each N with the same options and play every size; a
policy tied to one size (linear, MLP) is evaluated on its own N only.

It plays its games through :func:`dps.rollout.rollout`, so it lives here, above the env
(:mod:`dps.envs.atari_go` knows nothing of policies or rollouts).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from ..checkpoint import write_text_atomic
from ..envs.atari_go.constants import BLACK, WHITE
from ..envs.atari_go.env import AtariGoEnv
from ..rollout import rollout
from ..spec import signature_options

OPPONENTS = ("L0", "L2", "L4", "L5")
SIZES = (5, 7, 9)


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


def win_rates(policy, params: torch.Tensor, N: int, opponent: str, games: int, seed: int,
              device="cpu") -> dict:
    """One cell of the report: ``games`` greedy games of ``params`` against ``opponent``
    on N×N (seed ``seed``), as win rates overall, as Black and as White with their Wilson
    intervals and game counts, and the mean number of plies."""
    env = AtariGoEnv(size=N, opponent=opponent, games=games, device=device)
    rollout(policy, env, params.reshape(1, -1), games, seed)
    res = env.results()
    won, color, plies = res["won"][0], res["agent_color"][0], res["plies"][0]
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


def final_report(env: AtariGoEnv, policy, params: torch.Tensor, run_dir, seed: int = 0,
                 games: int = 1000, sizes=SIZES, opponents=OPPONENTS) -> dict:
    """The report of ``params`` trained on ``env``: writes ``report.md`` and
    ``report.json`` into ``run_dir`` and returns a compact dict ``{"N5/L2": win rate, …,
    "floor": {…}}`` for ``summary.json``. Cell (N, i-th opponent) is played with seed
    ``seed·1000 + 10·N + i`` by both the trained and the floor network."""
    params = params.detach().reshape(-1).cpu()
    device = env.device
    floor_params = policy.init_params(torch.Generator().manual_seed(int(seed) + 1))
    rows, skipped = [], []
    for N in sizes:
        pol = policy_for_size(policy, N)
        if pol is None:
            skipped.append(N)
            continue
        for i, opp in enumerate(opponents):
            s = int(seed) * 1000 + N * 10 + i
            rows.append({"N": N, "opponent": opp, "player": "trained",
                         **win_rates(pol, params, N, opp, games, s, device)})
            rows.append({"N": N, "opponent": opp, "player": "random-weight floor",
                         **win_rates(pol, floor_params, N, opp, games, s, device)})
    describe = policy.describe() if hasattr(policy, "describe") else type(policy).__name__
    data = {"policy": describe, "games_per_cell": games, "seed": int(seed),
            "trained_on": {"size": env.N, "opponent": env.opponent}, "rows": rows,
            "sizes_skipped": skipped}
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    # report.json keeps its one-space indent and no trailing newline (write_json_atomic's
    # layout differs), so existing reports and their readers see the same bytes
    write_text_atomic(json.dumps(data, indent=1), run_dir / "report.json")
    write_text_atomic(to_markdown(data), run_dir / "report.md")
    compact = {f"N{r['N']}/{r['opponent']}": round(r["win"], 4) for r in rows if r["player"] == "trained"}
    compact["floor"] = {f"N{r['N']}/{r['opponent']}": round(r["win"], 4)
                        for r in rows if r["player"] != "trained"}
    return compact


def to_markdown(data: dict) -> str:
    """``report.md`` for the ``report.json`` data of :func:`final_report`."""
    def ci(lo_hi):
        return f"[{lo_hi[0]:.3f}, {lo_hi[1]:.3f}]"

    lines = [f"# Atari-Go report — {data['policy']}", "",
             (f"Trained on {data['trained_on']['size']}×{data['trained_on']['size']} against "
              f"{data['trained_on']['opponent']}. {data['games_per_cell']} greedy games per cell, "
              "colours alternating; 95 % Wilson intervals; plies = both players' moves."), "",
             "| N | opponent | player | win | as Black | as White | mean plies |",
             "|---|---|---|---|---|---|---|"]
    for r in data["rows"]:
        lines.append(f"| {r['N']} | {r['opponent']} | {r['player']} | {r['win']:.3f} {ci(r['win_ci'])} "
                     f"| {r['black']:.3f} {ci(r['black_ci'])} | {r['white']:.3f} {ci(r['white_ci'])} "
                     f"| {r['mean_plies']:.1f} |")
    if data["sizes_skipped"]:
        lines += ["", ("Sizes not evaluated (the policy's parameters depend on N): "
                       f"{', '.join(map(str, data['sizes_skipped']))}.")]
    return "\n".join(lines) + "\n"
