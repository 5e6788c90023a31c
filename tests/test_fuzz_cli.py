"""Property-based fuzzing of the one validation layer (hypothesis).

(a) Specs for the four registries: random names, ``key=value`` items with known and unknown
    keys, NaN / inf / 1e308 / negative / huge / non-numeric / unicode values, empty items,
    duplicate keys. ``Registry.options`` and ``make_env`` / ``make_policy`` / ``make_task``
    either succeed or raise :class:`~dps.errors.UserError`, never another exception; what
    ``options`` accepts is typed, finite and in range.
(b) The CLI ``dps.run.main(argv)`` with random flag values: exit 0 with a finished run, or
    exit 2 with exactly one ``dps: error:`` line, no traceback, and no run directory.
"""
import contextlib
import dataclasses
import io
import json
import math
import os
import shutil
import string
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from dps.algorithms import ALGORITHMS
from dps.envs.registry import ENVS, make_env
from dps.errors import UserError
from dps.policies import POLICIES, make_policy
from dps.run import main
from dps.runner import RunConfig
from dps.runner.config import flag_name
from dps.spec import FLOAT_MAX, check_value
from dps.tasks import TASKS, make_task

ROOT = Path(__file__).resolve().parents[1]
REGISTRIES = {"env": ENVS, "policy": POLICIES, "task": TASKS, "algorithm": ALGORITHMS}

#: values a user might type by mistake (or on purpose)
NASTY = ["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e308", "-1e308", "1e39", "3.5e38", "1e-400", "-1",
         "0", "1", "2", "3", "-0", "0.5", "1.5", "-2.5", "99999999999999999999999", str(2 ** 63), str(-2 ** 63 - 1),
         "1" * 5000, "abc", "", " ", "true", "false", "none", "1+2", "1/2", "+", "0x10", "1_000", "1e", "٣", "Ⅷ",
         "½", "∞", "é", "\U0001f642", "=", ":", "--", "\0", "lstm", "L2", "CartPole-v1"]
nasty = st.one_of(st.sampled_from(NASTY), st.integers(-10 ** 25, 10 ** 25).map(str),
                  st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=6))
#: values that often fit an option (so that accepted specs and finished runs are common too)
plausible = st.one_of(st.integers(0, 8).map(str), st.sampled_from(
    ["0.5", "1.0", "0.01", "true", "false", "1+2", "L0", "L2", "random", "modern", "paper", "adam", "sgd", "clipup",
     "centered", "raw", "steps", "damping", "standard", "rk4", "euler", "bits", "tanh", "lstm", "esp", "mean"]))
values = st.one_of(plausible, nasty)

#: an env option that passes the spec layer is built; the env options without an upper bound
#: (see test_trust.py's ENV_BOUNDS xfails) would allocate or loop on a huge one, so building
#: is only tried with small integers; larger ones are covered by the spec layer alone
BUILD_LIMIT = 64


def option_names(registry, name) -> list[str]:
    try:
        return [o.name for o in registry[name].options()]
    except Exception:  # not registered (a random name): no known keys
        return []


@st.composite
def specs(draw, registry) -> str:
    """A spec for ``registry``: half of them well formed (a registered name, its own keys,
    plausible values: so that accepted specs are common too), half mangled anyhow."""
    mangled = draw(st.booleans())
    names = sorted(registry)
    name = draw(st.one_of(st.sampled_from(names), st.text(max_size=8)) if mangled else st.sampled_from(names))
    known = option_names(registry, name)
    if mangled or not known:
        keys = st.sampled_from(known + ["bogus", "", " ", "Länge", "hidden-size"])
        kinds = st.sampled_from(["kv", "kv", "kv", "positional", "empty", "dup"])
        vals = values
    else:
        keys, kinds, vals = st.sampled_from(known), st.just("kv"), plausible
    items = []
    for _ in range(draw(st.integers(0, 4 if mangled else 2))):
        kind = draw(kinds)
        if kind == "kv":
            items.append(f"{draw(keys)}={draw(vals)}")
        elif kind == "positional":
            items.append(draw(vals))
        elif kind == "empty":
            items.append("")
        elif items:  # a duplicate of an earlier item
            items.append(draw(st.sampled_from(items)))
    sep = draw(st.sampled_from([":", "", "::", ": "])) if mangled else ":"
    return name + (sep + ",".join(items) if items or sep != ":" else "")


