"""Vercel AI Gateway fake: `POST .../video-model` with the exact headers and body of PROVIDERS.md, answered by
one server-sent event after the connection was held (keep-alive comments meanwhile)."""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from typing import Any, ClassVar

from .base import RESULT, FakeServer, Reply, scripted

MODELS = ("klingai/kling-v2.6-motion-control", "klingai/kling-v3.0-motion-control")
HEADERS = {"ai-gateway-protocol-version": "0.0.1", "ai-video-model-specification-version": "4",
           "accept": "text/event-stream"}  # fmt: skip
KLING_FIELDS = {"videoUrl", "characterOrientation", "mode", "keepOriginalSound", "watermarkEnabled", "elementList"}


def error_body(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind}}


def _image_problem(image: Any) -> str | None:
    if not isinstance(image, dict):
        return "image is required"
    if image.get("type") == "url":
        return None if str(image.get("url", "")).startswith(("https://", "http://")) else "image.url must be a URL"
    if image.get("type") != "file" or set(image) != {"type", "mediaType", "data"}:
        return "image must be {type: file, mediaType, data} or {type: url, url}"
    if image["mediaType"] not in ("image/jpeg", "image/png"):
        return "image.mediaType must be image/jpeg or image/png"
    try:
        head = base64.b64decode(image["data"], validate=True)[:4]
    except (binascii.Error, ValueError):
        return "image.data must be base64 (no data: prefix)"
    real = "image/png" if head.startswith(b"\x89PNG") else "image/jpeg" if head.startswith(b"\xff\xd8") else "?"
    return None if real == image["mediaType"] else f"image.mediaType says {image['mediaType']}, the bytes are {real}"


def _kling_problem(model: str, options: Any) -> str | None:
    if not isinstance(options, dict):
        return "providerOptions.klingai is required"
    unknown = sorted(set(options) - KLING_FIELDS)
    if unknown:
        return f"unknown providerOptions.klingai field {unknown[0]}"
    if not str(options.get("videoUrl", "")).startswith(("https://", "http://")):
        return "providerOptions.klingai.videoUrl must be a URL (the reference clip)"
    if options.get("characterOrientation") not in ("image", "video") or options.get("mode") not in ("std", "pro"):
        return "characterOrientation image|video and mode std|pro are required"
    if options.get("keepOriginalSound", "yes") not in ("yes", "no"):
        return "keepOriginalSound must be yes or no"
    if not isinstance(options.get("watermarkEnabled", False), bool):
        return "watermarkEnabled must be a boolean"
    if "elementList" in options:
        elements = options["elementList"]
        if model != MODELS[1]:
            return "elementList needs kling-v3.0"
        if not (isinstance(elements, list) and len(elements) == 1 and isinstance(elements[0].get("element_id"), int)):
            return "elementList must be one {element_id: int}"
        if options["characterOrientation"] != "video":
            return "elementList needs characterOrientation video"
    return None


class FakeVercel(FakeServer):
    name = "vercel"
    auth_error: ClassVar[Any] = error_body("Invalid API key", "authentication_error")
    statuses = ("generating", "result")

    def __init__(self, secrets: dict[str, str]) -> None:
        super().__init__(secrets)
        self.held = 0
        """Keep-alive comments sent before the event (a stream held while Kling works)."""
        self.hold_until: threading.Event | None = None
        """Set by a test: the stream stays open (keep-alives every 50 ms) until the event is set."""
        self.result_kind = "url"
        self.event_error: dict[str, Any] | None = None
        self.warnings: list[dict[str, Any]] = []
        self.streaming = threading.Event()
        """Set once a stream has begun (the request was taken)."""

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization") == f"Bearer {self.secrets['AI_GATEWAY_API_KEY']}"

    def route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> Reply:
        if method != "POST" or not path.endswith("/video-model"):
            return Reply(404, error_body("Not found", "not_found"))
        canned = scripted(self, "create")
        if canned:
            return canned
        wrong = next((f"header {k} must be {v}" for k, v in HEADERS.items() if headers.get(k) != v), None)
        if wrong:
            return Reply(400, error_body(wrong, "invalid_request_error"))
        model = headers.get("ai-model-id", "")
        if model not in MODELS:
            return Reply(404, {"error": {"message": f"Model {model} not found", "type": "model_not_found",
                                         "param": {"modelId": model}}})  # fmt: skip
        data = json.loads(body)
        problem = (
            next((f"unknown field {k}" for k in data if k not in ("prompt", "n", "image", "providerOptions")), None)
            or (data.get("n") != 1 and "n must be 1")
            or (len(str(data.get("prompt", ""))) > 2500 and "prompt too long")
            or _image_problem(data.get("image"))
            or _kling_problem(model, (data.get("providerOptions") or {}).get("klingai"))
        )
        if problem:
            return Reply(400, error_body(problem, "invalid_request_error"))
        task_id = self.new_task(data, model=model)
        return Reply(200, headers={"Content-Type": "text/event-stream"}, chunks=self._events(task_id))

    def _events(self, task_id: str) -> Any:
        self.streaming.set()
        for _ in range(self.held):
            yield b": keep-alive\n\n"
        while self.hold_until is not None and not self.hold_until.is_set():
            yield b": keep-alive\n\n"
            time.sleep(0.05)
        if self.drop_create:  # the stream ends without its event
            return
        if self.event_error is not None:
            event: dict[str, Any] = {"type": "error", "param": None, **self.event_error}
        else:
            video: dict[str, Any] = {"type": "url", "url": self.result_url(task_id), "mediaType": "video/mp4"}
            if self.result_kind == "base64":
                video = {"type": "base64", "data": base64.b64encode(RESULT).decode(), "mediaType": "video/mp4"}
            event = {"type": "result", "videos": [video], "warnings": self.warnings,
                     "providerMetadata": {"klingai": {"videos": [{"duration": "3.5"}]}}}  # fmt: skip
        text = json.dumps(event)
        # The data split over two data: lines at a key (where a newline is JSON whitespace): a client must
        # join them, as the SSE rules say.
        half = text.index(', "') + 1
        yield f"event: message\ndata: {text[:half]}\n".encode()
        yield f"data: {text[half:]}\n\n".encode()
