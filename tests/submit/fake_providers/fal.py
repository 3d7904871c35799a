"""fal fake: queue API (status/response/cancel URLs), `detail` error lists and request errors, storage uploads."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any, ClassVar

from .base import FakeServer, Reply, scripted
from .contracts import CONTRACTS, problems

REQUEST_ERRORS = {
    # error_type: typical HTTP status (fal's "Request Error Types"); the rest of runner_* is 503
    "request_timeout": 504,
    "startup_timeout": 504,
    "runner_scheduling_failure": 503,
    "runner_disconnected": 503,
}


class FakeFal(FakeServer):
    name = "fal"
    auth_error: ClassVar[Any] = {"detail": "Invalid Key authorization header"}
    statuses = ("IN_QUEUE", "IN_PROGRESS", "COMPLETED")

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization") == f"Key {self.secrets['FAL_KEY']}"

    def __init__(self, secrets: dict[str, str]) -> None:
        super().__init__(secrets)
        self.signatures: dict[str, str] = {}
        """Upload token -> the signature its pre-signed URLs carry in their query."""
        self.parts: dict[str, dict[int, bytes]] = {}
        """Multipart upload token -> part number -> bytes, until completed."""
        self.completed: dict[str, list[dict[str, Any]]] = {}
        """Multipart upload token -> the parts list its complete call sent."""
        self.failing_parts = 0
        """The next this many part PUTs answer 503 (storage hiccups the client must retry)."""

    def request_error(self, error_type: str, retryable: bool | None = None) -> Reply:
        """fal's request-error answer (flat ``detail`` + ``error_type``), to queue in ``script``."""
        headers = {"X-Fal-Error-Type": error_type}
        if retryable is not None:
            headers["X-Fal-Retryable"] = str(retryable).lower()
        status = REQUEST_ERRORS.get(error_type, 503)
        return Reply(status, {"detail": "the request could not be processed", "error_type": error_type}, headers)

    def public(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Reply | None:
        # Pre-signed storage URLs: no API key expected, the signature in the query is the credential.
        if not path.startswith("/upload/"):
            return None
        token, _, rest = path[len("/upload/") :].partition("/")
        if token not in self.signatures or query.get("signature") != self.signatures[token]:
            return Reply(403, raw=b"<Error><Code>SignatureDoesNotMatch</Code></Error>")
        if method == "PUT" and not rest and token not in self.parts:
            self.files[token] = body
            return Reply(200, {})
        if method == "PUT" and rest.isdigit() and token in self.parts:
            if self.failing_parts > 0:
                self.failing_parts -= 1
                return Reply(503, raw=b"<Error><Code>SlowDown</Code></Error>")
            self.parts[token][int(rest)] = body
            return Reply(200, {"partNumber": int(rest), "etag": _etag(body)}, headers={"ETag": f'"{_etag(body)}"'})
        if method == "POST" and rest == "complete" and token in self.parts:
            return self._complete(token, json.loads(body).get("parts"))
        return Reply(404, raw=b"<Error><Code>NoSuchUpload</Code></Error>")

    def _complete(self, token: str, parts: Any) -> Reply:
        stored = self.parts[token]
        if not isinstance(parts, list) or [p.get("partNumber") for p in parts] != list(range(1, len(stored) + 1)):
            return Reply(400, {"detail": "parts must list every uploaded part in order, numbered from 1"})
        if any(p.get("etag") != _etag(stored[p["partNumber"]]) for p in parts):
            return Reply(400, {"detail": "an etag does not match its part"})
        self.files[token] = b"".join(stored[n] for n in sorted(stored))
        self.completed[token] = parts
        return Reply(200, {})

    def _initiate(self, path: str, query: dict[str, str], body: bytes) -> Reply:
        data = json.loads(body)
        if query.get("storage_type") != "fal-cdn-v3" or not data.get("file_name"):
            return Reply(
                422,
                {"detail": [{"loc": ["body", "file_name"], "msg": "field required", "type": "value_error.missing"}]},
            )
        token = uuid.uuid4().hex + "-" + data["file_name"]
        self.signatures[token] = uuid.uuid4().hex
        if path.endswith("/initiate-multipart"):
            self.parts[token] = {}
        upload_url = f"{self.url}/upload/{token}?signature={self.signatures[token]}"
        return Reply(200, {"upload_url": upload_url, "file_url": f"{self.url}/files/{token}"})

    def route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> Reply:
        if method == "POST" and path in ("/storage/upload/initiate", "/storage/upload/initiate-multipart"):
            return self._initiate(path, query, body)
        if method == "POST" and path.lstrip("/") in CONTRACTS["fal"]:
            canned = scripted(self, "create")
            if canned:
                return canned
            data = json.loads(body)
            errors = [
                {"loc": ["body", text.split()[-1] if text.startswith("unknown") else text.split()[0]], "msg": text,
                 "type": "value_error"}
                for text in problems(CONTRACTS["fal"][path.lstrip("/")], data)
            ]  # fmt: skip
            if errors:
                return Reply(422, {"detail": errors})
            app = "/" + "/".join(path.strip("/").split("/")[:2])
            task_id = self.new_task(data, endpoint=path.split("/")[-2], webhook=query.get("fal_webhook"), path=path)
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
        if "/requests/" in path:
            app, _, rest = path.partition("/requests/")
            parts = rest.split("/")
            task_id = parts[0]
            if task_id not in self.tasks or not self.tasks[task_id]["path"].startswith(app + "/"):
                return Reply(404, {"detail": "Request not found"})
            if method == "GET" and parts[1:] == ["status"]:
                canned = scripted(self, "status")
                if canned:
                    return canned
                word = self.advance(task_id)
                return Reply(200, {"status": "COMPLETED" if word == "FAILED" else word, "request_id": task_id})
            if method == "GET" and not parts[1:]:
                canned = scripted(self, "result")
                if canned:
                    return canned
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


def _etag(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()  # what S3-style stores use for a part's etag
