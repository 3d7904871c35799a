"""An input for each finding code of the README's table that no other test produced: fix.failed,
fix.output, fix.overshoot (internal: see its test), duration.unknown, fps.out_of_range, file.special
(given directly, to every command that reads a path, in a real process with a timeout)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from preflight.api import check, check_one, resolve_profile
from preflight.cli import main
from preflight.errors import FixError
from preflight.fix import fix, plan_fix
from preflight.media.probe import probe
from preflight.samples import make_clip, make_image

FPS = 10


@pytest.fixture(scope="module")
def raw_h264(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An H.264 elementary stream (what some cameras and screen recorders dump): no container, so no
    duration and no timestamps."""
    return make_clip(tmp_path_factory.mktemp("raw") / "take.h264", duration=4, width=352, height=352, fps=FPS,
                     container="h264")  # fmt: skip


def _codes(item) -> list[str]:  # type: ignore[no-untyped-def]
    return [f.code for f in item.findings]


def test_duration_unknown(raw_h264: Path) -> None:
    item = check_one(raw_h264, resolve_profile(None), content=False)
    assert "duration.unknown" in _codes(item) and item.media.duration is None
    finding = next(f for f in item.findings if f.code == "duration.unknown")
    assert finding.severity.value == "warning"


def test_fix_failed_on_a_stream_without_timestamps(raw_h264: Path, tmp_path: Path) -> None:
    """Its frames have no times to place them at: fix reports it instead of writing an empty MP4; a
    window (--start) needs a seek the raw stream cannot do."""
    plain, windowed = (fix([raw_h264], tmp_path / name, content=False, **opts).results[0]
                       for name, opts in (("a", {}), ("b", {"orientation": "image", "start": 1.0})))  # fmt: skip
    for result in (plain, windowed):
        assert result.output is None and result.reason.startswith("fix.failed: "), result.reason
    assert "nothing was encoded" in plain.reason
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_fix_output_when_the_output_folder_cannot_be_made(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """``-o`` names a folder below a file (a file as ``-o`` itself is a usage error of the CLI's)."""
    image = make_image(tmp_path / "me.jpg", width=400, height=500)
    clip = make_clip(tmp_path / "take.mp4", duration=3.5, width=352, height=352, fps=FPS)
    taken = tmp_path / "ready"
    taken.write_text("a file where a folder should be")
    assert main(["fix", "--no-content", "--json", str(image), str(clip), "-o", str(taken / "today")]) == 1
    items = json.loads(capsys.readouterr().out)["items"]
    assert [i["reason"].split(":")[0] for i in items] == ["fix.output", "fix.output"]
    assert "cannot create the output folder" in items[0]["reason"]


def test_fix_overshoot_is_internal_fix_re_encodes_instead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """A stream-copy trim that still runs past the cap after its re-cuts raises fix.overshoot, and fix
    answers it by re-encoding the window: the code reaches only the log (-v), never a result. No input
    was found whose copy overshoots (each re-cut takes off what the last one measured), so the
    container's length is faked here."""
    from preflight.fix import video

    clip = make_clip(tmp_path / "long.mp4", duration=12, width=352, height=352, fps=FPS, gop=FPS)
    profile = resolve_profile(None)
    before = check_one(clip, profile, "image", content=False)
    keyframes = video.keyframe_times(clip)
    plan = plan_fix(before.media, before.findings, profile, "image", keyframes=keyframes)
    assert plan.actions == ("trim 0.000-10.000 (stream copy)",)
    monkeypatch.setattr(video, "container_duration", lambda path: 10.5)
    with pytest.raises(FixError) as info:
        video.execute_clip(plan, clip, tmp_path / "direct.mp4")
    assert info.value.code == "fix.overshoot"
    with caplog.at_level(logging.INFO, logger="preflight"):
        result = fix([clip], tmp_path / "out", orientation="image", content=False).results[0]
    assert result.ok and any(a.startswith("re-encoded: ") for a in result.actions)
    assert "fix.overshoot" in caplog.text and result.reason is None


def test_fps_out_of_range_from_a_profile_that_sets_it(tmp_path: Path) -> None:
    profile = tmp_path / "studio.toml"
    profile.write_text('base = "kling-v2.6"\n[video]\nmin_fps = 24\nmax_fps = 30\n')
    slow = make_clip(tmp_path / "slow.mp4", duration=3.5, width=352, height=352, fps=10)
    fast = make_clip(tmp_path / "fast.mp4", duration=3.5, width=352, height=352, fps=60)
    report = check([slow, fast], profile=profile, content=False)
    for item, measured in zip(report.items, (10, 60), strict=True):
        found = next(f for f in item.findings if f.code == "fps.out_of_range")
        assert found.fixable and found.measured == measured and item.verdict == "fixable"
    fixed = fix([slow, fast], tmp_path / "out", profile=profile, content=False)
    assert [round(probe(r.output).video.fps) for r in fixed.results] == [24, 30]
    assert fixed.ok


# --- file.special -------------------------------------------------------------------------------


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "preflight", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this system")
    path = tmp_path / "x.mp4"
    os.mkfifo(path)
    return path


def test_a_fifo_given_directly_is_refused_unopened_by_every_command(fifo: Path, tmp_path: Path) -> None:
    """Each in its own process with a timeout: opening the FIFO for reading would wait forever."""
    image = make_image(tmp_path / "me.jpg", width=400, height=500)
    out = tmp_path / "out"
    for args, shown in (
        (["probe", str(fifo)], "stderr"),
        (["check", str(fifo)], "stdout"),
        (["fix", str(fifo), "-o", str(out)], "stdout"),
        (["prepare", "--image", str(image), "--video", str(fifo), "-o", str(out)], "stderr"),
        (["batch", "--no-content", "-q", "-j", "1", "--jsonl", str(fifo), "-o", str(out)], "stdout"),
    ):
        done = _run(*args)
        assert done.returncode == 1, (args, done.stderr)
        assert "file.special" in getattr(done, shown) and "named pipe (FIFO)" in getattr(done, shown), args
    assert not out.exists() or not [p for p in out.rglob("*") if p.is_file()]


def test_a_fifo_as_a_profile_a_state_file_or_a_manifest_is_refused(fifo: Path, tmp_path: Path) -> None:
    image = make_image(tmp_path / "me.jpg", width=400, height=500)
    toml = tmp_path / "studio.toml"
    os.mkfifo(toml)
    for option in ("--profile", "--model"):
        done = _run("check", "--no-content", option, str(toml), str(image))
        assert done.returncode == 2 and "preflight: file.special: " in done.stderr, (option, done.stderr)
    done = _run("batch", "--no-content", "-q", "-j", "1", "--state", str(fifo), str(image))
    assert done.returncode == 2 and "preflight: file.special: " in done.stderr, done.stderr
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    os.mkfifo(bundle / "manifest.json")
    done = _run("submit", str(bundle), "--provider", "kling", "--dry-run", "--yes")
    assert done.returncode == 1 and "preflight: file.special: " in done.stderr, done.stderr
