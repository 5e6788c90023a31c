"""Statistics over a grid's result rows: quartiles, step curves and the per (task, learner)
summary table the report and the figures show."""
from __future__ import annotations

import math

from .collect import number


def quartiles(xs: list[float]) -> tuple[float, float, float]:
    """(q1, median, q3) with linear interpolation (numpy's default)."""
    xs = sorted(xs)
    if not xs:
        return (math.nan,) * 3

    def q(p):
        k = (len(xs) - 1) * p
        lo, hi = math.floor(k), math.ceil(k)
        return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)
    return q(0.25), q(0.5), q(0.75)


def step_at(curve: list[dict], x: float, key: str, y: str) -> float | None:
    """The value of a step curve at ``x``: the last evaluation at or before ``x``. After a
    run's last evaluation the value is carried forward (a run that stopped because it was
    solved stays solved; a run that ended at its budget keeps its last value)."""
    v = None
    for c in curve:
        if c[key] <= x:
            v = c[y]
        else:
            break
    return v


def by_task_learner(rows: list[dict]) -> dict:
    """``{(task, learner): [rows]}``."""
    g: dict = {}
    for r in rows:
        g.setdefault((r["task"], r["learner"]), []).append(r)
    return g


def summary_table(rows: list[dict], tasks: list, learners: list) -> list[dict]:
    """Per (task, learner): counts, medians and IQRs of the cells (the report's table)."""
    g = by_task_learner(rows)
    out = []
    for t in tasks:
        for lr in learners:
            cells = g.get((t.name, lr.name))
            if not cells:
                continue
            finished = [r for r in cells if r["status"] == "done"]
            solved = [r for r in finished if r.get("solved")]
            eps = [float(r["episodes_to_solve"]) for r in solved]
            steps = [float(r["env_steps_to_solve"]) for r in solved]
            secs = [float(r["seconds_to_solve"]) for r in solved]
            final = [float(r["final_success"]) for r in finished if number(r.get("final_success")) is not None]
            rets = [float(r["final_return"]) for r in finished if number(r.get("final_return")) is not None]
            gen = [float(r["generalization"]) for r in finished if number(r.get("generalization")) is not None]
            out.append({
                "task": t.name, "learner": lr.name, "runs": len(cells), "finished": len(finished),
                "errors": sum(r["status"] == "error" for r in cells), "solved": len(solved),
                "episodes_to_solve": quartiles(eps), "env_steps_to_solve": quartiles(steps),
                "seconds_to_solve": quartiles(secs), "final_success": quartiles(final),
                "final_return": quartiles(rets), "generalization": quartiles(gen) if gen else None,
                "wall_seconds": sum(float(r["wall_seconds"]) for r in cells if number(r.get("wall_seconds"))),
            })
    return out
