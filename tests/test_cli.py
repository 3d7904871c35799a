"""The CLI contract: exit codes, one-line errors without tracebacks, report formats."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from preflight.cli import main
from preflight.samples import make_clip, make_image


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_passing_files_exit_0(capsys, media_dir: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, "check", "--no-content", str(media_dir / "ok.mp4"), str(media_dir / "ok.jpg"))
    assert code == 0
    assert "2 file(s): 2 pass, 0 fixable, 0 fail" in out


def test_check_json_schema(capsys, media_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    long_clip = make_clip(tmp_path / "long.mov", duration=12, width=480, height=360, container="mov")
    code, out, _ = run(capsys, "check", "--json", "--no-content", "--orientation", "image", str(long_clip),
                       str(media_dir / "ok.jpg"))  # fmt: skip
    assert code == 1
    data = json.loads(out)
    assert data["schema"] == "preflight.report/1"
    assert (data["profile"], data["orientation"]) == ("kling-v2.6", "image")
    assert data["summary"] == {"pass": 1, "fixable": 1, "fail": 0, "pose_not_checked": 0}
    assert data["skipped"] == {"total": 0, "by_reason": {}, "entries": []}
    clip_item = data["items"][0]
    assert (clip_item["role"], clip_item["verdict"]) == ("video", "fixable")
    assert clip_item["media"]["format"] == "mov" and clip_item["media"]["video"]["codec"] == "h264"
    (finding,) = clip_item["findings"]
    assert finding == {
        "code": "duration.too_long", "severity": "error", "fixable": True, "measured": 12.0, "limit": 10.0,
        "message": "clip is 12.00 s; kling-v2.6 accepts 3-10 s with orientation=image: "
                   "fix trims it (choose the window with --start/--end)",
    }  # fmt: skip


def test_check_junit_and_report_file(capsys, media_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    report = tmp_path / "out" / "gate.xml"
    code, out, _ = run(capsys, "check", "--no-content", "--format", "junit", "--report", str(report),
                       str(media_dir / "ok.mp4"), str(media_dir / "short.mp4"))  # fmt: skip
    assert code == 1
    for xml in (out, report.read_text()):
        suite = ET.fromstring(xml.split("\n", 1)[1])
        assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
        cases = suite.findall("testcase")
        assert cases[0].find("failure") is None
        assert cases[1].find("failure").get("type") == "duration.too_short"  # type: ignore[union-attr]
    assert not list(report.parent.glob("*.tmp"))


def test_report_format_from_extension(capsys, media_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run(capsys, "check", "--no-content", "--report", str(tmp_path / "r.json"), str(media_dir / "ok.mp4"))
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["pass"] == 1


def test_bad_inputs_are_reported_not_raised(capsys, tmp_path: Path, media_dir: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "notes.mp4").write_text("not a video\n" * 30)
    (tmp_path / "empty.jpg").write_bytes(b"")
    code, out, err = run(capsys, "check", "--no-content", str(tmp_path / "missing.mov"), str(tmp_path / "notes.mp4"),
                         str(tmp_path / "empty.jpg"), str(media_dir / "ok.mp4"))  # fmt: skip
    assert code == 1
    assert "Traceback" not in out + err
    for expected in ("file.not_found", "format.unrecognized", "file.empty"):
        assert expected in out
    assert "4 file(s): 1 pass, 0 fixable, 3 fail" in out


def test_folder_is_searched_by_content(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "in box"
    (folder / "sub").mkdir(parents=True)
    make_clip(folder / "sub" / "a clip.bin", duration=3, width=360, height=360, container="mp4")
    make_image(folder / "photo", width=400, height=400, format="PNG")
    (folder / "readme.txt").write_text("notes")
    (folder / ".hidden.mp4").write_bytes(b"x")
    code, out, _ = run(capsys, "check", "--no-content", "--json", str(folder))
    data = json.loads(out)
    roles = {Path(i["path"]).name: (i["role"], i["verdict"]) for i in data["items"]}
    assert roles == {"a clip.bin": ("video", "pass"), "photo": ("image", "pass"), "readme.txt": ("unknown", "fail")}
    assert data["skipped"]["by_reason"] == {"hidden": 1}
    assert code == 1  # the text file is reported, not dropped


def test_unicode_paths(capsys, media_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "vidéo d'été ✓.mp4"
    shutil.copy(media_dir / "ok.mp4", target)
    code, out, _ = run(capsys, "check", "--no-content", str(target))
    assert code == 0 and "vidéo d'été ✓.mp4" in out


def test_unknown_profile_is_usage_error(capsys, media_dir: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, "check", "--profile", "klingg", str(media_dir / "ok.mp4"))
    assert code == 2
    assert err.strip().splitlines() == [
        "preflight: profile.unknown: unknown profile 'klingg' (did you mean kling-v3?); known profiles: fal, kie, "
            "kling-v2.6, novita, replicate, or MODEL@PROVIDER (preflight profiles list)"
    ]


def test_bad_option_is_usage_error(capsys, media_dir: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, "check", "--orientation", "sideways", str(media_dir / "ok.mp4"))
    assert code == 2 and "sideways" in err and "Traceback" not in err


def test_internal_error_exit_3_without_traceback(capsys, monkeypatch, media_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from preflight import api

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("unexpected")

    monkeypatch.setattr(api, "check", boom)
    code, _, err = run(capsys, "check", str(media_dir / "ok.mp4"))
    assert code == 3
    assert err.startswith("preflight: internal.error: RuntimeError: unexpected") and "Traceback" not in err
    monkeypatch.setenv("PREFLIGHT_DEBUG", "1")
    with pytest.raises(RuntimeError):
        main(["check", str(media_dir / "ok.mp4")])


def test_strict_makes_warnings_fail(capsys, media_dir: Path) -> None:  # type: ignore[no-untyped-def]
    rotated = str(media_dir / "rotated.mov")
    assert run(capsys, "check", "--no-content", rotated)[0] == 0
    code, out, _ = run(capsys, "check", "--no-content", "--strict", rotated)
    assert code == 1 and "FIXABLE" in out


def test_probe_command(capsys, media_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, "probe", "--json", str(media_dir / "rotated.mov"))
    assert code == 0
    (info,) = json.loads(out)
    assert (info["width"], info["height"], info["video"]["rotation"]) == (360, 640, 90)
    code, out, err = run(capsys, "probe", str(tmp_path / "nope.mp4"))
    assert code == 1 and "file.not_found" in err


def test_profiles_commands(capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, "profiles", "list")
    # The matrix: the default pair is starred, each model with each provider that serves it.
    assert code == 0 and re.search(r"^\*\s+kling-v2\.6\s+kling\s+kling-v2\.6\s", out, re.M) and "novita" in out
    code, out, _ = run(capsys, "profiles", "show", "novita", "--json")
    assert json.loads(out)["video"]["max_bytes"] == 10_000_000


def test_probe_does_not_import_heavy_modules() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from preflight.cli import main; main(['probe', '--help']);"
        "heavy = [m for m in ('cv2', 'mediapipe', 'httpx', 'numpy', 'rich') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


@pytest.mark.model
def test_contact_sheet_option(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    from preflight.samples import photo_frames, sample_photo

    clip = make_clip(tmp_path / "person.mp4", duration=3, width=480, height=640,
                     frames=photo_frames(sample_photo(), frames=75))  # fmt: skip
    sheet = tmp_path / "sheet.png"
    code, out, _ = run(capsys, "check", "--contact-sheet", str(sheet), str(clip))
    assert code == 0 and "PASS" in out
    with Image.open(sheet) as im:
        assert im.format == "PNG" and im.width >= 480
    code, _, err = run(capsys, "check", "--no-content", "--contact-sheet", str(sheet), str(clip))
    assert code == 2 and "--contact-sheet" in err


def test_html_report_goes_to_the_file_and_is_shareable(capsys, media_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import os
    import stat

    page = tmp_path / "r.html"
    code, out, _ = run(capsys, "check", "--no-content", "--format", "html", "--report", str(page),
                       str(media_dir / "ok.mp4"))  # fmt: skip
    assert code == 0
    assert "1 file(s): 1 pass" in out and "<html" not in out
    assert page.read_text().lstrip().lower().startswith("<!doctype html")
    mode = stat.S_IMODE(page.stat().st_mode)
    assert mode == 0o666 & ~_umask() and mode & stat.S_IROTH
    assert os.access(page, os.R_OK)


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_analysis_crash_on_one_file_fails_that_file_only(capsys, monkeypatch, media_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from preflight import analyze

    real = analyze.analyze_clip

    def flaky(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(path).endswith("rotated.mov"):
            raise RuntimeError("graph failed\nin calculator")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(analyze, "analyze_clip", flaky)
    code, out, err = run(capsys, "check", str(media_dir / "rotated.mov"), str(media_dir / "ok.jpg"))
    assert code == 1 and "Traceback" not in out + err
    assert "analysis.error: content analysis failed (RuntimeError: graph failed in calculator)" in out
    assert "pose.no_person" in out  # the next file was still analysed (a pattern, no person)
    assert "2 file(s)" in out


def test_the_command_line_runs_numpy_on_one_blas_thread(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """OpenBLAS's threads spin before they sleep: 0.1 s of CPU per process for 3x3 matrices. The command
    sets one thread before NumPy loads; a user's own choice, or a NumPy already loaded, is left alone."""
    import subprocess
    import sys

    from preflight.cli import _single_threaded_blas

    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "restored afterwards")
    monkeypatch.delenv("OPENBLAS_NUM_THREADS")
    monkeypatch.delitem(sys.modules, "numpy")
    _single_threaded_blas()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    _single_threaded_blas()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "4"
    # The real entry point, in a fresh process: NumPy is not loaded before run() sets it.
    code = (
        "import os, sys; sys.argv = ['preflight', 'profiles', 'list']; import preflight.cli as c; "
        "assert 'numpy' not in sys.modules; c._single_threaded_blas(); print(os.environ['OPENBLAS_NUM_THREADS'])"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


def test_check_does_not_load_the_fix_machinery(tmp_path) -> None:
    """Every command reads fix's option constants (the CLI's options are shared); only ``fix`` and
    ``prepare`` load its runner, so a check's start does not pay for it (36 ms a process)."""
    import subprocess
    import sys

    from preflight.samples import make_image

    photo = make_image(tmp_path / "photo.jpg")
    code = (
        "import sys; from preflight.cli import run; sys.argv = ['preflight', 'check', sys.argv[1], '--no-content']\n"
        "try:\n    run()\nexcept SystemExit:\n    pass\n"
        "import preflight.fix as fix\n"
        "print('runner' if 'preflight.fix.runner' in sys.modules else 'no runner', fix.fix.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(photo)], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "no runner preflight.fix.runner"
