"""The HTTP layer every provider shares: timeouts, retries, safe downloads.

Retry rules (why each):
- Connect errors and connect timeouts are retried for every request: the request never reached the
  server, so even a create cannot have happened.
- 429 and 503 are retried for every request: the server says it did not take the request. A
  ``Retry-After`` header (seconds or an HTTP date) is honoured, capped at ``max_retry_after``.
  A provider may veto a retry (Kling's 429 with code 1102 means "out of credits", not "slow down").
- Other 5xx and read errors/timeouts are retried only for idempotent requests (polls, uploads,
  downloads). For a create they raise :class:`OutcomeUnknown`: the task may exist, so the caller must
  look it up (or mark the job ``unknown``) instead of creating a second one.
- Backoff: ``backoff * 2**n`` capped at ``max_backoff``, times a random factor in [0.5, 1) ("equal
  jitter"), so many clients that failed together do not come back together.
The sleep function and the random source are injectable, so tests never wait for real seconds.

Downloads never replace a file unless told to (``overwrite``): an existing target is refused before
any byte is fetched (``output.exists``), and the finished file is put in place with a hard link,
which unlike a rename fails when a file appeared at that name meanwhile (a rename after a check where
the file system has no hard links).
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ..errors import OutcomeUnknown, PreflightError, SubmitError, TransportError
from .keys import redact

__all__ = [
    "OutcomeUnknown",
    "RetryPolicy",
    "copy_result",
    "default_client",
    "download",
    "output_exists",
    "retry_after_seconds",
    "send",
]

logger = logging.getLogger("preflight")

RetryHint = Callable[[httpx.Response], bool | None]
"""A provider's say on retrying a response: True/False decides, None leaves it to the defaults."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    """Tries in all, the first included."""
    backoff: float = 1.0
    """Seconds before the first retry; doubles each time."""
    max_backoff: float = 30.0
    max_retry_after: float = 300.0
    """A longer Retry-After than this is not waited out: the error is raised instead."""
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    random: Callable[[], float] = field(default=random.random, repr=False)

    def delay(self, retry: int) -> float:
        base = min(self.max_backoff, self.backoff * 2**retry)
        return base * (0.5 + 0.5 * self.random())


