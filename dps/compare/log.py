"""The grid log, ``OUT/grid_log.json``: one entry per execution of a grid (command, start,
wall seconds, jobs, cells run, errors, machine), so that a grid resumed over several
executions reports its total wall time."""
from __future__ import annotations

import calendar
import json
import math
import os
import platform
import time
from pathlib import Path

from ..checkpoint import write_atomic

LOG = "grid_log.json"


def machine() -> str:
    """The machine an execution ran on, for the log and the report's setup."""
    import torch
    return (f"{platform.platform()}, {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
            f"Python {platform.python_version()}, torch {torch.__version__}, 1 torch thread per run")


def append_log(out: Path, entry: dict) -> None:
    """Record one execution of the grid (command, start, wall seconds, cells run) in
    ``OUT/grid_log.json``, so a grid resumed over several executions reports its total time."""
    path = Path(out) / LOG
    log = json.loads(path.read_text()) if path.exists() else []
    log.append(entry)
    write_atomic(path, json.dumps(log, indent=1) + "\n")


def read_log(out: Path) -> list[dict]:
    """The executions logged in ``OUT/grid_log.json`` (none when it does not exist)."""
    path = Path(out) / LOG
    return json.loads(path.read_text()) if path.exists() else []


def wall_time(log: list[dict]) -> float:
    """Seconds covered by the executions in the log (overlapping executions counted once)."""
    spans = sorted((calendar.timegm(time.strptime(e["started"], "%Y-%m-%d %H:%M:%S UTC")), float(e["seconds"]))
                   for e in log)
    total, end = 0.0, -math.inf
    for start, seconds in spans:
        stop = start + seconds
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total
