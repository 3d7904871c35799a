"""What the user asks ``fix`` for: :class:`FixOptions` (``preflight fix --start/--end/--aspect/--fill/--window``
``--max-side --stabilize``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

from ..errors import UsageError
from ..framing.reframe import PERSON_CHOICES  # whom --reframe frames: defined with the rule that reads it

__all__ = ["DEFAULT_MAX_SIDE", "PERSON_CHOICES", "REFRAME_MODES", "STABILIZE_NEEDS_CONTENT", "FixOptions"]

DEFAULT_MAX_SIDE = 1920
"""The long side (px) a clip that is re-encoded anyway is scaled down to. The models generate at most
1080p (Kling v2.6/v3 "pro" = 1080p, "std" = 720p; Wan 2.2 at most 720p; Runway Act-Two at most
1584x672 / 1280x720; PROVIDERS.md, December 2026), so pixels past a 1920 px long side only cost upload
bytes, encode time and the provider's own decode. A constant rather than profile data: no profile
states its output size (only prose notes do), and one number keeps every provider's output equal."""

REFRAME_MODES = ("fixed", "follow")
"""``--reframe`` modes: ``fixed``, one window for the whole kept clip (the default: no virtual camera move);
``follow``, a window of the same size that follows a subject crossing the frame, smoothed (opt-in: the
provider sees its motion as camera motion, :mod:`.follow`)."""
STABILIZE_NEEDS_CONTENT = (
    "--stabilize needs the content check (it smooths the camera path the check measures): drop --no-content"
)

MIN_MAX_SIDE = 16
"""The smallest cap taken: one H.264 macroblock (a 1 px cap cannot hold a frame with even sides)."""


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
    max_side: int = DEFAULT_MAX_SIDE
    """Long side (displayed, after rotation and square pixels) a re-encoded clip is scaled down to, in the
    same pass; 0 keeps the size. Never scales up, never below the profile's minimum side, and never makes
    a re-encode by itself: a clip that can be copied is copied at its size. Images are not affected."""
    reframe: str | None = None
    """``fixed``: crop the clip to one window around one person (:mod:`preflight.framing.reframe`); ``follow``:
    a window that follows that person (:mod:`preflight.framing.follow`; a photo is cropped as with ``fixed``);
    None: no reframing."""
    person: str = "largest"
    """Whom ``reframe`` frames: the ``largest`` person over the clip, or the one on the ``left`` or ``right``."""
    subject_share: float | None = None
    """The share of the height the subject should fill after reframing (``prepare`` passes the photo's);
    None: half the height (:data:`preflight.framing.reframe.DEFAULT_SUBJECT_SHARE`)."""
    subject_aspect: float | None = None
    """The window's preferred width/height (``prepare`` passes the photo's); None: the clip's own."""
    shot: str | None = None
    """A tighter shot type to cut the file to (``close-up``, ``half-body``): ``prepare --reframe`` passes the
    other file's when this one is wider."""
    shot_from: str | None = None
    """Whose shot type ``shot`` is (``photo`` or ``clip``): the action says so."""
    stabilize: bool = False
    """Take hand-held shake out of a clip whose check found ``motion.camera_shake`` (:mod:`.stabilize`): one
    window that moves with the shake plus the smallest fixed crop-in that hides its borders, in the same
    re-encode. A clip without that finding is left as it is."""
    reencode: bool = False
    """Skip the copy paths (fix falls back to this when a stream copy cannot be made exact)."""
    verify: bool = False
    """Decode every picture of a clip that may be stream-copied, to prove each packet before the copy
    carries it (``--verify``). Without it a copy's packets are judged without decoding (flags, timing,
    NAL framing: :mod:`preflight.media.packetscan`) and decoded only where that finds something: damage hidden
    inside one picture's coded data is then not looked for. Costs a decode (5 s for 30 s of 1080p)."""

    def __post_init__(self) -> None:
        # The CLI checks these too; the Python API (notebooks, pipelines) must not take nan as "no start".
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value < 0):
                raise UsageError(f"{name} must be a time in seconds (0 or more), not {value!r}", "usage.invalid")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise UsageError(f"end ({self.end:g} s) must come after start ({self.start:g} s)", "usage.invalid")
        side = self.max_side
        if isinstance(side, bool) or not isinstance(side, Real) or not math.isfinite(side) or side != int(side) \
                or not (side == 0 or side >= MIN_MAX_SIDE):
            raise UsageError(f"max_side must be 0 (keep the size) or a whole number of pixels from {MIN_MAX_SIDE}, "
                             f"not {side!r}", "usage.invalid")  # fmt: skip
        object.__setattr__(self, "max_side", int(side))  # 1920.0 from a JSON config is 1920
        if not isinstance(self.stabilize, bool):  # "false" from a form or a config must not read as true
            raise UsageError(f"stabilize must be true or false, not {self.stabilize!r}", "usage.invalid")
        for name, allowed in (("aspect", ("pad", "crop")), ("window", ("best", "start")), ("fill", ("blur", "solid")),
                              ("person", PERSON_CHOICES)):  # fmt: skip
            if getattr(self, name) not in allowed:
                raise UsageError(f"{name} must be {' or '.join(allowed)}, not {getattr(self, name)!r}", "usage.invalid")
        if self.reframe is not None and self.reframe not in REFRAME_MODES:
            raise UsageError(f"reframe must be {' or '.join(REFRAME_MODES)} (or None), not {self.reframe!r}",
                             "usage.invalid")  # fmt: skip
        for name in ("subject_share", "subject_aspect"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, Real) and math.isfinite(value) and value > 0):
                raise UsageError(f"{name} must be a positive number, not {value!r}", "usage.invalid")
        if self.shot is not None and self.shot not in ("close-up", "half-body", "full-body"):
            raise UsageError(f"shot must be close-up, half-body or full-body, not {self.shot!r}", "usage.invalid")
