#!/usr/bin/env bash
# T-maze with PGPE defaults over several seeds → experiments/results/tmaze_seeds/
set -euo pipefail
for L in 20 50; do for s in ${SEEDS:-0 1 2 3 4}; do
  python -m dps.run pgpe --env tmaze:length=$L --seed $s --out experiments/results/tmaze_seeds/L${L}_s$s --quiet | tail -1 | sed "s/^/L=$L seed=$s /"
done; done
