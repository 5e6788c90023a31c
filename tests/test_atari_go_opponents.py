"""Opponent ladder: each level's rule on hand-made positions, the move-class maps against
BFS definitions, seeding, names, and a few ladder cells within tolerance."""
import random

import pytest
import torch

from dps.envs.atari_go.boards import Boards
from dps.envs.atari_go.env import AtariGoEnv
from dps.envs.atari_go.lockstep import play_out
from dps.envs.atari_go.opponents import (
    Opponent,
    OpponentMix,
    _classes,
    match_engine,
    opponent_levels,
    opponent_name,
    play_match,
    win_in_two,
    win_rate,
)
from dps.envs.atari_go.reference import RefGame, reference_win_rate
from dps.errors import UserError


def moves_of(level, boards, n=200, seed=0):
    """Set of moves chosen by ``level`` over ``n`` independent draws in game 0."""
    b = boards.select(torch.zeros(n, dtype=torch.long))
    return set(Opponent(level, seed).move(b).tolist())


def pos(N, black, white, to_move=None):
    return Boards.from_stones(N, black, white, to_move)


def idx(N, *rc):
    return {r * N + c for r, c in rc}


def test_names_and_aliases():
    assert opponent_name("killer") == "L2" and opponent_name("l4") == "L4"
    assert opponent_name("random") == "L0" and opponent_name("safe") == "L4"
    with pytest.raises(UserError, match="'L9'.*accepted"):
        opponent_name("L9")


def test_L0_plays_suicide_L1_does_not():
    # 3x3: White to move; (0,0) is suicide for White (Black group keeps liberties)
    b = pos(3, [(0, 1), (1, 0), (1, 1)], [(2, 2)], to_move=2)
    assert 0 in moves_of("L0", b, 400)
    l1 = moves_of("L1", b, 400)
    assert 0 not in l1 and l1 == {2, 5, 6, 7}


def test_L2_always_captures_and_L1_does_not_prefer_it():
    b = pos(5, [(1, 0), (0, 1), (1, 1)], [(2, 0), (0, 2), (1, 2), (2, 1)])  # spec test vector
    assert moves_of("L2", b) == {0}
    assert len(moves_of("L1", b)) > 5


def test_L3_avoids_self_atari():
    # 4x4, Black to move: (0,2) between White (0,1) and (0,3) keeps one liberty (1,2)
    b = pos(4, [(3, 3), (3, 2)], [(0, 1), (1, 0), (0, 3)], to_move=1)
    f = b.features(("capture", "suicide", "self_atari"))
    sa = set(f["self_atari"][0].nonzero().flatten().tolist())
    assert 0 not in sa  # (0,0) is suicide, not self-atari
    assert idx(4, (0, 2)) <= sa
    l3 = moves_of("L3", b, 600)
    assert not (l3 & sa) and not (l3 & {0})
    assert moves_of("L2", b, 600) & sa


def test_L4_rescues_group_in_atari():
    # 5x5 Black to move: Black (0,0)-(0,1) in atari (liberty (0,2)) -> extending there
    # gives 2 liberties ((0,3), (1,2)); no capture available
    b = pos(5, [(0, 0), (0, 1), (4, 4)], [(1, 0), (1, 1), (3, 3)], to_move=1)
    f = b.features(("capture", "suicide", "self_atari", "rescue"))
    assert not f["capture"].any()
    assert set(f["rescue"][0].nonzero().flatten().tolist()) == idx(5, (0, 2))
    assert moves_of("L4", b) == idx(5, (0, 2))
    assert len(moves_of("L3", b)) > 3


def test_L5_puts_opponent_in_atari():
    # 5x5, Black to move; White (2,2) alone with 4 liberties, Black around two sides
    b = pos(5, [(1, 2), (2, 1), (4, 4)], [(2, 2), (0, 0), (4, 0)], to_move=1)
    f = b.features(("capture", "suicide", "self_atari", "rescue", "atari"))
    assert set(f["atari"][0].nonzero().flatten().tolist()) == idx(5, (2, 3), (3, 2), (0, 1), (1, 0), (3, 0), (4, 1))
    l5 = moves_of("L5", b, 400)
    assert l5 <= idx(5, (2, 3), (3, 2), (0, 1), (1, 0), (3, 0), (4, 1)) and len(l5) >= 3
    assert len(moves_of("L4", b, 400)) > 6


