"""The runner: a typed configuration resolved against one table of tuned defaults
(:mod:`.config`, :mod:`.defaults`), the built run (:mod:`.build`), the training loop
(:mod:`.loop`) and the sinks its rows go to (:mod:`.sinks`)."""
from .build import Run, writable_dir
from .config import RunConfig, resolve
from .loop import Interrupted, RunFailed, evaluate_run, load_run, train

__all__ = ["Interrupted", "Run", "RunConfig", "RunFailed", "evaluate_run", "load_run", "resolve", "train",
           "writable_dir"]
