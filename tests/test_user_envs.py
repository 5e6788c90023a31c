"""A user's own environments: ids from packages that register on import (``gym:MODULE:ID``,
``--import MODULE``), in the main process and in worker processes; the default episode
limit of envs without a TimeLimit; the centre's evaluation episodes; bit-identical results
for any worker count (issue defects D1-D3, D6, D7)."""
import csv
import json
import logging

import gymnasium
import pytest
import torch

from dps.envs.gymnasium import DEFAULT_MAX_STEPS, GymEnv
from dps.errors import UserError
from dps.evaluation import run_episodes
from dps.policies import make_policy
from dps.registry import IMPORTED
from dps.run import main


def _params(env, P, seed=0, hidden=5):
    policy = make_policy(f"lstm:hidden={hidden}", env.observation_shape, env.action_space.out_size)
    g = torch.Generator().manual_seed(seed)
    return policy, torch.randn(P, policy.num_params, generator=g) * 0.7


# ---- D1: module:EnvId ---------------------------------------------------------------------
def test_module_colon_id_imports_the_package():
    env = GymEnv("plugin_envs:PluginPendulum-v0")
    assert env.max_steps == 60 and env.observation_shape == (2,)
    assert "plugin_envs" not in IMPORTED  # the id itself carries the module to the workers


def test_module_colon_id_in_workers_is_bit_identical():
    env = GymEnv("plugin_envs:PluginPendulum-v0")
    policy, params = _params(env, 5)
    one = run_episodes(policy, env, params, 3, seed=4, workers=1)
    for workers in (2, 3):
        other = run_episodes(policy, env, params, 3, seed=4, workers=workers)
        assert torch.equal(one.returns, other.returns) and torch.equal(one.lengths, other.lengths)


def test_unknown_module_and_unknown_id_are_one_clear_line():
    with pytest.raises(UserError, match="cannot import module 'no_such_pkg_xyz'"):
        GymEnv("no_such_pkg_xyz:Foo-v0")
    with pytest.raises(UserError, match="bad module name"):
        GymEnv("bad name:Foo-v0")
    with pytest.raises(UserError, match=r"did you mean CartPole-v1.*gym:PACKAGE:ID"):
        GymEnv("CartPole-v9")


# ---- D2: an id registered in the main process only -----------------------------------------
def test_id_registered_only_in_the_main_process(monkeypatch):
    import plugin_envs

    from dps.evaluation import workers
    if "MainOnlyRecall-v0" not in gymnasium.registry:
        gymnasium.register("MainOnlyRecall-v0", entry_point=plugin_envs.Recall)
    env = GymEnv("MainOnlyRecall-v0")
    policy, params = _params(env, 2)
    if workers.START_METHOD == "fork":  # forked workers know what was registered before the env was built
        one = run_episodes(policy, env, params, 2, seed=1, workers=1)
        assert torch.equal(one.returns, run_episodes(policy, env, params, 2, seed=1, workers=2).returns)
    # spawned workers start afresh: the error names the cause
    monkeypatch.setattr(workers, "START_METHOD", "spawn")
    env = GymEnv("MainOnlyRecall-v0")
    with pytest.raises(UserError, match=r"in a worker process.*--import MODULE"):
        run_episodes(policy, env, params, 2, seed=1, workers=2)
    env.close()