def test_L6_plays_the_double_atari_and_L5_any_atari():
    """5×5, Black to move, (row, col). White (0,1) and (1,0) each have the liberties (0,0) and
    (1,1); Black (1,1) puts both in atari with the one liberty (0,0), where White's merged
    group would have none (suicide), and leaves White no capture: a win in 2. Black (3,4)
    or (4,3) also puts White's corner stone (4,4) in atari, but White then extends to a
    safe group, so those are L5's moves and not L6's."""
    b = pos(5, [(0, 2), (2, 0)], [(0, 1), (1, 0), (4, 4)], to_move=1)
    f = b.features(("capture", "suicide", "safe", "atari"))
    assert not f["capture"].any()
    assert set((f["safe"] & f["atari"])[0].nonzero().flatten().tolist()) == idx(5, (1, 1), (3, 4), (4, 3))
    assert set(win_in_two(b, f)[0].nonzero().flatten().tolist()) == idx(5, (1, 1))
    assert moves_of("L6", b) == idx(5, (1, 1))
    assert moves_of("L5", b, 400) == idx(5, (1, 1), (3, 4), (4, 3))
    child = b.clone()
    child.play(torch.tensor([6]))                   # (1,1): every White reply now loses
    assert not child.features(("capture",))["capture"].any()
    assert not child.features(("safe",))["safe"].any()


def test_safe_means_no_own_group_left_in_atari():
    """5×5, Black to move. Black (0,0) and (4,4) are each in atari (White (0,1), (3,4));
    extending one leaves the other in atari, so no move is safe; L4 then plays any
    non-suicide move (L1), not only the extensions."""
    b = pos(5, [(0, 0), (4, 4)], [(0, 1), (3, 4), (2, 2)], to_move=1)
    f = b.features(("capture", "suicide", "safe", "rescue"))
    assert not f["capture"].any() and not f["safe"].any()
    assert set(f["rescue"][0].nonzero().flatten().tolist()) == idx(5, (1, 0), (4, 3))
    assert len(moves_of("L4", b, 400)) > 10


@pytest.mark.parametrize("N", [3, 5, 7])
def test_move_class_maps_match_bfs(N):
    rng = random.Random(N)
    G = 40
    b = Boards(N, G)
    refs = [RefGame(N) for _ in range(G)]
    for _ in range(N * N):
        f = b.features(("capture", "suicide", "self_atari", "rescue", "atari", "safe"))
        f["win2"] = win_in_two(b, f)
        levels = ("L1", "L2", "L3", "L4", "L5", "L6") if N <= 5 else ("L1", "L2", "L3", "L4", "L5")
        moves = []
        for k, r in enumerate(refs):
            if r.done:
                moves.append(0)
                continue
            want = r.move_classes()   # BFS, one question at a time
            for key, pts in want.items():
                assert set(f[key][k].nonzero().flatten().tolist()) == pts, (key, k)
            for level in levels:   # the ladder's priority lists (L6's BFS is slow on 7×7)
                got = [set(c[k].nonzero().flatten().tolist()) for c in _classes(level, f)]
                assert got == r.level_classes(level), (level, k)
            moves.append(r.killer_move(rng))
        for r, m in zip(refs, moves):
            if not r.done:
                r.play(m)
        b.play(torch.tensor(moves))
        if all(r.done for r in refs):
            break


@pytest.mark.parametrize("N", [4, 5])
def test_win_in_two_matches_bfs_on_played_out_games(N):
    """L6's win-in-2 map against the BFS definition on every position of L5-vs-L5 games,
    which reach the crowded positions where the class is non-empty (the test counts them)."""
    G = 60
    b = Boards(N, G)
    refs = [RefGame(N) for _ in range(G)]
    player = Opponent("L5", 1)
    hits = 0
    while not all(r.done for r in refs):
        f = b.features(("capture", "suicide", "safe", "atari"))
        win2 = win_in_two(b, f)
        for k, r in enumerate(refs):
            if not r.done:
                want = r.win_in_two()
                assert set(win2[k].nonzero().flatten().tolist()) == want, k
                hits += bool(want)
        move = player.move(b)                       # L5 for whichever side is to move
        for r, m in zip(refs, move.tolist()):
            if not r.done:
                r.play(m)
        b.play(move)
    assert hits >= 10, hits


