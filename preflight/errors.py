"""Exceptions raised by preflight.

Every error carries a finding code from the shared vocabulary (see DESIGN.md), so the CLI can print
one line ``code: message`` and a pipeline can branch on the code.

    PreflightError
     ├── UsageError           a bad option value, unknown profile (exit 2)
     │    └── ProfileError    a profile file is missing or malformed
     ├── ProbeError           the file cannot be read as media (also a ValueError)
     ├── FixError             an operation could not produce an output
     ├── ModelError           the pose model is not available
     ├── MemoryExhausted      the machine ran out of memory on this input (also a MemoryError)
     └── SubmitError          a provider call failed
          ├── AuthError       401/403, a bad or missing key
          ├── AccountError    the key is valid, the account may not do this (see the class)
          ├── CreditsError    402 or the provider's own "out of credits" code
          ├── ValidationError 400/422, the provider refused a parameter
          ├── RateLimitError  429 after the retries ran out
          ├── TaskFailedError the provider ran the task and it failed
          └── TransportError  network trouble after the retries ran out
               └── OutcomeUnknown  a create was sent and no answer came: the task may exist

Messages never contain secrets: providers build them from status, code and the provider's own text.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

__all__ = [
    "AccountError",
    "AuthError",
    "CreditsError",
    "FixError",
    "MemoryExhausted",
    "ModelError",
    "OutcomeUnknown",
    "PreflightError",
    "ProbeError",
    "ProfileError",
    "RateLimitError",
    "SubmitError",
    "TaskFailedError",
    "TransportError",
    "UsageError",
    "ValidationError",
    "map_av_errors",
    "memory_exhausted",
    "os_error_code",
    "out_of_memory",
    "printable",
    "quoted",
    "shortened",
]


class PreflightError(Exception):
    """Root of every error preflight raises on purpose."""

    default_code = "preflight.error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code

    def __str__(self) -> str:
        return self.message

    def one_line(self) -> str:
        """The form the CLI prints: ``code: message`` on a single line (a newline in a file name
        shows as ``\\n``: see :func:`printable`)."""
        return f"{self.code}: {printable(self.message.strip())}"


class UsageError(PreflightError):
    default_code = "usage.invalid"


class ProbeError(PreflightError, ValueError):
    default_code = "file.unreadable"

    def __init__(self, message: str, code: str | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message, code)
        self.extra: dict[str, Any] = dict(extra or {})
        """What the finding made from this error carries in ``extra`` (e.g. where a broken link points)."""


class ProfileError(UsageError):
    default_code = "profile.invalid"


class FixError(PreflightError):
    default_code = "fix.failed"


class ModelError(PreflightError):
    default_code = "model.unavailable"


class MemoryExhausted(PreflightError, MemoryError):
    """The machine ran out of memory on one input: a file's finding, and the batch goes on."""

    default_code = "memory.exhausted"


class SubmitError(PreflightError):
    default_code = "submit.failed"


class AuthError(SubmitError):
    default_code = "submit.auth"


class AccountError(SubmitError):
    """The key is valid but the account may not make this call; waiting or retrying does not help.

    Codes: ``submit.account`` (the default: the provider reports an account exception, e.g. Kling
    1100), ``submit.forbidden`` (no permission for this API or model, e.g. Kling 1103) and
    ``submit.ip_blocked`` (the caller's IP address is not on the account's whitelist, e.g. Kling 1304).
    Not an :class:`AuthError`: changing the key fixes none of them.
    """

    default_code = "submit.account"


class CreditsError(SubmitError):
    default_code = "submit.no_credits"


class ValidationError(SubmitError, ValueError):
    default_code = "submit.invalid"


class RateLimitError(SubmitError):
    default_code = "submit.rate_limited"


class TaskFailedError(SubmitError):
    default_code = "submit.task_failed"


class TransportError(SubmitError):
    default_code = "submit.network"


class OutcomeUnknown(TransportError):
    """A create was sent but no answer came back: the task may or may not exist."""

    default_code = "submit.outcome_unknown"


