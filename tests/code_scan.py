"""The finding and error codes written in preflight's source, read with :mod:`ast` (nothing imported).

Read by tests/test_codes.py (every code in the source is in the registry, preflight/codes.py, and every
registered code is in the source) and tests/test_zz_readme_codes.py.

A code is found in two ways, so that neither a code in a new area nor one passed through a variable
slips by:

- **where a code goes**: the first argument of ``Finding(...)``, the second of an exception class's
  constructor (``UsageError(message, "x.y")``) and of ``finding_for``/``_fail``/``_failed``, a ``code=``
  keyword, a ``default_code = "x.y"`` class attribute, and the ``code:`` that starts a line the CLI
  prints itself (``_say("interrupted: ...")``);
- **what a code looks like**: any string ``area.what`` whose area is one of the registry's (a code kept
  in a table or returned by a function), except the few such strings that are something else
  (:data:`NOT_CODES`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "preflight"
REGISTRY = PACKAGE / "codes.py"

CODE_SHAPE = re.compile(r"^[a-z]+(\.[a-z_]+)?$")
DOTTED = re.compile(r"^[a-z]+\.[a-z_]+$")
LINE_PREFIX = re.compile(r"^([a-z]+(?:\.[a-z_]+)?): ")

NOT_CODES = {
    "config.toml": "the config file's name",
    "preflight.api": "a module the pool's workers import ahead",
    "preflight.analyze": "a module the pool's workers import ahead",
    "preflight.data": "the package holding the demo's photo",
    "preflight.skipped": "the JUnit classname of a file a folder search skipped",
}
"""Strings shaped like a code, in an area that has codes, which are not codes."""

CODE_ARGUMENT = {"finding_for": 1, "_fail": 1, "_failed": 1}
"""Functions (besides Finding and the exception classes) that take a code, and at which position."""


@dataclass(frozen=True)
class Found:
    code: str
    where: str
    """``path:line``."""
    how: str
    """``argument`` (where a code goes), ``default`` (a class's default_code), ``line`` (a printed
    line's prefix) or ``shape`` (only what it looks like)."""


def _constant(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _code_arguments(call: ast.Call) -> Iterable[ast.expr]:
    name = _name(call.func)
    if name == "Finding":
        yield from call.args[:1]
    elif name.endswith("Error") or name in ("MemoryExhausted", "OutcomeUnknown"):
        yield from call.args[1:2]
    elif name in CODE_ARGUMENT:
        yield from call.args[CODE_ARGUMENT[name] : CODE_ARGUMENT[name] + 1]
    yield from (k.value for k in call.keywords if k.arg == "code")


def _line_prefix(call: ast.Call) -> str | None:
    """The code a ``_say(...)`` line starts with, when the line's start is written out."""
    if _name(call.func) != "_say" or not call.args:
        return None
    first = call.args[0]
    while isinstance(first, ast.BinOp):  # f"interrupted: ..." + detail
        first = first.left
    if isinstance(first, ast.JoinedStr) and first.values:
        first = first.values[0]
    text = _constant(first)
    match = LINE_PREFIX.match(text or "")
    return match.group(1) if match else None


def scan_source(source: str, where: str, areas: set[str]) -> list[Found]:
    """Every code in one module's source; ``areas``: the registry's (for the shape rule)."""
    found: list[Found] = []
    placed: set[int] = set()  # ids of constants already found where a code goes
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for arg in _code_arguments(node):
                code = _constant(arg)
                if code is not None and CODE_SHAPE.match(code):
                    found.append(Found(code, f"{where}:{arg.lineno}", "argument"))
                    placed.add(id(arg))
            prefix = _line_prefix(node)
            if prefix is not None:
                found.append(Found(prefix, f"{where}:{node.lineno}", "line"))
        elif isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "default_code" for t in node.targets):
            code = _constant(node.value)
            if code is not None:
                found.append(Found(code, f"{where}:{node.lineno}", "default"))
                placed.add(id(node.value))
    for node in ast.walk(tree):
        code = _constant(node)
        if (
            code is not None
            and id(node) not in placed
            and DOTTED.match(code)
            and code.split(".")[0] in areas
            and code not in NOT_CODES
        ):
            found.append(Found(code, f"{where}:{node.lineno}", "shape"))
    return found


def scan_package(areas: set[str], package: Path = PACKAGE) -> list[Found]:
    """Every code in the package's source, the registry itself left out."""
    found: list[Found] = []
    for path in sorted(package.rglob("*.py")):
        if path.resolve() != REGISTRY:
            where = str(path.relative_to(package.parent))
            found += scan_source(path.read_text(encoding="utf-8"), where, areas)
    return found
