"""--test-champions: a run on the double pole tests each generation's best member by the
benchmark's definition of solved, ends at the first that passes and returns it; it counts
the same evaluations as experiments/reproduce_pole.py's protocol, and every consumer of the
run (final evaluation, evaluate, load_run, resume) uses the solver."""
import csv
import json

import pytest
import torch
from experiment_scripts import load

from dps.checkpoint import load_checkpoint
from dps.envs.cartpole import CartPole
from dps.evaluation import SOLVE_TESTS, env_checks, solve_test
from dps.evaluation.cartpole import GENERALIZATION_MIN, cartpole_solve_test
from dps.policies import make_policy
from dps.run import main
from dps.runner import RunConfig, evaluate_run, load_run, resolve, train

DPNV = "cartpole:poles=2,velocities=false"
#: SNES's default run on this seed solves the double pole without velocities within ~165
#: generations (docs/POLE.md's fresh-seed table), a few seconds on the C episode kernel
SEED = 11


@pytest.fixture(scope="module")
def solved_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("champ") / "run"
    train(RunConfig(algo="snes", env=DPNV, seed=SEED, eval_episodes=2, out=str(d)), quiet=True)
    return d


def test_the_double_pole_tests_champions_by_default():
    for env in (DPNV, "cartpole:poles=2"):
        cfg = resolve(RunConfig(algo="snes", env=env))
        assert cfg.test_champions is True and cfg.stop_success is None
    assert resolve(RunConfig(algo="snes", env="cartpole")).test_champions is False
    assert resolve(RunConfig(algo="pgpe", env="tmaze")).test_champions is False
    # the user's --select-on wins over the default; the user's own flag wins over both
    assert resolve(RunConfig(algo="snes", env=DPNV, select_on=["cartpole:poles=2"])).test_champions is False
    assert resolve(RunConfig(algo="snes", env=DPNV, test_champions=False)).test_champions is False


def test_the_run_counts_the_evaluations_of_the_published_protocol(solved_run):
    """The CLI's run and reproduce_pole.py's lock-step protocol (one run in the group, so the
    same batch) find the same solver after the same number of evaluations."""
    s = json.loads((solved_run / "summary.json").read_text())
    champ = s["champions"]
    solved = champ["solved"]
    assert s["stopped_early"] and "solved the task" in s["stop_reason"]
    assert solved["generation"] == s["generations"] - 1 and solved["episodes"] == s["episodes"]
    assert solved["result"]["solved"] and solved["result"]["steps"] == CartPole.solve_steps
    assert solved["result"]["generalization"] >= GENERALIZATION_MIN
    assert 1 <= champ["tested"] and champ["failed"] == champ["tested"] - 1
    # the final evaluation is of the solver: it balances 100,000 steps and generalises as tested
    assert s["eval"]["success_rate"] == 1.0
    assert s["eval"]["generalization"] == solved["result"]["generalization"]

    rp = load("reproduce_pole")
    row, = rp.run_group(("c", [("snes", SEED, 10_000)], None))
    assert row["long_ok"] and row["candidate_at"] == solved["episodes"]
    assert row["generalization"] == solved["result"]["generalization"]
    assert row["grid_checks"] == champ["tested"]
    _, params, _ = load_run(solved_run)
    assert torch.equal(params.float(), torch.tensor(row["candidate"], dtype=params.dtype).float())
    # metrics.csv: every tested champion's figures in its generation's row, the solver's last
    rows = list(csv.DictReader(open(solved_run / "metrics.csv")))
    tested = [r for r in rows if r["champion_generalization"] != ""]
    assert len(rows) == s["generations"] and len(tested) == champ["tested"]
    assert int(tested[-1]["generation"]) == solved["generation"]
    assert int(tested[-1]["champion_generalization"]) == solved["result"]["generalization"]
    assert int(tested[-1]["champion_steps"]) == CartPole.solve_steps
    assert all(r["champion_steps"] == "" or int(r["champion_generalization"]) >= GENERALIZATION_MIN
               for r in tested)  # below 200 the 100,000 steps are not run


