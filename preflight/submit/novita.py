"""Novita's async API: one endpoint per model (``/v3/async/kling-v2.6-pro-motion-control``,
``/v3/async/kling-v3.0-motion-control``: ``profiles/providers/novita.toml``).

Choices the docs left open (PROVIDERS.md, "Novita"):
- v2.6: only a pro endpoint exists: its mode is ``pro`` and ``std`` is refused. v3: the mode is the
  ``model_name`` field (``kling-v3-0-std`` | ``kling-v3-0-pro``).
- A local image goes inline as raw base64 (the reference says "URL or base64"; no ``data:`` prefix
  assumed, INFERRED). The clip must be a URL: Novita has no upload API.
- Poll ``GET /v3/async/task-result?task_id=...``: ``task.status`` is one of
  ``TASK_STATUS_QUEUED|PROCESSING|SUCCEED|FAILED``, the reason in ``task.reason``; the video at
  ``videos[0].video_url`` with ``video_url_ttl`` seconds (INFERRED from Novita's other async video
  APIs; PROVIDERS.md marks the field name INFERRED).
- Errors: ``{"code", "reason", "message"}``. ``reason`` picks the class where it says more than the
  HTTP status: ``BILLING_BALANCE_NOT_ENOUGH`` comes as HTTP 400 but is ``submit.no_credits`` (not
  ``submit.invalid``: the input was fine), ``INVALID_API_KEY`` (HTTP 403) is ``submit.auth``.
  Neither is retried (400 and 403 never are). Otherwise the HTTP status picks the class.
- No idempotency key, lookup or cancel. Prices unverified.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from ..errors import AuthError, CreditsError, SubmitError
from .base import Created, JobStatus, Provider, TaskInput, TaskState, _json_or_none
from .keys import redact

__all__ = ["NovitaProvider"]


_STATUS = {
    "TASK_STATUS_QUEUED": JobStatus.QUEUED,
    "TASK_STATUS_PROCESSING": JobStatus.RUNNING,
    "TASK_STATUS_SUCCEED": JobStatus.SUCCEEDED,
    "TASK_STATUS_FAILED": JobStatus.FAILED,
}


class NovitaProvider(Provider):
    name = "novita"
    title = "Novita"
    default_base_url = "https://api.novita.ai"
    key_names = ("NOVITA_API_KEY",)
    inline_image = "base64"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys['NOVITA_API_KEY']}"}

    def body(self, task: TaskInput) -> dict[str, Any]:
        return self.fields(task)

    def create_request(self, task: TaskInput) -> httpx.Request:
        return self.request("POST", self.model_id(task.settings), json=self.body(task))

    def parse_created(self, response: httpx.Response) -> Created:
        body = self.json_of(response)
        if not body.get("task_id"):
            raise SubmitError("novita: the answer has no task_id", "submit.bad_response")
        return Created(str(body["task_id"]), "TASK_STATUS_QUEUED")

    def status(self, task_id: str, data: Mapping[str, Any]) -> TaskState:
        request = self.request("GET", "/v3/async/task-result", params={"task_id": task_id})
        body = self.json_of(self.call(request))
        task = body.get("task") or {}
        raw = str(task.get("status", ""))
        status = _STATUS.get(raw, JobStatus.RUNNING)
        if status is JobStatus.FAILED:
            return TaskState(status, raw, None, str(task.get("reason") or "no reason given"))
        if status is JobStatus.SUCCEEDED:
            videos = body.get("videos") or []
            url = videos[0].get("video_url") if videos else None
            if not url:
                return TaskState(JobStatus.FAILED, raw, None, "novita: the result has no videos[0].video_url")
            ttl = videos[0].get("video_url_ttl")
            return TaskState(status, raw, str(url), ttl=float(ttl) if str(ttl or "").isdigit() else None)
        return TaskState(status, raw)

    def error_message(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            parts = [str(body[k]) for k in ("reason", "message") if body.get(k)]
            if parts:
                return ": ".join(parts)
        return super().error_message(response)

    def error_for(self, response: httpx.Response) -> SubmitError:
        body = _json_or_none(response)
        reason = body.get("reason") if isinstance(body, dict) else None
        text = redact(f"novita: {self.error_message(response)} (HTTP {response.status_code})")
        if reason == "BILLING_BALANCE_NOT_ENOUGH":
            return CreditsError(
                text + ": the Novita balance is too low: top it up (Novita billing page), then submit again"
            )
        if reason == "INVALID_API_KEY":
            return AuthError(text + ": check NOVITA_API_KEY (environment or config file)")
        return super().error_for(response)
