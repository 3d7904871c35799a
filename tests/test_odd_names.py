"""File names and messages a report format cannot hold as they are.

A POSIX file name may contain anything but ``/`` and NUL: a newline splits a text report's line, an
escape sequence repaints the terminal, a control character makes JUnit XML ill-formed (XML 1.0 has
no way to write ``\\x1b``, not even ``&#27;``), and a byte that is not UTF-8 (a lone surrogate once
Python decoded the name) cannot be written to a UTF-8 file at all. Text, JUnit and HTML spell such
characters out the way Python does (``\\n``, ``\\x1b``, ``\\xff``); JSON escapes control characters
itself and spells out only the undecodable byte.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from preflight.cli import main
from preflight.errors import PreflightError, printable
from preflight.html_report import render_html
from preflight.models import Finding, Item, Report, Severity, Skipped
from preflight.report import write_report, write_report_file

ESC_NAME = "red\x1b[31mflag.mp4"
NEWLINE_NAME = "two\nlines.mp4"
BAD_BYTE_NAME = os.fsdecode(b"caf\xe9.mp4")  # Latin-1 "café": not UTF-8, decoded with surrogateescape
ODD_NAMES = (ESC_NAME, NEWLINE_NAME, BAD_BYTE_NAME)
SPELT = {ESC_NAME: "red\\x1b[31mflag.mp4", NEWLINE_NAME: "two\\nlines.mp4", BAD_BYTE_NAME: "caf\\xe9.mp4"}
ECHOED = "provider said:\x00 bad\x1b[2J\x07value\x0b\x0c\x7f\x85\u2028\ufffe end"
"""A message quoting someone else's text (a provider's, FFmpeg's) with characters XML cannot hold."""

RAW_CONTROL = [chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, 0x85, 0x2028, 0xFFFE)]


def _report() -> Report:
    items = tuple(
        Item(path=name, role="video", verdict="fail",
             findings=(Finding("file.truncated", Severity.ERROR, f"{name}: cut off"),
                       Finding("provider.echo", Severity.WARNING, ECHOED)))
        for name in ODD_NAMES
    )  # fmt: skip
    skipped = (Skipped(path="hidden\x1b.mp4", reason="hidden"),)
    return Report(profile="kling-v2.6", orientation="video", items=items, skipped=skipped)


def _render(fmt: str) -> str:
    import io

    out = io.StringIO()
    write_report(_report(), fmt, out)
    return out.getvalue()


def test_printable_spells_out_what_breaks_a_line() -> None:
    assert printable("vidéo d'été ✓ 日本.mp4") == "vidéo d'été ✓ 日本.mp4"
    assert [printable(n) for n in ODD_NAMES] == [SPELT[n] for n in ODD_NAMES]
    assert printable("a\tb\rc\x00\x7f\x9b\u2029\udc80") == "a\\tb\\rc\\x00\\x7f\\x9b\\u2029\\x80"
    assert not any(c in printable(ECHOED) for c in RAW_CONTROL)


def test_junit_parses_and_names_each_file_recognisably() -> None:
    xml = _render("junit")
    suite = ET.fromstring(xml.split("\n", 1)[1])  # failed before: "not well-formed (invalid token)"
    names = [c.get("name") for c in suite.iter("testcase")]
    assert names == [SPELT[n] for n in ODD_NAMES] + ["hidden\\x1b.mp4"]
    failure = suite.find("testcase/failure")
    assert failure is not None and "red\\x1b[31mflag.mp4: cut off" in (failure.text or "")
    out = suite.find("testcase/system-out")
    assert out is not None and "provider said:\\x00 bad\\x1b[2J\\x07value" in (out.text or "")


def test_text_report_keeps_one_line_per_row_and_no_escape_codes() -> None:
    text = _render("text")
    assert not any(c in text for c in RAW_CONTROL)
    lines = text.splitlines()
    assert [line for line in lines if line.endswith("FAIL")] == [f"{SPELT[n]}  [video]  FAIL" for n in ODD_NAMES]
    assert "  error   file.truncated: two\\nlines.mp4: cut off" in lines


def test_json_keeps_names_exactly_and_spells_out_only_undecodable_bytes(tmp_path: Path) -> None:
    data = json.loads(_render("json"))
    paths = [i["path"] for i in data["items"]]
    assert paths == [ESC_NAME, NEWLINE_NAME, "caf\\xe9.mp4"]  # control characters round-trip as \u001b, \n
    assert data["items"][0]["findings"][1]["message"] == ECHOED


@pytest.mark.parametrize("fmt", ["text", "json", "junit", "html"])
def test_report_files_take_any_name(fmt: str, tmp_path: Path) -> None:
    """Every report file is UTF-8: a lone surrogate used to end in internal.error (UnicodeEncodeError)."""
    target = write_report_file(_report(), fmt, tmp_path / f"r.{fmt}")
    text = target.read_text(encoding="utf-8")
    if fmt == "json":
        text = json.dumps(json.loads(text), ensure_ascii=False)
    assert "caf\\xe9.mp4" in text.replace("\\\\", "\\")
    if fmt == "junit":
        ET.fromstring(text.split("\n", 1)[1])


def test_html_shows_the_names_spelt_out() -> None:
    page = render_html(_report())
    page.encode("utf-8")  # no lone surrogate
    assert not any(c in page for c in RAW_CONTROL)
    for name in ODD_NAMES:
        assert f">{SPELT[name]}<br>" in page
    assert "provider said:\\x00 bad\\x1b[2J\\x07value" in page


