"""The trust promises of the CLI (README, CLI section, "Trust"), one test per case.

Refused input: exit status 2, exactly one stderr line ``dps: error: ...`` naming the value,
no traceback, and no run directory (``runs/`` in the test's own working directory, or the
``--out`` folder). Runs: unique directories, never overwritten silently, resumable after a
torn metrics.csv or Ctrl-C, non-finite policies never reported as a success, files written
with the umask's permissions.
"""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dps.checkpoint import load_checkpoint, save_atomic
from dps.envs.registry import ENVS
from dps.errors import UserError
from dps.run import main

ROOT = Path(__file__).resolve().parents[1]
#: the cheapest complete run: one generation of two members, one episode each
TINY = ["--generations", "1", "--popsize", "2", "--episodes", "1", "--eval-episodes", "1", "--quiet"]
#: a small run whose metrics can be compared row by row (every generation's centre evaluated)
SMALL = ["pgpe", "--env", "tmaze:length=3", "--policy", "lstm:hidden=2", "--popsize", "4", "--episodes", "2",
         "--eval-episodes", "4", "--eval-every", "1", "--center-episodes", "2"]


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    """A fresh working directory: a run without --out goes to ./runs here."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def refused(capsys, argv, *needles) -> str:
    """main(argv) refuses: status 2, one ``dps: error:`` line containing every needle."""
    rc = main(argv)
    out, err = capsys.readouterr()
    assert rc == 2, (rc, out, err)
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dps: error:"), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def ok(capsys, argv) -> tuple[str, str]:
    rc = main(argv)
    out, err = capsys.readouterr()
    assert rc == 0, (rc, out, err)
    assert "Traceback" not in out + err
    return out, err


def no_run_dir(cwd: Path) -> None:
    assert not (cwd / "runs").exists(), list((cwd / "runs").rglob("*"))


def snapshot(d: Path) -> dict:
    """Every file under ``d``: (bytes, mtime in ns)."""
    return {str(p.relative_to(d)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(d.rglob("*"))
            if p.is_file()}


def metrics(d: Path, drop=("wall_seconds",)) -> list[dict]:
    with open(d / "metrics.csv", newline="") as f:
        return [{k: v for k, v in r.items() if k not in drop} for r in csv.DictReader(f)]


@pytest.fixture
def run3(tmp_path, capsys) -> Path:
    """A finished three-generation run (SMALL settings)."""
    d = tmp_path / "run3"
    ok(capsys, SMALL + ["--generations", "3", "--out", str(d), "--quiet"])
    return d


# --- non-finite numbers ---------------------------------------------------------------------

@pytest.mark.parametrize("flag,value", [("--lr-mu", "nan"), ("--lr-mu", "inf"), ("--lr-mu", "-inf"),
                                        ("--sigma-init", "nan"), ("--lr-mu", "1e308"), ("--sigma-init", "1e308"),
                                        ("--lr-mu", "-1e39")])
def test_non_finite_or_unrepresentable_numbers_are_refused_at_the_cli(cwd, capsys, flag, value):
    # 1e308 is finite in Python but inf in the float32 tensors the searcher and policy use
    # (PGPE's sigma = full_like(mu, 1e308) overflowed with a traceback): refused like inf
    refused(capsys, ["pgpe", "--env", "cartpole", flag, value, "--generations", "2", "--quiet"],
            f"bad value '{value}' for {flag}", "finite")
    no_run_dir(cwd)


def test_a_centre_that_becomes_non_finite_stops_the_run_and_is_never_a_success(cwd, capsys, monkeypatch):
    # the CLI refuses learning rates that would overflow (options are range-checked), so the
    # overflowing SGD step is simulated: its update is +inf on every component
    from dps.algorithms import base

    monkeypatch.setattr(base.SGD, "step", lambda self, grad: torch.full_like(grad, float("inf")))
    argv = ["es", "--env", "tmaze:length=2", "--optimizer", "sgd", "--generations", "3",
            "--popsize", "4", "--episodes", "1", "--eval-episodes", "2", "--quiet"]
    rc = main(argv)
    out, err = capsys.readouterr()
    assert rc == 2 and "Traceback" not in err
    assert err.strip().splitlines() == [err.strip()] and "non-finite" in err and "generation 0" in err
    assert "eval:" not in out  # no summary, no success rate
    (run_dir,) = (cwd / "runs").iterdir()
    assert not (run_dir / "summary.json").exists() and not (run_dir / "checkpoint.pt").exists()


def _nan(obj, shape):
    """``obj`` (a checkpoint's nested dicts and lists) with every float tensor of ``shape`` NaN."""
    if torch.is_tensor(obj) and obj.is_floating_point() and obj.shape == shape:
        return torch.full_like(obj, float("nan"))
    if isinstance(obj, dict):
        return {k: _nan(v, shape) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_nan(v, shape) for v in obj]
    return obj


def test_a_saved_non_finite_centre_is_not_evaluated(run3, capsys):
    ck = load_checkpoint(run3 / "checkpoint.pt")
    save_atomic(_nan(ck, ck["center"].shape), run3 / "checkpoint.pt")
    summary = (run3 / "summary.json").read_bytes()
    refused(capsys, ["evaluate", str(run3), "--episodes", "3"], "non-finite", "not evaluated")
    refused(capsys, ["--resume", str(run3), "--quiet"], "non-finite", "not evaluated")
    assert (run3 / "summary.json").read_bytes() == summary  # no new evaluation was reported


# --- run directories ----------------------------------------------------------------------

def test_runs_started_at_the_same_moment_get_their_own_directories(cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    common = ["pgpe", "--seed", "3", "--policy", "lstm:hidden=2"] + TINY
    specs = ["tmaze:length=3", "tmaze:length=4", "tmaze:length=3"]  # the third is the first again
    procs = [subprocess.Popen([sys.executable, "-m", "dps.run", *common, "--env", s], cwd=cwd, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for s in specs]
    results = [p.communicate(timeout=180) for p in procs]
    for p, (_, err) in zip(procs, results):
        assert p.returncode == 0, err
    dirs = sorted((cwd / "runs").iterdir())
    assert len(dirs) == 3
    assert all((d / "summary.json").exists() for d in dirs)
    envs = sorted(json.loads((d / "config.json").read_text())["run"]["env"] for d in dirs)
    assert envs == sorted(specs)
    # the name shows the algorithm, env, a hash of the configuration and the seed
    assert all(d.name.startswith("pgpe_tmaze-") and "_s3_" in d.name for d in dirs)
    assert len({d.name.split("_s3_")[0] for d in dirs}) == 2  # equal configurations, equal hashes


def test_out_onto_an_existing_run_is_refused_and_changes_nothing(run3, capsys, cwd):
    before = snapshot(run3)
    refused(capsys, SMALL + ["--generations", "3", "--out", str(run3), "--quiet"], "already exists",
            "--resume", "--overwrite")
    refused(capsys, ["cmaes", "--env", "catch", "--out", str(run3)] + TINY, "already exists")
    assert snapshot(run3) == before
    no_run_dir(cwd)


def test_overwrite_clears_a_run_directory_and_runs(run3, capsys):
    (run3 / "stray.txt").write_text("left by the user")
    (run3 / "tensorboard").mkdir()
    ok(capsys, SMALL + ["--generations", "2", "--seed", "5", "--out", str(run3), "--overwrite", "--quiet"])
    assert not (run3 / "stray.txt").exists() and not (run3 / "tensorboard").exists()
    assert json.loads((run3 / "config.json").read_text())["run"]["seed"] == 5
    assert json.loads((run3 / "summary.json").read_text())["generations"] == 2
    assert [r["generation"] for r in metrics(run3)] == ["0", "1"]
    # --overwrite with an --out that does not exist yet is an ordinary new run
    ok(capsys, SMALL + ["--generations", "1", "--out", str(run3.parent / "new"), "--overwrite", "--quiet"])
    assert (run3.parent / "new" / "summary.json").exists()


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_overwrite_refuses_what_is_not_a_run_directory(tmp_path, capsys, kind):
    target = tmp_path / "mine"
    if kind == "folder":
        target.mkdir()
        (target / "notes.txt").write_text("precious")
    else:
        target.write_text("precious")
    before = target.read_bytes() if kind == "file" else snapshot(target)
    refused(capsys, ["pgpe", "--env", "tmaze", "--out", str(target), "--overwrite"] + TINY,
            "--overwrite refuses", "not a dps run directory")
    assert (target.read_bytes() if kind == "file" else snapshot(target)) == before


@pytest.mark.parametrize("argv,needle", [
    (["pgpe", "--env", "tmaze", "--policy", "lstm:hidden=0"], "hidden"),
    (["pgpe", "--env", "tmaze", "--popsize", "3"], "even"),  # refused by PGPE itself, still before any folder
    (["pgpe", "--env", "tmaze:length=0"], "length"),         # refused by the env's constructor
    (["pgpe", "--env", "atari-go", "--policy", "mdlstm:hidden=1000"], "hidden"),
])
def test_a_refused_run_leaves_no_directory(tmp_path, capsys, cwd, argv, needle):
    out = tmp_path / "deep" / "er" / "DIR"
    refused(capsys, argv + ["--out", str(out), "--generations", "1", "--quiet"], needle)
    assert not (tmp_path / "deep").exists()
    refused(capsys, argv + ["--generations", "1", "--quiet"], needle)  # the default folder: no runs/
    no_run_dir(cwd)


# --- resume ---------------------------------------------------------------------------------

def _tear(path: Path, keep_rows: int, fraction: float) -> None:
    """Keep the header and ``keep_rows`` rows, then a part of the next row (no newline)."""
    lines = path.read_text().splitlines(keepends=True)
    torn = lines[1 + keep_rows][: max(1, int(len(lines[1 + keep_rows]) * fraction))]
    path.write_text("".join(lines[: 1 + keep_rows]) + torn.rstrip("\n"))


@pytest.fixture
def reference(tmp_path, capsys) -> Path:
    """The uninterrupted six-generation run the resumed ones must reproduce."""
    d = tmp_path / "ref"
    ok(capsys, SMALL + ["--generations", "6", "--out", str(d), "--quiet"])
    return d


def test_resume_drops_a_torn_row_after_the_checkpoint(tmp_path, capsys, reference):
    # a crash while writing the row of generation 2: its checkpoint was never written
    d = tmp_path / "torn"
    ok(capsys, SMALL + ["--generations", "2", "--out", str(d), "--quiet"])
    with open(d / "metrics.csv", "a") as f:
        f.write((reference / "metrics.csv").read_text().splitlines()[3][:25])
    ok(capsys, ["--resume", str(d), "--generations", "6", "--quiet"])
    assert metrics(d) == metrics(reference)
    assert json.loads((d / "summary.json").read_text())["eval"] == \
        json.loads((reference / "summary.json").read_text())["eval"]


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.97])
def test_resume_restores_a_torn_row_of_the_checkpointed_generation(tmp_path, capsys, reference, fraction):
    # a power loss after the checkpoint of generation 2 was synced but before the row was:
    # the checkpoint's copy of the row repairs metrics.csv, even when nothing is left to train
    d = tmp_path / "torn"
    ok(capsys, SMALL + ["--generations", "3", "--out", str(d), "--quiet"])
    _tear(d / "metrics.csv", 2, fraction)
    ok(capsys, ["--resume", str(d), "--quiet"])
    assert metrics(d) == metrics(reference)[:3]
    ok(capsys, ["--resume", str(d), "--generations", "6", "--quiet"])
    assert metrics(d) == metrics(reference)
    assert load_checkpoint(d / "checkpoint.pt")["center"].equal(load_checkpoint(reference / "checkpoint.pt")["center"])


def test_resume_rebuilds_a_torn_header(tmp_path, capsys, reference):
    d = tmp_path / "torn"
    ok(capsys, SMALL + ["--generations", "1", "--out", str(d), "--quiet"])
    (d / "metrics.csv").write_text("generation,episo")
    ok(capsys, ["--resume", str(d), "--generations", "6", "--quiet"])
    # the row of generation 0 comes back from the checkpoint, the rest are trained again
    assert metrics(d) == metrics(reference)


def _set(key, value):
    def mutate(data):
        data["run"][key] = value
        return data
    return mutate


def _raw(text):
    return lambda data: text


BROKEN_CONFIGS = {
    "invalid JSON": (_raw("{not json"), "not valid JSON"),
    "empty file": (_raw(""), "not valid JSON"),
    "not UTF-8": (_raw(b"\xff\xfe{}"), "cannot be read"),
    "a list": (lambda d: [d], "has no 'run' object"),
    "no run": (lambda d: {"resolved": d["resolved"]}, "has no 'run' object"),
    "run is a list": (lambda d: {"run": [1, 2]}, "'run' must be an object, got list"),
    "run is null": (lambda d: {"run": None}, "'run' must be an object"),
    "unknown key": (_set("speed", 3), "unknown setting(s) speed"),
    "popsize a string": (_set("popsize", "4"), "--popsize has the wrong type: '4'"),
    "popsize a float": (_set("popsize", 4.5), "--popsize has the wrong type: 4.5"),
    "popsize negative": (_set("popsize", -4), "--popsize must be an integer in [1, "),
    "generations a bool": (_set("generations", True), "--generations has the wrong type: True"),
    "seed negative": (_set("seed", -1), "--seed must be an integer in [0, "),
    "stop_success NaN": (_raw('{"run": {"algo": "pgpe", "env": "tmaze:length=3", "stop_success": NaN}}'),
                         "--stop-success must be a finite number, got nan"),
    "eval_every missing": (_set("eval_every", None), "--eval-every not set"),
    "env spec broken": (_set("env", "tmaze:length="), "bad value '' for env tmaze option length"),
    "env unknown": (_set("env", "maze"), "unknown env 'maze'"),
    "env a number": (_set("env", 3), "--env has the wrong type: 3"),
    "no env, no task": (_set("env", None), "missing --env"),
    "env and task": (_set("task", "sines"), "give either --env or --task, not both"),
    "policy out of range": (_set("policy", "lstm:hidden=0"), "bad value 0 for policy lstm option hidden"),
    "algorithm unknown": (_set("algo", "sgd"), "unknown algorithm 'sgd'"),
    "algo option NaN": (_raw('{"run": {"algo": "pgpe", "env": "tmaze:length=3", "popsize": 4, "episodes": 2, '
                             '"generations": 3, "eval_episodes": 4, "eval_every": 1, "center_episodes": 2, '
                             '"algo_options": {"lr_mu": NaN}}}'),
     "config.json: bad value nan for --lr-mu; accepted: a finite"),
    "algo option a string": (_set("algo_options", {"lr_mu": "fast"}), "bad value 'fast'"),
    "algo option unknown": (_set("algo_options", {"speed": 1}), "unknown option 'speed' for algorithm 'pgpe'"),
    "algo options a list": (_set("algo_options", [1]), "--algo-options has the wrong type"),
    "policy null": (_set("policy", None), "--policy not set"),
    # valid settings, but not the run the checkpoint holds: a centre of another size, another seed
    "policy edited": (_set("policy", "lstm:hidden=5"), "--policy 'lstm:hidden=5' (the checkpoint's: 'lstm:hidden=2')"),
    "seed edited": (_set("seed", 7), "--seed 7 (the checkpoint's: 0)"),
}


@pytest.mark.parametrize("name", list(BROKEN_CONFIGS))
def test_a_hand_broken_config_json_is_one_clear_error(run3, capsys, name):
    mutate, needle = BROKEN_CONFIGS[name]
    path = run3 / "config.json"
    out = mutate(json.loads(path.read_text()))
    if isinstance(out, bytes):
        path.write_bytes(out)
    else:
        path.write_text(out if isinstance(out, str) else json.dumps(out))
    before = snapshot(run3)
    line = refused(capsys, ["--resume", str(run3), "--generations", "5", "--quiet"], needle)
    assert "config.json" in line  # the error names the file to fix
    assert snapshot(run3) == before


def test_resume_with_other_settings_is_refused_listing_each_conflict(run3, capsys):
    before = snapshot(run3)
    refused(capsys, ["pgpe", "--env", "tmaze", "--resume", str(run3), "--popsize", "100"],
            "--env 'tmaze' (the run's: 'tmaze:length=3')", "--popsize 100 (the run's: 4)",
            "only --generations, --workers, --tensorboard may change on resume")
    refused(capsys, ["cmaes", "--env", "tmaze:length=3", "--resume", str(run3)], "algorithm 'cmaes'")
    assert snapshot(run3) == before


@pytest.mark.parametrize("value,needle", [("-7", "--generations must be an integer in [1, "),
                                          ("2", "--generations 2 is below the 3 generations"),
                                          ("x", "bad value 'x' for --generations")])
def test_resume_with_bad_generations_is_refused(run3, capsys, value, needle):
    before = snapshot(run3)
    refused(capsys, ["--resume", str(run3), "--generations", value, "--quiet"], needle)
    assert snapshot(run3) == before


def test_resume_may_change_the_workers(run3, capsys):
    ok(capsys, ["--resume", str(run3), "--workers", "2", "--generations", "4", "--quiet"])
    assert json.loads((run3 / "config.json").read_text())["run"]["workers"] == 2
    assert json.loads((run3 / "summary.json").read_text())["generations"] == 4


# --- would-be tracebacks ----------------------------------------------------------------------

WOULD_BE_TRACEBACKS = [
    (["pgpe", "--env", "tmaze", "--policy", "lstm:hidden=0"], ["bad value 0 for policy lstm option hidden"]),
    (["pgpe", "--env", "tmaze", "--policy", "lstm:layers=0"], ["bad value 0 for policy lstm option layers"]),
    (["pgpe", "--env", "tmaze", "--policy", "mlp:hidden=0"], ["bad value 0 for policy mlp option hidden"]),
    (["evolino", "--task", "sines:n=0"], ["bad value 0 for task sines option n", ">= 1 and <= 5"]),
    (["evolino", "--task", "sines:n=99"], ["bad value 99 for task sines option n"]),
    (["evolino", "--task", "mackey-glass:trials=0"], ["bad value 0 for task mackey-glass option trials"]),
    # options checked together by the task raise a plain ValueError: the registry names the spec
    (["evolino", "--task", "sines:washout=499,fit_end=1"], ["sines: need 0 <= washout < fit_end", "fit_end=1"]),
    (["evolino", "--task", "anbncn:train_max=20,test_max=10"], ["anbncn: need 1 <= train_max <= test_max", "20"]),
    (["rpg", "--env", "tmaze", "--lr", "nan"], ["bad value 'nan' for --lr", "finite"]),
    (["pgpe", "--env", "cartpole", "--sigma-init", "1e308"], ["bad value '1e308' for --sigma-init"]),
    (["pgpe", "--env", "tmaze", "--threads", "100000"], ["--threads", "<= 256"]),  # torch segfaulted
    (["pgpe", "--env", "tmaze", "--threads", "1" + "0" * 20], ["--threads"]),
    (["pgpe", "--env", "tmaze", "--threads", "0"], ["--threads", ">= 1"]),
    (["pgpe", "--env", "tmaze", "--seed", "1" + "0" * 30], ["--seed"]),
    (["pgpe", "--env", "tmaze", "--out", "a\0b"], ["--out", "NUL"]),
    (["pgpe", "--env", "tmaze", "--out", "a" * 5000], ["--out", "cannot be used"]),
    (["pgpe", "--env", "tmaze", "--env", "tmaze:length=3,length=4"], ["given twice"]),
    (["--resume", "no\0where"], ["cannot be read"]),
    (["--resume", "nowhere"], ["not a dps run directory"]),
    (["evaluate", "no\0where"], ["cannot be read"]),
]


@pytest.mark.parametrize("argv,needles", WOULD_BE_TRACEBACKS,
                         ids=[" ".join(a).replace("\0", "NUL")[:48] for a, _ in WOULD_BE_TRACEBACKS])
def test_would_be_tracebacks_are_one_line_errors(cwd, capsys, argv, needles):
    extra = TINY if argv[0] not in ("--resume", "evaluate") else []
    refused(capsys, argv + extra, *needles)
    no_run_dir(cwd)


@pytest.mark.parametrize("episodes", ["-5", "0", "1.5", "nan"])
def test_evaluate_refuses_bad_episodes(run3, capsys, episodes):
    refused(capsys, ["evaluate", str(run3), "--episodes", episodes], "--episodes", episodes)


# --- upper bounds ---------------------------------------------------------------------------

# Env options that would only exhaust memory or time carry an upper bound
# (``Annotated[int, Range(...)]`` in the env's signature): only the spec layer is asked here
# (Registry.options converts and range-checks without building), so nothing is allocated.
def test_tmaze_length_is_bounded_before_allocating(cwd, capsys):
    with pytest.raises(UserError, match="length"):
        ENVS.options("tmaze:length=1000000000")
    refused(capsys, ["pgpe", "--env", "tmaze:length=1000000000"] + TINY, "tmaze option length")
    no_run_dir(cwd)


@pytest.mark.parametrize("spec", ["tmaze:max_steps=1000000000000", "class-query:length=1000000000000",
                                  "class-query:noise=1000000000000", "catch:rows=1000000000000",
                                  "catch:columns=1000000000000", "cartpole:max_steps=1000000000000",
                                  "gym:CartPole-v1,max_steps=1000000000000", "atari-go:games=1000000000000"])
def test_env_sizes_are_bounded(spec):
    with pytest.raises(UserError, match=spec.rsplit(",", 1)[-1].split(":")[-1].split("=")[0]):
        ENVS.options(spec)


@pytest.mark.parametrize("policy", ["lstm:hidden=100000", "lstm:layers=1000", "mlp:hidden=100000",
                                    "rnn:hidden=100000"])
def test_policy_sizes_are_bounded(cwd, capsys, policy):
    refused(capsys, ["pgpe", "--env", "tmaze", "--policy", policy] + TINY, "accepted: an integer >= 1 and <=")
    no_run_dir(cwd)


def test_workers_are_bounded(cwd, capsys):
    refused(capsys, ["pgpe", "--env", "tmaze", "--workers", "1000"] + TINY, "--workers must be an integer in [1, 256]")
    no_run_dir(cwd)


def test_a_population_beyond_memory_is_refused_before_allocating(cwd, capsys):
    refused(capsys, ["pgpe", "--env", "tmaze", "--popsize", "10000000", "--episodes", "1000", "--generations", "1",
                     "--quiet"], "this run needs about", "GiB", "10000000 members x 1000 episodes")
    no_run_dir(cwd)


# --- settings, files and messages -------------------------------------------------------------

@pytest.mark.parametrize("value", ["-1", "1.5", "nan"])
def test_stop_success_outside_0_1_is_refused(cwd, capsys, value):
    refused(capsys, ["pgpe", "--env", "tmaze", "--stop-success", value] + TINY, "--stop-success")
    no_run_dir(cwd)


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600)])
def test_run_files_get_the_umask_permissions(tmp_path, capsys, umask, mode):
    old = os.umask(umask)
    try:
        ok(capsys, SMALL + ["--generations", "2", "--out", str(tmp_path / "r"), "--quiet"])
    finally:
        os.umask(old)
    files = sorted(p for p in (tmp_path / "r").iterdir())
    assert {p.name for p in files} >= {"config.json", "metrics.csv", "checkpoint.pt", "curve.png", "summary.json"}
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in files} == {p.name: oct(mode) for p in files}


