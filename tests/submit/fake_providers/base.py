"""What every fake provider server shares: real HTTP on 127.0.0.1, task bookkeeping, file serving.

A fake is one module in this package defining one :class:`FakeServer` subclass (as each provider is
one module in ``preflight/submit/``). The subclass says how its provider authenticates
(:meth:`FakeServer.authorized`), what a wrong key gets back (``auth_status``, ``auth_error``), which status words a
task walks through (``statuses``) and how it answers (:meth:`FakeServer.route`); routes that need no
API key (pre-signed uploads) go in :meth:`FakeServer.public`.

Tests steer a fake with ``script`` (canned replies for the next calls of an operation),
``drop_create`` (create the task, then close the connection without answering), ``cut_downloads``
(send half the body, then close) and ``fail_reason`` (the task ends failed).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

__all__ = ["RESULT", "FakeServer", "Reply", "parse_multipart", "scripted"]

RESULT = bytes(range(256)) * 800  # 204,800 bytes: big enough to be cut in the middle


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    drop: bool = False
    """Close the connection without answering."""
    chunks: Any = None
    """An iterable of bytes sent one by one as they come (a server-sent event stream); the connection
    closes after the last."""


class FakeServer:
    """The HTTP plumbing; subclasses implement :meth:`route` and :meth:`authorized`."""

    name = "fake"
    auth_error: ClassVar[Any] = None
    auth_status: ClassVar[int] = 401
    """The HTTP status a request with a wrong key gets (with ``auth_error`` as its body)."""
    statuses: ClassVar[tuple[str, ...]] = ("done",)
    """The provider's status words a task walks through, one per poll (the last one repeats)."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets
        self.tasks: dict[str, dict[str, Any]] = {}
        self.creates = 0
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.script: dict[str, list[Reply]] = defaultdict(list)
        self.fail_reason: str | None = None
        self.drop_create = False
        self.cut_downloads = 0
        self.downloads = 0
        self.files: dict[str, bytes] = {}
        self.on_create: Any = None
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"fake": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # A short poll interval keeps shutdown (test teardown) quick.
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # helpers for subclasses
    def new_task(self, body: Any, **extra: Any) -> str:
        with self._lock:
            task_id = str(100000 + len(self.tasks) + 1)
            self.creates += 1
            self.tasks[task_id] = {"body": body, "polls": 0, "canceled": False, **extra}
        if self.on_create:
            self.on_create(task_id, body)
        return task_id

    def advance(self, task_id: str) -> str:
        """The next status word for this task (the last one repeats); ``FAILED`` at the end with a fail_reason."""
        task = self.tasks[task_id]
        sequence = self.statuses
        index = min(task["polls"], len(sequence) - 1)
        task["polls"] += 1
        word = sequence[index]
        if word == sequence[-1] and self.fail_reason is not None:
            return "FAILED"
        return word

    def result_url(self, task_id: str) -> str:
        return f"{self.url}/files/result-{task_id}.mp4"

    def serve_file(self, name: str) -> Reply:
        data = self.files.get(name, RESULT if name.startswith("result-") else None)
        if data is None:
            return Reply(404, {"error": "no such file"})
        self.downloads += 1
        if self.cut_downloads > 0:
            self.cut_downloads -= 1
            return Reply(200, raw=data[: len(data) // 2], headers={"Content-Length": str(len(data))})
        return Reply(200, raw=data, headers={"Content-Type": "video/mp4"})

    def public(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Reply | None:
        """Answer a request that needs no API key (a pre-signed URL), or None to go through auth."""
        return None

    def authorized(self, headers: dict[str, str]) -> bool:
        raise NotImplementedError

    def route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> Reply:
        raise NotImplementedError


def scripted(fake: FakeServer, op: str) -> Reply | None:
    """The next canned reply for ``op`` (``create``, ``status``...), if a test queued one."""
    queue = fake.script.get(op)
    return queue.pop(0) if queue else None


def parse_multipart(headers: dict[str, str], body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """name -> (filename, bytes) for a multipart/form-data body."""
    head = f"Content-Type: {headers['content-type']}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    out = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        out[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return out


class _Handler(BaseHTTPRequestHandler):
    fake: FakeServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        fake = self.fake
        fake.requests.append((self.command, split.path, headers))
        if split.path.startswith("/files/"):
            reply: Reply | None = fake.serve_file(split.path[len("/files/") :])
        else:
            reply = fake.public(self.command, split.path, query, headers, body)
        if reply is None:
            if fake.authorized(headers):
                reply = fake.route(self.command, split.path, query, headers, body)
            else:
                reply = Reply(fake.auth_status, fake.auth_error)
        if reply.drop:
            self.close_connection = True
            return
        if reply.chunks is not None:
            self._stream(reply)
            return
        data = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        has_length = "Content-Length" in reply.headers
        for key, value in reply.headers.items():
            self.send_header(key, value)
        if reply.raw is None:
            self.send_header("Content-Type", "application/json")
        if not has_length:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # the client hung up first (a test's cut or timeout)
            self.close_connection = True
            return
        if has_length and int(reply.headers["Content-Length"]) != len(data):
            self.close_connection = True

    def _stream(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            self.wfile.flush()
            for chunk in reply.chunks:
                self.wfile.write(chunk)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # the client went away mid-stream (a killed process)
            pass

    do_GET = do_POST = do_PUT = do_DELETE = _handle
