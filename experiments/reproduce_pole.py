"""Reproduce the pole-balancing table of Gomez, Schmidhuber & Miikkulainen (JMLR 9:937–965,
2008; the published table is in docs/POLE.md): evaluations to solve for CMA-ES, PGPE, SNES and past-descent ES.

    python experiments/reproduce_pole.py --seeds 20                 # full setting (>= 20 seeds)
    python experiments/reproduce_pole.py --seeds 5 --tasks a b      # reduced
    python experiments/reproduce_pole.py --seeds 3 --tasks c --methods cmaes pgpe --jobs 2

Tasks (all on dps's ``cartpole`` physics, RK4, fixed standard start θ₁ = 4°, ONE trial per
member per generation):

* ``a`` — single pole with velocities (Markov), fitness = steps balanced; policy ``linear``.
* ``b`` — double pole with velocities (Markov), fitness = steps balanced; policy ``linear``.
* ``c`` — double pole without velocities, damping fitness on 1000-step trials; the policy
  and the options of PGPE, CMA-ES and SNES are the runner's defaults for this env
  (``dps/runner/defaults.py``; the policy ``lstm:hidden=6,forget_bias=0,input_scale=0.5+1.5+1.5``),
  so this script and ``python -m dps.run ALGO --env cartpole:poles=2,velocities=false`` run
  the same searches (``--policy c=SPEC`` and ``--set`` to change them).

Evaluations = trials (popsize per generation, whole generations counted, up to and including
the generation in which the solver appeared). The grid tests and 100,000-step checks of task c
are NOT counted as evaluations (as in the published protocol, where the generation's champion
is tested); their number and wall time are reported separately.

"Solved" (Gomez et al. 2008):

* a, b: a member balances the standard start for 100,000 steps in its trial — each trial
  runs up to 100,000 steps, as in the published protocol. These trials are simulated by
  :func:`dps.envs.cartpole_fast.linear_balance_steps` (the same equations in Python floats,
  ~10 µs per step against ~1.4 ms for the batched torch env); afterwards every solver is
  re-checked on the torch env in one batched rollout (``torch_verified``), and only verified
  solvers count.
* c: every generation's champion (its best member by damping fitness) is tested, as in the
  published protocol (NEAT's ``pole2_epoch`` tests a champion every generation): if its
  trial reached the 1000-step limit, on the 625 grid starts; ≥ 200/625 makes it a
  candidate, which is checked for 100,000 steps on the standard start (torch env). A
  candidate that passes is the solver and stops the run; one that fails is counted
  (``long_fails``), kept (``failed_candidates.json``) and the search goes on.
  ``--test-champions record`` tests only a champion that beats every member the run tested
  before (the protocol of the tables made before 2026-12-02). The runs of task c go in
  lock-step (``run_group``): one batched rollout per generation holds every run's
  population; the tests are collected over 25 generations and run as one batched grid
  rollout and one batched 100,000-step rollout, with each run's counters restored to its
  solver's generation (the same result as testing at once; tested).
  (Until 2026-12-02 the run stopped at its first candidate and the check came afterwards,
  so a candidate failing it ended the run unsolved.)

Writes ``runs.csv``, ``summary.csv``, ``results.md``, ``meta.json`` and ``candidates.json`` to
``--out`` (default ``runs/pole/`` of the repository, git-ignored; the committed tables were made
with ``--out experiments/results/pole/NAME``, see docs/POLE.md).
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import csv
import json
import math
import platform
import shlex
import statistics
import sys
import time
from multiprocessing import get_context
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dps.algorithms import ALGORITHMS  # noqa: E402
from dps.algorithms.base import config_from_dict  # noqa: E402
from dps.checkpoint import write_atomic, write_csv  # noqa: E402
from dps.envs.cartpole import CartPole  # noqa: E402
from dps.envs.cartpole_fast import linear_balance_steps  # noqa: E402
from dps.evaluation.cartpole import GENERALIZATION_MIN, balance_steps, grid_scores  # noqa: E402
from dps.native import cpu_model  # noqa: E402
from dps.policies import make_policy  # noqa: E402
from dps.rollout import rollout  # noqa: E402
from dps.runner import RunConfig, resolve  # noqa: E402
from dps.seeding import INIT, TRAIN, derive_seed  # noqa: E402

OUT_DEFAULT = Path(__file__).resolve().parents[1] / "runs" / "pole"
OUT = OUT_DEFAULT
DPNV = "cartpole:poles=2,velocities=false"
#: the runner's resolved settings on task c's env: one defaults table for the script and the
#: command line (past-descent ES keeps its own options below)
RUNNER_C = {algo: resolve(RunConfig(algo=algo, env=DPNV)) for algo in ("cmaes", "pgpe", "snes")}


def runner_defaults(algo: str) -> dict:
    """The runner's options for ``algo`` on task c's env, its population size included."""
    r = RUNNER_C[algo]
    return dict(r.algo_options, popsize=r.popsize)


POLE_TASKS = {
    "a": dict(title="1 pole, Markov", env=dict(poles=1, velocities=True, fitness="steps"),
              policy="linear", cap=2_000),
    "b": dict(title="2 poles, with velocities", env=dict(poles=2, velocities=True, fitness="steps"),
              policy="linear", cap=5_000),
    "c": dict(title="2 poles, no velocities, damping fitness",
              env=dict(poles=2, velocities=False, fitness="damping"),
              policy=RUNNER_C["snes"].policy, cap=10_000),
}
#: Gomez et al. 2008, mean evaluations to solve
PUBLISHED_COLS = ["CoSyNE", "CMA-ES", "NEAT", "ESP", "SANE", "CNE"]
PUBLISHED = {
    "a": [98, 283, 743, 289, 302, 352],
    "b": [954, 895, 3600, 3800, 12600, 22100],
    "c": [3416, 6061, 6929, 26342, 451612, 87623],
}
GENERALISATION_PUBLISHED = "NEAT 286, ESP 289, CMA-ES 250 (of 625)"

#: per-method options (algorithm Config fields; ``init_scale`` = scale of the fan-in random
#: initial centre, as the runner uses), per task where they differ (c: the runner's, chosen
#: by the sweeps of docs/POLE.md; past-descent ES has no runner default for this env)
METHODS = {
    "cmaes": {"a": dict(sigma0=1.0, popsize=20), "b": dict(sigma0=1.0, popsize=20), "c": runner_defaults("cmaes")},
    "pgpe": {"a": dict(variant="modern", popsize=20, lr_mu=0.1, sigma_init=1.0, init_scale=1.0),
             "b": dict(variant="modern", popsize=20, lr_mu=0.1, sigma_init=1.0, init_scale=1.0),
             "c": runner_defaults("pgpe")},
    "snes": {"a": dict(stdev_init=1.0), "b": dict(stdev_init=1.0), "c": runner_defaults("snes")},
    "pdes": {"a": dict(popsize=8, sigma=0.5, lr=0.1, shaping="centered"),
             "b": dict(popsize=12, sigma=0.5, lr=0.1, shaping="centered"),
             "c": dict(popsize=20, sigma=0.2, lr=0.05, shaping="centered")},
}
#: the runner's champion test uses the same threshold (dps/runner/champions.py)
GRID_MIN = GENERALIZATION_MIN
LONG_STEPS = CartPole.solve_steps


def make_searcher(method: str, task: str, policy, seed: int):
    opts = dict(METHODS[method][task])
    cls = ALGORITHMS[method].load()
    names = set(cls.Config.__dataclass_fields__)
    scale = opts.get("init_scale", 1.0)
    if "init_scale" not in names:
        opts.pop("init_scale", None)
    g = torch.Generator().manual_seed(derive_seed(seed, INIT))
    center = policy.init_params(g, scale=scale)
    return cls(center=center, config=config_from_dict(cls.Config, opts), seed=derive_seed(seed, 0))


def _task_env(task: str) -> CartPole:
    e = POLE_TASKS[task]["env"]
    return CartPole(poles=e["poles"], velocities=e["velocities"])


def grid_score(policy, task: str, params: torch.Tensor, seed: int) -> torch.Tensor:
    """(P,) number of the 625 grid starts balanced for 1000 steps, one batched rollout."""
    return grid_scores(policy, _task_env(task), params, seed)


def long_check(policy, task: str, params: torch.Tensor, seed: int) -> torch.Tensor:
    """(P,) long: steps each member balances the standard start, up to 100,000, on the torch
    env (one batched rollout; ≈ 1.4 ms per step whatever P on the torch path). 100,000 = passed."""
    return balance_steps(policy, _task_env(task), params, seed)


def _row(task, method, seed, cap, policy):
    return {"task": task, "method": method, "seed": seed, "cap": cap, "policy": POLE_TASKS[task]["policy"],
            "num_params": policy.num_params, "candidate_at": None, "cut_by_deadline": False, "generations": 0,
            "evaluations_used": 0, "env_steps": 0, "grid_checks": 0, "grid_check_s": 0.0,
            "long_checks": 0, "long_fails": 0, "long_check_s": 0.0,
            "generalization": None, "long_ok": None, "torch_verified": None, "best_grid_seen": None,
            "best_steps_seen": 0, "first_balance_at": None, "wall_s": 0.0, "candidate": None, "failed": []}


def run_markov(job) -> dict:
    """Tasks a, b: every member is one trial of up to 100,000 steps from the standard start
    (fitness = steps balanced), simulated by :func:`linear_balance_steps`; the first member
    that balances all 100,000 steps is the solver (verified on the torch env afterwards)."""
    task, method, seed, cap, deadline = job
    if deadline is not None and time.time() > deadline:
        return None
    torch.set_num_threads(1)
    spec = POLE_TASKS[task]
    env = CartPole(max_steps=1000, start="standard", **spec["env"])
    policy = make_policy(spec["policy"], env.observation_shape, env.action_space.out_size)
    searcher = make_searcher(method, task, policy, seed)
    r = _row(task, method, seed, cap, policy)
    t0 = time.perf_counter()
    e = spec["env"]
    while r["evaluations_used"] < cap:
        if deadline is not None and time.time() > deadline:
            r["cut_by_deadline"] = True   # stopped by --deadline before the cap: not a failure at the cap
            break
        params = searcher.ask()
        steps = [linear_balance_steps(x.tolist(), poles=e["poles"], velocities=e["velocities"],
                                      max_steps=LONG_STEPS) for x in params]
        searcher.tell(torch.tensor(steps, dtype=params.dtype))
        r["generations"] += 1
        r["evaluations_used"] += len(steps)
        r["env_steps"] += sum(steps)
        r["best_steps_seen"] = max(r["best_steps_seen"], max(steps))
        if max(steps) >= LONG_STEPS:
            r["candidate_at"] = r["evaluations_used"]
            r["candidate"] = params[steps.index(max(steps))].tolist()
            r["long_ok"] = True
            break
    r["wall_s"] = round(time.perf_counter() - t0, 2)
    return r


#: how the generation's champion of task c is chosen for testing (``--test-champions``):
#: ``each`` — the best member of every generation, as in the published protocol (NEAT's
#: ``pole2_epoch`` tests a champion every generation); ``record`` — only a best member that
#: beats every member the run tested before (the protocol of the tables before 2026-12-02).
CHAMPION_TESTS = ("each", "record")
#: task c's tests are deferred and batched: the champions collected over this many
#: generations are grid-tested in one rollout, the ≥ 200 ones 100,000-step-checked in one more
#: (the outcome does not depend on it: a run's first passing candidate, in generation order,
#: is its solver, and its counters are restored to that generation)
FLUSH_GENERATIONS = 25
_SNAPSHOT = ("generations", "evaluations_used", "env_steps", "best_steps_seen")


def _flush(policy, task: str, pending: list, it: int) -> None:
    """Test the champions ``pending`` (a list of (run, snapshot, params, t)) in generation order:
    one batched 625-grid rollout, one batched 100,000-step check of those with ≥ 200. A run's
    first passing candidate makes it solved, with its counters and time restored to that
    candidate's generation (as if it had been tested at once); its later candidates are dropped."""
    if not pending:
        return
    t0 = time.perf_counter()
    scores = grid_score(policy, task, torch.stack([c[2] for c in pending]), derive_seed(77, it)).tolist()
    t1 = time.perf_counter()
    passed = [i for i, g in enumerate(scores) if g >= GRID_MIN]
    steps = {}
    if passed:
        n = long_check(policy, task, torch.stack([pending[i][2] for i in passed]), derive_seed(4242, it)).tolist()
        steps = dict(zip(passed, n))
    t2 = time.perf_counter()
    grid_dt, long_dt = (t1 - t0) / len(pending), (t2 - t1) / max(1, len(passed))
    here = {}  # per run: cost of its tests in this flush so far
    for i, (u, snap, best, t) in enumerate(pending):
        row = u["row"]
        if u["done"]:   # solved by an earlier candidate of this flush
            continue
        row["grid_checks"] += 1
        row["grid_check_s"] += grid_dt
        u["t_tests"] += grid_dt
        here[id(u)] = here.get(id(u), 0.0) + grid_dt
        g = int(scores[i])
        row["best_grid_seen"] = max(row["best_grid_seen"] or 0, g)
        if i not in steps:
            continue
        row["long_checks"] += 1
        row["long_check_s"] += long_dt
        u["t_tests"] += long_dt
        here[id(u)] += long_dt
        if steps[i] >= LONG_STEPS:
            row.update(snap)
            u["t"] = t + here[id(u)]   # the rollouts up to this generation, every test up to this one
            row["candidate_at"], row["candidate"], row["generalization"] = \
                row["evaluations_used"], best.tolist(), g
            row["long_ok"] = u["done"] = True
        else:
            row["long_fails"] += 1
            # kept for pole_failures.py: why a controller that generalises falls later
            row["failed"].append({"evaluations": snap["evaluations_used"], "generalization": g,
                                  "steps": int(steps[i]), "params": best.tolist()})
    pending.clear()


