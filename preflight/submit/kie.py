"""KIE's job API: ``POST /api/v1/jobs/createTask`` with the model named in the body
(``kling-2.6/motion-control``, ``kling-3.0/motion-control``: ``profiles/providers/kie.toml``).

Choices the docs left open (PROVIDERS.md, "KIE"):
- Mode: ``std`` -> ``"720p"``, ``pro`` -> ``"1080p"`` (KIE's ``mode`` enum), for v3 too: its page
  says std/pro, an integrator reports those get HTTP 500 while 720p/1080p work.
- KIE answers errors both as HTTP statuses and as a ``code`` in a 200 body; both are read.
- Both files go as URLs (``input_urls`` / ``video_urls`` are lists of one). Local files are sent to
  KIE's file-stream upload (``https://kieai.redpandaai.co/api/file-stream-upload``, multipart
  ``file`` + ``uploadPath`` + ``fileName``; the URL is ``data.downloadUrl``). Its host is
  ``PREFLIGHT_KIE_UPLOAD_URL``; when only the API base is overridden, the upload host follows it.
  Uploaded files are deleted after 3 days.
- Uploads are named by content: ``fileName`` is ``<first 16 hex of the file's sha256>-<its name>``.
  KIE overwrites a file of the same name (with caching delays), so two different ``clip.mp4`` from
  two folders would make one task read the other's clip; identical bytes may share a name (they are
  the same file). 16 hex digits (64 bits) make an accidental clash negligible, and the original name
  stays readable in KIE's logs.
- No keep-sound field and no negative prompt: both are refused rather than dropped.
- ``prompt`` is sent only when given; ``callBackUrl`` only when given.
- No idempotency key, no lookup and no documented cancel: a create of unknown outcome leaves the
  job ``unknown``.
- Results (``resultUrls`` inside the ``resultJson`` string) stay about 24 h. Prices unverified.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import httpx

from ..errors import SubmitError
from .base import Created, JobStatus, MediaInput, Provider, TaskInput, TaskState, error_from_status

__all__ = ["KieProvider"]

UPLOAD_URL = "https://kieai.redpandaai.co"
UPLOAD_PATH = "preflight"

_STATUS = {
    "waiting": JobStatus.QUEUED,
    "queuing": JobStatus.QUEUED,
    "generating": JobStatus.RUNNING,
    "success": JobStatus.SUCCEEDED,
    "fail": JobStatus.FAILED,
}


class KieProvider(Provider):
    name = "kie"
    title = "KIE"
    default_base_url = "https://api.kie.ai"
    key_names = ("KIE_API_KEY",)
    result_ttl = 24 * 3600.0
    can_upload = True
    other_env_urls = ("UPLOAD_URL",)

    @property
    def upload_url(self) -> str:
        explicit = self.env_url("UPLOAD_URL")
        if explicit:
            return explicit.rstrip("/")
        return self.base_url if self.base_url_overridden else UPLOAD_URL

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys['KIE_API_KEY']}"}

    def body(self, task: TaskInput) -> dict[str, Any]:
        s = task.settings
        body: dict[str, Any] = {"model": self.model_id(s), "input": self.fields(task)}
        if s.callback_url:
            body["callBackUrl"] = s.callback_url
        return body

    def create_request(self, task: TaskInput) -> httpx.Request:
        return self.request("POST", "/api/v1/jobs/createTask", json=self.body(task))

    def _data(self, response: httpx.Response) -> dict[str, Any]:
        body = self.json_of(response)
        code = body.get("code", 200)
        if code != 200:
            raise error_from_status("kie", int(code), str(body.get("msg") or "error"), self.key_names)
        data = body.get("data")
        if not isinstance(data, dict):
            raise SubmitError("kie: the answer has no data", "submit.bad_response")
        return data

    def parse_created(self, response: httpx.Response) -> Created:
        data = self._data(response)
        if not data.get("taskId"):
            raise SubmitError("kie: the answer has no data.taskId", "submit.bad_response")
        return Created(str(data["taskId"]), "waiting")

    def status(self, task_id: str, data: Mapping[str, Any]) -> TaskState:
        request = self.request("GET", "/api/v1/jobs/recordInfo", params={"taskId": task_id})
        record = self._data(self.call(request))
        raw = str(record.get("state", ""))
        status = _STATUS.get(raw, JobStatus.RUNNING)
        if status is JobStatus.FAILED:
            reason = record.get("failMsg") or "no reason given"
            code = record.get("failCode")
            return TaskState(status, raw, None, f"{reason} (failCode {code})" if code else str(reason))
        if status is JobStatus.SUCCEEDED:
            try:
                urls = json.loads(record.get("resultJson") or "{}").get("resultUrls") or []
            except (json.JSONDecodeError, AttributeError):
                urls = []
            if not urls:
                return TaskState(JobStatus.FAILED, raw, None, "kie: resultJson has no resultUrls")
            return TaskState(status, raw, str(urls[0]))
        return TaskState(status, raw)

    def _upload_request(self, media: MediaInput, content: bytes, sha256: str) -> httpx.Request:
        assert media.path is not None
        name = _upload_name(media.path.name, sha256)
        return self.request(
            "POST",
            f"{self.upload_url}/api/file-stream-upload",
            data={"uploadPath": UPLOAD_PATH, "fileName": name},
            files={"file": (name, content, media.content_type)},
        )

    def upload_requests(self, media: MediaInput) -> list[httpx.Request]:
        assert media.path is not None
        sha256 = hashlib.sha256()
        with open(media.path, "rb") as source:
            for chunk in iter(lambda: source.read(1 << 20), b""):
                sha256.update(chunk)
        return [self._upload_request(media, b"<file bytes>", sha256.hexdigest())]

    def upload(self, media: MediaInput) -> str:
        assert media.path is not None
        content = media.path.read_bytes()
        data = self._data(self.call(self._upload_request(media, content, hashlib.sha256(content).hexdigest())))
        url = data.get("downloadUrl")
        if not url:
            raise SubmitError("kie: the upload answer has no data.downloadUrl", "submit.bad_response")
        return str(url)

    def error_message(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("msg"):
            return str(body["msg"])
        return super().error_message(response)


def _upload_name(name: str, sha256: str) -> str:
    """The ``fileName`` an upload gets at KIE: content hash first, so different files never share one."""
    return f"{sha256[:16]}-{name}"
