"""How long a trained T-maze policy keeps the cue: the final centre of a run directory walked
straight east with goal north and with goal south (docs/MEMORY.md, "Open").

For each corridor length N it prints the cue's trace in the cell state at the junction
(the largest |c_north − c_south| over the cells), the per-step factor by which that trace
shrank over the second half of the corridor, whether the greedy walk goes east at every
corridor step, π(N | junction) after each cue and the greedy action there (N E S W). Example::

    python experiments/probes/probe_memory_decay.py runs/tune_defaults/RUN_s3 --lengths 80,160,320
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import torch

torch.set_num_threads(1)
from dps.checkpoint import load_checkpoint
from dps.policies import make_policy

# observation codes as in dps/envs/tmaze.py: start (goal north), start (goal south), corridor, junction
CODES = torch.tensor([[0, 1, 1], [1, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=torch.float64)


def walk(policy, theta, goal: int, n: int):
    """Cell states along the straight walk, the junction's action probabilities, and whether
    every corridor step's greedy action was east."""
    seq = [CODES[goal]] + [CODES[2]] * (n - 1) + [CODES[3]]
    state = policy.initial_state(1, 1)
    cells, east = [], True
    with torch.no_grad():
        for t, obs in enumerate(seq):
            logits, state = policy.step(theta, obs.view(1, 1, 3).to(theta.dtype), state)
            cells.append(state[1].reshape(-1).clone())
            if t < n:
                east &= int(logits.argmax()) == 1
    return torch.stack(cells), torch.softmax(logits.reshape(-1), -1), east


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", help="run directories with a checkpoint.pt")
    ap.add_argument("--lengths", default="80,160,320")
    args = ap.parse_args()
    print("run | N | trace at junction | per-step factor (2nd half) | greedy east | pi(N|cue N) | pi(N|cue S) | "
          "greedy at junction (cue N, cue S)")
    for run in args.runs:
        ck = load_checkpoint(Path(run) / "checkpoint.pt")
        theta = ck["center"].to(torch.float32).unsqueeze(0)
        policy = make_policy(ck["policy"], (3,), 4)
        for n in map(int, args.lengths.split(",")):
            cn, pn, en = walk(policy, theta, 0, n)
            cs, ps, es = walk(policy, theta, 1, n)
            trace = (cn - cs).abs().amax(dim=1)          # per step: the cue's largest trace over cells
            half = n // 2
            factor = float((trace[n] / trace[half]) ** (1.0 / (n - half))) if trace[half] > 0 else float("nan")
            print(f"{Path(run).name} | {n} | {float(trace[n]):.3g} | {factor:.5f} | {en and es} | "
                  f"{float(pn[0]):.3f} | {float(ps[0]):.3f} | {'NESW'[int(pn.argmax())]}, {'NESW'[int(ps.argmax())]}")


if __name__ == "__main__":
    main()
