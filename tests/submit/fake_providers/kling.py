"""Official Kling API fake: JWT (HS256) auth, `code`-carrying error bodies, `external_task_id` lookups."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, ClassVar

import jwt

from .base import FakeServer, Reply, scripted

ERRORS = {
    # code: (HTTP status, message), as Kling's error table lists them
    1100: (429, "Account exception"),
    1101: (429, "Account in arrears"),
    1102: (429, "Account balance not enough"),
    1103: (403, "No permission to access the requested resource"),
    1300: (400, "Platform policy triggered"),
    1301: (400, "Content security policy triggered"),
    1302: (429, "API request too frequent"),
    1303: (429, "Parallel tasks over the resource package limit"),
    1304: (429, "IP whitelist policy triggered"),
    5000: (500, "Server internal error"),
    5001: (503, "Server temporarily unavailable"),
    5002: (504, "Server internal timeout"),
}


class FakeKling(FakeServer):
    name = "kling"
    auth_error: ClassVar[Any] = {"code": 1001, "message": "Authorization is invalid", "request_id": "r-auth"}
    statuses = ("submitted", "processing", "succeed")

    def __init__(self, secrets: dict[str, str]) -> None:
        super().__init__(secrets)
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

    def error(self, code: int) -> Reply:
        """Kling's answer for one of its error codes (``ERRORS``), to queue in ``script``."""
        status, message = ERRORS[code]
        return self._error(status, code, message)

    def route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> Reply:
        base = "/v1/videos/motion-control"
        if method == "POST" and path == base:
            canned = scripted(self, "create")
            if canned:
                return canned
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
                "element_list",
            }
            problem = (
                next((f"unknown field {k}" for k in data if k not in allowed), None)
                or next(
                    (
                        f"{k} is required"
                        # model_name too: a missing one must not pass as v2.6 (a v3 job silently sent as v2.6
                        # would pass here and be billed, and made, as the other model); external_task_id is
                        # what makes a resend after a lost answer safe.
                        for k in ("model_name", "image_url", "video_url", "character_orientation", "mode",
                                  "external_task_id")
                        if not data.get(k)
                    ),
                    None,
                )
                or (data["character_orientation"] not in ("image", "video") and "bad character_orientation")
                or (data["mode"] not in ("std", "pro") and "bad mode")
                or (data.get("keep_original_sound", "yes") not in ("yes", "no") and "keep_original_sound: yes|no")
                or (str(data["image_url"]).startswith("data:") and "image_url: base64 without data: prefix")
                or (len(data.get("prompt", "")) > 2500 and "prompt too long")
                or (data["model_name"] not in ("kling-v2-6", "kling-v3") and "bad model_name")
                or _v3_problem(data)
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
            canned = scripted(self, "status")
            if canned:
                return canned
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


def _v3_problem(data: dict[str, Any]) -> str | bool:
    """v3's element: one ``{"element_id": int}``, v3 only, and the orientation must follow the video."""
    if "watermark_info" in data and not isinstance((data["watermark_info"] or {}).get("enabled"), bool):
        return "watermark_info: {enabled: bool}"
    if "element_list" not in data:
        return False
    elements = data["element_list"]
    if data.get("model_name") != "kling-v3":
        return "element_list needs kling-v3"
    if not (isinstance(elements, list) and len(elements) == 1 and isinstance(elements[0].get("element_id"), int)):
        return "element_list: one {element_id: int}"
    return data["character_orientation"] != "video" and "element_list needs character_orientation video"
