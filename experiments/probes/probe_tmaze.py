"""Train RPG on the T-maze directly and probe the junction (docs/RPG.md, "Fix for N >= 20").

Every 5 updates the greedy policy is checked on the two deterministic trajectories
(cue N / cue S, straight east, then the junction); every ``--every`` updates it prints
π(N | junction) for both cues, π(S | junction, goal S) and max |c| along the way.
``--ibias`` adds to the input-gate bias after initialisation (the same as the policy
option ``input_bias``). Example (the measurement that fixed the default)::

    python experiments/probes/probe_tmaze.py --N 50 --updates 1500 \
        --policy lstm:hidden=16,forget_bias=5,input_bias=-5,skip=true
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import torch

torch.set_num_threads(1)
from dps.algorithms.rpg import RPG, Config
from dps.envs.tmaze import TMaze
from dps.policies import make_policy

ap = argparse.ArgumentParser()
ap.add_argument("--N", type=int, default=20)
ap.add_argument("--policy", default="lstm:hidden=16,forget_bias=5,skip=true")
ap.add_argument("--updates", type=int, default=600)
ap.add_argument("--every", type=int, default=50)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--cfg", default="{}")
ap.add_argument("--ibias", type=float, default=0.0)
ap.add_argument("--obias", type=float, default=0.0)
a = ap.parse_args()
env = TMaze(length=a.N)
pol = make_policy(a.policy, env.observation_shape, 4)
cfg = dict(episodes=32, lr=0.01, entropy=0.05, baseline="moving")
cfg.update(json.loads(a.cfg))
L = RPG(pol, env, Config(**cfg), seed=a.seed)
# observation codes as in dps/envs/tmaze.py: start (goal north), start (goal south), corridor, junction
codes = torch.tensor([[0, 1, 1], [1, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=torch.float32)
with torch.no_grad():
    H = pol.hidden
    sl, _ = pol.layout["b0"]
    L.theta[sl.start:sl.start + H] += a.ibias
    L.theta[sl.start + 3 * H:sl.start + 4 * H] += a.obias

def probe():
    with torch.no_grad():
        res = []
        for goal in (0, 1):
            seq = [codes[goal]] + [codes[2]] * (a.N - 1) + [codes[3]]
            state = pol.initial_state(1, 1)
            th = L.theta.detach().unsqueeze(0)
            cmax = 0
            ok = True
            for t, o in enumerate(seq):
                logits, state = pol.step(th, o.view(1, 1, 3), state)
                cmax = max(cmax, float(state[1].abs().max()))
                if t < a.N:
                    ok &= int(logits.argmax()) == 1
            p = torch.softmax(logits[0, 0], -1)
            ok &= int(logits.argmax()) == (0 if goal == 0 else 2)
            res.append((p, cmax, ok))
    return dict(pN_goalN=round(float(res[0][0][0]), 3), pN_goalS=round(float(res[1][0][0]), 3),
                pS_goalS=round(float(res[1][0][2]), 3), cmax=round(max(r[1] for r in res), 2),
                greedy=sum(r[2] for r in res) / 2)

t0 = time.time()
steps = 0
solved = None
for k in range(1, a.updates + 1):
    info = L.step()
    steps += info["env_steps"]
    if k % 5 == 0:
        pr = probe()
        if pr["greedy"] == 1.0 and solved is None:
            solved = (k, steps, time.time() - t0)
            print("SOLVED", k, steps, round(time.time() - t0, 1), pr, flush=True)
            break
    if k % a.every == 0:
        print(k, steps, round(time.time() - t0, 1), "succ", round(info["success"], 2), "ent", round(info["entropy"], 2),
              "len", round(info["length"], 1), probe(), flush=True)
print("RESULT", json.dumps(dict(N=a.N, policy=a.policy, cfg=cfg, seed=a.seed, solved=solved)))
