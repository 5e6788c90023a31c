"""Choose a default by a seed sweep: every candidate setting on the same seeds, judged by its
worst quartile, not by its best seed.

    python experiments/tune_defaults.py pgpe --env tmaze:length=50 --seeds 0-9 \\
        --candidate "" --candidate "--curriculum length=10..50"

Each candidate is a string of extra ``dps.run`` flags (``""``: the current defaults). Every
(candidate, seed) is one ``python -m dps.run ALGO --env ENV CANDIDATE --seed S`` run; the
table ranks candidates by

1. the lower quartile over seeds of the final greedy success rate (a candidate that fails on
   a quarter of the seeds ranks below one that never does; a run that tests its champions,
   the double pole's default, counts 1 when a champion solved the task and 0 otherwise),
2. then the number of seeds solved (where a quarter or more of every candidate's seeds
   fail, the lower quartile ties and cannot tell 2 of 10 from 6 of 10),
3. then the upper quartile of the training episodes (unsolved runs count as their whole
   budget), i.e. the slow seeds, not the fast ones.

Writes ``RESULTS/<env>.md`` and ``.jsonl`` (``--results``); run directories go to ``--out``
(git-ignored).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dps.checkpoint import write_atomic  # noqa: E402
from dps.native import cpu_model  # noqa: E402
from dps.runner.defaults import seeds_in  # noqa: E402


def seeds_of(text: str) -> list[int]:
    """``0-9`` or ``1,2,5`` or a mix (``0-3,7``)."""
    return seeds_in(text)


def quartiles(values: list[float]) -> tuple[float, float]:
    """(lower, upper) quartile, inclusive method (a single value is both)."""
    if len(values) == 1:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def ranked(rows: list[dict], candidates: list[str]) -> list[tuple]:
    """``(candidate, success lower quartile, episodes upper quartile, seeds solved, its rows,
    its episodes)`` per candidate, best first (module docstring)."""
    table = []
    for c in candidates:
        mine = [r for r in rows if r["candidate"] == c]
        succ = [r["success"] for r in mine]
        eps = [float(r["episodes"]) if r["success"] >= 0.95 else float(max(x["episodes"] for x in rows))
               for r in mine]
        table.append((c, quartiles(succ)[0], quartiles(eps)[1], sum(s >= 0.95 for s in succ), mine, eps))
    return sorted(table, key=lambda t: (-t[1], -t[3], t[2]))


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)


def sweep_name(algo: str, env: str) -> str:
    """The file name (without suffix) of a sweep's table and records in ``--results``."""
    return f"{algo}_{_slug(env)}"


def run_name(algo: str, env: str, candidate: str, seed: int) -> str:
    """The run directory's name: the candidate's flags as a slug, a long one cut short with a
    hash of the whole string (two candidates that differ only at the end must not share a
    directory: runs of one sweep go in parallel, each with ``--overwrite``)."""
    tag = _slug(candidate) or "defaults"
    if len(tag) > 60:
        tag = f"{tag[:51]}_{hashlib.sha1(candidate.encode()).hexdigest()[:8]}"
    return f"{sweep_name(algo, env)}_{tag}_s{seed}"


def run_one(algo: str, env: str, candidate: str, seed: int, args) -> dict:
    out = Path(args.out) / run_name(algo, env, candidate, seed)
    cmd = ["python", "-m", "dps.run", algo, "--env", env, *shlex.split(candidate), "--seed", str(seed),
           "--out", str(out), "--overwrite", "--quiet"]
    t0 = time.time()
    r = subprocess.run([sys.executable, *cmd[1:]], capture_output=True, text=True, cwd=ROOT)
    if r.returncode:
        raise SystemExit(f"{shlex.join(cmd)} failed:\n{r.stderr}")
    s = json.loads((ROOT / out / "summary.json").read_text())
    # a run that tests its champions (the double pole) is solved when one passed the env's
    # solve test; its final centre's success rate would count a centre that balances the
    # standard start but fails the 625-start test
    champions = s.get("champions")
    success = s["eval"]["success_rate"] if champions is None else float(champions["solved"] is not None)
    return {"env": env, "candidate": candidate, "seed": seed, "success": success,
            "episodes": s["episodes"], "generations": s["generations"], "wall_s": round(time.time() - t0, 1),
            "first_success": (s.get("first_success") or {}).get("episodes"), "command": shlex.join(cmd)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("algo")
    ap.add_argument("--env", required=True)
    ap.add_argument("--seeds", default="0-9")
    ap.add_argument("--candidate", action="append", required=True, help="extra dps.run flags ('' = defaults)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="runs/tune_defaults")
    ap.add_argument("--results", default=str(ROOT / "experiments/results/tune_defaults"))
    args = ap.parse_args()
    seeds = seeds_of(args.seeds)
    load = os.getloadavg()[0]
    t0 = time.time()
    jobs = [(c, s) for c in args.candidate for s in seeds]
    with ThreadPoolExecutor(args.jobs) as pool:  # each job is its own process
        rows = list(pool.map(lambda cs: run_one(args.algo, args.env, cs[0], cs[1], args), jobs))
    res = Path(args.results)
    res.mkdir(parents=True, exist_ok=True)
    name = sweep_name(args.algo, args.env)
    write_atomic(res / f"{name}.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    table = ranked(rows, args.candidate)
    lines = [f"# Seed sweep: `{args.algo} --env {args.env}`", "",
             f"`python experiments/tune_defaults.py {shlex.join(sys.argv[1:])}`: {len(seeds)} seeds "
             f"({args.seeds}) per candidate, {args.jobs} runs at a time, {time.time() - t0:.0f} s in all. Machine: "
             f"{platform.machine()} ({cpu_model()}), {os.cpu_count()} cores, load average {load:.2f} at the start. "
             "Ranked by the "
             "lower quartile of the final greedy success (100 fresh episodes), then the seeds solved, then the "
             "upper quartile of the training episodes (an unsolved run counts as the largest budget any run "
             "used).", "",
             "| rank | candidate flags | seeds solved (≥ 0.95) | success: lower quartile | episodes: median | "
             "episodes: upper quartile | per seed: success (episodes) |", "|---|---|---|---|---|---|---|"]
    for i, (c, q1, q3, n, mine, eps) in enumerate(table, 1):
        lines.append(f"| {i} | `{c or '(defaults)'}` | {n}/{len(mine)} | {q1:.2f} | {statistics.median(eps):,.0f} | "
                     f"{q3:,.0f} | " + ", ".join(f"s{r['seed']} {r['success']:.2f} ({r['episodes']:,})"
                                                for r in mine) + " |")
    write_atomic(res / f"{name}.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
