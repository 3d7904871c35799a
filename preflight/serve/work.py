"""What the server's jobs run in the batch pool's worker processes (never in the event loop).

Each function takes and returns plain, picklable data, as :func:`preflight.batch.work.process_file`
does, so it runs on the same :class:`~preflight.batch.executors.LocalExecutor` workers (profile and pose
model loaded once per worker). Progress goes to ``progress.json`` in the job's folder (written whole and
renamed), which the server reads when the job is polled: no queue between processes to keep alive.

Reports name files by the labels the client gave (``dance.mov``), never by the server's own paths.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .views import NOUNS, check_view, fix_view, prepare_view, window_text

__all__ = ["PROGRESS_FILE", "read_progress", "run_check", "run_fix", "run_prepare", "run_preview", "timeline"]

PROGRESS_FILE = "progress.json"
Files = list[tuple[str, str, str]]
"""(field, server path, label) per uploaded file."""


class _Progress:
    def __init__(self, folder: str) -> None:
        self.path = Path(folder) / PROGRESS_FILE
        self.last = 0.0

    def __call__(self, stage: str, done: float = 0.0, total: float = 0.0, *, force: bool = True) -> None:
        now = time.monotonic()
        if not force and now - self.last < 0.2:
            return
        self.last = now
        tmp = self.path.with_name(f".{PROGRESS_FILE}.{os.getpid()}")
        tmp.write_text(json.dumps({"stage": stage, "done": round(done, 3), "total": round(total, 3)}))
        os.replace(tmp, self.path)


def read_progress(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    try:
        return json.loads((Path(folder) / PROGRESS_FILE).read_text())
    except (OSError, ValueError):
        return None


def _relabel(data: Any, labels: Mapping[str, str], folder: str | None = None) -> Any:
    """``data`` with every server path replaced by its label, also inside a message ("…: the output lost
    media"); any other path in the job's ``folder`` (a bundle's ``image.png``) by its name there."""
    if isinstance(data, str):
        if data in labels:
            return labels[data]
        for path in sorted(labels, key=len, reverse=True):
            if path in data:
                data = data.replace(path, labels[path])
        if folder and folder in data:
            data = re.sub(re.escape(folder) + r"/(?:[^\s'\"(),;]*/)?([^\s'\"(),;/]*)", r"\1", data)
        return data
    if isinstance(data, dict):
        return {k: _relabel(v, labels, folder) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_relabel(v, labels, folder) for v in data]
    return data


def _named(files: Files, folder: str) -> Files:
    """``files`` reached under the client's names (hard links in ``folder/named``), so what fix and the pictures
    write of a name (a contact sheet's title, an output's stem) is the creator's ``dance.mp4``, not the
    server's ``video.mp4``. The label is already cleaned (:func:`.uploads.safe_label`); the extension stays
    the one the server sniffed."""
    named = Path(folder) / "named"
    named.mkdir(exist_ok=True)
    out = []
    for field, path, label in files:
        target = named / f"{Path(label).stem or field}{Path(path).suffix}"
        if target.exists() or target.name.startswith("."):
            target = named / f"{field}{Path(path).suffix}"
        try:
            os.link(path, target)
        except OSError:  # another file system, or the name is taken: the server's own name does
            target = Path(path)
        out.append((field, str(target), label))
    return out


def run_check(files: Files, profile_ref: str | None, orientation: str, content: bool, strict: bool,
              folder: str) -> dict[str, Any]:  # fmt: skip
    """Check the uploaded files (and the pair, with content): the report, the clip's timeline, the pictures
    (the photo and the clip's first kept frame with the pose drawn, the contact sheet), the page's view."""
    from ..analyze.pair import pair_check
    from ..api import check_one, resolve_profile
    from ..models import Report
    from ..report import report_to_dict

    started = time.time()
    progress = _Progress(folder)
    profile = resolve_profile(profile_ref)
    files = _named(files, folder)
    items = []
    out_files: dict[str, str] = {}
    for n, (field, path, label) in enumerate(files):
        progress(f"checking the {NOUNS[field]} ({label})", n, len(files))
        sheet = os.path.join(folder, "sheet.png") if content and field == "video" else None
        item = check_one(path, profile, orientation, content=content, strict=strict, contact_sheet=sheet)
        items.append(item)
        if sheet and os.path.exists(sheet):
            out_files["sheet.png"] = sheet
        elif content and field == "image" and item.media is not None:
            progress(f"drawing the pose on the {NOUNS[field]}", n + 0.9, len(files))
            picture = _image_with_pose(item, folder)
            if picture:
                out_files["image-pose.jpg"] = picture
    if content:
        progress("checking the pair", len(files), len(files))
        items = pair_check(items, profile, orientation, strict)
    report = Report(profile=profile.name, orientation=orientation, items=tuple(items), strict=strict,
                    model=profile.model, provider=profile.provider)  # fmt: skip
    labels = {path: label for _, path, label in files}
    video = next((i for i, (field, _, _) in zip(items, files, strict=True) if field == "video"), None)
    line = timeline(video, profile, orientation) if video is not None else None
    if content and line is not None and video is not None:
        progress("drawing the pose on the clip's first frame", len(files), len(files))
        first = _frame_with_pose(video.path, line["suggested"]["start"], folder)
        if first:
            out_files["video-first-pose.jpg"] = first
    data = _relabel(report_to_dict(report), labels, folder)
    return {
        "report": data,
        "timeline": line,
        "files": out_files,
        "page": check_view(data, [field for field, _, _ in files]),
        "worker": _worker(started),
    }


def _worker(started: float) -> dict[str, Any]:
    """Which pool worker ran the job and when (wall clock): shows two uploads checked side by side."""
    return {"pid": os.getpid(), "started": round(started, 3), "finished": round(time.time(), 3)}


def _frame_with_pose(path: str, at: float, folder: str) -> str | None:
    from ..batch.preview import frame_data_uri

    try:
        uri = frame_data_uri(path, at)
    except Exception:  # a picture is a help, never the reason a check fails (the check said what is wrong)
        return None
    if not uri:
        return None
    target = os.path.join(folder, "video-first-pose.jpg")
    Path(target).write_bytes(base64.b64decode(uri.split(",", 1)[1]))
    return target


def _image_with_pose(item: Any, folder: str) -> str | None:
    from ..batch.preview import preview_data_uri

    uri = preview_data_uri(item, pose=True, tiles=1)
    if not uri:
        return None
    target = os.path.join(folder, "image-pose.jpg")
    Path(target).write_bytes(base64.b64decode(uri.split(",", 1)[1]))
    return target


def timeline(item: Any, profile: Any, orientation: str) -> dict[str, Any] | None:
    """What the page draws under a clip: per-sample person/torso visibility, the cuts, the allowed window
    length and the window fix would keep (the one ``window=best`` chooses, or the whole clip)."""
    if item is None or item.media is None or not item.media.duration:
        return None
    from ..fix.ops import Trim
    from ..fix.plan import FixOptions, hints_from_analysis, plan_fix

    info = item.media
    duration = float(info.duration)
    pose = item.analysis.get("pose") or {}
    samples = [
        [round(float(row[0]), 3), int(len(row) >= 6 and min(row[2:6]) >= 0), int(bool(row[1]))]
        for row in pose.get("track") or ()
        if len(row) >= 2
    ]
    cuts = [float(t) for t in (item.analysis.get("scene_cuts") or {}).get("times") or ()]
    damage = sorted({round(float(t), 3) for f in item.findings if f.code == "video.corrupt_frames"
                     for t in (f.extra or {}).get("times") or ()})  # fmt: skip
    cap = profile.video.duration_cap(orientation)
    shortest = profile.video.min_duration or 0.0
    start, end, why = 0.0, min(duration, cap) if cap else duration, "the whole clip fits"
    try:
        from ..fix.video import keyframe_times

        keyframes: Any = keyframe_times(info.path)
    except Exception:  # no index: the planner re-encodes a trim, the window is the same
        keyframes = None
    try:
        plan = plan_fix(info, item.findings, profile, orientation, FixOptions(), hints_from_analysis(item.analysis),
                        keyframes)  # fmt: skip
        trim = plan.find(Trim)
        if trim is not None:
            start, end = trim.start, trim.end
            why = next((n for n in plan.notes if n.startswith("window")), "the first window of the allowed length")
    except Exception as exc:  # a plan that cannot be made still leaves a timeline worth drawing
        why = f"no suggestion ({type(exc).__name__})"
    return {
        "duration": round(duration, 3),
        "samples": samples,
        "sample_columns": ["time", "person", "torso"],
        "cuts": cuts,
        "damage": damage,
        "max_length": cap,
        "min_length": shortest,
        "suggested": {"start": round(start, 3), "end": round(end, 3), "why": why,
                      "text": window_text(why, start, end, duration)},
        "pose_checked": bool(pose),
    }


def run_fix(files: Files, outdir: str, profile_ref: str | None, orientation: str, options: dict[str, Any],
            content: bool, strict: bool, folder: str) -> dict[str, Any]:  # fmt: skip
    """Fix the uploaded files into ``outdir``: the fix report and the outputs by server-side name."""
    from ..fix import fix

    started = time.time()
    progress = _Progress(folder)
    progress("checking", 0, 1)
    files = _named(files, folder)
    labels = {path: label for _, path, label in files}

    def on_progress(path: str, done: float, total: float) -> None:
        progress(f"writing {labels.get(path, path)}", done, total, force=False)

    report = fix([path for _, path, _ in files], outdir, profile_ref, orientation, content=content, strict=strict,
                 progress=on_progress, **options)  # fmt: skip
    progress("done", 1, 1)
    outputs = []
    out_files: dict[str, str] = {}
    for (field, _, label), result in zip(files, report.results, strict=True):
        if result.output:
            outputs.append(_offered(field, result.output, label, result.after, out_files, labels))
            _content_fix_frames(outputs[-1], result, folder, out_files)
    data = _relabel(report.to_dict(), labels, folder)
    return {"report": data, "outputs": outputs, "files": out_files, "ok": report.ok,
            "page": fix_view(data, outputs, [field for field, _, _ in files]), "worker": _worker(started)}  # fmt: skip


def _offered(field: str, output: str, label: str, after: Any, out_files: dict[str, str],
             labels: dict[str, str]) -> dict[str, Any]:  # fmt: skip
    """Register ``output`` for download under a server-chosen name; its row for the page."""
    name = f"{field}{Path(output).suffix}"
    out_files[name] = output
    labels[output] = f"{Path(label).stem}-ready{Path(output).suffix}"
    return {"field": field, "name": name, "download_name": labels[output],
            "verdict": after.verdict if after else None}  # fmt: skip


def _content_fix_frames(row: dict[str, Any], result: Any, folder: str, out_files: dict[str, str]) -> None:
    """The before/after pictures of a reframed clip (``reframe-video.jpg``: frames with the skeleton) and of a
    steadied one (``stabilize-video.jpg``: frames and the picture's path), named in its row."""
    from ..batch.preview import reframe_preview_for
    from ..batch.shake_preview import stabilize_preview_for

    for kind, made in (("reframe", reframe_preview_for), ("stabilize", stabilize_preview_for)):
        uri = made(result)
        if not uri:
            continue
        name = f"{kind}-{row['field']}.jpg"
        target = os.path.join(folder, name)
        Path(target).write_bytes(base64.b64decode(uri.split(",", 1)[1]))
        out_files[name] = target
        row[f"{kind}_preview"] = name


def run_prepare(files: Files, outdir: str, profile_ref: str | None, orientation: str, options: dict[str, Any],
                content: bool, folder: str) -> dict[str, Any]:  # fmt: skip
    """``prepare`` of the uploaded image and clip: fixed pair, pair findings, manifest (the bundle submit reads)."""
    from ..prepare import prepare

    started = time.time()
    progress = _Progress(folder)
    files = _named(files, folder)
    byfield = {field: (path, label) for field, path, label in files}
    labels = {path: label for path, label in byfield.values()}
    progress("checking and fixing the pair", 0, 1)

    def on_progress(path: str, done: float, total: float) -> None:
        progress(f"writing {labels.get(path, path)}", done, total, force=False)

    result = prepare(byfield["image"][0], byfield["video"][0], outdir, profile_ref, orientation, content=content,
                     progress=on_progress, **options)  # fmt: skip
    progress("done", 1, 1)
    out_files: dict[str, str] = {}
    outputs = []
    for field, fixed in (("image", result.image), ("video", result.video)):
        if fixed.output:
            outputs.append(_offered(field, fixed.output, byfield[field][1], fixed.after, out_files, labels))
            _content_fix_frames(outputs[-1], fixed, folder, out_files)
    if result.bundle is not None:
        out_files["manifest.json"] = str(Path(outdir) / "manifest.json")
        outputs.append({"field": "manifest", "name": "manifest.json", "download_name": "manifest.json",
                        "verdict": None})  # fmt: skip
    labels[str(result.directory)] = "bundle"
    data = _relabel(result.to_dict(), labels, folder)
    data["manifest"] = "manifest.json" if result.bundle is not None else None
    return {"report": data, "outputs": outputs, "files": out_files, "ok": result.ok,
            "bundle": str(result.directory) if result.ok else None, "page": prepare_view(data, outputs),
            "worker": _worker(started)}  # fmt: skip


PREVIEW_SIDE = 640
"""Long side (px) of a preview the server re-encodes: enough to judge framing and motion in the page's player,
cheap to make (the decode of the source is most of the cost)."""


def browser_plays(info: Any) -> bool:
    """Whether every browser plays this clip as it is: H.264 in MP4, 8-bit 4:2:0, SDR (HEVC, AVI, MOV, 10-bit
    and HDR do not play everywhere, or play with washed-out colours)."""
    v = info.video
    if info.format != "mp4" or v is None or v.codec != "h264" or v.hdr:
        return False
    return (v.bit_depth or 8) <= 8 and str(v.pix_fmt or "yuv420p").startswith(("yuv420p", "yuvj420p"))


def run_preview(path: str, folder: str) -> dict[str, Any]:
    """``preview.mp4`` of the clip at ``path``: the clip itself (a hard link) when :func:`browser_plays`, else
    fix's own re-encode under a profile that asks only for that (H.264 in MP4; HDR tone-mapped; rotation,
    damage and odd pixels handled as fix handles them), at most :data:`PREVIEW_SIDE` px."""
    from ..fix import fix
    from ..media.probe import probe
    from ..profiles import Profile
    from ..profiles.limits import ImageLimits, VideoLimits

    started = time.time()
    progress = _Progress(folder)
    progress("looking at the clip", 0, 1)
    target = os.path.join(folder, "preview.mp4")
    info = probe(path)
    if browser_plays(info):
        try:
            os.link(path, target)
        except OSError:
            import shutil

            shutil.copyfile(path, target)
        return {"made": False, "files": {"preview.mp4": target}, "worker": _worker(started)}
    plays = VideoLimits(containers=("mp4",), video_codecs=("h264",), audio_codecs=("aac",))
    browser = Profile(name="a preview the browser plays", description="", provider=None, image=ImageLimits(),
                      video=plays)  # fmt: skip

    def on_progress(_: str, done: float, total: float) -> None:
        progress("making a preview the browser can play", done, total, force=False)

    report = fix([path], os.path.join(folder, "out"), browser, content=False, max_side=PREVIEW_SIDE,
                 progress=on_progress)  # fmt: skip
    result = report.results[0]
    if not result.output:
        from ..errors import FixError

        raise FixError(f"no preview could be made: {result.reason or 'the clip could not be re-encoded'}",
                       "fix.failed")  # fmt: skip
    os.replace(result.output, target)
    return {"made": True, "actions": list(result.actions), "files": {"preview.mp4": target},
            "worker": _worker(started)}
