"""Rules-variant probe: suicide resolved before capture, against rule 3a of the Atari-Go
rules (docs/ATARI_GO.md: a capture wins even when the capturing stone's own group has no
liberty).

Usage (from the repository root): python experiments/probes/suicide_first.py A B N GAMES
(A against B with the one-game BFS players, colours alternating, seed 5). Output:
experiments/results/atari_go_ladder/suicide_first.txt.
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from dps.envs.atari_go.reference import RefGame, reference_win_rate


class SuicideFirst(RefGame):
    def outcome(self, p: int, color=None) -> str:
        color = self.to_move if color is None else color
        after = list(self.board)
        after[p] = color
        if not self.liberties(self.group(p, after), after):
            return "suicide"
        return super().outcome(p, color)


if __name__ == "__main__":
    a, b, N, games = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    t = time.time()
    r = reference_win_rate(a, b, N, games, seed=5, game_cls=SuicideFirst)
    print(f"{a} vs {b} N={N} games={games}: {r['win_rate']:.4f} ± {r['stderr']:.4f}, "
          f"plies {r['mean_plies']:.1f}, {time.time() - t:.0f} s", flush=True)
