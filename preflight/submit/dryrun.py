"""What ``submit --dry-run`` prints: the requests a submit would send, in order, secrets masked."""

from __future__ import annotations

import json
from typing import Any

import httpx

from .base import Provider, TaskInput
from .keys import mask, redact
from .plan import SubmitPlan

__all__ = ["describe_request", "dry_run_text"]


def describe_request(request: httpx.Request) -> str:
    """A request as text: method, URL, headers (credentials masked) and body (long strings shortened)."""
    lines = [f"{request.method} {request.url}"]
    note = request.extensions.get("dry_run_body")  # a placeholder request says what its body would be
    for name, value in request.headers.items():
        if note and name.lower() == "content-length":
            continue  # the placeholder's own length (0) is not what would be sent
        if name.lower() in ("authorization", "x-api-key", "x-key"):
            scheme, _, credential = value.partition(" ")
            value = f"{scheme} {mask(credential)}" if credential else mask(value)
        lines.append(f"{name}: {value}")
    content_type = request.headers.get("content-type", "")
    body = request.read()
    if note:
        lines += ["", str(note)]
    elif "json" in content_type:
        lines += ["", json.dumps(_shorten(json.loads(body)), indent=2)]
    elif content_type.startswith("multipart/"):
        lines += ["", f"<multipart form, {len(body)} bytes>"]
    elif body:
        lines += ["", f"<{len(body)} bytes>"]
    return redact("\n".join(lines))


def _shorten(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 160:
        return f"{value[:60]}...<{len(value)} characters>"
    if isinstance(value, dict):
        return {k: _shorten(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shorten(v) for v in value]
    return value


def dry_run_text(provider: Provider, plan: SubmitPlan) -> str:
    """The requests a submit would send, in order, as text; nothing is sent (nor uploaded)."""
    parts = []
    refs: dict[str, str] = {}
    for media in (plan.image, plan.video):
        sha256 = plan.sha256(media)
        if plan.upload is not None and plan.uploads(provider, media) and sha256:
            line, refs[media.role] = plan.upload.describe(media, sha256, provider.input_url_ttl)
            parts.append(line)
        elif not media.url and media.path and not provider.inlines(media):
            if not provider.can_upload:
                provider.media_ref(media)  # raises the "needs a URL" error
            parts += [describe_request(r) for r in provider.upload_requests(media)]
    task = TaskInput(
        refs.get("image") or provider.media_ref(plan.image, dry_run=True),
        refs.get("video") or provider.media_ref(plan.video, dry_run=True),
        plan.settings,
        plan.external_id,
    )
    parts.append(describe_request(provider.create_request(task)))
    return "\n\n".join(parts)
