"""docs/EXTENDING.md must run as written, and its three examples must be good entries.

Every ```python block of the page runs, in order, in one namespace (a module registered
in ``sys.modules``, so that the ``f"{__name__}:Class"`` targets the page registers import
lazily like any other). The example env, policy and searcher then have to be registered,
build from specs, have trained (the page's own ``dps.runner.train`` calls, run in a
temporary directory), run from the page's command lines and pass the contract tests of
``tests/test_contracts.py``. The entries and tuned rows the page adds live in the real
registries only while this module's tests run: the fixture restores them afterwards
(``Registry`` has no remove method, and dps should not grow one for a test).
"""
import csv
import inspect
import json
import re
import shlex
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_contracts import contract_tests  # tests/ is on sys.path under pytest's default import mode

from dps.algorithms import ALGORITHMS
from dps.envs.registry import ENVS
from dps.errors import UserError
from dps.policies import POLICIES
from dps.run import main
from dps.runner.defaults import TUNED
from dps.tasks import TASKS

DOC = Path(__file__).resolve().parents[1] / "docs" / "EXTENDING.md"
REGISTRIES = {"env": ENVS, "policy": POLICIES, "algorithm": ALGORITHMS, "task": TASKS}
#: what the page adds: registry -> names, and the contract each example is held to
ADDED = {"env": {"recall"}, "policy": {"gru"}, "algorithm": {"simple-es"}, "task": set()}
CONTRACTS = {"env": "recall", "policy": "gru", "searcher": "simple-es"}


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), re.S)


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The page's Python blocks run in a temporary working directory; the registries and
    ``TUNED`` are restored afterwards."""
    saved = {k: dict(r._entries) for k, r in REGISTRIES.items()}
    saved_tuned = list(TUNED)
    module = types.ModuleType("dps_extending_example")
    sys.modules[module.__name__] = module
    work = tmp_path_factory.mktemp("extending")
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(work)
            code = blocks("python")
            assert len(code) >= 3, "docs/EXTENDING.md lost its python examples"
            for i, block in enumerate(code):
                exec(compile(block, f"docs/EXTENDING.md, python block {i + 1}", "exec"), module.__dict__)
            added = {k: set(r) - set(saved[k]) for k, r in REGISTRIES.items()}
            yield SimpleNamespace(ns=module.__dict__, dir=work, added=added, rows=TUNED[len(saved_tuned):])
    finally:
        for k, r in REGISTRIES.items():
            r._entries.clear()
            r._entries.update(saved[k])
        TUNED[:] = saved_tuned
        sys.modules.pop(module.__name__, None)


def test_examples_register_one_entry_each_and_their_options(example, capsys):
    assert example.added == ADDED
    assert ALGORITHMS["simple-es"].kind == "searcher"
    assert [o.name for o in ENVS["recall"].options()] == ["length"]
    assert [o.name for o in POLICIES["gru"].options()] == ["hidden"]
    assert [o.name for o in ALGORITHMS["simple-es"].options()] == ["popsize", "parents", "sigma"]
    assert [(r.algo, r.env) for r in example.rows] == [("*", "recall"), ("simple-es", "recall")]
    assert main(["--list"]) == 0
    listed = capsys.readouterr().out
    for name in ("recall", "gru", "simple-es"):
        assert re.search(rf"^\s+{re.escape(name)}\s", listed, re.M), name


def test_examples_build_from_specs(example):
    env = ENVS.build("recall:length=3")
    assert env.length == env.max_steps == 3
    with pytest.raises(UserError, match="length"):
        ENVS.build("recall:length=x")
    pol = POLICIES.build("gru:hidden=2", (2,), 3)
    assert pol.num_params == 2 * 6 + 2 * 6 + 6 + 2 * 3 + 3
    assert POLICIES.options("gru:hidden=2") == {"hidden": 2}


def test_hand_driven_searcher_reaches_the_optimum(example):
    assert float((example.ns["search"].center - 1.0).abs().max()) < 0.3


@pytest.mark.parametrize("run,algo,policy,options", [
    ("pgpe_recall", "pgpe", "lstm:hidden=4", {}),                       # the env's "*" row
    ("pgpe_recall_gru", "pgpe", "gru:hidden=4", {}),
    ("simple-es_recall", "simple-es", "gru:hidden=4", {"sigma": 1.0, "parents": 5}),  # its own row
])
def test_python_examples_trained_with_the_tuned_rows(example, run, algo, policy, options):
    d = example.dir / "runs" / run
    config = json.loads((d / "config.json").read_text())["run"]
    assert config["algo"] == algo and config["policy"] == policy
    assert (config["popsize"], config["episodes"], config["center_episodes"],
            config["stop_success"]) == (20, 8, 50, 1.0)
    assert options.items() <= config["algo_options"].items()
    summary = json.loads((d / "summary.json").read_text())
    with open(d / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert 1 <= summary["generations"] == len(rows) <= 50
    assert summary["stopped_early"] or summary["generations"] == 50
    assert 0.0 <= summary["eval"]["success_rate"] <= 1.0 and summary["eval"]["episodes"] == 100
    assert (d / "checkpoint.pt").stat().st_size > 0
    if algo == "simple-es":  # the page's searcher, with its tuned row, solves the page's task
        assert summary["eval"]["success_rate"] >= 0.9


def test_command_lines_of_the_page_run(example, capsys):
    lines = [line.split("#")[0].strip() for b in blocks("bash") for line in b.splitlines()]
    commands = [shlex.split(line)[3:] for line in lines if line.startswith("python -m dps.run ")]
    assert len(commands) >= 4
    for i, argv in enumerate(commands):
        if "--help" in argv:
            with pytest.raises(SystemExit) as exit_:
                main(argv)
            assert exit_.value.code == 0
            out = capsys.readouterr().out
            assert "--parents" in out and "--sigma" in out
        else:
            assert main(argv + ["--quiet", "--out", f"cli/{i}"]) == 0, argv
            assert "run directory:" in capsys.readouterr().out


CASES = [pytest.param(kind, name, check, id=f"{name}-{check.__name__}",
                      marks=[m for m in getattr(check, "pytestmark", []) if m.name == "cuda"])
         for kind, name in CONTRACTS.items() for check in contract_tests(kind)]


@pytest.mark.parametrize("kind,name,check", CASES)
def test_examples_pass_the_contract_tests(example, kind, name, check, tmp_path):
    """The same functions that hold every registered entry to its contract."""
    kwargs = {"tmp_path": tmp_path} if "tmp_path" in inspect.signature(check).parameters else {}
    check(name=name, **kwargs)