def test_one_line_errors_stay_one_line() -> None:
    err = PreflightError(f"{NEWLINE_NAME}: cannot read", "file.unreadable")
    assert err.one_line() == "file.unreadable: two\\nlines.mp4: cannot read"
    assert PreflightError(f"{BAD_BYTE_NAME}\x1b[2J").one_line() == "preflight.error: caf\\xe9.mp4\\x1b[2J"


def _odd_dir(root: Path, names: tuple[str, ...]) -> Path:
    """Clips too small for kling-v2.6 (fixable), so every report lists each by name."""
    from preflight.samples import make_clip

    clip = make_clip(root / "plain.mp4", duration=4, width=320, height=240)
    for name in names:
        shutil.copy(clip, root / name)
    (root / "folder[").mkdir()
    shutil.copy(clip, root / "folder[" / "x]y.mp4")  # "folder[/x]y.mp4": rich read "[/x]" as a closing tag
    (root / "plain.mp4").unlink()
    return root


@pytest.fixture(scope="module")
def odd_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _odd_dir(tmp_path_factory.mktemp("odd"), ODD_NAMES)


def test_check_text_and_junit_on_real_files(capsys: pytest.CaptureFixture[str], odd_dir: Path) -> None:
    assert main(["check", "--no-content", str(odd_dir)]) == 1
    out = capsys.readouterr().out
    assert not any(c in out for c in RAW_CONTROL)
    assert len(out.splitlines()) == 4 * 3 + 1  # path, media and finding line per file, one summary
    assert main(["check", "--no-content", "--format", "junit", str(odd_dir)]) == 1
    suite = ET.fromstring(capsys.readouterr().out.split("\n", 1)[1])
    names = sorted(c.get("name", "").rsplit("/", 1)[-1] for c in suite.iter("testcase"))
    assert names == sorted([*SPELT.values(), "x]y.mp4"])


def test_batch_jsonl_and_summary_table(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    root = _odd_dir(tmp_path / "in", (ESC_NAME, NEWLINE_NAME))
    code = main(["batch", "--check-only", "--no-content", "-q", "-j", "1", "--state", str(tmp_path / "s.jsonl"),
                 "--jsonl", str(root)])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 1, err
    lines = out.splitlines()
    assert len(lines) == 4 and json.loads(lines[-1])["event"] == "summary"
    paths = sorted(json.loads(line)["path"].rsplit("/", 1)[-1] for line in lines[:-1])
    assert paths == sorted([ESC_NAME, NEWLINE_NAME, "x]y.mp4"])
    # The text summary lists every file not passing by name, in a rich table
    code = main(["batch", "--check-only", "--no-content", "-q", "-j", "1", "--state", str(tmp_path / "t.jsonl"),
                 str(root)])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 1 and err == ""  # was: internal.error: MarkupError: closing tag '[/x]' ...
    assert not any(c in out for c in RAW_CONTROL)
    for name in (SPELT[ESC_NAME], SPELT[NEWLINE_NAME], "folder[/x]y.mp4"):
        assert name in out.replace("\n ", "")  # rich may fold a long name at the table's edge


def test_batch_takes_an_undecodable_name(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    root = _odd_dir(tmp_path / "in", (BAD_BYTE_NAME,))
    code = main(["batch", "--check-only", "--no-content", "-q", "-j", "1", "--state", str(tmp_path / "s.jsonl"),
                 "--jsonl", str(root)])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 1, err
    assert '"path": "' + str(root).replace("\\", "\\\\") + '/caf\\\\xe9.mp4"' in out


def _preflight(*args: str, encoding: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PREFLIGHT_DEBUG"} | {"PYTHONIOENCODING": encoding}
    return subprocess.run([sys.executable, "-m", "preflight", *args], capture_output=True, text=True, env=env,
                          encoding="utf-8", errors="surrogateescape", timeout=120)  # fmt: skip


def test_a_strict_stdout_spells_out_what_it_cannot_encode(odd_dir: Path, tmp_path: Path) -> None:
    """A UTF-8 locale's stdout is strict: fix's listing of an undecodable name was internal.error."""
    done = _preflight("fix", "--dry-run", "--no-content", "-o", str(tmp_path / "out"), str(odd_dir),
                      encoding="utf-8:strict")  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    assert "caf\\xe9.mp4" in done.stdout  # spelt as every report spells it


def test_json_on_an_ascii_stdout_is_still_json(tmp_path: Path) -> None:
    from preflight.samples import make_clip

    make_clip(tmp_path / "vidéo d'été ✓.mp4", duration=4, width=360, height=360)
    shutil.copy(tmp_path / "vidéo d'été ✓.mp4", tmp_path / BAD_BYTE_NAME)
    done = _preflight("check", "--no-content", "--json", str(tmp_path), encoding="ascii")
    assert done.returncode == 0, done.stderr
    paths = sorted(Path(i["path"]).name for i in json.loads(done.stdout)["items"])
    assert paths == ["caf\\xe9.mp4", "vidéo d'été ✓.mp4"]


def test_fix_listing_keeps_one_line_per_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from preflight.cli import main
    from preflight.samples import make_clip

    odd = make_clip(tmp_path / "odd\nname.mp4", duration=3.2, width=640, height=360)
    assert main(["fix", "--no-content", "-o", str(tmp_path / "out"), str(odd)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"{tmp_path}/odd\\nname.mp4 -> ") and first.endswith("PASS -> PASS")
