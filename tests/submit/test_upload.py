"""``submit --upload DEST``: a real S3 API on loopback (moto's server) through s3fs, a web folder with a
public base URL, the ledger's upload records, and each provider's own storage when no --upload is given."""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
import uuid
from functools import partial
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cli_args import submit_args

from preflight.cli import main
from preflight.submit.ledger import Ledger

pytest.importorskip("s3fs")


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint, monkeypatch):
    """A fresh bucket; its s3fs filesystem for the test to look inside."""
    import s3fs

    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_EC2_METADATA_DISABLED", "true")):  # fmt: skip
        monkeypatch.setenv(name, value)
    fs = s3fs.S3FileSystem(endpoint_url=s3_endpoint, skip_instance_cache=True)
    name = f"clips-{uuid.uuid4().hex[:12]}"
    fs.mkdir(name)
    return name, fs


def _s3(bucket, s3_endpoint) -> list[str]:
    return ["--upload", f"s3://{bucket[0]}/preflight", "--upload-option", f"endpoint_url={s3_endpoint}"]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_kling_clip_through_s3_signed_url_fetched_back(fake, media, bucket, s3_endpoint, tmp_path, monkeypatch):
    """Kling has no upload API: --upload puts the clip on S3 and sends a signed URL; the image stays inline."""
    import s3fs

    puts = []
    original = s3fs.S3FileSystem._put_file

    async def counted(self, *args, **kwargs):
        puts.append(args)
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(s3fs.S3FileSystem, "_put_file", counted)
    image, clip = media
    server = fake("kling")
    args = ["submit", "--image", str(image), "--video", str(clip), "--provider", "kling", "--base-url", server.url,
            "--yes", *_s3(bucket, s3_endpoint)]  # fmt: skip
    out = tmp_path / "result.mp4"
    assert main([*args, "-o", str(out)]) == 0 and out.exists()
    name, fs = bucket
    sha = _sha(clip.read_bytes())
    assert fs.ls(name) == [f"{name}/preflight"] and fs.ls(f"{name}/preflight") == [f"{name}/preflight/{sha}.mp4"]
    (task,) = server.tasks.values()
    url = task["body"]["video_url"]
    assert url.startswith(f"{s3_endpoint}/{name}/preflight/{sha}.mp4?") and "Signature=" in url
    expires = int(parse_qs(urlsplit(url).query)["Expires"][0])
    assert abs(expires - time.time() - 24 * 3600) < 120  # valid the provider's 24 h, no more
    fetched = httpx.get(url).content  # the provider's view: the signed URL alone, no credentials
    assert _sha(fetched) == sha
    assert not task["body"]["image_url"].startswith("http")  # inline base64: no URL made for the photo
    (job,) = Ledger().jobs()
    record = job.provider_data["uploads"]["video"]
    assert record == {"sha256": sha, "dest": f"s3://{name}/preflight", "path": f"s3://{name}/preflight/{sha}.mp4",
                      "url": url, "expires_at": record["expires_at"]}  # fmt: skip
    assert record["expires_at"] and len(puts) == 1
    # Submitted again (--again): the ledger's record says the clip is there: no second upload, a fresh URL.
    assert main([*args, "--again"]) == 0
    assert len(puts) == 1 and server.creates == 2
    # Deleted from the bucket meanwhile: put there again.
    fs.rm(f"{name}/preflight/{sha}.mp4")
    assert main([*args, "--again"]) == 0
    assert len(puts) == 2 and fs.exists(f"{name}/preflight/{sha}.mp4")


def test_fal_with_upload_sends_both_files_through_s3_not_fal_storage(fake, media, bucket, s3_endpoint):
    server = fake("fal")
    image, clip = media
    assert main(["submit", "--image", str(image), "--video", str(clip), "--provider", "fal", "--base-url", server.url,
                 "--yes", *_s3(bucket, s3_endpoint)]) == 0  # fmt: skip
    (task,) = server.tasks.values()
    for field, path in (("image_url", image), ("video_url", clip)):
        assert _sha(httpx.get(task["body"][field]).content) == _sha(path.read_bytes())
    assert not [p for _, p, _ in server.requests if p.startswith(("/storage/", "/upload/"))]


def test_web_folder_with_a_public_base_url(fake, media, tmp_path):
    """A folder the user's own web server serves: put there by content hash, sent as base URL + name."""
    www = tmp_path / "www"
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{web.server_address[1]}/www/clips"
        server = fake("vercel")
        image, clip = media
        args = ["submit", "--image", str(image), "--video", str(clip), "--provider", "vercel", "--base-url",
                server.url, "--yes", "--upload", f"file://{www}/clips", "--upload-base-url", base]  # fmt: skip
        assert main(args) == 0
        sha = _sha(clip.read_bytes())
        assert [p.name for p in (www / "clips").iterdir()] == [f"{sha}.mp4"]
        (task,) = server.tasks.values()
        url = task["body"]["providerOptions"]["klingai"]["videoUrl"]
        assert url == f"{base}/{sha}.mp4" and _sha(httpx.get(url).content) == sha
        assert Ledger().jobs()[0].provider_data["uploads"]["video"]["expires_at"] is None
    finally:
        web.shutdown()
        web.server_close()


