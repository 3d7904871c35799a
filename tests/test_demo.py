"""The README's first command: `preflight demo` makes media, checks, fixes and bundles it."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight.bundle import read_bundle
from preflight.cli import main
from preflight.media.probe import probe


@pytest.mark.slow
def test_demo_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "-o", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "4 file(s): 1 pass, 2 fixable, 1 fail" in out
    assert "file.truncated" in out and "3 of 4 inputs ready" in out
    take = probe(tmp_path / "ready" / "phone_long_take.mp4")
    assert take.duration is not None and take.duration <= 30.0
    assert take.video is not None and take.video.rotation == 0 and (take.width, take.height) == (480, 640)
    bundle = read_bundle(tmp_path / "job")
    assert bundle.image_path.exists() and bundle.video_path.exists()
    assert not (tmp_path / "ready" / "upload_cut_off.mp4").exists()
