"""One ASGI middleware for every request: Host, token, CSRF, and the response headers.

- **Host** (bound to loopback without a token): the Host header must name this machine (127.0.0.1,
  localhost, [::1]) or one of ``--allow-host``. A web page whose name was made to resolve to 127.0.0.1
  (DNS rebinding) sends its own name and is refused (``serve.forbidden``), so it cannot read the page's
  CSRF token.
- **Token** (required for any non-loopback bind): every call carries ``Authorization: Bearer TOKEN``,
  or the page's session cookie that ``POST /v1/session`` sets after the user typed the token
  (HttpOnly, SameSite=Strict); otherwise 401 ``serve.unauthorized``. The page, its two static files,
  ``/v1/health`` and ``/v1/session`` are open so the token can be typed in.
- **CSRF**: a state-changing call (POST, PUT, PATCH, DELETE) that comes from a browser (it has an
  ``Origin`` or ``Sec-Fetch-Site`` header, or authenticates with the cookie) must come from this
  server's own page: same Origin as the Host it was sent to, ``Sec-Fetch-Site`` same-origin, and the
  per-process token the page carries in ``X-Preflight-CSRF``. A cross-site form cannot set that header,
  and cross-site script cannot read the page to learn it. Clients that are not browsers (curl, a
  backend) send neither header and are judged by the token alone.
- **Headers**: the Content-Security-Policy of the HTML report's spirit (nothing from elsewhere; script
  and style only from this server's own files, no inline code), ``nosniff``, no referrer, no framing,
  ``no-store`` on the API.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .config import ServeConfig, ServeError, is_loopback

__all__ = ["CSP", "CSRF_HEADER", "SESSION_COOKIE", "Guard", "session_value"]

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; media-src 'self' blob:; "
       "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")  # fmt: skip
CSRF_HEADER = "x-preflight-csrf"
SESSION_COOKIE = "preflight_session"
OPEN_PATHS = ("/", "/static/app.js", "/static/app.css", "/v1/health", "/v1/session", "/favicon.ico")
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")

Scope = MutableMapping[str, Any]
ASGI = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


def session_value(token: str) -> str:
    """The session cookie's value: derived from the token, so the cookie never holds the token itself."""
    return hmac.new(token.encode(), b"preflight-serve-session", hashlib.sha256).hexdigest()


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _cookies(header: str) -> dict[str, str]:
    found = {}
    for part in header.split(";"):
        name, eq, value = part.strip().partition("=")
        if eq:
            found[name] = value
    return found


class Guard:
    def __init__(self, app: ASGI, config: ServeConfig, csrf: str) -> None:
        self.app = app
        self.config = config
        self.csrf = csrf
        self.session = session_value(config.token) if config.token else None
        self.hosts = {h.lower() for h in config.extra_hosts}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await _json(send, refusal.status, {"error": {"code": refusal.code, "message": refusal.message}})
            return
        api = scope["path"].startswith("/v1/")

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                extra = [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                    (b"cross-origin-resource-policy", b"same-origin"),
                ]
                if api:
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> ServeError | None:
        host = headers.get("host", "")
        if not self.config.token and not (is_loopback(_host_name(host)) or _host_name(host).lower() in self.hosts
                                          or host.lower() in self.hosts):  # fmt: skip
            why = f"this server answers to 127.0.0.1 and localhost, not to {host!r}"
            return ServeError(why, "serve.forbidden", 403)
        cookie = _cookies(headers.get("cookie", "")).get(SESSION_COOKIE)
        by_cookie = False
        if self.config.token and scope["path"] not in OPEN_PATHS:
            bearer = headers.get("authorization", "")
            if bearer.lower().startswith("bearer ") and hmac.compare_digest(bearer[7:].strip().encode(),
                                                                             self.config.token.encode()):  # fmt: skip
                pass
            elif cookie and self.session and hmac.compare_digest(cookie.encode(), self.session.encode()):
                by_cookie = True
            else:
                return ServeError("this server needs its token: Authorization: Bearer TOKEN", "serve.unauthorized", 401)
        if scope["method"] not in UNSAFE:
            return None
        origin = headers.get("origin")
        fetch_site = headers.get("sec-fetch-site")
        if origin is None and fetch_site is None and not by_cookie:
            return None  # not a browser: curl, a backend
        forwarded = headers.get("x-forwarded-host", "").split(",")[0].strip()
        own = {host.lower(), forwarded.lower()} - {""}
        origin_host = (origin or "").split("://", 1)[-1].rstrip("/").lower()
        if origin is not None and origin_host not in own:
            return ServeError(f"a call from another site ({origin}) was refused", "serve.csrf", 403)
        if fetch_site not in (None, "same-origin", "none"):
            return ServeError(f"a {fetch_site} call was refused", "serve.csrf", 403)
        if not hmac.compare_digest(headers.get(CSRF_HEADER, "").encode(), self.csrf.encode()):
            return ServeError("a call from a page without this server's CSRF token was refused", "serve.csrf", 403)
        return None


async def _json(send: Any, status: int, data: dict[str, Any]) -> None:
    body = json.dumps(data).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
        (b"cache-control", b"no-store")]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})
