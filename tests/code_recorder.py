"""Which finding and error codes this test process produced (read by tests/test_zz_readme_codes.py)."""

from __future__ import annotations

CODES_SEEN: set[str] = set()
"""Every code a Finding or a PreflightError was created with in this process."""


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
            CODES_SEEN.add(self.code)

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
