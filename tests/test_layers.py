"""Each package reads top-down: no two modules of ``preflight`` import each other.

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
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "preflight"

Graph = dict[str, dict[str, list[int]]]
"""Module -> {module it imports: the line numbers of those imports}."""


def _modules() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
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


def import_graph() -> Graph:
    modules = _modules()
    names = set(modules)
    return {
        module: imports_of(path.read_text(encoding="utf-8"), module, path.name == "__init__.py", names)
        for module, path in modules.items()
    }


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


def test_no_two_modules_import_each_other():
    graph = import_graph()
    pairs = sorted({tuple(sorted((a, b))) for a, targets in graph.items() for b in targets if a in graph.get(b, {})})

    def lines(a: str, b: str) -> str:
        return f"{a} line {', '.join(map(str, graph[a][b]))}"

    assert not pairs, "modules that import each other:\n" + "\n".join(
        f"  {a} <-> {b}  ({lines(a, b)}; {lines(b, a)})" for a, b in pairs
    )
