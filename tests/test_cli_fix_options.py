"""fix, prepare and batch share one definition of --start/--end/--aspect/--fill/--window."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from preflight.cli import cli, main
from preflight.cli.options import FIX_OPTION_NAMES
from preflight.media.probe import probe
from preflight.samples import make_clip, make_image


def _options(name: str) -> dict[str, click.Option]:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    return {p.name: p for p in command.params if isinstance(p, click.Option) and p.name in FIX_OPTION_NAMES}


@pytest.mark.parametrize("name", ["prepare", "batch"])
def test_same_options_as_fix(name: str) -> None:
    fix, other = _options("fix"), _options(name)
    assert set(other) == set(FIX_OPTION_NAMES) == set(fix)
    for key, option in fix.items():
        twin = other[key]
        assert (twin.opts, twin.help, twin.default, repr(twin.type)) == (
            option.opts, option.help, option.default, repr(option.type)
        ), key  # fmt: skip


def test_prepare_takes_the_window_end_and_fill(tmp_path: Path) -> None:
    make_image(tmp_path / "me.jpg", width=640, height=800)
    make_clip(tmp_path / "dance.mp4", duration=6, width=640, height=360)
    runner = CliRunner()
    args = ["prepare", "--image", str(tmp_path / "me.jpg"), "--video", str(tmp_path / "dance.mp4"),
            "-o", str(tmp_path / "bundle"), "--no-content", "--json", "--end", "4", "--window", "start",
            "--fill", "solid"]  # fmt: skip
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    clip = probe(_output_of(data["fix"], "dance"))
    assert clip.duration is not None and abs(clip.duration - 4.0) < 0.3, clip.duration
    assert main(["prepare", "--image", str(tmp_path / "me.jpg"), "--video", str(tmp_path / "dance.mp4"),
                 "-o", str(tmp_path / "b2"), "--start", "3", "--end", "2"]) == 2  # fmt: skip


def _output_of(data: dict, stem: str) -> str:
    for item in data.get("items", ()):
        if Path(item["path"]).stem == stem:
            return item["output"]
    raise AssertionError(f"no output for {stem}")
