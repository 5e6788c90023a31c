"""Reading a grid's run directories: one result row per cell (status, budget, episodes / env
steps / wall seconds used, solved and when, final greedy success and return) and one curve
row per centre evaluation, written as ``results.csv`` and ``curves.csv``."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from .execute import cell_definition, cell_dir, cell_status
from .grid import Cell

RESULT_COLUMNS = ["learner", "family", "algo", "task", "group", "length", "seed", "status", "budget",
                  "episodes", "env_steps", "wall_seconds", "solved", "episodes_to_solve", "env_steps_to_solve",
                  "seconds_to_solve", "final_success", "final_return", "best_center_success", "generalization",
                  "num_params", "policy", "target", "error"]
CURVE_COLUMNS = ["learner", "task", "seed", "episodes", "env_steps", "wall_seconds", "success", "return"]


def number(v) -> float | None:
    """A CSV / JSON value as a float; None when empty, not a number or NaN."""
    if v in (None, ""):
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def read_cell(out: Path, cell: Cell) -> tuple[dict, list[dict]]:
    """``(result row, curve rows)`` of one cell from its run directory."""
    d = cell_dir(out, cell)
    lr, t = cell.learner, cell.task
    row = {"learner": lr.name, "family": lr.family, "algo": lr.algo, "task": t.name, "group": t.group or "",
           "length": t.length if t.length is not None else "", "seed": cell.seed, "budget": t.budget,
           "target": t.target, "status": cell_status(out, cell)}
    stored = d / "cell.json"
    if stored.exists() and json.loads(stored.read_text()) != cell_definition(cell):
        row["status"] = "stale"     # run under other settings or older dps defaults: not counted
    curve = []
    metrics = d / "metrics.csv"
    if metrics.exists():
        with open(metrics, newline="") as f:
            for r in csv.DictReader(f):
                s, ret = number(r.get("center_success")), number(r.get("center_return"))
                if s is None and ret is None:
                    continue
                curve.append({"learner": lr.name, "task": t.name, "seed": cell.seed,
                              "episodes": int(float(r["episodes"])), "env_steps": int(float(r["env_steps"])),
                              "wall_seconds": float(r["wall_seconds"]), "success": s, "return": ret})
    if curve:
        row["best_center_success"] = max((c["success"] for c in curve if c["success"] is not None), default="")
        hit = next((c for c in curve if c["success"] is not None and c["success"] >= t.target), None)
        row["solved"] = hit is not None
        if hit is not None:
            row.update(episodes_to_solve=hit["episodes"], env_steps_to_solve=hit["env_steps"],
                       seconds_to_solve=round(hit["wall_seconds"], 3))
        last = curve[-1]
        row.update(episodes=last["episodes"], env_steps=last["env_steps"], wall_seconds=round(last["wall_seconds"], 3))
    summary = d / "summary.json"
    if summary.exists():
        s = json.loads(summary.read_text())
        ev = s.get("eval", {})
        row.update(episodes=s["episodes"], env_steps=s["env_steps"], wall_seconds=round(s["wall_seconds"], 3),
                   final_success=ev.get("success_rate"), final_return=ev.get("mean_return"),
                   generalization=ev.get("generalization", ""), num_params=s.get("num_params"),
                   policy=s.get("policy"))
        row.setdefault("solved", False)
    err = d / "error.txt"
    if err.exists():
        row["error"] = err.read_text().splitlines()[0][:300]
    return row, curve


def collect(out: Path, cells: list[Cell]) -> tuple[list[dict], list[dict]]:
    """``(result rows, curve rows)`` of ``cells``, in their order."""
    rows, curves = [], []
    for c in cells:
        r, cv = read_cell(out, c)
        rows.append(r)
        curves.extend(cv)
    return rows, curves