def _ints(options: dict):
    for v in options.values():
        for x in (v if isinstance(v, tuple) else (v,)):
            if isinstance(x, int) and not isinstance(x, bool):
                yield x


@pytest.mark.parametrize("kind", list(REGISTRIES))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_registry_options_succeed_or_raise_user_error(kind, data):
    registry = REGISTRIES[kind]
    text = data.draw(specs(registry), label="spec")
    try:
        options = registry.options(text)
    except UserError as exc:
        assert str(exc) and "\n" not in str(exc).strip()
        event("refused")
        return
    event("accepted")
    # what the spec layer lets through is typed, finite, representable and in range
    entry = registry[text.split(":", 1)[0].strip()]
    annotations = {o.name: o.annotation for o in entry.options()}
    for key, value in options.items():
        check_value(value, annotations[key], key)
        for x in (value if isinstance(value, tuple) else (value,)):
            if isinstance(x, float):
                assert math.isfinite(x) and abs(x) <= FLOAT_MAX


@st.composite
def buildable(draw, registry) -> str:
    text = draw(specs(registry))
    try:
        options = registry.options(text)
    except UserError:
        return text  # refused by the spec layer: the builder must refuse it the same way
    assume(all(abs(x) <= BUILD_LIMIT for x in _ints(options)))
    return text


def _build(kind: str, text: str):
    if kind == "env":
        make_env(text).close()
    elif kind == "policy":
        make_policy(text, (2, 3, 3), 9)  # a 3x3 board: mdlstm's shape, flattened by the others
    else:
        make_task(text)


@pytest.mark.parametrize("kind", ["env", "policy", "task"])
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_builders_succeed_or_raise_user_error(kind, data):
    text = data.draw(buildable(REGISTRIES[kind]), label="spec")
    try:
        _build(kind, text)
        event("built")
    except UserError as exc:
        assert str(exc) and "\n" not in str(exc).strip()
        event("refused")


# --- the CLI ------------------------------------------------------------------------------

#: a run that finishes in a fraction of a second; the fuzzed flags come after and win
TINY = ["--env", "tmaze:length=2", "--policy", "lstm:hidden=2", "--generations", "1", "--popsize", "2",
        "--episodes", "1", "--eval-episodes", "1", "--center-episodes", "1", "--quiet"]
#: --import is left out: a fuzzed value would import whatever installed module it names
#: (tests/test_user_envs.py checks its errors)
RUN_FLAGS = [flag_name(f) for f in RunConfig.flags() if f.name not in ("tensorboard", "imports")]
#: flags whose large valid values would make the run long (each episode or generation costs)
SIZE_FLAGS = {"--generations", "--popsize", "--episodes", "--eval-episodes", "--center-episodes"}
SIZE_LIMIT = 4
PGPE_FLAGS = ["--lr-mu", "--lr-sigma", "--sigma-init", "--sigma-min", "--sigma-max", "--init-scale", "--variant",
              "--optimizer", "--max-speed", "--momentum", "--shaping", "--restart-after", "--float64"]
PATHS = st.one_of(st.sampled_from(["a\0b", "a" * 5000, "", ".", "x/y/z", "run", "-", "~nobody"]),
                  st.text(alphabet=string.ascii_letters + string.digits + "_-.", min_size=1, max_size=10))


@st.composite
def flag_values(draw) -> list[str]:
    flag = draw(st.sampled_from(RUN_FLAGS + PGPE_FLAGS + ["--threads", "--resume", "--bogus", "--overwrite"]))
    if flag == "--overwrite":
        return [flag]
    if flag in ("--out", "--resume"):
        value = draw(PATHS)
    elif flag == "--env":
        value = draw(specs(ENVS))
    elif flag == "--policy":
        value = draw(specs(POLICIES))
    elif flag == "--task":
        value = draw(specs(TASKS))
    else:
        value = draw(values)
    return [flag, value]


def _valid_int(text: str):
    try:
        return int(text)
    except ValueError:
        return None


