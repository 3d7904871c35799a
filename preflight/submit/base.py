"""The provider protocol and the types every provider shares.

A provider is one module in ``preflight/submit/`` holding one concrete :class:`Provider` subclass;
the registry in ``preflight.submit`` finds it. A subclass says what differs (endpoints, field names,
enums, auth, error shapes) and inherits the rest: base URL and key lookup, retries, error mapping,
how a local file becomes something the API accepts (a URL, inline base64, or an upload).

Every call goes through one injectable ``httpx.Client``, so unit tests may pass
``httpx.Client(transport=httpx.MockTransport(...))`` and end-to-end tests point ``base_url`` at a
fake server on 127.0.0.1.
"""

from __future__ import annotations

import base64
import enum
import json
import logging
import mimetypes
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx

from ..errors import (
    AuthError,
    CreditsError,
    RateLimitError,
    SubmitError,
    UsageError,
    ValidationError,
)
from .http import RetryHint, RetryPolicy, default_client, send
from .keys import load_key, redact, require_keys_for

__all__ = [
    "TERMINAL",
    "Created",
    "JobStatus",
    "MediaInput",
    "Provider",
    "SubmitSettings",
    "TaskInput",
    "TaskState",
]

logger = logging.getLogger("preflight")


class JobStatus(enum.StrEnum):
    """A job's state in the ledger: the provider's many status words folded into these."""

    PENDING = "pending"
    """Row written, create not (yet) answered."""
    UNKNOWN = "unknown"
    """The create was sent and its outcome could not be learned."""
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED})


@dataclass(frozen=True)
class SubmitSettings:
    """What the user asked for, in provider-neutral words."""

    mode: str
    """``std`` (720p) or ``pro`` (1080p)."""
    orientation: str = "video"
    """``character_orientation``: ``video`` or ``image``."""
    prompt: str | None = None
    negative_prompt: str | None = None
    keep_sound: bool | None = None
    """None: the provider's default (every provider that has the field defaults to keeping it)."""
    callback_url: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "orientation": self.orientation,
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "keep_sound": self.keep_sound,
            "callback_url": self.callback_url,
        }


@dataclass(frozen=True)
class MediaInput:
    """One input: a local file, a URL already hosted somewhere, or both (the URL is sent)."""

    role: str
    """``image`` or ``video``."""
    path: Path | None = None
    url: str | None = None

    @property
    def label(self) -> str:
        return self.url or (self.path.name if self.path else "?")

    @property
    def content_type(self) -> str:
        name = self.path.name if self.path else (self.url or "")
        guessed = mimetypes.guess_type(name)[0]
        return guessed or ("image/jpeg" if self.role == "image" else "video/mp4")


@dataclass(frozen=True)
class TaskInput:
    """Everything a create request needs, media already turned into what the API takes."""

    image: str
    """URL, or inline base64 where the provider accepts it."""
    video: str
    """URL."""
    settings: SubmitSettings
    external_id: str
    """Our own id for the task (sent where the API takes one: Kling's ``external_task_id``)."""


@dataclass(frozen=True)
class Created:
    """The provider's answer to a create."""

    task_id: str
    raw_status: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    """What later calls need besides the id (fal's status/response URLs, Replicate's ``urls``)."""


@dataclass(frozen=True)
class TaskState:
    """One poll's answer."""

    status: JobStatus
    raw_status: str
    """The provider's own word (``succeed``, ``IN_QUEUE``, ``TASK_STATUS_FAILED``...)."""
    result_url: str | None = None
    message: str | None = None
    """The provider's reason for a failure."""
    ttl: float | None = None
    """Seconds the result URL stays valid, when the answer says (else the provider's ``result_ttl``)."""


