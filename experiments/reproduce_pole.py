"""Reproduce the pole-balancing table of Gomez, Schmidhuber & Miikkulainen (JMLR 2008;
REFERENCES §8): evaluations to solve for CMA-ES, PGPE, SNES and past-descent ES.

    python experiments/reproduce_pole.py --seeds 20                 # full setting (issue 4: >= 20 seeds)
    python experiments/reproduce_pole.py --seeds 5 --tasks a b      # reduced
    python experiments/reproduce_pole.py --seeds 3 --tasks c --methods cmaes pgpe --jobs 2

Tasks (all on dps's ``cartpole`` env, RK4, fixed standard start θ₁ = 4°, 1000-step training
episodes, ONE episode per member per generation):

* ``a`` — single pole with velocities (Markov), fitness = steps balanced; policy ``linear``.
* ``b`` — double pole with velocities (Markov), fitness = steps; policy ``linear``.
* ``c`` — double pole without velocities, damping fitness; policy ``lstm:hidden=4,input_scale=10``
  (the registry default for cartpole).

Evaluations = training episodes (popsize per generation, whole generations counted, up to
and including the generation in which the solver appeared). The extra solve checks are
NOT counted as evaluations; their number and wall time are reported separately.

"Solved":

* a, b: a member's training episode balances the 1000 steps (the candidate), and the
  candidate balances the standard start for 100,000 steps (the long check).
* c: in every generation whose best member (highest damping fitness among members that
  reached the 1000-step limit) exists AND beats the damping fitness of every member tested
  before, that member is tested on the 625 grid starts (one batched rollout, ≈ 4 s of CPU;
  counted in ``grid_checks``); ≥ 200/625 makes it a candidate,
  and the candidate must then balance the standard start for 100,000 steps.

The 100,000-step check costs ≈ 1–2 ms per step (≈ 2–3 min for a policy that balances).
``--long-check inline`` runs it inside the run, on each candidate, and keeps training if it
fails (the exact criterion; the full setting). ``--long-check posthoc`` (reduced setting)
stops a run at its first candidate and afterwards checks all candidates of a task in ONE
batched rollout; a candidate that fails is then reported as unsolved-at-that-count (the
table's median counts only runs whose candidate passed).

Writes ``runs.csv``, ``summary.csv`` and ``results.md`` to ``experiments/results/pole/``.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import csv
import json
import platform
import shlex
import statistics
import sys
import time
from multiprocessing import get_context
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dps.algorithms import get_algorithm  # noqa: E402
from dps.algorithms.base import config_from_dict  # noqa: E402
from dps.envs.cartpole import CartPole  # noqa: E402
from dps.policies import make_policy  # noqa: E402
from dps.problem import INIT, TRAIN, derive_seed  # noqa: E402
from dps.rollout import rollout  # noqa: E402

OUT_DEFAULT = Path(__file__).resolve().parent / "results" / "pole"
OUT = OUT_DEFAULT

TASKS = {
    "a": dict(title="1 pole, Markov", env=dict(poles=1, velocities=True, fitness="steps"),
              policy="linear", cap=2_000),
    "b": dict(title="2 poles, with velocities", env=dict(poles=2, velocities=True, fitness="steps"),
              policy="linear", cap=5_000),
    "c": dict(title="2 poles, no velocities, damping fitness",
              env=dict(poles=2, velocities=False, fitness="damping"),
              policy="lstm:hidden=4,input_scale=10", cap=10_000),
}
#: Gomez et al. 2008, mean evaluations to solve (REFERENCES §8)
PUBLISHED_COLS = ["CoSyNE", "CMA-ES", "NEAT", "ESP", "SANE", "CNE"]
PUBLISHED = {
    "a": [98, 283, 743, 289, 302, 352],
    "b": [954, 895, 3600, 3800, 12600, 22100],
    "c": [3416, 6061, 6929, 26342, 451612, 87623],
}
GENERALISATION_PUBLISHED = "NEAT 286, ESP 289, CMA-ES 250 (of 625)"

#: per-method options (algorithm Config fields; ``init_scale`` = scale of the fan-in random
#: initial centre, as the runner uses), per task where they differ
METHODS = {
    "cmaes": {"a": dict(sigma0=1.0), "b": dict(sigma0=1.0), "c": dict(sigma0=0.5, popsize=20)},
    "pgpe": {t: dict(variant="modern", popsize=20, lr_mu=0.1, sigma_init=(1.0 if t != "c" else 0.5),
                     init_scale=1.0) for t in "abc"},
    "snes": {t: dict(stdev_init=(1.0 if t != "c" else 0.5)) for t in "abc"},
    "pdes": {"a": dict(popsize=8, sigma=0.5, lr=0.1, shaping="centered"),
             "b": dict(popsize=12, sigma=0.5, lr=0.1, shaping="centered"),
             "c": dict(popsize=20, sigma=0.2, lr=0.05, shaping="centered")},
}
GRID_MIN = 200
LONG_STEPS = CartPole.solve_steps


def make_searcher(method: str, task: str, policy, seed: int):
    opts = dict(METHODS[method][task])
    cls = get_algorithm(method).load()
    names = set(cls.Config.__dataclass_fields__)
    scale = opts.get("init_scale", 1.0)
    if "init_scale" not in names:
        opts.pop("init_scale", None)
    g = torch.Generator().manual_seed(derive_seed(seed, INIT))
    center = policy.init_params(g, scale=scale)
    return cls(center=center, config=config_from_dict(cls.Config, opts), seed=derive_seed(seed, 0))


def grid_score(policy, task: str, params: torch.Tensor, seed: int) -> torch.Tensor:
    """(P,) number of the 625 grid starts balanced for 1000 steps, one batched rollout."""
    e = TASKS[task]["env"]
    env = CartPole(poles=e["poles"], velocities=e["velocities"], fitness="steps", max_steps=1000, start="grid")
    res = rollout(policy, env, params.reshape(params.shape[0], -1), 625, seed)
    return res.success.sum(1)


def long_check(policy, task: str, params: torch.Tensor, seed: int) -> torch.Tensor:
    """(P,) bool: the standard start balanced for 100,000 steps (batched)."""
    e = TASKS[task]["env"]
    env = CartPole(poles=e["poles"], velocities=e["velocities"], fitness="steps", max_steps=LONG_STEPS,
                   start="standard")
    return rollout(policy, env, params.reshape(params.shape[0], -1), 1, seed).success[:, 0]


def run_one(job) -> dict:
    task, method, seed, cap, long_mode, deadline = job
    if deadline is not None and time.time() > deadline:
        return None
    torch.set_num_threads(1)
    spec = TASKS[task]
    env = CartPole(max_steps=1000, start="standard", **spec["env"])
    policy = make_policy(spec["policy"], env.observation_shape, env.action_space.out_size)
    searcher = make_searcher(method, task, policy, seed)
    t0 = time.perf_counter()
    evals = env_steps = gens = 0
    grid_checks = grid_s = long_checks = long_s = 0
    solved_at = None
    best_tested = -float("inf")
    best_grid = None if task != "c" else 0
    candidate, cand_grid, cand_long = None, None, None
    cut = False
    while evals < cap:
        if deadline is not None and time.time() > deadline:
            cut = True          # stopped by --deadline before the cap: not a failure at the cap
            break
        params = searcher.ask()
        res = rollout(policy, env, params, 1, derive_seed(seed, TRAIN, gens))
        fit = res.fitness().to(params.dtype).cpu()
        searcher.tell(fit)
        gens += 1
        evals += res.episodes
        env_steps += res.env_steps
        ok = res.success[:, 0].cpu()
        if not bool(ok.any()):
            continue
        # best member among those that reached the limit
        masked = torch.where(ok, fit.double(), torch.full_like(fit.double(), -float("inf")))
        best = params[int(masked.argmax())].detach().clone()
        g = None
        if task == "c":
            if float(masked.max()) <= best_tested:
                continue
            best_tested = float(masked.max())
            t1 = time.perf_counter()
            g = int(grid_score(policy, task, best[None], derive_seed(seed, 77, gens))[0])
            grid_s += time.perf_counter() - t1
            grid_checks += 1
            best_grid = max(best_grid, g)
            if g < GRID_MIN:
                continue
        if long_mode == "inline":
            t1 = time.perf_counter()
            passed = bool(long_check(policy, task, best[None], derive_seed(seed, 78, gens))[0])
            long_s += time.perf_counter() - t1
            long_checks += 1
            if not passed:
                continue
            cand_long = True
        solved_at, candidate, cand_grid = evals, best, g
        break
    return {"task": task, "method": method, "seed": seed, "cap": cap, "policy": spec["policy"],
            "num_params": policy.num_params, "candidate_at": solved_at, "cut_by_deadline": cut, "generations": gens,
            "evaluations_used": evals, "env_steps": env_steps, "grid_checks": grid_checks,
            "grid_check_s": round(grid_s, 2), "inline_long_checks": long_checks,
            "inline_long_check_s": round(long_s, 2), "generalization": cand_grid,
            "long_ok": cand_long, "best_grid_seen": best_grid, "wall_s": round(time.perf_counter() - t0, 2),
            "candidate": None if candidate is None else candidate.tolist()}


def posthoc(rows: list[dict]) -> dict:
    """Batched long checks (and grid scores for a, b) of every candidate, per task."""
    torch.set_num_threads(1)
    cost = {}
    for task in TASKS:
        sel = [r for r in rows if r["task"] == task and r["candidate"] is not None]
        if not sel:
            continue
        e = TASKS[task]["env"]
        env = CartPole(max_steps=1000, **e)
        policy = make_policy(TASKS[task]["policy"], env.observation_shape, env.action_space.out_size)
        X = torch.tensor([r["candidate"] for r in sel], dtype=torch.float32)
        t0 = time.perf_counter()
        if task != "c":
            gs = grid_score(policy, task, X, 12345)
            for r, g in zip(sel, gs.tolist()):
                r["generalization"] = int(g)
        t1 = time.perf_counter()
        todo = [i for i, r in enumerate(sel) if r["long_ok"] is None]
        if todo:
            ok = long_check(policy, task, X[todo], 4242)
            for i, o in zip(todo, ok.tolist()):
                sel[i]["long_ok"] = bool(o)
        cost[task] = {"candidates": len(sel), "grid_s": round(t1 - t0, 1),
                      "long_checked": len(todo), "long_s": round(time.perf_counter() - t1, 1)}
        print(f"posthoc {task}: {cost[task]}", flush=True)
    return cost


def quartiles(xs):
    xs = sorted(xs)
    if len(xs) == 1:
        return xs[0], xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], statistics.median(xs), q[2]


def summarise(rows):
    out = []
    for task in TASKS:
        for method in METHODS:
            sel = [r for r in rows if r["task"] == task and r["method"] == method and not r["cut_by_deadline"]]
            if not sel:
                continue
            solved = [r for r in sel if r["candidate_at"] is not None and r["long_ok"]]
            cands = [r for r in sel if r["candidate_at"] is not None]
            xs = [r["candidate_at"] for r in solved]
            q1, med, q3 = quartiles(xs) if xs else (None, None, None)
            gens = [r["generalization"] for r in solved if r["generalization"] is not None]
            out.append({"task": task, "method": method, "policy": sel[0]["policy"],
                        "num_params": sel[0]["num_params"], "runs": len(sel), "cap": sel[0]["cap"],
                        "candidates": len(cands), "solved": len(solved), "median": med, "q1": q1, "q3": q3,
                        "mean": statistics.mean(xs) if xs else None,
                        "median_generalization": statistics.median(gens) if gens else None,
                        "grid_checks": sum(r["grid_checks"] for r in sel),
                        "grid_check_s": round(sum(r["grid_check_s"] for r in sel), 1),
                        "wall_s": round(sum(r["wall_s"] for r in sel), 1)})
    return out


def fmt(x, nd=0):
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:,.{nd}f}"
    return f"{x:,}"


def write(rows, summary, cost, args, wall, argv):
    OUT.mkdir(parents=True, exist_ok=True)
    cols = [k for k in rows[0] if k != "candidate"]
    with open(OUT / "runs.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    with open(OUT / "candidates.json", "w") as f:
        json.dump([{k: r[k] for k in ("task", "method", "seed", "candidate")} for r in rows], f)
    with open(OUT / "summary.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(summary[0]))
        w.writeheader()
        w.writerows(summary)
    L = ["# Pole balancing: evaluations to solve (Gomez et al. 2008 table vs dps)", "",
         "Command: `" + " ".join(["python", "experiments/reproduce_pole.py"] + [shlex.quote(a) for a in argv]) + "`", "",
         f"Seeds: {args.seed_list}; long check: {args.long_check}; jobs: {args.jobs}; "
         f"machine: {platform.node()} ({os.cpu_count()} CPUs, shared with other jobs), torch {torch.__version__}, "
         f"1 torch thread per process; total wall time {wall / 60:.1f} min; "
         f"runs skipped or cut by --deadline (left out of the table): {args.skipped}.", "",
         "Evaluations = training episodes (one 1000-step episode per member per generation, standard "
         "start, whole generations counted). Median and IQR over the runs that solved; "
         "`solved` = runs whose candidate passed every criterion within the cap.", ""]
    for task, spec in TASKS.items():
        srows = [s for s in summary if s["task"] == task]
        if not srows:
            continue
        pub = PUBLISHED[task]
        L += [f"## ({task}) {spec['title']}", "",
              f"Policy `{spec['policy']}` ({srows[0]['num_params']} parameters); cap {spec['cap']:,} evaluations per run.", "",
              "Published (mean evaluations): " + ", ".join(f"{c} {v:,}" for c, v in zip(PUBLISHED_COLS, pub)), "",
              "| method | options | solved / runs | median evals | IQR | mean | median generalisation (of 625) | 625-tests (s) | wall s (all runs) |",
              "|---|---|---|---|---|---|---|---|---|"]
        for s in srows:
            iqr = "–" if s["q1"] is None else f"{s['q1']:,.0f}–{s['q3']:,.0f}"
            L.append(f"| {s['method']} | `{json.dumps(METHODS[s['method']][task])}` | {s['solved']} / {s['runs']} "
                     f"(candidates {s['candidates']}) | {fmt(s['median'], 0)} | {iqr} | {fmt(s['mean'], 0)} | "
                     f"{fmt(s['median_generalization'], 0)} | {s['grid_checks']} ({s['grid_check_s']}) | {s['wall_s']} |")
        if task in cost:
            c = cost[task]
            L += ["", f"Post-hoc checks: {c['candidates']} candidates; 625-grid scores {c['grid_s']} s (batched); "
                  f"{c['long_checked']} 100,000-step checks in one batched rollout: {c['long_s']} s."]
        il = [r for r in rows if r["task"] == task and r["inline_long_checks"]]
        if il:
            L += ["", f"Inline 100,000-step checks: {sum(r['inline_long_checks'] for r in il)}, "
                  f"{sum(r['inline_long_check_s'] for r in il):.0f} s."]
        L.append("")
    L += [f"Published generalisation: {GENERALISATION_PUBLISHED}.", "",
          "Per-run rows: `runs.csv`; per-(task, method): `summary.csv`; solver weights: `candidates.json`."]
    (OUT / "results.md").write_text("\n".join(L) + "\n")


def main(argv=None):
    global OUT
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--seeds", type=int, default=20, help="seeds 0..N-1 (20 = the full setting)")
    p.add_argument("--seeds-per-task", nargs="*", default=[], metavar="TASK=N",
                   help="override the seed count per task, e.g. c=3")
    p.add_argument("--cap", nargs="*", default=[], metavar="TASK=N", help="override the evaluation cap")
    p.add_argument("--long-check", choices=["inline", "posthoc"], default="inline")
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel (processes)")
    p.add_argument("--deadline", type=float, default=None,
                   help="minutes after which runs not yet started are skipped (reported as skipped)")
    p.add_argument("--out", default=str(OUT_DEFAULT), help="output directory")
    args = p.parse_args(argv)
    OUT = Path(args.out)
    nseeds = {t: args.seeds for t in TASKS}
    for kv in args.seeds_per_task:
        k, v = kv.split("=")
        nseeds[k] = int(v)
    for kv in args.cap:
        k, v = kv.split("=")
        TASKS[k]["cap"] = int(v)
    args.seed_list = {t: f"0..{nseeds[t] - 1}" for t in args.tasks}
    # seed-major order: every method's seed 0 first, so a run cut by --deadline stays balanced
    jobs = [(t, m, s, TASKS[t]["cap"], args.long_check)
            for t in sorted(args.tasks, key=lambda t: "cba".index(t)) for s in range(nseeds[t])
            for m in args.methods]
    deadline = None if args.deadline is None else time.time() + 60 * args.deadline
    jobs = [j + (deadline,) for j in jobs]
    t0 = time.perf_counter()
    rows, skipped = [], 0
    with get_context("fork").Pool(args.jobs) as pool:
        for r in pool.imap_unordered(run_one, jobs):
            if r is None:
                skipped += 1
                continue
            rows.append(r)
            print(f"[{time.perf_counter() - t0:7.0f}s] {r['task']} {r['method']:6s} seed {r['seed']}: "
                  f"{'CUT BY DEADLINE at ' + str(r['evaluations_used']) + ' evals, ' if r['cut_by_deadline'] else ''}"
                  f"candidate at {r['candidate_at']} evals, generalization {r['generalization']}, "
                  f"{r['generations']} gens, {r['grid_checks']} grid tests, {r['wall_s']} s", flush=True)
    print(f"{skipped} runs skipped by --deadline", flush=True)
    args.skipped = skipped + sum(r["cut_by_deadline"] for r in rows)
    rows.sort(key=lambda r: (r["task"], list(METHODS).index(r["method"]), r["seed"]))
    cost = posthoc(rows)  # grid scores of a, b candidates; long checks not yet done (posthoc mode)
    summary = summarise(rows)
    write(rows, summary, cost, args, time.perf_counter() - t0, argv)
    print((OUT / "results.md").read_text())


if __name__ == "__main__":
    main()
