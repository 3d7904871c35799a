"""prepare: check + fix both files + pair checks + a manifest that submit trusts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from preflight.bundle import read_bundle
from preflight.cli import main
from preflight.media.probe import probe
from preflight.prepare import prepare
from preflight.samples import make_clip, make_image, photo_frames, sample_photo


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_prepare_fixes_both_and_writes_a_verified_manifest(tmp_path: Path) -> None:
    image = make_image(tmp_path / "me.webp", width=300, height=360, format="WEBP")
    clip = make_clip(tmp_path / "take.mov", duration=12, width=480, height=360, container="mov", audio=True)
    before = sha(image), sha(clip)
    result = prepare(image, clip, tmp_path / "job", orientation="image", content=False)
    assert result.ok
    bundle = read_bundle(tmp_path / "job")  # re-hashes both files
    assert (bundle.profile, bundle.orientation) == ("kling-v2.6", "image")
    img, vid = probe(bundle.image_path), probe(bundle.video_path)
    assert img.format == "jpeg" and min(img.width, img.height) >= 340
    assert vid.format == "mp4" and vid.duration is not None and vid.duration <= 10.0
    assert any(a.startswith("trim 0.000-10.000") for a in bundle.settings["actions"]["video"])
    assert (sha(image), sha(clip)) == before


def test_unfixable_clip_writes_no_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = make_image(tmp_path / "me.jpg", width=400, height=500)
    clip = make_clip(tmp_path / "short.mp4", duration=2, width=480, height=360)
    code = main(["prepare", "--image", str(image), "--video", str(clip), "-o", str(tmp_path / "job"), "--no-content"])
    out = capsys.readouterr().out
    assert code == 1
    assert "CANNOT FIX" in out and "duration.too_short" in out
    assert not (tmp_path / "job" / "manifest.json").exists()


def test_roles_come_from_content(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_clip(tmp_path / "photo.jpg", duration=3, width=480, height=360, container="mp4")
    image = make_image(tmp_path / "me.jpg", width=400, height=500)
    code = main(["prepare", "--image", str(clip), "--video", str(image), "-o", str(tmp_path / "job")])
    err = capsys.readouterr().err
    assert code == 2 and "--image" in err and "is a video, not an image" in err


def test_prepare_json_then_submit_dry_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = make_image(tmp_path / "me.png", width=400, height=500, format="PNG")
    clip = make_clip(tmp_path / "dance.mp4", duration=4, width=480, height=640)
    job = tmp_path / "job"
    code = main(["prepare", "--image", str(image), "--video", str(clip), "-o", str(job), "--no-content", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["ok"] and data["manifest"] == str(job / "manifest.json")
    code = main(["submit", str(job), "--provider", "kling", "--dry-run", "--video-url", "https://cdn.example/d.mp4",
                 "--yes"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and '"video_url": "https://cdn.example/d.mp4"' in out


@pytest.mark.model
def test_pair_findings_on_the_fixed_pair(tmp_path: Path) -> None:
    photo = sample_photo()
    image = make_image(tmp_path / "me.jpg", pixels=photo)
    canvas = np.full((1280, 720, 3), 90, np.uint8)
    canvas[500:756, 232:488] = photo[::2, ::2]
    far = make_clip(tmp_path / "far.mp4", duration=3, width=720, height=1280, frames=lambda i, w, h: canvas)
    result = prepare(image, far, tmp_path / "job")
    assert result.ok
    assert [f.code for f in result.pair] == ["framing.mismatch"]
    assert read_bundle(tmp_path / "job").settings["pair_findings"] == ["framing.mismatch"]
    near = make_clip(tmp_path / "near.mp4", duration=3, width=720, height=960, frames=photo_frames(photo, frames=75))
    assert prepare(image, near, tmp_path / "job2").pair == ()
