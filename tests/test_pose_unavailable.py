"""A check that ran without the pose model says so on every verdict and summary."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from preflight import api
from preflight.cli import cli, main
from preflight.errors import ModelError
from preflight.samples import make_image


@pytest.fixture
def no_pose_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pose model cannot be had, as tests/test_analyze.py makes it."""
    import preflight.analyze.posemodel as posemodel

    def unavailable(*args: object, **kwargs: object) -> None:
        raise ModelError("no pose model here")

    monkeypatch.setattr(posemodel, "ensure_pose_model", unavailable)


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    (tmp_path / "in").mkdir()
    return make_image(tmp_path / "in" / "photo.jpg", width=640, height=800)


def test_every_format_says_pose_not_checked(no_pose_model: None, photo: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["check", str(photo), "--report", str(tmp_path / "r.json")]) == 0  # still a pass...
    text = capsys.readouterr().out
    assert f"{photo}  [image]  PASS (pose not checked)" in text  # ...but not a plain one
    assert "1 file(s): 1 pass, 0 fixable, 0 fail; pose not checked on 1" in text
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["summary"] == {"pass": 1, "fixable": 0, "fail": 0, "pose_not_checked": 1}
    (item,) = data["items"]
    assert item["pose_checked"] is False and "pose.unavailable" in [f["code"] for f in item["findings"]]

    assert main(["check", str(photo), "--format", "junit", "--report", str(tmp_path / "r.xml")]) == 0
    suite = ET.parse(tmp_path / "r.xml").getroot()
    assert {p.get("name"): p.get("value") for p in suite.find("properties")}["pose_not_checked"] == "1"
    (case,) = suite.iter("testcase")
    assert case.find("properties/property[@name='pose_checked']").get("value") == "false"
    assert case.find("system-out").text.startswith("PASS (pose not checked)")

    assert main(["check", str(photo), "--report", str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text()
    assert "<span class=posenote>pose not checked</span>" in page and "data-pose=not_checked" in page
    assert "<b>pose not checked on 1</b>" in page and 'data-filter="nopose"' in page


def test_with_the_content_gates_off_nothing_is_claimed(photo: Path) -> None:
    (item,) = api.check([photo], content=False).items
    assert item.pose_checked is None and item.verdict == "pass"
    assert api.check([photo], content=False).summary["pose_not_checked"] == 0


def test_batch_summary_and_jsonl_count_it(no_pose_model: None, photo: Path, tmp_path: Path) -> None:
    args = ["batch", str(photo.parent), "-j", "1", "--state", str(tmp_path / "s.jsonl")]
    result = CliRunner().invoke(cli, [*args, "--jsonl"], catch_exceptions=False)
    assert result.exit_code == 0
    file_line, summary = (json.loads(x) for x in result.stdout.splitlines())
    assert file_line["pose_checked"] is False and file_line["item"]["pose_checked"] is False
    assert summary["event"] == "summary" and summary["pose_not_checked"] == 1
    table = CliRunner().invoke(cli, args, catch_exceptions=False).stdout
    assert "pose not checked" in table and "pose not checked on 1 file(s)" in table
