"""Runway fake: `character_performance` with the Act-Two body checked, `/v1/tasks/{id}` polls."""

from __future__ import annotations

import json
import uuid
from typing import Any, ClassVar

from .base import FakeServer, Reply, parse_multipart, scripted

RATIOS = ("1280:720", "720:1280", "960:960", "1104:832", "832:1104", "1584:672")


def _problem(data: dict[str, Any]) -> str | None:
    allowed = {"model", "character", "reference", "ratio", "bodyControl", "expressionIntensity", "seed",
               "contentModeration"}  # fmt: skip
    unknown = next((k for k in data if k not in allowed), None)
    if unknown:
        return f"unknown field {unknown}"
    character, reference = data.get("character") or {}, data.get("reference") or {}
    if data.get("model") != "act_two":
        return "model must be act_two"
    if character.get("type") not in ("image", "video") or not character.get("uri"):
        return "character: {type: image|video, uri} required"
    if reference.get("type") != "video" or not reference.get("uri"):
        return "reference: {type: video, uri} required"
    for part in (character, reference):
        if not str(part["uri"]).startswith(("https://", "http://", "data:", "runway://")):
            return "uri must be an https URL, a data URI or a runway:// URI"
    if data.get("ratio", "1280:720") not in RATIOS:
        return "ratio must be one of " + ", ".join(RATIOS)
    if not 1 <= int(data.get("expressionIntensity", 3)) <= 5:
        return "expressionIntensity must be 1-5"
    moderation = data.get("contentModeration", {})
    if set(moderation) - {"publicFigureThreshold"} or moderation.get("publicFigureThreshold", "auto") not in (
        "auto", "low"):  # fmt: skip
        return "contentModeration: {publicFigureThreshold: auto|low}"
    return None


class FakeRunway(FakeServer):
    name = "runway"
    auth_error: ClassVar[Any] = {"error": "Invalid API key"}
    statuses = ("PENDING", "THROTTLED", "RUNNING", "SUCCEEDED")

    def authorized(self, headers: dict[str, str]) -> bool:
        return (
            headers.get("authorization") == f"Bearer {self.secrets['RUNWAYML_API_SECRET']}"
            and headers.get("x-runway-version") == "2024-11-06"
        )

    def public(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Reply | None:
        # The pre-signed form POST of an upload: the signature is in the form's fields, no key expected.
        if not path.startswith("/upload-target/"):
            return None
        token = path.rsplit("/", 1)[-1]
        form = parse_multipart(headers, body)
        if "authorization" in headers or form.get("signature", (None, b""))[1].decode() != token or "file" not in form:
            return Reply(403, raw=b"<Error><Code>AccessDenied</Code></Error>")
        self.files[f"runway-{token}"] = form["file"][1]
        return Reply(204, raw=b"")

    def route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> Reply:
        if method == "POST" and path == "/v1/uploads":
            data = json.loads(body)
            if data.get("type") != "ephemeral" or not data.get("filename"):
                return Reply(400, {"error": "filename and type: ephemeral are required"})
            token = uuid.uuid4().hex
            return Reply(200, {"uploadUrl": f"{self.url}/upload-target/{token}", "fields": {"signature": token},
                               "runwayUri": f"runway://uploads/{token}"})  # fmt: skip
        if method == "POST" and path == "/v1/character_performance":
            canned = scripted(self, "create")
            if canned:
                return canned
            data = json.loads(body)
            problem = _problem(data)
            if problem:
                return Reply(400, {"error": problem})
            task_id = self.new_task(data)
            if self.drop_create:
                self.drop_create = False
                return Reply(drop=True)
            return Reply(200, {"id": task_id})
        if path.startswith("/v1/tasks/"):
            task_id = path.rsplit("/", 1)[-1]
            if task_id not in self.tasks:
                return Reply(404, {"error": "Task not found"})
            if method == "DELETE":
                self.tasks[task_id]["canceled"] = True
                return Reply(204, raw=b"")
            canned = scripted(self, "status")
            if canned:
                return canned
            if self.tasks[task_id]["canceled"]:
                return Reply(200, {"id": task_id, "status": "CANCELLED"})
            word = self.advance(task_id)
            reply: dict[str, Any] = {"id": task_id, "status": word, "createdAt": "2026-12-03T10:00:00Z"}
            if word == "FAILED":
                reply.update(failure=self.fail_reason, failureCode="INTERNAL.BAD_OUTPUT")
            elif word == "SUCCEEDED":
                reply["output"] = [self.result_url(task_id)]
            return Reply(200, reply)
        return Reply(404, {"error": "Not found"})
