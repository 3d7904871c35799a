"""``preflight fix``: turn every fixable input into one the provider accepts, cheapest operation first.

    >>> from preflight.fix import fix
    >>> report = fix(["clip.mov", "photo.webp"], "ready/", profile="kling-v2.6")
    >>> [(r.path, r.output, r.actions) for r in report.results], report.ok

The work is in :mod:`.runner` (per input: check, plan, execute, check again) and the modules it
drives. This package imports it on first use: the command line reads ``fix``'s option constants
(:mod:`.options`) for every command, and ``preflight check`` or ``probe`` should not load the whole
fix machinery for that (36 ms of every process's start).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .options import FixOptions
    from .plan import Plan, plan_fix
    from .runner import FixReport, FixResult, Progress, check_input, fix, fix_one

__all__ = ["FixOptions", "FixReport", "FixResult", "Plan", "Progress", "check_input", "fix", "fix_one", "plan_fix"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        value = getattr(import_module(".runner", __name__), name)
        globals()[name] = value  # looked up once; a test may still replace it here
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
