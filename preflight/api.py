"""The Python API the CLI, notebooks and pipelines call.

    >>> import preflight
    >>> info = preflight.probe("clip.mov")
    >>> report = preflight.check(["photo.jpg", "clip.mov"], profile="novita", orientation="image")
    >>> report.ok, report.summary
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from .errors import PreflightError, ProbeError, UsageError, memory_exhausted, out_of_memory
from .inputs import FolderScan, as_paths, no_files_error, open_regular, resolved, walk_folder
from .media.probe import probe
from .media.sniff import SNIFF_BYTES, sniff
from .models import POSE_UNAVAILABLE, Finding, Item, MediaInfo, Report, Severity, Skipped, verdict_for
from .profiles import ORIENTATIONS, Profile, load_profile
from .rules import check_media

__all__ = ["check", "check_one", "collect_inputs", "collect_paths", "probe", "resolve_profile"]

log = logging.getLogger("preflight")

PathLike = str | os.PathLike[str]
Paths = PathLike | Iterable[PathLike]
"""One path, or several: a lone string is one path (never its characters)."""


def resolve_profile(profile: Profile | str | os.PathLike[str] | None) -> Profile:
    """A Profile as is, a shipped profile's name, a TOML path, or None for the default."""
    return profile if isinstance(profile, Profile) else load_profile(profile)


def check(
    paths: Paths,
    profile: Profile | str | os.PathLike[str] | None = None,
    orientation: str = "video",
    *,
    content: bool = True,
    strict: bool = False,
    contact_sheet: PathLike | None = None,
    every_frame: bool = False,
) -> Report:
    """Check every path against a provider profile; a folder stands for every file below it.

    Each file below a folder gets an item, media or not (a text file named ``.mp4`` fails with
    ``format.unrecognized``); hidden files, sidecars and links out of the folder are left out and
    listed in ``Report.skipped`` with their reason (:func:`collect_inputs`).

    ``content=False`` runs the limits only (no pose, motion or quality analysis).
    ``contact_sheet``: write a PNG of sampled frames with the pose drawn for each clip (for several
    clips, ``sheet-<clip>.png`` beside the given name). Broken files become failing items; the other
    files are still checked.
    """
    prof = resolve_profile(profile)
    _validate_orientation(orientation)
    found = collect_inputs(paths)
    files = list(found.files)
    sheets = _sheet_paths(files, contact_sheet) if content and contact_sheet else {}
    items = [
        check_one(p, prof, orientation, content=content, strict=strict, contact_sheet=sheets.get(p),
                  every_frame=every_frame)
        for p in files
    ]
    if content:
        items = _with_pair_checks(items, prof, orientation, strict)
    return Report(profile=prof.name, orientation=orientation, items=tuple(items), strict=strict,
                  skipped=found.skipped, model=prof.model, provider=prof.provider)  # fmt: skip


def check_one(
    path: PathLike,
    profile: Profile,
    orientation: str = "video",
    *,
    content: bool = True,
    strict: bool = False,
    media: MediaInfo | None = None,
    contact_sheet: PathLike | None = None,
    every_frame: bool = False,
    every_sample: bool | None = None,
) -> Item:
    """Check one file: probe, limits, and (with ``content``) the content gates.

    ``every_frame``: decode a clip's non-reference pictures too and run pose on every sample (the
    content check leaves the first out and infers the samples of steady stretches: see
    :func:`preflight.analyze.analyze_clip`). ``every_sample`` sets the second alone (default: as
    ``every_frame``)."""
    try:
        info = media or probe(path)
    except ProbeError as exc:
        finding = Finding(exc.code, Severity.ERROR, exc.message, extra=exc.extra)
        return Item(path=str(path), role="unknown", verdict="fail", findings=(finding,))
    except Exception as exc:
        if not out_of_memory(exc):
            raise
        return Item(path=str(path), role="unknown", verdict="fail", findings=(_memory_finding(exc, path),))
    findings = list(check_media(info, profile, orientation))
    analysis: dict[str, Any] = {}
    if content and not _blocks_analysis(findings):
        metrics, content_findings = _analyze(info, profile, contact_sheet, every_frame, every_sample)
        analysis.update(metrics)
        findings.extend(_require_pose(_with_cures(content_findings, analysis, info, profile), profile, strict))
    ordered = tuple(sorted(findings, key=_severity_rank))
    return Item(
        path=str(path),
        role=info.role,
        verdict=verdict_for(ordered, strict),
        findings=ordered,
        media=info,
        analysis=analysis,
    )


def _validate_orientation(orientation: str) -> None:
    if orientation not in ORIENTATIONS:
        raise UsageError(f"orientation must be one of {', '.join(ORIENTATIONS)}, not {orientation!r}")


def _blocks_analysis(findings: list[Finding]) -> bool:
    # Decoding a decompression bomb is exactly what must not happen.
    return any(f.code == "image.too_many_pixels" for f in findings)


def _analyze(
    info: MediaInfo,
    profile: Profile,
    contact_sheet: PathLike | None,
    every_frame: bool = False,
    every_sample: bool | None = None,
) -> tuple[dict[str, Any], list[Finding]]:
    from . import analyze
    from .analyze.gates import validate_content_gates

    # A misspelt threshold would silently keep its default: refuse the profile instead.
    validate_content_gates(profile.content.values, profile.path or profile.name)
    thin = _too_thin(info)
    if thin is not None:
        return {}, [thin]
    try:
        if info.role == "image":
            metrics, found = analyze.analyze_image(info.path, info, profile.content)
        else:
            metrics, found = analyze.analyze_clip(
                info.path, info, profile.content, contact_sheet=contact_sheet, every_frame=every_frame,
                every_sample=every_sample,
            )  # fmt: skip
    except PreflightError as exc:
        return {}, [Finding(exc.code, Severity.ERROR, exc.message)]
    except Exception as exc:  # cv2, MediaPipe or a bug on one odd file must not stop the others
        if out_of_memory(exc):  # the machine, not a bug: this file's finding, the next file is checked
            return {}, [_memory_finding(exc, info.path)]
        if os.environ.get("PREFLIGHT_DEBUG") == "1":
            raise
        log.debug("content analysis of %s failed", info.path, exc_info=True)
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        message = f"content analysis failed ({reason}); --no-content checks the limits only"
        return {}, [Finding("analysis.error", Severity.ERROR, message)]
    return dict(metrics), list(found)


