"""Every registered code is produced by some test of the default run, and the run produces no other.

The run records each code a Finding or a PreflightError is created with by preflight's own code
(tests/code_recorder.py; a test that builds one by hand does not count); this module, collected last,
compares that with the registry, preflight/codes.py (which the documentation's codes page is made
from; tests/test_codes.py keeps it equal to the codes written in the source). It runs only after the
whole default suite: a partial run (a file, ``-k``) cannot have seen every code.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from code_recorder import CODES_BUILT_BY_TESTS, CODES_SEEN
from code_scan import scan_package

from preflight.codes import CODES, by_code
from preflight.errors import PreflightError, ProbeError
from preflight.models import Finding, Severity

ROOT = Path(__file__).resolve().parents[1]

FALLBACKS = {
    "preflight.error": "PreflightError's default and the CLI's word for a click error it has no code for",
    "serve.invalid": "ServeError's default: every refusal the server makes names its own code",
}
"""Registered codes no path produces today: the default of an error class every raise overrides. A
raise that forgot its code would produce one, which is why they are registered."""


def registered_codes() -> set[str]:
    return set(by_code())


def test_the_registry_is_read() -> None:
    codes = registered_codes()
    assert {"file.truncated", "video.corrupt_frames", "submit.duplicate", "interrupted"} <= codes and len(codes) > 100


def test_fallbacks_are_only_defaults() -> None:
    """A code may be excused from being produced only while no code path names it outright."""
    areas = {entry.area for entry in CODES}
    for found in scan_package(areas):
        if found.code in FALLBACKS:
            assert found.how in ("default", "shape"), f"{found.code} produced at {found.where}: not a fallback"


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


def test_every_registered_code_is_produced(request: pytest.FixtureRequest) -> None:
    if not _whole_default_run(request):
        pytest.skip("needs the whole default run (a partial run cannot have seen every code)")
    missing = sorted(registered_codes() - set(FALLBACKS) - CODES_SEEN)
    assert not missing, f"registered codes no test produced: {missing}"


def test_every_code_produced_is_registered() -> None:
    """Also a code made at run time (``f"{kind}.corrupt_frames"``), which the source scan cannot read."""
    unregistered = sorted(CODES_SEEN - registered_codes() - {"recorder.made_by_preflight"})
    assert not unregistered, f"codes produced but not in preflight/codes.py: {unregistered}"