def test_every_consumer_uses_the_solver(solved_run):
    ck = load_checkpoint(solved_run / "checkpoint.pt")
    assert not torch.equal(ck["solver_params"], ck["center"])  # a member, not the centre
    _, params, _ = load_run(solved_run)
    assert torch.equal(params, ck["solver_params"])
    ev = evaluate_run(solved_run, episodes=1)
    assert ev["success_rate"] == 1.0 and ev["generalization"] >= GENERALIZATION_MIN
    # a resume of the finished run restores the solver and its counters
    before = json.loads((solved_run / "summary.json").read_text())["champions"]
    train(RunConfig(algo="snes"), resume=str(solved_run), quiet=True)
    assert json.loads((solved_run / "summary.json").read_text())["champions"] == before


def test_solve_test_agrees_with_the_checks_and_rejects_below_the_grid_threshold(solved_run):
    env = CartPole(poles=2, velocities=False, fitness="damping")
    policy = make_policy(json.loads((solved_run / "config.json").read_text())["run"]["policy"],
                         env.observation_shape, env.action_space.out_size)
    assert solve_test(env).test is cartpole_solve_test and SOLVE_TESTS[CartPole] is solve_test(env)
    assert solve_test(env).figures(env) == ("generalization", "steps")
    assert solve_test(CartPole(integrator="gym")) is None  # no protocol for gym's task
    _, solver, _ = load_run(solved_run)
    ok = cartpole_solve_test(policy, env, solver, 0)
    checks = env_checks(policy, env, solver, 0)
    assert ok["solved"] and ok["generalization"] == checks["generalization"] and checks["success_rate"] == 1.0
    weak = policy.init_params(torch.Generator().manual_seed(0))
    bad = cartpole_solve_test(policy, env, weak, 0)
    assert bad["generalization"] == env_checks(policy, env, weak, 0)["generalization"] < GENERALIZATION_MIN
    assert bad == {"solved": False, "steps": None, "generalization": bad["generalization"]}
    # with velocities only the 100,000-step balance counts
    vel = CartPole(poles=2, velocities=True)
    lin = make_policy("linear", vel.observation_shape, vel.action_space.out_size)
    res = cartpole_solve_test(lin, vel, torch.zeros(lin.num_params), 0)
    assert res["solved"] is False and "generalization" not in res and res["steps"] < CartPole.solve_steps
    assert set(res) == {"solved", *solve_test(vel).figures(vel)}
    assert set(bad) == {"solved", *solve_test(env).figures(env)}


def test_the_cli_names_the_returned_member(tmp_path, capsys):
    rc = main(["snes", "--env", DPNV, "--seed", str(SEED), "--eval-episodes", "1", "--out", str(tmp_path / "r"),
               "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0 and "returned: the best member of generation" in out and "which solved the task" in out


def test_a_run_without_a_solver_says_so_and_returns_its_centre(tmp_path, capsys):
    rc = main(["snes", "--env", DPNV, "--generations", "3", "--eval-episodes", "1", "--out", str(tmp_path / "r"),
               "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0 and "no champion solved the task" in out
    ck = load_checkpoint(tmp_path / "r" / "checkpoint.pt")
    _, params, _ = load_run(tmp_path / "r")
    assert "solver_params" not in ck and torch.equal(params, ck["center"])


@pytest.mark.parametrize("argv,needle", [
    (["rpg", "--env", DPNV, "--test-champions", "true"], "keeps no population"),
    (["pgpe", "--env", "tmaze:length=3", "--test-champions", "true"], "defines no solve test"),
    (["snes", "--env", DPNV, "--test-champions", "true", "--select-on", "cartpole:poles=2"], "give one"),
    (["snes", "--env", DPNV, "--test-champions", "maybe"], "accepted: true/false"),
])
def test_test_champions_user_errors_are_one_line(argv, needle, tmp_path, capsys):
    rc = main([*argv, "--generations", "2", "--out", str(tmp_path / "x"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and err.startswith("dps: error:"), err
    assert needle in err
    assert not (tmp_path / "x").exists()
