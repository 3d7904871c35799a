"""preflight fix from the command line: exit codes, --json, --dry-run."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from preflight.cli import cli, main
from preflight.samples import make_clip, make_image


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_fix_json_has_output_actions_and_after(tmp_path: Path):
    clip = make_clip(tmp_path / "take.mkv", duration=3, width=352, height=352, fps=10, container="matroska")
    photo = make_image(tmp_path / "me.webp", width=640, height=800, format="WEBP")
    out = tmp_path / "ready"
    result = run("fix", str(clip), str(photo), "-o", str(out), "--no-content", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["schema"] == "preflight.report/1" and data["profile"] == "kling-v2.6"
    by_path = {item["path"]: item for item in data["items"]}
    take, me = by_path[str(clip)], by_path[str(photo)]
    assert take["verdict"] == "fixable" and take["actions"] == ["remux"]
    assert take["output"] == str(out / "take.mp4") and take["after"]["verdict"] == "pass"
    assert take["after"]["media"]["format"] == "mp4"
    assert me["actions"] == ["convert webp->jpeg"] and me["after"]["media"]["format"] == "jpeg"
    assert sorted(p.name for p in out.iterdir()) == ["me.jpg", "take.mp4"]


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path: Path):
    clip = make_clip(tmp_path / "long.mov", duration=12, width=352, height=352, fps=10, container="mov", gop=10)
    out = tmp_path / "ready"
    result = run("fix", "--dry-run", str(clip), "-o", str(out), "--orientation", "image", "--start", "1.5",
                 "--no-content")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "trim 1.500-11.500 (re-encode)" in result.output and "transcode h264" in result.output
    assert not out.exists()


def test_exit_1_when_an_input_cannot_be_fixed(tmp_path: Path):
    short = make_clip(tmp_path / "short.mp4", duration=2, width=352, height=352, fps=10)
    result = run("fix", str(short), "-o", str(tmp_path / "out"), "--no-content")
    assert result.exit_code == 1
    assert "CANNOT FIX" in result.output and "duration.too_short" in result.output


def test_usage_errors_exit_2(tmp_path: Path, capsys):
    clip = tmp_path / "x.mp4"
    assert main(["fix", str(clip), "-o", str(tmp_path), "--aspect", "stretch"]) == 2
    assert main(["fix", str(clip), "-o", str(tmp_path), "--start", "5", "--end", "4"]) == 2
    assert main(["fix", str(clip)]) == 2  # -o is required
    assert "--end" in capsys.readouterr().err