@contextlib.contextmanager
def map_av_errors(path: str, code: str = "decode.error") -> Iterator[None]:
    """Translate PyAV/FFmpeg errors raised inside the block into :class:`ProbeError`."""
    import av  # local: keeps this module import-light

    try:
        yield
    except av.FFmpegError as exc:
        if isinstance(exc, MemoryError):  # FFmpeg's ENOMEM: the machine, not the file
            raise memory_exhausted(exc, path) from exc
        raise ProbeError(f"{path}: {_av_reason(exc)}", code) from exc


def _av_reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split())


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` safe for one line of a terminal, a log or an XML file: control characters spelt out
    like Python does (``\\n``, ``\\t``, ``\\x1b``), a byte of a file name that was not UTF-8 (a lone
    surrogate from ``surrogateescape``) as ``\\xff``, line and paragraph separators and the two
    non-characters XML forbids as ``\\u2028``... Anything else (accents, emoji, right-to-left) is kept."""
    return _UNPRINTABLE.sub(_spelt, text)


QUOTED_CHARS = 80
"""The most of a user's value a message quotes: a 100 KB variable or path is not echoed back whole."""


def quoted(text: str, limit: int = QUOTED_CHARS) -> str:
    """``text`` as a message quotes a value the user gave: Python's quotes and escapes, cut after
    ``limit`` characters with the whole length said (``'aaaa…' (100000 characters)``)."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text)} characters)"


def shortened(text: str, limit: int = QUOTED_CHARS) -> str:
    """``text`` as is when short, else cut as :func:`quoted` cuts it (for a path a message names bare)."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def _spelt(match: re.Match[str]) -> str:
    char = match.group()
    n = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if 0xDC80 <= n <= 0xDCFF:  # surrogateescape: the undecodable byte n - 0xDC00
        return f"\\x{n - 0xDC00:02x}"
    return f"\\x{n:02x}" if n <= 0xFF else f"\\u{n:04x}"


def os_error_code(exc: OSError) -> str:
    """The finding code for an OS error nothing more specific caught (a report or state file that
    cannot be written, an output folder that cannot be made): ``file.not_found``, ``file.is_directory``,
    ``output.not_writable`` (no permission, a read-only file system), ``output.no_space`` (also a
    quota), ``memory.exhausted`` (``ENOMEM``) or ``os.error``: the same codes fix and batch give for their
    media outputs."""
    import errno

    if isinstance(exc, FileNotFoundError | NotADirectoryError):
        return "file.not_found"
    if isinstance(exc, IsADirectoryError):
        return "file.is_directory"
    if isinstance(exc, PermissionError) or exc.errno == errno.EROFS:
        return "output.not_writable"
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return "output.no_space"
    if exc.errno == errno.ENOMEM:
        return "memory.exhausted"
    return "os.error"


_OUT_OF_MEMORY_WORDS = ("bad_alloc", "cannot allocate memory", "failed to map segment", "insufficient memory",
                        "failed to allocate", "out of memory")  # fmt: skip
"""How native code says it ran out of memory in an exception's text: C++'s ``std::bad_alloc`` (MediaPipe),
``ENOMEM``'s words, the dynamic loader under a lowered ``RLIMIT_AS`` ("failed to map segment from shared
object" on importing a library), OpenCV's "Insufficient memory" / "Failed to allocate"."""


def out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) means the machine ran out of memory: a ``MemoryError`` (NumPy's
    and PyAV's are ones), an ``OSError`` with ``ENOMEM``, or native words for it (:data:`_OUT_OF_MEMORY_WORDS`)."""
    import errno

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, MemoryError):
            return True
        if isinstance(current, OSError):  # its errno says; its text may hold a file name
            if current.errno == errno.ENOMEM:
                return True
        elif not isinstance(current, PreflightError) and any(w in str(current).lower() for w in _OUT_OF_MEMORY_WORDS):
            return True
        current = current.__cause__ or current.__context__
    return False


def memory_exhausted(exc: BaseException, path: str | None = None) -> MemoryExhausted:
    """The :class:`MemoryExhausted` for ``exc`` (see :func:`out_of_memory`), naming the file when known."""
    if isinstance(exc, MemoryExhausted):
        return exc
    detail = " ".join(str(exc).split())[:120]
    what = type(exc).__name__ + (f": {detail}" if detail else "")
    where = f"{path}: " if path else ""
    return MemoryExhausted(f"{where}ran out of memory ({what}); try fewer --jobs, a smaller input, or more memory")
