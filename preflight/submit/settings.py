"""What the user asked a provider for, in provider-neutral words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..profiles import DEFAULT_MODEL

__all__ = ["SubmitSettings"]


@dataclass(frozen=True)
class SubmitSettings:
    """What the user asked for, in provider-neutral words."""

    mode: str
    """The route's mode: ``std`` (720p) / ``pro`` (1080p) for Kling, ``720p`` for Wan..."""
    orientation: str = "video"
    """``character_orientation``: ``video`` or ``image`` (Kling models only)."""
    prompt: str | None = None
    negative_prompt: str | None = None
    keep_sound: bool | None = None
    """None: the provider's default (every provider that has the field defaults to keeping it)."""
    callback_url: str | None = None
    model: str = DEFAULT_MODEL
    inputs: tuple[tuple[str, Any], ...] = ()
    """The model's own inputs (``element_id``, ``ratio``, ``seed``...), parsed, by name."""

    def as_dict(self) -> dict[str, Any]:
        out = {
            "mode": self.mode,
            "orientation": self.orientation,
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "keep_sound": self.keep_sound,
            "callback_url": self.callback_url,
        }
        # Left out at their defaults so a v2.6 job keeps the idempotency key it had before models existed.
        if self.model != DEFAULT_MODEL:
            out["model"] = self.model
        if self.inputs:
            out["inputs"] = dict(self.inputs)
        return out
