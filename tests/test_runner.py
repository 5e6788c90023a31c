"""Runner and CLI contract: run directory, resume bit-identity, evaluate, errors, interrupts."""
import csv
import json
import os
import subprocess
import sys

import pytest
import torch

from dps.checkpoint import load_checkpoint
from dps.errors import UserError
from dps.run import main
from dps.runner import RunConfig, evaluate_run, load_run, train

SMALL = dict(algo="pgpe", env="tmaze:length=4", policy="lstm:hidden=3", popsize=6, episodes=2,
             eval_episodes=10, eval_every=1)


def _run(tmp_path, name, generations, **kw):
    cfg = RunConfig(**{**SMALL, **kw, "generations": generations, "out": str(tmp_path / name)})
    return train(cfg, quiet=True)


def test_run_directory_contents(tmp_path):
    d = _run(tmp_path, "a", 3)
    for f in ("config.json", "metrics.csv", "checkpoint.pt", "curve.png", "summary.json"):
        assert (d / f).exists(), f
    s = json.loads((d / "summary.json").read_text())
    assert s["generations"] == 3 and s["episodes"] == 3 * 6 * 2
    assert set(s["eval"]) >= {"episodes", "mean_return", "success_rate"}
    assert s["eval"]["episodes"] == 10
    rows = list(csv.DictReader(open(d / "metrics.csv")))
    assert [int(r["generation"]) for r in rows] == [0, 1, 2]
    assert list(rows[0])[:8] == ["generation", "episodes", "env_steps", "wall_seconds", "best", "mean",
                                 "center_return", "center_success"]
    assert int(rows[-1]["episodes"]) == 36 and int(rows[-1]["env_steps"]) == s["env_steps"]
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["run"]["env"] == "tmaze:length=4" and cfg["resolved"]["num_params"] > 0


@pytest.mark.parametrize("algo", ["pgpe"])
def test_resume_is_bit_identical(tmp_path, algo):
    full = _run(tmp_path, "full", 6, algo=algo)
    half = _run(tmp_path, "half", 3, algo=algo)
    train(RunConfig(algo="", generations=6), resume=str(half), quiet=True)
    a, b = load_checkpoint(full / "checkpoint.pt"), load_checkpoint(half / "checkpoint.pt")
    assert torch.equal(a["center"], b["center"])
    ra = [(r["best"], r["mean"], r["env_steps"]) for r in csv.DictReader(open(full / "metrics.csv"))]
    rb = [(r["best"], r["mean"], r["env_steps"]) for r in csv.DictReader(open(half / "metrics.csv"))]
    assert ra == rb
    summary = {d: json.loads((d / "summary.json").read_text()) for d in (full, half)}
    assert summary[full]["eval"] == summary[half]["eval"]


def test_same_seed_same_run_different_seed_differs(tmp_path):
    a = load_checkpoint(_run(tmp_path, "a", 2) / "checkpoint.pt")["center"]
    b = load_checkpoint(_run(tmp_path, "b", 2) / "checkpoint.pt")["center"]
    c = load_checkpoint(_run(tmp_path, "c", 2, seed=1) / "checkpoint.pt")["center"]
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_interrupt_keeps_a_resumable_checkpoint(tmp_path, monkeypatch):
    from dps.algorithms import learner as problem
    from dps.runner import Interrupted

    calls = {"n": 0}
    orig = problem.SearchLearner.step

    def flaky(self):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return orig(self)

    monkeypatch.setattr(problem.SearchLearner, "step", flaky)
    with pytest.raises(Interrupted) as exc:
        _run(tmp_path, "int", 5)
    assert exc.value.generation == 2
    monkeypatch.setattr(problem.SearchLearner, "step", orig)
    d = tmp_path / "int"
    assert load_checkpoint(d / "checkpoint.pt")["generation"] == 2
    train(RunConfig(algo=""), resume=str(d), quiet=True)
    full = _run(tmp_path, "ref", 5)
    centers = [load_checkpoint(x / "checkpoint.pt")["center"] for x in (d, full)]
    assert torch.equal(*centers)
    assert len(list(csv.DictReader(open(d / "metrics.csv")))) == 5


def test_crash_keeps_checkpoint(tmp_path, monkeypatch):
    from dps.algorithms import learner as problem
    from dps.runner import RunFailed

    orig = problem.SearchLearner.step
    calls = {"n": 0}

    def crash(self):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker died")
        return orig(self)

    monkeypatch.setattr(problem.SearchLearner, "step", crash)
    with pytest.raises(RunFailed, match="--resume"):
        _run(tmp_path, "crash", 4)
    assert load_checkpoint(tmp_path / "crash" / "checkpoint.pt")["generation"] == 1


