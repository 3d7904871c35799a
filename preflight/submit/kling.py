"""Kling's official API: ``POST /v1/videos/motion-control`` with an HS256 JWT.

Choices the docs left open (PROVIDERS.md, "Official Kling API"):
- ``model_name`` is always sent (``kling-v2-6``, ``kling-v3``: the route in
  ``profiles/providers/kling.toml``) so the model does not change under us when Kling moves its
  default.
- ``external_task_id`` is always sent (``pf-<24 hex of the idempotency key>-<n>``, n counting
  resubmissions with ``--again``, since Kling wants it unique per account).
- Lookup by that id: Kling's query-single endpoints document "task_id or external_task_id" for the
  path of their other task types; motion-control is assumed to do the same (INFERRED). "Not found"
  is taken to be HTTP 404 or code 1203 (Kling's "requested resource does not exist").
- A local image goes inline as raw base64 (the docs say no ``data:`` prefix); the clip must be a URL
  (no upload API).
- There is no negative prompt field: a ``--negative-prompt`` is refused, not silently dropped.
- Prices (the route's): v2.6 about $0.07/s std and $0.112/s pro (seen through ComfyUI's proxy);
  v3 has no published per-second price here, so fal's v3 prices stand in (an estimate).
- A result is kept 30 days.
- Errors are read by Kling's ``code``, not only the HTTP status (429 means several things):
  1100 account exception -> ``submit.account``; 1101 account in arrears and 1102 no credits ->
  ``submit.no_credits`` (both are fixed by paying, so a pipeline that stops on no_credits treats
  them alike; the message says which bill); 1103 (HTTP 403) no permission for this API or model ->
  ``submit.forbidden`` (not ``submit.auth``: the key is fine); 1304 IP not on the account's
  whitelist -> ``submit.ip_blocked``. None of these is retried. 1302 rate limit and 1303 too many
  parallel tasks are retried with backoff (``Retry-After`` honoured; Kling refused the create, so a
  resend cannot duplicate it) and end ``submit.rate_limited``. 1300/1301 -> ``submit.content_policy``.
  5000-5002 follow the shared rules of ``.http`` (a poll is retried, a create answered 500/504 is
  of unknown outcome and looked up by its external id).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from typing import Any

import httpx

from ..errors import AccountError, AuthError, CreditsError, RateLimitError, SubmitError, ValidationError
from .base import Created, JobStatus, Provider, TaskInput, TaskState
from .keys import redact, register_secret

__all__ = ["KlingProvider"]

CREATE_PATH = "/v1/videos/motion-control"
TOKEN_LIFETIME = 1800  # seconds (Kling's examples)
TOKEN_REFRESH_MARGIN = 300  # re-sign before expiry so a slow request never carries a dead token

_STATUS = {
    "submitted": JobStatus.QUEUED,
    "processing": JobStatus.RUNNING,
    "succeed": JobStatus.SUCCEEDED,
    "failed": JobStatus.FAILED,
}

_NOT_RETRIED = frozenset({1100, 1101, 1102, 1103, 1304})
"""Account exception, arrears, no credits, no permission, IP not whitelisted: waiting fixes none."""
_RETRIED = frozenset({1302, 1303})
"""Rate limit, too many parallel tasks: Kling refused the create, so sending it again is safe."""


class KlingProvider(Provider):
    name = "kling"
    title = "Kling official API"
    default_base_url = "https://api-singapore.klingai.com"
    key_names = ("KLINGAI_ACCESS_KEY", "KLINGAI_SECRET_KEY")
    result_ttl = 30 * 24 * 3600.0
    inline_image = "base64"
    can_lookup = True

    def __init__(self, *args: Any, clock: Any = time.time, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock
        self._token: tuple[str, float] | None = None

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def token(self) -> str:
        """A JWT: iss = access key, exp = now + 1800 s, nbf = now - 5 s, signed HS256 with the secret."""
        import jwt

        now = self._clock()
        if self._token and self._token[1] - TOKEN_REFRESH_MARGIN > now:
            return self._token[0]
        claims = {"iss": self.keys["KLINGAI_ACCESS_KEY"], "exp": int(now) + TOKEN_LIFETIME, "nbf": int(now) - 5}
        with warnings.catch_warnings():
            # Kling issues the secret; its length is not ours to choose (PyJWT warns below 32 bytes).
            warnings.simplefilter("ignore", getattr(jwt.warnings, "InsecureKeyLengthWarning", Warning))
            token = jwt.encode(
                claims, self.keys["KLINGAI_SECRET_KEY"], algorithm="HS256", headers={"alg": "HS256", "typ": "JWT"}
            )
        register_secret(token)  # a bearer token is as good as the key for half an hour
        self._token = (token, now + TOKEN_LIFETIME)
        return token

    def body(self, task: TaskInput) -> dict[str, Any]:
        s = task.settings
        body: dict[str, Any] = {
            "model_name": self.model_id(s),
            **self.fields(task),
            "external_task_id": task.external_id,
        }
        if s.callback_url:
            body["callback_url"] = s.callback_url
        return body

    def create_request(self, task: TaskInput) -> httpx.Request:
        return self.request("POST", CREATE_PATH, json=self.body(task))

    def parse_created(self, response: httpx.Response) -> Created:
        data = self._data(response)
        return Created(str(data["task_id"]), data.get("task_status"))

    def status(self, task_id: str, data: Mapping[str, Any]) -> TaskState:
        return self._state(self._data(self.call(self.request("GET", f"{CREATE_PATH}/{task_id}"))))

    def lookup(self, external_id: str) -> Created | None:
        request = self.request("GET", f"{CREATE_PATH}/{external_id}")
        try:
            data = self._data(self.call(request))
        except ValidationError as exc:
            if getattr(exc, "kling_code", None) == 1203 or getattr(exc, "http_status", None) == 404:
                return None
            raise
        return Created(str(data["task_id"]), data.get("task_status"))

    def _data(self, response: httpx.Response) -> dict[str, Any]:
        body = self.json_of(response)
        if body.get("code", 0) != 0:  # an error can come with HTTP 200
            raise self.error_for(response)
        data = body.get("data")
        if not isinstance(data, dict) or "task_id" not in data:
            raise SubmitError("kling: the answer has no data.task_id", "submit.bad_response")
        return data

    @staticmethod
    def _state(data: Mapping[str, Any]) -> TaskState:
        raw = str(data.get("task_status", ""))
        status = _STATUS.get(raw, JobStatus.RUNNING)
        url = None
        if status is JobStatus.SUCCEEDED:
            videos = (data.get("task_result") or {}).get("videos") or []
            url = videos[0].get("url") if videos else None
        message = data.get("task_status_msg") or None
        return TaskState(status, raw, url, message)

    def retry_hint(self, response: httpx.Response) -> bool | None:
        # Kling's 429 means several things: read the code. Account, billing, credits, permission and
        # IP-whitelist codes do not get better by waiting; rate limit (1302) and too many parallel
        # tasks (1303) do. Anything else (5000-5002 included) follows the defaults of .http.
        code = _kling_code(response)
        if code in _NOT_RETRIED:
            return False
        if code in _RETRIED:
            return True
        return None

    def error_for(self, response: httpx.Response) -> SubmitError:
        code = _kling_code(response)
        message = self.error_message(response)
        text = redact(f"kling: {message} (HTTP {response.status_code}, code {code})")
        error: SubmitError
        if response.status_code == 401 or (code is not None and 1000 <= code <= 1004):
            error = AuthError(text + ": check KLINGAI_ACCESS_KEY / KLINGAI_SECRET_KEY (environment or config file)")
        elif code == 1100:
            error = AccountError(text + ": Kling reports an account exception: check the account in the Kling console")
        elif code == 1101:
            error = CreditsError(text + ": the account is in arrears: pay the overdue bill in the Kling console")
        elif code == 1102:
            error = CreditsError(text + ": the account is out of credits: buy a resource package in the Kling console")
        elif code == 1103:
            error = AccountError(
                text + ": this account has no permission for this API or model: enable it in the Kling console",
                "submit.forbidden",
            )
        elif code == 1304:
            error = AccountError(
                text + ": this machine's IP address is not on the account's IP whitelist: add it in the Kling console",
                "submit.ip_blocked",
            )
        elif code == 1302:
            error = RateLimitError(text + ": rate limit")
        elif code == 1303:
            error = RateLimitError(text + ": too many tasks running in parallel; wait for one to finish")
        elif code in (1300, 1301):
            error = ValidationError(text + ": refused by platform or content policy", "submit.content_policy")
        elif response.status_code in (400, 404, 422) or (code is not None and 1200 <= code < 1300):
            error = ValidationError(text)
        elif response.status_code == 429:
            error = RateLimitError(text)
        else:
            error = SubmitError(text, "submit.provider_error")
        error.kling_code = code  # type: ignore[attr-defined]
        error.http_status = response.status_code  # type: ignore[attr-defined]
        return error


def _kling_code(response: httpx.Response) -> int | None:
    try:
        code = response.json().get("code")
    except (ValueError, AttributeError):
        return None
    return int(code) if isinstance(code, int | str) and str(code).lstrip("-").isdigit() else None
