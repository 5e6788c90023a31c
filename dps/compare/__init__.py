"""Comparing parameter-space and action-space exploration: ``python -m dps.compare``.

A grid of learners × tasks × seeds (:mod:`dps.compare.grid`), each cell an ordinary dps
run with the same budget of training episodes (:mod:`dps.compare.execute`), read into
rows (:mod:`dps.compare.collect`), summarised (:mod:`dps.compare.tables`), drawn
(:mod:`dps.compare.plots`) and written with the grid's log (:mod:`dps.compare.log`) as
CSVs, figures and ``REPORT.md`` (:mod:`dps.compare.report`)::

    from dps.compare import build_grid, run_grid, write_report
    cells = build_grid("quick", learners=["pgpe-clipup", "rpg"], tasks=["tmaze-10"], seeds=[0])
    run_grid(cells, "out", jobs=2)
    write_report("out", cells, preset="quick", command="(python)", skipped=[])
"""
from .collect import collect
from .execute import cell_dir, cell_status, run_cell, run_grid
from .grid import GRID_TASKS, LEARNERS, PRESETS, Cell, LearnerDef, TaskDef, build_grid, skipped_pairs
from .report import write_report

__all__ = ["GRID_TASKS", "LEARNERS", "PRESETS", "Cell", "LearnerDef", "TaskDef", "build_grid", "cell_dir",
           "cell_status", "collect", "run_cell", "run_grid", "skipped_pairs", "write_report"]
