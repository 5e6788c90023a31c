"""The terminal game loop, driven with scripted input (no run directory needed)."""
import pytest
import torch

from dps.errors import UserError
from dps.play import main, play_game, watch_game
from dps.policies import LinearPolicy


def factory(N):
    return LinearPolicy((2, N, N), N * N)


def params_for(N, seed=0):
    return factory(N).init_params(torch.Generator().manual_seed(seed))


def scripted(moves):
    it = iter(moves)

    def input_fn(prompt):
        try:
            return next(it)
        except StopIteration:
            raise EOFError from None
    return input_fn


def test_bad_input_is_reprompted_and_game_finishes():
    out = []
    # garbage, off-board, then every point in order: occupied points are re-prompted too
    moves = ["hello", "z9", "a6", "", "c3", "c3"] + [f"{c}{r}" for r in range(1, 6) for c in "abcde"]
    game = play_game(factory, params_for(5), 5, "black", scripted(moves), out.append)
    text = "\n".join(out)
    assert "cannot read move 'hello'" in text and "off the 5x5 board" in text
    assert "occupied" in text  # the second c3
    assert game is not None and game.done and game.winner in ("black", "white")
    assert "Game over" in out[-1]
    assert game.plies <= 25


def test_quit_and_eof_leave_cleanly():
    assert play_game(factory, params_for(3), 3, "white", scripted(["quit"]), lambda s: None) is None
    assert play_game(factory, params_for(3), 3, "black", scripted([]), lambda s: None) is None


def test_bad_size_and_colour():
    with pytest.raises(UserError, match="25"):
        play_game(factory, params_for(5), 25, "black", scripted([]), lambda s: None)
    with pytest.raises(UserError, match="green"):
        play_game(factory, params_for(5), 5, "green", scripted([]), lambda s: None)
    with pytest.raises(UserError, match="entries"):
        play_game(factory, params_for(4), 5, "black", scripted([]), lambda s: None)


def test_watch_prints_a_whole_game():
    out = []
    game = watch_game(factory, params_for(5), 5, "L2", "white", out.append, seed=1)
    assert game.done and sum("plays" in line for line in out) == game.plies
    assert "L2" in "\n".join(out)


def test_cli_reports_missing_run_dir(tmp_path, capsys):
    assert main(["atari-go", str(tmp_path / "nope")]) == 2
    assert "not a dps run directory" in capsys.readouterr().err
    assert main(["chess", str(tmp_path)]) == 2


@pytest.mark.parametrize("name,color,moves", [
    # recorded before the Atari-Go package was split: seeded games must not change
    ("zeros", "black", "d2 e2 a2 d4 e5 d3 c3 a4 c1 a3 c4 d1 e1"),
    ("zeros", "white", "e2 d2 d4 a2 d3 e5 a4 c3 a3 c1 d1 c4 c2"),
    ("init0", "black", "d2 e2 a3 d4 b3 d3 e3 e4"),
    ("init0", "white", "e2 e1 d1"),
])
def test_seeded_games_are_unchanged(name, color, moves):
    """The network's greedy moves (all-zero weights: every empty point ties, so each move is
    the head's seeded tie-break) and the ladder's replies, move for move."""
    params = torch.zeros(factory(5).num_params) if name == "zeros" else params_for(5)
    out = []
    watch_game(factory, params, 5, "L2", color, out.append, seed=1)
    assert " ".join(line.split(" plays ")[1] for line in out if " plays " in line) == moves
