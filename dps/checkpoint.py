"""Atomic, code-free checkpoints.

A checkpoint is a ``torch.save``d dict of tensors, numbers, strings, bools, None and
lists/dicts of those, written to a temporary file in the same directory and moved into
place with ``os.replace`` (so a crash never leaves a half-written checkpoint), and read
back with ``torch.load(weights_only=True)`` (no code is executed on load).
"""
from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path

import torch

from .errors import UserError

FORMAT_VERSION = 1


def save_atomic(obj: dict, path: "str | Path") -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json_atomic(obj, path: "str | Path") -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=False, default=str)
        f.write("\n")
    os.replace(tmp, path)


def write_text_atomic(text: str, path: "str | Path") -> None:
    """``path`` holds ``text`` (UTF-8) or its previous content, never a part of it: the text
    goes to a temporary file in the same directory, which ``os.replace`` moves into place.

    The temporary file is created with mode 0o666 less the umask, as ``Path.write_text``
    would (``tempfile.mkstemp`` makes it 0o600), so a report written this way is as
    readable as one written in place."""
    path = Path(path)
    tmp = path.parent / f".tmp-{secrets.token_hex(8)}{path.suffix}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # O_EXCL: never another's file
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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
