"""One table of the run directories under DIR: each run's summary.json figures, or the last
row of metrics.csv for a run that has no summary.json (interrupted). Writes ``DIR/RUNS.md``.

    python experiments/summarize_runs.py experiments/results/acceptance

Used by ``experiments/acceptance.sh`` and ``experiments/tmaze_seeds.sh``; the run
directories themselves are git-ignored under ``experiments/results/``, the table is kept.
An Atari-Go run's multi-size report (summary.json's ``report``) gets a second table.
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

EVAL_SHOWN = {"episodes", "mean_return", "std_return", "mean_length", "success_rate", "seed"}


def _int(v) -> str:
    return f"{int(float(v)):,}"


def last_metrics(run: Path) -> dict:
    rows = list(csv.DictReader(open(run / "metrics.csv", newline=""))) if (run / "metrics.csv").exists() else []
    return rows[-1] if rows else {}


def row(run: Path) -> list[str]:
    cfg = json.loads((run / "config.json").read_text()).get("run", {}) if (run / "config.json").exists() else {}
    summary = run / "summary.json"
    if summary.exists():
        s = json.loads(summary.read_text())
        ev = s.get("eval", {})
        other = ", ".join(f"{k} {v}" for k, v in ev.items() if k not in EVAL_SHOWN)
        return [run.name, s.get("algorithm", ""), s.get("env") or s.get("task") or "", s.get("policy") or "",
                str(s.get("seed", "")), _int(s["generations"]), _int(s["episodes"]), _int(s["env_steps"]),
                f"{s['wall_seconds']:.1f}", "yes" if s.get("stopped_early") else "no",
                _int(ev["episodes"]) if "episodes" in ev else "–",
                f"{ev['mean_return']:.4g}" if "mean_return" in ev else "–",
                f"{ev['success_rate']:.3f}" if ev.get("success_rate") is not None else "–", other or "–"]
    m = last_metrics(run)
    return [run.name, cfg.get("algo", ""), cfg.get("env") or cfg.get("task") or "", cfg.get("policy") or "",
            str(cfg.get("seed", "")), _int(float(m["generation"]) + 1) if m else "–", _int(m["episodes"]) if m else "–",
            _int(m["env_steps"]) if m else "–", f"{float(m['wall_seconds']):.1f}" if m else "–",
            "no summary.json (interrupted); figures from the last metrics.csv row", "–", "–", "–", "–"]


def report_table(runs: list[Path]) -> list[str]:
    lines = []
    for run in runs:
        s = json.loads((run / "summary.json").read_text()) if (run / "summary.json").exists() else {}
        rep = s.get("report")
        if not rep:
            continue
        floor = rep.get("floor", {})
        cells = [k for k in rep if k != "floor"]   # the report's order: by board size, then opponent
        lines += ["", f"`{run.name}`: win rate per board size N and opponent, 1000 greedy games each "
                      "(random-weight network of the same class in brackets; details in its report.md)", "",
                  "| cell | win rate (floor) |", "|---|---|"]
        lines += [f"| {k} | {rep[k]} ({floor.get(k, '–')}) |" for k in cells]
    return lines


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", help="a folder of run directories (python -m dps.run --out DIR/NAME)")
    args = ap.parse_args(argv)
    root = Path(args.dir)
    runs = sorted(d for d in root.iterdir()
                  if d.is_dir() and ((d / "summary.json").exists() or (d / "config.json").exists()))
    if not runs:
        raise SystemExit(f"no run directories (with summary.json or config.json) in {root}")
    header = ["run", "algorithm", "env / task", "policy", "seed", "generations", "training episodes", "env steps",
              "wall s", "stopped early", "greedy episodes", "greedy mean return", "greedy success", "other"]
    lines = [f"# Runs in `{root.name}/`", "",
             f"Written by `python experiments/summarize_runs.py {args.dir}` from each run directory's "
             "summary.json (for an interrupted run, the last row of its metrics.csv). The run directories "
             "are not kept in git; `experiments/results/README.md` gives the commands that make them.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row(r)) + " |" for r in runs]
    lines += report_table(runs)
    text = "\n".join(lines) + "\n"
    from dps.checkpoint import write_atomic
    write_atomic(root / "RUNS.md", text)
    print(text, end="")


if __name__ == "__main__":
    main()