def default_client(timeout: float = 30.0) -> httpx.Client:
    """A client with a connect timeout short enough to fail fast and a read timeout for slow APIs."""
    return httpx.Client(timeout=httpx.Timeout(timeout, connect=10.0), follow_redirects=True)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (it may be a number or an HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _describe(request: httpx.Request) -> str:
    return redact(f"{request.method} {request.url.copy_with(query=None)}")


def send(
    client: httpx.Client,
    request: httpx.Request,
    policy: RetryPolicy,
    *,
    idempotent: bool = True,
    retry_hint: RetryHint | None = None,
    stream: bool = False,
) -> httpx.Response:
    """Send ``request`` with the retry rules above; returns the last response (maybe an error one).

    ``stream``: a successful answer is returned unread, for the caller to read as it arrives (and
    close); an error answer is read as usual, it is short."""
    last_exc: Exception | None = None
    for attempt in range(policy.attempts):
        wait: float | None = None
        try:
            response = client.send(request, stream=stream)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            last_exc = exc  # never reached the server: safe to retry anything
        except httpx.TransportError as exc:
            if not idempotent:
                raise OutcomeUnknown(
                    f"{_describe(request)}: the connection failed after the request was sent "
                    f"({type(exc).__name__}); the task may or may not exist"
                ) from exc
            last_exc = exc
        else:
            if stream and response.status_code < 400:
                return response
            response.read()
            if not _should_retry(response, idempotent, retry_hint):
                return response
            if not idempotent and response.status_code in (500, 502, 504) and not _hinted(response, retry_hint):
                raise OutcomeUnknown(
                    f"{_describe(request)}: the server answered {response.status_code}; the task may or may not exist"
                )
            wait = retry_after_seconds(response)
            if wait is not None and wait > policy.max_retry_after:
                return response
            if attempt == policy.attempts - 1:
                return response
            last_exc = None
        if attempt == policy.attempts - 1:
            break
        delay = wait if wait is not None else policy.delay(attempt)
        logger.info(
            "%s: retrying in %.1f s (attempt %d of %d)", _describe(request), delay, attempt + 2, policy.attempts
        )
        policy.sleep(delay)
    if isinstance(last_exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        advice = "could not connect; check the network, or the base URL (--base-url / PREFLIGHT_<PROVIDER>_BASE_URL)"
    else:
        advice = "no usable answer; the provider may be down, try again later"
    raise TransportError(
        f"{_describe(request)}: {type(last_exc).__name__} after {policy.attempts} attempts: {advice}"
    ) from last_exc


def _hinted(response: httpx.Response, retry_hint: RetryHint | None) -> bool:
    return retry_hint is not None and retry_hint(response) is True


def _should_retry(response: httpx.Response, idempotent: bool, retry_hint: RetryHint | None) -> bool:
    status = response.status_code
    if status < 400:
        return False
    hint = retry_hint(response) if retry_hint else None
    if hint is not None:
        return hint
    if status in (429, 503):
        return True
    if status >= 500:
        # For a create this leads to OutcomeUnknown in send(), never to a blind second create.
        return True if idempotent else status in (500, 502, 504)
    return False


def download(
    client: httpx.Client,
    url: str,
    target: str | os.PathLike[str],
    policy: RetryPolicy,
    *,
    headers: dict[str, str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Stream ``url`` to ``target`` safely; returns the final path.

    The bytes go to a hidden temp name in the target's folder (same file system, so the final
    rename is atomic), the count is checked against Content-Length, and only a complete file is
    renamed into place. A cut-short transfer is retried; the temp file never survives a failure.
    An existing ``target`` is refused (``output.exists``), before and after the transfer, unless
    ``overwrite``.
    """
    target = Path(target)
    if not overwrite and _occupied(target):
        raise output_exists(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{os.getpid()}.part")
    last_error = "no attempt made"
    try:
        for attempt in range(policy.attempts):
            try:
                complete, last_error = _download_once(client, url, temp, headers or {})
            except httpx.TransportError as exc:
                complete, last_error = False, f"{type(exc).__name__}"
            if complete:
                _publish(temp, target, overwrite)
                return target
            if attempt < policy.attempts - 1:
                delay = policy.delay(attempt)
                logger.info("download of %s cut short (%s); retrying in %.1f s", target.name, last_error, delay)
                policy.sleep(delay)
    finally:
        temp.unlink(missing_ok=True)
    raise TransportError(
        f"download to {target} failed after {policy.attempts} attempts: {redact(last_error)}",
        "submit.download_failed",
    )


def copy_result(source: Path, target: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Copy a result kept on this machine (an answer that carried the video itself) to ``target``,
    with the rules of :func:`download`: a temp name beside the target, never over an existing file."""
    target = Path(target)
    if not overwrite and _occupied(target):
        raise output_exists(target)
    if not source.is_file():
        raise SubmitError(f"the result kept at {source} is gone (moved or deleted)", "submit.download_failed")
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        shutil.copyfile(source, temp)
        _publish(temp, target, overwrite)
    finally:
        temp.unlink(missing_ok=True)
    return target


def output_exists(target: Path) -> PreflightError:
    return PreflightError(
        f"{target} already exists; preflight does not replace it: give -o another name, or pass --overwrite",
        "output.exists",
    )


def _occupied(target: Path) -> bool:
    return target.exists() or target.is_symlink()


def _publish(temp: Path, target: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(temp, target)
        return
    try:
        os.link(temp, target)  # unlike a rename, refuses to replace a file that appeared meanwhile
    except FileExistsError:
        raise output_exists(target) from None
    except OSError:  # no hard links on this file system: check, then rename
        if _occupied(target):
            raise output_exists(target) from None
        os.replace(temp, target)


def _download_once(client: httpx.Client, url: str, temp: Path, headers: dict[str, str]) -> tuple[bool, str]:
    with client.stream("GET", url, headers=headers) as response:
        if response.status_code in (429,) or response.status_code >= 500:
            return False, f"HTTP {response.status_code}"
        if response.status_code >= 400:
            # An expired or wrong URL does not get better by asking again.
            raise SubmitError(
                f"download failed: HTTP {response.status_code} (the result URL may have expired)",
                "submit.download_failed",
            )
        expected = response.headers.get("Content-Length")
        with open(temp, "wb") as out:
            for chunk in response.iter_bytes(1 << 16):
                out.write(chunk)
        # Content-Length counts the bytes on the wire (before any Content-Encoding is undone).
        received = response.num_bytes_downloaded
    if expected is not None and received != int(expected):
        return False, f"got {received} of {expected} bytes"
    if received == 0:
        return False, "empty body"
    return True, ""
