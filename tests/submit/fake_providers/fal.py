"""fal fake: queue API (status/response/cancel URLs), `detail` error lists, storage uploads."""

from __future__ import annotations

import json
import uuid
from typing import Any, ClassVar

from .base import FakeServer, Reply, scripted


class FakeFal(FakeServer):
    name = "fal"
    auth_error: ClassVar[Any] = {"detail": "Invalid Key authorization header"}
    statuses = ("IN_QUEUE", "IN_PROGRESS", "COMPLETED")

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization") == f"Key {self.secrets['FAL_KEY']}"

    def public(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Reply | None:
        if method == "PUT" and path.startswith("/upload/"):  # pre-signed storage URL: no API auth expected
            self.files[path.split("/")[-1]] = body
            return Reply(200, {})
        return None

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
            canned = scripted(self, "create")
            if canned:
                return canned
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
                canned = scripted(self, "status")
                if canned:
                    return canned
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
