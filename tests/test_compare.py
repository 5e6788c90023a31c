"""dps.compare: grid construction, resumable execution, statistics and the report."""
import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dps.compare import GRID_TASKS, LEARNERS, build_grid, cell_dir, cell_status, run_grid, write_report
from dps.compare.__main__ import main
from dps.compare.collect import read_cell
from dps.compare.tables import quartiles, step_at
from dps.errors import UserError


def test_quick_preset_grid_is_seed_major_and_sde_only_on_continuous_tasks():
    cells = build_grid("quick")
    assert [c.seed for c in cells] == sorted(c.seed for c in cells)
    assert all(c.task.continuous for c in cells if c.learner.name == "rpg-sde")
    assert {c.task.name for c in cells if c.learner.name == "rpg-sde"} == {"pole1-novel"}
    names = [c.name for c in cells]
    assert len(names) == len(set(names))
    # the quick preset's smaller budgets, rescaled on request
    t = {c.task.name: c.task.budget for c in build_grid("quick", budget_scale=0.5)}
    assert t["tmaze-10"] == 5_000 and t["pole1-novel"] == 1_500
    assert {c.task.budget for c in build_grid("full", tasks=["tmaze-500"])} == {GRID_TASKS["tmaze-500"].budget}


def test_full_preset_covers_every_learner_length_and_seed():
    cells = build_grid("full")
    assert {c.learner.name for c in cells} == set(LEARNERS)
    lengths = {c.task.length for c in cells if c.task.group == "tmaze"}
    assert lengths == {10, 20, 50, 100, 200, 500}
    assert {c.task.length for c in cells if c.task.group == "class-query"} == {20, 50, 100, 200}
    seeds = {}
    for c in cells:
        seeds.setdefault((c.learner.name, c.task.name), set()).add(c.seed)
    # >= 5 seeds per cell, 10 where cheap
    assert all(len(v) >= 5 for v in seeds.values())
    cheap = {t for (_, t), v in seeds.items() if len(v) == 10}
    assert cheap == {"class-query-20", "class-query-50", "class-query-100", "tmaze-10"}
    assert all(v == set(range(5)) for (_, t), v in seeds.items() if t not in cheap)
    assert [c.seed for c in cells] == sorted(c.seed for c in cells)   # still seed-major
    # --seeds replaces every task's seeds
    picked = build_grid("full", tasks=["tmaze-10", "tmaze-500"], seeds=[7])
    assert {c.seed for c in picked} == {7}
    assert {c.task.name for c in picked} == {"tmaze-10", "tmaze-500"}


def test_seeds_text_groups_tasks_by_their_seeds():
    from dps.compare.report import seeds_text
    assert seeds_text(build_grid("quick")) == "0, 1"
    text = seeds_text(build_grid("full"))
    assert text == "0–4 (0–9 on class-query-20, class-query-50, class-query-100, tmaze-10)"
    assert seeds_text(build_grid("full", tasks=["tmaze-10"], seeds=[0, 2])) == "0, 2"


@pytest.mark.parametrize("kw, match", [
    ({"preset": "nope"}, "unknown preset 'nope'"),
    ({"learners": ["pgpe", "rpg"]}, "unknown learner 'pgpe'; accepted: cmaes"),
    ({"tasks": ["tmaze-7"]}, "unknown task 'tmaze-7'"),
    ({"budget_scale": 0.0}, "--budget-scale must be > 0"),
    ({"seeds": [-1]}, "seeds must be >= 0"),
    ({"policy": "lstm:hidden"}, "policy"),
])
def test_bad_grid_input_names_the_value(kw, match):
    with pytest.raises(UserError, match=match):
        build_grid(**kw)


