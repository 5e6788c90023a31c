#!/usr/bin/env bash
# Default-configuration runs behind the README's results table (seed 0 unless given).
# Usage: bash experiments/acceptance.sh [SEED] [OUT]   → OUT/<name>_s<SEED>/ (default OUT: runs/acceptance)
# The committed table: bash experiments/acceptance.sh 0 experiments/results/acceptance
# (git keeps its RUNS.md and the Atari-Go report.md, and ignores the run directories).
set -euo pipefail
seed=${1:-0}
out=${2:-runs/acceptance}
run() { name=$1; shift; python -m dps.run "$@" --seed "$seed" --out "$out/${name}_s$seed" --quiet; }
run pgpe_tmaze20        pgpe --env tmaze:length=20
run pgpe_tmaze50        pgpe --env tmaze:length=50
run pgpe_classquery50   pgpe --env class-query:length=50
run pgpe_cartpole_novel pgpe --env cartpole:velocities=false
run pgpe_gym_cartpole_novel pgpe --env gym:CartPole-v1,velocities=false
run pgpe_atari_go       pgpe --env atari-go
run pgpe_catch          pgpe --env catch
python experiments/summarize_runs.py "$out"
