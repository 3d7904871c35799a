"""Provider keys: read from the environment or the config file, and never shown.

Where a key comes from (first hit wins):
1. the environment variable named by the provider (``FAL_KEY``, ``KLINGAI_ACCESS_KEY``...);
2. the config file, a TOML table ``[keys]`` using the same names::

       [keys]
       FAL_KEY = "..."
       KLINGAI_ACCESS_KEY = "..."
       KLINGAI_SECRET_KEY = "..."

   at ``platformdirs.user_config_dir("preflight")/config.toml`` (``~/.config/preflight/config.toml``
   on Linux), or wherever ``PREFLIGHT_CONFIG`` points.

Masking: every key loaded here, and every token derived from one (Kling's JWT), is registered with
:func:`register_secret`. :func:`redact` replaces each registered secret in a text by a mask that keeps
only its last four characters, and :class:`RedactingFilter` applies it to every log record of the
``preflight`` logger. Dry-run output, ledger messages and error messages go through :func:`redact` too,
so a secret that slips into a provider's error text is still masked.
"""

from __future__ import annotations

import logging
import os
import threading
import tomllib
from pathlib import Path

from ..errors import AuthError, ProbeError, UsageError, quoted, shortened

__all__ = [
    "RedactingFilter",
    "config_path",
    "install_log_redaction",
    "load_key",
    "mask",
    "redact",
    "register_secret",
    "require_key",
    "require_keys_for",
]

logger = logging.getLogger("preflight")

# Shorter strings would mask ordinary words; real keys are far longer than this.
_MIN_SECRET_LEN = 8
_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember ``value`` so :func:`redact` masks it from now on."""
    if value and len(value) >= _MIN_SECRET_LEN:
        with _lock:
            _secrets.add(value)


def mask(value: str) -> str:
    """``****`` plus the last four characters: enough to tell two keys apart, useless to a thief."""
    return "****" + value[-4:] if len(value) >= 16 else "****"


def redact(text: str) -> str:
    """``text`` with every registered secret masked."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, mask(secret))
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's final message (arguments included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def install_log_redaction() -> None:
    """Attach :class:`RedactingFilter` to the ``preflight`` logger and the loggers of httpx."""
    for name in ("preflight", "httpx", "httpcore"):
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(RedactingFilter())


MAX_CONFIG_CHARS = 4096
"""The longest ``PREFLIGHT_CONFIG`` taken: Linux's PATH_MAX."""
MAX_CONFIG_BYTES = 1 << 20
"""The largest config file read: a table of a few keys is far smaller."""


def config_path() -> Path:
    """The config file: ``PREFLIGHT_CONFIG`` or the user config dir's ``config.toml``."""
    override = os.environ.get("PREFLIGHT_CONFIG")
    if override:
        if len(override) > MAX_CONFIG_CHARS or "\x00" in override:
            raise UsageError(f"PREFLIGHT_CONFIG {quoted(override)} is not a path: a path is at most "
                             f"{MAX_CONFIG_CHARS} characters, with no NUL", "config.invalid")  # fmt: skip
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_config_dir("preflight")) / "config.toml"


def _config_keys() -> dict[str, str]:
    path = config_path()
    try:
        data = tomllib.loads(_config_text(path))
    except FileNotFoundError:
        return {}
    except ProbeError as exc:  # a FIFO, a folder, a loop of links: refused unread
        raise UsageError(f"cannot read config file {shortened(str(path))}: {exc.code}", "config.invalid") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as exc:
        # The parser's message may quote the line, and the line may hold a key: say where, not what.
        # RecursionError: tables nested thousands deep (the parser recurses per level).
        why = "nested too deep" if isinstance(exc, RecursionError) else type(exc).__name__
        raise UsageError(f"cannot read config file {shortened(str(path))}: {why}", "config.invalid") from None
    table = data.get("keys", {})
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [keys] must be a table", "config.invalid")
    return {str(k): str(v) for k, v in table.items()}


def _config_text(path: Path) -> str:
    from ..inputs import open_regular

    try:
        fh = open_regular(path)  # never opens a FIFO (it would wait for a writer forever)
    except ProbeError as exc:
        if exc.code == "file.not_found" and not exc.extra.get("broken_link"):
            raise FileNotFoundError(str(path)) from None
        raise
    with fh:
        data = fh.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise UsageError(f"config file {shortened(str(path))} is over {MAX_CONFIG_BYTES >> 20} MB: too large to "
                         "be a config file", "config.invalid")  # fmt: skip
    return data.decode("utf-8")


def load_key(name: str) -> str | None:
    """The value of key ``name`` from the environment, else the config file; registered for masking."""
    value = os.environ.get(name) or _config_keys().get(name)
    value = value.strip() if value else None
    register_secret(value)
    return value or None


def require_keys_for(provider: str, names: tuple[str, ...]) -> dict[str, str]:
    """Every key a provider needs; all missing ones are named in one :class:`AuthError`."""
    values = {name: load_key(name) for name in names}
    missing = [name for name, value in values.items() if not value]
    if missing:
        listed = " and ".join(missing)
        example = "; ".join(f'{name} = "..."' for name in missing)
        raise AuthError(
            f"{provider} needs {listed}: set the environment variable{'s' if len(missing) > 1 else ''}, "
            f"or add {example} under [keys] in {config_path()}",
            "submit.no_key",
        )
    return {name: str(value) for name, value in values.items()}


def require_key(name: str, provider: str) -> str:
    """Like :func:`load_key`, but a missing key is an :class:`AuthError` that says where to put it."""
    value = load_key(name)
    if not value:
        raise AuthError(
            f'{provider} needs {name}: set the environment variable, or add {name} = "..." '
            f"under [keys] in {config_path()}",
            "submit.no_key",
        )
    return value
