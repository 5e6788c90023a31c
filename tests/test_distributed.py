"""Ray-distributed evaluation (evotorch actors) equals in-process evaluation."""
import warnings

import pytest
import torch

warnings.filterwarnings("ignore", module="evotorch")

ENV, POLICY, EPISODES = "catch", "mlp:hidden=8", 3


def local_reference(params, seed):
    from dps.evaluation.distributed import build, evaluate_members

    env, policy = build(ENV, POLICY)
    return evaluate_members(env, policy, params, EPISODES, seed)[0]


def test_in_process_problem_matches_reference_and_seed_matters():
    from dps.evaluation.distributed import RayEvaluator, RayProblem

    problem = RayProblem(ENV, POLICY, episodes=EPISODES, num_actors=0)
    ev = RayEvaluator(problem)
    P = 6
    params = 0.5 * torch.randn(P, problem.solution_length, generator=torch.Generator().manual_seed(0))
    f1 = ev(params, 123)
    assert torch.equal(f1, local_reference(params, 123))
    assert torch.equal(ev(params, 123), f1)                       # deterministic given the seed
    assert torch.equal(ev(params[3:], 123), f1[3:])               # independent of batch split
    fs = torch.stack([ev(params, s) for s in range(5)])
    assert not bool((fs == fs[0]).all())                           # the seed reaches the episodes
    assert ev.env_steps > 0


@pytest.mark.slow
def test_ray_two_actors_match_in_process_evaluation():
    ray = pytest.importorskip("ray")
    from dps.evaluation.distributed import make_ray_evaluator

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        ev = make_ray_evaluator(ENV, POLICY, episodes=EPISODES, actors=2)
        D = ev.problem.solution_length
        params = 0.5 * torch.randn(7, D, generator=torch.Generator().manual_seed(1))
        for seed in (11, 12):
            remote = ev(params, seed)
            assert torch.equal(remote, local_reference(params, seed))
        # a different split over the actors (other popsize) gives the same member fitness
        assert torch.equal(ev(params[:4], 12), local_reference(params[:4], 12))
        assert ev.env_steps > 0
        ev.close()
    finally:
        if started:
            ray.shutdown()