def _midgame(N, G, plies, seed):
    """G boards after ``plies`` L1 moves each (some games may have ended)."""
    b = Boards(N, G)
    player = Opponent("L1", seed)
    for _ in range(plies):
        b.play(player.move(b), active=~b.done)
    return b


def test_mix_of_one_level_is_that_level():
    b = _midgame(5, 64, 6, seed=3)
    one = OpponentMix(("L5",), torch.zeros(64, dtype=torch.long), seed=9)
    assert torch.equal(one.move(b), Opponent("L5", 9).move(b))


def test_mix_plays_each_game_by_its_own_level():
    """Every game's move lies in the first non-empty class of the level dealt to it."""
    G = 120
    b = _midgame(5, G, 8, seed=1)
    assign = torch.arange(G) % 3
    mix = OpponentMix(opponent_levels("random+L2+attack"), assign, seed=2)
    assert mix.level == "L0+L2+L5"
    for _ in range(3):
        move = mix.move(b)
        f = b.features(("capture", "suicide", "safe", "atari"))
        for g in (~b.done).nonzero().flatten().tolist():
            level = mix.players[int(assign[g])].level
            classes = [c[g] for c in _classes(level, f)]
            first = next(c for c in classes if c.any())
            assert first[move[g]], (g, level)
        b.play(move, active=~b.done)


def test_mix_names_engine_and_compaction():
    assert opponent_levels("l2+killer+L6") == ("L2", "L2", "L6")
    with pytest.raises(UserError, match=r"'L2\+' has an empty part.*L2\+L5\+L6"):
        opponent_levels("L2+")
    with pytest.raises(UserError, match="unknown opponent 'L9'"):
        opponent_levels("L2+L9")
    assert match_engine("L0+L2", "L1", 5) == "bits" and match_engine("L2+L5", "L1", 5) == "boards"
    with pytest.raises(UserError, match="bits"):
        match_engine("L2+L5", "L2", 5, engine="bits")
    # compaction drops finished games' assignments in step with the boards
    G = 200
    players = {1: OpponentMix(("L2", "L5"), torch.arange(G) % 2, seed=4), 2: Opponent("L4", 5)}
    out = play_out(Boards(5, G), players, compact=True)
    assert out["winner"].shape == (G,) and bool((out["winner"] > 0).all())


def test_env_deals_levels_in_colour_balanced_pairs():
    env = AtariGoEnv(size=5, opponent="L2+L6", games=8)
    assert env.opponent == "L2+L6" and repr(env).startswith("AtariGoEnv(size=5, opponent=L2+L6")
    env.reset(3, 8, torch.Generator().manual_seed(0))
    assert env.opp.assign.reshape(3, 8).tolist() == [[0, 0, 1, 1, 0, 0, 1, 1]] * 3
    # within each level the agent plays both colours equally often
    colour = env.agent.reshape(3, 8)
    for k in (0, 1):
        sel = env.opp.assign.reshape(3, 8) == k
        assert (colour[sel] == 1).sum() == (colour[sel] == 2).sum()


def test_seeded_streams_are_reproducible_and_independent():
    a = play_match("L2", "L0", 5, 300, seed=4)
    b = play_match("L2", "L0", 5, 300, seed=4)
    c = play_match("L2", "L0", 5, 300, seed=5)
    assert torch.equal(a["winner"], b["winner"]) and torch.equal(a["plies"], b["plies"])
    assert not torch.equal(a["plies"], c["plies"])
    assert ((a["plies"] >= 3) & (a["plies"] <= 25)).all()


@pytest.mark.parametrize("a,b,N,ref", [("L2", "L0", 5, 0.863), ("L5", "L2", 5, 0.939), ("L4", "L2", 5, 0.800),
                                       ("L6", "L5", 5, 0.548)])
