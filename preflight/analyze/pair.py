"""Pair checks: does the subject image go with the motion clip?

Kling's Motion Control copies the clip's motion onto the image's character. Two things decide how
well that goes and neither shows when each file is checked alone (PROVIDERS.md, provider guides):
- which way the person faces: ``character_orientation=video`` turns the character to face as in the
  clip; ``image`` keeps the image's facing (and caps the clip at 10 s);
- framing: a half-body image driven by a full-body clip (or the reverse) gives cut-off or floating limbs.

Pure functions over the items' pose metrics: no decoding here.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..models import Finding, Item, Severity, verdict_for
from ..profiles import Profile

__all__ = ["FRAMING_RATIO", "pair_check", "pair_findings"]

FRAMING_RATIO_GATE = ("framing_ratio", 1.7)
FRAMING_RATIO = FRAMING_RATIO_GATE[1]
"""Subject heights (share of the frame) further apart than this read as different framings. A
head-and-torso portrait fills ~0.8-1.0 of the height, a full body in a wide dance shot ~0.4-0.6:
ratios around 2; the same framing with a slow zoom stays within ~1.2."""

_OPPOSITE = {("left", "right"), ("right", "left"), ("front", "back"), ("back", "front")}


def pair_check(items: Sequence[Item], profile: Profile, orientation: str, strict: bool = False) -> list[Item]:
    """Add pair findings to the clips when exactly one image was checked with them."""
    images = [i for i in items if i.role == "image"]
    if len(images) != 1:
        return list(items)
    image = images[0]
    out = []
    for item in items:
        if item.role == "video":
            extra = pair_findings(image, item, orientation, profile.content.values)
            if extra:
                findings = (*item.findings, *extra)
                item = replace(item, findings=findings, verdict=verdict_for(findings, strict))
        out.append(item)
    return out


def pair_findings(image: Item, clip: Item, orientation: str, gates: dict[str, Any] | None = None) -> list[Finding]:
    img_pose, clip_pose = image.analysis.get("pose") or {}, clip.analysis.get("pose") or {}
    if not img_pose.get("person") or not clip_pose.get("person_share"):
        return []
    found = []
    facing = _facing_finding(img_pose.get("facing"), clip_pose.get("facing"), orientation, image.path)
    if facing is not None:
        found.append(facing)
    ratio_limit = float((gates or {}).get(*FRAMING_RATIO_GATE))
    framing = _framing_finding(_image_height(img_pose), _clip_height(clip_pose), ratio_limit, image.path)
    if framing is not None:
        found.append(framing)
    return found


def _facing_finding(img: str | None, clip: str | None, orientation: str, image_path: str) -> Finding | None:
    if not img or not clip or img == clip:
        return None
    opposite = (img, clip) in _OPPOSITE
    if orientation == "image":
        return Finding(
            "orientation.mismatch", Severity.WARNING,
            f"the person faces {img} in the image but {clip} in the clip; with orientation=image the "
            f"character keeps the image's facing while doing the clip's motion"
            f"{' (mirrored movement likely)' if opposite else ''}: --orientation video follows the clip",
            measured=f"{img}/{clip}", limit="same facing", extra={"image": image_path, "recommend": "video"},
        )  # fmt: skip
    return Finding(
        "orientation.mismatch", Severity.INFO,
        f"the person faces {img} in the image and {clip} in the clip; with orientation=video the "
        "character turns to face as in the clip",
        measured=f"{img}/{clip}", limit="same facing", extra={"image": image_path, "recommend": "video"},
    )  # fmt: skip


def _framing_finding(img_h: float | None, clip_h: float | None, limit: float, image_path: str) -> Finding | None:
    if not img_h or not clip_h:
        return None
    ratio = max(img_h, clip_h) / min(img_h, clip_h)
    if ratio <= limit:
        return None
    closer = "image" if img_h > clip_h else "clip"
    return Finding(
        "framing.mismatch", Severity.WARNING,
        f"the person fills {img_h:.0%} of the image's height but {clip_h:.0%} of the clip's: the {closer} "
        "is framed much closer (half body vs full body); matching framing gives better motion transfer",
        measured=round(ratio, 2), limit=limit, extra={"image": image_path},
    )  # fmt: skip


def _image_height(pose: dict[str, Any]) -> float | None:
    box = pose.get("bbox")
    return float(box[3] - box[1]) if box else None


def _clip_height(pose: dict[str, Any]) -> float | None:
    # track rows: [time, torso_visible, x0, y0, x1, y1], -1s when no person was found
    heights = [row[5] - row[3] for row in pose.get("track") or [] if len(row) >= 6 and row[2] >= 0]
    return statistics.median(heights) if heights else None
