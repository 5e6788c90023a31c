"""Long T-mazes with and without a curriculum over the corridor length.

For each target length L (``--lengths``) and seed (``--seeds``), one run of

    python -m dps.run ALGO --env tmaze --curriculum length=START..L --max-episodes BUDGET --seed S

(the env's defaults otherwise; the run stops once its centre's greedy success on length L
reaches 1.0) and, with ``--baseline``, the same budget on ``tmaze:length=L`` from the start.
A run counts as solved when the final greedy evaluation on length L (100 fresh episodes)
succeeds in ≥ 95 % of them.

    python experiments/tmaze_curriculum.py --lengths 500,1000 --seeds 1,2,3,4,5
    python experiments/tmaze_curriculum.py --lengths 500 --seeds 1,2,3,4,5 --baseline --arms baseline

Writes ``RESULTS/tmaze_curriculum.md`` and ``.jsonl`` (one object per run); run directories
go to ``--out`` (git-ignored).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def command(arm: str, algo: str, length: int, seed: int, args) -> list[str]:
    env = ["--env", "tmaze", "--curriculum", f"length={args.start}..{length}"] if arm == "curriculum" else \
        ["--env", f"tmaze:length={length}", "--curriculum", "none"]
    return ["python", "-m", "dps.run", algo, *env, "--max-episodes", str(args.budget), "--generations",
            "1000000", "--seed", str(seed), "--out", f"{args.out}/{arm}_{algo}_L{length}_s{seed}", "--quiet",
            "--overwrite", *args.extra]


def one(arm: str, algo: str, length: int, seed: int, args) -> dict:
    cmd = command(arm, algo, length, seed, args)
    load = os.getloadavg()[0]
    t0 = time.time()
    r = subprocess.run([sys.executable, *cmd[1:]], capture_output=True, text=True, cwd=ROOT)
    if r.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    s = json.loads((ROOT / cmd[cmd.index("--out") + 1] / "summary.json").read_text())
    cur = s.get("curriculum") or {}
    return {"arm": arm, "algo": algo, "length": length, "seed": seed, "success": s["eval"]["success_rate"],
            "solved": s["eval"]["success_rate"] >= 0.95, "episodes": s["episodes"], "env_steps": s["env_steps"],
            "generations": s["generations"], "wall_s": round(time.time() - t0, 1),
            "reached": cur.get("reached"), "stages": cur.get("stages"), "budget": args.budget, "load": load,
            "command": " ".join(cmd)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lengths", default="500,1000")
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--algos", default="pgpe")
    ap.add_argument("--arms", default="curriculum", help="curriculum, baseline or curriculum,baseline")
    ap.add_argument("--start", type=int, default=10, help="the curriculum's first length")
    ap.add_argument("--budget", type=int, default=200_000, help="training episodes per run")
    ap.add_argument("--out", default="runs/tmaze_curriculum")
    ap.add_argument("--results", default=str(ROOT / "experiments/results/tmaze_curriculum"))
    ap.add_argument("--table-only", action="store_true", help="rewrite the table from the jsonl, run nothing")
    ap.add_argument("extra", nargs="*", help="more dps.run flags after --, e.g. -- --policy lstm:hidden=4,chrono=100")
    args = ap.parse_args()
    from dps.checkpoint import write_atomic
    res = Path(args.results)
    res.mkdir(parents=True, exist_ok=True)
    rows = []
    jsonl = res / "tmaze_curriculum.jsonl"
    for arm in ([] if args.table_only else args.arms.split(",")):
        for algo in args.algos.split(","):
            for length in (int(v) for v in args.lengths.split(",")):
                for seed in (int(v) for v in args.seeds.split(",")):
                    row = one(arm, algo, length, seed, args)
                    rows.append(row)
                    print(json.dumps({k: v for k, v in row.items() if k not in ("stages", "command")}), flush=True)
    old = [json.loads(line) for line in jsonl.read_text().splitlines()] if jsonl.exists() else []
    for r in old:  # rows written before the budget was stored: read it from the command
        r.setdefault("budget", int(r["command"].split("--max-episodes ")[1].split()[0]))
    keys = {(r["arm"], r["algo"], r["length"], r["seed"]) for r in rows}
    rows = [r for r in old if (r["arm"], r["algo"], r["length"], r["seed"]) not in keys] + rows
    write_atomic(jsonl, "".join(json.dumps(r) + "\n" for r in rows))
    known = [r["load"] for r in rows if "load" in r]
    loads = f"{min(known):.1f}–{max(known):.1f}" if known else "not recorded"
    lines = ["# T-maze: long corridors with and without a curriculum", "",
             f"`python experiments/tmaze_curriculum.py` (this file keeps every run made with it; the last call: "
             f"`{' '.join(sys.argv[1:]) or 'defaults'}`). Each run: the command in the jsonl beside this file; "
             f"budget: training episodes per run; solved = greedy success ≥ 0.95 on 100 fresh episodes "
             f"of the target length. Machine: {platform.machine()}, {os.cpu_count()} cores, load average "
             f"{loads} at the runs' starts.", "",
             "| arm | algorithm | length | budget | seeds solved | training episodes to solve: median (max) | "
             "wall s: median | per seed (success) |", "|---|---|---|---|---|---|---|---|"]
    groups = sorted({(r["arm"], r["algo"], r["length"], r["budget"]) for r in rows})
    for arm, algo, length, budget in groups:
        mine = sorted((r for r in rows if (r["arm"], r["algo"], r["length"], r["budget"]) == (arm, algo, length,
                                                                                              budget)),
                      key=lambda r: r["seed"])
        solved = [r for r in mine if r["solved"]]
        eps = [r["episodes"] for r in solved]
        lines.append(f"| {arm} | {algo} | {length} | {budget:,} | {len(solved)}/{len(mine)} | "
                     + (f"{statistics.median(eps):,.0f} ({max(eps):,})" if eps else "—")
                     + f" | {statistics.median(r['wall_s'] for r in mine):.0f} | "
                     + ", ".join(f"s{r['seed']} {r['success']:.2f}" for r in mine) + " |")
    write_atomic(res / "tmaze_curriculum.md", "\n".join(lines) + "\n")
    print(f"wrote {res / 'tmaze_curriculum.md'}")


if __name__ == "__main__":
    main()
