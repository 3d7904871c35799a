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
from collections.abc import Callable, Mapping
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
    quoted,
)
from ..profiles import DEFAULT_MODEL, ProviderContract, Route, load_model, load_provider
from .body import check_settings as check_route_settings
from .body import model_id as route_model_id
from .body import route_fields
from .http import RetryHint, RetryPolicy, default_client, send
from .keys import load_key, redact, require_keys_for
from .settings import SubmitSettings

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

    task_id: str | None
    """None where the API gives no id (Vercel's AI Gateway answers the call itself with the video)."""
    raw_status: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    """What later calls need besides the id (fal's status/response URLs, Replicate's ``urls``)."""
    outcome: TaskState | None = None
    """The task's end, when the create's own answer carried it (nothing to poll)."""


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
    video: bytes | None = field(default=None, repr=False)
    """The video itself, when the answer carried it inline instead of a URL (the gateway's base64)."""


MAX_URL_CHARS = 2048
"""The longest base URL taken: the limit browsers and CDNs keep to; an API base is far shorter (httpx
itself gives up at 64 KB with InvalidURL, which was exit 3)."""


def checked_url(url: str, source: str) -> str:
    """``url`` when it is an http(s) URL with a host, else ``config.invalid`` naming ``source`` (the
    option or variable it came from) and quoting a little of it."""
    reason = _url_problem(url)
    if reason:
        raise UsageError(f"{source} {quoted(url)} is not an API base URL: {reason}", "config.invalid")
    return url


def _url_problem(url: str) -> str | None:
    if len(url) > MAX_URL_CHARS:
        return f"longer than {MAX_URL_CHARS} characters"
    if any(c.isspace() or not c.isprintable() for c in url):
        return "it holds a space or a control character"
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        return str(exc) or type(exc).__name__
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return "give http:// or https:// and a host"
    return None


