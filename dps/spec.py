"""Parsing ``name:key=value,key=value`` specs against a callable's signature.

A spec names a registered object and sets its keyword options::

    tmaze:length=50
    cartpole:poles=2,velocities=false
    gym:CartPole-v1,hide=1+3        # a token without '=' fills the next positional option
    lstm:hidden=16,layers=2

Values are converted with the annotation of the matching parameter (``int``, ``float``,
``bool``, ``str``, ``tuple[int, ...]`` written ``1+3``, or ``Optional`` of these). Numbers
must be finite and representable where they are used: a float's magnitude at most float32's
largest (a larger one is ``inf`` in the float32 tensors of policies and searchers), an int
within int64; ``Annotated[int, Range(1, 4096)]`` also bounds them, so an option that
would only exhaust memory (an LSTM with 10⁵ cells) is refused before anything is
allocated. An unknown key or an unconvertible or out-of-range value raises one
:class:`~dps.errors.UserError` naming the value and what is accepted.
"""
from __future__ import annotations

import inspect
import math
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .errors import UserError

_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f"}

#: the largest float32; a user's float beyond it would be inf in a float32 tensor
FLOAT_MAX = 3.4028234663852886e38
#: int64's range, which torch and numpy hold integers in
INT_MIN, INT_MAX = -(2 ** 63), 2 ** 63 - 1


@dataclass(frozen=True)
class Spec:
    """A parsed spec: the registered ``name`` and its raw string ``options``."""

    name: str
    args: tuple[str, ...] = ()
    options: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        parts = list(self.args) + [f"{k}={v}" for k, v in self.options.items()]
        return self.name + (":" + ",".join(parts) if parts else "")

    def with_options(self, **options) -> "Spec":
        """This spec with ``options`` set (added or replaced; values as their text)."""
        return Spec(self.name, self.args, {**self.options, **{k: str(v) for k, v in options.items()}})


def parse_spec(text: str, kind: str = "spec") -> Spec:
    """Split ``name:tok,tok`` into a :class:`Spec` (no type conversion yet)."""
    if not isinstance(text, str) or not text.strip():
        raise UserError(f"empty {kind} spec {text!r}; expected NAME or NAME:key=value,...")
    name, _, rest = text.strip().partition(":")
    name = name.strip()
    if not name:
        raise UserError(f"malformed {kind} spec {text!r}: missing name before ':'")
    args: list[str] = []
    options: dict[str, str] = {}
    if rest.strip():
        for tok in rest.split(","):
            tok = tok.strip()
            if not tok:
                raise UserError(f"malformed {kind} spec {text!r}: empty item between commas")
            if "=" in tok:
                key, _, value = tok.partition("=")
                key = key.strip().replace("-", "_")
                if not key:
                    raise UserError(f"malformed {kind} spec {text!r}: item {tok!r} has no key")
                if key in options:
                    raise UserError(f"malformed {kind} spec {text!r}: option {key!r} given twice")
                options[key] = value.strip()
            else:
                if options:
                    raise UserError(
                        f"malformed {kind} spec {text!r}: positional item {tok!r} after key=value items")
                args.append(tok)
    return Spec(name, tuple(args), options)


@dataclass(frozen=True)
class Range:
    """Inclusive bounds of a numeric option, used as ``Annotated[int, Range(1, 4096)]``."""

    low: Optional[float] = None
    high: Optional[float] = None

    def check(self, value, what: str):
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            kind = "an integer" if isinstance(value, int) else "a number"
            lo = "" if self.low is None else f" >= {self.low}"
            hi = "" if self.high is None else f" <= {self.high}"
            raise UserError(f"bad value {value!r} for {what}; accepted: {kind}{lo}{' and' if lo and hi else ''}{hi}")
        return value


def _unpack(annotation: Any) -> tuple[Any, Any]:
    """``(annotation, origin)`` with a postponed (string) annotation of a plain type resolved
    and ``X | None`` reported as ``typing.Union``, so that :func:`convert` and
    :func:`check_value` read a type the same way."""
    if isinstance(annotation, str):
        annotation = {"int": int, "float": float, "bool": bool, "str": str}.get(annotation, str)
    origin = typing.get_origin(annotation)
    if origin is not None and str(origin) == "<class 'types.UnionType'>":
        origin = typing.Union
    return annotation, origin


def base_type(annotation: Any) -> Any:
    """The plain type inside ``Annotated[...]`` and ``Optional[...]`` (``int`` for
    ``Optional[Annotated[int, Range(1, 10)]]``)."""
    annotation, origin = _unpack(annotation)
    while origin in (typing.Annotated, typing.Union):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation, origin = _unpack(args[0])
    return annotation


def _in_ranges(value: Any, extras, what: str) -> Any:
    """``value`` (or each item of a tuple/list value) checked against the ``Range`` marks of
    an ``Annotated`` type; returns it."""
    for extra in extras:
        if isinstance(extra, Range) and value is not None:
            for item in (value if isinstance(value, (tuple, list)) else (value,)):
                extra.check(item, what)
    return value


