"""dps — direct policy search with recurrent (LSTM) policies.

Public API (see README.md)::

    import dps
    env = dps.make_env("tmaze:length=20")
    policy = dps.make_policy("lstm:hidden=8", env.observation_shape, env.action_space.out_size)
    res = dps.rollout(policy, env, params, episodes=16, seed=0)
"""
from .algorithms import ALGORITHMS, SGD, Adam, CenteredRanks, ClipUp, Searcher
from .algorithms.learner import SearchLearner
from .envs.base import BatchedEnv
from .envs.registry import ENVS, make_env
from .errors import UserError
from .evaluation import RolloutProblem, run_episodes
from .policies import LinearPolicy, LSTMPolicy, MLPPolicy, Policy, make_head, make_policy
from .rollout import RolloutResult, rollout
from .seeding import derive_seed
from .spaces import Box, Discrete

__version__ = "0.1.0"

__all__ = [
    "BatchedEnv", "Box", "Discrete", "ENVS", "make_env", "UserError", "Policy", "LSTMPolicy",
    "MLPPolicy", "LinearPolicy", "make_head", "make_policy", "RolloutProblem", "SearchLearner",
    "derive_seed", "RolloutResult", "rollout", "run_episodes", "ALGORITHMS", "Searcher",
    "Adam", "ClipUp", "SGD", "CenteredRanks",
]