# ---- D3: no TimeLimit of its own -----------------------------------------------------------
def test_env_without_time_limit_gets_the_default_and_one_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="dps"):
        env = GymEnv("plugin_envs:PluginRecall-v0")
    assert env.max_steps == DEFAULT_MAX_STEPS
    lines = [r.getMessage() for r in caplog.records if r.name == "dps"]
    assert len(lines) == 1 and "no time limit of its own" in lines[0] and "max_steps=N" in lines[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dps"):
        assert GymEnv("plugin_envs:PluginRecall-v0", max_steps=7).max_steps == 7
    assert not caplog.records
    # the episode ends by itself well before the bound, in the main process and in workers
    policy, params = _params(env, 3)
    one = run_episodes(policy, env, params, 4, seed=2, workers=1)
    assert bool((one.lengths == 5).all())
    assert torch.equal(one.returns, run_episodes(policy, env, params, 4, seed=2, workers=2).returns)


# ---- --import, the run's config, resume --------------------------------------------------
def _rows(run_dir):
    with open(run_dir / "metrics.csv", newline="") as f:
        return [{k: v for k, v in r.items() if k != "wall_seconds"} for r in csv.DictReader(f)]


def _run(tmp_path, name, *args):
    out = tmp_path / name
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    return out


def test_import_flag_reaches_config_workers_and_resume(tmp_path, capsys):
    base = ["pgpe", "--import", "plugin_envs", "--env", "gym:PluginRecall-v0,max_steps=10", "--generations", "2",
            "--popsize", "4", "--episodes", "3", "--eval-episodes", "5", "--center-episodes", "3"]
    one = _run(tmp_path, "w1", *base, "--workers", "1")
    two = _run(tmp_path, "w2", *base, "--workers", "2")
    assert _rows(one) == _rows(two)
    config = json.loads((one / "config.json").read_text())["run"]
    assert config["imports"] == ["plugin_envs"]
    assert main(["--resume", str(two), "--generations", "3", "--quiet"]) == 0
    assert len(_rows(two)) == 3


@pytest.mark.parametrize("value, message", [("no_such_pkg_xyz", "cannot import module 'no_such_pkg_xyz'"),
                                            ("1bad", "bad module name '1bad'")])
def test_import_flag_errors_are_one_line(value, message, tmp_path, capsys):
    assert main(["pgpe", "--import", value, "--env", "tmaze", "--out", str(tmp_path / "x"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "x").exists()


# ---- D6: the centre's evaluation episodes ---------------------------------------------------
def test_center_episodes_flag_and_gym_default(tmp_path, monkeypatch):
    import dps.runner.loop as loop
    seen = []
    real = loop.run_episodes

    def spy(policy, env, params, episodes, *a, **k):
        seen.append(episodes)
        return real(policy, env, params, episodes, *a, **k)

    monkeypatch.setattr(loop, "run_episodes", spy)
    run = _run(tmp_path, "c", "pgpe", "--env", "gym:CartPole-v1,max_steps=20", "--generations", "2",
               "--popsize", "4", "--episodes", "1", "--eval-every", "1", "--center-episodes", "7")
    assert seen == [7, 7]
    seen.clear()
    run = _run(tmp_path, "d", "pgpe", "--env", "gym:Pendulum-v1,max_steps=20", "--generations", "1",
               "--popsize", "4", "--eval-every", "1")
    assert json.loads((run / "config.json").read_text())["run"]["center_episodes"] == 16 and seen == [16]


# ---- D7: bit-identical metrics.csv for any worker count -----------------------------------
BIT_IDENTICAL = [
    ("pgpe", "gym:Pendulum-v1,velocities=false,max_steps=40"),
    ("cmaes", "gym:CartPole-v1,velocities=false"),
    ("snes", "gym:plugin_envs:PluginPendulum-v0"),
]


@pytest.mark.parametrize("algo, env", BIT_IDENTICAL)
def test_metrics_bit_identical_for_any_worker_count(algo, env, tmp_path):
    base = [algo, "--env", env, "--generations", "3", "--popsize", "6", "--episodes", "3", "--eval-episodes", "7",
            "--center-episodes", "5", "--eval-every", "1"]
    runs = [_run(tmp_path, f"w{w}", *base, "--workers", str(w)) for w in (1, 2, 3)]
    assert _rows(runs[0]) == _rows(runs[1]) == _rows(runs[2])
    evals = [json.loads((r / "summary.json").read_text())["eval"] for r in runs]
    assert evals[0] == evals[1] == evals[2]
    # metrics.csv keeps every digit (a difference in the 7th would show)
    assert any(len(v) > 9 for r in _rows(runs[0]) for v in r.values())


# ---- POPGym end to end (the [popgym] extra) ----------------------------------------------
def test_popgym_through_workers(tmp_path):
    pytest.importorskip("popgym")
    base = ["pgpe", "--env", "gym:popgym:popgym-RepeatPreviousEasy-v0", "--generations", "2", "--popsize", "4",
            "--episodes", "2", "--eval-episodes", "4", "--center-episodes", "2"]
    one = _run(tmp_path, "p1", *base, "--workers", "1")
    two = _run(tmp_path, "p2", *base, "--workers", "2")
    assert _rows(one) == _rows(two)
    summary = json.loads((two / "summary.json").read_text())
    assert summary["eval"]["mean_length"] > 1


# ---- a budget in env steps -----------------------------------------------------------------
def test_max_env_steps_stops_after_the_generation_that_reaches_it(tmp_path):
    run = _run(tmp_path, "b", "pgpe", "--import", "plugin_envs", "--env", "gym:PluginRecall-v0", "--popsize", "4",
               "--episodes", "2", "--generations", "1000", "--max-env-steps", "100", "--eval-episodes", "2")
    summary = json.loads((run / "summary.json").read_text())
    # 8 episodes of 5 steps a generation: 40, 80, 120 -> three generations
    assert summary["env_steps"] == 120 and summary["generations"] == 3
    assert "--max-env-steps 100" in summary["stop_reason"]
