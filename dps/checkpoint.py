"""Atomic writes and code-free checkpoints.

A checkpoint is a ``torch.save``d dict of tensors, numbers, strings, bools, None and
lists/dicts of those, written to a temporary file in the same directory and moved into
place with ``os.replace`` (so a crash never leaves a half-written checkpoint), and read
back with ``torch.load(weights_only=True)`` (no code is executed on load).
"""
from __future__ import annotations

import csv
import io
import json
import os
import secrets
from pathlib import Path

import torch

from .errors import UserError

FORMAT_VERSION = 1


def write_atomic(path: "str | Path", data: "str | bytes") -> Path:
    """``path`` holds ``data`` (text as UTF-8) or its previous content, never a part of it:
    the data goes to a temporary file ``.tmp-NAME.RANDOM`` in the same directory, is synced
    to disk, and ``os.replace`` moves it into place. The temporary file is created with mode
    0o666 less the umask, as a plain ``open(path, "w")`` would (``tempfile.mkstemp`` would
    make it 0o600). Every file dps writes goes through here."""
    path = Path(path)
    tmp = path.parent / f".tmp-{path.name}.{secrets.token_hex(6)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # O_EXCL: never another's file
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_csv(path: "str | Path", rows, columns: list[str], extrasaction: str = "raise") -> Path:
    """``rows`` (dicts) as a CSV of ``columns`` through :func:`write_atomic`; a missing or None
    value is an empty field, a key outside ``columns`` an error unless ``extrasaction="ignore"``
    (``csv.DictWriter``'s rule)."""
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction=extrasaction)
    w.writeheader()
    w.writerows(rows)
    return write_atomic(path, buf.getvalue())


def write_figure(fig, path: "str | Path", dpi: int) -> Path:
    """A matplotlib figure as PNG through :func:`write_atomic`; the figure is closed."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi)
    finally:
        import matplotlib.pyplot as plt  # loaded already: the figure came from it
        plt.close(fig)
    return write_atomic(path, buf.getvalue())


def save_atomic(obj: dict, path: "str | Path") -> None:
    """A checkpoint dict to ``path`` through :func:`write_atomic`."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    write_atomic(path, buf.getvalue())


def write_json_atomic(obj, path: "str | Path") -> None:
    write_atomic(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def load_checkpoint(path: "str | Path") -> dict:
    path = Path(path)
    if not path.exists():
        raise UserError(f"no checkpoint at {str(path)!r}")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UserError(f"checkpoint {str(path)!r} cannot be read safely: {exc}") from None
    if not isinstance(ck, dict) or ck.get("format") != FORMAT_VERSION:
        raise UserError(f"checkpoint {str(path)!r} has format {ck.get('format') if isinstance(ck, dict) else '?'}; "
                        f"this dps reads format {FORMAT_VERSION}")
    return ck
