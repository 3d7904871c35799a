"""Report writers: one function per format, all taking the same :class:`Report`.

``text`` is for people (one block per file, errors first, a summary line); ``json`` is the
"preflight.report/1" schema of DESIGN.md; ``junit`` is for CI systems (one test case per file);
``html`` is one self-contained page: :mod:`preflight.html_report` stands above this module and adds
itself to :data:`FORMATS`.

A file name may hold anything but ``/`` and NUL: a newline, an escape sequence, bytes that are not
UTF-8. Each format keeps what it can hold and spells out the rest, so a report is always one line per
row, never repaints a terminal, and always parses: text, JUnit and HTML show control characters the
way Python does (``\\n``, ``\\x1b``) and an undecodable byte as ``\\xff`` (:func:`printable`); JSON
escapes control characters itself and writes an undecodable byte as the text ``\\xff``.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO
from xml.etree import ElementTree as ET

from .errors import PreflightError, os_error_code, printable
from .models import Item, MediaInfo, Report, Severity, Skipped, describe_skipped, skip_counts, to_dict

__all__ = ["FORMATS", "describe_media", "report_to_dict", "skipped_to_dict", "summary_words", "to_json",
           "verdict_words", "write_file", "write_report", "write_report_file"]  # fmt: skip


def report_to_dict(report: Report, extra: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The JSON form. ``extra`` adds keys per item path (``fix`` adds output/actions/after)."""
    items = []
    for item in report.items:
        data = item_to_dict(item)
        if extra and item.path in extra:
            data.update(to_dict(extra[item.path]))
        items.append(data)
    return {
        "schema": report.schema,
        "profile": report.profile,
        "model": report.model,
        "provider": report.provider,
        "orientation": report.orientation,
        "strict": report.strict,
        "items": items,
        "summary": report.summary,
        "skipped": skipped_to_dict(report.skipped),
    }


def item_to_dict(item: Item) -> dict[str, Any]:
    return {
        "path": item.path,
        "role": item.role,
        "verdict": item.verdict,
        "pose_checked": item.pose_checked,
        "media": to_dict(item.media) if item.media else None,
        "analysis": to_dict(item.analysis),
        "findings": [to_dict(f) for f in item.findings],
    }


def skipped_to_dict(skipped: tuple[Skipped, ...]) -> dict[str, Any]:
    """``{"total": 3, "by_reason": {"hidden": 1, "glob": 2}, "entries": [{"path", "reason", "detail"}]}``.

    ``entries`` lists every skipped file or folder except those ``--glob`` left out (counted only).
    """
    return {
        "total": len(skipped),
        "by_reason": skip_counts(skipped),
        "entries": [to_dict(s) for s in skipped if s.listed],
    }


def verdict_words(item: Item) -> str:
    """``PASS``, or ``PASS (pose not checked)`` when the content check ran without the pose model."""
    return item.verdict.upper() + (" (pose not checked)" if item.pose_checked is False else "")


def summary_words(report: Report) -> str:
    """``8 file(s): 2 pass, 0 fixable, 6 fail; pose not checked on 1; 3 skipped (2 hidden, 1 sidecar)``."""
    s = report.summary
    words = f"{len(report.items)} file(s): {s['pass']} pass, {s['fixable']} fixable, {s['fail']} fail"
    if s["pose_not_checked"]:
        words += f"; pose not checked on {s['pose_not_checked']}"
    if report.skipped:
        words += f"; {describe_skipped(report.skipped)}"
    return words


_SURROGATE = re.compile("[\ud800-\udfff]")


def to_json(data: Any, indent: int | None = None, out: TextIO | None = None) -> str:
    """``json.dumps`` that any UTF-8 stream can take: a byte of a file name that was not UTF-8 (a
    lone surrogate, which UTF-8 cannot encode and strict JSON parsers refuse) becomes the text ``\\xff``.
    For an ``out`` that is not UTF-8 (``PYTHONIOENCODING=ascii``) everything else is ``\\u`` escaped."""
    encoding = (getattr(out, "encoding", None) or "utf-8").lower().replace("_", "-")
    return json.dumps(_no_surrogates(data), indent=indent, ensure_ascii=not encoding.startswith("utf"))