def test_a_destination_that_cannot_give_a_url_is_refused_first(fake, media, tmp_path, capsys):
    server = fake("kling")
    image, clip = media
    code = main(["submit", "--image", str(image), "--video", str(clip), "--provider", "kling", "--base-url",
                 server.url, "--yes", "--upload", str(tmp_path / "www")])  # fmt: skip
    assert code == 2 and "preflight: submit.upload_no_url: " in capsys.readouterr().err
    assert server.requests == [] and not (tmp_path / "www").exists() and Ledger().jobs() == []


def test_a_store_that_refuses_is_upload_failed_nothing_created(fake, media, bucket, s3_endpoint, capsys):
    server = fake("kling")
    image, clip = media
    args = ["submit", "--image", str(image), "--video", str(clip), "--provider", "kling", "--base-url", server.url,
            "--yes", "--upload", "s3://no-such-bucket-here/x",
            "--upload-option", f"endpoint_url={s3_endpoint}"]  # fmt: skip
    assert main(args) == 1
    assert "preflight: submit.upload_failed: could not put motion.mp4 at s3://no-such-bucket-here/x/" in (
        capsys.readouterr().err
    )
    (job,) = Ledger().jobs()
    assert job.status == "failed" and job.message.startswith("not created: ") and server.creates == 0


def test_dry_run_says_where_it_would_upload_and_uploads_nothing(fake, media, bucket, s3_endpoint, capsys):
    server = fake("kling")
    image, clip = media
    assert main(["submit", "--image", str(image), "--video", str(clip), "--provider", "kling", "--base-url",
                 server.url, "--yes", "--dry-run", *_s3(bucket, s3_endpoint)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    sha = _sha(clip.read_bytes())
    size = clip.stat().st_size
    assert f"upload motion.mp4 ({size} bytes, sha256 {sha[:16]}...) to s3://{bucket[0]}/preflight/" in out
    assert "sent as a signed URL valid 24 h" in out
    assert f'"video_url": "<signed URL of s3://{bucket[0]}/preflight/{sha}.mp4>"' in out
    assert bucket[1].ls(bucket[0]) == [] and server.requests == []


@pytest.mark.parametrize("name", ["fal", "kie", "replicate", "runway"])
def test_each_provider_with_its_own_storage_uses_it_without_upload(name, fake, media, monkeypatch):
    """No --upload: a local clip goes to the provider's own storage, and the create names it there."""
    from preflight.submit import runway

    monkeypatch.setattr(runway, "DATA_URI_LIMIT", {"image": 5_000_000, "video": 1_000})  # the clip is over it
    server = fake(name)
    _, clip = media
    model = ["--model", "runway-act-two"] if name == "runway" else []
    assert main([*submit_args(name, server, media), *model]) == 0
    (task,) = server.tasks.values()
    body = task["body"]
    sent = {"fal": lambda: body["video_url"], "kie": lambda: body["input"]["video_urls"][0],
            "replicate": lambda: body["input"]["video"],
            "runway": lambda: body["reference"]["uri"]}[name]()  # fmt: skip
    if name == "runway":
        assert sent.startswith("runway://uploads/")
        assert server.files[f"runway-{sent.rsplit('/', 1)[-1]}"] == clip.read_bytes()
        assert body["character"]["uri"].startswith("data:image/jpeg;base64,")  # small: still inline
    else:
        assert sent.startswith(server.url + "/files/")
        assert server.files[sent.rsplit("/", 1)[-1]] == clip.read_bytes()


def test_runway_dry_run_shows_its_own_upload_for_a_big_clip(fake, media, monkeypatch, capsys):
    from preflight.submit import runway

    monkeypatch.setattr(runway, "DATA_URI_LIMIT", {"image": 5_000_000, "video": 1_000})
    server = fake("runway")
    assert main([*submit_args("runway", server, media), "--model", "runway-act-two", "--dry-run"]) == 0
    out = capsys.readouterr().out
    _, clip = media
    assert f"POST {server.url}/v1/uploads" in out and f'"filename": "{_sha(clip.read_bytes())[:16]}-motion.mp4"' in out
    assert f"file = the {clip.stat().st_size} bytes of motion.mp4" in out
    assert '"uri": "<url of uploaded motion.mp4>"' in out and server.requests == []