def test_evaluate_and_load_run(tmp_path):
    d = _run(tmp_path, "e", 2)
    s = json.loads((d / "summary.json").read_text())
    assert evaluate_run(d) == s["eval"]
    again = evaluate_run(d, episodes=20, seed=5)
    assert again["episodes"] == 20
    spec, params, config = load_run(d)
    assert spec == "lstm:hidden=3" and params.dim() == 1 and config["env"] == "tmaze:length=4"


def test_checkpoint_loads_weights_only(tmp_path):
    d = _run(tmp_path, "w", 1)
    torch.load(d / "checkpoint.pt", weights_only=True)  # must not need pickle of arbitrary objects


@pytest.mark.parametrize("argv,needle", [
    (["nope", "--env", "tmaze"], "unknown algorithm 'nope'"),
    (["pgpe", "--env", "maze"], "unknown env 'maze'; accepted:"),
    (["pgpe", "--env", "tmaze:len=3"], "unknown option 'len' for env 'tmaze'; accepted: length"),
    (["pgpe", "--env", "tmaze:length=abc"], "bad value 'abc'"),
    (["pgpe", "--env", "tmaze", "--policy", "gru"], "unknown policy 'gru'"),
    (["pgpe", "--env", "tmaze", "--policy", "lstm:hidden=x"], "bad value 'x'"),
    (["pgpe", "--env", "tmaze:length=3,"], "malformed env spec"),
    (["pgpe", "--env", "tmaze", "--popsize", "5", "--generations", "1"], "even"),
    (["pgpe", "--env", "tmaze", "--generations", "0"], "--generations must be an integer in [1, "),
    (["pgpe", "--env", "tmaze", "--variant", "x", "--generations", "1"], "unknown PGPE variant 'x'"),
    (["pgpe", "--env", "tmaze", "--lr-mu", "fast"], "bad value 'fast' for --lr-mu; accepted: a number"),
    (["pgpe", "--env", "tmaze", "--lr-mu", "nan"], "bad value 'nan' for --lr-mu; accepted: a finite number"),
    (["pgpe"], "missing --env"),
    (["pgpe", "--env", "tmaze", "--bogus"], "unrecognized arguments: --bogus"),
    (["pgpe", "--env", "tmaze", "--device", "tpu"], "bad device 'tpu'"),
    (["evaluate", "/nonexistent/run"], "not a dps run directory"),
])
def test_cli_user_errors_are_one_line(argv, needle, capsys, tmp_path):
    if argv[0] == "pgpe" and "--out" not in argv:
        argv = argv + ["--out", str(tmp_path / "x"), "--quiet"]
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and err.startswith("dps: error:"), err
    assert needle in err


