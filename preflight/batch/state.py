"""The resume state: which files are done, keyed by content hash + settings, surviving Ctrl-C and crashes.

The file is JSON Lines: a header line, then one line per finished file, appended and flushed to disk
(``fsync``) the moment the file finishes, so a run killed at any point keeps everything it finished;
a torn last line (killed mid-write) is ignored on load. At the end of a run the file is rewritten
compactly (one line per key, newest wins) through a temporary file and an atomic rename.

A file counts as done when an entry with its SHA-256 and the run's settings fingerprint exists (so a
renamed or moved file is still known) and, when it was fixed, its output still exists. Hashing
every input on ``--resume`` would read every byte again, so the entry also records the size and
mtime the file had: an unchanged (path, size, mtime) reuses the recorded hash.

The state is a convenience: when it cannot be written (a full disk), the run goes on with a warning
and only ``--resume`` loses what was not recorded. A state path that is a FIFO or a device is
refused unread (``file.special``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from ..errors import ProbeError, UsageError
from ..inputs import open_regular
from ..models import AudioStream, Finding, ImageDetails, Item, MediaInfo, Severity, VideoStream
from ..outfiles import create_temp, output_error, remove_stale_temps, share
from .remote import is_url, remote_digest, remote_stat
from .url_outputs import output_exists
from .work import FileResult, file_digest

__all__ = ["STATE_SCHEMA", "BatchState", "item_from_dict", "result_from_dict", "result_to_dict"]

log = logging.getLogger("preflight")

STATE_SCHEMA = "preflight.batch-state/1"


class BatchState:
    """The state file of one output folder (or one ``--state FILE``)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._entries: dict[str, dict[str, Any]] = {}
        self._by_stat: dict[tuple[str, int, str], str] = {}
        self._handle: Any = None
        self._unwritable = False
        """Set once a write failed: the run goes on without recording (a warning said so)."""
        self._load()
        remove_stale_temps(self.path.parent)  # a compaction a kill -9 interrupted

    def _load(self) -> None:
        if not os.path.lexists(self.path):
            return
        try:
            with open_regular(self.path) as fh:  # a FIFO would block the read (and the append) forever
                lines = fh.read().decode("utf-8", "surrogateescape").splitlines()
        except ProbeError as exc:
            reason = exc.message.removeprefix(f"{self.path}: ")
            code = "file.special" if exc.code == "file.special" else "file.unreadable"
            raise UsageError(f"{self.path}: cannot read the batch state: {reason}", code) from exc
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise UsageError(f"{self.path}: cannot read the batch state: {reason}", "file.unreadable") from exc
        if lines and (_json_object(lines[0]) or {}).get("schema") != STATE_SCHEMA:
            # Any other file given as --state (a text file: its first line was a JSONDecodeError, exit 3).
            raise UsageError(f"{self.path}: not a preflight batch state file", "format.unrecognized")
        for n, line in enumerate(lines[1:], start=2):
            entry = _json_object(line)
            if entry is None or not isinstance(entry.get("key"), str) or "digest" not in entry:
                log.info("%s: line %d is incomplete (an interrupted write); ignored", self.path, n)
                continue
            self._remember(entry)

    def _remember(self, entry: dict[str, Any]) -> None:
        self._entries[entry["key"]] = entry
        stat = entry.get("stat")
        if stat:
            self._by_stat[(stat[0], int(stat[1]), str(stat[2]))] = entry["digest"]

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def key(digest: str, fingerprint: str) -> str:
        return f"{digest}:{fingerprint}"

    def digest_of(self, path: str | os.PathLike[str]) -> str | None:
        """The file's SHA-256: from an unchanged (path, size, mtime) entry, else by reading it."""
        stat = _stat_key(path)
        if stat is not None and stat in self._by_stat:
            return self._by_stat[stat]
        if is_url(path):
            return remote_digest(str(path))  # read once, not kept: a file not done is fetched again
        return file_digest(path)

    def finished(self, path: str, fingerprint: str, need_preview: bool = False,
                 need_pose: bool = False) -> FileResult | None:  # fmt: skip
        """The recorded result for this file's content and these settings, if it is still valid.

        ``need_pose``: a result whose content check ran without the pose model does not count.
        """
        digest = self.digest_of(path)
        entry = self._entries.get(self.key(digest, fingerprint)) if digest else None
        if entry is None:
            return None
        result = result_from_dict(entry["result"])
        if result.output and not output_exists(result.output):
            return None  # the fixed file is gone: do it again
        if need_preview and not result.preview and result.item.media is not None:
            return None
        if need_pose and (result.item.pose_checked is False
                          or (result.after is not None and result.after.pose_checked is False)):  # fmt: skip
            return None
        return _moved(result, path)

    def record(self, result: FileResult, fingerprint: str) -> None:
        """Append the result of a finished file, on disk before this returns."""
        if result.digest is None or self._unwritable:
            return  # unreadable: nothing to key it by, and it is cheap to find out again
        entry = {
            "key": self.key(result.digest, fingerprint),
            "digest": result.digest,
            "stat": _stat_list(result.path),
            "result": result_to_dict(result),
        }
        try:
            if self._handle is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fresh = not self.path.exists() or self.path.stat().st_size == 0
                self._handle = self.path.open("a", encoding="utf-8", errors="surrogateescape")
                if fresh:
                    self._handle.write(json.dumps({"schema": STATE_SCHEMA}) + "\n")
            self._handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as exc:
            self._give_up(exc)
            return
        self._remember(entry)

    def _give_up(self, exc: OSError) -> None:
        """Stop recording after a failed write; the batch itself goes on."""
        self._unwritable = True
        mapped = output_error(exc, self.path.parent)
        why = mapped.one_line() if mapped is not None else f"{exc.strerror or exc}"
        log.warning("%s: the resume state is not saved from here on (%s); the batch goes on", self.path, why)
        if self._handle is not None:
            with contextlib.suppress(OSError):  # the lines written are whole, or torn and ignored on load
                self._handle.close()
            self._handle = None

    def close(self) -> None:
        """Rewrite the file compactly (atomic rename); safe to call more than once."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if not self._entries or self._unwritable:
            return
        tmp: Path | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = create_temp(self.path)
            with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as fh:
                fh.write(json.dumps({"schema": STATE_SCHEMA}) + "\n")
                for entry in self._entries.values():
                    fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            share(tmp)
            os.replace(tmp, self.path)
        except OSError as exc:  # the appended file stays as it is: whole lines, still valid
            self._give_up(exc)
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)


def _stat_key(path: str | os.PathLike[str]) -> tuple[str, int, str] | None:
    listed = _stat_list(path)
    return (listed[0], int(listed[1]), str(listed[2])) if listed else None


def _stat_list(path: str | os.PathLike[str]) -> list[Any] | None:
    """``[path, size, version]``: mtime in ns for a local file, the filesystem's version for a URL."""
    if is_url(path):
        return remote_stat(str(path))
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [os.path.abspath(path), st.st_size, st.st_mtime_ns]


