"""``serve --upload``: the server's setting takes a prepared clip to a provider with no upload API."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from preflight.cli import main


def test_serve_submit_puts_the_clip_at_the_servers_upload_destination(
    pool: Any, person_media: tuple[Path, Path], fake: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from starlette.testclient import TestClient

    from preflight.serve.app import create_app
    from preflight.serve.config import ServeConfig
    from preflight.submit.upload import UploadTarget

    keys = {"KLINGAI_ACCESS_KEY": "ak-TEST-access-7f3a9c2e1b",
            "KLINGAI_SECRET_KEY": "sk-TEST-secret-kling-5d8e2f7a9b1c4d6e"}
    for name, value in keys.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PREFLIGHT_LEDGER", str(tmp_path / "ledger.sqlite3"))
    server = fake("kling")
    server.secrets.update(keys)
    monkeypatch.setenv("PREFLIGHT_KLING_BASE_URL", server.url)
    www = tmp_path / "www"
    upload = UploadTarget(f"file://{www}", "https://media.example/clips")
    with TestClient(create_app(ServeConfig(upload=upload), executor=pool), base_url="http://127.0.0.1:8765") as client:
        image, clip = person_media
        files = {"image": (image.name, image.read_bytes(), "image/jpeg"), "video": (clip.name, clip.read_bytes(),
                                                                                   "video/mp4")}  # fmt: skip
        prepared = client.post("/v1/prepare?provider=kling&orientation=image&content=false", files=files)
        assert prepared.json()["state"] == "done", prepared.text[:800]
        bundle = prepared.json()["id"]
        dry = client.post("/v1/submit", json={"bundle": bundle, "provider": "kling", "dry_run": True}).json()
        assert "to file://" in dry["requests"] and "https://media.example/clips/" in dry["requests"]
        assert not www.exists()  # a dry run puts nothing anywhere
        real = client.post("/v1/submit", json={"bundle": bundle, "provider": "kling", "confirm": True}).json()
        assert real["state"] == "done", str(real)[:800]
    (stored,) = www.iterdir()
    sha = hashlib.sha256(stored.read_bytes()).hexdigest()
    assert stored.name == f"{sha}.mp4"
    (task,) = server.tasks.values()
    assert task["body"]["video_url"] == f"https://media.example/clips/{sha}.mp4"
    assert real["result"]["ledger_job"]["provider_data"]["uploads"]["video"]["sha256"] == sha


def test_serve_refuses_an_upload_destination_without_urls_before_it_binds(tmp_path: Path, capsys: Any) -> None:
    assert main(["serve", "--port", "0", "--upload", str(tmp_path / "www")]) == 2
    assert "preflight: submit.upload_no_url: " in capsys.readouterr().err
