"""The terminal game loop, driven with scripted input (no run directory needed), and the
board it prints."""
import io

import pytest
import torch

import dps.runner
from dps.envs.atari_go.render import LETTERS, render
from dps.errors import UserError
from dps.play import main, play_game, play_opponent, watch_game
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


def board_rows(text, N):
    """The N numbered rows of a rendered board (between the two letter headers)."""
    lines = text.splitlines()
    assert len(lines) == N + 2 and lines[0] == lines[-1]
    return lines[0], lines[1:-1]


@pytest.mark.parametrize("N", [2, 3, 5, 9, 10, 19])
def test_last_move_marker_never_shifts_the_board(N):
    """Marking the last move in column a, a middle column or the last column (in the top,
    a middle and the bottom row) keeps every row equally wide and every stone under its
    column letter."""
    gen = torch.Generator().manual_seed(N)
    grid = torch.randint(0, 3, (N, N), generator=gen)
    sym = {0: ".", 1: "X", 2: "O"}
    for i in sorted({0, N // 2, N - 1}):
        for j in sorted({0, N // 2, N - 1}):
            text = render(grid, i * N + j)
            assert text.isascii()  # so len() is the display width
            header, rows = board_rows(text, N)
            assert len({len(r) for r in rows}) == 1, text
            cols = [header.index(c) for c in LETTERS[:N]]
            for r, row in enumerate(rows):
                assert [row[c] for c in cols] == [sym[int(v)] for v in grid[r]], text
                assert row.split()[-1] == str(N - r)
                right = row.rindex(str(N - r)) if N - r >= 10 else row.rstrip().rindex(str(N - r))
                assert right == cols[-1] + 3, text  # the right-hand numbers form one column
            marked = rows[i]
            assert marked[cols[j] - 1] + marked[cols[j] + 1] == "()", text
            assert sum(row.count("(") + row.count(")") for row in rows) == 2
            # unmarked rows print exactly as on a board with no last move
            plain = board_rows(render(grid), N)[1]
            assert [r for k, r in enumerate(rows) if k != i] == [r for k, r in enumerate(plain) if k != i]


@pytest.mark.parametrize("N,color", [(5, "black"), (9, "black"), (9, "white")])
def test_human_against_a_ladder_level(N, color):
    """No network and no run directory: scripted moves (every point in order; occupied
    ones are re-prompted) against L2 until someone wins."""
    out = []
    moves = [f"{c}{r}" for r in range(1, N + 1) for c in LETTERS[:N]]
    game = play_opponent("L2", N, color, scripted(moves), out.append, seed=3)
    text = "\n".join(out)
    assert game is not None and game.done and game.winner in ("black", "white")
    assert f"{N}x{N} against L2" in out[0]
    ladder = "white" if color == "black" else "black"
    assert f"L2 ({ladder}) plays" in text
    assert "Game over" in out[-1]
    for line in out:  # every board printed during the game is aligned
        if line.startswith("    a"):
            rows = board_rows(line, N)[1]
            assert len({len(r) for r in rows}) == 1


def test_ladder_alias_and_seeded_replies():
    moves = [f"{c}{r}" for r in range(1, 6) for c in "abcde"]
    a, b = [], []
    play_opponent("killer", 5, "black", scripted(moves), a.append, seed=7)
    play_opponent("L2", 5, "black", scripted(moves), b.append, seed=7)
    assert a == b
    with pytest.raises(UserError, match="L9"):
        play_opponent("L9", 5, "black", scripted([]), lambda s: None)


def test_cli_plays_a_ladder_level_without_a_run(monkeypatch, capsys):
    moves = [f"{c}{r}" for r in range(1, 10) for c in LETTERS[:9]]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(moves) + "\n"))
    assert main(["atari-go", "--opponent", "L2", "--size", "9", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "9x9 against L2" in out and "Game over" in out and "    a b c d e f g h i\n" in out
    monkeypatch.setattr("sys.stdin", io.StringIO("quit\n"))
    assert main(["atari-go", "--opponent", "careful"]) == 0  # default size without a run: 5
    assert "5x5 against L3" in capsys.readouterr().out


@pytest.mark.parametrize("argv,words", [
    (["--opponent", "L9"], ["'L9'", "L0", "L6", "killer"]),
    (["--opponent", "L2", "--size", "25"], ["25", "2 to 19"]),
    (["--opponent", "L2", "--size", "1"], ["1", "2 to 19"]),
    (["--opponent", "L2", "--size", "big"], ["'big'", "2 to 19"]),
    (["RUN", "--size", "20"], ["20", "2 to 19"]),           # checked before the run is read
    (["RUN", "--watch", "L99"], ["'L99'", "L0", "L6"]),
    (["--opponent", "L2", "--watch", "L3"], ["--opponent", "--watch"]),
    (["RUN", "--opponent", "L2"], ["RUN", "--watch L2"]),
    ([], ["RUN_DIR", "--opponent"]),
    (["--opponent", "L2", "--color", "green"], ["'green'", "black, white"]),
])
def test_cli_bad_arguments_are_one_line_exit_2(argv, words, capsys, tmp_path):
    argv = [str(tmp_path / "nope") if a == "RUN" else a for a in argv]
    assert main(["atari-go", *argv]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    assert "not a dps run directory" not in err
    for w in words:
        assert w in err, (w, err)
    assert captured.out == ""


def test_cli_watch_is_unchanged(monkeypatch, capsys):
    """``--watch`` (an alias too) prints the same game as :func:`watch_game` on the run's
    network at the run's training size."""
    params = torch.zeros(factory(5).num_params)
    monkeypatch.setattr(dps.runner, "load_run", lambda d: ("linear", params, {"env": "atari-go:size=5"}))
    assert main(["atari-go", "somewhere", "--watch", "killer", "--color", "white", "--seed", "1"]) == 0
    cli = capsys.readouterr().out.splitlines()
    direct = []
    watch_game(factory, params, 5, "L2", "white", direct.append, seed=1)
    assert cli == "\n".join(direct).splitlines()
    assert " ".join(line.split(" plays ")[1] for line in cli if " plays " in line) == \
        "e2 d2 d4 a2 d3 e5 a4 c3 a3 c1 d1 c4 c2"
