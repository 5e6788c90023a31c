"""Bitboard Atari-Go engine (N ≤ 7): moves, capture/suicide maps and atari sets against the
plain reference and the general engine, its players' laws, and engine selection."""
import random

import pytest
import torch

from dps.envs.atari_go.bitboard import BitBoards, BitPlayer, play_match_bits, random_orders, uniform_point
from dps.envs.atari_go.boards import Boards
from dps.envs.atari_go.opponents import Opponent, match_engine, play_match
from dps.envs.atari_go.reference import RefGame
from dps.errors import UserError

REASON = {1: "capture", 2: "suicide"}


def atari_stones(r: RefGame, color: int) -> set:
    """Stones of ``color``'s groups with exactly one liberty, by BFS."""
    out = set()
    for p, v in enumerate(r.board):
        if v == color and len(r.liberties(r.group(p))) == 1:
            out.add(p)
    return out


def bits_to_set(bb: BitBoards, x: torch.Tensor, g: int) -> set:
    return set(bb.to_points(x[g : g + 1])[0].nonzero()[:, 0].tolist())


@pytest.mark.parametrize("N,games", [(2, 60), (3, 60), (4, 40), (5, 30), (6, 12), (7, 8)])
def test_random_games_agree_with_reference(N, games):
    """Every ply: legal, capture and suicide maps and both atari sets equal the BFS ones;
    at the end: winner, plies and reason. N ≤ 5 runs on int32 words, 6–7 on int64."""
    rng = random.Random(7 + N)
    b = BitBoards(N, games)
    assert b.dtype == (torch.int32 if N <= 5 else torch.int64)
    refs = [RefGame(N) for _ in range(games)]
    while not all(r.done for r in refs):
        f = b.features(("legal", "capture", "suicide"))
        moves = []
        for k, r in enumerate(refs):
            if r.done:
                moves.append(rng.randrange(N * N))  # ignored by the engine (finished game)
                continue
            assert f["legal"][k].tolist() == r.legal()
            kinds = {p: r.outcome(p) for p in r.empty_points()}
            assert set(f["capture"][k].nonzero()[:, 0].tolist()) == {p for p, w in kinds.items() if w == "capture"}
            assert set(f["suicide"][k].nonzero()[:, 0].tolist()) == {p for p, w in kinds.items() if w == "suicide"}
            assert bits_to_set(b, b.atari_b, k) == atari_stones(r, 1)
            assert bits_to_set(b, b.atari_w, k) == atari_stones(r, 2)
            caps = [p for p, w in kinds.items() if w == "capture"]
            # half the time take a capture when there is one, so both endings occur
            moves.append(rng.choice(caps) if caps and rng.random() < 0.5 else rng.choice(r.empty_points()))
        for r, m in zip(refs, moves):
            if not r.done:
                r.play(m)
        b.play(torch.tensor(moves))
    for k, r in enumerate(refs):
        res = b.result(k)
        assert res["plies"] == r.plies and res["end_reason"] == r.end_reason
        assert res["winner"] == {1: "black", 2: "white"}[r.winner]
    assert {r.end_reason for r in refs} == {"capture", "suicide"} or N <= 3


@pytest.mark.parametrize("N", [5, 7])
def test_large_batch_agrees_with_general_engine(N):
    """2000 games in lock-step (enough for the fill to continue on a subset of games):
    the same moves give the same maps and results as :class:`Boards`."""
    G = 2000
    bb, b = BitBoards(N, G), Boards(N, G)
    chooser = Opponent("L0", seed=3)
    for _ in range(N * N):
        live = ~b.done
        f, fb = bb.features(), b.features()
        for k in ("legal", "capture", "suicide"):
            assert torch.equal(f[k][live], fb[k][live]), k
        mv = chooser.move(b)
        b.play(mv)
        bb.play(mv)
        for k in ("done", "winner", "plies", "reason", "to_move"):
            assert torch.equal(getattr(b, k), getattr(bb, k)), k
        if bool(b.done.all()):
            break
    assert bool(b.done.all())


def test_spec_test_vector_and_capture_beats_suicide():
    black, white = [(1, 0), (0, 1), (1, 1)], [(2, 0), (0, 2), (1, 2), (2, 1)]
    b = BitBoards.from_stones(5, black, white)
    assert int(b.to_move[0]) == 2
    f = b.features()
    assert f["capture"][0].nonzero()[:, 0].tolist() == [0]
    b.play(torch.tensor([0]))
    assert b.result(0) == dict(done=True, winner="white", plies=8, end_reason="capture")
    # 3x3: Black at (0,0) has no liberty of its own but removes White's last one -> capture
    b = BitBoards.from_stones(3, [(1, 1), (2, 0)], [(0, 1), (1, 0)], to_move=1)
    b.play(torch.tensor([0]))
    assert b.result(0)["end_reason"] == "capture" and b.result(0)["winner"] == "black"
    # plain suicide: White into Black's eye
    b = BitBoards.from_stones(3, [(0, 1), (1, 0), (1, 1)], [(2, 2)], to_move=2)
    b.play(torch.tensor([0]))
    assert b.result(0) == dict(done=True, winner="black", plies=5, end_reason="suicide")


