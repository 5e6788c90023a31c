"""experiments/summarize_atari_go.py: one row per run with the centre it returned, the median
and the worst per setting, and runs with --select-on kept apart from runs without."""
import json
from pathlib import Path

from experiment_scripts import load


def _module():
    return load("summarize_atari_go")


def _fake_run(d: Path, seed: int, wins: dict, kept=None):
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"run": {"seed": seed, "policy": "mdlstm:hidden=8"}, "resolved": {}}))
    rows = [{"player": "trained", "N": int(k[1:].split("/")[0]), "opponent": k.split("/")[1], "win": v}
            for k, v in wins.items()]
    (d / "report.json").write_text(json.dumps({"rows": rows, "trained_on": {"opponent": "L2+L5+L6"},
                                              "size_wall_s": {"5": 1.0, "9": 2.0}}))
    summary = {"generations": 3000, "wall_seconds": 100.0}
    if kept is not None:
        summary["selection"] = {"on": ["atari-go", "atari-go:size=9,opponent=L5"], "kept": {"generation": kept}}
    (d / "summary.json").write_text(json.dumps(summary))
    return d


def test_rows_median_worst_and_the_returned_centre(tmp_path):
    m = _module()
    a = _fake_run(tmp_path / "a", 0, {"N5/L2": 0.98, "N9/L5": 0.97}, kept=2799)
    b = _fake_run(tmp_path / "b", 3, {"N5/L2": 0.99, "N9/L5": 0.90}, kept=2999)
    c = _fake_run(tmp_path / "c", 1, {"N5/L2": 0.95, "N9/L5": 0.40})
    out = m.table([m.read_run(d) for d in (a, b, c)], ("N5/L2", "N9/L5"))
    lines = out.splitlines()
    assert "centre after" in lines[0]
    sel = [line for line in lines if "selected on atari-go:size=9,opponent=L5" in line]
    assert len(sel) == 4  # two runs, median, worst
    assert "| a | 0 | 2800 | 0.980 | 0.970 |" in sel[0] and "| b | 3 | 3000 | 0.990 | 0.900 |" in sel[1]
    assert "**median** of 2 | | | **0.985** | **0.935**" in sel[2]
    assert "**worst** of 2 | | | **0.980** | **0.900**" in sel[3]
    plain = [line for line in lines if "| c |" in line]
    assert plain and "selected" not in plain[0] and "| 3000 |" in plain[0]