def run_group(job) -> list[dict]:
    """Task c: the runs of ``job`` in lock-step — every generation, all runs' populations go
    into ONE batched rollout (the torch env's cost per step hardly depends on the batch).
    Per run, the generation's champion (``champions="each"``: its best member by damping
    fitness; ``"record"``: only one beating every member that run tested before) is tested
    if its trial reached 1000 steps (one that did not cannot balance 100,000 steps from the
    same start): on the 625 grid starts, and if ≥ 200, for 100,000 steps. The first that
    passes is the solver and ends its run; the others are counted in ``long_fails`` and kept
    in ``failed``. The tests are batched over :data:`FLUSH_GENERATIONS` generations
    (:func:`_flush`), which changes no result."""
    task, members, deadline = job[:3]
    champions = job[3] if len(job) > 3 else "each"
    flush_every = job[4] if len(job) > 4 else FLUSH_GENERATIONS
    if champions not in CHAMPION_TESTS:
        raise ValueError(f"champion test must be one of {CHAMPION_TESTS}, got {champions!r}")
    torch.set_num_threads(1)
    spec = POLE_TASKS[task]
    env = CartPole(max_steps=1000, start="standard", **spec["env"])
    policy = make_policy(spec["policy"], env.observation_shape, env.action_space.out_size)
    runs = []
    for method, seed, cap in members:
        runs.append({"row": _row(task, method, seed, cap, policy), "s": make_searcher(method, task, policy, seed),
                     "best_tested": -float("inf"), "t": 0.0, "t_tests": 0.0, "done": False})
    it, pending = 0, []
    while True:
        active = [u for u in runs if not u["done"] and u["row"]["evaluations_used"] < u["row"]["cap"]]
        if not active:
            break
        if deadline is not None and time.time() > deadline:
            _flush(policy, task, pending, it)
            for u in active:
                if not u["done"]:
                    u["row"]["cut_by_deadline"] = True
            break
        t0 = time.perf_counter()
        asks = [u["s"].ask() for u in active]
        sizes = [a.shape[0] for a in asks]
        res = rollout(policy, env, torch.cat(asks), 1, derive_seed(0, TRAIN, it))
        it += 1
        if it % 100 == 0:
            print(f"  [{task}] lock-step generation {it}: {len(active)} runs active, "
                  f"{sum(u['done'] for u in runs)} solved", flush=True)
        fits = res.fitness().double().cpu().split(sizes)
        oks = res.success[:, 0].cpu().split(sizes)
        lens = res.lengths[:, 0].cpu().split(sizes)
        dt = (time.perf_counter() - t0) / len(active)
        for u, a, fit, ok, ln in zip(active, asks, fits, oks, lens):
            row = u["row"]
            u["s"].tell(fit.to(a.dtype))
            u["t"] += dt
            row["generations"] += 1
            row["evaluations_used"] += a.shape[0]
            row["env_steps"] += int(ln.sum())
            row["best_steps_seen"] = max(row["best_steps_seen"], int(ln.max()))
            if row["first_balance_at"] is None and bool(ok.any()):
                # where the evaluations go: up to the first member that balances its trial,
                # then from there to a controller that generalises and holds 100,000 steps
                row["first_balance_at"] = row["evaluations_used"]
            if champions == "each":
                k = int(fit.argmax())
                if not bool(ok[k]):
                    continue
            else:
                if not bool(ok.any()):
                    continue
                masked = torch.where(ok, fit, torch.full_like(fit, -float("inf")))
                if float(masked.max()) <= u["best_tested"]:
                    continue
                u["best_tested"] = float(masked.max())
                k = int(masked.argmax())
            pending.append((u, {f: row[f] for f in _SNAPSHOT}, a[k].detach().clone(), u["t"] + u["t_tests"]))
        if it % flush_every == 0 or not any(u["row"]["evaluations_used"] < u["row"]["cap"] for u in active):
            _flush(policy, task, pending, it)
    _flush(policy, task, pending, it)
    out = []
    for u in runs:
        if not u["done"]:
            u["t"] += u["t_tests"]
        u["row"]["wall_s"] = round(u["t"], 2)
        u["row"]["grid_check_s"] = round(u["row"]["grid_check_s"], 2)
        u["row"]["long_check_s"] = round(u["row"]["long_check_s"], 2)
        out.append(u["row"])
    return out


