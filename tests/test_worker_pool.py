"""The persistent worker pool of CPU-stepped envs: its workers are reused across calls and
give the numbers of a fresh pool and of one process; it ends with its env, with a run, on
Ctrl-C and with the process that started it; an exception in a worker reaches the caller
with its type, message and traceback."""
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import dps
from dps.evaluation import WorkerError, run_episodes, workers
from dps.run import main

SPEC = "gym:CartPole-v1,velocities=false"
ROOT = Path(__file__).resolve().parents[1]


def _setup(P=5, hidden=4, seed=0, spec=SPEC):
    env = dps.make_env(spec)
    policy = dps.make_policy(f"lstm:hidden={hidden}", env.observation_shape, env.action_space.out_size)
    g = torch.Generator().manual_seed(seed)
    return env, policy, policy.init_params(g) + 0.5 * torch.randn(P, policy.num_params, generator=g)


def _same(a, b):
    return (torch.equal(a.returns, b.returns) and torch.equal(a.lengths, b.lengths) and a.env_steps == b.env_steps
            and torch.equal(a.success, b.success))


def _gone(pid: int) -> bool:
    """The process has exited (a zombie left to an orphan's new parent counts as exited)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return any(line.split()[1:2] == ["Z"] for line in f if line.startswith("State:"))
    except FileNotFoundError:
        return True
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False


def _wait_gone(pids, seconds=10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(_gone(p) for p in pids):
            return True
        time.sleep(0.05)
    return all(_gone(p) for p in pids)


@pytest.fixture
def started(monkeypatch):
    """The pids of every worker started while the test runs."""
    pids = []
    grow = workers.WorkerPool._grow

    def recording(self, n):
        grow(self, n)
        pids.extend(p for p in self.pids if p not in pids)

    monkeypatch.setattr(workers.WorkerPool, "_grow", recording)
    return pids


def test_reused_pool_matches_a_fresh_pool_and_one_process():
    env, policy, params = _setup()
    other_env, other_policy, other_params = _setup(P=3, hidden=3, seed=1)
    one = run_episodes(policy, env, params, 4, seed=7, workers=1)
    first = run_episodes(policy, env, params, 4, seed=7, workers=2)
    pool = workers.pool_of(env)
    pids = pool.pids
    assert len(pids) == 1 and _same(one, first)  # this process plays one rectangle
    # other seeds, other rows, another policy on the same env: the workers must not keep
    # anything of one call that changes the next
    for seed in (8, 9):
        run_episodes(policy, env, params[:3], 2, seed=seed, workers=2)
    other = run_episodes(other_policy, env, other_params, 4, seed=7, workers=2)
    other_one = run_episodes(other_policy, env, other_params, 4, seed=7, workers=1)
    assert _same(other, other_one)
    again = run_episodes(policy, env, params, 4, seed=7, workers=2)
    assert _same(one, again)
    assert workers.pool_of(env) is pool and pool.pids == pids  # the same processes throughout
    # more rectangles than workers: the pool grows, the numbers stay
    three = run_episodes(policy, env, params, 4, seed=7, workers=3)
    assert _same(one, three) and pool.pids[:1] == pids and len(pool.pids) == 2
    # a fresh pool (a new env of the same spec) gives the same numbers
    fresh, _, _ = _setup()
    assert _same(one, run_episodes(policy, fresh, params, 4, seed=7, workers=2))
    assert workers.pool_of(fresh) is not pool
    for e in (env, other_env, fresh):
        e.close()


def test_a_problem_starts_its_workers_before_its_first_generation():
    from dps.evaluation import RolloutProblem
    env, policy, params = _setup(P=6)
    problem = RolloutProblem(policy, env, 3, workers=3)
    pool = workers.pool_of(env)
    assert pool is not None and len(pool.pids) == 2
    fitness, res = problem.fitness(params, seed=5)
    one_fitness, one = RolloutProblem(policy, dps.make_env(SPEC), 3).fitness(params, seed=5)
    assert torch.equal(fitness, one_fitness) and _same(res, one)
    assert workers.pool_of(env).pids == pool.pids
    env.close()


def _in_daemon(queue):
    env, policy, params = _setup()
    res = run_episodes(policy, env, params, 3, seed=4, workers=2)
    queue.put((res.returns.tolist(), res.lengths.tolist(), workers.pool_of(env) is None))


def test_a_daemonic_process_plays_every_rectangle_itself():
    import multiprocessing
    ctx = multiprocessing.get_context(workers.START_METHOD)
    queue = ctx.Queue()
    proc = ctx.Process(target=_in_daemon, args=(queue,), daemon=True)
    proc.start()
    returns, lengths, no_pool = queue.get(timeout=120)
    proc.join(30)
    env, policy, params = _setup()
    one = run_episodes(policy, env, params, 3, seed=4, workers=1)
    assert no_pool and returns == one.returns.tolist() and lengths == one.lengths.tolist()


def test_closing_the_env_stops_its_workers(started):
    env, policy, params = _setup()
    run_episodes(policy, env, params, 2, seed=0, workers=3)
    pids = list(started)
    assert len(pids) == 2 and not any(_gone(p) for p in pids)
    env.close()
    assert workers.pool_of(env) is None and _wait_gone(pids)
    # a closed env still plays (in a new pool), as a closed GymEnv does in this process
    res = run_episodes(policy, env, params, 2, seed=0, workers=3)
    assert _same(res, run_episodes(policy, env, params, 2, seed=0, workers=1))
    new = workers.pool_of(env).pids
    assert set(new).isdisjoint(pids)
    workers.close_workers()
    assert workers.pool_of(env) is None and _wait_gone(new)


def test_a_dropped_env_stops_its_workers(started):
    env, policy, params = _setup()
    run_episodes(policy, env, params, 2, seed=0, workers=3)
    del env
    import gc
    gc.collect()
    assert len(started) == 2 and _wait_gone(started)


def _rows(run_dir):
    with open(run_dir / "metrics.csv", newline="") as f:
        return [{k: v for k, v in r.items() if k != "wall_seconds"} for r in csv.DictReader(f)]


def test_a_run_leaves_no_worker_and_matches_one_process(tmp_path, started):
    import multiprocessing
    base = ["pgpe", "--env", SPEC, "--generations", "4", "--popsize", "6", "--episodes", "3",
            "--eval-every", "2", "--center-episodes", "5", "--eval-episodes", "7", "--quiet"]
    assert main([*base, "--workers", "1", "--out", str(tmp_path / "w1")]) == 0
    assert not started
    assert main([*base, "--workers", "3", "--out", str(tmp_path / "w3")]) == 0
    assert len(started) == 2 and _wait_gone(started)
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("dps-worker")]
    assert _rows(tmp_path / "w1") == _rows(tmp_path / "w3")


def test_ctrl_c_while_workers_are_busy_terminates_them(tmp_path, started, monkeypatch, capsys):
    receive, calls = workers.WorkerPool._receive, []

    def interrupted(self, i, job, what):
        calls.append(i)
        if len(calls) == 5:  # generation 2: the jobs are sent, the workers are playing them
            raise KeyboardInterrupt
        return receive(self, i, job, what)

    monkeypatch.setattr(workers.WorkerPool, "_receive", interrupted)
    out = tmp_path / "run"
    args = ["pgpe", "--env", SPEC, "--generations", "5", "--popsize", "6", "--episodes", "3", "--workers", "3",
            "--quiet", "--out", str(out)]
    assert main(args) == 130
    assert "interrupted after generation 2" in capsys.readouterr().err
    assert len(started) == 2 and _wait_gone(started)
    monkeypatch.setattr(workers.WorkerPool, "_receive", receive)
    assert main(["--resume", str(out), "--quiet"]) == 0  # the checkpoint is intact; new workers
    assert len(started) == 4 and _wait_gone(started)


class _FailingPolicy(dps.LSTMPolicy):
    """Raises in a worker process, plays normally in the process that built it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.home = os.getpid()

    def step(self, params, obs, state, episode_start=None):
        if os.getpid() != self.home:
            raise ValueError("the policy's step failed in a worker")
        return super().step(params, obs, state, episode_start)


