"""What a submit decides before any request goes out: :func:`plan_submit` -> :class:`SubmitPlan`.

The plan is what ``submit --dry-run`` shows (:mod:`.dryrun`) and what :func:`.service.submit` sends.

Choices written down:
- Idempotency key: sha256 of the provider name, each file's sha256 (or its URL when only a URL is
  given) and the settings that change the output (mode, orientation, prompts, keep-sound); the
  callback URL is left out, it does not change what is paid for.
- External id: ``pf-<first 24 hex of the key>-<n>``, n = 1 + earlier jobs with the key in this
  ledger, so ``--again`` gets a fresh id (Kling wants it unique per account).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .base import JobStatus, MediaInput, Provider, SubmitSettings
from .ledger import Job, Ledger

if TYPE_CHECKING:
    from .upload import UploadTarget

__all__ = ["SubmitPlan", "idempotency_key", "plan_submit"]


@dataclass(frozen=True)
class SubmitPlan:
    """Everything decided before any request goes out."""

    provider: str
    image: MediaInput
    video: MediaInput
    settings: SubmitSettings
    key: str
    external_id: str
    image_sha256: str | None
    video_sha256: str | None
    duration: float | None
    """Clip seconds (the output's length), when known."""
    cost_estimate: float | None
    earlier: tuple[Job, ...]
    """Jobs in the ledger with the same key that may have spent (or be spending) credits."""
    upload: UploadTarget | None = None
    """Where local files the provider cannot take inline go (``--upload``); None: the provider's own storage."""

    def uploads(self, provider: Provider, media: MediaInput) -> bool:
        """True when ``media`` goes to the ``--upload`` destination rather than to the provider."""
        return self.upload is not None and self.upload.takes(provider, media)

    def sha256(self, media: MediaInput) -> str | None:
        return self.image_sha256 if media.role == "image" else self.video_sha256


def idempotency_key(provider: str, image: str, video: str, settings: SubmitSettings) -> str:
    output_settings = {k: v for k, v in settings.as_dict().items() if k != "callback_url"}
    blob = json.dumps(
        {"provider": provider, "image": image, "video": video, "settings": output_settings}, sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def plan_submit(
    provider: Provider,
    ledger: Ledger,
    image: MediaInput,
    video: MediaInput,
    settings: SubmitSettings,
    *,
    duration: float | None = None,
    image_sha256: str | None = None,
    video_sha256: str | None = None,
    upload: UploadTarget | None = None,
) -> SubmitPlan:
    from ..bundle import sha256_file

    provider.check_settings(settings)
    if upload is not None:
        upload.check()
    for media in (image, video):
        if upload is None or not upload.takes(provider, media):
            provider.check_media(media)
    image_sha256 = image_sha256 or (sha256_file(image.path) if image.path else None)
    video_sha256 = video_sha256 or (sha256_file(video.path) if video.path else None)
    key = idempotency_key(provider.name, image_sha256 or str(image.url), video_sha256 or str(video.url), settings)
    jobs = ledger.by_key(key)
    earlier = tuple(j for j in jobs if j.status not in (JobStatus.FAILED, JobStatus.CANCELED))
    return SubmitPlan(
        provider=provider.name,
        image=image,
        video=video,
        settings=settings,
        key=key,
        external_id=f"pf-{key[:24]}-{len(jobs) + 1}",
        image_sha256=image_sha256,
        video_sha256=video_sha256,
        duration=duration,
        cost_estimate=provider.estimate_cost(settings, duration),
        earlier=earlier,
        upload=upload,
    )
