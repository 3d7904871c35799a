"""The content gates' thresholds, gathered from where each is defined.

Each analyzer module defines its thresholds once, as ``NAME = ("profile_key", default)`` with a
docstring saying where the number came from. A profile's ``[content]`` table overrides them by key
(and ``[content.severity]`` a finding's severity by code). Gathering them here lets a profile be
checked for typos (a misspelt key would silently keep the default) and lets ``preflight profiles
show`` print every threshold with its value.
"""

from __future__ import annotations

import difflib
import math
from functools import cache
from types import ModuleType
from typing import Any

from ..errors import ProfileError

__all__ = ["SEVERITY_KEY", "content_gate_defaults", "validate_content_gates"]

SEVERITY_KEY = "severity"


def _modules() -> tuple[ModuleType, ...]:
    from . import motion, pair, pose_findings, quality

    return (motion, quality, pose_findings, pair)


@cache
def content_gate_defaults() -> dict[str, float]:
    """Every profile-tunable threshold: key -> default (a number, or a bool for a switch such as
    ``require_pose``)."""
    found: dict[str, float] = {}
    for module in _modules():
        for name, value in vars(module).items():
            if (
                name.isupper()
                and isinstance(value, tuple)
                and len(value) == 2
                and isinstance(value[0], str)
                and isinstance(value[1], int | float)
            ):
                found[value[0]] = value[1]
    return dict(sorted(found.items()))


def _validate_severities(value: Any, origin: str) -> None:
    """``[content.severity]``: finding codes of the registry, each to error, warning or info. A misspelt
    code would silently leave the finding's severity as it was."""
    from ..codes import finding_codes

    if not isinstance(value, dict) or any(v not in ("error", "warning", "info") for v in value.values()):
        raise ProfileError(f"{origin}: [content.severity] maps finding codes to error, warning or info")
    unknown = sorted(code for code in value if code not in finding_codes())
    if unknown:
        close = {code: difflib.get_close_matches(code, finding_codes(), n=1) for code in unknown}
        named = ", ".join(code + (f" (did you mean {close[code][0]}?)" if close[code] else "") for code in unknown)
        raise ProfileError(f"{origin}: [content.severity] names no finding code: {named}")


def validate_content_gates(values: dict[str, Any], origin: str) -> None:
    """Refuse unknown keys, non-numbers and (for switches) non-booleans in a profile's ``[content]`` table."""
    known = content_gate_defaults()
    unknown = sorted(k for k in values if k not in known and k != SEVERITY_KEY)
    if unknown:
        raise ProfileError(
            f"{origin}: unknown key(s) in [content]: {', '.join(unknown)} (known: {', '.join(known)})"
        )
    for key, value in values.items():
        if key == SEVERITY_KEY:
            _validate_severities(value, origin)
        elif isinstance(known[key], bool):
            if not isinstance(value, bool):
                raise ProfileError(f"{origin}: [content] {key} must be true or false, not {value!r}")
        elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ProfileError(f"{origin}: [content] {key} must be a number, not {value!r}")
