"""What the user asks ``fix`` for: :class:`FixOptions` (``preflight fix --start/--end/--aspect/--fill/--window``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import UsageError

__all__ = ["FixOptions"]


@dataclass(frozen=True)
class FixOptions:
    start: float | None = None
    """Seconds: where the kept window starts (overrides the window choice)."""
    end: float | None = None
    aspect: str = "pad"
    """``pad`` (default, keeps every pixel) or ``crop`` into the aspect range."""
    window: str = "best"
    """``best``: the allowed-length window with the most torso-visible samples and no scene cut;
    ``start``: the beginning of the clip."""
    fill: str = "blur"
    """Padding: ``blur`` (a blurred copy of the frame) or ``solid``."""
    reencode: bool = False
    """Skip the copy paths (fix falls back to this when a stream copy cannot be made exact)."""

    def __post_init__(self) -> None:
        # The CLI checks these too; the Python API (notebooks, pipelines) must not take nan as "no start".
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value < 0):
                raise UsageError(f"{name} must be a time in seconds (0 or more), not {value!r}", "usage.invalid")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise UsageError(f"end ({self.end:g} s) must come after start ({self.start:g} s)", "usage.invalid")
        for name, allowed in (("aspect", ("pad", "crop")), ("window", ("best", "start")), ("fill", ("blur", "solid"))):
            if getattr(self, name) not in allowed:
                raise UsageError(f"{name} must be {' or '.join(allowed)}, not {getattr(self, name)!r}", "usage.invalid")
