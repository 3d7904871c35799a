"""Multipart uploads streamed straight to a private folder, refused as early as the bytes allow.

A request's body is read chunk by chunk (Starlette's ``request.stream()``) and fed to python-multipart's
streaming parser; each file part goes to a file whose name the server chose (``image.jpg``,
``video.mp4``: the field's role and the format sniffed from the first bytes). The client's file name is
kept as a label for reports and downloads only: no part of a request ever names a path.

Refusals, each a :class:`UploadError` with a finding code and an HTTP status, and nothing left on disk:
- ``upload.too_large`` (413): the part passed its cap (:func:`..config.upload_cap`); the stream is
  abandoned at that byte, the partial file deleted.
- ``upload.empty`` (400): a file part with no bytes.
- ``format.unrecognized`` (415): the first bytes are no image or clip format (sniffed, not the name);
  ``video.missing_stream`` for sound alone; ``usage.invalid`` for an image sent as ``video`` or back.
- ``upload.aborted`` (400): the client went away mid-body, or the body ended before the closing boundary.
- ``upload.invalid`` (400/415): not ``multipart/form-data``, an unknown or repeated file field, a form
  field too long.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..media.sniff import SNIFF_BYTES, sniff
from .config import ServeError

__all__ = ["FILE_FIELDS", "Upload", "UploadError", "receive_form", "safe_label"]

FILE_FIELDS = ("image", "video")
MAX_FIELD = 4096
"""Bytes a plain form field (``start``, ``prompt``...) may hold."""
MAX_FIELDS = 32
EXTENSIONS = {"jpeg": "jpg", "matroska": "mkv", "mpegts": "ts", "mpeg": "mpg"}


class UploadError(ServeError):
    """An upload refused; ``status`` is the HTTP answer."""

    default_code = "upload.invalid"


@dataclass(frozen=True)
class Upload:
    field: str
    """``image`` or ``video``: the role the client says it is (checked against the bytes)."""
    path: Path
    """Where the server wrote it (a name the server chose)."""
    label: str
    """The client's file name, cleaned, for reports and download names only."""
    size: int
    format: str


