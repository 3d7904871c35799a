"""Replicate's predictions API: ``models/{owner}/{name}/predictions`` for each model's id
(``kwaivgi/kling-v3-motion-control``, ``wan-video/wan-2.2-animate-animation``...:
``profiles/providers/replicate.toml``).

Choices the docs left open (PROVIDERS.md, "Replicate"):
- ``character_orientation`` is always sent: Replicate's default is ``image`` (3-10 s clips), unlike
  every other provider's required field, and a silent default would change the result.
- ``mode`` std/pro and ``keep_original_sound`` (boolean) as documented; no negative prompt field.
- Local files go through Replicate's files API (``POST /v1/files``, multipart ``content``; the file's
  ``urls.get`` is accepted as a model input). Files are not deleted by us.
- ``--callback-url`` becomes ``webhook`` with ``webhook_events_filter: ["completed"]``.
- Polls use the prediction's ``urls.get``, cancels its ``urls.cancel`` (else
  ``/v1/predictions/{id}[/cancel]``).
- Errors are problem details (``title``/``detail``); the HTTP status picks the class.
- No idempotency key or lookup: a create of unknown outcome leaves the job ``unknown``.
- API outputs are removed after about an hour: download promptly. Prices unverified.
- Status ``aborted`` (the prediction's deadline passed before it started) ends the job as
  ``failed``, with a message saying it never ran, instead of being polled as if still running.
  Not ``canceled``: in the ledger that means someone asked for the cancel (``jobs cancel``); nobody
  did here, and the user has to act (submit again), which is what a failure tells them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from ..errors import SubmitError
from .base import Created, JobStatus, MediaInput, Provider, TaskInput, TaskState

__all__ = ["ReplicateProvider"]


_STATUS = {
    "starting": JobStatus.QUEUED,
    "processing": JobStatus.RUNNING,
    "succeeded": JobStatus.SUCCEEDED,
    "failed": JobStatus.FAILED,
    "canceled": JobStatus.CANCELED,
    "aborted": JobStatus.FAILED,  # deadline passed before it started: it never ran
}
ABORTED = "aborted: its deadline passed before it started, so it never ran; submit again"


class ReplicateProvider(Provider):
    name = "replicate"
    title = "Replicate"
    default_base_url = "https://api.replicate.com"
    key_names = ("REPLICATE_API_TOKEN",)
    result_ttl = 3600.0
    can_upload = True
    can_cancel = True

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys['REPLICATE_API_TOKEN']}"}

    def body(self, task: TaskInput) -> dict[str, Any]:
        s = task.settings
        body: dict[str, Any] = {"input": self.fields(task)}
        if s.callback_url:
            body["webhook"] = s.callback_url
            body["webhook_events_filter"] = ["completed"]
        return body

    def create_request(self, task: TaskInput) -> httpx.Request:
        return self.request("POST", f"/v1/models/{self.model_id(task.settings)}/predictions", json=self.body(task))

    def parse_created(self, response: httpx.Response) -> Created:
        body = self.json_of(response)
        if not body.get("id"):
            raise SubmitError("replicate: the answer has no prediction id", "submit.bad_response")
        urls = body.get("urls") or {}
        data = {key: urls[key] for key in ("get", "cancel") if urls.get(key)}
        return Created(str(body["id"]), body.get("status"), data)

    def status(self, task_id: str, data: Mapping[str, Any]) -> TaskState:
        url = str(data.get("get") or f"/v1/predictions/{task_id}")
        body = self.json_of(self.call(self.request("GET", url)))
        raw = str(body.get("status", ""))
        status = _STATUS.get(raw, JobStatus.RUNNING)
        if status is JobStatus.FAILED:
            error = body.get("error")
            if raw == "aborted":
                return TaskState(status, raw, None, ABORTED + (f" ({error})" if error else ""))
            return TaskState(status, raw, None, str(error or "no reason given"))
        if status is JobStatus.SUCCEEDED:
            output = body.get("output")
            if isinstance(output, list):  # one URI documented; tolerate a list of one
                output = output[0] if output else None
            if not output:
                return TaskState(JobStatus.FAILED, raw, None, "replicate: the prediction has no output")
            return TaskState(status, raw, str(output))
        return TaskState(status, raw)

    def cancel(self, task_id: str, data: Mapping[str, Any]) -> None:
        self.call(self.request("POST", str(data.get("cancel") or f"/v1/predictions/{task_id}/cancel")))

    def _upload_request(self, media: MediaInput, content: bytes) -> httpx.Request:
        assert media.path is not None
        return self.request("POST", "/v1/files", files={"content": (media.path.name, content, media.content_type)})

    def upload_requests(self, media: MediaInput) -> list[httpx.Request]:
        return [self._upload_request(media, b"<file bytes>")]

    def upload(self, media: MediaInput) -> str:
        assert media.path is not None
        body = self.json_of(self.call(self._upload_request(media, media.path.read_bytes())))
        url = (body.get("urls") or {}).get("get")
        if not url:
            raise SubmitError("replicate: the file upload answer has no urls.get", "submit.bad_response")
        return str(url)
