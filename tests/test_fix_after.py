"""``after`` tells the truth: the content gates look at the output whenever fix changed its frames.

The content analysis is replaced by a recorder here (which file it was asked about, and a verdict the
test chooses), so these tests need no pose model and say exactly which file was judged.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight import api
from preflight.cli import main
from preflight.fix import fix
from preflight.models import Finding, Severity
from preflight.samples import make_clip, make_image


@pytest.fixture
def analysed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths the content analysis ran on; a file named ``*bad*`` in an output folder has no person."""
    seen: list[str] = []

    def fake(info, profile, contact_sheet, every_frame=False, every_sample=None):  # type: ignore[no-untyped-def]
        seen.append(info.path)
        findings = []
        if Path(info.path).parent.name in ("out", "out2") and "bad" in Path(info.path).name:
            findings.append(Finding("pose.no_person", Severity.ERROR, "no person in the fixed file"))
        return {"pose": {"judged": info.path}}, findings

    monkeypatch.setattr(api, "_analyze", fake)
    return seen


def test_a_transcode_is_checked_again(tmp_path: Path, analysed: list[str]) -> None:
    clip = make_clip(tmp_path / "old.mp4", duration=3, width=480, height=360, fps=10, codec="mpeg4")
    (result,) = fix([clip], tmp_path / "out").results
    assert result.actions == ("transcode h264",)
    assert result.after is not None and result.output is not None
    assert result.after.analysis["pose"]["judged"] == result.output
    assert analysed == [str(clip), result.output]


def test_a_remux_keeps_the_frames_and_the_findings(tmp_path: Path, analysed: list[str]) -> None:
    clip = make_clip(tmp_path / "take.mkv", duration=3, width=480, height=360, fps=10, container="matroska")
    (result,) = fix([clip], tmp_path / "out").results
    assert result.actions == ("remux",)
    assert result.after is not None and result.after.analysis["pose"]["judged"] == str(clip)
    assert analysed == [str(clip)]


def test_a_converted_image_is_checked_again(tmp_path: Path, analysed: list[str]) -> None:
    photo = make_image(tmp_path / "photo.webp", width=400, height=500, format="WEBP")
    (result,) = fix([photo], tmp_path / "out").results
    assert result.output is not None and result.output.endswith(".jpg")
    assert analysed == [str(photo), result.output]


def test_an_output_failing_its_recheck_fails_fix(tmp_path: Path, analysed: list[str], capsys) -> None:  # type: ignore[no-untyped-def]
    clip = make_clip(tmp_path / "bad.mp4", duration=3, width=480, height=360, fps=10, codec="mpeg4")
    report = fix([clip], tmp_path / "out")
    (result,) = report.results
    assert result.before.verdict == "fixable" and result.after is not None
    assert result.after.verdict == "fail" and not report.ok
    assert main(["fix", str(clip), "-o", str(tmp_path / "out2")]) == 1
    assert "pose.no_person" in capsys.readouterr().out


def test_fixing_a_folder_into_a_folder_inside_it_never_fixes_its_own_outputs(tmp_path: Path) -> None:
    folder = tmp_path / "takes"
    folder.mkdir()
    make_clip(folder / "old.mp4", duration=3, width=480, height=360, fps=10, codec="mpeg4")
    for run in range(2):  # the second run must not pick up ready/old.mp4 as an input
        report = fix([folder], folder / "ready", content=False)
        assert [Path(r.path).name for r in report.results] == ["old.mp4"]
        assert [s.reason for s in report.skipped] == ["output_folder"] * run
    assert sorted(p.name for p in (folder / "ready").iterdir()) == ["old-1.mp4", "old.mp4"]