def convert(value: str, annotation: Any, what: str) -> Any:
    """Convert one string to ``annotation``; ``what`` names it in errors."""
    annotation, origin = _unpack(annotation)
    if origin is typing.Annotated:
        inner, *extras = typing.get_args(annotation)
        return _in_ranges(convert(value, inner, what), extras, what)
    if origin is typing.Union:
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value.lower() in {"none", "null", ""}:
            return None
        return convert(value, inner[0], what)
    if origin is typing.Literal:
        allowed = typing.get_args(annotation)
        for a in allowed:
            if str(a).lower() == value.lower():
                return a
        raise UserError(f"bad value {value!r} for {what}; accepted: {', '.join(map(str, allowed))}")
    if origin in (tuple, list):
        (inner, *_) = typing.get_args(annotation) or (str,)
        items = [v for v in value.replace("/", "+").split("+") if v != ""]
        return tuple(convert(v, inner, what) for v in items)
    if annotation is bool:
        low = value.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise UserError(f"bad value {value!r} for {what}; accepted: true/false")
    if annotation is int:
        try:
            number = int(value)
        except ValueError:
            raise UserError(f"bad value {value!r} for {what}; accepted: an integer") from None
        return _check_int(number, value, what)
    if annotation is float:
        try:
            number = float(value)
        except ValueError:
            raise UserError(f"bad value {value!r} for {what}; accepted: a number") from None
        return _check_float(number, value, what)
    return value


def _check_int(number: int, shown: Any, what: str) -> int:
    if not INT_MIN <= number <= INT_MAX:
        raise UserError(f"bad value {shown!r} for {what}; accepted: an integer in [{INT_MIN}, {INT_MAX}]")
    return number


def _check_float(number: float, shown: Any, what: str) -> float:
    if not math.isfinite(number) or abs(number) > FLOAT_MAX:
        raise UserError(f"bad value {shown!r} for {what}; accepted: a finite number of magnitude at most "
                        f"{FLOAT_MAX:.4g} (float32's largest)")
    return number


def check_value(value: Any, annotation: Any, what: str) -> Any:
    """Check an already typed value (a JSON config's) against ``annotation`` as
    :func:`convert` checks a string: the type (an int is a float, a bool is no number),
    finite and representable numbers, ``Literal`` choices and ``Range`` bounds; returns it."""
    annotation, origin = _unpack(annotation)
    if origin is typing.Annotated:
        inner, *extras = typing.get_args(annotation)
        return _in_ranges(check_value(value, inner, what), extras, what)
    if origin is typing.Union:
        if value is None and type(None) in typing.get_args(annotation):
            return None
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return check_value(value, inner[0], what)
    if origin is typing.Literal:
        allowed = typing.get_args(annotation)
        if not any(type(value) is type(a) and value == a for a in allowed):  # True is no 1, 1 no "1"
            raise UserError(f"bad value {value!r} for {what}; accepted: {', '.join(map(str, allowed))}")
        return value
    if origin in (tuple, list):
        (inner, *_) = typing.get_args(annotation) or (str,)
        if not isinstance(value, (tuple, list)):
            raise UserError(f"bad value {value!r} for {what}; accepted: a list")
        return tuple(check_value(v, inner, what) for v in value)
    if annotation is bool:
        if not isinstance(value, bool):
            raise UserError(f"bad value {value!r} for {what}; accepted: true/false")
        return value
    if annotation is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise UserError(f"bad value {value!r} for {what}; accepted: an integer")
        return _check_int(value, value, what)
    if annotation is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise UserError(f"bad value {value!r} for {what}; accepted: a number")
        try:
            number = float(value)
        except OverflowError:  # an int beyond float64's range
            number = math.inf
        _check_float(number, value, what)
        return value
    if annotation is str and not isinstance(value, str):
        raise UserError(f"bad value {value!r} for {what}; accepted: a string")
    return value


_EXCLUDED = {"self", "device", "dtype", "obs_shape", "out_size"}


def signature_options(fn: Callable) -> dict[str, inspect.Parameter]:
    """The user-settable options of ``fn`` (a class or function): its parameters except
    ``self``, ``device``, ``dtype``, ``obs_shape`` and ``out_size`` (which the caller
    supplies)."""
    target = fn.__init__ if inspect.isclass(fn) else fn
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except Exception:  # pragma: no cover - unresolved forward refs
        hints = {}
    out = {}
    for name, p in inspect.signature(target).parameters.items():
        if name in _EXCLUDED or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        out[name] = p.replace(annotation=hints.get(name, p.annotation))
    return out


def bind_spec(spec: Spec, fn: "Callable | dict[str, inspect.Parameter]", kind: str) -> dict[str, Any]:
    """Convert ``spec``'s options to keyword arguments for ``fn`` (a callable, or its
    options as ``{name: inspect.Parameter}``) with clear errors."""
    params = fn if isinstance(fn, dict) else signature_options(fn)
    names = list(params)
    kwargs: dict[str, Any] = {}
    positional = [n for n, p in params.items() if p.default is inspect.Parameter.empty]
    if len(spec.args) > max(len(positional), 1 if names else 0):
        raise UserError(
            f"{kind} {spec.name!r} got unexpected positional item(s) {list(spec.args)!r}; "
            f"options: {', '.join(names) or '(none)'}")
    for value, pname in zip(spec.args, positional or names[:1]):
        kwargs[pname] = convert(value, params[pname].annotation, f"{kind} {spec.name} option {pname}")
    for key, value in spec.options.items():
        if key not in params:
            raise UserError(
                f"unknown option {key!r} for {kind} {spec.name!r}; accepted: {', '.join(names) or '(none)'}")
        kwargs[key] = convert(value, params[key].annotation, f"{kind} {spec.name} option {key}")
    missing = [n for n in positional if n not in kwargs]
    if missing:
        raise UserError(f"{kind} {spec.name!r} needs {', '.join(missing)} (e.g. {spec.name}:VALUE)")
    return kwargs
