"""L4 variant probe (2026-12-02, sixth session): the reference L4 with one extra class,
rescues after which no own group is left in atari, ranked above the other rescues.
Usage: python experiments/results/atari_go_ladder/l4_rescue_all.py N GAMES (seed 0, vs L2).
Output of N = 9, 5, 7 with 10000 games: l4_rescue_all.txt."""
import random, sys, time
from dps.envs.atari_go.reference import RefGame, BLACK, WHITE

class Var(RefGame):
    variant = "rescue_all"
    def level_classes(self, level):
        if level != "L4v":
            return super().level_classes(level)
        f = self.move_classes()
        legal = f["legal"]; ok = legal - f["suicide"]; quiet = ok - f["self_atari"]
        color = self.to_move
        if self.variant == "rescue_all":
            # moves after which no own group is in atari
            best = set()
            for p in f["rescue"]:
                after = list(self.board); after[p] = color
                seen=set(); good=True
                for q,v in enumerate(after):
                    if v==color and q not in seen:
                        g=self.group(q,after); seen|=g
                        if len(self.liberties(g,after))==1: good=False;break
                if good: best.add(p)
            return [f["capture"], best, f["rescue"], quiet, ok, legal]
        raise ValueError

def play(N, black, white, rng):
    g = Var(N); players={BLACK:black, WHITE:white}
    while not g.done:
        k = players[g.to_move]
        p = g.killer_move(rng) if k=="L2" else g.level_move(k, rng)
        g.play(p)
    return g

def wr(a,b,N,games,seed=0):
    rng=random.Random(seed); wins=0
    for i in range(games):
        ab = i%2==1
        g=play(N, a if ab else b, b if ab else a, rng)
        wins += g.winner == (BLACK if ab else WHITE)
    p=wins/games; return p, (p*(1-p)/games)**.5

N=int(sys.argv[1]); games=int(sys.argv[2]); lvl=sys.argv[3] if len(sys.argv)>3 else "L4v"
t=time.time(); print(N, lvl, wr(lvl,"L2",N,games), f"{time.time()-t:.0f}s", flush=True)
