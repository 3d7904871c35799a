"""Replicate fake: predictions with `urls.get`/`urls.cancel`, problem-JSON errors, file uploads."""

from __future__ import annotations

import json
import uuid
from typing import Any, ClassVar

from .base import FakeServer, Reply, parse_multipart, scripted
from .contracts import CONTRACTS, problems


class FakeReplicate(FakeServer):
    name = "replicate"
    auth_error: ClassVar[Any] = {
        "title": "Unauthenticated",
        "detail": "You did not pass a valid authentication token",
        "status": 401,
    }
    statuses = ("starting", "processing", "succeeded")
    deadline_passed = False
    """Set by a test: a prediction polled before it started is ``aborted`` (and stays so)."""

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
        model = path.removeprefix("/v1/models/").removesuffix("/predictions")
        if method == "POST" and path.endswith("/predictions") and model in CONTRACTS["replicate"]:
            canned = scripted(self, "create")
            if canned:
                return canned
            data = json.loads(body)
            invalid = problems(CONTRACTS["replicate"][model], data.get("input") or {})
            if invalid:
                return Reply(
                    422,
                    {
                        "title": "Input validation failed",
                        "status": 422,
                        "detail": "; ".join(f"input: {k}" for k in invalid),
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
            if self.deadline_passed and (word == "starting" or self.tasks[task_id].get("aborted")):
                self.tasks[task_id]["aborted"] = True
                return Reply(200, self._prediction(task_id, "aborted"))
            if word == "FAILED":
                prediction = self._prediction(task_id, "failed")
                prediction["error"] = self.fail_reason
                return Reply(200, prediction)
            return Reply(200, self._prediction(task_id, word))
        return Reply(404, {"title": "Not found", "detail": "Not found", "status": 404})
