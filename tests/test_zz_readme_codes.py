"""Every finding code the README lists is produced by some test of the default run.

The run records each code a Finding or a PreflightError is created with by preflight's own code
(tests/code_recorder.py; a test that builds one by hand does not count); this module, collected last,
compares that with the codes in the README's "Finding codes" table and in the DESIGN.md vocabulary
the README builds on. It runs only after the whole default suite: a partial run (a file, ``-k``)
cannot have seen every code.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from code_recorder import CODES_BUILT_BY_TESTS, CODES_SEEN

from preflight.errors import PreflightError, ProbeError
from preflight.models import Finding, Severity

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


def test_only_codes_preflight_created_count(tmp_path: Path) -> None:
    """The mutation the old recorder let through: a code a test constructs by hand counted as produced."""
    from preflight import probe
    from preflight.analyze.quality import finding_for

    by_hand = Finding("recorder.by_hand", Severity.ERROR, "built in a test")
    dataclasses.replace(by_hand, code="recorder.replaced_by_hand")
    ProbeError("built in a test", "recorder.subclass_by_hand")  # through ProbeError's own __init__
    PreflightError("built in a test", "recorder.error_by_hand")
    assert {"recorder.by_hand", "recorder.replaced_by_hand", "recorder.subclass_by_hand",
            "recorder.error_by_hand"} <= CODES_BUILT_BY_TESTS  # fmt: skip
    assert not any(code.startswith("recorder.") for code in CODES_SEEN)
    # Made inside the package: counted, also through a subclass's __init__ (ProbeError).
    finding_for(None, "recorder.made_by_preflight", "built by analyze.quality")
    assert "recorder.made_by_preflight" in CODES_SEEN
    CODES_SEEN.discard("recorder.made_by_preflight")
    CODES_SEEN.discard("file.not_found")  # the probe below must put it back
    with pytest.raises(ProbeError) as raised:
        probe(tmp_path / "nothing-here.mp4")
    assert raised.value.code == "file.not_found" and "file.not_found" in CODES_SEEN


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