class _Unpicklable(Exception):
    def __init__(self, a, b):  # pickles, but does not unpickle: its args are one tuple
        super().__init__(f"{a}/{b}")


class _UnpicklableErrorPolicy(_FailingPolicy):
    def step(self, params, obs, state, episode_start=None):
        if os.getpid() != self.home:
            raise _Unpicklable("odd", "exception")
        return super().step(params, obs, state, episode_start)


def test_an_exception_in_a_worker_reaches_the_caller_and_the_pool_lives_on():
    env, policy, params = _setup()
    failing = _FailingPolicy(env.observation_shape, env.action_space.out_size, hidden=4)
    one = run_episodes(policy, env, params, 3, seed=2, workers=1)
    assert _same(one, run_episodes(policy, env, params, 3, seed=2, workers=2))
    pids = workers.pool_of(env).pids
    with pytest.raises(ValueError, match="the policy's step failed in a worker") as info:
        run_episodes(failing, env, params, 3, seed=2, workers=2)
    cause = str(info.value.__cause__)
    assert "in worker process" in cause and "CartPole-v1" in cause and "members 2:5" in cause
    assert "raise ValueError" in cause  # the worker's own traceback
    # the same pool, in step with the main process: the right policy, the right numbers
    assert _same(one, run_episodes(policy, env, params, 3, seed=2, workers=2))
    assert workers.pool_of(env).pids == pids
    odd = _UnpicklableErrorPolicy(env.observation_shape, env.action_space.out_size, hidden=4)
    with pytest.raises(WorkerError, match=r"_Unpicklable: odd/exception — raised in worker process"):
        run_episodes(odd, env, params, 3, seed=2, workers=2)
    assert _same(one, run_episodes(policy, env, params, 3, seed=2, workers=2))
    env.close()


