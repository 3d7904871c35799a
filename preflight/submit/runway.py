"""Runway's API: ``POST /v1/character_performance`` (Act-Two), polled at ``GET /v1/tasks/{id}``.

Choices the docs left open (PROVIDERS.md, "Runway Act-Two"; Runway's "API Input Parameters"):
- Every request carries ``X-Runway-Version: 2024-11-06`` (the version the contract was read at).
- The key is ``RUNWAYML_API_SECRET``, the name Runway's own SDKs read.
- Local files go inline as data URIs when small enough (image 5 MB, clip 16 MB, counted on the
  encoded text, the stricter reading); a bigger file goes through Runway's own uploads
  (``POST /v1/uploads`` with ``{filename, type: "ephemeral"}`` answers ``uploadUrl``, form ``fields`` and
  a ``runwayUri``; the file is POSTed as a multipart form to ``uploadUrl`` with those fields and no key,
  as Runway's SDKs do) and is sent as its ``runway://`` URI. Upload names start with the content's
  sha256 (16 hex), as KIE's do.
- The character may be a video (``character.type`` ``video``): a clip given as ``--image`` is sent as
  one (its kind is read from its content; ``--set character_type=video`` for a URL).
- ``ratio`` names the output size, nothing more: no document makes it a rule on the inputs' shapes,
  so they are not gated on it and nothing is padded or cropped unless the user asks (``fix`` with a
  profile that lists ``aspect_choices``). By default it is the choice nearest the clip's displayed
  shape, so the motion is not squeezed.
- ``contentModeration.publicFigureThreshold`` (``auto`` | ``low``) is ``--set public_figure_threshold=low``.
- Statuses: PENDING / THROTTLED -> queued, RUNNING -> running, SUCCEEDED, FAILED, CANCELLED; the
  failure reason in ``failure`` (``failureCode`` beside it). Cancel is ``DELETE /v1/tasks/{id}``.
- No idempotency key or lookup: a create of unknown outcome leaves the job ``unknown``.
- Outputs are kept about 24 h (Runway calls them ephemeral): download promptly.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from ..errors import SubmitError
from .base import Created, JobStatus, MediaInput, Provider, SubmitSettings, TaskInput, TaskState

__all__ = ["RunwayProvider"]

API_VERSION = "2024-11-06"
DATA_URI_LIMIT = {"image": 5_000_000, "video": 16_000_000}

_STATUS = {
    "PENDING": JobStatus.QUEUED,
    "THROTTLED": JobStatus.QUEUED,
    "RUNNING": JobStatus.RUNNING,
    "SUCCEEDED": JobStatus.SUCCEEDED,
    "FAILED": JobStatus.FAILED,
    "CANCELLED": JobStatus.CANCELED,
}


class RunwayProvider(Provider):
    name = "runway"
    title = "Runway API"
    default_base_url = "https://api.dev.runwayml.com"
    key_names = ("RUNWAYML_API_SECRET",)
    result_ttl = 24 * 3600.0
    inline_image = "data_uri"
    can_upload = True
    can_cancel = True
    media_note = "local files inline up to 5 MB (image) / 16 MB (clip), bigger ones through Runway's uploads"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys['RUNWAYML_API_SECRET']}", "X-Runway-Version": API_VERSION}

    def inlines(self, media: MediaInput) -> bool:
        if media.path is None:
            return False
        encoded = 4 * math.ceil(media.path.stat().st_size / 3) + len(f"data:{media.content_type};base64,")
        return encoded <= DATA_URI_LIMIT[media.role]

    def media_ref(self, media: MediaInput, *, dry_run: bool = False) -> str:
        if media.url or not self.inlines(media):
            return super().media_ref(media, dry_run=dry_run)
        assert media.path is not None
        data = base64.b64encode(media.path.read_bytes()).decode("ascii")
        return f"data:{media.content_type};base64,{data}"

    def settle(self, settings: SubmitSettings, paths: list[Path]) -> SubmitSettings:
        """``paths``: the local image (or character clip) and clip, in that order, either may be absent."""
        route = self.route(settings.model)
        given = dict(settings.inputs)
        from ..media.probe import probe

        infos = [probe(p) for p in paths]
        added: list[tuple[str, Any]] = []
        # A clip in the character's place: Act-Two takes a character video.
        if "character_type" in route.fields and "character_type" not in given and len(infos) == 2 and (
            infos[0].role == "video"
        ):
            added.append(("character_type", "video"))
        if "ratio" in route.fields and not given.get("ratio"):
            videos = [i for i in infos if i.role == "video" and i.width and i.height]
            if videos:
                choices = _ratio_choices(settings.model)
                shape = videos[-1].width / videos[-1].height  # type: ignore[operator]  # the clip: it is last
                added.append(("ratio", min(choices, key=lambda c: abs(math.log(_ratio(c) / shape)))))
        return replace(settings, inputs=(*settings.inputs, *added)) if added else settings

    def _filename(self, media: MediaInput) -> str:
        assert media.path is not None
        digest = hashlib.sha256()
        with open(media.path, "rb") as source:
            for chunk in iter(lambda: source.read(1 << 20), b""):
                digest.update(chunk)
        return f"{digest.hexdigest()[:16]}-{media.path.name}"

    def _start_upload(self, media: MediaInput) -> httpx.Request:
        return self.request("POST", "/v1/uploads", json={"filename": self._filename(media), "type": "ephemeral"})

    def upload_requests(self, media: MediaInput) -> list[httpx.Request]:
        assert media.path is not None
        note = {"dry_run_body": f"<multipart form: the fields from /v1/uploads, then file = the "
                                f"{media.path.stat().st_size} bytes of {media.path.name}>"}  # fmt: skip
        form = httpx.Request("POST", "https://upload-url.from-v1-uploads.invalid/", extensions=note)
        return [self._start_upload(media), form]

    def upload(self, media: MediaInput) -> str:
        assert media.path is not None
        started = self.json_of(self.call(self._start_upload(media)))
        url, fields, uri = started.get("uploadUrl"), started.get("fields"), started.get("runwayUri")
        if not url or not isinstance(fields, dict) or not uri:
            raise SubmitError("runway: /v1/uploads gave no uploadUrl/fields/runwayUri", "submit.bad_response")
        form = self.client.build_request(  # pre-signed: the key stays home
            "POST", str(url), data={str(k): str(v) for k, v in fields.items()},
            files={"file": (self._filename(media), media.path.read_bytes(), media.content_type)},
        )  # fmt: skip
        self.call(form)
        return str(uri)

    def body(self, task: TaskInput) -> dict[str, Any]:
        return {"model": self.model_id(task.settings), **self.fields(task)}

    def create_request(self, task: TaskInput) -> httpx.Request:
        return self.request("POST", "/v1/character_performance", json=self.body(task))

    def parse_created(self, response: httpx.Response) -> Created:
        body = self.json_of(response)
        if not body.get("id"):
            raise SubmitError("runway: the answer has no task id", "submit.bad_response")
        return Created(str(body["id"]), "PENDING")

    def status(self, task_id: str, data: Mapping[str, Any]) -> TaskState:
        body = self.json_of(self.call(self.request("GET", f"/v1/tasks/{task_id}")))
        raw = str(body.get("status", ""))
        status = _STATUS.get(raw, JobStatus.RUNNING)
        if status is JobStatus.FAILED:
            code = body.get("failureCode")
            reason = str(body.get("failure") or "no reason given")
            return TaskState(status, raw, None, f"{reason} ({code})" if code else reason)
        if status is JobStatus.SUCCEEDED:
            output = body.get("output") or []
            if not output:
                return TaskState(JobStatus.FAILED, raw, None, "runway: the task has no output")
            return TaskState(status, raw, str(output[0]))
        return TaskState(status, raw)

    def cancel(self, task_id: str, data: Mapping[str, Any]) -> None:
        self.call(self.request("DELETE", f"/v1/tasks/{task_id}"))


def _ratio(choice: str) -> float:
    width, _, height = choice.partition(":")
    return int(width) / int(height)


def _ratio_choices(model: str) -> tuple[str, ...]:
    from ..profiles import load_model

    spec = load_model(model).input_spec("ratio")
    return spec.choices if spec else ()
