"""Helpers for the serve tests: a raw ASGI driver (streamed and aborted bodies) and multipart bodies."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any


def server_of(app: Any) -> Any:
    return app.app.state.server


class Sent:
    """What a raw ASGI call answered, and how much of the body the app read."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""
        self.chunks_read = 0

    def json(self) -> Any:
        import json

        return json.loads(self.body)


def call_asgi(app: Any, path: str, chunks: list[bytes], headers: dict[str, str], *, method: str = "POST",
              disconnect_after: int | None = None) -> Sent:  # fmt: skip
    """Drive ``app`` by hand: the body arrives in ``chunks``; with ``disconnect_after`` the client goes
    away after that many chunks (``http.disconnect``), as a closed browser tab or a killed curl does."""
    sent = Sent()
    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": raw_path, "raw_path": raw_path.encode(), "query_string": query.encode(), "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in {"host": "127.0.0.1:8765", **headers}.items()],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8765),
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        n = sent.chunks_read
        if disconnect_after is not None and n >= disconnect_after:
            return {"type": "http.disconnect"}
        if n >= len(chunks):
            await asyncio.sleep(3600)
        sent.chunks_read += 1
        return {"type": "http.request", "body": chunks[n], "more_body": n + 1 < len(chunks)}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent.status = message["status"]
            sent.headers = {k.decode(): v.decode() for k, v in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            sent.body += message.get("body", b"")

    asyncio.run(app(scope, receive, send))
    return sent


def multipart(parts: list[tuple[str, str | None, bytes]], boundary: str = "pfboundary") -> tuple[bytes, dict[str, str]]:
    """A multipart/form-data body of (field, file name or None, bytes) parts, and its content type."""
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, {"content-type": f"multipart/form-data; boundary={boundary}"}


def files_of(image: Path | None = None, clip: Path | None = None) -> dict[str, Any]:
    """The ``files=`` of a TestClient upload: the photo and/or the clip under their form fields."""
    out: dict[str, Any] = {}
    if image is not None:
        out["image"] = (image.name, image.read_bytes(), "image/jpeg")
    if clip is not None:
        out["video"] = (clip.name, clip.read_bytes(), "video/mp4")
    return out
