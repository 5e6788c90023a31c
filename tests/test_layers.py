"""Imports only point down (docs/ARCHITECTURE.md): every ``import`` in the package,
including the ones inside functions, goes from a module to one on a lower floor (or to a
module of its own package), siblings on one floor do not import each other, and no two
files import each other, directly or around a circle."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "dps"

#: floor of each top-level module or package of dps (higher floors may import lower ones)
FLOORS = {
    "errors": 0,
    "native": 1,
    "spec": 1, "seeding": 1, "spaces": 1, "checkpoint": 1,
    "registry": 2,
    "policies": 3, "envs": 3, "tasks": 3,
    "rollout": 4,
    "evaluation": 5,
    "algorithms": 6,
    "runner": 7,
    "run": 8, "compare": 8, "play": 8,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every dps module ``path`` imports (absolute names), at any depth of the file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "dps" or target.startswith("dps."):
                out.add(target)
                for alias in node.names:  # ``from . import loop`` names a module
                    out.add(f"{target}.{alias.name}")
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("dps."))
    return out


MODULES = {_module_name(p): p for p in ROOT.rglob("*.py")}


def _resolve(target: str) -> str | None:
    """The module a target names (``dps.a.b.name`` → ``dps.a.b``), or None."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


GRAPH = {m: {t for t in map(_resolve, _imports(p)) if t and t != m} for m, p in MODULES.items()}


def _top(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def test_every_top_level_module_has_a_floor():
    tops = {_top(m) for m in MODULES} - {""}
    assert tops <= set(FLOORS), f"give these a floor in FLOORS: {sorted(tops - set(FLOORS))}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "dps"))
def test_imports_point_down(module):
    here = _top(module)
    for target in GRAPH[module]:
        there = _top(target)
        if there == here or target == "dps":
            continue
        assert FLOORS[there] < FLOORS[here], (
            f"{module} (floor {FLOORS[here]}) imports {target} (floor {FLOORS[there]}): "
            "an arrow that runs up or sideways")


def test_no_circles_between_files():
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m):
        state[m] = 1
        path.append(m)
        for t in GRAPH[m]:
            if t == "dps" or m == "dps":
                continue
            if state.get(t) == 1:
                cycle = path[path.index(t):] + [t]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if t not in state:
                visit(t)
        path.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)


def test_envs_know_nothing_of_policies_or_episodes():
    for m in MODULES:
        if _top(m) == "envs":
            bad = {t for t in GRAPH[m] if _top(t) in ("policies", "rollout", "evaluation", "algorithms", "runner")}
            assert not bad, f"{m} imports {sorted(bad)}"
