"""Fake provider servers: real HTTP on 127.0.0.1, following each documented contract.

Each fake checks auth the way its provider does (Kling: the JWT's HS256 signature and claims),
validates field names, types and enums, answers in the provider's shapes (errors included), walks a
task through the provider's status words one poll at a time, and serves the result for download.
Tests steer them with ``script`` (canned replies for the next calls of an operation), ``drop_create``
(create the task, then close the connection without answering), ``cut_downloads`` (send half the
body, then close) and ``fail_reason`` (the task ends failed).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import jwt

RESULT = bytes(range(256)) * 800  # 204,800 bytes: big enough to be cut in the middle


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    drop: bool = False
    """Close the connection without answering."""


class FakeServer:
    """The HTTP plumbing; subclasses implement :meth:`route` and :meth:`authorized`."""

    name = "fake"
    auth_error: ClassVar[Any] = None

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets
        self.tasks: dict[str, dict[str, Any]] = {}
        self.creates = 0
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.script: dict[str, list[Reply]] = defaultdict(list)
        self.statuses: list[str] = []
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
        task_id = str(100000 + len(self.tasks) + 1)
        with self._lock:
            self.creates += 1
            self.tasks[task_id] = {"body": body, "polls": 0, "canceled": False, **extra}
        if self.on_create:
            self.on_create(task_id, body)
        return task_id

    def advance(self, task_id: str) -> str:
        """The next status word for this task (the last one repeats)."""
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

    def authorized(self, headers: dict[str, str]) -> bool:
        raise NotImplementedError

    def route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> Reply:
        raise NotImplementedError


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
            reply = fake.serve_file(split.path[len("/files/") :])
        elif split.path.startswith("/upload/"):  # pre-signed storage URL: no API auth expected
            fake.files[split.path.split("/")[-1]] = body
            reply = Reply(200, {})
        elif not fake.authorized(headers):
            reply = Reply(401, fake.auth_error)
        else:
            reply = fake.route(self.command, split.path, query, headers, body)
        if reply.drop:
            self.close_connection = True
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
        self.wfile.write(data)
        self.wfile.flush()
        if has_length and int(reply.headers["Content-Length"]) != len(data):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = _handle


def _scripted(fake: FakeServer, op: str) -> Reply | None:
    queue = fake.script.get(op)
    return queue.pop(0) if queue else None


# ----- Kling -------------------------------------------------------------------------------------


class FakeKling(FakeServer):
    name = "kling"
    auth_error: ClassVar[Any] = {"code": 1001, "message": "Authorization is invalid", "request_id": "r-auth"}

    def __init__(self, secrets: dict[str, str]) -> None:
        super().__init__(secrets)
        self.statuses = ["submitted", "processing", "succeed"]
        self.claims: list[dict[str, Any]] = []

    def authorized(self, headers: dict[str, str]) -> bool:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme != "Bearer":
            return False
        try:
            claims = jwt.decode(
                token,
                self.secrets["KLINGAI_SECRET_KEY"],
                algorithms=["HS256"],
                options={"require": ["iss", "exp", "nbf"]},
            )
        except jwt.PyJWTError:
            return False
        self.claims.append(claims)
        return claims["iss"] == self.secrets["KLINGAI_ACCESS_KEY"] and claims["exp"] - time.time() <= 1800

    def _error(self, status: int, code: int, message: str) -> Reply:
        return Reply(status, {"code": code, "message": message, "request_id": uuid.uuid4().hex})

    def route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> Reply:
        base = "/v1/videos/motion-control"
        if method == "POST" and path == base:
            scripted = _scripted(self, "create")
            if scripted:
                return scripted
            data = json.loads(body)
            allowed = {
                "model_name",
                "image_url",
                "video_url",
                "character_orientation",
                "mode",
                "prompt",
                "keep_original_sound",
                "callback_url",
                "external_task_id",
                "watermark_info",
            }
            problem = (
                next((f"unknown field {k}" for k in data if k not in allowed), None)
                or next(
                    (
                        f"{k} is required"
                        for k in ("image_url", "video_url", "character_orientation", "mode")
                        if not data.get(k)
                    ),
                    None,
                )
                or (data["character_orientation"] not in ("image", "video") and "bad character_orientation")
                or (data["mode"] not in ("std", "pro") and "bad mode")
                or (data.get("keep_original_sound", "yes") not in ("yes", "no") and "keep_original_sound: yes|no")
                or (str(data["image_url"]).startswith("data:") and "image_url: base64 without data: prefix")
                or (len(data.get("prompt", "")) > 2500 and "prompt too long")
            )
            if problem:
                return self._error(400, 1201, problem)
            ext = data.get("external_task_id")
            if ext and any(t["external_id"] == ext for t in self.tasks.values()):
                return self._error(400, 1201, "external_task_id already exists")
            task_id = self.new_task(data, external_id=ext)
            if self.drop_create:
                self.drop_create = False
                return Reply(drop=True)
            return Reply(
                200,
                {
                    "code": 0,
                    "message": "SUCCEED",
                    "request_id": uuid.uuid4().hex,
                    "data": {"task_id": task_id, "task_status": "submitted"},
                },
            )
        if method == "GET" and path.startswith(base + "/"):
            scripted = _scripted(self, "status")
            if scripted:
                return scripted
            ref = path.rsplit("/", 1)[-1]
            task_id = next((k for k, t in self.tasks.items() if ref in (k, t["external_id"])), None)
            if task_id is None:
                return self._error(404, 1203, "task not found")
            word = self.advance(task_id) if ref == task_id else "submitted"
            data: dict[str, Any] = {
                "task_id": task_id,
                "task_status": word,
                "task_info": {"external_task_id": self.tasks[task_id]["external_id"]},
            }
            if word == "FAILED":
                data.update(task_status="failed", task_status_msg=self.fail_reason)
            elif word == "succeed":
                data["task_result"] = {"videos": [{"id": "v1", "url": self.result_url(task_id), "duration": "3.5"}]}
            return Reply(200, {"code": 0, "message": "SUCCEED", "request_id": "r", "data": data})
        return self._error(404, 1203, "no such route")


# ----- fal ---------------------------------------------------------------------------------------


class FakeFal(FakeServer):
    name = "fal"
    auth_error: ClassVar[Any] = {"detail": "Invalid Key authorization header"}

    def __init__(self, secrets: dict[str, str]) -> None:
        super().__init__(secrets)
        self.statuses = ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization") == f"Key {self.secrets['FAL_KEY']}"

    def route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> Reply:
        app = "/fal-ai/kling-video"
        if method == "POST" and path == "/storage/upload/initiate":
            data = json.loads(body)
            if query.get("storage_type") != "fal-cdn-v3" or not data.get("file_name"):
                return Reply(
                    422,
                    {
                        "detail": [
                            {"loc": ["body", "file_name"], "msg": "field required", "type": "value_error.missing"}
                        ]
                    },
                )
            token = uuid.uuid4().hex + "-" + data["file_name"]
            return Reply(200, {"upload_url": f"{self.url}/upload/{token}", "file_url": f"{self.url}/files/{token}"})
        if method == "POST" and path in (f"{app}/v2.6/standard/motion-control", f"{app}/v2.6/pro/motion-control"):
            scripted = _scripted(self, "create")
            if scripted:
                return scripted
            data = json.loads(body)
            errors = [
                {"loc": ["body", k], "msg": "field required", "type": "missing"}
                for k in ("image_url", "video_url", "character_orientation")
                if k not in data
            ]
            if data.get("character_orientation") not in (None, "image", "video"):
                errors.append({"loc": ["body", "character_orientation"], "msg": "unexpected value", "type": "enum"})
            if not isinstance(data.get("keep_original_sound", True), bool):
                errors.append(
                    {"loc": ["body", "keep_original_sound"], "msg": "value is not a valid boolean", "type": "bool_type"}
                )
            if errors:
                return Reply(422, {"detail": errors})
            task_id = self.new_task(data, endpoint=path.split("/")[-2], webhook=query.get("fal_webhook"))
            if self.drop_create:
                self.drop_create = False
                return Reply(drop=True)
            urls = f"{self.url}{app}/requests/{task_id}"
            return Reply(
                200,
                {
                    "request_id": task_id,
                    "status": "IN_QUEUE",
                    "queue_position": 0,
                    "status_url": f"{urls}/status",
                    "response_url": urls,
                    "cancel_url": f"{urls}/cancel",
                },
            )
        if path.startswith(f"{app}/requests/"):
            parts = path[len(app) + len("/requests/") :].split("/")
            task_id = parts[0]
            if task_id not in self.tasks:
                return Reply(404, {"detail": "Request not found"})
            if method == "GET" and parts[1:] == ["status"]:
                scripted = _scripted(self, "status")
                if scripted:
                    return scripted
                word = self.advance(task_id)
                return Reply(200, {"status": "COMPLETED" if word == "FAILED" else word, "request_id": task_id})
            if method == "GET" and not parts[1:]:
                if self.fail_reason:
                    return Reply(
                        422,
                        {"detail": [{"loc": ["body"], "msg": self.fail_reason, "type": "runtime"}]},
                        headers={"X-Fal-Retryable": "false"},
                    )
                return Reply(200, {"video": {"url": self.result_url(task_id), "content_type": "video/mp4"}})
            if method == "PUT" and parts[1:] == ["cancel"]:
                self.tasks[task_id]["canceled"] = True
                return Reply(202, {"status": "CANCELLATION_REQUESTED"})
        return Reply(404, {"detail": "Not Found"})


# ----- KIE ---------------------------------------------------------------------------------------


class FakeKie(FakeServer):
    name = "kie"
    auth_error: ClassVar[Any] = {"code": 401, "msg": "You do not have access permissions"}

    def __init__(self, secrets: dict[str, str]) -> None:
        super().__init__(secrets)
        self.statuses = ["waiting", "queuing", "generating", "success"]

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization") == f"Bearer {self.secrets['KIE_API_KEY']}"

    def route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> Reply:
        if method == "POST" and path == "/api/file-stream-upload":
            form = parse_multipart(headers, body)
            if "file" not in form or "uploadPath" not in form:
                return Reply(400, {"success": False, "code": 400, "msg": "file and uploadPath are required"})
            name = form["fileName"][1].decode() if "fileName" in form else uuid.uuid4().hex
            self.files[name] = form["file"][1]
            return Reply(
                200,
                {
                    "success": True,
                    "code": 200,
                    "msg": "File uploaded successfully",
                    "data": {
                        "fileName": name,
                        "filePath": f"{form['uploadPath'][1].decode()}/{name}",
                        "downloadUrl": f"{self.url}/files/{name}",
                        "fileSize": len(form["file"][1]),
                    },
                },
            )
        if method == "POST" and path == "/api/v1/jobs/createTask":
            scripted = _scripted(self, "create")
            if scripted:
                return scripted
            data = json.loads(body)
            fields = data.get("input") or {}
            problem = (
                (data.get("model") != "kling-2.6/motion-control" and "model is not supported")
                or next(
                    (
                        f"input.{k} must be a list of one URL"
                        for k in ("input_urls", "video_urls")
                        if not (isinstance(fields.get(k), list) and len(fields[k]) == 1)
                    ),
                    None,
                )
                or (fields.get("character_orientation") not in ("image", "video") and "character_orientation")
                or (fields.get("mode") not in ("720p", "1080p") and "mode must be 720p or 1080p")
                or (
                    set(fields) - {"prompt", "input_urls", "video_urls", "character_orientation", "mode"}
                    and "unknown input field"
                )
            )
            if problem:
                return Reply(200, {"code": 422, "msg": problem, "data": None})
            task_id = self.new_task(data)
            if self.drop_create:
                self.drop_create = False
                return Reply(drop=True)
            return Reply(200, {"code": 200, "msg": "success", "data": {"taskId": task_id}})
        if method == "GET" and path == "/api/v1/jobs/recordInfo":
            task_id = query.get("taskId", "")
            if task_id not in self.tasks:
                return Reply(200, {"code": 404, "msg": "task not found", "data": None})
            word = self.advance(task_id)
            record: dict[str, Any] = {
                "taskId": task_id,
                "model": "kling-2.6/motion-control",
                "state": word,
                "resultJson": "",
                "failCode": "",
                "failMsg": "",
            }
            if word == "FAILED":
                record.update(state="fail", failCode="500", failMsg=self.fail_reason)
            elif word == "success":
                record["resultJson"] = json.dumps({"resultUrls": [self.result_url(task_id)]})
            return Reply(200, {"code": 200, "msg": "success", "data": record})
        return Reply(404, {"code": 404, "msg": "Not Found"})


# ----- Novita ------------------------------------------------------------------------------------


class FakeNovita(FakeServer):
    name = "novita"
    auth_error: ClassVar[Any] = {"code": 401, "reason": "INVALID_API_KEY", "message": "invalid api key"}

    def __init__(self, secrets: dict[str, str]) -> None:
        super().__init__(secrets)
        self.statuses = ["TASK_STATUS_QUEUED", "TASK_STATUS_PROCESSING", "TASK_STATUS_SUCCEED"]

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization") == f"Bearer {self.secrets['NOVITA_API_KEY']}"

    def route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> Reply:
        if method == "POST" and path == "/v3/async/kling-v2.6-pro-motion-control":
            scripted = _scripted(self, "create")
            if scripted:
                return scripted
            data = json.loads(body)
            problem = (
                next((f"{k} is required" for k in ("image", "video", "character_orientation") if not data.get(k)), None)
                or (not isinstance(data.get("keep_original_sound", True), bool) and "keep_original_sound: bool")
                or (data["character_orientation"] not in ("image", "video") and "character_orientation")
            )
            if problem:
                return Reply(400, {"code": 400, "reason": "INVALID_REQUEST_BODY", "message": problem, "metadata": {}})
            task_id = self.new_task(data)
            if self.drop_create:
                self.drop_create = False
                return Reply(drop=True)
            return Reply(200, {"task_id": task_id})
        if method == "GET" and path == "/v3/async/task-result":
            task_id = query.get("task_id", "")
            if task_id not in self.tasks:
                return Reply(404, {"code": 404, "reason": "TASK_NOT_FOUND", "message": "task not found"})
            word = self.advance(task_id)
            task = {"task_id": task_id, "task_type": "KLING_V2.6_PRO_MOTION_CONTROL", "status": word, "reason": ""}
            videos = []
            if word == "FAILED":
                task.update(status="TASK_STATUS_FAILED", reason=self.fail_reason)
            elif word == "TASK_STATUS_SUCCEED":
                videos = [{"video_url": self.result_url(task_id), "video_url_ttl": "3600", "video_type": "mp4"}]
            return Reply(200, {"extra": {}, "task": task, "images": [], "videos": videos, "audios": []})
        return Reply(404, {"code": 404, "reason": "NOT_FOUND", "message": "not found"})


# ----- Replicate ---------------------------------------------------------------------------------


class FakeReplicate(FakeServer):
    name = "replicate"
    auth_error: ClassVar[Any] = {
        "title": "Unauthenticated",
        "detail": "You did not pass a valid authentication token",
        "status": 401,
    }

    def __init__(self, secrets: dict[str, str]) -> None:
        super().__init__(secrets)
        self.statuses = ["starting", "processing", "succeeded"]

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization") == f"Bearer {self.secrets['REPLICATE_API_TOKEN']}"

    def _prediction(self, task_id: str, status: str) -> dict[str, Any]:
        task = self.tasks[task_id]
        out = {
            "id": task_id,
            "model": "kwaivgi/kling-v2.6-motion-control",
            "input": task["body"]["input"],
            "status": status,
            "output": None,
            "error": None,
            "logs": "",
            "urls": {
                "get": f"{self.url}/v1/predictions/{task_id}",
                "cancel": f"{self.url}/v1/predictions/{task_id}/cancel",
            },
        }
        if status == "succeeded":
            out["output"] = self.result_url(task_id)
        return out

    def route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> Reply:
        if method == "POST" and path == "/v1/files":
            form = parse_multipart(headers, body)
            if "content" not in form:
                return Reply(400, {"title": "Bad request", "detail": "content is required", "status": 400})
            file_id = uuid.uuid4().hex
            self.files[file_id] = form["content"][1]
            return Reply(
                201,
                {
                    "id": file_id,
                    "name": form["content"][0],
                    "size": len(form["content"][1]),
                    "urls": {"get": f"{self.url}/files/{file_id}"},
                },
            )
        if method == "POST" and path == "/v1/models/kwaivgi/kling-v2.6-motion-control/predictions":
            scripted = _scripted(self, "create")
            if scripted:
                return scripted
            data = json.loads(body)
            fields = data.get("input") or {}
            invalid = [k for k in ("image", "video") if not fields.get(k)]
            if fields.get("mode", "std") not in ("std", "pro"):
                invalid.append("mode")
            if fields.get("character_orientation", "image") not in ("image", "video"):
                invalid.append("character_orientation")
            if not isinstance(fields.get("keep_original_sound", True), bool):
                invalid.append("keep_original_sound")
            if invalid:
                return Reply(
                    422,
                    {
                        "title": "Input validation failed",
                        "status": 422,
                        "detail": "; ".join(f"input.{k}: invalid" for k in invalid),
                    },
                )
            task_id = self.new_task(data)
            if self.drop_create:
                self.drop_create = False
                return Reply(drop=True)
            return Reply(201, self._prediction(task_id, "starting"))
        if path.startswith("/v1/predictions/"):
            parts = path[len("/v1/predictions/") :].split("/")
            task_id = parts[0]
            if task_id not in self.tasks:
                return Reply(404, {"title": "Not found", "detail": "Not found", "status": 404})
            if method == "POST" and parts[1:] == ["cancel"]:
                self.tasks[task_id]["canceled"] = True
                return Reply(200, self._prediction(task_id, "canceled"))
            if self.tasks[task_id]["canceled"]:
                return Reply(200, self._prediction(task_id, "canceled"))
            word = self.advance(task_id)
            if word == "FAILED":
                prediction = self._prediction(task_id, "failed")
                prediction["error"] = self.fail_reason
                return Reply(200, prediction)
            return Reply(200, self._prediction(task_id, word))
        return Reply(404, {"title": "Not found", "detail": "Not found", "status": 404})


FAKES: dict[str, type[FakeServer]] = {cls.name: cls for cls in (FakeKling, FakeFal, FakeKie, FakeNovita, FakeReplicate)}
