"""Writing the grid's files whole: each goes to a temporary file in its own folder and
replaces the old one with ``os.replace``, so an interrupted or crashed regeneration leaves
the previous REPORT.md / results.csv / grid_log.json in place, never half a file, and a
reader (another grid process, a viewer) sees either the old file or the new one."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    # the umask can only be read by setting it; it is set straight back (compare writes its
    # files from the main thread, the cells run in joblib processes)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8, newlines as given) to ``path`` atomically, with the
    permissions a plain ``open(path, "w")`` would give (0666 less the umask; mkstemp's own
    are 0600). The temporary name starts with ``.tmp-``, which the results' .gitignore
    (experiments/results/.gitignore) leaves out of git should a process die mid-write."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
