"""How the default Atari-Go player's strength moves during one run: 5×5 and, without
retraining, 9×9, every ``--every`` generations.

Trains ``python -m dps.run pgpe --env atari-go --seed S`` (the env's defaults, the last
centre kept: ``--select-on none``) in chunks of ``--every`` generations through the
runner's bit-identical resume, copying the centre after each chunk to
``OUT/sS/snapshots/gGGGG.pt``. Each snapshot then plays (greedy, ``--games`` games per cell,
seed 1234) the cells the acceptance targets name: 5×5 against L2 and L6, 9×9 against L2 and
L5; and the score the default run's ``--select-on`` gives it (the lowest of its success
rates on the training env and on 9×9 against L5, ``--select-games`` fixed-seed games each,
the run's own seeds).

    python experiments/trajectory_atari_go.py --seeds 0,3 --jobs 2
    python experiments/trajectory_atari_go.py --seeds 0,3 --eval-only    # snapshots already there

Outputs ``RESULTS/trajectory.jsonl`` (one object per seed and snapshot), ``RESULTS/trajectory.md``
and ``RESULTS/trajectory.png``; run directories and snapshots stay in ``--out`` (git-ignored).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CELLS = ((5, "L2"), (5, "L6"), (9, "L2"), (9, "L5"))
TARGETS = {"N5/L2": 0.97, "N5/L6": 0.60, "N9/L2": 0.95, "N9/L5": 0.85}


def train_seed(seed: int, args) -> None:
    """Train one seed chunk by chunk, copying the centre after each chunk (skips done chunks)."""
    import torch

    from dps.checkpoint import load_checkpoint, save_atomic
    from dps.run import run_config
    from dps.runner import train
    torch.set_num_threads(1)
    run = Path(args.out) / f"s{seed}" / "run"
    snaps = run.parent / "snapshots"
    snaps.mkdir(parents=True, exist_ok=True)
    cfg = run_config(["pgpe", "--env", "atari-go", "--seed", str(seed), "--generations", str(args.every),
                      "--select-on", "none", "--out", str(run)])
    for g in range(args.every, args.generations + 1, args.every):
        if (snaps / f"g{g:05d}.pt").exists():
            continue
        if not (run / "checkpoint.pt").exists():
            train(cfg, quiet=True, final_eval=False, report=False, overwrite=True)
        else:
            train(cfg, resume=str(run), quiet=True, final_eval=False, report=False, changes={"generations": g})
        ck = load_checkpoint(run / "checkpoint.pt")
        if int(ck["generation"]) != g:
            raise SystemExit(f"seed {seed}: checkpoint at generation {ck['generation']}, expected {g}")
        save_atomic({"policy": ck["policy"], "center": ck["center"], "generation": g}, snaps / f"g{g:05d}.pt")
        print(f"seed {seed}: generation {g}", flush=True)


def evaluate_seed(seed: int, args) -> list[dict]:
    import torch

    from dps.envs.registry import make_env
    from dps.evaluation import run_episodes
    from dps.evaluation.atari_go import policy_for_size, win_rates
    from dps.policies import make_policy
    from dps.seeding import SELECT, derive_seed
    torch.set_num_threads(1)
    snaps = sorted((Path(args.out) / f"s{seed}" / "snapshots").glob("g*.pt"))
    select_envs = [make_env(s) for s in ("atari-go", "atari-go:size=9,opponent=L5")]
    rows = []
    for f in snaps:
        ck = torch.load(f, weights_only=True)
        params, spec = ck["center"], ck["policy"]
        pol = make_policy(spec, (2, 5, 5), 25)
        row = {"seed": seed, "generation": int(ck["generation"])}
        for N, opp in CELLS:
            row[f"N{N}/{opp}"] = win_rates(policy_for_size(pol, N), params, N, opp, args.games, 1234)["win"]
        scores = []
        for i, env in enumerate(select_envs):  # as dps.runner.selection scores a centre
            p = make_policy(spec, env.observation_shape, env.action_space.out_size)
            res = run_episodes(p, env, params[None], args.select_games, derive_seed(seed, SELECT, i))
            scores.append(float(res.success.float().mean()))
        row["select_score"] = min(scores)
        rows.append(row)
    return rows


def _worker(seed: int, args, eval_only: bool) -> None:
    if not eval_only:
        train_seed(seed, args)
    from dps.checkpoint import write_atomic
    rows = evaluate_seed(seed, args)
    write_atomic(Path(args.out) / f"s{seed}" / "trajectory.jsonl", "".join(json.dumps(r) + "\n" for r in rows))


def summarize(args, seeds: list[int], load: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dps.checkpoint import write_atomic, write_figure
    rows = []
    for s in seeds:
        rows += [json.loads(line) for line in (Path(args.out) / f"s{s}" / "trajectory.jsonl").read_text().splitlines()]
    res = Path(args.results)
    res.mkdir(parents=True, exist_ok=True)
    write_atomic(res / "trajectory.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    fig, axes = plt.subplots(1, len(seeds), figsize=(5.5 * len(seeds), 4), squeeze=False)
    lines = [f"# The default Atari-Go player during training, seeds {', '.join(map(str, seeds))}", "",
             f"Command: `python experiments/trajectory_atari_go.py --seeds {','.join(map(str, seeds))} "
             f"--generations {args.generations} --every {args.every} --games {args.games} "
             f"--select-games {args.select_games}`. Each snapshot is the centre of `python -m dps.run pgpe --env "
             f"atari-go --seed S --select-on none` after that many generations; {args.games} greedy games per "
             f"cell (seed 1234); `select` is the score the default run's `--select-on` gives it (lowest success "
             f"rate over the training env and 9×9 vs L5, {args.select_games} fixed-seed games each). "
             f"Machine: {platform.machine()}, {os.cpu_count()} cores; {load}.", "",
             "Targets: " + ", ".join(f"{k} ≥ {v}" for k, v in TARGETS.items()) + ". ✓: a snapshot meeting all four.",
             "", "| seed | generation | " + " | ".join(TARGETS) + " | select | all targets |",
             "|---|---|" + "---|" * (len(TARGETS) + 2)]
    for ax, s in zip(axes[0], seeds):
        mine = sorted((r for r in rows if r["seed"] == s), key=lambda r: r["generation"])
        gens = [r["generation"] for r in mine]
        for k in TARGETS:
            ax.plot(gens, [r[k] for r in mine], label=k)
        ax.plot(gens, [r["select_score"] for r in mine], "k--", label="select score")
        ax.set_title(f"seed {s}")
        ax.set_xlabel("generation")
        ax.set_ylim(0.2, 1.01)
        ax.grid(alpha=0.3)
        for r in mine:
            ok = all(r[k] >= v for k, v in TARGETS.items())
            lines.append(f"| {s} | {r['generation']} | " + " | ".join(f"{r[k]:.3f}" for k in TARGETS)
                         + f" | {r['select_score']:.3f} | {'✓' if ok else ''} |")
    axes[0][0].set_ylabel("greedy win rate")
    axes[0][-1].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    write_figure(fig, res / "trajectory.png", 110)
    write_atomic(res / "trajectory.md", "\n".join(lines) + "\n")
    print(f"wrote {res / 'trajectory.md'}, trajectory.png, trajectory.jsonl")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0,3")
    ap.add_argument("--generations", type=int, default=3000)
    ap.add_argument("--every", type=int, default=100)
    ap.add_argument("--games", type=int, default=1000)
    ap.add_argument("--select-games", type=int, default=500)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--eval-only", action="store_true", help="evaluate the snapshots already in --out")
    ap.add_argument("--out", default="runs/atari_go_trajectory")
    ap.add_argument("--results", default=str(ROOT / "experiments/results/atari_go_selection"))
    ap.add_argument("--seed-worker", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generations % args.every:
        ap.error("--generations must be a multiple of --every")
    if args.seed_worker is not None:
        _worker(args.seed_worker, args, args.eval_only)
        return
    seeds = [int(s) for s in args.seeds.split(",")]
    load = f"load average {os.getloadavg()[0]:.2f} at the start"
    t0 = time.time()
    base = [sys.executable, __file__, "--generations", str(args.generations), "--every", str(args.every),
            "--games", str(args.games), "--select-games", str(args.select_games), "--out", args.out,
            *(["--eval-only"] if args.eval_only else [])]
    pending = list(seeds)
    running: list[subprocess.Popen] = []
    while pending or running:
        while pending and len(running) < args.jobs:
            running.append(subprocess.Popen([*base, "--seed-worker", str(pending.pop(0))]))
        time.sleep(1)
        for p in [p for p in running if p.poll() is not None]:
            running.remove(p)
            if p.returncode:
                raise SystemExit(f"a seed worker failed with exit code {p.returncode}")
    summarize(args, seeds, f"{load}, {time.time() - t0:.0f} s in all, {args.jobs} seed(s) at a time")


if __name__ == "__main__":
    main()
