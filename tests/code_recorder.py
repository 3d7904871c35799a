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
