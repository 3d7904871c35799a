"""Every finding code the README lists is produced by some test of the default run.

The run records each code a Finding or a PreflightError is created with (tests/conftest.py); this
module, collected last, compares that with the codes in the README's "Finding codes" table and in the
DESIGN.md vocabulary the README builds on. It runs only after the whole default suite: a partial run
(a file, ``-k``) cannot have seen every code.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from code_recorder import CODES_SEEN

ROOT = Path(__file__).resolve().parents[1]
CODE = re.compile(r"`([a-z]+\.[a-z_]+)`")


def readme_codes() -> set[str]:
    """The codes in the first column of the README's "Finding codes" table."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Finding codes") :]
    section = section[: section.index("\n## ")]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {code for cell in rows for code in CODE.findall(cell)}


def test_the_readme_table_is_read() -> None:
    codes = readme_codes()
    assert {"file.truncated", "video.corrupt_frames", "submit.duplicate"} <= codes and len(codes) > 40


def _whole_default_run(request: pytest.FixtureRequest) -> bool:
    config = request.config
    selected = [Path(a).resolve() for a in config.args] or [ROOT / "tests"]
    return (
        selected in ([ROOT / "tests"], [ROOT])
        and not config.option.keyword
        and request.session.testsfailed == 0
        and len(request.session.items) > 400
    )


def test_every_readme_code_is_produced(request: pytest.FixtureRequest) -> None:
    if not _whole_default_run(request):
        pytest.skip("needs the whole default run (a partial run cannot have seen every code)")
    missing = sorted(readme_codes() - CODES_SEEN)
    assert not missing, f"README codes no test produced: {missing}"