def test_bad_input_is_refused_and_state_kept():
    with pytest.raises(UserError, match="up to 7x7, got 9"):
        BitBoards(9, 4)
    with pytest.raises(UserError, match="board size"):
        BitBoards(1, 4)
    b = BitBoards(5, 2)
    b.play(torch.tensor([12, 3]))
    before = (b.black.clone(), b.white.clone(), b.plies.clone())
    with pytest.raises(UserError, match="occupied"):
        b.play(torch.tensor([12, 4]))
    with pytest.raises(UserError, match="off the 5x5 board"):
        b.play(torch.tensor([25, 4]))
    assert all(torch.equal(x, y) for x, y in zip(before, (b.black, b.white, b.plies)))
    with pytest.raises(UserError, match="rescue"):
        b.features(("capture", "rescue"))
    b.track_atari = False
    with pytest.raises(UserError, match="track_atari"):
        b.features()


def test_conversions_round_trip():
    rng = random.Random(1)
    b = BitBoards(6, 3)
    for _ in range(9):
        legal = b.legal()
        b.play(torch.tensor([rng.choice(legal[g].nonzero()[:, 0].tolist()) for g in range(3)]))
    general = b.to_boards()
    assert torch.equal(general.grid, b.grid)
    again = BitBoards.from_boards(general)  # atari sets recomputed from scratch
    for k in ("black", "white", "atari_b", "atari_w", "to_move", "plies", "done"):
        assert torch.equal(getattr(again, k), getattr(b, k)), k
    sub = b.select(torch.tensor([2, 0]))
    assert sub.G == 2 and torch.equal(sub.grid[0], b.grid[2])


def chi2_uniform(counts: torch.Tensor) -> float:
    e = counts.float().mean()
    return float(((counts.float() - e) ** 2 / e).sum())


def test_L0_player_skips_taken_points_and_stays_uniform():
    """L0 plays the first empty point of its random order. Here White always takes the
    point L0 would play next, so L0 must skip it; its move must still be uniform over the
    empty points given the position."""
    G, N = 100_000, 4
    b = BitBoards(N, G)
    p0 = BitPlayer("L0", torch.Generator().manual_seed(5), b)
    x0 = p0.move(b)
    b.play(x0)
    cols = torch.arange(G)
    w = p0.order[p0.ptr, cols]  # the head of L0's remaining order
    b.play(w)
    x1 = p0.move(b)
    assert bool(b.legal()[cols, x1].all()) and not bool((x1 == w).any())
    sel = (x0 == 0) & (w == 1)
    counts = torch.bincount(x1[sel], minlength=N * N)
    assert int(counts[:2].sum()) == 0 and int(sel.sum()) > 300
    assert chi2_uniform(counts[2:]) < 34.5, counts  # 13 dof, 99.9 % quantile


def test_L0_vs_L0_law_and_L2_against_general_engine():
    """Both engines play the same players: win rates and game lengths agree."""
    n = 8000
    for a, bl in (("L0", "L0"), ("L2", "L0"), ("L1", "L2")):
        x = play_match(a, bl, 5, n, seed=1, engine="bits")
        y = play_match(a, bl, 5, n, seed=1, engine="boards")
        p, q = x["black_win_rate"], y["black_win_rate"]
        se = ((p * (1 - p) + q * (1 - q)) / n) ** 0.5
        assert abs(p - q) < 4 * se + 1e-3, (a, bl, p, q)
        sd = float(torch.cat((x["plies"], y["plies"])).float().std())
        assert abs(x["mean_plies"] - y["mean_plies"]) < 4 * sd * (2 / n) ** 0.5, (a, bl)


def test_L2_captures_and_avoids_suicide():
    black, white = [(1, 0), (0, 1), (1, 1)], [(2, 0), (0, 2), (1, 2), (2, 1)]
    b = BitBoards.from_stones(5, black, white, G=300)
    assert set(BitPlayer("L2", torch.Generator().manual_seed(0), b).move(b).tolist()) == {0}
    l1 = set(BitPlayer("L1", torch.Generator().manual_seed(0), b).move(b).tolist())
    assert len(l1) > 5
    b = BitBoards.from_stones(3, [(0, 1), (1, 0), (1, 1)], [(2, 2)], to_move=2, G=400)
    assert set(BitPlayer("L1", torch.Generator().manual_seed(1), b).move(b).tolist()) == {2, 5, 6, 7}


