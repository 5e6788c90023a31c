"""A curriculum over one numeric option of the env (``--curriculum length=10..1000``).

Long dependencies are found more easily when they are short first: a policy that solves a
T-maze of length 10 has the memory mechanism a length-20 corridor needs, and only has to
keep it longer (Bakker 2002 trained RL-LSTM on growing corridors; Elman 1993, *Learning and
development in neural networks: the importance of starting small*). The run trains on the
env with the option at ``START``; each time the centre's periodic greedy evaluation
reaches ``--curriculum-success`` on the current value, the value is multiplied by
``--curriculum-factor`` (an integer option grows by at least 1) up to ``END``, and the
next generation trains on the longer task.

* The policy is the same at every stage (the option may not change its observation or
  action sizes); only the env changes, in the learner and in the centre's evaluation.
* Success is counted only at ``END``: ``--stop-success`` and ``first_success`` refer to
  the target task, not to a stage.
* The final evaluation and the env's report are of the target env (``END``), whatever
  stage the run reached; summary.json's ``curriculum`` lists the stages and when each began.
* The stage is saved in the checkpoint, so ``--resume`` continues at it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..envs.registry import ENVS
from ..errors import UserError
from ..spec import base_type

_FORM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([^.\s]+(?:\.[0-9]+)?)\s*\.\.\s*(\S+)\s*$")


def _with_option(env_spec: str, key: str, value) -> str:
    """``env_spec`` with its option ``key`` set to ``value`` (added or replaced)."""
    return str(ENVS.spec(env_spec).with_options(**{key: value}))


def active(text: "str | None") -> "str | None":
    """A run's ``curriculum`` setting as a spec, or None where there is none (unset, or
    ``"none"``: turned off, kept as text so that resolving again leaves it off)."""
    return None if text in (None, "none") else text


def _option_type(env_spec: str, key: str) -> type:
    """``int`` or ``float``: the type of the env's option ``key`` (one error otherwise)."""
    spec = ENVS.spec(env_spec)
    params = ENVS[spec.name].parameters()
    if key not in params:
        raise UserError(f"--curriculum: env {spec.name!r} has no option {key!r}; accepted: "
                        f"{', '.join(k for k in params if k != 'device')}")
    annotation = base_type(params[key].annotation)
    if annotation not in (int, float) or annotation is bool:
        raise UserError(f"--curriculum: option {key!r} of env {spec.name!r} is not a number "
                        f"({getattr(annotation, '__name__', annotation)}); a curriculum grows a numeric option")
    return annotation


@dataclass(frozen=True)
class Curriculum:
    """``key`` grows from ``start`` to ``end`` by ``factor`` on ``success`` (module docstring)."""

    env: str
    key: str
    start: "int | float"
    end: "int | float"
    factor: float
    success: float

    @classmethod
    def parse(cls, text: str, env: str, factor: float, success: float) -> "Curriculum":
        """From ``KEY=START..END`` and the run's env spec; every value checked (the option's
        own range at both ends, ``START < END``, the env spec not setting ``KEY`` to
        anything but ``END``)."""
        m = _FORM.match(text or "")
        if not m:
            raise UserError(f"--curriculum {text!r} is malformed; accepted: KEY=START..END, e.g. length=10..1000")
        key, a, b = m.groups()
        kind = _option_type(env, key)
        values = []
        for raw in (a, b):
            try:
                values.append(ENVS.options(_with_option(env, key, raw))[key])
            except UserError as exc:
                raise UserError(f"--curriculum {text!r}: {exc}") from None
        start, end = (kind(v) for v in values)
        if not start < end:
            raise UserError(f"--curriculum {text!r}: START must be below END, got {start} and {end}")
        given = ENVS.options(env).get(key)
        if given is not None and given != end:
            raise UserError(f"--curriculum {text!r} ends at {key}={end}, but --env {env!r} sets {key}={given}; "
                            f"leave {key} out of --env or make it the curriculum's END")
        if not factor > 1.0:
            raise UserError(f"--curriculum-factor must be above 1, got {factor!r}")
        return cls(env, key, start, end, float(factor), float(success))

    def spec_at(self, value) -> str:
        """The env spec with the option at ``value``."""
        return _with_option(self.env, self.key, value)

    def next(self, value):
        """The value after ``value``: × factor, at least + 1 for an integer option, at most END."""
        if isinstance(self.start, int):
            return min(self.end, max(value + 1, int(round(value * self.factor))))
        return min(self.end, value * self.factor)

    def describe(self) -> dict:
        return {"key": self.key, "start": self.start, "end": self.end, "factor": self.factor,
                "success": self.success}
