"""Atari-Go rules: batched torch engine against the plain reference, the spec's test
vector, exact game values, set-up, rendering and move parsing."""
import random

import pytest
import torch

from dps.envs.atari_go.boards import Boards
from dps.envs.atari_go.constants import check_size
from dps.envs.atari_go.game import Game
from dps.envs.atari_go.reference import RefGame
from dps.envs.atari_go.render import parse_move, point_name, render
from dps.envs.atari_go.solver import solve
from dps.errors import UserError

REASON = {1: "capture", 2: "suicide"}


@pytest.mark.parametrize("N,games,check_maps", [(2, 200, True), (3, 200, True), (4, 150, True),
                                               (5, 100, True), (7, 60, False), (9, 40, False)])
def test_random_games_agree_with_reference(N, games, check_maps):
    rng = random.Random(100 + N)
    b = Boards(N, games)
    refs = [RefGame(N) for _ in range(games)]
    while not all(r.done for r in refs):
        if check_maps:
            f = b.features(("capture", "suicide"))
        moves = []
        for k, r in enumerate(refs):
            if r.done:
                moves.append(rng.randrange(N * N))  # ignored (masked) by the batched engine
                continue
            assert b.legal()[k].tolist() == r.legal()
            assert not bool(b.done[k])
            if check_maps:
                for p in r.empty_points():
                    what = r.outcome(p)
                    assert bool(f["capture"][k, p]) == (what == "capture")
                    assert bool(f["suicide"][k, p]) == (what == "suicide")
            moves.append(rng.choice(r.empty_points()))
        for r, m in zip(refs, moves):
            if not r.done:
                r.play(m)
        b.play(torch.tensor(moves))
    assert b.done.all()
    assert b.winner.tolist() == [r.winner for r in refs]
    assert b.plies.tolist() == [r.plies for r in refs]
    assert [REASON[x] for x in b.reason.tolist()] == [r.end_reason for r in refs]
    assert all(r.plies <= N * N for r in refs)


def test_spec_test_vector():
    g = Game.from_stones(5, black=[(1, 0), (0, 1), (1, 1)], white=[(2, 0), (0, 2), (1, 2), (2, 1)])
    assert g.to_move == "white" and g.plies == 7
    f = g.b.features(("capture", "suicide"))
    assert f["capture"][0].nonzero().flatten().tolist() == [0]
    g.play((0, 0))
    assert (g.winner, g.end_reason, g.plies) == ("white", "capture", 8)


def test_capture_beats_suicide_and_suicide_loses():
    # Black to play a1-corner (0,0) of 2x2 filled by White around: capture wins although
    # Black's own stone would have no liberty
    g = Game.from_stones(3, black=[(0, 2), (1, 1)], white=[(0, 1), (1, 0)], to_move=1)
    # White (0,1) has liberty (0,0) only? its neighbours: (0,0) empty, (1,1) B, (0,2) B
    g.play((0, 0))
    assert (g.winner, g.end_reason) == ("black", "capture")
    g = Game.from_stones(3, black=[(0, 1), (1, 0), (1, 1)], white=[(2, 2)], to_move=2)
    g.play((0, 0))  # White has no liberty there and captures nothing
    assert (g.winner, g.end_reason, g.plies) == ("black", "suicide", 5)


def test_single_game_errors_and_masked_batch():
    g = Game(2)
    g.play("a2")
    with pytest.raises(UserError, match="occupied"):
        g.play("a2")
    while not g.done:
        g.play(int(g.legal().nonzero()[0]))
    with pytest.raises(UserError, match="over"):
        g.play(int(g.legal().nonzero()[0]) if g.legal().any() else 0)
    b = Boards(3, 2)
    b.play(torch.tensor([4, 4]), active=torch.tensor([True, False]))
    assert b.plies.tolist() == [1, 0] and int(b.grid[1].abs().sum()) == 0
    with pytest.raises(UserError, match="occupied"):
        b.play(torch.tensor([4, 4]))


@pytest.mark.parametrize("bad", [1, 20, 0, "5", 5.0, True])
def test_size_errors_name_the_value(bad):
    with pytest.raises(UserError, match=repr(bad).replace(".", r"\.")):
        check_size(bad)
    with pytest.raises(UserError):
        Boards(bad, 1)


def test_setup_rejects_dead_groups_and_bad_points():
    with pytest.raises(UserError, match="without liberty"):
        Boards.from_stones(2, black=[(0, 0)], white=[(0, 1), (1, 0)])
    with pytest.raises(UserError, match="off"):
        Boards.from_stones(3, black=[(3, 0)])


def test_render_and_parse():
    assert parse_move("c3", 5) == 12 and parse_move(" A5 ", 5) == 0 and parse_move("e1", 5) == 24
    assert point_name(12, 5) == "c3" and point_name(0, 5) == "a5"
    for p in range(81):
        assert parse_move(point_name(p, 9), 9) == p
    for bad in ("f1", "a6", "a0", "zz", "", "3c", "c 3 4"):
        with pytest.raises(UserError):
            parse_move(bad, 5)
    g = Game.from_stones(3, black=[(0, 0)], white=[(2, 2)])
    text = render(g.b.grid[0])
    lines = text.splitlines()
    assert lines[0].split() == ["a", "b", "c"]
    assert lines[1].split() == ["3", "X", ".", ".", "3"]
    assert lines[3].split() == ["1", ".", ".", "O", "1"]


def test_exact_game_values_2x2_and_3x3():
    r2 = solve(2)
    assert r2["winner"] == "white" and not any(r2["first_moves"].values())
    r3 = solve(3)
    assert r3["winner"] == "black"
    winning = {p for p, v in r3["first_moves"].items() if v}
    assert winning == {1, 3, 4, 5, 7}  # every point but the corners


def _package_imports():
    """``{module file name: set of absolute module names it imports}`` for the package."""
    import ast
    from pathlib import Path

    import dps.envs.atari_go as pkg

    out = {}
    for path in sorted(Path(pkg.__file__).parent.glob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = "dps.envs.atari_go"
                for _ in range(node.level - 1):
                    base = base.rsplit(".", 1)[0]
                mod = f"{base}.{node.module}" if node.level and node.module else (node.module or base)
                names.add(mod)
                names |= {f"{mod}.{a.name}" for a in node.names}
        out[path.name] = names
    return out


def test_imports_point_down():
    """The package imports nothing above the env layer, and the renderer and the constants
    sit below the engines (no import circle between render and the rules)."""
    imports = _package_imports()
    above = ("dps.rollout", "dps.evaluation", "dps.policies", "dps.algorithms", "dps.runner")
    for name, mods in imports.items():
        assert not [m for m in mods if m.startswith(above)], name
    pkg = "dps.envs.atari_go."
    assert {m for m in imports["constants.py"] if m.startswith(pkg)} == set()
    assert {m.split(".")[3] for m in imports["render.py"] if m.startswith(pkg)} == {"constants"}
    assert {m.split(".")[3] for m in imports["lockstep.py"] if m.startswith(pkg)} == {"constants"}
    assert {m.split(".")[3] for m in imports["boards.py"] if m.startswith(pkg)} == {"constants", "lockstep"}
