"""Bad uploads: each answered with its finding code, and nothing of it left on disk.

These drive the ASGI app by hand (``serve_helpers.call_asgi``) so the body really arrives in pieces:
the over-the-limit upload is refused while it streams (the app stops reading), and the aborted one is a
client that goes away mid-body. No job runs, so no pool is started.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from serve_helpers import call_asgi, multipart, server_of

from preflight.serve.app import create_app
from preflight.serve.config import ServeConfig, upload_cap


class NoPool:
    def warm(self, settings: Any) -> None:
        pass

    def submit(self, fn: Any, *args: Any) -> Any:  # pragma: no cover - a bad upload never gets here
        raise AssertionError("no job should start")


@pytest.fixture
def app() -> Any:
    application = create_app(ServeConfig(), executor=NoPool())
    yield application
    server_of(application).store.close()


def left_on_disk(app: Any) -> list[Path]:
    return list(server_of(app).store.root.rglob("*"))


def test_empty_upload_is_upload_empty(app: Any) -> None:
    body, headers = multipart([("image", "me.jpg", b"")])
    sent = call_asgi(app, "/v1/check", [body], headers)
    assert sent.status == 400 and sent.json()["error"]["code"] == "upload.empty"
    assert left_on_disk(app) == []


def test_wrong_types_are_told_by_content_not_name(app: Any, person_media: tuple[Path, Path]) -> None:
    image, clip = person_media
    cases = [
        ("video", "dance.mp4", b"just some text, not a clip\n" * 8, 415, "format.unrecognized"),
        ("video", "song.mp4", b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64), 415, "video.missing_stream"),
        ("video", "clip.mp4", image.read_bytes(), 415, "usage.invalid"),  # a photo sent as the clip
        ("image", "photo.jpg", clip.read_bytes()[:5000], 415, "usage.invalid"),
        ("audio", "x.jpg", image.read_bytes(), 400, "upload.invalid"),  # no such file field
    ]
    for field, name, data, status, code in cases:
        body, headers = multipart([(field, name, data)])
        sent = call_asgi(app, "/v1/check", [body], headers)
        assert (sent.status, sent.json()["error"]["code"]) == (status, code), (field, name, sent.body)
        assert left_on_disk(app) == []


def test_over_the_limit_is_refused_mid_stream(app: Any, person_media: tuple[Path, Path]) -> None:
    from preflight.api import resolve_profile

    cap = upload_cap(resolve_profile("novita"), "video")  # not Novita's 10 MB x 2: twice the largest clip cap
    assert cap == upload_cap(resolve_profile("kling-v2.6"), "video") == 200_000_000
    assert upload_cap(resolve_profile("novita"), "image") == 32_000_000  # Runway's 16 MB photos x 2
    image, _ = person_media  # a photo's cap is the smaller one to pass: the test writes less
    head, headers = multipart([("image", "huge.jpg", image.read_bytes()[:4096])])
    head = head[: head.index(b"\r\n--pfboundary--")]
    chunk = bytes(2_000_000)
    chunks = [head] + [chunk] * 40  # 80 MB would follow; the cap is reached after about 16 chunks
    sent = call_asgi(app, "/v1/check?profile=novita", chunks, headers)
    assert sent.status == 413 and sent.json()["error"]["code"] == "upload.too_large"
    assert sent.chunks_read < 21  # the rest was never read
    assert left_on_disk(app) == []


def test_aborted_upload_leaves_nothing(app: Any, person_media: tuple[Path, Path]) -> None:
    _, clip = person_media
    body, headers = multipart([("video", "dance.mp4", clip.read_bytes())])
    chunks = [body[i : i + 16384] for i in range(0, len(body), 16384)]
    sent = call_asgi(app, "/v1/check", chunks, headers, disconnect_after=3)
    assert sent.status == 400 and sent.json()["error"]["code"] == "upload.aborted"
    assert left_on_disk(app) == []
    # A body that ends before its closing boundary (a proxy cut it) is an aborted upload too.
    sent = call_asgi(app, "/v1/check", [body[: len(body) // 2]], headers)
    assert sent.json()["error"]["code"] == "upload.aborted"
    assert left_on_disk(app) == []


def test_not_multipart_and_repeated_fields(app: Any, person_media: tuple[Path, Path]) -> None:
    image, _ = person_media
    sent = call_asgi(app, "/v1/check", [b'{"image": "me.jpg"}'], {"content-type": "application/json"})
    assert (sent.status, sent.json()["error"]["code"]) == (415, "upload.invalid")
    body, headers = multipart([("image", "a.jpg", image.read_bytes()), ("image", "b.jpg", image.read_bytes())])
    sent = call_asgi(app, "/v1/check", [body], headers)
    assert sent.json()["error"]["code"] == "upload.invalid" and "more than one" in sent.json()["error"]["message"]
    body, headers = multipart([("start", None, b"4.5")])  # fields but no file
    assert call_asgi(app, "/v1/fix", [body], headers).json()["error"]["code"] == "upload.invalid"
    assert left_on_disk(app) == []


def test_bad_parameters_after_the_upload_leave_nothing(app: Any, person_media: tuple[Path, Path]) -> None:
    image, clip = person_media
    body, headers = multipart([("video", "dance.mp4", clip.read_bytes()), ("start", None, b"-1")])
    sent = call_asgi(app, "/v1/fix", [body], headers)
    assert (sent.status, sent.json()["error"]["code"]) == (400, "usage.invalid")
    body, headers = multipart([("image", "me.jpg", image.read_bytes())])
    sent = call_asgi(app, "/v1/check?profile=/etc/passwd", [body], headers)  # a request never names a file
    assert (sent.status, sent.json()["error"]["code"]) == (400, "profile.unknown")
    sent = call_asgi(app, "/v1/prepare", [body], headers)  # prepare needs both
    assert sent.json()["error"]["code"] == "upload.invalid"
    assert left_on_disk(app) == []


def test_uploads_get_server_names_in_a_private_folder(app: Any, person_media: tuple[Path, Path]) -> None:
    import asyncio

    from starlette.requests import Request

    from preflight.serve.uploads import receive_form

    image, _ = person_media
    body, headers = multipart([("image", "../../etc/evil name\x01.jpg", image.read_bytes()), ("prompt", None, b"hi")])
    root = server_of(app).store.root
    assert root.stat().st_mode & 0o777 == 0o700
    job = server_of(app).store.new("check")
    scope = {"type": "http", "method": "POST", "headers": [(k.encode(), v.encode()) for k, v in headers.items()]}
    chunks = iter([body])

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": next(chunks, b""), "more_body": False}

    files, fields = asyncio.run(receive_form(Request(scope, receive), job.folder, {"image": 10**8, "video": 10**8}))
    upload = files["image"]
    assert upload.path == job.folder / "image.jpg" and upload.label == "evil name_.jpg"
    assert upload.path.stat().st_mode & 0o777 == 0o600 and fields == {"prompt": "hi"}
    server_of(app).store.discard(job)