class Provider(ABC):
    """One provider's API. Subclasses set the class attributes and implement the abstract methods."""

    name: ClassVar[str]
    """The ``--provider`` value; also names the env variables (``PREFLIGHT_<NAME>_BASE_URL``)."""
    title: ClassVar[str]
    profile: ClassVar[str]
    """The check profile this provider's contract is written in."""
    default_base_url: ClassVar[str]
    key_names: ClassVar[tuple[str, ...]]
    modes: ClassVar[tuple[str, ...]] = ("std", "pro")
    default_mode: ClassVar[str] = "std"
    price_per_second: ClassVar[Mapping[str, float]] = {}
    """USD per second of output, by mode, where the provider publishes it (PROVIDERS.md)."""
    price_note: ClassVar[str] = ""
    result_ttl: ClassVar[float | None] = None
    """Seconds a result URL stays valid after the task succeeds, where documented."""
    inline_image: ClassVar[str | None] = None
    """How a local image may go inline: ``base64`` (raw, no data: prefix), ``data_uri`` or None."""
    can_upload: ClassVar[bool] = False
    can_cancel: ClassVar[bool] = False
    can_lookup: ClassVar[bool] = False
    """True when a task can be found by our external id (resolves creates of unknown outcome)."""
    has_negative_prompt: ClassVar[bool] = False
    has_keep_sound: ClassVar[bool] = True

    def __init__(
        self,
        keys: Mapping[str, str] | None = None,
        *,
        base_url: str | None = None,
        client: httpx.Client | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.keys = dict(keys or {})
        self.base_url = (base_url or self.env_base_url() or self.default_base_url).rstrip("/")
        self.base_url_overridden = bool(base_url or self.env_base_url())
        self.client = client or default_client()
        self.policy = policy or RetryPolicy()

    # ----- construction -------------------------------------------------------------------------

    @classmethod
    def env_prefix(cls) -> str:
        return "PREFLIGHT_" + re.sub(r"[^A-Za-z0-9]", "_", cls.name).upper()

    @classmethod
    def env_base_url(cls) -> str | None:
        return os.environ.get(f"{cls.env_prefix()}_BASE_URL") or None

    @classmethod
    def from_env(cls, *, require_keys: bool = True, **kwargs: Any) -> Provider:
        """Build with keys from the environment / config file (placeholders when not required)."""
        if require_keys:
            keys = require_keys_for(cls.name, cls.key_names)
        else:
            keys = {name: load_key(name) or f"<{name}>" for name in cls.key_names}
        return cls(keys, **kwargs)

    # ----- what subclasses implement ------------------------------------------------------------

    @abstractmethod
    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate a request to this provider's API."""

    @abstractmethod
    def create_request(self, task: TaskInput) -> httpx.Request:
        """The create request, exactly as it will be sent."""

    @abstractmethod
    def parse_created(self, response: httpx.Response) -> Created:
        """The task id (and follow-up data) from a successful create response."""

    @abstractmethod
    def status(self, task_id: str, data: Mapping[str, Any]) -> TaskState:
        """Poll the task once."""

    def cancel(self, task_id: str, data: Mapping[str, Any]) -> None:
        raise SubmitError(f"{self.name} has no documented cancel", "submit.unsupported")

    def lookup(self, external_id: str) -> Created | None:
        """The task created with ``external_id``, or None when there is none."""
        raise SubmitError(f"{self.name} cannot look a task up by our id", "submit.unsupported")

    def upload(self, media: MediaInput) -> str:
        """Put a local file where the provider can read it; returns its URL."""
        raise SubmitError(f"{self.name} has no upload API", "submit.unsupported")

    def upload_requests(self, media: MediaInput) -> list[httpx.Request]:
        """The requests :meth:`upload` would send (for ``--dry-run``)."""
        return []

    def retry_hint(self, response: httpx.Response) -> bool | None:
        """Provider-specific say on retrying a response (see :mod:`.http`)."""
        return None

    def error_message(self, response: httpx.Response) -> str:
        """The provider's own error text from an error response."""
        body = _json_or_none(response)
        if isinstance(body, dict):
            for key in ("message", "msg", "detail", "error", "reason", "title"):
                if body.get(key):
                    return str(body[key])
        return response.text[:300].strip() or response.reason_phrase

    def error_for(self, response: httpx.Response) -> SubmitError:
        """Map an error response to the SubmitError subclass a user can act on."""
        return error_from_status(self.name, response.status_code, self.error_message(response), self.key_names)

    # ----- shared behaviour -------------------------------------------------------------------

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Request:
        """A request to ``url`` (absolute, or a path under the base URL) with the auth headers."""
        if not url.startswith(("http://", "https://")):
            url = self.base_url + url
        headers = {**self.auth_headers(), **kwargs.pop("headers", {})}
        return self.client.build_request(method, url, headers=headers, **kwargs)

    def call(self, request: httpx.Request, *, idempotent: bool = True, hint: RetryHint | None = None) -> httpx.Response:
        """Send with retries; an error response becomes the matching SubmitError."""
        response = send(self.client, request, self.policy, idempotent=idempotent, retry_hint=hint or self.retry_hint)
        if response.status_code >= 400:
            raise self.error_for(response)
        return response

    def json_of(self, response: httpx.Response) -> Any:
        body = _json_or_none(response)
        if body is None:
            raise SubmitError(
                f"{self.name}: the answer was not JSON (HTTP {response.status_code})", "submit.bad_response"
            )
        return body

    def create(self, task: TaskInput) -> Created:
        """Send the create once; :class:`~.http.OutcomeUnknown` when its outcome is unknown."""
        response = self.call(self.create_request(task), idempotent=False)
        return self.parse_created(response)

    def media_ref(self, media: MediaInput, *, dry_run: bool = False) -> str:
        """What goes in the request for ``media``: its URL, inline base64, or an uploaded copy's URL."""
        if media.url:
            return media.url
        if media.path is None:
            raise UsageError(f"no {media.role} given", "usage.invalid")
        if media.role == "image" and self.inline_image:
            data = base64.b64encode(media.path.read_bytes()).decode("ascii")
            if self.inline_image == "data_uri":
                return f"data:{media.content_type};base64,{data}"
            return data
        if self.can_upload:
            return f"<url of uploaded {media.path.name}>" if dry_run else self.upload(media)
        raise self.needs_url_error(media)

    @classmethod
    def needs_url_error(cls, media: MediaInput) -> UsageError:
        name = media.path.name if media.path else media.role
        return UsageError(
            f"{cls.name} cannot take the local {media.role} {name}: it has no upload API. Put the file "
            f"where {cls.name} can fetch it (any public https URL) and pass --{media.role}-url URL",
            "submit.needs_url",
        )

    @classmethod
    def check_media(cls, media: MediaInput) -> None:
        """Refuse, before anything is spent or asked, a local file this provider cannot be sent."""
        if media.url or media.path is None:
            return
        if media.role == "image" and cls.inline_image:
            return
        if not cls.can_upload:
            raise cls.needs_url_error(media)

    def estimate_cost(self, mode: str, seconds: float | None) -> float | None:
        price = self.price_per_second.get(mode)
        if price is None or seconds is None:
            return None
        return round(price * seconds, 3)

    @classmethod
    def check_settings(cls, settings: SubmitSettings) -> None:
        """Refuse settings this provider's API has no field for, rather than dropping them silently."""
        if settings.mode not in cls.modes:
            raise UsageError(
                f"{cls.name} offers mode {', '.join(cls.modes)} only, not {settings.mode!r}: "
                f"pass --mode {cls.modes[0]} or leave --mode out",
                "usage.invalid",
            )
        if settings.negative_prompt and not cls.has_negative_prompt:
            raise UsageError(
                f"{cls.name}'s motion-control API has no negative prompt field: leave --negative-prompt out",
                "usage.invalid",
            )
        if settings.keep_sound is False and not cls.has_keep_sound:
            raise UsageError(
                f"{cls.name}'s motion-control API has no keep-sound switch: leave --no-keep-sound out",
                "usage.invalid",
            )
        if settings.orientation not in ("image", "video"):
            raise UsageError(f"orientation must be image or video, not {settings.orientation!r}", "usage.invalid")


def error_from_status(provider: str, status: int, message: str, key_names: tuple[str, ...] = ()) -> SubmitError:
    """The common HTTP status -> error class mapping (providers refine it with their own codes)."""
    text = redact(f"{provider}: {message} (HTTP {status})")
    if status in (401, 403):
        keys = " / ".join(key_names) or "the API key"
        return AuthError(text + f": check {keys} (environment or config file)")
    if status == 402:
        return CreditsError(text + ": top up the account")
    if status in (400, 404, 409, 422):
        return ValidationError(text)
    if status == 429:
        return RateLimitError(text + ": try again later")
    return SubmitError(text, "submit.provider_error")


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