def _cheap(argv: list[str]) -> bool:
    """No valid flag value in ``argv`` would make the run long or huge."""
    for flag, value in zip(argv, argv[1:]):
        n = _valid_int(value)
        if flag in SIZE_FLAGS and n is not None and n > SIZE_LIMIT:
            return False
        if flag in ("--env", "--policy"):
            registry = ENVS if flag == "--env" else POLICIES
            try:
                options = registry.options(value)
            except UserError:
                continue
            if any(abs(x) > BUILD_LIMIT for x in _ints(options)):
                return False
            if flag == "--env" and registry.spec(value).name == "gym":
                return False  # gymnasium's own ids and worker processes: covered by tests/test_env_gym.py
    return True


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(algo=st.one_of(st.just("pgpe"), st.just("pgpe"), st.sampled_from(["es", "cmaes", "pgpe-x", ""])),
       flags=st.lists(flag_values(), min_size=1, max_size=3))
def test_cli_exits_0_or_2_with_one_error_line(tmp_path_factory, algo, flags):
    extra = [x for pair in flags for x in pair]
    argv = [algo] + TINY + extra
    assume(_cheap(argv))
    cwd = tmp_path_factory.mktemp("cli")
    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(argv)
    finally:
        os.chdir(old)
        torch.set_num_threads(1)  # --threads is process-wide; tests/conftest.py runs with one
    out, err = out.getvalue(), err.getvalue()
    assert "Traceback" not in out + err
    event(f"exit {rc}")
    if rc == 0:
        (summary,) = list(cwd.rglob("summary.json"))
        assert "eval:" in out
        return
    assert rc == 2, (argv, rc, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dps: error:"), (argv, err)
    if "non-finite" not in err and "fitness of member" not in err:  # refused input, not a diverged run
        assert not list(cwd.rglob("config.json")), (argv, err)


@settings(max_examples=3, deadline=None)
@given(flags=st.lists(flag_values(), min_size=1, max_size=2))
def test_no_traceback_in_a_real_process(tmp_path_factory, flags):
    """The interpreter's own error output, for a few random refused command lines (in a
    subprocess: an uncaught exception would print its traceback there)."""
    extra = [x for pair in flags for x in pair if "\0" not in x]
    argv = ["pgpe", "--env", "tmaze:length=2"] + extra + ["--popsize", "3", "--quiet"]  # odd popsize: refused
    cwd = tmp_path_factory.mktemp("proc")
    r = subprocess.run([sys.executable, "-m", "dps.run", *argv], cwd=cwd, capture_output=True, text=True,
                       timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 2 and "Traceback" not in r.stderr, (argv, r.stderr)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("dps: error:"), (argv, r.stderr)
    assert not (cwd / "runs").exists()


# --- config.json --------------------------------------------------------------------------

#: JSON values of every type, including the non-standard NaN / Infinity json.dumps writes
json_values = st.one_of(st.none(), st.booleans(), st.integers(-10, 10), st.integers(-10 ** 25, 10 ** 25),
                        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6), plausible,
                        st.builds(lambda a, b: f"{a}:{b}", st.sampled_from(["tmaze", "lstm", "sines", "x"]), plausible),
                        st.lists(st.integers(0, 3), max_size=2), st.dictionaries(st.sampled_from(
                            ["lr_mu", "sigma_init", "variant", "bogus"]), plausible, max_size=2))
RUN_KEYS = [f.name for f in dataclasses.fields(RunConfig)] + ["bogus"]


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("saved") / "run"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["pgpe"] + TINY + ["--out", str(d)]) == 0
    return d


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(changes=st.dictionaries(st.sampled_from(RUN_KEYS), json_values, min_size=1, max_size=2))
def test_resume_of_a_hand_edited_config_exits_0_or_2(saved_run, tmp_path_factory, changes):
    for key, value in changes.items():  # a valid value that would make the resumed run long
        assume(not (key in ("generations", "popsize", "episodes", "eval_episodes", "center_episodes")
                    and isinstance(value, int) and not isinstance(value, bool) and value > SIZE_LIMIT))
        assume(not (key in ("env", "policy") and isinstance(value, str) and not _cheap([f"--{key}", value])))
    d = tmp_path_factory.mktemp("edited") / "run"
    shutil.copytree(saved_run, d)
    data = json.loads((d / "config.json").read_text())
    data["run"].update(changes)
    (d / "config.json").write_text(json.dumps(data))
    before = (d / "config.json").read_bytes()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["--resume", str(d), "--quiet"])
    torch.set_num_threads(1)
    err = err.getvalue()
    event(f"exit {rc}")
    assert "Traceback" not in err
    if rc == 0:
        return
    assert rc == 2, (changes, rc, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dps: error:"), (changes, err)
    assert (d / "config.json").read_bytes() == before
