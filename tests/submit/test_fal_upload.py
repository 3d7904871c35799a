"""fal storage uploads: a file over the multipart threshold goes up in signed parts, then completes."""

from __future__ import annotations

import pytest

from preflight.cli import main
from preflight.submit.fal import MULTIPART_THRESHOLD, PART_SIZE, FalProvider
from preflight.submit.ledger import Ledger

THRESHOLD = 100_000  # the fixture clip is about 150 kB, its image about 12 kB
PART = 40_000


@pytest.fixture
def small_parts(monkeypatch):
    monkeypatch.setattr(FalProvider, "multipart_threshold", THRESHOLD)
    monkeypatch.setattr(FalProvider, "part_size", PART)


def _submit(server, media, *extra):
    image, clip = media
    args = ["submit", "--image", str(image), "--video", str(clip), "--provider", "fal"]
    return main([*args, "--base-url", server.url, "--yes", *extra])


def test_defaults_are_fal_clients_numbers():
    assert MULTIPART_THRESHOLD == 90 * 1024 * 1024 and PART_SIZE == 10 * 1024 * 1024


def test_a_clip_over_the_threshold_goes_up_in_parts(fake, media, tmp_path, small_parts):
    image, clip = media
    assert clip.stat().st_size > THRESHOLD > image.stat().st_size
    server = fake("fal")
    server.failing_parts = 1  # one storage hiccup: that part is sent again
    out = tmp_path / "result.mp4"
    assert _submit(server, media, "--wait", "-o", str(out)) == 0
    assert out.exists()
    ((token, parts),) = server.completed.items()
    expected = -(-clip.stat().st_size // PART)
    assert [p["partNumber"] for p in parts] == list(range(1, expected + 1))
    assert server.files[token] == clip.read_bytes()  # reassembled byte for byte
    # The image stayed a single PUT; the create got the multipart file's URL for the clip.
    (task,) = server.tasks.values()
    assert task["body"]["video_url"] == f"{server.url}/files/{token}"
    assert server.files[task["body"]["image_url"].rsplit("/", 1)[-1]] == image.read_bytes()
    uploads = [(m, p, h) for m, p, h in server.requests if p.startswith("/upload/")]
    assert sum(1 for m, p, _ in uploads if m == "PUT" and p.rsplit("/", 1)[-1].isdigit()) == expected + 1
    assert [p for m, p, _ in uploads if m == "POST"] == [f"/upload/{token}/complete"]
    assert all("authorization" not in h for _, _, h in uploads)  # pre-signed: the fal key stays home
    inits = [p for m, p, _ in server.requests if p.startswith("/storage/")]
    assert sorted(inits) == ["/storage/upload/initiate", "/storage/upload/initiate-multipart"]
    assert Ledger().jobs()[0].status == "succeeded"


def test_dry_run_shows_the_multipart_requests(fake, media, capsys, small_parts):
    server = fake("fal")
    assert _submit(server, media, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "/storage/upload/initiate-multipart?storage_type=fal-cdn-v3" in out
    assert "PUT https://upload-url.from-initiate.invalid/1" in out
    assert "POST https://upload-url.from-initiate.invalid/complete" in out
    # Placeholder PUTs say what their body would be, not a misleading empty one.
    image, clip = media
    assert f"<the {image.stat().st_size} bytes of {image.name}>" in out
    assert f"<bytes 0-{PART - 1} of {clip.name}; {-(-clip.stat().st_size // PART)} such PUTs in all>" in out
    assert "content-length: 0" not in out
    assert server.requests == []


def test_a_part_without_an_etag_is_an_error_not_a_broken_file(fake, media, small_parts, monkeypatch, capsys):
    from fake_providers import Reply

    server = fake("fal")
    original = server.public

    def no_etag(method, path, query, headers, body):
        reply = original(method, path, query, headers, body)
        if reply is not None and method == "PUT" and path.endswith("/1"):
            return Reply(200, {})
        return reply

    monkeypatch.setattr(server, "public", no_etag)
    assert _submit(server, media) == 1
    err = capsys.readouterr().err
    assert "submit.bad_response" in err and "part 1" in err and "etag" in err
    assert server.completed == {} and server.creates == 0
