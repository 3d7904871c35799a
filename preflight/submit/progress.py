"""What a user sees while a job is polled (``submit --wait``, ``jobs wait``, ``jobs resume``).

On a terminal: one status line, redrawn in place (rich ``Live``): a spinner, the job, the provider's
own status word, the folded status, time since the wait began and since the last poll. When stderr
is piped or captured: one plain line per status change and nothing else, so logs and CI output stay
readable and grep-able::

    job 3: IN_QUEUE (queued, 0 s)
    job 3: IN_PROGRESS (running, 40 s)
    job 3: COMPLETED (succeeded, 1 min 55 s)

rich is imported only when a wait begins, so importing preflight stays fast.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from .ledger import Job

__all__ = ["WaitProgress", "elapsed_text"]


def elapsed_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


class WaitProgress:
    """Context manager; pass :meth:`changed` as ``on_change`` and :meth:`polled` as ``on_poll`` to ``wait``."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        force_terminal: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from rich.console import Console

        self.console = Console(file=stream, stderr=stream is None, force_terminal=force_terminal, highlight=False)
        self.in_place = self.console.is_terminal and not self.console.is_dumb_terminal
        self.clock = clock
        self.started = clock()
        self.last_poll: float | None = None
        self.job: Job | None = None
        self._live: Any = None
        self._spinner: Any = None

    # ----- the context -------------------------------------------------------------------------

    def __enter__(self) -> WaitProgress:
        if self.in_place:
            from rich.live import Live
            from rich.spinner import Spinner

            self._spinner = Spinner("dots")
            # transient: the in-place line is wiped at the end; the final state is printed once instead.
            self._live = Live(self, console=self.console, refresh_per_second=4, transient=True)
            self._live.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
            if self.job is not None:
                self.console.print(self.line(), soft_wrap=True, markup=False)

    # ----- callbacks for wait() ----------------------------------------------------------------

    def watch(self, job: Job) -> None:
        """The job as it stands before the first poll (shown in place; not a change, so no line)."""
        self.job = job

    def changed(self, job: Job) -> None:
        """A status change: a line of its own when piped; the in-place line follows by itself."""
        self.job = job
        if not self.in_place:
            self.console.print(self.line(), soft_wrap=True, markup=False)

    def polled(self, job: Job) -> None:
        self.job = job
        self.last_poll = self.clock()

    # ----- rendering ---------------------------------------------------------------------------

    def line(self) -> str:
        job = self.job
        if job is None:
            return "waiting for the first answer"
        word = job.raw_status or job.status.value
        return f"job {job.id}: {word} ({job.status.value}, {elapsed_text(self.clock() - self.started)})"

    def __rich__(self) -> Any:
        text = self.line()
        if self.job is not None:
            text += f"  [{self.job.provider}"
            if self.last_poll is not None:
                text += f", checked {elapsed_text(self.clock() - self.last_poll)} ago"
            text += "]"
        from rich.text import Text

        self._spinner.update(text=Text(text))  # Text, not str: a "[...]" is not markup here
        return self._spinner