MAX_ANALYSIS_ASPECT = 10.0
"""The content gates look at pictures up to 10:1 (or 1:10): four times the widest aspect any provider
takes (Kling's 2.5:1; Runway's widest choice is 1584:672, 2.36:1), and as wide as a phone's panorama.
Beyond it no person can fill enough of the frame to be animated, and the pose pass's work grew with the
aspect: a 1x20000 PNG ran pose on ~40,000 one-pixel tiles, past 120 s."""


def _too_thin(info: MediaInfo) -> Finding | None:
    """``analysis.too_thin`` for a picture too thin to hold a person (see :data:`MAX_ANALYSIS_ASPECT`),
    found from the probe's displayed size before any pixel is decoded; None otherwise."""
    short, long = info.short_side, info.long_side
    if not short or long / short <= MAX_ANALYSIS_ASPECT:
        return None
    noun = "image" if info.role == "image" else "clip"
    return Finding(
        "analysis.too_thin", Severity.ERROR,
        f"the {noun} is {info.width}x{info.height}: too thin to hold a person (its long side is {long / short:.0f} "
        f"times its short side; the content gates look at up to {MAX_ANALYSIS_ASPECT:.0f} times), so pose, motion "
        "and quality were not checked",
        measured=round(long / short, 2), limit=MAX_ANALYSIS_ASPECT,
    )  # fmt: skip


def _memory_finding(exc: BaseException, path: PathLike) -> Finding:
    error = memory_exhausted(exc, os.fspath(path))
    return Finding(error.code, Severity.ERROR, error.message)


def _with_cures(findings: list[Finding], analysis: dict[str, Any], info: MediaInfo, profile: Profile) -> list[Finding]:
    """Say which content findings ``fix --reframe`` would cure (pure arithmetic on the pose track)."""
    from .framing.reframe import with_cures

    return with_cures(findings, analysis, info, profile)


def _require_pose(findings: list[Finding], profile: Profile, strict: bool) -> list[Finding]:
    """``pose.unavailable`` becomes an error (verdict fail, not fixable) with ``--strict`` or the
    profile's ``[content] require_pose = true``: a pose that was never checked must not pass."""
    from .analyze.pose_findings import REQUIRE_POSE

    required = bool(profile.content.get(*REQUIRE_POSE))
    if not (strict or required) or not any(f.code == POSE_UNAVAILABLE for f in findings):
        return findings
    why = "--strict" if strict else f"profile {profile.name} sets require_pose"
    message = "{} ({}: a file whose pose was not checked fails)"
    return [
        replace(f, severity=Severity.ERROR, fixable=False, message=message.format(f.message, why))
        if f.code == POSE_UNAVAILABLE
        else f
        for f in findings
    ]


def _sheet_paths(files: list[Path], sheet: PathLike) -> dict[Path, Path]:
    """Where each clip's contact sheet goes: the given name for one clip, numbered beside it otherwise."""
    clips = [f for f in files if _looks_like_clip(f)]
    target = Path(sheet)
    if len(clips) == 1:
        return {clips[0]: target}
    return {c: target.with_name(f"{target.stem}-{c.stem}{target.suffix or '.png'}") for c in clips}


def _looks_like_clip(path: Path) -> bool:
    try:
        with open_regular(path) as fh:
            return sniff(fh.read(SNIFF_BYTES)).kind == "video"
    except (OSError, ProbeError):
        return False


def _with_pair_checks(items: list[Item], profile: Profile, orientation: str, strict: bool) -> list[Item]:
    from .analyze.pair import pair_check

    return pair_check(items, profile, orientation, strict)


def _severity_rank(f: Finding) -> int:
    return {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}[f.severity]


def collect_paths(paths: Paths) -> list[Path]:
    """Expand folders into the files below them (see :func:`collect_inputs`); the files only."""
    return list(collect_inputs(paths).files)


def collect_inputs(paths: Paths, exclude: Paths = ()) -> FolderScan:
    """Expand folders into every file below them, and say what was skipped and why.

    Plain files are kept as given, even when they are not media: the check says what they are.
    Below a folder every file is kept too (a text file named ``.mp4``, an empty upload, a broken
    link, a FIFO: each gets its finding), except hidden files, sidecars and links out of the folder,
    which are counted with their reason (:mod:`preflight.inputs`). A folder with nothing to check is a
    UsageError. ``exclude``: folders never entered (fix's output folder inside an input folder, so a
    second run does not fix its own outputs).
    """
    out: list[Path] = []
    skipped: list[Skipped] = []
    excluded = [resolved(e) for e in as_paths(exclude)]
    for raw in as_paths(paths):
        p = Path(raw)
        if p.is_dir():
            scan = walk_folder(p, exclude=excluded)
            if not scan.files:
                raise no_files_error(str(p), scan.skipped)
            out.extend(scan.files)
            skipped.extend(scan.skipped)
        else:
            out.append(p)
    return FolderScan(tuple(out), tuple(skipped))
