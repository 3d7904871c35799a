"""The picture of preflight's import graph: which top-level module or package imports which.

The graph is the one tests/test_layers.py reads from the source with ast (every import wherever it
stands, lazy ones too), folded to the top level (``preflight.fix.video`` counts as ``fix/``), and
drawn without the arrows another path already implies (its transitive reduction), importers above
what they import. Pure Python, no Graphviz: the same source always gives the same bytes, so a test can
tell when the committed picture (docs/import-graph.svg) is out of date.

Regenerate: ``python docs/hooks/import_graph.py > docs/import-graph.svg`` (the site's build draws
it afresh anyway).
"""

from __future__ import annotations

import importlib.util
import sys
from html import escape
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LEFT_OUT = {"preflight.__main__"}
"""``python -m preflight``: one line that calls the CLI."""

Graph = dict[str, set[str]]

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 112, 26, 14, 64, 20


def _module_graph() -> dict[str, dict[str, list[int]]]:
    """tests/test_layers.py's graph of every module (loaded by path: tests/ is no package)."""
    spec = importlib.util.spec_from_file_location("_preflight_layers", ROOT / "tests" / "test_layers.py")
    assert spec is not None and spec.loader is not None
    layers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(layers)
    return layers.import_graph(ROOT / "preflight")


def _unit(module: str) -> str:
    return ".".join(module.split(".")[:2])


def package_graph() -> Graph:
    """Top-level unit -> the units it imports (``preflight`` itself is the package's ``__init__``)."""
    graph: Graph = {}
    for module, targets in _module_graph().items():
        if module in LEFT_OUT:
            continue
        unit = _unit(module)
        graph.setdefault(unit, set()).update(_unit(t) for t in targets if _unit(t) != unit)
    return graph


def _packages() -> set[str]:
    return {f"preflight.{p.parent.name}" for p in (ROOT / "preflight").glob("*/__init__.py")}


def _reachable(graph: Graph, start: str, skip_edge: tuple[str, str]) -> set[str]:
    seen: set[str] = set()
    stack = [t for t in graph[start] if (start, t) != skip_edge]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(graph.get(node, ()))
    return seen


def reduction(graph: Graph) -> Graph:
    """The edges no longer path implies (the graph has no cycle: tests/test_layers.py sees to that at
    module level, and none appears when modules fold into their packages)."""
    return {a: {b for b in sorted(ts) if b not in _reachable(graph, a, (a, b))} for a, ts in graph.items()}


def layers(graph: Graph) -> dict[str, int]:
    """Each unit's height: 0 for a unit that imports nothing of the package, else one more than the
    highest unit it imports."""
    height: dict[str, int] = {}

    def visit(node: str, path: tuple[str, ...]) -> int:
        if node in path:
            raise ValueError(f"import cycle among packages: {' -> '.join((*path, node))}")
        if node not in height:
            height[node] = 1 + max((visit(t, (*path, node)) for t in graph.get(node, ())), default=-1)
        return height[node]

    for node in sorted(graph):
        visit(node, ())
    return height


def _order(graph: Graph, height: dict[str, int]) -> list[list[str]]:
    """Units per row, top row first, ordered to shorten the arrows (a few barycentre sweeps)."""
    top = max(height.values())
    rows = [sorted(n for n in graph if height[n] == h) for h in range(top, -1, -1)]
    neighbours: dict[str, set[str]] = {n: set(graph[n]) for n in graph}
    for a, ts in graph.items():
        for b in ts:
            neighbours[b].add(a)
    # Sums taken in name order: a set's order changes with the string hash seed, and float sums in a
    # different order can differ in the last bit, enough to swap two boxes between runs.
    ordered = {n: sorted(ms) for n, ms in neighbours.items()}
    for _ in range(8):
        where = {n: i / max(len(row) - 1, 1) for row in rows for i, n in enumerate(row)}
        for row in rows:
            row.sort(key=lambda n: (round(sum(where[m] for m in ordered[n]) / len(ordered[n]), 9)
                                    if ordered[n] else where[n], n))  # fmt: skip
    return rows


def svg(graph: Graph) -> str:
    """The graph drawn as a standalone SVG document."""
    shown = reduction(graph)
    rows = _order(shown, layers(graph))
    packages = _packages()
    widest = max(len(row) for row in rows)
    width = 2 * MARGIN + widest * BOX_W + (widest - 1) * GAP_X
    height = 2 * MARGIN + len(rows) * BOX_H + (len(rows) - 1) * GAP_Y + 24
    centre: dict[str, tuple[int, int]] = {}
    for r, row in enumerate(rows):
        row_width = len(row) * BOX_W + (len(row) - 1) * GAP_X
        x0 = (width - row_width) // 2
        for i, node in enumerate(row):
            centre[node] = (x0 + i * (BOX_W + GAP_X) + BOX_W // 2, MARGIN + r * (BOX_H + GAP_Y) + BOX_H // 2)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        "<title>preflight's import graph: each box imports the boxes its arrows reach</title>",
        '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" '
        'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#7a869a"/></marker></defs>',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    for a in sorted(shown):
        for b in sorted(shown[a]):
            (x1, y1), (x2, y2) = centre[a], centre[b]
            out.append(f'<line x1="{x1}" y1="{y1 + BOX_H // 2}" x2="{x2}" y2="{y2 - BOX_H // 2}" '
                       'stroke="#7a869a" stroke-opacity="0.55" marker-end="url(#arrow)"/>')  # fmt: skip
    for node, (x, y) in sorted(centre.items()):
        is_package = node in packages
        label = "preflight/__init__" if node == "preflight" else node.removeprefix("preflight.") + (
            "/" if is_package else ""
        )
        fill, stroke = ("#e3ecfa", "#3867b5") if is_package else ("#f4f5f7", "#8993a4")
        weight = ' font-weight="bold"' if is_package else ""
        out.append(f'<g><title>{escape(node)}: imports {escape(", ".join(sorted(graph[node])) or "nothing")}</title>'
                   f'<rect x="{x - BOX_W // 2}" y="{y - BOX_H // 2}" width="{BOX_W}" height="{BOX_H}" rx="4" '
                   f'fill="{fill}" stroke="{stroke}"/>'
                   f'<text x="{x}" y="{y + 4}" text-anchor="middle"{weight}>'
                   f"{escape(label)}</text></g>")  # fmt: skip
    legend = "Packages in blue. An arrow: imports (directly, or through the arrows below it)."
    out.append(f'<text x="{MARGIN}" y="{height - 10}" fill="#5e6c84">{legend} Generated by '
               "docs/hooks/import_graph.py.</text>")  # fmt: skip
    out.append("</svg>")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(svg(package_graph()))
