"""Allowed aspect ratios (a profile's ``aspect_choices``): parsing, matching, the nearest choice.

Some providers take a list of exact ratios instead of a range: Runway Act-Two's ``ratio`` is one of its
output sizes (``1280:720``, ``720:1280``, ``960:960``, ``1104:832``, ``832:1104``, ``1584:672``). A
profile keeps them as the provider spells them; the float ratio is computed here. Pure, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Protocol

__all__ = [
    "ASPECT_TOLERANCE",
    "aspect_label",
    "choice_label",
    "matches",
    "nearest_choice",
    "parse_choices",
    "parse_ratio",
    "ratio_error",
    "target_choice",
]

ASPECT_TOLERANCE = 0.003
"""How far (relative, 0.3%) a frame's aspect may be from an allowed ratio and still match it.

One pixel on a 340 px side (the smallest side the Kling-like profiles take) is 0.29%: a frame whose
sides were rounded to whole pixels, like 854x480 for 16:9 (0.09% off) or 426x240 (0.16%), still
matches. Tighter than that, and a correct small frame could fail on rounding alone. Looser, and
near misses would pass that the provider must still crop or stretch: 4:3 (1.333) is 0.48% from
Runway's 1104:832 (1.327) and 21:9 (2.333) 1.0% from its 1584:672 (2.357); both are fixed to the
provider's exact ratio instead. Measured on the log scale, so ``W:H`` and ``H:W`` behave the same."""


class _Limits(Protocol):
    aspect_choices: tuple[str, ...] | None
    min_aspect: float | None
    max_aspect: float | None


def parse_ratio(text: str) -> float:
    """``"1280:720"`` -> 1.777...; a plain positive number (``"1.5"``) is taken as width/height."""
    parts = str(text).strip().split(":")
    try:
        if len(parts) == 2:
            w, h = float(parts[0]), float(parts[1])
        elif len(parts) == 1:
            w, h = float(parts[0]), 1.0
        else:
            raise ValueError
    except ValueError:
        raise ValueError(f"aspect ratio {text!r} is not W:H (like 1280:720)") from None
    if not (w > 0 and h > 0 and math.isfinite(w) and math.isfinite(h)):
        raise ValueError(f"aspect ratio {text!r} must have positive sides")
    return w / h


def parse_choices(values: Iterable[object]) -> tuple[str, ...]:
    """A profile's ``aspect_choices``, each checked now (a typo fails the profile load, not a check)."""
    choices = tuple(str(v).strip() for v in values)
    if not choices:
        raise ValueError("aspect_choices is empty: leave it out to allow any ratio")
    for choice in choices:
        parse_ratio(choice)
    return choices


def ratio_error(aspect: float, ratio: float) -> float:
    """Relative distance on the log scale: 0.01 is about 1%."""
    return abs(math.log(aspect / ratio))


def matches(aspect: float, choice: str, tolerance: float = ASPECT_TOLERANCE) -> bool:
    return ratio_error(aspect, parse_ratio(choice)) <= math.log1p(tolerance)


def nearest_choice(aspect: float, choices: Sequence[str]) -> str:
    """The choice nearest ``aspect`` in log-ratio (so 2:1 is as far from 1:1 as 1:2 is)."""
    return min(choices, key=lambda c: ratio_error(aspect, parse_ratio(c)))


def target_choice(aspect: float, limits: _Limits) -> str | None:
    """The allowed ratio a frame of ``aspect`` should have, or None when the profile lists none.

    The nearest choice; when the profile also sets an aspect range, the nearest choice inside it
    (a choice outside the range could never pass both limits)."""
    choices = limits.aspect_choices
    if not choices:
        return None
    lo = limits.min_aspect if limits.min_aspect is not None else 0.0
    hi = limits.max_aspect if limits.max_aspect is not None else math.inf
    inside = [c for c in choices if lo - 1e-9 <= parse_ratio(c) <= hi + 1e-9]
    return nearest_choice(aspect, inside or choices)


def aspect_label(width: float, height: float) -> str:
    """``16:9`` when whole sides reduce to small terms, else ``1.327:1`` / ``1:1.327``."""
    if float(width).is_integer() and float(height).is_integer():
        frac = Fraction(int(width), int(height))
        if frac.numerator <= 21 and frac.denominator <= 21:
            return f"{frac.numerator}:{frac.denominator}"
    aspect = width / height
    return f"{aspect:.4g}:1" if aspect >= 1 else f"1:{1 / aspect:.4g}"


def choice_label(choice: str) -> str:
    """``16:9 (1280:720)``: the ratio a person knows, then the provider's spelling."""
    parts = choice.split(":")
    if len(parts) == 2:
        label = aspect_label(float(parts[0]), float(parts[1]))
    else:
        label = aspect_label(parse_ratio(choice), 1.0)
    return label if label == choice else f"{label} ({choice})"
