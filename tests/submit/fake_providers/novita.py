"""Novita fake: async task API with `TASK_STATUS_*` words and `reason` error bodies."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from .base import FakeServer, Reply, scripted
from .contracts import CONTRACTS, problems

ERRORS = {
    # reason: (HTTP status, message)
    "BILLING_BALANCE_NOT_ENOUGH": (400, "balance is not enough"),
    "INVALID_API_KEY": (403, "invalid api key"),
}


class FakeNovita(FakeServer):
    name = "novita"
    auth_status = 403
    auth_error: ClassVar[Any] = {"code": 403, "reason": "INVALID_API_KEY", "message": "invalid api key"}
    statuses = ("TASK_STATUS_QUEUED", "TASK_STATUS_PROCESSING", "TASK_STATUS_SUCCEED")

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization") == f"Bearer {self.secrets['NOVITA_API_KEY']}"

    def error(self, reason: str) -> Reply:
        """Novita's answer for one of its error reasons (``ERRORS``), to queue in ``script``."""
        status, message = ERRORS[reason]
        return Reply(status, {"code": status, "reason": reason, "message": message, "metadata": {}})

    def route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> Reply:
        if method == "POST" and path in CONTRACTS["novita"]:
            canned = scripted(self, "create")
            if canned:
                return canned
            data = json.loads(body)
            problem = "; ".join(problems(CONTRACTS["novita"][path], data))
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