def safe_label(name: str | None, fallback: str) -> str:
    """A file name fit to show and to put in Content-Disposition: the last path part, printable ASCII
    letters, digits, ``._-`` and spaces only, at most 100 characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._ -]+", "_", base).strip(" .")[:100]
    return cleaned or fallback


class _Part:
    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.field_name = ""
        self.name = ""
        self.value = b""
        self.filename: str | None = None
        self.fh: Any = None
        self.path: Path | None = None
        self.size = 0
        self.head = b""
        self.format = ""


class _Receiver:
    """python-multipart callbacks writing parts to ``folder``; errors are raised after each ``write``."""

    def __init__(self, folder: Path, caps: dict[str, int]) -> None:
        self.folder = folder
        self.caps = caps
        self.files: dict[str, Upload] = {}
        self.fields: dict[str, str] = {}
        self.written: list[Path] = []
        self.seen: set[str] = set()
        self.part: _Part | None = None
        self.header_field = b""
        self.header_value = b""
        self.error: UploadError | None = None
        self.ended = False

    # python-multipart callbacks ------------------------------------------------------------------
    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        assert self.part is not None
        self.part.headers[self.header_field.decode("latin-1").lower()] = self.header_value.decode("latin-1")
        self.header_field = self.header_value = b""

    def on_headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        part = self.part
        assert part is not None
        _, options = parse_options_header(part.headers.get("content-disposition", ""))
        part.name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if filename is not None:
            part.filename = filename.decode("utf-8", "replace")
            if part.name not in FILE_FIELDS:
                self._fail(f"unknown file field {part.name!r}: send the image as `image`, the clip as `video`")
            elif part.name in self.seen:
                self._fail(f"more than one {part.name!r} file")
            self.seen.add(part.name)
        elif len(self.fields) >= MAX_FIELDS:
            self._fail(f"more than {MAX_FIELDS} form fields")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self.part
        if part is None or self.error is not None:
            return
        chunk = data[start:end]
        if part.filename is None:
            part.value += chunk
            if len(part.value) > MAX_FIELD:
                self._fail(f"form field {part.name!r} is longer than {MAX_FIELD} bytes")
            return
        part.size += len(chunk)
        cap = self.caps[part.name]
        if part.size > cap:
            self._fail(f"{part.name} upload passed {cap / 1e6:g} MB, the most this server takes for it (twice "
                       "the largest any provider takes): nothing was kept", "upload.too_large", 413)  # fmt: skip
            return
        if part.fh is None:
            part.head += chunk
            if len(part.head) < SNIFF_BYTES:
                return
            self._open(part)
            if self.error is not None:
                return
            chunk = part.head
        part.fh.write(chunk)

    def on_part_end(self) -> None:
        part = self.part
        self.part = None
        if part is None or self.error is not None:
            return
        if part.filename is None:
            self.fields[part.name] = part.value.decode("utf-8", "replace")
            return
        if part.fh is None:
            if not part.head:
                self._fail(f"the {part.name} upload {safe_label(part.filename, part.name)!r} is empty (0 bytes)",
                           "upload.empty")  # fmt: skip
                return
            self._open(part)  # a file shorter than the sniff window
            if self.error is not None:
                return
            part.fh.write(part.head)
        part.fh.close()
        assert part.path is not None
        self.files[part.name] = Upload(part.name, part.path, safe_label(part.filename, part.name), part.size,
                                       part.format)  # fmt: skip

    def on_end(self) -> None:
        self.ended = True

    # -------------------------------------------------------------------------------------------
    def _open(self, part: _Part) -> None:
        found = sniff(part.head[:SNIFF_BYTES])
        label = safe_label(part.filename, part.name)
        if found.kind == "unknown":
            self._fail(f"{label} is not an image or a clip this tool knows (its first bytes match no format)",
                       "format.unrecognized", 415)  # fmt: skip
            return
        if found.kind == "audio":
            self._fail(f"{label} is sound only ({found.format}): a motion clip needs a video stream",
                       "video.missing_stream", 415)  # fmt: skip
            return
        if found.kind != part.name:
            self._fail(f"{label} sent as `{part.name}` is {'an image' if found.kind == 'image' else 'a clip'} "
                       f"({found.format}): send it as `{found.kind}`", "usage.invalid", 415)  # fmt: skip
            return
        part.format = found.format
        part.path = self.folder / f"{part.name}.{EXTENSIONS.get(found.format, found.format)}"
        fd = os.open(part.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        part.fh = os.fdopen(fd, "wb")
        self.written.append(part.path)

    def _fail(self, message: str, code: str = "upload.invalid", status: int = 400) -> None:
        if self.error is None:
            self.error = UploadError(message, code, status)

    def discard(self) -> None:
        if self.part is not None and self.part.fh is not None:
            self.part.fh.close()
        for upload in self.files.values():
            with contextlib.suppress(OSError):
                upload.path.unlink()
        for path in self.written:
            with contextlib.suppress(OSError):
                path.unlink()


async def receive_form(request: Any, folder: Path, caps: dict[str, int]) -> tuple[dict[str, Upload], dict[str, str]]:
    """Stream ``request``'s multipart body into ``folder``: (files by field, plain fields).

    Raises :class:`UploadError` with nothing of this request left in ``folder``.
    """
    from python_multipart.multipart import MultipartParser, parse_options_header
    from starlette.requests import ClientDisconnect

    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UploadError("send the files as multipart/form-data (curl -F image=@photo.jpg -F video=@clip.mp4)",
                          "upload.invalid", 415)  # fmt: skip
    receiver = _Receiver(folder, caps)
    callbacks = {name: getattr(receiver, name) for name in (
        "on_part_begin", "on_part_data", "on_part_end", "on_header_field", "on_header_value", "on_header_end",
        "on_headers_finished", "on_end")}  # fmt: skip
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        try:
            async for chunk in request.stream():
                if chunk:
                    parser.write(chunk)
                if receiver.error is not None:
                    raise receiver.error
            parser.finalize()
        except ClientDisconnect as exc:
            raise UploadError("the client went away before the upload finished: nothing was kept",
                              "upload.aborted") from exc  # fmt: skip
        except UploadError:
            raise
        except Exception as exc:  # python-multipart's MultipartParseError and the like
            raise UploadError(f"the multipart body could not be read: {exc}", "upload.invalid") from exc
        if receiver.error is not None:
            raise receiver.error
        if not receiver.ended:
            raise UploadError("the upload ended before its last part did (cut off): nothing was kept",
                              "upload.aborted")  # fmt: skip
    except BaseException:
        receiver.discard()
        raise
    return receiver.files, receiver.fields
