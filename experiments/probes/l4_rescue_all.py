"""L4 variant probe: the reference L4 with one extra class, rescues after which no own
group is left in atari, ranked above the other rescues (docs/ATARI_GO.md).

Usage (from the repository root): python experiments/probes/l4_rescue_all.py N GAMES
(level "L4v" against L2, seed 0). Output of N = 9, 5, 7 with 10000 games:
experiments/results/atari_go_ladder/l4_rescue_all.txt.
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from dps.envs.atari_go.reference import RefGame, reference_win_rate


class RescueAll(RefGame):
    def level_classes(self, level):
        if level != "L4v":
            return super().level_classes(level)
        capture, rescue, *rest = super().level_classes("L4")
        return [capture, {p for p in rescue if not self.leaves_own_atari(p)}, rescue, *rest]

    def leaves_own_atari(self, p: int) -> bool:
        """Whether some own group has one liberty after playing ``p`` (a non-capture)."""
        after = list(self.board)
        after[p] = self.to_move
        return self.groups_in_atari(self.to_move, after) > 0


if __name__ == "__main__":
    N, games = int(sys.argv[1]), int(sys.argv[2])
    t = time.time()
    r = reference_win_rate("L4v", "L2", N, games, seed=0, game_cls=RescueAll)
    print(N, "L4v", (r["win_rate"], r["stderr"]), f"{time.time() - t:.0f}s", flush=True)
