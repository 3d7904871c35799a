"""What a ``preflight serve`` process is set up with, and the rules checked before it binds.

Choices written down:
- Loopback (127.0.0.1, ::1, localhost) is the default and the only bind that works without a token:
  anything else is reachable by other machines, so ``--token`` (or ``PREFLIGHT_SERVE_TOKEN``) is required
  and every request must carry it (``serve.token_required`` refuses to start otherwise).
- An upload may be at most :data:`UPLOAD_MARGIN` times the largest cap any shipped contract sets for its
  role (or the profile's own, when larger), whichever provider the request names: a 60 MB phone clip sent
  for Novita (10 MB) is taken, checked (``size.too_large``) and squeezed by fix, and a change of provider
  never needs a new upload. A file far over every cap is refused while it streams (``upload.too_large``),
  before the disk fills.
"""

from __future__ import annotations

import functools
import ipaddress
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import PreflightError, UsageError

if TYPE_CHECKING:
    from ..submit.upload import UploadTarget

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "MAX_WAIT",
    "SYNC_WAIT",
    "UPLOAD_MARGIN",
    "ServeConfig",
    "ServeError",
    "is_loopback",
    "upload_cap",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
UPLOAD_MARGIN = 2.0
"""An upload may be this many times the profile's byte cap for its role (see the module docstring)."""
FALLBACK_CAP = {"image": 10_000_000, "video": 100_000_000}
"""Kling's published caps: the least the server takes (x :data:`UPLOAD_MARGIN`) whatever the contracts say."""
SYNC_WAIT = 60.0
"""Seconds a request that did not ask for ``Prefer: respond-async`` waits for its job before the answer
becomes ``202`` with the job to poll (``?wait=`` changes it, up to :data:`MAX_WAIT`)."""
MAX_WAIT = 600.0
MAX_AGE = 3600.0
"""Seconds a finished job's folder (uploads and outputs) is kept; the sweep runs every minute."""


class ServeError(PreflightError):
    """A request the server refuses; ``status`` is its HTTP answer."""

    default_code = "serve.invalid"

    def __init__(self, message: str, code: str | None = None, status: int = 400) -> None:
        super().__init__(message, code)
        self.status = status


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and ``localhost``: reachable from this machine only."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServeConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None
    """Required unless ``host`` is loopback; every API call then carries it (Bearer, or the page's cookie)."""
    profile: str | None = None
    """The default profile reference (a request's ``model``/``provider``/``profile`` override it)."""
    orientation: str = "video"
    jobs: int | None = None
    """Pool workers (None: one per core), as ``batch --jobs``."""
    max_age: float = MAX_AGE
    workdir: str | None = None
    """Where the private folder is made (None: the system's temporary folder)."""
    ledger: str | None = None
    """The submit ledger (None: ``PREFLIGHT_LEDGER``, else the user data dir)."""
    extra_hosts: tuple[str, ...] = field(default=())
    """Host header values accepted besides the bind address and loopback names (behind a proxy)."""
    upload: UploadTarget | None = None
    """Where a submit puts local files a provider needs as URLs (``serve --upload``); None: providers' own storage."""

    def validate(self) -> None:
        if not (0 <= self.port <= 65535):
            raise UsageError(f"--port must be 0-65535, not {self.port}")
        if self.orientation not in ("image", "video"):
            raise UsageError(f"orientation must be image or video, not {self.orientation!r}")
        if self.token is not None and len(self.token) < 16:
            raise UsageError("the serve token must be at least 16 characters (e.g. `openssl rand -hex 24`)",
                             "serve.token_required")  # fmt: skip
        if self.upload is not None:
            self.upload.check()
        if not is_loopback(self.host) and not self.token:
            raise UsageError(
                f"--host {self.host} is reachable from other machines: give --token (or PREFLIGHT_SERVE_TOKEN) so "
                "every request must carry it, or bind 127.0.0.1",
                "serve.token_required",
            )

    @classmethod
    def from_env_token(cls, token: str | None, **kwargs: object) -> ServeConfig:
        return cls(token=token or os.environ.get("PREFLIGHT_SERVE_TOKEN") or None, **kwargs)  # type: ignore[arg-type]


def upload_cap(profile: object, role: str) -> int:
    """The largest upload accepted for ``role``: :data:`UPLOAD_MARGIN` times the largest cap of any shipped
    contract, or of ``profile`` when its own is larger (see the module docstring)."""
    limits = getattr(profile, role, None)
    own = getattr(limits, "max_bytes", None) or 0
    return int(max(own, _largest_caps()[role]) * UPLOAD_MARGIN)


@functools.cache
def _largest_caps() -> dict[str, int]:
    from ..profiles import contract_matrix

    caps = dict(FALLBACK_CAP)
    for pairing in contract_matrix():
        for role in caps:
            cap = getattr(pairing.profile, role).max_bytes
            caps[role] = max(caps[role], cap or 0)
    return caps
