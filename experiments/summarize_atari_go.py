"""One table of Atari-Go players from their run directories' report.json: the cells that
judge a player (5×5 vs L2 and L6, 9×9 vs L2 and L5, 19×19 vs L5 and L6 unless ``--cells``),
one row per run, then the median and the worst run per setting.

    python experiments/summarize_atari_go.py RUN_DIR [RUN_DIR ...] [--cells N5/L2,N9/L5]

A setting is the run's policy, opponent and generations (config.json); runs of one setting
differ only in the seed. Each cell is the trained network's win rate over the report's games;
"centre after" is the number of generations behind the returned centre (the last one, or the
one ``--select-on`` kept).
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

CELLS = ("N5/L2", "N5/L6", "N9/L2", "N9/L5", "N19/L5", "N19/L6")


def read_run(run_dir: Path) -> dict:
    """Setting, seed, generations, wall seconds and trained win rate per cell of one run."""
    config = json.loads((run_dir / "config.json").read_text())
    report = json.loads((run_dir / "report.json").read_text())
    summary = json.loads((run_dir / "summary.json").read_text())
    run = config["run"]
    win = {f"N{r['N']}/{r['opponent']}": r["win"] for r in report["rows"] if r["player"] == "trained"}
    setting = (f"{run['policy'] or config['resolved']['policy']} vs {report['trained_on']['opponent']}, "
               f"{summary['generations']} generations")
    selection = summary.get("selection")
    if selection:  # the run returned a centre chosen on held-out envs (--select-on)
        setting += ", selected on " + " + ".join(selection["on"][1:])
    kept = (selection or {}).get("kept")
    return {"dir": run_dir.name, "setting": setting, "seed": run["seed"], "win": win,
            "centre": kept["generation"] + 1 if kept else summary["generations"],
            "train_s": summary["wall_seconds"], "report_s": sum(report.get("size_wall_s", {}).values())}


def table(runs: list[dict], cells: tuple) -> str:
    head = "| setting | run | seed | centre after | " + " | ".join(cells) + " | training s | report s |"
    lines = [head, "|---" * (head.count("|") - 1) + "|"]
    settings = list(dict.fromkeys(r["setting"] for r in runs))
    for s in settings:
        mine = [r for r in runs if r["setting"] == s]
        for r in mine:
            lines.append(f"| {s} | {r['dir']} | {r['seed']} | {r['centre']} | "
                         + " | ".join(f"{r['win'][c]:.3f}" if c in r["win"] else "—" for c in cells)
                         + f" | {r['train_s']:.0f} | {r['report_s']:.0f} |")
        if len(mine) > 1:
            for name, f in (("median", statistics.median), ("worst", min)):
                vals = [f([r["win"][c] for r in mine if c in r["win"]]) if any(c in r["win"] for r in mine)
                        else None for c in cells]
                lines.append(f"| {s} | **{name}** of {len(mine)} | | | "
                             + " | ".join(f"**{v:.3f}**" if v is not None else "—" for v in vals) + " | | |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--cells", default=",".join(CELLS))
    args = ap.parse_args(argv)
    print(table([read_run(d) for d in args.runs], tuple(c for c in args.cells.split(",") if c)))


if __name__ == "__main__":
    main()
