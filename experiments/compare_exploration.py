"""Parameter vs. action exploration on memory tasks — the presets of ``python -m dps.compare``.

This script is the same command line as ``python -m dps.compare`` (``dps/compare/``), kept
beside the other experiments; every flag is passed through::

    python experiments/compare_exploration.py --preset quick            # <= 15 min on 2 CPU cores
    python experiments/compare_exploration.py --preset full --jobs 2    # the whole grid, resumable
    python experiments/compare_exploration.py --preset full --deadline 60   # an hour's worth, then stop
    python experiments/compare_exploration.py --preset full --report-only

Outputs (``--out``, default ``runs/compare/<preset>`` in the current directory, git-ignored;
the committed reports were made with ``--out experiments/results/compare/<preset>``, where
git keeps the summaries and ignores ``cells/`` and ``curves.csv``): ``results.csv``
(one row per run), ``curves.csv`` (one row per centre evaluation), ``success_vs_length.png``
(the key figure), ``episodes_to_solve.png``, ``curves_<task>.png`` and ``REPORT.md``;
each run's own directory under ``cells/``. A hand-written ``READING.md`` in the output
folder is included in ``REPORT.md`` when the report is regenerated.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dps.compare.__main__ import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
