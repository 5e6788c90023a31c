"""experiments/reproduce_pole.py: the run loops of the pole-balancing reproduction."""
import json

import pytest
import torch
from experiment_scripts import load


@pytest.fixture(scope="module")
def rp():
    return load("reproduce_pole")


@pytest.fixture(autouse=True)
def _task_c_policy(rp, monkeypatch):
    """Tests that set task c's policy get the module's own back afterwards."""
    monkeypatch.setitem(rp.POLE_TASKS["c"], "policy", rp.POLE_TASKS["c"]["policy"])


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def test_markov_run_solves_the_single_pole_and_counts_whole_generations(rp):
    r = rp.run_markov(("a", "cmaes", 0, 2000, None))
    assert r["candidate_at"] is not None and r["long_ok"]
    assert r["candidate_at"] == r["evaluations_used"] == 20 * r["generations"]   # popsize 20
    assert r["best_steps_seen"] == rp.LONG_STEPS
    # the solver balances 100,000 steps on the fast simulator (what it was chosen by) ...
    assert rp.linear_balance_steps(r["candidate"], poles=1, velocities=True) == rp.LONG_STEPS


def test_lock_step_group_equals_separate_runs(rp):
    """Batching several runs into one rollout changes nothing for any of them."""
    rp.POLE_TASKS["c"]["policy"] = "lstm:hidden=2,input_scale=10"
    members = [("cmaes", 0, 60), ("pgpe", 1, 60), ("snes", 2, 60)]
    together = rp.run_group(("c", members, None))
    apart = [rp.run_group(("c", [m], None))[0] for m in members]
    keys = ("method", "seed", "generations", "evaluations_used", "env_steps", "best_steps_seen", "grid_checks",
            "candidate_at")
    for a, b in zip(together, apart):
        assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
        assert a["evaluations_used"] >= 60
    assert len({r["env_steps"] for r in together}) > 1     # the runs really differ


def test_report_only_rebuilds_the_same_summary(rp, tmp_path):
    rows = [rp.run_markov(("a", m, s, 400, None)) for m in ("cmaes", "pgpe") for s in (0, 1)]
    rows[1]["cut_by_deadline"] = True
    rows[2]["failed"] = [{"evaluations": 40, "generalization": 250, "steps": 777, "params": [0.5] * 5}]
    args = type("A", (), {"seed_list": {"a": "0..1"}, "jobs": 1, "skipped": 1})()
    rp.OUT = tmp_path
    rp.write(rows, rp.summarise(rows), {}, args, 12.0, ["--tasks", "a"])
    back, meta = rp.load_rows(tmp_path)
    assert meta["skipped"] == 1 and meta["argv"] == ["--tasks", "a"]
    assert meta["methods"]["cmaes"]["a"] == rp.METHODS["cmaes"]["a"]  # report-only shows these options
    assert rp.summarise(back) == rp.summarise(rows)
    assert [r["failed"] for r in back] == [r["failed"] for r in rows]   # failed_candidates.json
    s = rp.summarise(rows)[0]
    assert s["cut"] == 1 and s["runs"] == 1            # the cut run is counted apart, not as a failure
    assert "1 cut by --deadline" in (tmp_path / "results.md").read_text()


def test_failed_long_check_does_not_end_the_run(rp, monkeypatch):
    """Task c: a candidate (≥ 200/625) that fails the 100,000-step check is counted and the
    search goes on; the next candidate that passes is the solver."""
    real = rp.CartPole
    monkeypatch.setattr(rp, "CartPole", lambda **kw: real(**dict(kw, max_steps=5)))  # every member "balances"
    real_rollout, gens = rp.rollout, []

    def rising(*a, **k):  # each generation's fitness beats the last, so its best is tested
        res = real_rollout(*a, **k)
        gens.append(1)
        f = res.fitness()
        res.fitness = lambda: f * 0 + len(gens)
        return res

    monkeypatch.setattr(rp, "rollout", rising)
    monkeypatch.setattr(rp, "grid_score", lambda policy, task, params, seed: torch.full((params.shape[0],), 625))
    calls = []

    def long_check(policy, task, params, seed):
        calls.append(params.shape[0])
        return torch.tensor([rp.LONG_STEPS if len(calls) > 1 else 4321] * params.shape[0])

    monkeypatch.setattr(rp, "long_check", long_check)
    rp.POLE_TASKS["c"]["policy"] = "lstm:hidden=2,input_scale=10"
    (r,) = rp.run_group(("c", [("cmaes", 0, 2000)], None, "record", 1))
    assert r["long_fails"] == 1 and r["long_checks"] == 2 and r["long_ok"]
    assert r["candidate_at"] == r["evaluations_used"] == 2 * 20 and r["generalization"] == 625
    # the failed candidate is kept, with where it fell
    (f,) = r["failed"]
    assert f["evaluations"] == 20 and f["steps"] == 4321 and f["generalization"] == 625
    assert len(f["params"]) == len(r["candidate"]) and f["params"] != r["candidate"]