def run_job(job):
    kind, arg = job
    if kind == "markov":
        r = run_markov(arg)
        return None if r is None else [r]
    return run_group(arg)


def posthoc(rows: list[dict]) -> dict:
    """Per task, in one batched torch rollout each: the 625-grid scores of the a, b solvers,
    and the 100,000-step check of every solver (a, b: the torch env re-checks what the fast
    simulator found; c: the check itself)."""
    torch.set_num_threads(1)
    cost = {}
    for task in POLE_TASKS:
        # task c's solvers passed their 100,000-step check inside the run
        sel = [r for r in rows if r["task"] == task and r["candidate"] is not None
               and not (task == "c" and r["long_ok"] is not None)]
        if not sel:
            continue
        e = POLE_TASKS[task]["env"]
        env = CartPole(max_steps=1000, **e)
        policy = make_policy(POLE_TASKS[task]["policy"], env.observation_shape, env.action_space.out_size)
        X = torch.tensor([r["candidate"] for r in sel], dtype=torch.float32)
        t0 = time.perf_counter()
        if task != "c":
            gs = grid_score(policy, task, X, 12345)
            for r, g in zip(sel, gs.tolist()):
                r["generalization"] = int(g)
        t1 = time.perf_counter()
        ok = (long_check(policy, task, X, 4242) >= LONG_STEPS).tolist()
        for r, o in zip(sel, ok):
            if task == "c":
                r["long_ok"] = bool(o)
            else:
                r["torch_verified"] = bool(o)
        cost[task] = {"candidates": len(sel), "grid_s": round(t1 - t0, 1),
                      "long_checked": len(sel), "long_s": round(time.perf_counter() - t1, 1),
                      "torch_disagrees": sum(1 for r in sel if r["torch_verified"] is False)}
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
    for task in POLE_TASKS:
        for method in METHODS:
            both = [r for r in rows if r["task"] == task and r["method"] == method]
            sel = [r for r in both if not r["cut_by_deadline"]]
            cut = [r for r in both if r["cut_by_deadline"]]
            if not both:
                continue
            solved = [r for r in sel if r["candidate_at"] is not None and r["long_ok"]
                      and r["torch_verified"] is not False]
            cands = [r for r in sel if r["candidate_at"] is not None]
            xs = [r["candidate_at"] for r in solved]
            q1, med, q3 = quartiles(xs) if xs else (None, None, None)
            gens = [r["generalization"] for r in solved if r["generalization"] is not None]
            # over every run of the cap, an unsolved one counted as worst (inf: over half unsolved)
            solved_ids = {id(r) for r in solved}
            med_all = statistics.median([r["candidate_at"] if id(r) in solved_ids else math.inf for r in sel]) \
                if sel else None
            firsts = [r["first_balance_at"] for r in sel if r.get("first_balance_at") is not None]
            out.append({"task": task, "method": method, "policy": both[0]["policy"],
                        "num_params": both[0]["num_params"], "runs": len(sel), "cap": both[0]["cap"],
                        "cut": len(cut), "cut_min_evals": min((r["evaluations_used"] for r in cut), default=None),
                        "candidates": len(cands), "solved": len(solved), "median": med, "q1": q1, "q3": q3,
                        "mean": statistics.mean(xs) if xs else None,
                        "median_all": None if med_all is None or math.isinf(med_all) else med_all,
                        "first_balance_median": statistics.median(firsts) if firsts else None,
                        "first_balance_runs": len(firsts),
                        "median_generalization": statistics.median(gens) if gens else None,
                        "grid_checks": sum(r["grid_checks"] for r in both),
                        "long_fails": sum(r.get("long_fails") or 0 for r in both),
                        "long_fail_runs": sum(1 for r in both if r.get("long_fails")),
                        "grid_check_s": round(sum(r["grid_check_s"] for r in both), 1),
                        "wall_s": round(sum(r["wall_s"] for r in both), 1)})
    return out