class Provider(ABC):
    """One provider's API. Subclasses set the class attributes and implement the abstract methods."""

    name: ClassVar[str]
    """The ``--provider`` value; also names the env variables (``PREFLIGHT_<NAME>_BASE_URL``)."""
    title: ClassVar[str]
    default_base_url: ClassVar[str]
    key_names: ClassVar[tuple[str, ...]]
    result_ttl: ClassVar[float | None] = None
    """Seconds a result URL stays valid after the task succeeds, where documented."""
    inline_image: ClassVar[str | None] = None
    """How a local image may go inline: ``base64`` (raw, no data: prefix), ``data_uri`` or None."""
    can_upload: ClassVar[bool] = False
    media_note: ClassVar[str] = ""
    """How local files reach this provider, for ``submit --help`` (default: from ``can_upload``)."""
    can_cancel: ClassVar[bool] = False
    other_env_urls: ClassVar[tuple[str, ...]] = ()
    """Hosts besides the API's that an env variable may move (fal's ``STORAGE_URL``): see :meth:`env_url`."""
    can_lookup: ClassVar[bool] = False
    """True when a task can be found by our external id (resolves creates of unknown outcome)."""
    returns_result: ClassVar[bool] = False
    """True when the create call itself answers with the result (no task id, nothing to poll)."""
    input_url_ttl: ClassVar[float] = 24 * 3600.0
    """Seconds a signed input URL (``--upload`` to s3:// or gs://) must stay valid: long enough for the
    provider to fetch the file after a queue, short enough not to leave a clip readable for weeks."""

    def __init__(
        self,
        keys: Mapping[str, str] | None = None,
        *,
        base_url: str | None = None,
        client: httpx.Client | None = None,
        policy: RetryPolicy | None = None,
        contract: ProviderContract | None = None,
    ) -> None:
        self.contract = contract or load_provider(self.name)
        """What this provider serves (``profiles/providers/<name>.toml``): routes, modes, prices, limits."""
        self.keys = dict(keys or {})
        given = checked_url(base_url, "--base-url") if base_url else None
        self.base_url = (given or self.env_base_url() or self.default_base_url).rstrip("/")
        self.base_url_overridden = bool(given or self.env_base_url())
        for what in self.other_env_urls:  # refused now, not halfway through a submit
            self.env_url(what)
        self.client = client or default_client()
        self.policy = policy or RetryPolicy()

    # ----- construction -------------------------------------------------------------------------

    @classmethod
    def env_prefix(cls) -> str:
        return "PREFLIGHT_" + re.sub(r"[^A-Za-z0-9]", "_", cls.name).upper()

    @classmethod
    def env_base_url(cls) -> str | None:
        return cls.env_url("BASE_URL")

    @classmethod
    def env_url(cls, what: str) -> str | None:
        """``PREFLIGHT_<NAME>_<what>`` (``BASE_URL``, fal's ``STORAGE_URL``...), checked; None when unset."""
        name = f"{cls.env_prefix()}_{what}"
        value = os.environ.get(name)
        return checked_url(value, name) if value else None

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

    def outcome_unknown_advice(self) -> str:
        """What a user can do about a create of unknown outcome that cannot be looked up."""
        return (
            f"{self.name} cannot look a task up by our id, so preflight will not guess: check the {self.name} "
            "dashboard, then `preflight submit --again` if nothing was created"
        )

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

    def create(self, task: TaskInput, *, on_sent: Callable[[], None] | None = None) -> Created:
        """Send the create once; :class:`~.http.OutcomeUnknown` when its outcome is unknown.

        ``on_sent`` is called where an API takes the request and then holds the connection while it
        works (the gateway): from then on the request is known to have arrived."""
        response = self.call(self.create_request(task), idempotent=False)
        return self.parse_created(response)

    def media_ref(self, media: MediaInput, *, dry_run: bool = False) -> str:
        """What goes in the request for ``media``: its URL, inline base64, or an uploaded copy's URL."""
        if media.url:
            return media.url
        if media.path is None:
            raise UsageError(f"no {media.role} given", "usage.invalid")
        if self.inlines(media):
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
            f"where {cls.name} can fetch it (any public https URL) and pass --{media.role}-url URL, or let "
            "preflight put it there: --upload s3://BUCKET/PREFIX (or gs://..., or a web folder with "
            "--upload-base-url)",
            "submit.needs_url",
        )

    def inlines(self, media: MediaInput) -> bool:
        """True when this local file goes inside the create request itself (base64)."""
        return media.role == "image" and bool(self.inline_image) and media.path is not None

    def check_media(self, media: MediaInput) -> None:
        """Refuse, before anything is spent or asked, a local file this provider cannot be sent."""
        if media.url or media.path is None:
            return
        if self.inlines(media):
            return
        if not self.can_upload:
            raise self.needs_url_error(media)

    # ----- the route: how this provider serves the chosen model (data) -------------------------

    def route(self, model: str = DEFAULT_MODEL) -> Route:
        return self.contract.route(model)

    @property
    def default_mode(self) -> str:
        """The default model's default mode (``std``; ``pro`` on Novita, which has no v2.6 std)."""
        served = DEFAULT_MODEL if DEFAULT_MODEL in self.contract.routes else next(iter(self.contract.routes))
        return self.route(served).default_mode

    def fields(self, task: TaskInput) -> dict[str, Any]:
        """The create's fields as the route names them (the subclass adds its envelope)."""
        return route_fields(self.route(task.settings.model), task.settings, task.image, task.video)

    def model_id(self, settings: SubmitSettings) -> str:
        return route_model_id(self.route(settings.model), settings)

    def price(self, settings: SubmitSettings) -> float | None:
        """USD per second of output for this model and mode, where known."""
        route = self.route(settings.model)
        return route.prices.get(settings.mode or route.default_mode)

    def estimate_cost(self, settings: SubmitSettings, seconds: float | None) -> float | None:
        price = self.price(settings)
        if price is None or seconds is None:
            return None
        return round(price * seconds, 3)

    def settle(self, settings: SubmitSettings, paths: list[Path]) -> SubmitSettings:
        """Settings with what depends on the local files filled in (Runway picks its ratio here)."""
        return settings

    def check_settings(self, settings: SubmitSettings) -> None:
        """Refuse settings this provider's route has no field for, rather than dropping them silently."""
        route = self.route(settings.model)
        check_route_settings(self.name, route, load_model(settings.model), settings)


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
