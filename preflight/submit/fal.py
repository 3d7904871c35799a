"""fal.ai's queue API: one app path per model (``fal-ai/kling-video/v3/{standard|pro}/motion-control``,
``fal-ai/wan/v2.2-14b/animate/move``...), from the routes in ``profiles/providers/fal.toml``.

Choices the docs left open (PROVIDERS.md, "fal"):
- Mode -> endpoint for Kling: ``std`` -> ``standard``, ``pro`` -> ``pro`` (fal has no ``mode``
  field); Wan's mode is its ``resolution`` field.
- Follow-up paths without the URLs the create returns use the app id (the model id's first two
  segments), kept with the job.
- Two hosts: the queue (``https://queue.fal.run``; ``--base-url`` / ``PREFLIGHT_FAL_BASE_URL``) and
  storage (``https://rest.fal.ai``; ``PREFLIGHT_FAL_STORAGE_URL``). When only the queue is
  overridden, storage follows it (one fake server, or one proxy, serves both).
- Follow-up calls use the ``status_url`` / ``response_url`` / ``cancel_url`` the create returns (fal
  recommends it: for nested app ids the request path drops the sub-path); without them the
  ``{app}/requests/{id}`` form is derived.
- A request that fails shows ``COMPLETED`` in its status and the error in its result: a result with
  an HTTP error is a failed task, with fal's ``detail`` as the reason.
- Local files are uploaded to fal storage (initiate, then PUT the bytes to the returned URL). The
  fal key is *not* sent with the PUT: the upload URL is pre-signed and may point to another host.

Multipart upload (files over 90 MiB), read from fal's own JS client (``@fal-ai/client``,
``src/storage.js``: ``multipartUpload``/``initiateMultipartUpload``/``partUploadRetries``):
- Confirmed there: a file is sent in parts when its size is *over* ``90 * 1024 * 1024`` bytes.
  ``POST {storage}/storage/upload/initiate-multipart?storage_type=fal-cdn-v3`` with the key and the
  same JSON as the single initiate (``content_type``, ``file_name``) answers ``upload_url`` and
  ``file_url``. Parts are 10 MiB (``10 * 1024 * 1024``), numbered from 1, each ``PUT`` to the upload
  URL's path plus ``/{n}``, *keeping its query string* (the signature lives there), without the key.
  The client reads ``partNumber`` and ``etag`` from each part's JSON answer, then ``POST``s
  ``{"parts": [{"partNumber": n, "etag": "..."}, ...]}`` to the path plus ``/complete`` (query kept);
  ``file_url`` is the file's URL once that succeeds. It retries a failed part up to 3 times.
- Inferred (not in the code read): an ``ETag`` response header as a fallback when a part's answer
  carries no JSON ``etag`` (S3-style stores send one); retrying the complete like any idempotent
  request (completing twice names the same object); no abort call exists, so a failed multipart
  upload is simply abandoned; no minimum part size is enforced on our side (we always send 10 MiB).
- fal has no idempotency key and no lookup, so a create of unknown outcome leaves the job ``unknown``.
- ``X-Fal-Retryable`` decides retries when present. A 403 that mentions the balance is a credits error.
- Request errors (``{"detail": "...", "error_type": "..."}``, also in ``X-Fal-Error-Type``:
  ``request_timeout``, ``startup_timeout``, ``runner_*``; typically 503/504) on a create: with no
  ``X-Fal-Retryable``, a 503 is retried (the queue refused the submit, so nothing was enqueued and a
  resend cannot run the job twice); a 504 is not (a gateway timeout may come after the submit was
  enqueued: the job is left ``unknown`` rather than paid twice). When retries run out, or fal says
  not to retry, the code is ``submit.provider_unavailable`` (fal could not take or run requests now;
  fal bills no 5xx) and the message names the error_type. A status poll answered that way is retried
  like any poll and ends the same way.
- A *result* GET answered with an error_type is the stored outcome of a request fal already ran and
  retried itself (up to 10 times): it is a failed task (``submit.task_failed``) naming the
  error_type, and it is never re-fetched, whatever ``X-Fal-Retryable`` says (that header is about
  running the request again, which only a new submit does).
- Price: std about $0.07/s (fal model page); pro not verified, so no estimate for pro.
- Kling v3's ``elements``: as far as it is documented (one integrator's client), a list of one
  ``{"image_url": ...}``, on the pro endpoint only, with the orientation following the video. So an
  element is ``--set element_image_url=URL``, refused with ``--mode std`` before anything is sent
  (the standard endpoint has no such input; a refusal there would come after an upload).
- Wan 2.2 Animate: fal's default resolution is 480p and so is the route's; fal bills its output
  seconds counted at 16 fps (the cost line says so).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from itertools import count
from typing import Any

import httpx

from ..errors import CreditsError, SubmitError, TaskFailedError, UsageError
from .base import (
    Created,
    JobStatus,
    MediaInput,
    Provider,
    SubmitSettings,
    TaskInput,
    TaskState,
    _json_or_none,
    error_from_status,
)
from .keys import redact

__all__ = ["FalProvider"]

logger = logging.getLogger("preflight")

STORAGE_URL = "https://rest.fal.ai"
MULTIPART_THRESHOLD = 90 * 1024 * 1024  # bytes; fal's JS client sends bigger files in parts
PART_SIZE = 10 * 1024 * 1024  # bytes per part, as fal's JS client

_STATUS = {"IN_QUEUE": JobStatus.QUEUED, "IN_PROGRESS": JobStatus.RUNNING, "COMPLETED": JobStatus.SUCCEEDED}


class FalProvider(Provider):
    name = "fal"
    title = "fal.ai queue API"
    default_base_url = "https://queue.fal.run"
    key_names = ("FAL_KEY",)
    can_upload = True
    other_env_urls = ("STORAGE_URL",)
    can_cancel = True
    multipart_threshold = MULTIPART_THRESHOLD
    """Files larger than this go up in parts (tests lower it)."""
    part_size = PART_SIZE

    @property
    def storage_url(self) -> str:
        explicit = self.env_url("STORAGE_URL")
        if explicit:
            return explicit.rstrip("/")
        return self.base_url if self.base_url_overridden else STORAGE_URL

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Key {self.keys['FAL_KEY']}"}

    def check_settings(self, settings: SubmitSettings) -> None:
        super().check_settings(settings)
        mode = settings.mode or self.route(settings.model).default_mode
        if dict(settings.inputs).get("element_image_url") and mode != "pro":
            raise UsageError(
                f"fal takes an element for {settings.model} on its pro endpoint only: pass --mode pro, or leave "
                "--set element_image_url out",
                "usage.invalid",
            )

    def body(self, task: TaskInput) -> dict[str, Any]:
        return self.fields(task)

    def create_request(self, task: TaskInput) -> httpx.Request:
        params = {"fal_webhook": task.settings.callback_url} if task.settings.callback_url else None
        return self.request("POST", f"/{self.model_id(task.settings)}", json=self.body(task), params=params)

    def create(self, task: TaskInput, **kwargs: Any) -> Created:
        created = super().create(task, **kwargs)
        app = "/".join(self.model_id(task.settings).split("/")[:2])
        return Created(created.task_id, created.raw_status, {**created.data, "app": app})

    def parse_created(self, response: httpx.Response) -> Created:
        body = self.json_of(response)
        if "request_id" not in body:
            raise SubmitError("fal: the answer has no request_id", "submit.bad_response")
        request_id = str(body["request_id"])
        data = {key: body[key] for key in ("status_url", "response_url", "cancel_url") if body.get(key)}
        return Created(request_id, body.get("status"), data)

    def _url(self, data: Mapping[str, Any], key: str, task_id: str, suffix: str) -> str:
        app = data.get("app") or "fal-ai/kling-video"  # jobs recorded before routes named it
        return str(data.get(key) or f"{self.base_url}/{app}/requests/{task_id}{suffix}")

    def status(self, task_id: str, data: Mapping[str, Any]) -> TaskState:
        body = self.json_of(self.call(self.request("GET", self._url(data, "status_url", task_id, "/status"))))
        raw = str(body.get("status", ""))
        status = _STATUS.get(raw, JobStatus.RUNNING)
        if status is not JobStatus.SUCCEEDED:
            return TaskState(status, raw)
        try:
            result = self.json_of(self.call(self.request("GET", self._url(data, "response_url", task_id, ""))))
        except TaskFailedError as exc:
            return TaskState(JobStatus.FAILED, raw, None, exc.message)
        url = (result.get("video") or {}).get("url")
        if not url:
            return TaskState(JobStatus.FAILED, raw, None, "fal: the result has no video.url")
        return TaskState(status, raw, url)

    def cancel(self, task_id: str, data: Mapping[str, Any]) -> None:
        self.call(self.request("PUT", self._url(data, "cancel_url", task_id, "/cancel")))

    def _multipart(self, media: MediaInput) -> bool:
        assert media.path is not None
        return media.path.stat().st_size > self.multipart_threshold

    def _initiate(self, media: MediaInput) -> httpx.Request:
        assert media.path is not None
        endpoint = "initiate-multipart" if self._multipart(media) else "initiate"
        return self.request(
            "POST",
            f"{self.storage_url}/storage/upload/{endpoint}",
            params={"storage_type": "fal-cdn-v3"},
            json={"content_type": media.content_type, "file_name": media.path.name},
        )

    def upload_requests(self, media: MediaInput) -> list[httpx.Request]:
        assert media.path is not None
        presigned = httpx.URL("https://upload-url.from-initiate.invalid/")
        size = media.path.stat().st_size
        if not self._multipart(media):
            note = {"dry_run_body": f"<the {size} bytes of {media.path.name}>"}
            put = httpx.Request("PUT", presigned, headers={"Content-Type": media.content_type}, extensions=note)
            return [self._initiate(media), put]
        parts = -(-size // self.part_size)
        note = {"dry_run_body": f"<bytes 0-{self.part_size - 1} of {media.path.name}; {parts} such PUTs in all>"}
        first = httpx.Request("PUT", _beside(presigned, "1"), extensions=note)
        complete = httpx.Request(
            "POST", _beside(presigned, "complete"), json={"parts": [{"partNumber": 1, "etag": f"<... {parts} parts>"}]}
        )
        return [self._initiate(media), first, complete]

    def _upload_target(self, media: MediaInput) -> tuple[str, str]:
        target = self.json_of(self.call(self._initiate(media)))
        upload_url, file_url = target.get("upload_url"), target.get("file_url")
        if not upload_url or not file_url:
            raise SubmitError("fal: upload initiate gave no upload_url/file_url", "submit.bad_response")
        return str(upload_url), str(file_url)

    def upload(self, media: MediaInput) -> str:
        assert media.path is not None
        if self._multipart(media):
            return self._upload_in_parts(media)
        upload_url, file_url = self._upload_target(media)
        put = self.client.build_request(
            "PUT", upload_url, content=media.path.read_bytes(), headers={"Content-Type": media.content_type}
        )
        self.call(put)
        return file_url

    def _upload_in_parts(self, media: MediaInput) -> str:
        """fal's multipart upload (see the module docstring): parts read one at a time, never the whole file."""
        assert media.path is not None
        upload_url, file_url = self._upload_target(media)
        presigned = httpx.URL(upload_url)
        total = -(-media.path.stat().st_size // self.part_size)
        parts: list[dict[str, Any]] = []
        with open(media.path, "rb") as source:
            for number in count(1):
                chunk = source.read(self.part_size)
                if not chunk:
                    break
                response = self.call(self.client.build_request("PUT", _beside(presigned, str(number)), content=chunk))
                parts.append({"partNumber": number, "etag": _etag(response, number)})
                logger.info("fal: uploaded %s part %d of %d", media.path.name, number, total)
        self.call(self.client.build_request("POST", _beside(presigned, "complete"), json={"parts": parts}))
        return file_url

    def retry_hint(self, response: httpx.Response) -> bool | None:
        if _is_result(response.request) and _error_type(response):
            return False  # a finished request's stored outcome: asking again returns it again
        flag = response.headers.get("X-Fal-Retryable")
        if flag is None:
            return None
        return flag.strip().lower() == "true"

    def error_message(self, response: httpx.Response) -> str:
        try:
            detail = response.json().get("detail")
        except (ValueError, AttributeError):
            detail = None
        if isinstance(detail, list):
            parts = []
            for item in detail:
                if isinstance(item, dict):
                    loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                    parts.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg", "")))
            return "; ".join(parts) or str(detail)
        if detail:
            return str(detail)
        return super().error_message(response)

    def error_for(self, response: httpx.Response) -> SubmitError:
        message = self.error_message(response)
        if response.status_code == 403 and "balance" in message.lower():
            return CreditsError(redact(f"fal: {message} (HTTP 403): top up the account"))
        error_type = _error_type(response)
        if _is_result(response.request) and (error_type or response.status_code in (400, 422, 500)):
            # The result of a request that ran and failed.
            kind = f" ({error_type})" if error_type else ""
            return TaskFailedError(redact(f"fal: the task failed{kind}: {message}"))
        if error_type and response.status_code >= 500:
            return SubmitError(
                redact(
                    f"fal: {message} (error_type {error_type}, HTTP {response.status_code}): fal could not take "
                    "or run the request now; try again later"
                ),
                "submit.provider_unavailable",
            )
        return error_from_status("fal", response.status_code, message, self.key_names)


def _is_result(request: httpx.Request) -> bool:
    """A GET of a request's result (its ``response_url``), not of its status."""
    return request.method == "GET" and "/requests/" in request.url.path and not request.url.path.endswith("/status")


def _error_type(response: httpx.Response) -> str | None:
    """fal's machine-readable request error category (body ``error_type`` or ``X-Fal-Error-Type``)."""
    body = _json_or_none(response)
    value = body.get("error_type") if isinstance(body, dict) else None
    return str(value or response.headers.get("X-Fal-Error-Type") or "") or None


def _beside(url: httpx.URL, name: str) -> httpx.URL:
    """``name`` appended to the URL's path, its query (the signature) kept: how fal addresses parts."""
    return url.copy_with(path=url.path.rstrip("/") + "/" + name)


def _etag(response: httpx.Response, number: int) -> str:
    body = _json_or_none(response)
    etag = (body.get("etag") if isinstance(body, dict) else None) or response.headers.get("ETag")
    if not etag:
        raise SubmitError(f"fal: upload part {number} was answered without an etag", "submit.bad_response")
    return str(etag)
