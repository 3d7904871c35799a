"""``submit --upload DEST``: put a local file where a provider can fetch it, and send its URL.

DEST is an fsspec URL (``s3://bucket/prefix``, ``gs://bucket/prefix``, ``file:///srv/www/clips``,
``sftp://host/path``...) or a local folder. fsspec is optional (``pip install
"preflight-motion[upload]"``: fsspec and s3fs; gcsfs for ``gs://``) and imported only when an upload runs.

Choices written down:
- Which files: the clip always (when it is local and no ``--video-url`` is given); the image only where
  the provider does not take it inline (Kling, Novita and the gateway take it as base64, Runway as a
  data URI up to its cap), so no URL to a photo is made that the provider never needed.
- Names: ``<sha256 of the content><suffix>`` under DEST. Two different files never share a name (KIE's
  lesson: same-named uploads overwrite each other), the same bytes always land at the same name, and
  a name says nothing about the user's file names.
- URLs: ``--upload-base-url URL`` is the public prefix of DEST (a web folder, a public bucket, R2's
  public domain): the URL is ``URL/<name>``. Without it, only stores that sign URLs may be used
  (``s3://`` including S3-compatible ones given ``endpoint_url``, ``gs://``): the URL is signed for the
  provider's :attr:`~.base.Provider.input_url_ttl` (24 h), at most 7 days (SigV4's limit). Any other
  DEST without a base URL is refused before anything is sent (``submit.upload_no_url``, exit 2).
- The ledger records each upload (role, sha256, DEST, object path, URL, expiry) on the job as soon as
  it is done. A later submit of the same bytes to the same DEST finds that record and does not upload
  again: it checks that the object is still there with the same size (one metadata call) and signs a
  fresh URL (signing is local arithmetic, no transfer).
- Failures of the store (no bucket, no permission, no network) are ``submit.upload_failed`` (exit 1),
  with the store's own words; nothing was created.
"""

from __future__ import annotations

import logging
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import PreflightError, SubmitError, UsageError
from .base import MediaInput, Provider
from .keys import redact

__all__ = ["UPLOAD_INSTALL", "UploadTarget", "Uploaded", "upload_media"]

logger = logging.getLogger("preflight")

UPLOAD_INSTALL = 'pip install "preflight-motion[upload]"  (or: pip install fsspec s3fs; gcsfs for gs://)'
SIGNING = frozenset({"s3", "s3a", "gs", "gcs"})
"""Protocols whose fsspec filesystem signs URLs (s3fs, gcsfs ``sign``)."""
MAX_SIGNED_TTL = 7 * 24 * 3600.0
"""SigV4 presigned URLs (S3 and its look-alikes) and GCS V4 signed URLs live at most 7 days."""
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+)://")


@dataclass(frozen=True)
class UploadTarget:
    """Where ``--upload`` puts files, and how their URLs are made."""

    dest: str
    """fsspec URL or local folder (``s3://bucket/prefix``)."""
    base_url: str | None = None
    """Public prefix of ``dest`` (``--upload-base-url``); None: sign URLs."""
    options: tuple[tuple[str, str], ...] = ()
    """fsspec filesystem options (``--upload-option endpoint_url=...``)."""

    @property
    def protocol(self) -> str:
        match = _SCHEME.match(self.dest)
        return match.group(1).lower() if match else "file"

    def check(self) -> None:
        """Refuse, before anything is spent, a DEST that cannot give a URL (usage, exit 2)."""
        if self.base_url is None and self.protocol not in SIGNING:
            raise UsageError(
                f"--upload {self.dest}: preflight cannot make a URL for a file put there: give its public "
                "prefix with --upload-base-url URL (a web folder, a public bucket), or upload to s3:// or gs://, "
                "whose URLs are signed",
                "submit.upload_no_url",
            )
        if self.base_url is not None and not self.base_url.startswith(("https://", "http://")):
            raise UsageError(f"--upload-base-url must be an http(s) URL, not {self.base_url!r}", "usage.invalid")

    def takes(self, provider: Provider, media: MediaInput) -> bool:
        """True when this local file goes up to DEST (see the module docstring for which)."""
        if media.path is None or media.url:
            return False
        return media.role == "video" or not provider.inlines(media)

    def object_path(self, media: MediaInput, sha256: str) -> str:
        """Where the file lands: DEST/<sha256><suffix>."""
        assert media.path is not None
        return f"{self.dest.rstrip('/')}/{sha256}{media.path.suffix.lower()}"

    def public_url(self, media: MediaInput, sha256: str) -> str | None:
        if self.base_url is None:
            return None
        assert media.path is not None
        return f"{self.base_url.rstrip('/')}/{sha256}{media.path.suffix.lower()}"

    def describe(self, media: MediaInput, sha256: str, ttl: float) -> tuple[str, str]:
        """``(what the upload does, what the request carries)`` for a dry run; nothing is touched."""
        assert media.path is not None
        target = self.object_path(media, sha256)
        size = media.path.stat().st_size
        public = self.public_url(media, sha256)
        how = f"sent as {public}" if public else f"sent as a signed URL valid {_hours(_signed_ttl(ttl))}"
        line = f"upload {media.path.name} ({size} bytes, sha256 {sha256[:16]}...) to {target} (fsspec); {how}"
        return line, public or f"<signed URL of {target}>"