def fmt(x, nd=0):
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:,.{nd}f}"
    return f"{x:,}"


def write(rows, summary, cost, args, wall, argv):
    OUT.mkdir(parents=True, exist_ok=True)
    champions = getattr(args, "test_champions", "each")
    meta = {"argv": argv, "seed_list": args.seed_list, "jobs": args.jobs, "wall": wall, "skipped": args.skipped,
            "cost": cost, "methods": METHODS, "test_champions": champions}
    write_atomic(OUT / "meta.json", json.dumps(meta, indent=1) + "\n")
    cols = [k for k in rows[0] if k not in ("candidate", "failed")]
    write_csv(OUT / "runs.csv", rows, cols, extrasaction="ignore")
    write_atomic(OUT / "candidates.json",
                 json.dumps([{k: r[k] for k in ("task", "method", "seed", "candidate")} for r in rows]))
    failed = [dict({k: r[k] for k in ("task", "method", "seed", "policy")}, **c)
              for r in rows for c in r.get("failed") or ()]
    if failed:
        write_atomic(OUT / "failed_candidates.json", json.dumps(failed))
    write_csv(OUT / "summary.csv", summary, list(summary[0]))
    L = ["# Pole balancing: evaluations to solve (Gomez et al. 2008 table vs dps)", "",
         "Command: `" + " ".join(["python", "experiments/reproduce_pole.py"] + [shlex.quote(a) for a in argv])
         + "`", "",
         f"Seeds: {args.seed_list}; jobs: {args.jobs}; "
         f"machine: {platform.node()} ({cpu_model()}, {os.cpu_count()} CPUs, shared with other jobs), "
         f"torch {torch.__version__}, "
         f"1 torch thread per process; total wall time {wall / 60:.1f} min; "
         f"runs skipped or cut by --deadline: {args.skipped} (cut runs are counted separately in the table).", "",
         "Evaluations = trials (one per member per generation, standard start, whole generations "
         "counted; a, b: trials of up to 100,000 steps, c: 1000-step trials with the damping fitness). "
         "Median and IQR over the runs that solved; `solved` = runs whose solver passed every "
         "criterion within the cap (module docstring). *Median over all runs*: every run to the cap, an "
         "unsolved one counted as worst (`unsolved` where half or more did not solve). *First balancing "
         "trial* (c): the median evaluations up to the first generation in which a member's trial reached "
         "1000 steps, over the runs that had one.", ""]
    for task, spec in POLE_TASKS.items():
        srows = [s for s in summary if s["task"] == task]
        if not srows:
            continue
        pub = PUBLISHED[task]
        L += [f"## ({task}) {spec['title']}", "",
              f"Policy `{spec['policy']}` ({srows[0]['num_params']} parameters); "
              f"cap {spec['cap']:,} evaluations per run."
              + ("" if task != "c" else " Champion tests (`--test-champions " + champions + "`): " +
                 ("the best member of every generation, as published." if champions == "each" else
                  "only a best member that beats every member the run tested before.")), "",
              "Published (mean evaluations): " + ", ".join(f"{c} {v:,}" for c, v in zip(PUBLISHED_COLS, pub)), "",
              "| method | options | solved / runs | median evals | IQR | mean | median over all runs "
              "| first balancing trial | median generalisation (of 625) | 625-tests (s) | wall s (all runs) |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
        for s in srows:
            iqr = "–" if s["q1"] is None else f"{s['q1']:,.0f}–{s['q3']:,.0f}"
            cutnote = f"; {s['cut']} cut by --deadline, unsolved at ≥ {s['cut_min_evals']:,} evals" if s["cut"] else ""
            first = "–" if s.get("first_balance_median") is None else \
                f"{s['first_balance_median']:,.0f} ({s['first_balance_runs']} runs)"
            if s["long_fails"]:
                cutnote += (f"; {s['long_fails']} candidates in {s['long_fail_runs']} runs failed the "
                            "100,000-step check, search continued")
            L.append(f"| {s['method']} | `{json.dumps(METHODS[s['method']][task])}` | {s['solved']} / {s['runs']} "
                     f"(candidates {s['candidates']}{cutnote}) | {fmt(s['median'], 0)} | {iqr} | {fmt(s['mean'], 0)} | "
                     f"{fmt(s['median_all'], 0) if s['median_all'] is not None else 'unsolved'} | "
                     f"{first} | {fmt(s['median_generalization'], 0)} | {s['grid_checks']} ({s['grid_check_s']}) | "
                     f"{s['wall_s']} |")
        if task in cost:
            c = cost[task]
            L += ["", f"Post-hoc checks: {c['candidates']} candidates; 625-grid scores {c['grid_s']} s (batched); "
                  f"{c['long_checked']} 100,000-step checks in one batched rollout: {c['long_s']} s."]
        if task != "c" and task in cost:
            L += ["", f"Solvers found by the fast simulator that the torch env did not confirm: "
                  f"{cost[task]['torch_disagrees']} (counted unsolved)."]
        L.append("")
    L += [f"Published generalisation: {GENERALISATION_PUBLISHED}.", "",
          "Per-run rows: `runs.csv`; per-(task, method): `summary.csv`; solver weights: `candidates.json`"
          + ("; the candidates that failed the 100,000-step check (weights, evaluations, steps balanced): "
             "`failed_candidates.json` (`experiments/pole_failures.py` replays them)"
             if any(r.get("failed") for r in rows) else "") + "."]
    write_atomic(OUT / "results.md", "\n".join(L) + "\n")


def load_rows(out: Path):
    """The rows of a finished reproduction (``runs.csv`` + ``candidates.json``), typed as
    ``run_markov``/``run_group`` return them, and its ``meta.json``."""
    def typed(v):
        if v in ("", "None"):
            return None
        if v in ("True", "False"):
            return v == "True"
        for cast in (int, float):
            try:
                return cast(v)
            except ValueError:
                pass
        return v

    with open(out / "runs.csv", newline="") as f:
        rows = [{k: (v if k in ("task", "method", "policy") else typed(v)) for k, v in r.items()}
                for r in csv.DictReader(f)]
    cands = {(c["task"], c["method"], c["seed"]): c["candidate"]
             for c in json.loads((out / "candidates.json").read_text())}
    failed = {}
    if (out / "failed_candidates.json").exists():  # written by runs made since 2026-12-02
        for c in json.loads((out / "failed_candidates.json").read_text()):
            failed.setdefault((c["task"], c["method"], c["seed"]), []).append(
                {k: c[k] for k in ("evaluations", "generalization", "steps", "params")})
    for r in rows:
        r["candidate"] = cands[(r["task"], r["method"], r["seed"])]
        r["failed"] = failed.get((r["task"], r["method"], r["seed"]), [])
    return rows, json.loads((out / "meta.json").read_text())


def apply_sets(sets, error) -> None:
    """``--set METHOD.TASK.KEY=VALUE`` overrides into :data:`METHODS` (VALUE read as JSON);
    ``error`` reports a malformed one."""
    for kv in sets:
        key, _, v = kv.partition("=")
        parts = key.split(".")
        if len(parts) != 3 or parts[0] not in METHODS or parts[1] not in POLE_TASKS or not v:
            error(f"--set takes METHOD.TASK.KEY=VALUE with METHOD in {', '.join(METHODS)} and TASK in "
                  f"{', '.join(POLE_TASKS)}, got {kv!r}")
        try:
            value = json.loads(v)
        except json.JSONDecodeError:
            value = v
        METHODS[parts[0]][parts[1]][parts[2]] = value


def main(argv=None):
    global OUT
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", default=list(POLE_TASKS), choices=list(POLE_TASKS))
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--seeds", type=int, default=20, help="seeds 0..N-1 (20 = the full setting)")
    p.add_argument("--first-seed", type=int, default=0,
                   help="start the seeds there instead (K..K+N-1), e.g. fresh seeds to confirm settings")
    p.add_argument("--seeds-per-task", nargs="*", default=[], metavar="TASK=N",
                   help="override the seed count per task, e.g. c=3")
    p.add_argument("--cap", nargs="*", default=[], metavar="TASK=N", help="override the evaluation cap")
    p.add_argument("--policy", nargs="*", default=[], metavar="TASK=SPEC",
                   help="override a task's policy spec, e.g. c=lstm:hidden=2,input_scale=10")
    p.add_argument("--set", nargs="*", default=[], metavar="METHOD.TASK.KEY=VALUE",
                   help="override a searcher option, e.g. cmaes.c.sigma0=1.0 (VALUE read as JSON)")
    p.add_argument("--test-champions", default="each", choices=CHAMPION_TESTS,
                   help="task c: test the best member of each generation (each, as published) or only "
                        "one that beats every member tested before (record, the tables before 2026-12-02)")
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel (processes)")
    p.add_argument("--deadline", type=float, default=None,
                   help="minutes after which runs not yet started are skipped and running ones stop "
                        "(both reported as cut, apart from the finished runs)")
    p.add_argument("--out", default=str(OUT_DEFAULT), help="output directory (default runs/pole of the repository)")
    p.add_argument("--report-only", action="store_true",
                   help="rewrite summary.csv and results.md from --out's runs.csv, candidates.json and meta.json")
    args = p.parse_args(argv)
    OUT = Path(args.out)
    if args.report_only:
        rows, meta = load_rows(OUT)
        for k in ("seed_list", "jobs", "skipped"):
            setattr(args, k, meta[k])
        args.test_champions = meta.get("test_champions", "record")  # runs before the option: record
        for r in rows:
            POLE_TASKS[r["task"]]["policy"] = r["policy"]
            POLE_TASKS[r["task"]]["cap"] = r["cap"]
        if "methods" in meta:  # the options in force, --set included
            for method, per_task in meta["methods"].items():
                METHODS[method].update(per_task)
        else:  # written before meta.json kept them: re-apply the run's own --set
            apply_sets(p.parse_args(meta["argv"]).set, p.error)
        write(rows, summarise(rows), meta["cost"], args, meta["wall"], meta["argv"])
        print((OUT / "results.md").read_text())
        return
    nseeds = {t: args.seeds for t in POLE_TASKS}
    for kv in args.seeds_per_task:
        k, v = kv.split("=")
        nseeds[k] = int(v)
    for kv in args.cap:
        k, v = kv.split("=")
        POLE_TASKS[k]["cap"] = int(v)
    k0 = args.first_seed
    args.seed_list = {t: f"{k0}..{k0 + nseeds[t] - 1}" for t in args.tasks}
    for kv in args.policy:
        k, v = kv.split("=", 1)
        POLE_TASKS[k]["policy"] = v
    apply_sets(args.set, p.error)
    deadline = None if args.deadline is None else time.time() + 60 * args.deadline
    # seed-major order: every method's seed 0 first, so a run cut by --deadline stays balanced
    jobs = [("markov", (t, m, s, POLE_TASKS[t]["cap"], deadline))
            for t in args.tasks if t != "c" for s in range(k0, k0 + nseeds[t]) for m in args.methods]
    if "c" in args.tasks:   # lock-step groups, one per process
        members = [(m, s, POLE_TASKS["c"]["cap"]) for s in range(k0, k0 + nseeds["c"]) for m in args.methods]
        jobs = [("group", ("c", members[i::args.jobs], deadline, args.test_champions))
                for i in range(min(args.jobs, len(members)))] + jobs
    t0 = time.perf_counter()
    rows, skipped = [], 0
    with get_context("fork").Pool(args.jobs) as pool:
        for out in pool.imap_unordered(run_job, jobs):
            if out is None:
                skipped += 1
                continue
            for r in out:
                rows.append(r)
                cut = "CUT BY DEADLINE at " + str(r["evaluations_used"]) + " evals, " if r["cut_by_deadline"] else ""
                print(f"[{time.perf_counter() - t0:7.0f}s] {r['task']} {r['method']:6s} seed {r['seed']}: "
                      f"{cut}"
                      f"solver at {r['candidate_at']} evals, generalization {r['generalization']}, "
                      f"{r['generations']} gens, best trial {r['best_steps_seen']} steps, "
                      f"{r['grid_checks']} grid tests (best {r['best_grid_seen']}), {r['wall_s']} s", flush=True)
    print(f"{skipped} runs skipped by --deadline", flush=True)
    args.skipped = skipped + sum(r["cut_by_deadline"] for r in rows)
    rows.sort(key=lambda r: (r["task"], list(METHODS).index(r["method"]), r["seed"]))
    cost = posthoc(rows)
    summary = summarise(rows)
    write(rows, summary, cost, args, time.perf_counter() - t0, argv)
    print((OUT / "results.md").read_text())


if __name__ == "__main__":
    main()