def test_the_run_directory_is_printed_first_and_the_stop_is_explained(cwd, capsys):
    # a T-maze of length 3 is solved in about 130 generations of 20 members (about 2 s)
    rc = main(["pgpe", "--env", "tmaze:length=3", "--policy", "lstm:hidden=3", "--popsize", "20", "--episodes",
               "2", "--center-episodes", "4", "--eval-episodes", "4", "--generations", "400"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    lines = [x.strip() for x in err.replace("\r", "\n").splitlines() if x.strip()]
    (run_dir,) = (cwd / "runs").iterdir()
    assert lines[0] == f"run directory: {Path('runs') / run_dir.name}"
    s = json.loads((run_dir / "summary.json").read_text())
    assert s["stopped_early"] and s["generations"] < 400
    reason = f"stopped after generation {s['generations'] - 1}: the centre's greedy success rate reached 1.0"
    assert s["stop_reason"] == reason and reason in lines and reason in out
    fs = s["first_success"]
    assert {"generation", "episodes", "wall_seconds"} <= set(fs)
    # the run stops at the first success (stop criterion = success criterion = 1.0)
    assert fs["generation"] == s["generations"] - 1 and fs["episodes"] == s["episodes"]
    assert 0 < fs["wall_seconds"] <= s["wall_seconds"]
    row = metrics(run_dir, drop=())[fs["generation"]]
    assert float(row["center_success"]) == 1.0 and int(row["episodes"]) == fs["episodes"]
    assert f"after generation {fs['generation']}" in out


def test_a_run_stopped_by_its_episode_budget_says_so(tmp_path, capsys):
    # 4 members x 2 episodes = 8 episodes per generation: a budget of 20 ends after generation 2 (24)
    out, _ = ok(capsys, SMALL + ["--generations", "50", "--max-episodes", "20", "--out", str(tmp_path / "b"),
                                 "--quiet"])
    reason = "stopped after generation 2: 24 training episodes reached the budget --max-episodes 20"
    assert reason in out
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["stop_reason"] == reason


# --- Ctrl-C -------------------------------------------------------------------------------

def _interrupt_once(monkeypatch, owner, name, after_calls=0) -> dict:
    """``owner.name`` raises KeyboardInterrupt on call ``after_calls + 1``, then behaves;
    returns ``{"fired": how many interrupts were raised}``."""
    real = getattr(owner, name)
    state = {"calls": 0, "fired": 0}

    def flaky(*args, **kwargs):
        state["calls"] += 1
        if state["calls"] == after_calls + 1:
            state["fired"] += 1
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, flaky)
    return state


def _fake_report(env, policy, params, run_dir, seed):
    (Path(run_dir) / "report.json").write_text("{}")
    return {"boards": 0}


@pytest.mark.parametrize("where", ["training", "final evaluation", "report"])
def test_ctrl_c_leaves_a_resumable_run(tmp_path, capsys, monkeypatch, where):
    from dps.algorithms.learner import SearchLearner
    from dps.envs.tmaze import TMaze
    from dps.evaluation import REPORTS
    from dps.runner import loop

    if where == "training":
        state = _interrupt_once(monkeypatch, SearchLearner, "step", after_calls=2)
    elif where == "final evaluation":
        state = _interrupt_once(monkeypatch, loop, "greedy_evaluation")
    else:  # the env's own report after the final evaluation (Atari-Go's; here one for the T-maze)
        monkeypatch.setitem(REPORTS, TMaze, _fake_report)
        state = _interrupt_once(monkeypatch, sys.modules[__name__], "_fake_report")
        monkeypatch.setitem(REPORTS, TMaze, lambda *args: _fake_report(*args))
    d = tmp_path / "r"
    rc = main(SMALL + ["--generations", "4", "--out", str(d), "--quiet"])
    out, err = capsys.readouterr()
    assert rc == 130 and state["fired"] == 1
    assert "Traceback" not in out + err
    assert f"Continue with: python -m dps.run --resume {d}" in err
    assert not (d / "summary.json").exists()
    done = load_checkpoint(d / "checkpoint.pt")["generation"]
    assert done == (2 if where == "training" else 4)
    ok(capsys, ["--resume", str(d), "--quiet"])
    s = json.loads((d / "summary.json").read_text())
    assert s["generations"] == 4 and s["eval"]["episodes"] == 4
    assert [r["generation"] for r in metrics(d)] == ["0", "1", "2", "3"]
    if where == "report":
        assert s["report"] == {"boards": 0}


def test_ctrl_c_before_the_run_directory_exists(cwd, capsys, monkeypatch):
    from dps.runner import build
    _interrupt_once(monkeypatch, build, "make_env")
    rc = main(["pgpe", "--env", "tmaze"] + TINY)
    _, err = capsys.readouterr()
    assert rc == 130 and "interrupted" in err and "Traceback" not in err
    no_run_dir(cwd)


def test_no_traceback_reaches_the_terminal(tmp_path):
    """In a real process (the interpreter's own error printing): refused input and a run
    diverging to inf each end in one line, never a traceback."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for argv in (["pgpe", "--env", "tmaze:length=3", "--sigma-init", "1e308"] + TINY,
                 ["pgpe", "--env", "tmaze", "--threads", "100000"] + TINY,
                 ["evolino", "--task", "sines:washout=499,fit_end=1"] + TINY):
        r = subprocess.run([sys.executable, "-m", "dps.run", *argv], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 2, r.stderr
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("dps: error:") and "Traceback" not in r.stderr
    assert not (tmp_path / "runs").exists()
