"""A user's own gymnasium package, for the tests of third-party envs: importing this module
registers ``PluginRecall-v0`` (no TimeLimit of its own, like POPGym's envs) and
``PluginPendulum-v0`` (a float64 continuous env with a TimeLimit)."""
import gymnasium
import numpy as np


class Recall(gymnasium.Env):
    """A cue (one of ``n``) shown at t = 0, then blanks; at step ``length`` the action must
    repeat the cue (reward 1, else -1). Ends by itself: no TimeLimit needed, none registered."""

    def __init__(self, n: int = 3, length: int = 5):
        self.n, self.length = n, length
        self.observation_space = gymnasium.spaces.Discrete(n + 1)
        self.action_space = gymnasium.spaces.Discrete(n)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.cue, self.t = int(self.np_random.integers(self.n)), 0
        return self.cue, {}

    def step(self, action):
        self.t += 1
        if self.t < self.length:
            return self.n, 0.0, False, False, {}
        return self.n, 1.0 if int(action) == self.cue else -1.0, True, False, {}


class Pendulum(gymnasium.Env):
    """A damped pendulum in float64 with a torque in [-2, 2]: the reward is -angle², a noisy
    start; continuous numbers that expose any reduction-order difference."""

    def __init__(self):
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (2,), np.float64)
        self.action_space = gymnasium.spaces.Box(-2.0, 2.0, (1,), np.float32)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.x = self.np_random.normal(size=2)
        return self.x.copy(), {}

    def step(self, action):
        th, om = self.x
        om = 0.98 * om + 0.05 * (float(action[0]) - 9.81 * np.sin(th))
        self.x = np.array([th + 0.05 * om, om])
        return self.x.copy(), -float(th * th), False, False, {}


gymnasium.register("PluginRecall-v0", entry_point=Recall)
gymnasium.register("PluginPendulum-v0", entry_point=Pendulum, max_episode_steps=60)


class Choose(gymnasium.Env):
    """Observation: a Dict (a Discrete cue and a Tuple of a Box and a MultiBinary); action: a
    ``(2,)`` MultiDiscrete with ``start`` offsets (or a MultiBinary with ``binary=True``).
    Reward per step: how many action components match the cue's target, so greedy heads and
    the env's offsets are checked by the return; 4 steps."""

    def __init__(self, binary: bool = False):
        self.binary = binary
        self.observation_space = gymnasium.spaces.Dict({
            "cue": gymnasium.spaces.Discrete(3),
            "rest": gymnasium.spaces.Tuple((gymnasium.spaces.Box(-1, 1, (2,)), gymnasium.spaces.MultiBinary(2)))})
        if binary:
            self.action_space = gymnasium.spaces.MultiBinary(3)
        else:
            self.action_space = gymnasium.spaces.MultiDiscrete(np.array([3, 4]), start=np.array([10, -2]))
        self.received = []

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.cue, self.t = int(self.np_random.integers(3)), 0
        return self._obs(), {}

    def _obs(self):
        return {"cue": self.cue, "rest": (np.zeros(2, np.float32), np.array([1, 0], np.int8))}

    def target(self):
        return np.array([1, 0, 1], np.int8) if self.binary else np.array([10 + self.cue, -2 + self.cue])

    def step(self, action):
        assert self.action_space.contains(action), action
        self.received.append(np.array(action))
        self.t += 1
        return self._obs(), float((np.asarray(action) == self.target()).sum()), False, self.t >= 4, {}


gymnasium.register("PluginChoose-v0", entry_point=Choose)
gymnasium.register("PluginChooseBinary-v0", entry_point=Choose, kwargs={"binary": True})
