"""The hooks for pipelines: the GitHub Action (action.yml + action/gate.py) and the pre-commit hook
(.pre-commit-hooks.yaml), each run the way its host runs it.

The Action's ``gate`` step is taken from action.yml and run as a runner would: its ``${{ inputs.* }}``
resolved from the inputs (defaults from action.yml), its ``run`` line through bash with the
``GITHUB_*`` files. Its install step is not run (it would install preflight into this Python). The
hook runs through ``pre-commit try-repo`` on a repository of test media, which installs preflight
into the hook's own environment with pip (about 1-2 minutes: a slow test).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from preflight.samples import make_clip, make_image

ROOT = Path(__file__).resolve().parents[1]
EXPRESSION = re.compile(r"\$\{\{\s*([a-z]+)\.([\w-]+)\s*\}\}")


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder as a repository holds it: one clip that passes, one that passes with a warning
    (rotated), one photo fix can repair (too small), one upload cut off, and a name that needs
    escaping in a workflow command."""
    folder = tmp_path_factory.mktemp("media")
    make_clip(folder / "ok.mp4", duration=4, width=640, height=360)
    make_clip(folder / "rotated.mov", duration=3, width=640, height=360, rotation=90, container="mov")
    make_image(folder / "tiny.jpg", width=100, height=100)
    shutil.copy(folder / "tiny.jpg", folder / "odd, name: 1.jpg")
    (folder / "cut.mp4").write_bytes((folder / "ok.mp4").read_bytes()[:60000])
    return folder


@dataclass(frozen=True)
class GateRun:
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str
    report: Path


def run_gate(workspace: Path, **inputs: str) -> GateRun:
    """The action's ``gate`` step, run from ``workspace`` as a runner runs a composite step."""
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    declared = action["inputs"]
    assert set(inputs) <= set(declared), f"not inputs of action.yml: {set(inputs) - set(declared)}"
    values = {name: str(spec.get("default", "")) for name, spec in declared.items()} | inputs
    assert all(values[n] for n, spec in declared.items() if spec.get("required")), "a required input is empty"

    def resolve(text: str) -> str:
        def value(match: re.Match[str]) -> str:
            assert match[1] == "inputs", f"the gate step uses {match[0]}: teach this runner"
            return values[match[2]]

        return EXPRESSION.sub(value, text)

    (step,) = [s for s in action["runs"]["steps"] if s.get("id") == "gate"]
    files = {"GITHUB_OUTPUT": workspace / "github-output", "GITHUB_STEP_SUMMARY": workspace / "summary.md"}
    for path in files.values():
        path.write_text("")
    env = {**os.environ, **{k: resolve(v) for k, v in step["env"].items()}, **{k: str(v) for k, v in files.items()},
           "GITHUB_ACTION_PATH": str(ROOT), "GITHUB_WORKSPACE": str(workspace)}  # fmt: skip
    assert step["shell"] == "bash"
    run = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", resolve(step["run"])],
                         cwd=workspace, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    lines = files["GITHUB_OUTPUT"].read_text().splitlines()
    outputs = dict(line.split("=", 1) for line in lines)
    for name, spec in action["outputs"].items():  # every output the action declares is set by the step
        assert spec["value"] == f"${{{{ steps.gate.outputs.{name} }}}}" and name in outputs, name
    return GateRun(run.returncode, run.stdout, run.stderr, outputs, files["GITHUB_STEP_SUMMARY"].read_text(),
                   workspace / values["report"])  # fmt: skip


def annotations(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("::")]


