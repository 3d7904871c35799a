"""Conformance: every committed fixture is judged and fixed as ``fixtures/manifest.toml`` says.

The fixtures stand for what users bring (phone rotation, anamorphic video, HDR made by another tool,
damaged and cut-off uploads, a messy folder). Each file is checked once and fixed once per session;
the tests then read the results.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from preflight.api import check, check_one, resolve_profile
from preflight.fix import FixResult, fix

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MANIFEST = tomllib.loads((FIXTURES / "manifest.toml").read_text())
FILES = {entry["path"]: entry for entry in MANIFEST["file"]}

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def fixed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FixResult]:
    wanted = [FIXTURES / path for path, entry in FILES.items() if "fix" in entry]
    report = fix(wanted, tmp_path_factory.mktemp("fixed"))
    return {str(Path(r.path).relative_to(FIXTURES)): r for r in report.results}


@pytest.mark.parametrize("path", list(FILES))
def test_check_verdict_and_codes(path: str) -> None:
    entry = FILES[path]
    item = check_one(FIXTURES / path, resolve_profile(None))
    codes = {f.code for f in item.findings}
    summary = f"{path}: {item.verdict} {sorted(codes)}"
    assert item.verdict == entry["check"], summary
    assert set(entry.get("codes", ())) <= codes, summary
    assert not set(entry.get("absent", ())) & codes, summary


@pytest.mark.parametrize("path", [p for p, e in FILES.items() if "fix" in e])
def test_fix_outcome(path: str, fixed: dict[str, FixResult]) -> None:
    entry, result = FILES[path], fixed[path]
    if entry["fix"] == "none":
        assert result.output is None and result.reason, f"{path}: {result.actions}"
        return
    assert result.output is not None, f"{path}: {result.reason}"
    assert result.after is not None
    after_codes = sorted(f.code for f in result.after.findings)
    assert result.after.verdict == entry["fix"], f"{path}: after {result.after.verdict} {after_codes}"
    actions = " | ".join(result.actions)
    for word in entry.get("actions", ()):
        assert word in actions, f"{path}: {actions}"
    if entry.get("clean"):
        assert decode_errors(Path(result.output)) == 0
    if "reference" in entry:
        psnr, saturation_change = compare(Path(result.output), FIXTURES / entry["reference"])
        assert psnr >= entry["min_psnr"], f"{path}: {psnr:.1f} dB"
        assert abs(saturation_change) <= entry["max_saturation_change"], f"{path}: saturation {saturation_change:+.0%}"


def test_messy_folder_reports_every_file() -> None:
    (entry,) = MANIFEST["folder"]
    report = check([FIXTURES / entry["path"]], content=False)
    folder = FIXTURES / entry["path"]
    rows = {Path(i.path).relative_to(folder).as_posix(): i for i in report.items}
    for name, code in entry["rows"].items():
        assert code in {f.code for f in rows[name].findings}, name
    for name in entry["passing"]:
        assert rows[name].verdict == "pass"
    assert set(rows) == set(entry["rows"]) | set(entry["passing"])
    data = json.loads(json.dumps(_skipped(report)))
    assert data == entry["skipped"]


def _skipped(report: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for skip in report.skipped:
        counts[skip.reason] = counts.get(skip.reason, 0) + 1
    return counts


# --- measurements ---------------------------------------------------------------------------------


def decode_errors(path: Path) -> int:
    """Packets of any stream that fail to decode, plus frames the decoder marks corrupt."""
    errors = 0
    with av.open(str(path)) as container:
        for packet in container.demux():
            try:
                for frame in packet.decode():
                    errors += bool(getattr(frame, "is_corrupt", False))
            except av.FFmpegError:
                errors += 1
    return errors


def _rgb_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def compare(output: Path, reference: Path) -> tuple[float, float]:
    """PSNR (dB) of the output's frames against the reference's, and the relative change of mean
    saturation (HSV S), over the frames both have."""
    ours, theirs = _rgb_frames(output), _rgb_frames(reference)
    n = min(len(ours), len(theirs))
    assert n >= 0.9 * len(theirs), (len(ours), len(theirs))
    a = np.stack(ours[:n]).astype(np.float64)
    b = np.stack(theirs[:n]).astype(np.float64)
    assert a.shape == b.shape
    mse = float(np.mean((a - b) ** 2))
    psnr = 10 * np.log10(255.0**2 / max(mse, 1e-9))
    return psnr, _saturation(a) / _saturation(b) - 1


def _saturation(rgb: np.ndarray) -> float:
    top, bottom = rgb.max(axis=-1), rgb.min(axis=-1)
    return float(np.mean(np.where(top > 0, (top - bottom) / np.maximum(top, 1e-9), 0.0)))
