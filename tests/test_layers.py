"""Each package reads top-down: no import cycle among the modules of ``preflight``, of any length.

The graph is read from the source with :mod:`ast`, not by importing anything, so it sees every
``import`` and ``from ... import`` statement wherever it stands: at the top of a module, inside a
function (a lazy import is still a dependency, only a later one), and under ``if TYPE_CHECKING:``.

TYPE_CHECKING imports count like any other. A module that names a higher module's types in its
annotations still depends on that module: a reader, and the type checker, must follow the arrow
up. The cure is to move the shared type down to the lower module (or to a small module both
import), not to hide the import from this test.

What this cannot see: modules loaded by name at run time (``importlib.import_module``, as the
CLI's lazy commands and the provider scan of :mod:`preflight.submit` do). Those are plug-in
lookups, not one module leaning on another.

An edge goes to the module named: ``from .x import y`` is an edge to ``x`` (or to the submodule
``x.y`` when ``y`` is one); ``from . import y`` is an edge to submodule ``y``, or to the package's
``__init__`` when ``y`` is a name defined there. The implicit import of a package's ``__init__``
when one of its submodules is imported is not an edge: otherwise every package that re-exports
its submodules' names would be a cycle with each of them.
"""

from __future__ import annotations

import ast
import shutil
from collections import deque
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "preflight"

Graph = dict[str, dict[str, list[int]]]
"""Module -> {module it imports: the line numbers of those imports}."""


def _modules(package: Path) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the package."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: set[str]) -> set[str]:
    """The package's modules that one import statement names."""
    found = set()
    if isinstance(node, ast.Import):
        for alias in node.names:
            name = alias.name
            while name and name not in modules:  # `import preflight.a.b` names preflight.a.b
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
        return found
    if node.level:
        base = module if is_package else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        if node.module:
            base = f"{base}.{node.module}"
    else:
        base = node.module or ""
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        if submodule in modules:
            found.add(submodule)
        elif base in modules:
            found.add(base)
    return found


def imports_of(source: str, module: str, is_package: bool, modules: set[str]) -> dict[str, list[int]]:
    """The package's modules that ``source`` imports anywhere in it, with the lines that do."""
    edges: dict[str, list[int]] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for target in _targets(node, module, is_package, modules) - {module}:
                edges.setdefault(target, []).append(node.lineno)
    return edges


def import_graph(package: Path = PACKAGE) -> Graph:
    modules = _modules(package)
    names = set(modules)
    return {
        module: imports_of(path.read_text(encoding="utf-8"), module, path.name == "__init__.py", names)
        for module, path in modules.items()
    }


def _components(graph: Graph) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan): each holds every module
    of one or more import cycles that share modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in graph.get(module, {}):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = {stack.pop()}
            while module not in component:
                component.add(stack.pop())
            if len(component) > 1:
                found.append(component)

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def _shortest_cycle(graph: Graph, component: set[str]) -> list[str]:
    """The shortest way from the component's first module back to itself, inside the component."""
    start = min(component)
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        module = queue.popleft()
        for target in sorted(graph.get(module, {})):
            if target == start:
                path = [module]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return path[::-1]
            if target in component and target not in came_from:
                came_from[target] = module
                queue.append(target)
    raise AssertionError(f"no cycle through {start}: not a component")


def cycles(graph: Graph) -> list[list[str]]:
    """One import cycle per knot of modules that reach each other, as the modules in import order
    from the knot's first (pure: any graph of :data:`Graph`'s shape)."""
    return sorted(_shortest_cycle(graph, component) for component in _components(graph))


def describe(graph: Graph, cycle: list[str]) -> str:
    """``a -> b (a line 3) -> a (b line 9)``: each arrow with the lines that import."""
    steps = [cycle[0]]
    for a, b in zip(cycle, [*cycle[1:], cycle[0]], strict=True):
        steps.append(f"{b} ({a} line {', '.join(map(str, graph[a][b]))})")
    return " -> ".join(steps)


def test_cycles_of_any_length_are_found():
    dag: Graph = {"a": {"b": [1], "c": [2]}, "b": {"c": [1]}, "c": {}}
    pair: Graph = {"a": {"b": [1]}, "b": {"a": [4]}}
    three: Graph = {"a": {"b": [1]}, "b": {"c": [2]}, "c": {"a": [3]}, "d": {"a": [5]}}
    five = {f"m{i}": {f"m{(i + 1) % 5}": [i + 1]} for i in range(5)}
    assert cycles(dag) == []
    assert cycles(pair) == [["a", "b"]]
    assert cycles(three) == [["a", "b", "c"]]  # no two of them import each other
    assert cycles(five) == [["m0", "m1", "m2", "m3", "m4"]]
    # two knots, and a knot of two cycles sharing a module: one (the shortest) cycle each
    two_knots: Graph = {**three, "x": {"y": [1]}, "y": {"x": [2]}}
    assert cycles(two_knots) == [["a", "b", "c"], ["x", "y"]]
    figure_eight: Graph = {"a": {"b": [1], "d": [2]}, "b": {"c": [1]}, "c": {"a": [1]}, "d": {"a": [7]}}
    assert cycles(figure_eight) == [["a", "d"]]
    assert describe(three, ["a", "b", "c"]) == "a -> b (a line 1) -> c (b line 2) -> a (c line 3)"


def test_a_three_module_cycle_in_the_package_is_caught(tmp_path):
    """The mutation the old pairs-only check let through: three real modules, each lazily importing
    the next, in a copy of the package."""
    copy = tmp_path / "preflight"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "data", "static"))
    knot = ["preflight.color.curves", "preflight.report", "preflight.media.sniff"]
    assert cycles(import_graph(copy)) == []
    for module, target in zip(knot, [*knot[1:], knot[0]], strict=True):
        path = copy.joinpath(*module.split(".")[1:]).with_suffix(".py")
        path.write_text(path.read_text() + f"\n\ndef _knot():\n    import {target}\n")
    graph = import_graph(copy)
    assert not any(b in graph.get(a, {}) and a in graph.get(b, {}) for a in graph for b in graph[a])  # no pair
    assert cycles(graph) == [knot]


def test_every_import_counts_wherever_it_stands():
    source = (
        "from typing import TYPE_CHECKING\n"
        "from ..models import Item\n"
        "if TYPE_CHECKING:\n"
        "    from .plan import ContentHints\n"
        "def later():\n"
        "    from ..api import check\n"
        "    from . import geometry\n"
        "    import preflight.report\n"
    )
    modules = {"preflight", "preflight.api", "preflight.models", "preflight.report", "preflight.fix",
               "preflight.fix.geometry", "preflight.fix.plan", "preflight.fix.window"}  # fmt: skip
    edges = imports_of(source, "preflight.fix.window", False, modules)
    assert edges == {"preflight.models": [2], "preflight.fix.plan": [4], "preflight.api": [6],
                     "preflight.fix.geometry": [7], "preflight.report": [8]}  # fmt: skip
    # in a package's __init__, `from . import` is relative to the package itself
    assert imports_of("from . import api, VERSION\n", "preflight", True, modules) == {"preflight.api": [1]}


def test_graph_sees_the_package():
    graph = import_graph()
    assert "preflight.models" in graph["preflight.report"]
    assert "preflight.models" in graph["preflight.fix.plan"]  # two levels up
    assert "preflight.api" in graph["preflight.batch.work"]  # inside a function


def test_no_import_cycles():
    graph = import_graph()
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(f"  {describe(graph, cycle)}" for cycle in found)
