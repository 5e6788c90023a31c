"""Where L4 loses to L2: the one-game BFS players of ``reference.py``, and for every lost
game L4's situation at its last move (docs/ATARI_GO.md).

Usage (from the repository root): python experiments/probes/l4_losses.py N GAMES [SEED]
Output of N = 5 and 9 with 3000 games, seed 1: experiments/results/atari_go_ladder/l4_losses.txt.

Situations, checked in this order: ``capture`` (L4 could capture: it then wins),
``multi_atari`` (two or more own groups in atari), ``rescue`` (one group in atari and an
extension to >= 2 liberties exists), ``unrescuable`` (one group in atari, no such
extension), ``quiet`` (no group in atari, a non-suicide non-self-atari move exists),
``forced_selfatari``, ``forced_suicide``. Won games are counted by how they ended.
"""
import collections
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from dps.envs.atari_go.reference import BLACK, WHITE, RefGame


def situation(g: RefGame) -> str:
    f = g.move_classes()
    in_atari = g.groups_in_atari(g.to_move)
    ok = f["legal"] - f["suicide"]
    if f["capture"]:
        return "capture"
    if in_atari >= 2:
        return "multi_atari"
    if in_atari == 1:
        return "rescue" if f["rescue"] else "unrescuable"
    if ok - f["self_atari"]:
        return "quiet"
    return "forced_selfatari" if ok else "forced_suicide"


def main(N: int, games: int, seed: int = 1) -> collections.Counter:
    rng = random.Random(seed)
    counts = collections.Counter()
    for i in range(games):
        g = RefGame(N)
        l4 = BLACK if i % 2 else WHITE          # colours alternating, L2 Black in game 1
        last = None
        while not g.done:
            if g.to_move == l4:
                last = situation(g)
                p = g.level_move("L4", rng)
            else:
                p = g.killer_move(rng)
            g.play(p)
        counts[("win", g.end_reason) if g.winner == l4 else ("loss", last)] += 1
    return counts


if __name__ == "__main__":
    N, games = int(sys.argv[1]), int(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    for (result, why), n in sorted(main(N, games, seed).items()):
        print(f"N={N} {result:4s} {why:16s} {n:5d} {n / games:.4f}")
