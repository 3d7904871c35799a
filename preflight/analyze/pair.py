"""Pair checks: does the subject image go with the motion clip?

Kling's Motion Control copies the clip's motion onto the image's character. Two things decide how
well that goes and neither shows when each file is checked alone (PROVIDERS.md, provider guides):
- which way the person faces: ``character_orientation=video`` turns the character to face as in the
  clip; ``image`` keeps the image's facing (and caps the clip at 10 s);
- framing: a half-body image driven by a full-body clip (or the reverse) gives cut-off or floating limbs.
  The two are compared by shot type (which body parts show: close-up, half body, full body; from the
  landmarks, :data:`.pose_landmarks.SHOT_TYPES`), and within one shot type by how much of the height
  the person fills. :func:`framing_options` is what ``prepare --reframe`` does about it.

Pure functions over the items' pose metrics: no decoding here.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..models import Finding, Item, Severity, verdict_for
from ..profiles import Profile

__all__ = ["FRAMING_RATIO", "SHOT_WORDS", "framing_options", "pair_check", "pair_findings", "shot_types"]

FRAMING_RATIO_GATE = ("framing_ratio", 1.7)
FRAMING_RATIO = FRAMING_RATIO_GATE[1]
"""Subject heights (share of the frame) further apart than this read as different framings. A
head-and-torso portrait fills ~0.8-1.0 of the height, a full body in a wide dance shot ~0.4-0.6:
ratios around 2; the same framing with a slow zoom stays within ~1.2."""

SHOT_WORDS = {
    "close-up": "a close-up (head and shoulders)",
    "half-body": "a half-body shot (head to hips)",
    "full-body": "a full-body shot (head to feet)",
}
SHOT_ORDER = tuple(SHOT_WORDS)
"""Tightest first, as :data:`.pose_landmarks.SHOT_TYPES` (not imported: this module stays free of numpy)."""

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
    shots = shot_types(image, clip)
    if shots is not None and shots[0] != shots[1]:
        found.append(_shot_finding(*shots, image.path))
        return found
    framing = _framing_finding(_image_height(img_pose), _clip_height(clip_pose), ratio_limit, image.path)
    if framing is not None:
        found.append(framing)
    return found


def shot_types(image: Item, clip: Item) -> tuple[str, str] | None:
    """(the photo's shot type, the clip's) when pose knows both."""
    img, vid = (image.analysis.get("pose") or {}).get("shot"), (clip.analysis.get("pose") or {}).get("shot")
    if img in SHOT_ORDER and vid in SHOT_ORDER:
        return img, vid
    return None


def _shot_finding(img: str, clip: str, image_path: str) -> Finding:
    clip_wider = SHOT_ORDER.index(clip) > SHOT_ORDER.index(img)
    tighter = SHOT_WORDS[img if clip_wider else clip].split(" (")[0]
    cure = f"prepare --reframe crops the {'clip' if clip_wider else 'photo'} to {tighter}"
    lacks = "the photo lacks the body parts the clip moves (invented limbs)" if clip_wider else (
        "the clip moves fewer body parts than the photo shows (limbs left still or floating)")
    return Finding(
        "framing.mismatch", Severity.WARNING,
        f"the photo is {SHOT_WORDS[img]} and the clip {SHOT_WORDS[clip]}: {lacks}; {cure} (fixable with --reframe)",
        measured=f"{img}/{clip}", limit="same shot type",
        extra={"image": image_path, "image_shot": img, "clip_shot": clip, "fixable_with": "--reframe"},
    )  # fmt: skip


def framing_options(image: Item, clip: Item) -> tuple[dict[str, Any], dict[str, Any]]:
    """What ``prepare --reframe`` asks of each file (:class:`preflight.fix.FixOptions` fields): the clip framed
    like the photo (the photo's share of the height and shape, cut to its shot type when the clip shows
    more), or, when the clip is the tighter one, the photo cut to the clip's shot type."""
    img_pose, clip_pose = image.analysis.get("pose") or {}, clip.analysis.get("pose") or {}
    photo_share, clip_share = _image_height(img_pose), _clip_height(clip_pose)
    media = image.media
    clip_opts: dict[str, Any] = {"subject_share": photo_share} if photo_share else {}
    if media is not None and media.width and media.height:
        clip_opts["subject_aspect"] = media.width / media.height
    image_opts: dict[str, Any] = {}
    shots = shot_types(image, clip)
    if shots is not None and shots[0] != shots[1]:
        img, vid = shots
        if SHOT_ORDER.index(vid) > SHOT_ORDER.index(img):
            clip_opts.update(shot=img, shot_from="photo")
        else:  # the clip is tighter: the photo is cut, the clip keeps its own share (nothing to enlarge to)
            image_opts.update(shot=vid, shot_from="clip", subject_share=clip_share)
            clip_opts["subject_share"] = clip_share
    return image_opts, {k: v for k, v in clip_opts.items() if v is not None}


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
    cure = " (fixable with --reframe: prepare --reframe enlarges the clip's person)" if closer == "image" else ""
    return Finding(
        "framing.mismatch", Severity.WARNING,
        f"the person fills {img_h:.0%} of the image's height but {clip_h:.0%} of the clip's: the {closer} "
        f"is framed much closer; matching framing gives better motion transfer{cure}",
        measured=round(ratio, 2), limit=limit,
        extra={"image": image_path, **({"fixable_with": "--reframe"} if cure else {})},
    )  # fmt: skip


def _image_height(pose: dict[str, Any]) -> float | None:
    box = pose.get("bbox")
    return float(box[3] - box[1]) if box else None


def _clip_height(pose: dict[str, Any]) -> float | None:
    # track rows: [time, torso_visible, x0, y0, x1, y1], -1s when no person was found
    heights = [row[5] - row[3] for row in pose.get("track") or [] if len(row) >= 6 and row[2] >= 0]
    return statistics.median(heights) if heights else None