class _ThreadReport(_FailingPolicy):
    def step(self, params, obs, state, episode_start=None):
        if os.getpid() != self.home:
            from threadpoolctl import threadpool_info
            blas = sorted({pool["num_threads"] for pool in threadpool_info()})
            raise ValueError(f"torch threads {torch.get_num_threads()}, BLAS/OpenMP threads {blas}")
        return super().step(params, obs, state, episode_start)


def test_workers_run_one_thread_whatever_the_main_process_runs():
    env, policy, params = _setup()
    report = _ThreadReport(env.observation_shape, env.action_space.out_size, hidden=4)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with pytest.raises(ValueError, match=r"torch threads 1, BLAS/OpenMP threads \[(1)?\]$"):
            run_episodes(report, env, params, 2, seed=0, workers=2)
    finally:
        torch.set_num_threads(threads)
    env.close()


def test_a_run_whose_worker_raises_fails_with_the_cause(tmp_path, capsys, monkeypatch):
    step = dps.LSTMPolicy.step
    home = os.getpid()

    def failing(self, params, obs, state, episode_start=None):
        if os.getpid() != home:
            raise RuntimeError("a bug in the env or the policy")
        return step(self, params, obs, state, episode_start)

    if workers.START_METHOD != "fork":
        pytest.skip("spawned workers do not inherit a patch")
    monkeypatch.setattr(dps.LSTMPolicy, "step", failing)  # forked workers inherit the patch
    args = ["pgpe", "--env", SPEC, "--generations", "2", "--popsize", "4", "--episodes", "2", "--workers", "2",
            "--quiet", "--out", str(tmp_path / "run")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "run failed during generation 0 (RuntimeError: a bug in the env or the policy)" in err


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_workers_exit_when_the_main_process_is_killed(tmp_path):
    # the main process starts a pool, prints its workers' pids and dies without any cleanup
    script = (
        "import os, signal, sys, torch, dps\n"
        "from dps.evaluation import run_episodes, workers\n"
        f"env = dps.make_env({SPEC!r})\n"
        "policy = dps.make_policy('lstm:hidden=2', env.observation_shape, env.action_space.out_size)\n"
        "run_episodes(policy, env, torch.zeros(4, policy.num_params), 2, seed=0, workers=3)\n"
        "print(' '.join(map(str, workers.pool_of(env).pids)), flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    pids = [int(p) for p in proc.stdout.split()]
    assert len(pids) == 2
    assert _wait_gone(pids, seconds=10 * workers.PARENT_CHECK_SECONDS)


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_the_cli_leaves_no_process_behind(tmp_path):
    # a forked worker's command line is its parent's, which names this run's directory
    out = tmp_path / "cli-run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "dps.run", "pgpe", "--env", SPEC, "--generations", "3", "--popsize", "4",
           "--episodes", "2", "--workers", "3", "--quiet", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr

    def leftovers():
        found = []
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    if str(out).encode() in (d / "cmdline").read_bytes() and not _gone(int(d.name)):
                        found.append(int(d.name))
                except OSError:
                    pass
        return found

    assert leftovers() == []