@dataclass(frozen=True)
class Uploaded:
    """One file at DEST, as the ledger records it."""

    role: str
    sha256: str
    dest: str
    path: str
    url: str
    expires_at: str | None
    """When a signed URL stops working (UTC, ISO 8601); None for a public URL."""
    reused: bool = False
    """True when an earlier upload of the same bytes was found and nothing was transferred."""

    def record(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "dest": self.dest, "path": self.path, "url": self.url,
                "expires_at": self.expires_at}  # fmt: skip


def upload_media(
    target: UploadTarget, media: MediaInput, sha256: str, ttl: float, earlier: Iterable[Mapping[str, Any]] = ()
) -> Uploaded:
    """Put ``media`` at DEST (unless an earlier record shows it is there) and make its URL."""
    assert media.path is not None
    fs, root = _filesystem(target)
    path = f"{root.rstrip('/')}/{sha256}{media.path.suffix.lower()}"
    size = media.path.stat().st_size
    location = target.object_path(media, sha256)
    recorded = any(r.get("dest") == target.dest and r.get("sha256") == sha256 for r in earlier)
    try:
        reused = recorded and _present(fs, path, media, size)
        if not reused:
            logger.info("uploading %s (%d bytes) to %s", media.path.name, size, location)
            if target.protocol not in SIGNING:  # object stores have no folders (s3fs would create a bucket)
                fs.makedirs(posixpath.dirname(path), exist_ok=True)
            fs.put_file(str(media.path), path)
            if _size(fs, path) != size:
                raise OSError(f"{location} holds {_size(fs, path)} bytes after the upload, not {size}")
        url, expires = _url(target, fs, path, media, sha256, ttl)
    except PreflightError:
        raise
    except Exception as exc:  # the store's own errors (botocore, gcsfs, paramiko, OSError): one coded line
        raise SubmitError(
            redact(f"could not put {media.path.name} at {location}: {type(exc).__name__}: {exc}"),
            "submit.upload_failed",
        ) from exc
    if reused:
        logger.info("%s is already at %s (recorded in the ledger): not uploaded again", media.path.name, location)
    return Uploaded(media.role, sha256, target.dest, location, url, expires, reused)


def _filesystem(target: UploadTarget) -> tuple[Any, str]:
    try:
        from fsspec.core import url_to_fs
    except ImportError as exc:
        raise UsageError(f"--upload needs fsspec: {UPLOAD_INSTALL}", "fsspec.missing") from exc
    options = {key: _option_value(value) for key, value in target.options}
    try:
        # A fresh filesystem each time: a long-lived ``serve`` must not keep one built with old credentials.
        return url_to_fs(target.dest.rstrip("/") + "/", skip_instance_cache=True, **options)
    except ImportError as exc:  # fsspec knows the protocol, its package is missing ("Install s3fs to access S3")
        raise UsageError(f"--upload {target.dest}: {exc}; {UPLOAD_INSTALL}", "fsspec.missing") from exc
    except (ValueError, TypeError) as exc:  # "Protocol not known", an option the filesystem does not take
        raise UsageError(f"--upload {target.dest}: {exc}", "usage.invalid") from exc


def _option_value(value: str) -> Any:
    """``--upload-option`` values are text; the words true/false/none become what fsspec expects."""
    return {"true": True, "false": False, "none": None}.get(value.strip().lower(), value)


def _present(fs: Any, path: str, media: MediaInput, size: int) -> bool:
    fs.invalidate_cache(path)  # a listing cached by an earlier call must not vouch for an object deleted since
    try:
        return _size(fs, path) == size
    except FileNotFoundError:
        logger.info("the recorded upload of %s is gone from the store: uploading it again", media.label)
        return False


def _size(fs: Any, path: str) -> int:
    return int(fs.info(path)["size"])


def _url(
    target: UploadTarget, fs: Any, path: str, media: MediaInput, sha256: str, ttl: float
) -> tuple[str, str | None]:
    public = target.public_url(media, sha256)
    if public is not None:
        return public, None
    seconds = _signed_ttl(ttl)
    url = str(fs.sign(path, expiration=int(seconds)))
    expires = datetime.now(UTC) + timedelta(seconds=seconds)
    return url, expires.isoformat(timespec="seconds")


def _signed_ttl(ttl: float) -> float:
    return min(max(ttl, 3600.0), MAX_SIGNED_TTL)


def _hours(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:g} h" if hours < 48 else f"{hours / 24:g} days"