def _moved(result: FileResult, path: str) -> FileResult:
    """A recorded result under the path the file has now (same content, maybe another name)."""
    from dataclasses import replace

    item = replace(result.item, path=path)
    return replace(result, path=path, item=item, resumed=True)


# --- (de)serialization ---------------------------------------------------------------------------


def result_to_dict(result: FileResult) -> dict[str, Any]:
    from ..report import item_to_dict

    return {
        "path": result.path,
        "item": item_to_dict(result.item),
        "digest": result.digest,
        "seconds": result.seconds,
        "output": result.output,
        "actions": list(result.actions),
        "after": item_to_dict(result.after) if result.after is not None else None,
        "reason": result.reason,
        "preview": result.preview,
    }


def result_from_dict(data: Mapping[str, Any]) -> FileResult:
    return FileResult(
        path=data["path"],
        item=item_from_dict(data["item"]),
        digest=data.get("digest"),
        seconds=float(data.get("seconds") or 0.0),
        output=data.get("output"),
        actions=tuple(data.get("actions") or ()),
        after=item_from_dict(data["after"]) if data.get("after") else None,
        reason=data.get("reason"),
        preview=data.get("preview"),
    )


def item_from_dict(data: Mapping[str, Any]) -> Item:
    """The inverse of :func:`preflight.report.item_to_dict` (the report JSON's item)."""
    media = data.get("media")
    return Item(
        path=data["path"],
        role=data["role"],
        verdict=data["verdict"],
        findings=tuple(_finding(f) for f in data.get("findings") or ()),
        media=_media(media) if media else None,
        analysis=data.get("analysis") or {},
    )


def _finding(data: Mapping[str, Any]) -> Finding:
    return Finding(
        code=data["code"],
        severity=Severity(data["severity"]),
        message=data["message"],
        fixable=bool(data.get("fixable", False)),
        measured=data.get("measured"),
        limit=data.get("limit"),
        extra=data.get("extra") or {},
    )


def _known(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _media(data: Mapping[str, Any]) -> MediaInfo:
    values = _known(MediaInfo, data)
    if data.get("video"):
        values["video"] = VideoStream(**_known(VideoStream, data["video"]))
    if data.get("image"):
        values["image"] = ImageDetails(**_known(ImageDetails, data["image"]))
    values["audio"] = tuple(AudioStream(**_known(AudioStream, a)) for a in data.get("audio") or ())
    return MediaInfo(**values)


def _json_object(line: str) -> dict[str, Any] | None:
    """One line of the state as a JSON object; None for anything else (cut off, nested thousands deep)."""
    try:
        value = json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None