def test_cli_errors_are_one_line_exit_2(tmp_path, capsys):
    assert main(["--learners", "pgpe", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("dps: error: unknown learner 'pgpe'")
    assert main(["--seeds", "0,x", "--out", str(tmp_path)]) == 2
    assert "--seeds takes comma-separated integers" in capsys.readouterr().err
    assert main(["--tasks", "tmaze-10", "--learners", "rpg-sde", "--out", str(tmp_path)]) == 2
    assert "no cell to run" in capsys.readouterr().err


REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "experiments" / "results" / "compare"


def _hashes(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _clean_clone(tmp_path: Path) -> Path:
    """The committed result folders as a fresh clone has them: summaries, no cells/ and no
    curves.csv (git keeps neither)."""
    if not COMMITTED.is_dir():
        pytest.skip("no committed compare results in this checkout")
    clone = tmp_path / "clone"
    shutil.copytree(COMMITTED, clone / "experiments" / "results" / "compare",
                    ignore=shutil.ignore_patterns("cells", "stale", "curves.csv", "*.lock"))
    return clone


def _git_status():
    """``git status`` of the committed results in this checkout (None outside git)."""
    if not (REPO / ".git").exists() or shutil.which("git") is None:
        return None
    return subprocess.run(["git", "status", "--porcelain", "--", "experiments/results/compare"], cwd=REPO,
                          capture_output=True, text=True, check=False).stdout


def test_report_only_on_a_folder_without_runs_is_refused_and_writes_nothing(tmp_path):
    """``python -m dps.compare --preset quick --report-only`` in a fresh clone, with the default
    output and with the committed folder named: one error line, exit 2, no file changed."""
    clone = _clean_clone(tmp_path)
    before = _hashes(clone)
    tracked = _git_status()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for extra in ([], ["--out", "experiments/results/compare/quick"]):
        p = subprocess.run([sys.executable, "-m", "dps.compare", "--preset", "quick", "--report-only", *extra],
                           cwd=clone, env=env, capture_output=True, text=True, timeout=120, check=False)
        err = p.stderr.strip().splitlines()
        assert p.returncode == 2 and p.stdout == "" and len(err) == 1, p.stderr
        out = extra[1] if extra else "runs/compare/quick"
        assert err[0].startswith(f"dps: error: '{out}' holds no runs of this grid"), err
        assert f"python -m dps.compare --preset quick --out {out}" in err[0]
    assert _hashes(clone) == before and not (clone / "runs").exists()
    assert _git_status() == tracked


def test_default_output_is_runs_compare_in_the_current_directory(tmp_path, monkeypatch):
    clone = _clean_clone(tmp_path)
    committed = _hashes(clone / "experiments")
    monkeypatch.chdir(clone)
    assert main(["--preset", "quick", "--learners", "rpg", "--tasks", "tmaze-10", "--seeds", "0",
                 "--budget-scale", "0.01", "--jobs", "1"]) == 0
    out = clone / "runs" / "compare" / "quick"
    assert (out / "REPORT.md").exists() and (out / "cells" / "rpg__tmaze-10__s0" / "summary.json").exists()
    assert _hashes(clone / "experiments") == committed
    # with the runs there, --report-only collects them
    assert main(["--preset", "quick", "--learners", "rpg", "--tasks", "tmaze-10", "--seeds", "0",
                 "--budget-scale", "0.01", "--report-only"]) == 0


def _csv_rows(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_wall_time_counts_overlapping_executions_once():
    from dps.compare.log import wall_time
    log = [{"started": "2026-01-01 10:00:00 UTC", "seconds": 600},
           {"started": "2026-01-01 10:05:00 UTC", "seconds": 600},     # overlaps the first by 5 min
           {"started": "2026-01-01 12:00:00 UTC", "seconds": 60}]
    assert wall_time(log) == 15 * 60 + 60
    assert wall_time([]) == 0


def test_quartiles_and_step_curve():
    assert quartiles([1, 2, 3, 4]) == (1.75, 2.5, 3.25)
    assert quartiles([5]) == (5, 5, 5)
    curve = [{"episodes": 10, "success": 0.2}, {"episodes": 20, "success": 0.9}]
    assert step_at(curve, 5, "episodes", "success") is None
    assert step_at(curve, 10, "episodes", "success") == 0.2
    assert step_at(curve, 19, "episodes", "success") == 0.2
    assert step_at(curve, 1000, "episodes", "success") == 0.9       # carried forward


def _hand_made_run(out, cell, summary=True):
    """A run directory as dps.run leaves it: metrics.csv with centre evaluations at 160, 240
    and 320 episodes (the first >= 0.95 at 240) and, with ``summary``, summary.json."""
    d = cell_dir(out, cell)
    d.mkdir(parents=True)
    cols = ["generation", "episodes", "env_steps", "wall_seconds", "best", "mean", "center_return", "center_success"]
    rows = [[0, 80, 1000, 0.5, 1, 0, "", ""], [1, 160, 2100, 1.0, 4, 1, "1.5", "0.6"],
            [2, 240, 3000, 1.5, 4, 2, "3.9", "0.97"], [3, 320, 3900, 2.0, 4, 3, "4", "1.0"]]
    with open(d / "metrics.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        w.writerows(rows)
    if summary:
        (d / "summary.json").write_text(json.dumps({"episodes": 320, "env_steps": 3900, "wall_seconds": 2.0,
                                                    "num_params": 148, "policy": "lstm:hidden=4",
                                                    "eval": {"success_rate": 0.99, "mean_return": 3.9}}))
    return d


def test_read_cell_on_a_hand_made_run_directory(tmp_path):
    cell = build_grid("quick", learners=["pgpe-clipup"], tasks=["tmaze-10"], seeds=[3])[0]
    _hand_made_run(tmp_path, cell, summary=False)
    assert cell_status(tmp_path, cell) == "new"
    row, curve = read_cell(tmp_path, cell)
    assert [c["episodes"] for c in curve] == [160, 240, 320]
    # the first centre evaluation >= target 0.95 is at 240 episodes
    assert row["solved"] and row["episodes_to_solve"] == 240 and row["env_steps_to_solve"] == 3000
    assert row["best_center_success"] == 1.0
    _hand_made_run(tmp_path / "done", cell)
    assert cell_status(tmp_path / "done", cell) == "done"
    row, _ = read_cell(tmp_path / "done", cell)
    assert row["final_success"] == 0.99 and row["episodes"] == 320


def test_compare_files_are_replaced_whole_with_the_umask_permissions(tmp_path):
    """Each regeneration replaces results.csv, curves.csv, REPORT.md, grid_log.json and the
    figures with new files (os.replace: a new inode, never a file rewritten in place), made
    with 0666 less the umask, and leaves no temporary file behind."""
    from dps.compare.log import append_log
    cells = build_grid("quick", learners=["pgpe-clipup", "rpg"], tasks=["tmaze-10"], seeds=[3])
    for c in cells:
        _hand_made_run(tmp_path, c)
    entry = {"command": "test", "started": "2026-01-01 10:00:00 UTC", "seconds": 1.0, "jobs": 1, "cells_run": 2,
             "errors": 0, "machine": "test"}
    names = ["results.csv", "curves.csv", "REPORT.md", "grid_log.json", "curves_tmaze-10.png",
             "success_vs_length.png", "episodes_to_solve.png"]
    old_mask = os.umask(0o027)
    try:
        append_log(tmp_path, entry)
        write_report(tmp_path, cells, preset="quick", command="test", skipped=[])
        first = {n: os.stat(tmp_path / n) for n in names}
        append_log(tmp_path, entry)
        write_report(tmp_path, cells, preset="quick", command="test", skipped=[])
    finally:
        os.umask(old_mask)
    for n in names:
        now = os.stat(tmp_path / n)
        assert now.st_ino != first[n].st_ino, n
        assert first[n].st_mode & 0o777 == now.st_mode & 0o777 == 0o640, n
    assert len(json.loads((tmp_path / "grid_log.json").read_text())) == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_an_interrupted_write_keeps_the_old_file(tmp_path, monkeypatch):
    from dps.checkpoint import write_atomic
    path = write_atomic(tmp_path / "REPORT.md", "old\n")

    def fail(fd):
        raise KeyboardInterrupt
    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, "new\n")
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["REPORT.md"]


def test_tiny_grid_runs_resumes_and_reports(tmp_path):
    """The quick preset restricted to two learners (one per exploration space), one task,
    one seed and a tiny budget: runs, writes the CSVs/figures/report, and resumes."""
    out = tmp_path / "cmp"
    argv = ["--preset", "quick", "--learners", "pgpe-clipup,rpg", "--tasks", "tmaze-10", "--seeds", "0",
            "--budget-scale", "0.03", "--jobs", "1", "--out", str(out)]
    assert main(argv) == 0
    for f in ("results.csv", "curves.csv", "REPORT.md", "success_vs_length.png", "episodes_to_solve.png",
              "curves_tmaze-10.png"):
        assert (out / f).exists(), f
    rows = _csv_rows(out / "results.csv")
    assert [(r["learner"], r["task"], r["status"]) for r in rows] == [("pgpe-clipup", "tmaze-10", "done"),
                                                                      ("rpg", "tmaze-10", "done")]
    for r in rows:
        assert int(r["budget"]) == 300 and 300 <= int(r["episodes"]) < 300 + 100
        assert r["final_success"] != "" and int(r["env_steps"]) > 0
    report = (out / "REPORT.md").read_text()
    assert "| tmaze-10 | rpg |" in report and "python -m dps.compare" in report
    # a restricted call's report still covers the folder's other cells of the preset
    assert main(argv[:2] + ["--learners", "rpg", "--tasks", "tmaze-10", "--seeds", "0", "--budget-scale", "0.03",
                            "--report-only", "--out", str(out)]) == 0
    assert [r["learner"] for r in _csv_rows(out / "results.csv")] == ["pgpe-clipup", "rpg"]
    log = json.loads((out / "grid_log.json").read_text())
    assert len(log) == 1 and log[0]["cells_run"] == 2 and log[0]["seconds"] > 0

    cells = build_grid("quick", learners=["pgpe-clipup", "rpg"], tasks=["tmaze-10"], seeds=[0], budget_scale=0.03)
    summaries = {c.name: (cell_dir(out, c) / "summary.json").read_text() for c in cells}
    # a second call runs nothing
    assert run_grid(cells, out, jobs=1, log=lambda *_: None) == []
    # a cell that lost its summary (interrupted during the final evaluation) is resumed from its
    # checkpoint and gives the same summary (wall times aside)
    victim = cells[1]
    (cell_dir(out, victim) / "summary.json").unlink()
    assert cell_status(out, victim) == "partial"
    res = run_grid(cells, out, jobs=1, log=lambda *_: None)
    assert [r["cell"] for r in res] == [victim.name] and res[0]["status"] == "ran"

    def strip(text):
        s = json.loads(text)
        return {k: v for k, v in s.items() if "seconds" not in k}
    assert strip((cell_dir(out, victim) / "summary.json").read_text()) == strip(summaries[victim.name])
    # a grid with other settings in the same folder is refused, not mixed
    other = build_grid("quick", learners=["rpg"], tasks=["tmaze-10"], seeds=[0], budget_scale=0.05)
    with pytest.raises(UserError, match="budget"):
        run_grid(other, out, jobs=1, log=lambda *_: None)
    # ... and so is one whose dps defaults changed since its runs (here RPG's T-maze entropy bonus)
    from dps.runner import defaults
    table = list(defaults.TUNED)
    try:
        defaults.TUNED.append(defaults.Tuned("rpg", "tmaze", {"entropy": 0.5}))
        with pytest.raises(UserError, match="resolved.algo_options"):
            run_grid(cells, out, jobs=1, log=lambda *_: None)
        write_report(out, cells, preset="quick", command="test", skipped=[])
        stale = {r["learner"]: r["status"] for r in _csv_rows(out / "results.csv")}
        assert stale == {"pgpe-clipup": "done", "rpg": "stale"}
        # --rerun-stale keeps the old run aside and runs the cell again
        res = run_grid(cells, out, jobs=1, log=lambda *_: None, rerun_stale=True)
        assert [r["cell"] for r in res] == [cells[1].name]
        kept = list((out / "stale").iterdir())
        assert len(kept) == 1 and kept[0].name.startswith(cells[1].name) and (kept[0] / "summary.json").exists()
    finally:
        defaults.TUNED[:] = table
    # the report can be rebuilt from the runs alone
    path = write_report(out, cells, preset="quick", command="test", skipped=[])
    text = path.read_text()
    assert text.count("| tmaze-10 | pgpe-clipup |") == 1 and text.count("| tmaze-10 | rpg |") == 1


def test_a_crashing_cell_is_recorded_and_the_grid_goes_on(tmp_path, monkeypatch):
    import dps.runner
    cells = build_grid("quick", learners=["pgpe-clipup", "snes"], tasks=["tmaze-10"], seeds=[0], budget_scale=0.02)
    real = dps.runner.train

    def flaky(cfg, *a, **kw):
        if cfg.algo == "pgpe":
            raise RuntimeError("worker died")
        return real(cfg, *a, **kw)
    monkeypatch.setattr(dps.runner, "train", flaky)
    res = run_grid(cells, tmp_path, jobs=1, log=lambda *_: None)
    assert [r["status"] for r in res] == ["error", "ran"]
    assert cell_status(tmp_path, cells[0]) == "error"
    assert "RuntimeError: worker died" in (cell_dir(tmp_path, cells[0]) / "error.txt").read_text()
    path = write_report(tmp_path, cells, preset="quick", command="test", skipped=[])
    assert "worker died" in path.read_text()
    # an interrupt inside a run (Ctrl-C, SIGTERM: the runner raises Interrupted) stops the grid itself
    def interrupted(cfg, *a, **kw):
        raise dps.runner.Interrupted(tmp_path, 0)
    monkeypatch.setattr(dps.runner, "train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_grid(cells, tmp_path, jobs=1, log=lambda *_: None)
    # the next call retries the failed cell
    monkeypatch.setattr(dps.runner, "train", real)
    res = run_grid(cells, tmp_path, jobs=1, log=lambda *_: None)
    assert [r["status"] for r in res] == ["ran"] and cell_status(tmp_path, cells[0]) == "done"


def test_parallel_jobs_give_the_same_runs_as_one_job(tmp_path):
    cells = build_grid("quick", learners=["pgpe-clipup", "cmaes"], tasks=["class-query-20"], seeds=[1],
                       budget_scale=0.1)
    run_grid(cells, tmp_path / "one", jobs=1, log=lambda *_: None)
    run_grid(cells, tmp_path / "two", jobs=2, log=lambda *_: None)
    for c in cells:
        a = (cell_dir(tmp_path / "one", c) / "metrics.csv").read_text().splitlines()
        b = (cell_dir(tmp_path / "two", c) / "metrics.csv").read_text().splitlines()

        def no_wall(lines):
            cols = lines[0].split(",")
            i = cols.index("wall_seconds")
            return [line.split(",")[:i] + line.split(",")[i + 1:] for line in lines]
        assert no_wall(a) == no_wall(b)


def test_a_cell_running_in_another_process_is_left_to_it(tmp_path):
    import os
    import subprocess
    import sys
    cell = build_grid("quick", learners=["snes"], tasks=["class-query-20"], seeds=[0], budget_scale=0.01)[0]
    d = cell_dir(tmp_path, cell)
    d.parent.mkdir(parents=True)
    lock = d.parent / f"{d.name}.lock"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock.write_text(str(other.pid))
        from dps.compare import run_cell
        assert run_cell(cell, tmp_path)["status"] == "running elsewhere"
    finally:
        other.kill()
        other.wait()
    # the process is gone: its lock is taken over and the cell runs
    assert run_cell(cell, tmp_path)["status"] == "ran" and not lock.exists()
    assert os.path.exists(d / "summary.json")


def test_the_grid_judges_the_double_pole_by_the_centre_for_every_learner(tmp_path):
    """The double pole's default champion test needs a population (RPG has none): the grid
    turns it off for every learner, on the run and in the report's command alike."""
    from dps.compare.execute import cli_command, run_config
    from dps.run import run_config as cli_config
    from dps.runner import resolve
    cells = [c for c in build_grid("full", tasks=["pole2-novel"]) if c.seed == 0]
    assert {c.learner.algo for c in cells} >= {"pgpe", "snes", "rpg"}
    for cell in cells:
        cfg = resolve(run_config(cell, tmp_path))
        assert cfg.test_champions is False
        cmd = cli_command(cell, tmp_path)
        assert "--test-champions false" in cmd
        argv = cmd.split()[3:]
        assert resolve(cli_config(argv)).test_champions is False
