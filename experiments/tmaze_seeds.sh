#!/usr/bin/env bash
# T-maze with PGPE defaults over several seeds → OUT/L<length>_s<seed>/ (default OUT: runs/tmaze_seeds)
# Usage: [SEEDS="0 1 2 3 4"] bash experiments/tmaze_seeds.sh [OUT]
# The committed table (experiments/results/tmaze_seeds/RESULTS.md) came from
#   bash experiments/tmaze_seeds.sh experiments/results/tmaze_seeds   (git ignores the run directories)
set -euo pipefail
out=${1:-runs/tmaze_seeds}
for L in 20 50; do for s in ${SEEDS:-0 1 2 3 4}; do
  python -m dps.run pgpe --env tmaze:length=$L --seed $s --out "$out/L${L}_s$s" --quiet | tail -1 | sed "s/^/L=$L seed=$s /"
done; done
python experiments/summarize_runs.py "$out"
