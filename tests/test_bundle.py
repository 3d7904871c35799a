"""The bundle manifest prepare writes and submit reads."""

from __future__ import annotations

import json

import pytest

from preflight.bundle import SCHEMA, read_bundle, sha256_file, write_bundle
from preflight.errors import PreflightError, UsageError


@pytest.fixture
def pair(tmp_path):
    image = tmp_path / "in" / "me.jpg"
    video = tmp_path / "in" / "dance.mp4"
    image.parent.mkdir()
    image.write_bytes(b"\xff\xd8 not really a jpeg" * 10)
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" * 100)
    return image, video


def test_round_trip_copies_files_in_and_records_hashes(pair, tmp_path):
    out = tmp_path / "job1"
    written = write_bundle(out, *pair, profile="kling-v2.6", orientation="image")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["schema"] == SCHEMA
    assert manifest["image"] == {"name": "me.jpg", "sha256": sha256_file(pair[0]), "size": pair[0].stat().st_size}
    assert manifest["video"]["name"] == "dance.mp4" and (out / "dance.mp4").read_bytes() == pair[1].read_bytes()
    read = read_bundle(out)
    assert read == written
    assert read.image_path == out / "me.jpg" and read.orientation == "image" and read.profile == "kling-v2.6"


def test_a_file_changed_after_prepare_is_caught(pair, tmp_path):
    out = tmp_path / "job"
    write_bundle(out, *pair, profile="fal")
    (out / "dance.mp4").write_bytes(b"edited")
    with pytest.raises(PreflightError) as info:
        read_bundle(out)
    assert info.value.code == "bundle.modified"
    assert read_bundle(out, verify=False).video.name == "dance.mp4"


def test_missing_manifest_and_escaping_names(pair, tmp_path):
    with pytest.raises(UsageError) as info:
        read_bundle(tmp_path)
    assert info.value.code == "bundle.invalid"
    out = tmp_path / "job"
    write_bundle(out, *pair, profile="fal")
    data = json.loads((out / "manifest.json").read_text())
    data["video"]["name"] = "../in/dance.mp4"
    (out / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(PreflightError, match="leaves the bundle"):
        read_bundle(out)
