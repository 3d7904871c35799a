"""The registry of codes (preflight/codes.py) and the package's source name the same codes.

The source is read with ast (tests/code_scan.py): every code written in it is registered, and every
registered code is written in it, so the reference page generated from the registry cannot list a code
the program lost or miss one it gained. tests/test_zz_readme_codes.py checks, after the whole default
run, that each registered code was also produced by some test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from code_scan import NOT_CODES, scan_package, scan_source

from preflight.cli import main
from preflight.codes import CODES, EXIT_MEANINGS, by_code, finding_codes
from preflight.models import Severity

REGISTERED = by_code()
AREAS = {entry.area for entry in CODES}


def test_every_code_in_the_source_is_registered() -> None:
    unregistered = sorted({f"{f.code} ({f.where}, {f.how})" for f in scan_package(AREAS) if f.code not in REGISTERED})
    assert not unregistered, "codes missing from preflight/codes.py:\n  " + "\n  ".join(unregistered)


def test_every_registered_code_is_in_the_source() -> None:
    written = {f.code for f in scan_package(AREAS)}
    assert not sorted(set(REGISTERED) - written), "registered codes the source never names"


def test_the_scan_sees_codes_wherever_they_are_written() -> None:
    """A new code in each of the places a code goes is found, also in an area the registry lacks."""
    source = (
        "raise UsageError('bad', 'newarea.bad_value')\n"
        "yield Finding('newarea.finding', E, 'text')\n"
        "f = finding_for(gates, 'newarea.gate', 'text')\n"
        "class NewError(PreflightError):\n    default_code = 'newarea.default'\n"
        "self._fail('text', 'newarea.upload', 413)\n"
        "x = make(code='newarea.keyword')\n"
        "_say(f'newarea.line: {why}')\n"
        "_say(f'stopped: by {x}' + detail)\n"
        "CODES = {'FileError': 'file.made_up'}\n"  # a known area: found by its shape
        "name = 'manifest.json'; path = 'config.toml'\n"  # not codes
    )
    found = {f.code: f.how for f in scan_source(source, "x.py", {"file", "config"})}
    assert found == {
        "newarea.bad_value": "argument", "newarea.finding": "argument", "newarea.gate": "argument",
        "newarea.default": "default", "newarea.upload": "argument", "newarea.keyword": "argument",
        "newarea.line": "line", "stopped": "line", "file.made_up": "shape",
    }  # fmt: skip


def test_strings_shaped_like_codes_that_are_not_codes_stay_few() -> None:
    assert not set(NOT_CODES) & set(REGISTERED)
    assert len(NOT_CODES) <= 8, "a long list of exceptions hides codes: name such strings another way"


def test_each_entry_is_whole() -> None:
    for entry in CODES:
        assert entry.code.count(".") <= 1 and entry.meaning and "\n" not in entry.meaning, entry
        if entry.severity is not None:  # a finding: its exit follows its severity
            assert entry.exit == (1 if entry.severity is Severity.ERROR else 0), entry
        assert entry.exit in EXIT_MEANINGS or (entry.exit is None and entry.http), entry
    assert len(REGISTERED) == len(CODES), "a code registered twice"
    assert REGISTERED["usage.invalid"].exit == 2 and REGISTERED["interrupted"].exit == 130
    assert REGISTERED["internal.error"].exit == 3 and REGISTERED["upload.too_large"].http == 413
    assert REGISTERED["video.rotated"].severity is Severity.WARNING and REGISTERED["video.rotated"].area == "video"


def test_content_severity_names_registered_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``[content.severity]`` with a misspelt code was silently ignored; now the profile is refused."""
    from preflight.samples import make_clip

    clip = make_clip(tmp_path / "c.mp4", duration=3.2, width=320, height=240)
    typo = tmp_path / "typo.toml"
    typo.write_text('base = "kling-v2.6"\n[content.severity]\n"pose.multiple_peopel" = "error"\n')
    assert main(["check", "--profile", str(typo), str(clip)]) == 2
    err = capsys.readouterr().err
    assert "profile.invalid" in err and "pose.multiple_peopel (did you mean pose.multiple_people?)" in err
    assert "pose.multiple_people" in finding_codes() and "usage.invalid" not in finding_codes()