def test_ladder_cells_within_tolerance(a, b, N, ref):
    r = win_rate(a, b, N, 3000, seed=11)
    assert abs(r["win_rate"] - ref) < 4 * r["stderr"] + 0.01, r


@pytest.mark.parametrize("a,b,N", [("L4", "L2", 5), ("L3", "L1", 4)])
def test_reference_players_agree_with_batched_players(a, b, N):
    """Whole matches: the one-game BFS players (Python's ``random``) and the batched ones
    (torch streams) give the same win rate within sampling error."""
    ref = reference_win_rate(a, b, N, 1500, seed=3)
    bat = win_rate(a, b, N, 3000, seed=3)
    se = (ref["stderr"] ** 2 + bat["stderr"] ** 2) ** 0.5
    assert abs(ref["win_rate"] - bat["win_rate"]) < 4 * se, (ref, bat)
    assert abs(ref["mean_plies"] - bat["mean_plies"]) < 0.1 * bat["mean_plies"]


def test_reference_level_errors():
    with pytest.raises(ValueError, match="L6"):
        RefGame(3).level_classes("L7")


def test_non_compacted_match_agrees():
    a = play_match("L1", "L2", 4, 200, seed=2, compact=True)
    b = play_match("L1", "L2", 4, 200, seed=2, compact=False)
    assert a["winner"].shape == b["winner"].shape == (200,)
    assert set(a["winner"].tolist()) <= {1, 2} and set(b["winner"].tolist()) <= {1, 2}


def _ladder_script():
    from experiment_scripts import load
    return load("ladder_atari_go")


def test_ladder_script_z_counts_both_errors():
    """experiments/ladder_atari_go.py's z divides by the s.e. of the difference: ours and
    the reference's binomial error at its game count (0.8·0.2/40000 → s.e. 0.002)."""
    mod = _ladder_script()
    assert mod.z_both(0.806, 0.002, 0.800, 40_000) == pytest.approx(0.006 / (2 * 0.002 ** 2) ** 0.5)
    assert mod.reference(("L6", "L5"), 7) == (0.557, 24_000)
    assert mod.reference(("L4", "L2"), 9) == (0.859, 40_000)
    assert mod.reference(("L6", "L5"), 9) == (None, None)
    assert mod.parse_pairs("L6:L5, safe-killer, win-in-2:attack") == [("L6", "L5"), ("L4", "L2"), ("L6", "L5")]
    with pytest.raises(ValueError, match="L6:L5"):
        mod.parse_pairs("L6")


def test_ladder_script_json_lines(capsys):
    """``--pairs … --json`` prints one JSON object per cell with the pair, N, games and win."""
    import json
    _ladder_script().main(["--pairs", "L6:L5,L2:L0", "--sizes", "4,5", "--games", "200", "--json",
                           "--device", "cpu"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["pair"], r["N"]) for r in rows] == [("L6:L5", 4), ("L6:L5", 5), ("L2:L0", 4), ("L2:L0", 5)]
    assert all(r["games"] == 200 and 0 <= r["win"] <= 1 for r in rows)
    assert rows[1]["reference"] == 0.548 and rows[0]["reference"] is None and rows[1]["z"] is not None


def test_reference_groups_in_atari_hand_worked():
    """RefGame.groups_in_atari on a hand-made 5×5 position, (row, col): Black (0,0) beside
    White (0,1) and Black (4,4) beside White (3,4) have one liberty each; Black (2,2) has
    four; White's two stones have two each. White on (1,0) leaves (0,0) with none."""
    from dps.envs.atari_go.reference import BLACK, WHITE
    g = RefGame(5)
    for (r, c), colour in {(0, 0): BLACK, (0, 1): WHITE, (4, 4): BLACK, (3, 4): WHITE,
                           (2, 2): BLACK}.items():
        g.board[r * 5 + c] = colour
    assert g.groups_in_atari(BLACK) == 2 and g.groups_in_atari(WHITE) == 0
    after = list(g.board)
    after[1 * 5 + 0] = WHITE                       # (0,0) has no liberty, (4,4) still one
    assert g.groups_in_atari(BLACK, after) == 1 and g.groups_in_atari(BLACK) == 2
