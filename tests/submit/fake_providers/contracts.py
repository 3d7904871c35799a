"""The documented create bodies, per provider and endpoint/model (PROVIDERS.md), for the fakes to enforce.

A fake answers a create whose body breaks its contract the way its provider does (a 400/422 with
its error shape), so a client that sends a v2.6 field to v3, a bool where a string is wanted or an
unknown field fails here as it would for real.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["CONTRACTS", "Contract", "problems"]


@dataclass(frozen=True)
class Contract:
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    enums: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    bools: tuple[str, ...] = ()
    one_url_lists: tuple[str, ...] = ()
    elements: bool = False
    """fal v3 pro's ``elements``: a list of one ``{image_url}``, orientation video (as far as documented)."""


def problems(contract: Contract, data: dict[str, Any]) -> list[str]:
    found = [f"{k} is required" for k in contract.required if data.get(k) in (None, "", [])]
    found += [f"unknown field {k}" for k in data if k not in (*contract.required, *contract.optional)]
    found += [f"{k} must be one of {', '.join(map(str, v))}" for k, v in contract.enums.items()
              if k in data and data[k] not in v]  # fmt: skip
    found += [f"{k} must be a boolean" for k in contract.bools if k in data and not isinstance(data[k], bool)]
    found += [f"{k} must be a list of one URL" for k in contract.one_url_lists
              if k in data and not (isinstance(data[k], list) and len(data[k]) == 1)]  # fmt: skip
    if contract.elements and "elements" in data:
        elements = data["elements"]
        one = elements[0] if isinstance(elements, list) and len(elements) == 1 else None
        if not (isinstance(one, dict) and set(one) == {"image_url"} and str(one["image_url"]).startswith("http")):
            found.append("elements must be a list of one {image_url}")
        elif data.get("character_orientation") != "video":
            found.append("elements needs character_orientation video")
    return found


_ORIENT = {"character_orientation": ("image", "video")}
_KLING_FAL = Contract(("image_url", "video_url", "character_orientation"), ("prompt", "keep_original_sound"),
                      _ORIENT, ("keep_original_sound",))  # fmt: skip
_WAN_FAL = Contract(
    ("video_url", "image_url"),
    ("resolution", "guidance_scale", "num_inference_steps", "shift", "seed", "enable_safety_checker"),
    {"resolution": ("480p", "580p", "720p")},
    ("enable_safety_checker",),
)
_KLING_REPLICATE = Contract(("image", "video"), ("prompt", "mode", "character_orientation", "keep_original_sound"),
                            {**_ORIENT, "mode": ("std", "pro")}, ("keep_original_sound",))  # fmt: skip
_WAN_REPLICATE = Contract(("video", "character_image"),
                          ("resolution", "frames_per_second", "go_fast", "refert_num", "merge_audio", "seed"),
                          {"resolution": ("480", "720")}, ("go_fast", "merge_audio"))  # fmt: skip
_KIE_26 = Contract(("input_urls", "video_urls", "character_orientation", "mode"), ("prompt",),
                   {**_ORIENT, "mode": ("720p", "1080p")}, one_url_lists=("input_urls", "video_urls"))  # fmt: skip
_NOVITA_26 = Contract(("image", "video", "character_orientation"), ("prompt", "negative_prompt", "keep_original_sound"),
                      _ORIENT, ("keep_original_sound",))  # fmt: skip

CONTRACTS: dict[str, dict[str, Contract]] = {
    "fal": {
        "fal-ai/kling-video/v2.6/standard/motion-control": _KLING_FAL,
        "fal-ai/kling-video/v2.6/pro/motion-control": _KLING_FAL,
        "fal-ai/kling-video/v3/standard/motion-control": _KLING_FAL,
        "fal-ai/kling-video/v3/pro/motion-control": Contract(
            _KLING_FAL.required, (*_KLING_FAL.optional, "elements"), _KLING_FAL.enums, _KLING_FAL.bools,
            elements=True,
        ),
        "fal-ai/wan/v2.2-14b/animate/move": _WAN_FAL,
        "fal-ai/wan/v2.2-14b/animate/replace": _WAN_FAL,
        "fal-ai/bytedance/dreamactor/v2": Contract(("image_url", "video_url")),
    },
    "replicate": {
        "kwaivgi/kling-v2.6-motion-control": _KLING_REPLICATE,
        "kwaivgi/kling-v3-motion-control": _KLING_REPLICATE,
        "wan-video/wan-2.2-animate-animation": _WAN_REPLICATE,
        "wan-video/wan-2.2-animate-replace": _WAN_REPLICATE,
        "bytedance/dreamactor-m2.0": Contract(("image", "video"), ("cut_first_second",), bools=("cut_first_second",)),
    },
    "kie": {
        "kling-2.6/motion-control": _KIE_26,
        "kling-3.0/motion-control": Contract(
            _KIE_26.required,
            ("prompt", "background_source"),
            {**_KIE_26.enums, "background_source": ("input_video", "input_image")},
            one_url_lists=_KIE_26.one_url_lists,
        ),
    },
    "novita": {
        "/v3/async/kling-v2.6-pro-motion-control": _NOVITA_26,
        "/v3/async/kling-v3.0-motion-control": Contract(
            _NOVITA_26.required,
            (*_NOVITA_26.optional, "model_name"),
            {**_ORIENT, "model_name": ("kling-v3-0-std", "kling-v3-0-pro")},
            _NOVITA_26.bools,
        ),
    },
}
