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
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["PROGRESS_FILE", "read_progress", "run_check", "run_fix", "run_prepare", "timeline"]

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


def _relabel(data: Any, labels: Mapping[str, str]) -> Any:
    """``data`` with every string that is a server path replaced by its label."""
    if isinstance(data, str):
        return labels.get(data, data)
    if isinstance(data, dict):
        return {k: _relabel(v, labels) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_relabel(v, labels) for v in data]
    return data


def run_check(files: Files, profile_ref: str | None, orientation: str, content: bool, strict: bool,
              folder: str) -> dict[str, Any]:  # fmt: skip
    """Check the uploaded files (and the pair, with content): the report, the clip's timeline, the pictures."""
    from ..analyze.pair import pair_check
    from ..api import check_one, resolve_profile
    from ..models import Report
    from ..report import report_to_dict

    started = time.time()
    progress = _Progress(folder)
    profile = resolve_profile(profile_ref)
    items = []
    out_files: dict[str, str] = {}
    for n, (field, path, label) in enumerate(files):
        progress(f"checking the {field} ({label})", n, len(files))
        sheet = os.path.join(folder, "sheet.png") if content and field == "video" else None
        item = check_one(path, profile, orientation, content=content, strict=strict, contact_sheet=sheet)
        items.append(item)
        if sheet and os.path.exists(sheet):
            out_files["sheet.png"] = sheet
        elif content and field == "image" and item.media is not None:
            progress(f"drawing the pose on the {field}", n + 0.9, len(files))
            picture = _image_with_pose(item, folder)
            if picture:
                out_files["image-pose.jpg"] = picture
    if content:
        progress("pair check", len(files), len(files))
        items = pair_check(items, profile, orientation, strict)
    report = Report(profile=profile.name, orientation=orientation, items=tuple(items), strict=strict,
                    model=profile.model, provider=profile.provider)  # fmt: skip
    labels = {path: label for _, path, label in files}
    video = next((i for i, (field, _, _) in zip(items, files, strict=True) if field == "video"), None)
    return {
        "report": _relabel(report_to_dict(report), labels),
        "timeline": timeline(video, profile, orientation) if video is not None else None,
        "files": out_files,
        "worker": _worker(started),
    }


def _worker(started: float) -> dict[str, Any]:
    """Which pool worker ran the job and when (wall clock): shows two uploads checked side by side."""
    return {"pid": os.getpid(), "started": round(started, 3), "finished": round(time.time(), 3)}


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
        "max_length": cap,
        "min_length": shortest,
        "suggested": {"start": round(start, 3), "end": round(end, 3), "why": why},
        "pose_checked": bool(pose),
    }


def run_fix(files: Files, outdir: str, profile_ref: str | None, orientation: str, options: dict[str, Any],
            content: bool, strict: bool, folder: str) -> dict[str, Any]:  # fmt: skip
    """Fix the uploaded files into ``outdir``: the fix report and the outputs by server-side name."""
    from ..fix import fix

    started = time.time()
    progress = _Progress(folder)
    progress("checking", 0, 1)
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
            _reframe_frames(outputs[-1], result, folder, out_files)
    return {"report": _relabel(report.to_dict(), labels), "outputs": outputs, "files": out_files,
            "ok": report.ok, "worker": _worker(started)}  # fmt: skip


def _offered(field: str, output: str, label: str, after: Any, out_files: dict[str, str],
             labels: dict[str, str]) -> dict[str, Any]:  # fmt: skip
    """Register ``output`` for download under a server-chosen name; its row for the page."""
    name = f"{field}{Path(output).suffix}"
    out_files[name] = output
    labels[output] = f"{Path(label).stem}-ready{Path(output).suffix}"
    return {"field": field, "name": name, "download_name": labels[output],
            "verdict": after.verdict if after else None}  # fmt: skip


def _reframe_frames(row: dict[str, Any], result: Any, folder: str, out_files: dict[str, str]) -> None:
    """A reframed clip's before/after frames with the skeleton (``reframe-video.jpg``), named in its row."""
    from ..batch.preview import reframe_preview_for

    uri = reframe_preview_for(result)
    if not uri:
        return
    name = f"reframe-{row['field']}.jpg"
    target = os.path.join(folder, name)
    Path(target).write_bytes(base64.b64decode(uri.split(",", 1)[1]))
    out_files[name] = target
    row["reframe_preview"] = name


def run_prepare(files: Files, outdir: str, profile_ref: str | None, orientation: str, options: dict[str, Any],
                content: bool, folder: str) -> dict[str, Any]:  # fmt: skip
    """``prepare`` of the uploaded image and clip: fixed pair, pair findings, manifest (the bundle submit reads)."""
    from ..prepare import prepare

    started = time.time()
    progress = _Progress(folder)
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
            _reframe_frames(outputs[-1], fixed, folder, out_files)
    if result.bundle is not None:
        out_files["manifest.json"] = str(Path(outdir) / "manifest.json")
        outputs.append({"field": "manifest", "name": "manifest.json", "download_name": "manifest.json",
                        "verdict": None})  # fmt: skip
    labels[str(result.directory)] = "bundle"
    data = _relabel(result.to_dict(), labels)
    data["manifest"] = "manifest.json" if result.bundle is not None else None
    return {"report": data, "outputs": outputs, "files": out_files, "ok": result.ok,
            "bundle": str(result.directory) if result.ok else None, "worker": _worker(started)}  # fmt: skip
