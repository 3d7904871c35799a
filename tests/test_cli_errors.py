"""Every way the CLI can end badly ends in one coded line and a documented exit code.

``preflight: <code>: <message>`` on stderr, exit 1 for the input or the environment, 2 for usage,
3 only for a real bug, 130/143 when stopped by SIGINT/SIGTERM, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight.cli import main
from preflight.samples import make_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clierr") / "clip.mp4", duration=4, width=360, height=360)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", ["fix", "prepare", "batch"])
@pytest.mark.parametrize(
    "window",
    [("--start", "nan"), ("--start", "NaN"), ("--start", "inf"), ("--start", "1e309"), ("--end", "nan"),
     ("--end", "inf"), ("--start", "-1"), ("--end", "0"), ("--start", "5", "--end", "5"),
     ("--start", "5", "--end", "2")],
)  # fmt: skip
def test_a_window_that_is_not_a_time_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, clip: Path, command: str, window: tuple[str, ...]
) -> None:
    """``--start nan`` was taken as no start and ``--end inf`` as the clip's end (exit 0)."""
    args = {"fix": ["fix", "--dry-run", "-o", str(tmp_path / "out"), str(clip)],
            "prepare": ["prepare", "--image", str(clip), "--video", str(clip), "-o", str(tmp_path / "b")],
            "batch": ["batch", "-o", str(tmp_path / "out"), str(clip)]}[command]  # fmt: skip
    code, _, err = run(capsys, *args, *window)
    assert code == 2, err
    option = window[-2]
    assert f"{option}" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "b").exists()


@pytest.mark.xfail(strict=True, reason="preflight/analyze/gates.py validate_content_gates (outside this branch's "
                   "files) takes TOML's nan and inf as [content] thresholds: it needs a math.isfinite check")  # fmt: skip
def test_a_profile_threshold_that_is_not_a_number_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, clip: Path
) -> None:
    profile = tmp_path / "odd.toml"
    profile.write_text('base = "kling-v2.6"\n[content]\npose_min_torso_share = nan\nblur_min_variance = inf\n')
    code, _, err = run(capsys, "check", "--profile", str(profile), str(clip))
    assert code == 2 and err.startswith("preflight: profile.invalid: ")