def test_the_action_gates_a_folder_and_annotates_each_file_that_fails(tmp_path: Path, media: Path) -> None:
    shutil.copytree(media, tmp_path / "media")
    gate = run_gate(tmp_path, paths="media")
    assert gate.code == 1, gate.stderr
    assert gate.outputs == {"report": "preflight-junit.xml", "checked": "5", "failed": "3", "exit-code": "1"}
    suite = ET.parse(gate.report).getroot()
    assert suite.tag == "testsuite" and suite.get("tests") == "5" and suite.get("failures") == "3"
    assert annotations(gate.stdout) == [
        "::error file=media/cut.mp4,title=preflight fail%3A file.truncated::file.truncated: media/cut.mp4: "
        "incomplete MP4 (no movie header: the file was cut off while being written or copied)",
        "::error file=media/odd%2C name%3A 1.jpg,title=preflight fixable%3A resolution.too_small::"
        "resolution.too_small: image is 100x100; kling-v2.6 needs at least 340 px on each side: fix scales it "
        "up (a larger original looks better)",
        "::warning file=media/rotated.mov,title=preflight warning%3A video.rotated::video.rotated: display "
        "rotation 90°: stored 640x360, shown 360x640; a decoder that ignores it sees the clip turned: fix bakes "
        "it in",
        "::error file=media/tiny.jpg,title=preflight fixable%3A resolution.too_small::resolution.too_small: "
        "image is 100x100; kling-v2.6 needs at least 340 px on each side: fix scales it up (a larger original "
        "looks better)",
    ]
    assert "preflight check: 2 of 5 file(s) pass; JUnit report: preflight-junit.xml" in gate.stdout
    assert gate.summary.startswith("### preflight check: 2 of 5 file(s) pass (exit 1)\n")
    assert "| `media/cut.mp4` | fail: file.truncated | file.truncated: media/cut.mp4: incomplete" in gate.summary


def test_the_action_passes_clean_files_and_strict_fails_their_warnings(tmp_path: Path, media: Path) -> None:
    shutil.copytree(media, tmp_path / "in")
    paths = "in/ok.mp4\n'in/rotated.mov'"  # new lines and shell quoting, as a workflow may write them
    gate = run_gate(tmp_path, paths=paths, report="gate.xml")
    assert gate.code == 0, gate.stderr
    assert gate.outputs == {"report": "gate.xml", "checked": "2", "failed": "0", "exit-code": "0"}
    (warning,) = annotations(gate.stdout)
    assert warning.startswith("::warning file=in/rotated.mov,")
    strict = run_gate(tmp_path, paths=paths, strict="true")
    assert strict.code == 1 and strict.outputs["failed"] == "1"
    (error,) = annotations(strict.stdout)
    assert error.startswith("::error file=in/rotated.mov,title=preflight fixable%3A video.rotated::")


def test_the_action_fails_on_a_usage_error_without_a_stale_report(tmp_path: Path, media: Path) -> None:
    shutil.copy(media / "ok.mp4", tmp_path)
    (tmp_path / "preflight-junit.xml").write_text("<testsuite tests='0'/>")  # left by an earlier step
    gate = run_gate(tmp_path, paths="ok.mp4", profile="no-such-provider")
    assert gate.code == 2
    assert "preflight: profile.unknown: " in gate.stderr
    assert annotations(gate.stdout) == [
        "::error title=preflight::preflight check exited 2 without a report (see the line above)"
    ]
    assert gate.outputs["exit-code"] == "2" and not gate.report.exists()


def test_the_hook_manifest_checks_media_without_content_by_default() -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["id"] == "preflight-check" and hook["language"] == "python"
    assert hook["entry"] == "preflight check" and hook["args"] == ["--no-content"]
    files = re.compile(hook["files"])
    media = ["a.mp4", "b.MOV", "c.mkv", "d.webm", "e.jpg", "f.JPEG", "g.png", "h.heic", "i.webp", "j.avif"]
    assert all(files.search(name) for name in media)
    assert not any(files.search(name) for name in ["README.md", "notes.txt", "clip.mp4.json", "mp4"])


@pytest.mark.slow
def test_pre_commit_runs_the_hook_on_a_repository_of_media(tmp_path: Path, media: Path) -> None:
    """``pre-commit try-repo`` clones this repository (with any uncommitted change, as try-repo does),
    installs it into the hook's environment and runs the hook on the staged media."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("ok.mp4", "tiny.jpg"):
        shutil.copy(media / name, repo)
    (repo / "notes.txt").write_text("not media: the hook's files pattern leaves it out\n")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    # The hook's environment must import the preflight pip installed there, not this checkout.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PRE_COMMIT_HOME": str(tmp_path / "home")}
    command = [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "preflight-check", "--all-files"]
    run = subprocess.run([*command, "--color", "never"], cwd=repo, env=env, capture_output=True, text=True,
                         timeout=900)  # fmt: skip
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert re.search(r"^preflight check\.+Failed$", out, re.MULTILINE) and "- exit code: 1" in out, out
    # ok.mp4 (a clip with nobody in it) passes: the content gates are off by default.
    assert "ok.mp4  [video]  PASS" in out and "tiny.jpg  [image]  FIXABLE" in out, out
    assert "notes.txt" not in out and "2 file(s): 1 pass, 1 fixable, 0 fail" in out, out
