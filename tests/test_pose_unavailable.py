"""A check that ran without the pose model says so on every verdict and summary; --strict and the
profile's require_pose fail it; batch --resume checks such a file again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from preflight import api
from preflight.batch import BatchState, run_batch
from preflight.batch.work import FileResult
from preflight.cli import cli, main
from preflight.errors import ModelError
from preflight.models import Finding, Item, Severity
from preflight.samples import make_clip, make_image


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


def test_strict_fails_a_file_whose_pose_was_not_checked(no_pose_model: None, photo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (item,) = api.check([photo], strict=True).items
    unavailable = next(f for f in item.findings if f.code == "pose.unavailable")
    assert unavailable.severity is Severity.ERROR and not unavailable.fixable and item.verdict == "fail"
    assert "--strict" in unavailable.message
    assert main(["check", "--strict", str(photo)]) == 1
    assert "FAIL (pose not checked)" in capsys.readouterr().out


def test_profile_require_pose(no_pose_model: None, photo: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    required = tmp_path / "required.toml"
    required.write_text('base = "kling-v2.6"\n[content]\nrequire_pose = true\n')
    (item,) = api.check([photo], profile=required).items
    assert item.verdict == "fail" and item.pose_checked is False
    blocking = [f for f in item.findings if f.severity is Severity.ERROR]
    assert [f.code for f in blocking] == ["pose.unavailable"] and not blocking[0].fixable  # nothing else fails it
    assert "sets require_pose" in blocking[0].message
    assert main(["profiles", "show", str(required)]) == 0
    assert "require_pose                     true *" in capsys.readouterr().out

    wrong = tmp_path / "wrong.toml"
    wrong.write_text('base = "kling-v2.6"\n[content]\nrequire_pose = 1\n')
    assert main(["check", "--profile", str(wrong), str(photo)]) == 2
    assert "require_pose must be true or false" in capsys.readouterr().err
    off = tmp_path / "off.toml"
    off.write_text('base = "kling-v2.6"\n[content]\nrequire_pose = false\n')
    assert api.check([photo], profile=off).items[0].verdict == "pass"


def test_batch_summary_and_jsonl_count_it(no_pose_model: None, photo: Path, tmp_path: Path) -> None:
    args = ["batch", str(photo.parent), "-j", "1", "--state", str(tmp_path / "s.jsonl")]
    result = CliRunner().invoke(cli, [*args, "--jsonl"], catch_exceptions=False)
    assert result.exit_code == 0
    file_line, summary = (json.loads(x) for x in result.stdout.splitlines())
    assert file_line["pose_checked"] is False and file_line["item"]["pose_checked"] is False
    assert summary["event"] == "summary" and summary["pose_not_checked"] == 1
    table = CliRunner().invoke(cli, args, catch_exceptions=False).stdout
    assert "pose not checked" in table and "pose not checked on 1 file(s)" in table
    strict = CliRunner().invoke(cli, [*args, "--strict", "--jsonl"], catch_exceptions=False)
    assert strict.exit_code == 1 and json.loads(strict.stdout.splitlines()[0])["verdict"] == "fail"


def test_resume_checks_again_what_was_checked_without_the_model(
    no_pose_model: None, photo: Path, tmp_path: Path
) -> None:
    state = tmp_path / "s.jsonl"
    first = run_batch([photo.parent], jobs=1, state_path=state)
    assert [r.item.pose_checked for r in first.results] == [False]
    again = run_batch([photo.parent], jobs=1, state_path=state, resume=True)
    assert [r.resumed for r in again.results] == [False]  # checked again: the model may be there now
    limits = run_batch([photo.parent], jobs=1, state_path=state, content=False)
    assert run_batch([photo.parent], jobs=1, state_path=state, content=False, resume=True).results[0].resumed
    assert limits.results[0].item.pose_checked is None


def test_resume_keeps_a_result_whose_pose_was_checked(tmp_path: Path) -> None:
    """The state side alone (no model needed): only a result made without the model is refused."""
    path = make_image(tmp_path / "p.jpg")
    from preflight.batch.work import file_digest

    digest = file_digest(path)
    posed = Item(str(path), "image", "pass", (), analysis={"pose": {"people": 1}})
    unposed = Item(str(path), "image", "pass", (Finding("pose.unavailable", Severity.INFO, "pose was not checked"),))
    for item, kept in ((posed, True), (unposed, False)):
        state = BatchState(tmp_path / f"{kept}.jsonl")
        state.record(FileResult(str(path), item, digest, 0.1), "fp")
        assert (state.finished(str(path), "fp", need_pose=True) is not None) is kept
        assert state.finished(str(path), "fp", need_pose=False) is not None
        state.close()


def test_fix_and_batch_fix_strict_fail_an_output_whose_pose_was_not_checked(
    no_pose_model: None, photo: Path, tmp_path: Path, capsys  # type: ignore[no-untyped-def]
) -> None:
    """--strict means the same in fix as in check: the fixed output, checked without the model, fails."""
    assert main(["fix", str(photo), "-o", str(tmp_path / "a")]) == 0
    assert main(["fix", str(photo), "-o", str(tmp_path / "b"), "--strict"]) == 1
    assert "pose.unavailable" in capsys.readouterr().out
    args = ["batch", str(photo.parent), "-j", "1", "--state", str(tmp_path / "s.jsonl"), "-o", str(tmp_path / "c")]
    assert CliRunner().invoke(cli, args, catch_exceptions=False).exit_code == 0
    strict = CliRunner().invoke(cli, [*args, "--strict", "--jsonl"], catch_exceptions=False)
    assert strict.exit_code == 1, strict.stdout


# --- a pose-model cache that cannot be written ------------------------------------------------------


def _check_in_a_process(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("PREFLIGHT_DEBUG", "PREFLIGHT_POSE_MODEL")}
    return subprocess.run([sys.executable, "-m", "preflight", "check", "--json", *args], capture_output=True,
                          text=True, env={**environ, **env}, timeout=180)  # fmt: skip


@pytest.mark.parametrize("kind", ["image", "clip"])
def test_an_unwritable_cache_means_pose_not_checked(kind: str, photo: Path, tmp_path: Path) -> None:
    """A good photo came out ``FAIL analysis.error`` (an OSError from the cache escaped the ModelError path):
    now pose is not checked, with the reason, and the other gates run. The cache lies below a regular
    file, which no user (root neither) can write into; nothing is downloaded first."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    media = photo if kind == "image" else make_clip(tmp_path / "clip.mp4", duration=3.5, width=640, height=360)
    done = _check_in_a_process(str(media), PREFLIGHT_CACHE_DIR=str(blocker))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    (item,) = json.loads(done.stdout)["items"]
    assert item["verdict"] == "pass" and item["pose_checked"] is False
    unavailable = {f["code"]: f for f in item["findings"]}["pose.unavailable"]
    assert unavailable["severity"] == "info"
    assert unavailable["message"] == (f"pose was not checked: the pose model cache {blocker / 'models'} cannot be "
                                      "written (Not a directory): set PREFLIGHT_CACHE_DIR to a folder you can write, "
                                      "or get pose_landmarker_full.task and run: preflight models install --from "
                                      "PATH.task")  # fmt: skip


@pytest.mark.model
def test_a_model_given_by_path_with_an_unwritable_cache_still_checks_pose(photo: Path, tmp_path: Path) -> None:
    """PREFLIGHT_POSE_MODEL finds the pose model; the face detector of the people count lives in the cache,
    and failing to write it there was analysis.error: the count now goes on with pose alone."""
    from preflight.analyze.posemodel import ensure_pose_model

    model = ensure_pose_model().path
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    done = _check_in_a_process(str(photo), PREFLIGHT_CACHE_DIR=str(blocker), PREFLIGHT_POSE_MODEL=model)
    (item,) = json.loads(done.stdout)["items"]
    assert item["pose_checked"] is True and "analysis.error" not in [f["code"] for f in item["findings"]]
    assert done.stderr == ""


def test_the_cache_error_in_process(photo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("PREFLIGHT_CACHE_DIR", str(blocker))
    monkeypatch.delenv("PREFLIGHT_POSE_MODEL", raising=False)
    (item,) = api.check([photo]).items
    assert item.verdict == "pass" and item.pose_checked is False
    assert "cannot be written (Not a directory)" in next(f.message for f in item.findings
                                                         if f.code == "pose.unavailable")  # fmt: skip