def _no_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub(lambda m: printable(m.group()), value)
    if isinstance(value, Mapping):
        return {_no_surrogates(k): _no_surrogates(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_no_surrogates(v) for v in value]
    return value


def write_json(report: Report, out: TextIO, color: bool = False) -> None:
    out.write(to_json(report_to_dict(report), indent=2, out=out))
    out.write("\n")


# --- text -------------------------------------------------------------------------------------

_COLORS = {"pass": "32", "fixable": "33", "fail": "31", "error": "31", "warning": "33", "info": "36"}


def _paint(text: str, key: str, color: bool) -> str:
    return f"\x1b[{_COLORS[key]}m{text}\x1b[0m" if color else text


def describe_media(m: MediaInfo | None) -> str:
    """One line a person reads: ``mov h264 1080x1920 (rotated 90°) 29.97 fps 45.00 s 12.3 MB``."""
    if m is None:
        return ""
    parts = [m.format]
    if m.video is not None:
        parts.append(m.video.codec)
    parts.append(f"{m.width}x{m.height}")
    if m.video is not None and m.video.rotation:
        parts.append(f"(rotated {m.video.rotation}°)")
    if m.image is not None:
        parts.append(m.image.mode)
    if m.video is not None and m.video.fps:
        parts.append(f"{m.video.fps:.4g} fps")
    if m.duration is not None:
        parts.append(f"{m.duration:.2f} s")
    if m.audio:
        parts.append(f"audio {m.audio[0].codec}")
    parts.append(f"{m.file_size / 1_000_000:.2f} MB")
    return " ".join(parts)


def write_text(report: Report, out: TextIO, color: bool = False) -> None:
    p = printable  # a name or message must not break its line nor send escape codes to the terminal
    for item in report.items:
        verdict = _paint(verdict_words(item), item.verdict, color)
        out.write(f"{p(item.path)}  [{item.role}]  {verdict}\n")
        if item.media is not None:
            out.write(f"    {p(describe_media(item.media))}\n")
        for f in item.findings:
            sev = _paint(f"{f.severity.value:<7}", f.severity.value, color)
            fix = " (fixable)" if f.fixable and f.severity is not Severity.INFO else ""
            out.write(f"  {sev} {f.code}: {p(f.message)}{fix}\n")
    out.write(
        f"{summary_words(report)}  (profile {p(report.profile)}, orientation {report.orientation}"
        f"{', strict' if report.strict else ''})\n"
    )


# --- junit ------------------------------------------------------------------------------------


def write_junit(report: Report, out: TextIO, color: bool = False) -> None:
    """One test case per file; a skipped file is a ``<skipped>`` test case (those ``--glob`` left out
    are counted in the suite's properties only); a file checked without the pose model has the
    property ``pose_checked=false`` and says so in its output. Names and messages go through
    :func:`printable`: XML 1.0 cannot hold most control characters, not even as ``&#27;``."""
    p = printable
    listed = [s for s in report.skipped if s.listed]
    suite = ET.Element(
        "testsuite",
        name=f"preflight {p(report.profile)}",
        tests=str(len(report.items) + len(listed)),
        failures=str(sum(1 for i in report.items if i.verdict != "pass")),
        errors="0",
        skipped=str(len(listed)),
    )
    props = ET.SubElement(suite, "properties")
    counts = {"pose_not_checked": report.summary["pose_not_checked"], "skipped": len(report.skipped),
              **{f"skipped.{reason}": n for reason, n in skip_counts(report.skipped).items()}}  # fmt: skip
    for name, value in counts.items():
        ET.SubElement(props, "property", name=name, value=str(value))
    for item in report.items:
        case = ET.SubElement(suite, "testcase", classname=f"preflight.{item.role}", name=p(item.path))
        if item.pose_checked is False:
            case_props = ET.SubElement(case, "properties")
            ET.SubElement(case_props, "property", name="pose_checked", value="false")
        blocking = [f for f in item.findings if f.severity is Severity.ERROR
                    or (report.strict and f.severity is Severity.WARNING)]  # fmt: skip
        if item.verdict != "pass":
            failure = ET.SubElement(
                case, "failure",
                type=blocking[0].code if blocking else item.verdict,
                message=f"{verdict_words(item).lower()}: " + "; ".join(f.code for f in blocking),
            )  # fmt: skip
            failure.text = "\n".join(f"{f.code}: {p(f.message)}" for f in blocking)
        others = [f for f in item.findings if f not in blocking]
        lines = [f"{f.severity.value} {f.code}: {p(f.message)}" for f in others]
        if item.pose_checked is False and item.verdict == "pass":
            lines.insert(0, verdict_words(item))
        if lines:
            ET.SubElement(case, "system-out").text = "\n".join(lines)
    for s in listed:
        case = ET.SubElement(suite, "testcase", classname="preflight.skipped", name=p(s.path))
        ET.SubElement(case, "skipped", message=p(f"{s.reason}: {s.detail}" if s.detail else s.reason))
    ET.indent(suite)
    out.write('<?xml version="1.0" encoding="utf-8"?>\n')
    out.write(ET.tostring(suite, encoding="unicode"))
    out.write("\n")


Writer = Callable[[Report, TextIO, bool], None]
FORMATS: dict[str, Writer] = {"text": write_text, "json": write_json, "junit": write_junit}
"""Format name -> writer. A writer that lives above this module adds itself: :mod:`preflight.html_report`
adds ``html`` when it is imported, and ``import preflight`` (so any import of this module) imports it."""


def write_report(report: Report, fmt: str, out: TextIO, color: bool = False) -> None:
    FORMATS[fmt](report, out, color)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _link_target(link: Path, path: str | os.PathLike[str]) -> Path:
    try:
        return link.resolve()
    except RuntimeError as exc:  # a loop of links (Python 3.13 raises OSError ELOOP, handled as any)
        raise PreflightError(f"{path}: a loop of symbolic links: nothing to write into", "file.link_loop") from exc


def write_report_file(report: Report, fmt: str, path: str | os.PathLike[str]) -> Path:
    """Write the report to ``path`` (see :func:`write_file`)."""
    return write_file(path, lambda out: write_report(report, fmt, out))


def write_file(path: str | os.PathLike[str], write: Callable[[TextIO], None], what: str = "the report") -> Path:
    """Call ``write`` on ``path`` opened as UTF-8 text: atomically (a temporary file in the same
    folder, then a rename) when ``path`` is or will be a regular file; straight into it when it is a
    device, FIFO or terminal (``--report /dev/stdout``), which a rename would replace. A symbolic
    link is followed, not replaced. An OS error becomes a :class:`PreflightError` that names ``path``
    (not the temporary file) with the code of :func:`preflight.errors.os_error_code`."""
    target = Path(path)
    try:
        if target.exists() and not target.is_file() and not target.is_dir():
            with open(target, "w", encoding="utf-8") as fh:
                write(fh)
            return target
        if target.is_symlink():
            target = _link_target(target, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                write(fh)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a report is meant to be shared
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except BrokenPipeError:  # --report /dev/stdout into a pipe whose reader left: the CLI's to handle
        raise
    except OSError as exc:
        raise PreflightError(f"{path}: cannot write {what}: {exc.strerror or exc}", os_error_code(exc)) from exc
    return target