def test_report_only_shows_the_options_the_run_used(rp, tmp_path, monkeypatch):
    """--set options come back in --report-only, from meta.json or (older runs) its argv."""
    import copy
    import json

    monkeypatch.setattr(rp, "METHODS", copy.deepcopy(rp.METHODS))
    monkeypatch.setattr(rp, "POLE_TASKS", copy.deepcopy(rp.POLE_TASKS))  # main() also sets policies and caps
    rows = [rp.run_markov(("a", "cmaes", 0, 200, None))]
    args = type("A", (), {"seed_list": {"a": "0..0"}, "jobs": 1, "skipped": 0})()
    rp.OUT = tmp_path
    argv = ["--tasks", "a", "--methods", "cmaes", "--set", "cmaes.a.sigma0=2.0"]
    rp.write(rows, rp.summarise(rows), {}, args, 1.0, argv)
    meta = json.loads((tmp_path / "meta.json").read_text())
    del meta["methods"]  # as written before meta.json kept the options
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    rp.main(["--report-only", "--out", str(tmp_path)])
    assert '`{"sigma0": 2.0, "popsize": 20}`' in (tmp_path / "results.md").read_text()
    assert json.loads((tmp_path / "meta.json").read_text())["methods"]["cmaes"]["a"]["sigma0"] == 2.0


def test_batched_champion_tests_change_no_result(rp, monkeypatch):
    """Task c's tests, deferred and batched over several generations, give the rows of testing
    every champion at once: same solver, same counters, the same failed candidates."""
    real = rp.CartPole
    monkeypatch.setattr(rp, "CartPole", lambda **kw: real(**dict(kw, max_steps=2)))  # every member "balances"

    def digit(params, i, m):
        return (params[:, i].abs() * 1000).long() % m

    monkeypatch.setattr(rp, "grid_score", lambda policy, task, params, seed: torch.where(
        digit(params, 0, 3) == 0, 300, 100))
    monkeypatch.setattr(rp, "long_check", lambda policy, task, params, seed: torch.where(
        digit(params, 1, 5) == 0, rp.LONG_STEPS, 1234))
    rp.POLE_TASKS["c"]["policy"] = "lstm:hidden=2,input_scale=10"
    members = [("cmaes", 0, 1200), ("pgpe", 1, 1200), ("snes", 2, 1200)]
    at_once = rp.run_group(("c", members, None, "each", 1))
    batched = rp.run_group(("c", members, None, "each", 7))
    drop = ("wall_s", "grid_check_s", "long_check_s")
    for a, b in zip(at_once, batched):
        assert {k: v for k, v in a.items() if k not in drop} == {k: v for k, v in b.items() if k not in drop}
    assert any(r["long_ok"] for r in at_once) and any(r["failed"] for r in at_once)   # both branches ran
    solved = [r for r in at_once if r["long_ok"]]
    assert all(r["evaluations_used"] == r["candidate_at"] < r["cap"] for r in solved)
    # "each" tests the champion of every generation up to the solver (all of them balance here)
    assert all(r["grid_checks"] == r["generations"] for r in at_once)


def test_pole_failures_replays_the_stored_fall(rp, tmp_path):
    """experiments/pole_failures.py replays failed candidates to the step the 100,000-step check
    stopped them at, and names the limit that ended each trial."""
    pf = load("pole_failures")
    rp.POLE_TASKS["c"]["policy"] = "rnn:hidden=4,skip=true"
    env = rp.CartPole(poles=2, velocities=False)
    policy = rp.make_policy("rnn:hidden=4,skip=true", env.observation_shape, env.action_space.out_size)
    X = torch.randn(4, policy.num_params, generator=torch.Generator().manual_seed(3)) * 0.3
    steps = rp.long_check(policy, "c", X, 0).tolist()
    assert all(n < rp.LONG_STEPS for n in steps) and len(set(steps)) > 1
    rows = [dict(rp._row("c", "cmaes", 5, 100, policy), policy="rnn:hidden=4,skip=true",
                 failed=[{"evaluations": 20 * (k + 1), "generalization": 200 + k, "steps": n, "params": x.tolist()}
                         for k, (n, x) in enumerate(zip(steps, X))])]
    args = type("A", (), {"seed_list": {"c": "5..5"}, "jobs": 1, "skipped": 0})()
    rp.OUT = tmp_path
    rp.write(rows, rp.summarise(rows), {}, args, 1.0, ["--tasks", "c"])
    pf.main([str(tmp_path)])
    got = json.loads((tmp_path / "failures.json").read_text())
    assert [r["steps"] for r in got] == steps
    assert all(r["cause"].split(" ")[0] in ("cart", "long", "short") for r in got)
    assert "4 of 4" in (tmp_path / "failures.md").read_text()
