"""What the user asks ``fix`` for: :class:`FixOptions` (``preflight fix --start/--end/--aspect/--fill/--window``)."""

from __future__ import annotations

from dataclasses import dataclass

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
