"""experiments/tune_defaults.py: seed lists and the quartiles candidates are ranked by."""
from experiment_scripts import load


def _module():
    return load("tune_defaults")


def test_seed_lists():
    m = _module()
    assert m.seeds_of("0-3,7") == [0, 1, 2, 3, 7] and m.seeds_of("5") == [5] and m.seeds_of("1,2") == [1, 2]


def test_quartiles_judge_the_bad_seeds():
    m = _module()
    # one seed in four fails: the lower quartile of success shows it, the median would not
    lo, hi = m.quartiles([1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0])
    assert lo == 0.75 and hi == 1.0
    assert m.quartiles([1.0, 1.0, 1.0, 1.0]) == (1.0, 1.0)
    assert m.quartiles([3.0]) == (3.0, 3.0)
    lo, hi = m.quartiles([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (lo, hi) == (2.0, 4.0)


def test_seeds_solved_break_a_tie_of_lower_quartiles():
    m = _module()
    # both candidates fail on more than a quarter of the seeds (lower quartile 0.5), and the
    # worse one is faster on its slow seeds: the seeds solved decide
    rows = [{"candidate": "a", "success": s, "episodes": 100} for s in (1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5)]
    rows += [{"candidate": "b", "success": s, "episodes": 100 if s == 1.0 else 90}
             for s in (1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5)]
    table = m.ranked(rows, ["a", "b"])
    assert [t[0] for t in table] == ["b", "a"] and table[0][1] == table[1][1] == 0.5


def test_long_candidates_get_their_own_run_directories():
    m = _module()
    a = "--curriculum length=10..200 --policy lstm:hidden=16,chrono=200"
    b = "--curriculum length=10..200 --policy lstm:hidden=16,chrono=2000"
    names = {m.run_name("rpg", "class-query:length=200", c, 0) for c in (a, b)}
    assert len(names) == 2 and all(len(n) < 120 for n in names)
    assert m.run_name("pgpe", "tmaze", "", 3) == "pgpe_tmaze_defaults_s3"
    assert m.run_name("pgpe", "tmaze", "--curriculum none", 3) == "pgpe_tmaze___curriculum_none_s3"
