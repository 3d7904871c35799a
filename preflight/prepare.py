"""prepare: one subject image + one motion clip -> a checked, fixed, paired bundle ready to submit.

    >>> from preflight.prepare import prepare
    >>> result = prepare("me.jpg", "dance.mov", "job1/", profile="kling-v2.6", orientation="video")
    >>> result.ok, result.bundle.directory

Steps: check + fix both (``preflight.fix``), the pair checks (facing, framing) on the fixed pair, and
``manifest.json`` (``preflight.bundle``) naming the two files with their hashes, the profile, the
orientation and what was done. No manifest is written unless both outputs pass: ``submit`` trusts it.

A prepare that fails (an input cannot be fixed, the disk is full, Ctrl-C) in a folder it created
takes back what it wrote and removes the folder: no half bundle is left to be mistaken for one. A
folder that existed before is never removed.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .analyze.pair import framing_options, pair_findings
from .api import resolve_profile
from .bundle import Bundle, write_bundle
from .errors import UsageError
from .fix import FixReport, FixResult, fix
from .fix.outputs import OutputNamer
from .media.probe import probe
from .models import Finding, Item, to_dict

__all__ = ["PrepareResult", "prepare"]

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class PrepareResult:
    directory: Path
    fixed: FixReport
    """The fix of the image and the clip (before/after checks, actions)."""
    pair: tuple[Finding, ...]
    """Pair findings (facing, framing) of the fixed image against the fixed clip."""
    bundle: Bundle | None
    """The manifest written; None when an input could not be made acceptable."""

    @property
    def ok(self) -> bool:
        return self.bundle is not None

    @property
    def image(self) -> FixResult:
        return self.fixed.results[0]

    @property
    def video(self) -> FixResult:
        return self.fixed.results[1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "preflight.prepare/1",
            "directory": str(self.directory),
            "ok": self.ok,
            "manifest": str(self.directory / "manifest.json") if self.bundle else None,
            "pair_findings": [to_dict(f) for f in self.pair],
            "fix": self.fixed.to_dict(),
        }


def prepare(
    image: PathLike,
    video: PathLike,
    outdir: PathLike,
    profile: Any = None,
    orientation: str = "video",
    *,
    content: bool = True,
    **fix_options: Any,
) -> PrepareResult:
    """Check and fix ``image`` and ``video`` into ``outdir`` and write the bundle's manifest there."""
    _require_role(image, "image", "--image")
    _require_role(video, "video", "--video")
    prof = resolve_profile(profile)
    namer = OutputNamer(outdir, [image, video])
    bundle = None
    discarded = False
    try:
        if fix_options.get("reframe") and content:
            fixed = _fix_framed_like(image, video, outdir, prof, orientation, namer, fix_options)
        else:
            fixed = fix([image, video], outdir, prof, orientation, content=content, namer=namer, **fix_options)
        img, clip = fixed.results
        pair = (tuple(pair_findings(_with_pose(img), _with_pose(clip), orientation, prof.content.values))
                if content else ())  # fmt: skip
        if img.ok and clip.ok and img.output and clip.output:
            settings = {
                "content_checked": content,
                "actions": {"image": list(img.actions), "video": list(clip.actions)},
                "sources": {"image": str(image), "video": str(video)},
                "pair_findings": [f.code for f in pair],
            }
            bundle = write_bundle(outdir, img.output, clip.output, profile=prof.name, orientation=orientation,
                                  settings=settings, model=prof.model, provider=prof.provider)  # fmt: skip
    finally:
        if bundle is None and namer.created:
            namer.discard()  # a folder prepare made holds a bundle or nothing
            discarded = True
    if discarded:
        fixed = dataclasses.replace(fixed, results=tuple(_taken_back(r) for r in fixed.results))
    return PrepareResult(Path(outdir), fixed, pair, bundle)


def _fix_framed_like(
    image: PathLike, video: PathLike, outdir: PathLike, profile: Any, orientation: str, namer: OutputNamer,
    fix_options: dict[str, Any],
) -> FixReport:  # fmt: skip
    """``prepare --reframe``: check both, then fix the clip framed like the photo (or the photo cut to the
    clip's tighter shot type), each check reused by its fix (one decode of the clip, one pose pass)."""
    from .fix import FixOptions, check_input

    progress = fix_options.pop("progress", None)
    base = FixOptions(**fix_options)
    checked = {
        str(Path(p)): check_input(p, profile, orientation, verify=base.verify, stabilize=base.stabilize)
        for p in (image, video)
    }
    image_opts, clip_opts = framing_options(checked[str(Path(image))], checked[str(Path(video))])
    photo = fix([image], outdir, profile, orientation, namer=namer, checked=checked,
                options=dataclasses.replace(base, **image_opts))  # fmt: skip
    clip = fix([video], outdir, profile, orientation, namer=namer, checked=checked, progress=progress,
               options=dataclasses.replace(base, **clip_opts))  # fmt: skip
    return dataclasses.replace(photo, results=photo.results + clip.results)


def _taken_back(result: FixResult) -> FixResult:
    """A result whose output was removed with the unfinished bundle."""
    if not result.output:
        return result
    why = f"not kept: no bundle was written, so prepare removed what it had written ({result.output})"
    return dataclasses.replace(result, output=None, reason=why)


def _require_role(path: PathLike, role: str, option: str) -> None:
    info = probe(path)  # a broken file raises its own coded ProbeError here
    if info.role != role:
        raise UsageError(f"{option} {path} is {_a(info.role)}, not {_a(role)}")


def _a(role: str) -> str:
    return f"an {role}" if role == "image" else f"a {role}"


def _with_pose(result: FixResult) -> Item:
    """The output's check when it measured pose, else the input's (trims and remuxes keep framing)."""
    if result.after is not None and result.after.analysis.get("pose"):
        return result.after
    return result.before
