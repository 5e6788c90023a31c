"""Small C kernels for the CPU rollout, compiled on first use and cached.

The rollout's cost on the CPU is dominated by many small tensor operations per step
(docs/BENCHMARKS.md). The kernels here do one step of a policy for every slot in one call,
with each slot computed on its own. They are compiled with the system's C compiler (``CC``,
default ``cc``) the first time a process needs them, into a per-user cache directory
(``$DPS_CACHE_DIR``, else ``$XDG_CACHE_HOME/dps``, else ``~/.cache/dps``), keyed by the
source, the flags and the CPU, so later processes only load the library. The file is
written under a temporary name and renamed into place, so processes that build at the
same time never load a half-written library.

Where no compiler is found or the build fails, :func:`library` returns None and the
callers keep their torch path; the reason is logged once per process, not per step.
``DPS_NATIVE=0`` turns the kernels off (the torch path everywhere).
"""
from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Optional

from ..errors import UserError

log = logging.getLogger(__name__)

SOURCES = Path(__file__).resolve().parent
#: -ffp-contract=fast: multiply-adds fused where the CPU has the instruction (1.25x on the
#: cart-pole kernel). A slot's numbers still do not depend on the batch: every slot runs the
#: same instructions (kernels.c). They may differ between CPUs in the last bits, as torch's
#: own kernels do. -fno-trapping-math (floating-point exceptions are never read) lets the
#: compiler vectorise the clamps of the exponential; it changes no result. The loops over
#: 16 floats vectorise in one 512-bit register where the CPU has them (x86).
FLAGS = ["-O3", "-march=native", "-ffp-contract=fast", "-fno-math-errno", "-fno-trapping-math", "-fPIC", "-shared"]
if platform.machine().lower() in ("x86_64", "amd64"):
    FLAGS.append("-mprefer-vector-width=512")

_lock = threading.Lock()
_loaded: dict[str, Optional[ctypes.CDLL]] = {}


_ON, _OFF = ("1", "on", "true", "yes", ""), ("0", "off", "false", "no")


def enabled() -> bool:
    """False when ``DPS_NATIVE`` is 0/off/false/no; any other value than those and
    1/on/true/yes (or unset) is refused."""
    value = os.environ.get("DPS_NATIVE", "1").strip().lower()
    if value in _OFF:
        return False
    if value not in _ON:
        raise UserError(f"bad value {os.environ['DPS_NATIVE']!r} for the environment variable DPS_NATIVE; "
                        "accepted: 1, on, true, yes (C kernels on) or 0, off, false, no (torch path only)")
    return True


def cache_dir() -> Path:
    if os.environ.get("DPS_CACHE_DIR"):
        return Path(os.environ["DPS_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dps"


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; else what ``platform`` knows). The kernels are
    compiled for the CPU they run on (``-march=native``), so a long search's per-seed numbers
    can differ between CPU models: experiment records name it."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_id() -> str:
    """What -march=native depends on: the machine and the CPU's model and feature flags."""
    text = platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "flags", "Features")):
                    text += line
                if line.strip() == "":
                    break
    except OSError:
        text += platform.processor()
    return text


def library(name: str) -> Optional[ctypes.CDLL]:
    """The compiled ``dps/native/<name>.c``, or None (kernels off, no compiler, build
    failed: logged once)."""
    if not enabled():
        return None
    with _lock:
        if name not in _loaded:
            _loaded[name] = _build(name)
        return _loaded[name]


def _build(name: str) -> Optional[ctypes.CDLL]:
    # the key covers the headers too: a kernel's .c includes its .h files
    try:
        source = b"".join(f.read_bytes() for f in [SOURCES / f"{name}.c", *sorted(SOURCES.glob("*.h"))])
    except OSError as exc:
        log.warning("dps's C kernel source %s is missing (%s): the CPU rollout uses torch operations only",
                    name, exc)
        return None
    cc = os.environ.get("CC", "cc")
    key = hashlib.sha256(source + " ".join([cc] + FLAGS).encode() + _cpu_id().encode()).hexdigest()[:16]
    target = cache_dir() / f"{name}-{key}.so"
    if not target.exists():
        compiler = shutil.which(cc)
        if compiler is None:
            log.warning("no C compiler %r found: the CPU rollout uses torch operations only "
                        "(slower; set CC to a compiler to enable dps's C kernels)", cc)
            return None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
            os.close(fd)
            try:
                done = subprocess.run([compiler, *FLAGS, "-o", tmp, str(SOURCES / f"{name}.c")],
                                      capture_output=True, text=True, timeout=300)
                if done.returncode != 0:
                    log.warning("building dps's C kernel %s failed (%s): the CPU rollout uses torch "
                                "operations only", name, done.stderr.strip().splitlines()[-1:] or done.returncode)
                    return None
                os.replace(tmp, target)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("building dps's C kernel %s failed (%s): the CPU rollout uses torch operations only",
                        name, exc)
            return None
    try:
        return ctypes.CDLL(str(target))
    except OSError as exc:
        log.warning("loading dps's C kernel %s failed (%s): the CPU rollout uses torch operations only",
                    name, exc)
        return None


def reset() -> None:
    """Forget loaded libraries (tests that change ``CC`` or ``DPS_NATIVE``)."""
    with _lock:
        _loaded.clear()
