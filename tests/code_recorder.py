"""Which finding and error codes the program produced in this test process (read by
tests/test_zz_readme_codes.py).

A code counts only when preflight's own code created the Finding or the PreflightError: the frame
that called the constructor (past the constructors themselves and :func:`dataclasses.replace`) is a
file of the ``preflight`` package. A test that builds ``Finding("file.truncated", ...)`` by hand to
feed a report writer proves nothing about whether preflight ever emits that code, so it lands in
:data:`CODES_BUILT_BY_TESTS` instead.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from pathlib import Path
from types import FrameType

PACKAGE = Path(__file__).resolve().parents[1] / "preflight"

CODES_SEEN: set[str] = set()
"""Every code preflight's own code created a Finding or a PreflightError with in this process."""
CODES_BUILT_BY_TESTS: set[str] = set()
"""Codes of Findings and PreflightErrors created anywhere else (tests, by hand): never counted."""

_DATACLASSES = dataclasses.__file__


def made_by_preflight(obj: object, frame: FrameType | None) -> bool:
    """Whether the code that created ``obj`` lives in the package. ``frame``: the constructor's
    caller. Frames of ``obj``'s own ``__init__`` chain (a subclass calling ``super().__init__``)
    and of the dataclasses module (``replace``) are passed over: they only carry the code along."""
    while frame is not None and (frame.f_code.co_filename == _DATACLASSES or frame.f_locals.get("self") is obj):
        frame = frame.f_back
    return frame is not None and _in_package(frame.f_code.co_filename)


@functools.cache
def _in_package(filename: str) -> bool:
    return Path(filename).resolve().is_relative_to(PACKAGE)


def record_codes() -> None:
    """Wrap the two constructors every code goes through (once per process)."""
    from preflight.errors import PreflightError
    from preflight.models import Finding

    for cls in (Finding, PreflightError):
        if getattr(cls.__init__, "records_codes", False):
            continue
        original = cls.__init__

        def init(self, *args, __original=original, **kwargs):  # type: ignore[no-untyped-def]
            __original(self, *args, **kwargs)
            seen = CODES_SEEN if made_by_preflight(self, sys._getframe(1)) else CODES_BUILT_BY_TESTS
            seen.add(self.code)

        init.records_codes = True  # type: ignore[attr-defined]
        cls.__init__ = init  # type: ignore[method-assign]
    _record_cli_lines()


def _record_cli_lines() -> None:
    """The CLI's own last-resort lines (an OS error, no memory) carry a code without an exception
    object: record the code of every ``preflight: code: message`` line it prints."""
    import preflight.cli as cli

    if getattr(cli._say, "records_codes", False):
        return
    original = cli._say

    def say(line: str) -> None:
        CODES_SEEN.add(line.strip().split(":", 1)[0])
        original(line)

    say.records_codes = True  # type: ignore[attr-defined]
    cli._say = say