def test_uniform_point_and_random_orders():
    gen = torch.Generator().manual_seed(2)
    bit = torch.tensor([1 << i for i in range(8)], dtype=torch.int32)
    mask = torch.full((20000,), 0b10110110, dtype=torch.int32)
    pts = uniform_point(mask, bit, gen)
    counts = torch.bincount(pts, minlength=8)
    assert set(pts.tolist()) == {1, 2, 4, 5, 7}
    assert chi2_uniform(counts[[1, 2, 4, 5, 7]]) < 18.5  # 4 dof, 99.9 %
    assert int(uniform_point(torch.zeros(3, dtype=torch.int32), bit, gen).max()) == 0
    o = random_orders(30000, 6, gen, "cpu")
    assert torch.equal(o.sort(0).values, torch.arange(6)[:, None].expand(6, 30000))
    for k in range(6):  # every position holds every point equally often
        assert chi2_uniform(torch.bincount(o[k], minlength=6)) < 20.5  # 5 dof, 99.9 %


def test_engine_selection():
    assert match_engine("L0", "L2", 5) == "bits" and match_engine("L1", "L1", 7) == "bits"
    assert match_engine("L2", "L4", 5) == "boards" and match_engine("L2", "L0", 9) == "boards"
    assert match_engine("L2", "L0", 5, "boards") == "boards"
    with pytest.raises(UserError, match="engine 'bits' plays L0, L1, L2"):
        match_engine("L4", "L2", 5, "bits")
    with pytest.raises(UserError, match="engine must be one of auto, bits, boards, got 'gpu'"):
        play_match("L0", "L0", 5, 10, engine="gpu")
    a = play_match("L2", "L0", 5, 300, seed=4)
    b = play_match("L2", "L0", 5, 300, seed=4)
    assert torch.equal(a["winner"], b["winner"]) and torch.equal(a["plies"], b["plies"])
    out = play_match_bits("L0", "L0", 4, 500, (torch.Generator().manual_seed(0),) * 2, compact=False)
    assert set(out["winner"].tolist()) <= {1, 2} and int(out["plies"].min()) >= 3


@pytest.mark.parametrize("N", [2, 3, 4])
def test_players_only_play_legal_moves_to_the_end(N):
    """Whole games with every move checked (``play`` raises on an occupied point): L0's
    pointer must never pass an empty point, down to full boards."""
    G = 3000
    for black, white in (("L0", "L1"), ("L2", "L0"), ("L0", "L0")):
        b = BitBoards(N, G)
        gens = (torch.Generator().manual_seed(N), torch.Generator().manual_seed(N + 1))
        pb = BitPlayer(black, gens[0], b)
        pw = pb if black == white == "L0" else BitPlayer(white, gens[1], b)
        color = 1
        while not bool(b.done.all()):
            b.play((pb if color == 1 else pw).move(b))
            color = 3 - color
        assert int(b.plies.max()) <= N * N


@pytest.mark.parametrize("N", [2, 3, 4, 5, 7])
def test_random_games_all_plies_at_once_equal_the_ply_loop(N, monkeypatch):
    """L0 vs L0 evaluated for every ply at once gives the games of the ply-by-ply loop (same
    orders: same generator, no compaction), move for move — also across blocks."""
    import dps.envs.atari_go.bitboard as bb

    monkeypatch.setattr(bb, "RANDOM_GAMES_BLOCK", 700)
    G = 2000
    loop = play_match_bits("L0", "L0", N, G, (torch.Generator().manual_seed(N),) * 2, compact=False,
                           all_plies=False)
    once = play_match_bits("L0", "L0", N, G, (torch.Generator().manual_seed(N),) * 2)
    for k in ("winner", "plies", "reason"):
        assert torch.equal(loop[k], once[k]), k
    assert set(once["reason"].tolist()) == {1, 2} or N == 2   # captures and suicides both occur
    assert int(once["plies"].max()) <= N * N


def test_random_orders_of_values_permute_the_same_way():
    a = random_orders(500, 9, torch.Generator().manual_seed(4), "cpu")
    vals = torch.tensor([1 << (3 * i) for i in range(9)])
    b = random_orders(500, 9, torch.Generator().manual_seed(4), "cpu", values=vals)
    assert torch.equal(vals[a], b)
