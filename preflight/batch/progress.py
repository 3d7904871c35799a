"""Progress of a batch on stderr: a live rich bar on a terminal, one plain line per file when piped.

Both take the same three calls: ``start(total, resumed)``, ``advance(result)``, ``finish()``; and
``note(text)`` for a message between lines (e.g. "stopping after the running files").
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from ..errors import printable
from .work import FileResult

__all__ = ["PlainProgress", "Progress", "RichProgress", "SilentProgress", "make_progress"]


class Progress:
    def start(self, total: int, resumed: int = 0) -> None: ...
    def advance(self, result: FileResult) -> None: ...
    def note(self, text: str) -> None: ...
    def finish(self) -> None: ...


class SilentProgress(Progress):
    pass


class PlainProgress(Progress):
    """``[ 3/20] fail     1.21 s  clips/broken.mp4  decode.error`` per file: greppable, log-friendly."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stderr
        self.total = 0
        self.done = 0
        self.started = time.monotonic()

    def start(self, total: int, resumed: int = 0) -> None:
        self.total, self.done = total, resumed
        self.started = time.monotonic()
        if resumed:
            self.note(f"resuming: {resumed} of {total} file(s) already done")

    def advance(self, result: FileResult) -> None:
        self.done += 1
        width = len(str(self.total))
        first = next((f.code for f in result.item.findings if f.severity.value == "error"), "")
        verdict = result.final_verdict
        self.out.write(
            f"[{self.done:>{width}}/{self.total}] {verdict:<8} {result.seconds:6.2f} s  {printable(result.path)}"
            f"{'  ' + first if first and verdict != 'pass' else ''}\n"
        )
        self.out.flush()

    def note(self, text: str) -> None:
        self.out.write(f"preflight: {printable(text)}\n")
        self.out.flush()


class RichProgress(Progress):
    """A bar with files done, failures and the ETA (rich's), redrawn in place on the terminal."""

    def __init__(self, out: TextIO | None = None) -> None:
        from rich.console import Console

        self.console = Console(file=out or sys.stderr)
        self._bar: Any = None
        self._task: Any = None
        self.failed = 0

    def start(self, total: int, resumed: int = 0) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        self._bar = Bar(
            TextColumn("[bold]batch"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} not passing"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[current]}", style="dim", markup=False),  # a name, never markup
            console=self.console,
            transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task("batch", total=total, completed=resumed, failed=0, current="")
        if resumed:
            self.note(f"resuming: {resumed} of {total} file(s) already done")

    def advance(self, result: FileResult) -> None:
        if not result.passed:
            self.failed += 1
        if self._bar is not None:
            shown = printable(result.path)  # as the plain lines and the reports show it
            name = shown if len(shown) < 40 else "…" + shown[-39:]
            self._bar.update(self._task, advance=1, failed=self.failed, current=name)

    def note(self, text: str) -> None:
        self.console.print(f"preflight: {printable(text)}", markup=False, highlight=False)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def make_progress(enabled: bool = True, out: TextIO | None = None) -> Progress:
    """A rich bar when ``out`` (stderr) is a terminal, plain lines otherwise, nothing when disabled."""
    stream = out or sys.stderr
    if not enabled:
        return SilentProgress()
    isatty = getattr(stream, "isatty", None)
    return RichProgress(stream) if callable(isatty) and isatty() else PlainProgress(stream)
