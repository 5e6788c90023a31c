"""The "defaults measured over seeds" that ``--list`` prints (dps/runner/defaults.py MEASURED)
are the sweeps' own numbers: each row's count is recomputed from the sweep's records in
experiments/results/tune_defaults/, and its page shows the command."""
import json
import shlex
from pathlib import Path

import pytest
from experiment_scripts import load

from dps.run import main, run_config
from dps.runner.defaults import MEASURED, seeds_in

ROOT = Path(__file__).resolve().parents[1]


def test_seed_lists():
    assert seeds_in("0-9") == list(range(10)) and seeds_in("0,3") == [0, 3] and seeds_in("1-2,5") == [1, 2, 5]


@pytest.mark.parametrize("m", MEASURED, ids=lambda m: m.command)
def test_measured_row_is_the_sweeps_record(m):
    argv = shlex.split(m.command)
    run_config(argv)  # a valid command line as it stands
    algo, env = argv[0], argv[argv.index("--env") + 1]
    records = ROOT / "experiments/results/tune_defaults" / (load("tune_defaults").sweep_name(algo, env) + ".jsonl")
    rows = [json.loads(line) for line in records.read_text().splitlines()]
    mine = {r["seed"]: r for r in rows if r["candidate"] == "" and r["seed"] in seeds_in(m.seeds)}
    assert sorted(mine) == seeds_in(m.seeds), f"{records.name} lacks defaults runs for seeds {m.seeds}"
    assert sum(r["success"] >= 0.95 for r in mine.values()) == m.solved
    assert f"{m.command}" in (ROOT / m.where).read_text(), f"{m.where} does not show {m.command}"


def test_list_prints_them(capsys):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    for m in MEASURED:
        assert m.line() in out
