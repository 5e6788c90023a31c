"""One registry type for everything a user names: algorithms, environments, policies, tasks.

An :class:`Entry` is a name, a ``"module:attr"`` target imported lazily (a missing optional
backend never breaks ``import dps``), a one-line summary and a kind. Its *options* are
read from the target itself — the fields of its ``Config`` dataclass (algorithms: typed,
with defaults and help text) or else the keyword parameters of its constructor (envs,
policies, tasks: typed, with defaults) — so the same description feeds ``--list``,
``--help``, spec parsing (``name:key=value``) and validation, and a new entry needs no
other bookkeeping::

    ENVS = Registry("env")
    ENVS.add("tmaze", "dps.envs.tmaze:TMaze", "Bakker's T-maze ...")
    env = ENVS.build("tmaze:length=50", device="cpu")

A user's own package joins by being imported: :func:`import_modules` (the CLI's
``--import MODULE``) imports modules that register on import — dps entries through
``ENVS.add`` and friends, or gymnasium ids through ``gymnasium.register`` — and remembers
them, so that worker processes (:mod:`dps.evaluation.workers`) import the same modules
before they rebuild an env.
"""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import typing
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from .errors import UserError, unknown
from .spec import Spec, bind_spec, parse_spec, signature_options


@dataclass(frozen=True)
class Option:
    """One user-settable option: name, type annotation, default (``inspect.Parameter.empty``
    when required) and help text."""

    name: str
    annotation: Any
    default: Any
    help: str = ""

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty

    def __str__(self) -> str:
        return self.name if self.required else f"{self.name}={self.default}"


@dataclass(frozen=True)
class Entry:
    """A registered name; see the module docstring."""

    name: str
    target: str
    summary: str
    kind: str = ""

    def load(self):
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)

    def options(self) -> list[Option]:
        """The target's options: its ``Config`` dataclass fields, else its signature."""
        obj = self.load()
        config = getattr(obj, "Config", None)
        if config is not None and dataclasses.is_dataclass(config):
            hints = typing.get_type_hints(config, include_extras=True)
            return [Option(f.name, hints.get(f.name, str), f.default, f.metadata.get("help", ""))
                    for f in dataclasses.fields(config)]
        return [Option(name, p.annotation, p.default) for name, p in signature_options(obj).items()]

    def parameters(self) -> dict[str, inspect.Parameter]:
        """:meth:`options` as keyword parameters, for spec binding."""
        return {o.name: inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, default=o.default,
                                          annotation=o.annotation) for o in self.options()}

    def describe(self, width: int = 12) -> str:
        """``name  summary  options: a=1 b=2`` (one line of ``--list``)."""
        try:
            opts = " ".join(map(str, self.options()))
        except Exception as exc:  # an entry whose optional backend is missing is still listed
            opts = f"(unavailable: {exc})"
        return f"{self.name:<{width}} {self.summary}  options: {opts or '(none)'}"


class Registry:
    """Names of one kind (``"env"``, ``"policy"`` …) → :class:`Entry`.

    :param kind: the word used in error messages (``unknown env 'foo'; accepted: …``)
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def add(self, name: str, target: str, summary: str, kind: str = "") -> Entry:
        """Register ``name`` (a later call with the same name replaces it)."""
        entry = Entry(name, target, summary, kind)
        self._entries[name] = entry
        return entry

    def __getitem__(self, name: str) -> Entry:
        if name not in self._entries:
            raise unknown(self.kind, name, self._entries)
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def items(self):
        return self._entries.items()

    def spec(self, text: "str | Spec") -> Spec:
        """Parse ``text`` and check that its name is registered."""
        spec = parse_spec(text, self.kind) if isinstance(text, str) else text
        self[spec.name]
        return spec

    def options(self, text: "str | Spec") -> dict:
        """The converted options a spec sets (defaults not filled in)."""
        spec = self.spec(text)
        return bind_spec(spec, self[spec.name].parameters(), self.kind)

    def build(self, text: "str | Spec", *args, **supplied):
        """The spec's entry built with its options: ``cls(*args, **options, **supplied)``, or
        for a class with a ``Config`` dataclass ``cls(*args, config=Config(**options),
        **supplied)``; ``supplied`` are the arguments the caller owns (device, observation
        shape, initial centre …), never spec options."""
        spec = self.spec(text)
        entry = self[spec.name]
        options = self.options(spec)
        cls = entry.load()
        config = getattr(cls, "Config", None)
        try:
            if config is not None and dataclasses.is_dataclass(config):
                return cls(*args, config=config(**options), **supplied)
            return cls(*args, **options, **supplied)
        except UserError:
            raise
        except ValueError as exc:
            # a constructor that checks its options together (sines: washout < fit_end) and
            # raises a plain ValueError still names a mistake in this spec: one clear line
            raise UserError(f"bad {self.kind} spec {str(spec)!r}: {' '.join(str(exc).split())}") from None

    def describe(self) -> list[str]:
        """One ``--list`` line per entry."""
        width = max((len(n) for n in self._entries), default=0) + 1
        return [e.describe(width) for e in self._entries.values()]


#: modules imported by :func:`import_modules`, in order (worker processes import them too)
IMPORTED: list[str] = []

_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def import_module(name: str, why: str):
    """``importlib.import_module(name)``; a malformed name or a failed import is one
    :class:`~dps.errors.UserError` line naming the module and ``why`` it was imported."""
    if not isinstance(name, str) or not _MODULE_NAME.match(name):
        raise UserError(f"bad module name {name!r} for {why}; accepted: a dotted Python module name "
                        "such as popgym or mypkg.envs")
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise UserError(f"cannot import module {name!r} for {why}: {exc} "
                        "(is the package installed in this Python environment?)") from None
    except Exception as exc:  # the module's own code failed: its message, on one line
        raise UserError(f"importing module {name!r} for {why} failed: {type(exc).__name__}: "
                        f"{' '.join(str(exc).split())}") from None


def import_modules(names: Iterable[str]) -> None:
    """Import each module (``--import MODULE``) and remember it in :data:`IMPORTED`."""
    for name in names:
        import_module(name, "--import")
        if name not in IMPORTED:
            IMPORTED.append(name)
