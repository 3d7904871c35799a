"""Vercel's AI Gateway: one ``POST {base}/video-model`` per job, answered by one server-sent event.

The contract (PROVIDERS.md, "Vercel AI Gateway"; the AI SDK's gateway client):
- Headers: ``Authorization: Bearer $AI_GATEWAY_API_KEY``, ``ai-gateway-protocol-version: 0.0.1``,
  ``ai-video-model-specification-version: 4``, ``ai-model-id: klingai/kling-v3.0-motion-control``,
  ``accept: text/event-stream``. Base ``https://ai-gateway.vercel.sh/v4/ai`` (older SDKs used ``/v3/ai``:
  ``--base-url`` / ``PREFLIGHT_VERCEL_BASE_URL``).
- Body: ``prompt``, ``n: 1``, ``image`` = ``{type: "file", mediaType, data: <base64>}`` or ``{type: "url",
  url}``, and Kling's fields camelCased under ``providerOptions.klingai`` (``videoUrl``,
  ``characterOrientation``, ``mode``, ``keepOriginalSound`` "yes"/"no", ``watermarkEnabled``,
  ``elementList``): the route in ``profiles/providers/vercel.toml``.
- Answer: the gateway holds the request open while Kling works, then sends ONE event whose ``data:`` is
  ``{type: "result", videos: [{type: "url", url, mediaType} | {type: "base64", data, mediaType}], warnings,
  providerMetadata}`` or ``{type: "error", message, errorType, statusCode, param}``. Errors before the
  stream are HTTP statuses with ``{error: {message, type}}``.

Choices written down:
- No task id exists. The row is marked ``sent, generating`` the moment the gateway answers 200 and
  starts the stream; from then on a lost connection, a read timeout, a stream that ends without an
  event or an event that cannot be read all mean the same: the job may have been generated and billed,
  and nothing can ask. The job is recorded ``unknown`` (``sent, outcome unknown``), shown so in
  ``jobs``, and never sent again unless the user says ``--again`` (a second send is a second bill).
- The stream is read line by line as it arrives (keep-alive comments skipped), so the result is taken
  the moment its event is complete; the read timeout is long (:data:`READ_TIMEOUT`, 30 minutes between
  two bytes; ``PREFLIGHT_VERCEL_READ_TIMEOUT``) because the gateway may send nothing while Kling works.
- A URL result is downloaded like any provider's (without the key); a base64 result is decoded and kept
  beside the ledger until ``-o`` / ``jobs download`` copies it out.
- Errors (HTTP or the error event) by status, refined by ``errorType``: 401 -> ``submit.auth``; 402, or
  a 403 about credits/balance/payment -> ``submit.no_credits``; another 403 -> ``submit.forbidden`` (the
  key works, the team may not use this model); 404 / ``model_not_found`` -> ``submit.invalid``; 429 ->
  ``submit.rate_limited`` (retried before the stream as every 429 is); 400/422 -> ``submit.invalid``; 5xx
  in an event -> ``submit.provider_error``. An HTTP 500/502/504 *before* the stream follows the shared
  rule for creates (``.http``): outcome unknown, never sent twice.
- A local image goes inline as ``{type: "file"}`` with its media type read from its first bytes (not
  its name). The clip must be a URL: the gateway has no upload API (Vercel's docs point at Vercel Blob,
  a separate product with its own token), so a local clip needs ``--upload`` or ``--video-url``.
- Prices are Kling's, passed through at API cost (the route's).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from ..errors import (
    AccountError,
    AuthError,
    CreditsError,
    OutcomeUnknown,
    RateLimitError,
    SubmitError,
    ValidationError,
)
from .base import Created, JobStatus, MediaInput, Provider, TaskInput, TaskState, _json_or_none
from .http import send
from .keys import redact

__all__ = ["VercelProvider"]

logger = logging.getLogger("preflight")

PROTOCOL_VERSION = "0.0.1"
SPECIFICATION_VERSION = "4"
READ_TIMEOUT = 30 * 60.0
"""Seconds the stream may stay silent before the job is given up as of unknown outcome."""
_MONEY_WORDS = ("credit", "balance", "fund", "payment", "billing", "quota")
_POLICY_WORDS = ("content policy", "moderation", "safety", "violat")


class VercelProvider(Provider):
    name = "vercel"
    title = "Vercel AI Gateway"
    default_base_url = "https://ai-gateway.vercel.sh/v4/ai"
    key_names = ("AI_GATEWAY_API_KEY",)
    inline_image = "data_uri"
    returns_result = True
    media_note = "image inline, clip as a URL (--video-url or --upload)"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys['AI_GATEWAY_API_KEY']}"}

    @property
    def read_timeout(self) -> float:
        from .service import _env_float

        return _env_float("PREFLIGHT_VERCEL_READ_TIMEOUT", READ_TIMEOUT, minimum=1.0)

    def media_ref(self, media: MediaInput, *, dry_run: bool = False) -> str:
        if media.url or not self.inlines(media):
            return super().media_ref(media, dry_run=dry_run)
        assert media.path is not None
        data = media.path.read_bytes()
        return f"data:{_image_type(data, media.content_type)};base64,{base64.b64encode(data).decode('ascii')}"

    def outcome_unknown_advice(self) -> str:
        return (
            "The AI Gateway gives no task id, so the outcome cannot be asked for later: the video may have been "
            "made and billed. Check the team's AI Gateway usage in the Vercel dashboard; preflight does not send "
            "it again unless you run `preflight submit ... --again` (which pays again)"
        )

    # ----- the request --------------------------------------------------------------------------

    def body(self, task: TaskInput) -> dict[str, Any]:
        body = self.fields(task)
        body["image"] = _image_part(str(body["image"]))
        return body

    def create_request(self, task: TaskInput) -> httpx.Request:
        headers = {
            "ai-gateway-protocol-version": PROTOCOL_VERSION,
            "ai-video-model-specification-version": SPECIFICATION_VERSION,
            "ai-model-id": self.model_id(task.settings),
            "accept": "text/event-stream",
        }
        timeout = httpx.Timeout(60.0, connect=10.0, read=self.read_timeout)
        return self.request("POST", "/video-model", json=self.body(task), headers=headers, timeout=timeout)

    def parse_created(self, response: httpx.Response) -> Created:
        raise NotImplementedError("the gateway's answer is a stream: see create()")

    def status(self, task_id: str, data: Mapping[str, Any]) -> TaskState:
        raise SubmitError("vercel has no task to poll: the create's answer carries the video", "job.no_task")

    # ----- the answer ---------------------------------------------------------------------------

    def create(self, task: TaskInput, *, on_sent: Callable[[], None] | None = None) -> Created:
        """Send once, then read the event stream as it arrives; the result (or the error) is its one event."""
        request = self.create_request(task)
        response = send(self.client, request, self.policy, idempotent=False, retry_hint=self.retry_hint, stream=True)
        if response.status_code >= 400:
            raise self.error_for(response)
        try:
            if on_sent is not None:
                on_sent()
            logger.info("vercel: the gateway took the request; waiting for its event (no task id to poll)")
            event = _first_event(response)
        except httpx.TimeoutException as exc:
            raise OutcomeUnknown(
                f"vercel: no event for {self.read_timeout:.0f} s after the gateway took the request "
                f"({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise OutcomeUnknown(
                f"vercel: the connection failed while the gateway was generating ({type(exc).__name__})"
            ) from exc
        finally:
            response.close()
        return Created(None, None, {}, self._outcome(event))

    def _outcome(self, event: Mapping[str, Any] | None) -> TaskState:
        if event is None:
            raise OutcomeUnknown("vercel: the stream ended without an event (the result, if any, was not sent)")
        kind = event.get("type")
        if kind == "error":
            status = event.get("statusCode")
            raise gateway_error(
                int(status) if isinstance(status, int) else 500,
                str(event.get("errorType") or ""),
                str(event.get("message") or "error"),
            )
        if kind != "result":
            raise OutcomeUnknown(f"vercel: the stream's event is neither a result nor an error ({kind!r})")
        warnings = "; ".join(_warning_text(w) for w in event.get("warnings") or [])
        if warnings:
            logger.warning("vercel: the gateway warns: %s", warnings)
        note = f"gateway warnings: {warnings}" if warnings else None
        videos = event.get("videos") or []
        video = videos[0] if videos and isinstance(videos[0], Mapping) else {}
        if video.get("type") == "url" and video.get("url"):
            return TaskState(JobStatus.SUCCEEDED, "result", str(video["url"]), note)
        if video.get("type") == "base64" and video.get("data"):
            try:
                data = base64.b64decode(str(video["data"]), validate=True)
            except (binascii.Error, ValueError):
                return TaskState(JobStatus.FAILED, "result", None, "vercel: the result's base64 video does not decode")
            return TaskState(JobStatus.SUCCEEDED, "result", None, note, video=data)
        return TaskState(JobStatus.FAILED, "result", None, "vercel: the result holds no video")

    # ----- errors -------------------------------------------------------------------------------

    def error_message(self, response: httpx.Response) -> str:
        body = _json_or_none(response)
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        return super().error_message(response)

    def error_for(self, response: httpx.Response) -> SubmitError:
        body = _json_or_none(response)
        error = body.get("error") if isinstance(body, dict) else None
        error_type = str(error.get("type") or "") if isinstance(error, dict) else ""
        return gateway_error(response.status_code, error_type, self.error_message(response))

    def retry_hint(self, response: httpx.Response) -> bool | None:
        return False if response.status_code in (402, 403) else None


def gateway_error(status: int, error_type: str, message: str) -> SubmitError:
    """The SubmitError for a gateway error, from an HTTP answer or an error event (module docstring)."""
    kind = f", {error_type}" if error_type else ""
    text = redact(f"vercel: {message} (HTTP {status}{kind})")
    words = f"{error_type} {message}".lower()
    if status == 401 or error_type == "authentication_error":
        return AuthError(text + ": check AI_GATEWAY_API_KEY (environment or config file)")
    if status == 402 or (status == 403 and any(w in words for w in _MONEY_WORDS)):
        return CreditsError(text + ": add credits to the team's AI Gateway balance (Vercel dashboard)")
    if status == 403:
        return AccountError(text + ": the key works but may not use this model: check the team's AI Gateway "
                            "settings", "submit.forbidden")  # fmt: skip
    if status == 404 or error_type == "model_not_found":
        return ValidationError(text + ": the gateway does not know this model id")
    if status == 429 or error_type == "rate_limit_exceeded":
        return RateLimitError(text + ": try again later")
    if any(w in words for w in _POLICY_WORDS):
        return ValidationError(text + ": refused by content policy", "submit.content_policy")
    if status in (400, 409, 422) or error_type == "invalid_request_error":
        return ValidationError(text)
    return SubmitError(text, "submit.provider_error")


def _first_event(response: httpx.Response) -> dict[str, Any] | None:
    """The first server-sent event's JSON ``data``, read as the lines arrive; None if the stream ends first."""
    for data in _event_data(response.iter_lines()):
        try:
            event = json.loads(data)
        except json.JSONDecodeError as exc:
            raise OutcomeUnknown(f"vercel: the stream's event is not JSON ({exc.msg})") from exc
        if isinstance(event, dict):
            return event
        raise OutcomeUnknown("vercel: the stream's event is not a JSON object")
    return None


def _event_data(lines: Iterator[str]) -> Iterator[str]:
    """Each event's joined ``data:`` lines (the SSE rules: ``:`` comments, a blank line ends an event)."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue  # keep-alive comment
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


def _image_part(ref: str) -> dict[str, str]:
    """The ``image`` object: a data URI (our inline form) becomes ``{type: file}``, anything else a URL."""
    if ref.startswith("data:"):
        head, _, data = ref.partition(",")
        return {"type": "file", "mediaType": head[len("data:") :].split(";")[0], "data": data}
    return {"type": "url", "url": ref}


def _image_type(data: bytes, guessed: str) -> str:
    """The image's media type from its first bytes (a .png that holds a JPEG is sent as image/jpeg)."""
    from ..media.sniff import sniff

    found = sniff(data[:64])
    return {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}.get(found.format, guessed)


def _warning_text(warning: Any) -> str:
    if not isinstance(warning, Mapping):
        return str(warning)
    parts = [str(warning.get(k)) for k in ("feature", "setting", "message", "details") if warning.get(k)]
    return f"{warning.get('type', 'other')}: {' - '.join(parts)}" if parts else str(warning.get("type", "other"))