def test_unwritable_out_dir(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    rc = main(["pgpe", "--env", "tmaze", "--out", str(f / "sub"), "--generations", "1", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "not writable" in err


def test_list_names_everything(capsys):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    for name in ("pgpe", "cmaes", "rpg", "evolino", "tmaze", "cartpole", "class-query", "gym", "atari-go",
                 "lstm", "mlp", "linear", "rnn", "mdlstm"):
        assert name in out


def test_module_entry_point(tmp_path):
    r = subprocess.run([sys.executable, "-m", "dps.run", "pgpe", "--env", "tmaze:length=3", "--policy",
                        "lstm:hidden=2", "--generations", "2", "--popsize", "4", "--episodes", "2",
                        "--eval-episodes", "5", "--out", str(tmp_path / "m"), "--quiet"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "eval:" in r.stdout


def test_per_env_defaults_resolve():
    from dps.runner import resolve
    r = resolve(RunConfig(algo="pgpe", env="tmaze:length=20"))
    assert r.stop_success == 1.0 and r.algo_options["restart_after"] == 150
    assert resolve(RunConfig(algo="cmaes", env="cartpole:poles=2,velocities=false")).stop_success is None
    # the double pole without velocities: one LSTM for every searcher, σ 0.25 (docs/POLE.md);
    # experiments/reproduce_pole.py's task c takes these settings from the runner
    dpnv = {algo: resolve(RunConfig(algo=algo, env="cartpole:poles=2,velocities=false"))
            for algo in ("pgpe", "cmaes", "snes")}
    assert len({r.policy for r in dpnv.values()}) == 1 and dpnv["snes"].policy.startswith("lstm:")
    assert [dpnv[a].algo_options[k] for a, k in (("pgpe", "sigma_init"), ("cmaes", "sigma0"),
                                                  ("snes", "stdev_init"))] == [0.25] * 3
    assert resolve(RunConfig(algo="pgpe", env="cartpole:poles=2")).policy == "lstm:hidden=4,input_scale=10"
    assert resolve(RunConfig(algo="pgpe", env="cartpole:velocities=false")).stop_success == 1.0
    g = resolve(RunConfig(algo="pgpe", env="gym:CartPole-v1,velocities=false"))
    assert "input_scale=10" in g.policy
    assert resolve(RunConfig(algo="rpg", env="tmaze")).episodes == 32
    # CMA-ES on the T-maze restarts at the same population once its returns stall (docs/MEMORY.md)
    c = resolve(RunConfig(algo="cmaes", env="tmaze:length=50")).algo_options
    assert (c["sigma0"], c["restarts"], c["incpopsize"], c["tolfun"]) == (1.0, "ipop", 1.0, 1e-3)
    assert resolve(RunConfig(algo="cmaes", env="class-query")).algo_options.get("restarts", "none") == "none"
    # RPG on class-query: chrono initialisation and the curriculum above length 50 only
    # (docs/MEMORY.md, "Chrono initialisation with RPG on class-query")
    long, short = (resolve(RunConfig(algo="rpg", env=f"class-query:length={n}")) for n in (51, 50))
    assert (long.policy, long.curriculum) == ("lstm:hidden=16,chrono=51", "length=10..51")
    assert (short.policy, short.curriculum) == ("lstm:hidden=16,forget_bias=5", None)
    assert resolve(RunConfig(algo="rpg", env="class-query")).policy == short.policy
    # a flag given by the user wins over the per-env default
    assert resolve(RunConfig(algo="pgpe", env="tmaze", popsize=10)).popsize == 10


def test_run_config_reads_a_command_line_as_the_cli_does():
    from dps.run import run_config
    cfg = run_config(["rpg", "--env", "atari-go:opponent=L2+L5", "--episodes", "32", "--max-episodes", "640",
                      "--lr", "0.02", "--seed", "3"])
    assert (cfg.algo, cfg.env, cfg.episodes, cfg.max_episodes, cfg.seed) == ("rpg", "atari-go:opponent=L2+L5",
                                                                             32, 640, 3)
    assert cfg.algo_options == {"lr": 0.02} and cfg.popsize is None   # unset flags stay for the defaults
    with pytest.raises(UserError, match="'many' for --popsize"):
        run_config(["pgpe", "--popsize", "many"])


def test_episode_budget_stops_after_the_generation_that_reaches_it(tmp_path):
    # 6 members x 2 episodes = 12 episodes per generation; a budget of 30 ends after generation 3 (36)
    d = _run(tmp_path, "budget", 1000, max_episodes=30, eval_every=1000)
    s = json.loads((d / "summary.json").read_text())
    assert s["generations"] == 3 and s["episodes"] == 36
    rows = list(csv.DictReader(open(d / "metrics.csv")))
    # eval_every=1000 alone would never evaluate: the budget's last generation is evaluated
    assert [r["center_return"] != "" for r in rows] == [False, False, True]
    # resuming a spent budget trains nothing more
    train(RunConfig(algo=""), resume=str(d), quiet=True)
    assert json.loads((d / "summary.json").read_text())["generations"] == 3


def test_eval_every_episodes_evaluates_at_each_crossing(tmp_path):
    # 12 episodes per generation (12, 24, 36, ...): a multiple of 30 is crossed or reached at 36, 60, 96
    # and 120, i.e. after generations 3, 5, 8 and 10 (the last one is also the final generation)
    d = _run(tmp_path, "every", 10, eval_every=1000, eval_every_episodes=30)
    rows = list(csv.DictReader(open(d / "metrics.csv")))
    evaluated = [int(r["episodes"]) for r in rows if r["center_return"] != ""]
    assert evaluated == [36, 60, 96, 120]
    with pytest.raises(Exception, match="max-episodes"):
        _run(tmp_path, "bad", 2, max_episodes=0)


def test_run_files_have_the_umask_permissions_and_no_temporaries(tmp_path):
    """config.json, metrics.csv, checkpoint.pt, summary.json and curve.png are made with
    0666 less the umask (as a plain open() would), through one atomic writer."""
    old = os.umask(0o022)
    try:
        d = _run(tmp_path, "perm", 2)
    finally:
        os.umask(old)
    for name in ("config.json", "metrics.csv", "checkpoint.pt", "summary.json", "curve.png"):
        assert os.stat(d / name).st_mode & 0o777 == 0o644, name
    assert not [p for p in d.iterdir() if p.name.startswith(".tmp-")]


def test_threads_bound_torch_and_numpy_blas_pools():
    # in a fresh process: the limit is process-wide, and numpy's BLAS would otherwise use every core
    code = ("import torch, threadpoolctl; from dps.run import _set_threads; _set_threads(1); "
            "pools = threadpoolctl.threadpool_info(); "
            "print(torch.get_num_threads(), len(pools), max(p['num_threads'] for p in pools))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "OMP_NUM_THREADS": "4", "OPENBLAS_NUM_THREADS": "4"})
    assert r.returncode == 0, r.stderr
    torch_threads, pools, most = map(int, r.stdout.split())
    assert torch_threads == 1 and pools >= 1 and most == 1
