"""experiments/memory_length.py: the lengths a curriculum run passes, and the table's
"longest solved" rule."""
import json
import subprocess
import sys
from types import SimpleNamespace

from experiment_scripts import EXPERIMENTS, load


def test_stages_follow_the_runners_curriculum():
    m = load("memory_length")
    assert m.stages("tmaze", 10, 1000) == [10, 20, 40, 80, 160, 320, 640, 1000]
    assert m.stages("class-query", 3, 10) == [3, 6, 10]


def _summary(values, success, episodes=(0, 400, 900), first=None):
    return {"curriculum": {"stages": [{"value": v, "episodes": e} for v, e in zip(values, episodes)]},
            "eval": {"success_rate": success}, "episodes": 5000,
            "first_success": None if first is None else {"episodes": first}}


def test_passed_lengths():
    m = load("memory_length")
    # stuck at 40: 10 and 20 passed when the next stage began, 40 not
    assert m.passed_lengths(_summary([10, 20, 40], 0.5), 1000) == {"10": 400, "20": 900}
    # at the target: passed only by the final evaluation, at the first success
    assert m.passed_lengths(_summary([10, 20, 40], 0.97, first=1200), 40) == {"10": 400, "20": 900, "40": 1200}
    assert m.passed_lengths(_summary([10, 20, 40], 0.90, first=1200), 40) == {"10": 400, "20": 900}


def _row(algo, seed, passed, final=1.0):
    return {"task": "tmaze", "algo": algo, "seed": seed, "budget": 1000, "max_length": 40, "passed": passed,
            "final_success": final, "episodes": 1000, "wall_s": 1.0, "load": 0.5}


def test_longest_solved_needs_enough_seeds(tmp_path):
    m = load("memory_length")
    all3 = {"10": 1, "20": 2, "40": 3}
    rows = [_row("a", s, all3) for s in range(4)] + [_row("a", 4, {"10": 1})]  # 4 of 5 reach 40
    rows += [_row("b", s, {"10": 1, "20": 2}) for s in range(3)] + [_row("b", s, {}, 0.5) for s in (3, 4)]
    rows += [_row("c", s, {}, None) for s in range(5)]
    m.write_results(rows, tmp_path, SimpleNamespace(need=4, start=10, budget=1000))
    table = (tmp_path / "memory_length.md").read_text()
    assert "| tmaze | a | 1,000 | 5 | 40 | 10: 5, 20: 4, 40: 4 | 3 |" in table
    assert "| tmaze | b | 1,000 | 5 | none | 10: 3, 20: 3, 40: 0 |" in table  # 3 of 5 is not enough
    assert "s0 <10 (not evaluated, 1,000)" in table


def test_a_real_run_end_to_end(tmp_path):
    out = subprocess.run([sys.executable, str(EXPERIMENTS / "memory_length.py"), "--tasks", "tmaze", "--algos",
                          "cmaes", "--seeds", "1", "--max-length", "20", "--budget", "20000", "--out",
                          str(tmp_path / "runs"), "--results", str(tmp_path / "res")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    (row,) = [json.loads(line) for line in (tmp_path / "res" / "memory_length.jsonl").read_text().splitlines()]
    assert row["passed"].keys() <= {"10", "20"} and row["episodes"] <= 20000 + 80
    summary = json.loads((tmp_path / "runs" / "tmaze_cmaes_s1" / "summary.json").read_text())
    assert row["passed"] == load("memory_length").passed_lengths(summary, 20)
    assert "| tmaze | cmaes | 20,000 or 20M env steps | 1 |" in (tmp_path / "res" / "memory_length.md").read_text()


def test_recorded_commands_resolve_as_at_the_longest_length():
    # rows recorded with --env TASK hold for today's --env TASK:length=1000 wherever a
    # learner's defaults do not depend on the length: every learner but RPG on class-query
    # (docs/MEMORY.md, "The longest length each learner solves")
    import dataclasses

    from dps.run import RunConfig
    from dps.runner import resolve

    def settings(algo, env):
        r = dataclasses.asdict(resolve(RunConfig(algo=algo, env=env, curriculum="length=10..1000")))
        return {k: v for k, v in r.items() if k != "env"}

    for task in ("tmaze", "class-query"):
        for algo in ("pgpe", "cmaes", "snes", "guided-es", "rpg"):
            same = settings(algo, task) == settings(algo, f"{task}:length=1000")
            assert same == ((task, algo) != ("class-query", "rpg")), (task, algo)
    m = load("memory_length")
    args = SimpleNamespace(start=10, max_length=1000, budget=100, max_env_steps=1000, out="o")
    assert m.dps_command("tmaze", "pgpe", 1, args)[5] == "tmaze:length=1000"
