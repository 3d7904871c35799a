"""Every line that reaches the terminal is escaped as the reports escape names, and library warnings
stay off it (issue 19, part 7): batch's progress lines and the log lines carried a name holding ESC
and a newline raw; Pillow's UserWarning on a damaged EXIF block reached stderr."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from preflight.batch.progress import PlainProgress, RichProgress
from preflight.batch.work import FileResult
from preflight.models import Finding, Item, Severity
from preflight.samples import make_image

ODD = "a\x1b[31mred\nline"
"""A name holding ESC (the start of a colour sequence) and a newline."""
SPELT = "a\\x1b[31mred\\nline"
"""How the reports (and now every terminal line) show it."""


def run(*args: str, cwd: Path, debug: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PREFLIGHT_DEBUG"}
    if debug:
        env["PREFLIGHT_DEBUG"] = "1"
    return subprocess.run([sys.executable, "-m", "preflight", *args], capture_output=True, text=True,
                          errors="surrogateescape", cwd=cwd, env=env, timeout=180)  # fmt: skip


def assert_clean(stderr: str) -> None:
    """No raw control character but the line ends; no traceback; no warning."""
    assert "\x1b" not in stderr and "\r" not in stderr, stderr
    assert "Traceback" not in stderr and "Warning" not in stderr, stderr


@pytest.fixture
def odd_folder(tmp_path: Path) -> Path:
    """An animated GIF whose name holds ESC and a newline: fix logs a warning naming it."""
    folder = tmp_path / "in"
    folder.mkdir()
    make_image(folder / f"{ODD}.gif", width=400, height=500, format="GIF", frames=3)
    return folder


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_batch_progress_and_log_lines_spell_a_name_out(odd_folder: Path, tmp_path: Path, jobs: str) -> None:
    """-j 2: the log line comes from a pool worker, which had no handler (Python's last resort printed it raw)."""
    done = run("batch", str(odd_folder), "-o", str(tmp_path / "out"), "--no-content", "-j", jobs, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert_clean(done.stderr)
    lines = done.stderr.splitlines()
    assert f"preflight: WARNING: {odd_folder}/{SPELT}.gif: animated image (3 frames): only the first frame is kept" \
        in lines  # fmt: skip
    assert any(line.startswith("[1/1] pass ") and line.endswith(f"{odd_folder}/{SPELT}.gif") for line in lines)


def test_fix_log_line_spells_a_name_out(odd_folder: Path, tmp_path: Path) -> None:
    done = run("fix", str(odd_folder), "-o", str(tmp_path / "out"), "--no-content", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert_clean(done.stderr)
    assert done.stderr.splitlines() == [
        f"preflight: WARNING: {odd_folder}/{SPELT}.gif: animated image (3 frames): only the first frame is kept"
    ]


def test_probe_error_line_spells_a_name_out(tmp_path: Path) -> None:
    (tmp_path / ODD).write_text("not media")
    done = run("probe", ODD, cwd=tmp_path)
    assert done.returncode == 1
    assert_clean(done.stderr)
    assert done.stderr.startswith(f"{SPELT}: format.unrecognized: ")


def _result(path: str) -> FileResult:
    finding = Finding("decode.error", Severity.ERROR, "broken")
    return FileResult(path=path, item=Item(path=path, role="video", verdict="fail", findings=(finding,)),
                      digest=None, seconds=0.5)  # fmt: skip


def test_plain_progress_lines() -> None:
    out = io.StringIO()
    progress = PlainProgress(out)
    progress.start(1)
    progress.advance(_result(f"clips/{ODD}.mp4"))
    progress.note(f"stopping after {ODD}")
    assert out.getvalue() == (f"[1/1] fail       0.50 s  clips/{SPELT}.mp4  decode.error\n"
                              f"preflight: stopping after {SPELT}\n")  # fmt: skip


def test_the_terminal_bar_shows_the_name_spelt_out_and_never_as_markup() -> None:
    """The bar's current-file column read names as rich markup: ``[/x]`` raised MarkupError."""
    out = io.StringIO()
    progress = RichProgress(out)
    progress.start(2)
    progress.advance(_result(ODD))
    progress.advance(_result("x[/y]z.mp4"))
    progress.finish()
    assert "x[/y]z.mp4" in out.getvalue() and "\x1b" not in out.getvalue()


@pytest.fixture
def bad_exif(tmp_path: Path) -> Path:
    """A JPEG whose EXIF description points past the end of the block: Pillow warns (UserWarning)
    every time the EXIF is read ("Tag data larger than file. Skipping tag 270")."""
    from PIL import Image

    tiff = b"MM\x00\x2a\x00\x00\x00\x08" + struct.pack(">H", 2)
    tiff += struct.pack(">HHLL", 0x010E, 2, 1000, 60000)  # ImageDescription, 1000 bytes at offset 60000
    tiff += struct.pack(">HHL", 0x0112, 3, 1) + b"\x00\x01\x00\x00"  # Orientation 1
    tiff += b"\x00" * 504
    path = tmp_path / "bad-exif.jpg"
    Image.new("RGB", (640, 800), (100, 120, 140)).save(path, "JPEG", exif=b"Exif\x00\x00" + tiff)
    return path


@pytest.mark.parametrize("command", [["check"], ["fix", "-o", "out"], ["batch", "-j", "2"]])
def test_library_warnings_stay_off_stderr(command: list[str], bad_exif: Path, tmp_path: Path) -> None:
    done = run(*command, str(bad_exif), cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # no person in it: pose.no_person
    assert "UserWarning" not in done.stderr and "Tag data larger than file" not in done.stderr, done.stderr


def test_a_library_warning_is_a_debug_line_and_debug_shows_it_as_python_does(bad_exif: Path, tmp_path: Path) -> None:
    verbose = run("-vv", "check", "--no-content", str(bad_exif), cwd=tmp_path)
    assert "preflight: DEBUG: Tag data larger than file. Skipping tag 270 (UserWarning, " in verbose.stderr
    debug = run("check", str(bad_exif), cwd=tmp_path, debug=True)
    assert "UserWarning: Tag data larger than file. Skipping tag 270" in debug.stderr
