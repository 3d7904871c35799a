"""Every file found in a folder is reported (check, fix, batch; text, JSON, JSONL, JUnit, HTML) or counted
as skipped with its reason; a FIFO is never opened; a broken link says where it points."""

from __future__ import annotations

import html
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from preflight import api
from preflight.batch import run_batch
from preflight.batch.walk import scan_inputs
from preflight.cli import cli, main
from preflight.errors import UsageError
from preflight.fix import fix
from preflight.inputs import walk_folder
from preflight.samples import make_clip, make_image

ROWS = {  # file -> finding code of its row (None: passes)
    "clip.mp4": None,
    "photos/portrait.jpg": None,
    "empty.mp4": "file.empty",
    "notes.mp4": "format.unrecognized",
    "fake.png": "format.unrecognized",
    "pipe.mp4": "file.special",
    "sock.mp4": "file.special",
    "broken.mp4": "file.not_found",
}
SKIPPED = {  # file or folder -> reason
    ".DS_Store": "sidecar", "._clip.mp4": "sidecar", "Thumbs.db": "sidecar", "desktop.ini": "sidecar",
    "IMG_0001.AAE": "sidecar", "photos/portrait.xmp": "sidecar",
    ".cache": "hidden", ".hidden.mp4": "hidden",
    "elsewhere.jpg": "link_outside", "elsewhere": "link_outside",
    "same.jpg": "duplicate",
}  # fmt: skip
SUMMARY = ("8 file(s): 2 pass, 0 fixable, 6 fail; "
           "11 skipped (2 hidden, 6 sidecar, 2 link out of the folder, 1 duplicate)")


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Two real files, six broken uploads of every kind, sidecars, hidden names and links."""
    base = tmp_path_factory.mktemp("messy")
    root, outside = base / "in", base / "outside"
    (root / "photos").mkdir(parents=True)
    (root / ".cache").mkdir()
    outside.mkdir()
    make_clip(root / "clip.mp4", duration=3.5, width=640, height=360)
    make_image(root / "photos" / "portrait.jpg", width=640, height=800)
    (root / "empty.mp4").write_bytes(b"")
    (root / "notes.mp4").write_text("this was meant to be a video\n" * 20)
    (root / "fake.png").write_text("<html>an error page saved as a picture</html>")
    os.mkfifo(root / "pipe.mp4")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(root / "sock.mp4"))
    os.symlink(outside / "gone.mp4", root / "broken.mp4")
    for sidecar in (".DS_Store", "._clip.mp4", "Thumbs.db", "desktop.ini", "IMG_0001.AAE", "photos/portrait.xmp"):
        (root / sidecar).write_bytes(b"<metadata/>")
    (root / ".hidden.mp4").write_bytes((root / "clip.mp4").read_bytes())
    make_image(root / ".cache" / "thumb.jpg")
    make_image(outside / "secret.jpg")
    os.symlink(outside / "secret.jpg", root / "elsewhere.jpg")
    os.symlink(outside, root / "elsewhere")
    os.symlink(Path("photos") / "portrait.jpg", root / "same.jpg")
    yield root
    listener.close()


def _rel(root: Path, path: str) -> str:
    return Path(path).relative_to(root).as_posix()


def _check_items(root: Path, items: list[dict]) -> None:
    codes = {_rel(root, i["path"]): (i["findings"][0]["code"] if i["verdict"] != "pass" else None) for i in items}
    assert codes == ROWS


def _check_skipped(root: Path, skipped: dict) -> None:
    assert skipped["total"] == len(SKIPPED)
    assert skipped["by_reason"] == {"hidden": 2, "sidecar": 6, "link_outside": 2, "duplicate": 1}
    assert {_rel(root, e["path"]): e["reason"] for e in skipped["entries"]} == SKIPPED


def test_walk_keeps_every_file_and_names_what_it_skips(messy: Path, deadline: None) -> None:
    scan = walk_folder(messy)
    assert sorted(_rel(messy, str(p)) for p in scan.files) == sorted(ROWS)
    reasons = {_rel(messy, s.path): s for s in scan.skipped}
    assert {k: s.reason for k, s in reasons.items()} == SKIPPED
    assert reasons["elsewhere.jpg"].detail == f"link to {(messy.parent / 'outside' / 'secret.jpg').resolve()}"
    assert reasons["same.jpg"].detail == f"same file as {messy / 'photos' / 'portrait.jpg'}"  # the real name wins
    assert "nothing below it" in reasons[".cache"].detail  # a hidden folder counts once


def test_check_reports_every_file_in_every_format(messy: Path, tmp_path: Path, capsys, deadline: None) -> None:  # type: ignore[no-untyped-def]
    args = ["check", "--no-content", str(messy)]
    assert main([*args, "--report", str(tmp_path / "r.json")]) == 1
    text = capsys.readouterr().out
    for name, code in ROWS.items():
        line = next(x for x in text.splitlines() if x.startswith(str(messy / name) + "  "))
        assert line.endswith("PASS" if code is None else "FAIL"), line
        if code:
            assert f"{code}: {messy / name}" in text
    assert f"broken symbolic link: it points to {messy.parent / 'outside' / 'gone.mp4'}, which does not exist" in text
    assert "is a named pipe (FIFO), not a regular file" in text and "is a socket" in text
    assert SUMMARY in text

    data = json.loads((tmp_path / "r.json").read_text())
    assert data["schema"] == "preflight.report/1"
    _check_items(messy, data["items"])
    _check_skipped(messy, data["skipped"])
    broken = next(i for i in data["items"] if i["path"].endswith("broken.mp4"))["findings"][0]
    assert broken["extra"] == {"link_target": str(messy.parent / "outside" / "gone.mp4"), "broken_link": True}
    fifo = next(i for i in data["items"] if i["path"].endswith("pipe.mp4"))["findings"][0]
    assert fifo["extra"] == {"file_type": "fifo"} and fifo["severity"] == "error" and not fifo["fixable"]

    assert main([*args, "--format", "junit", "--report", str(tmp_path / "r.xml")]) == 1
    suite = ET.parse(tmp_path / "r.xml").getroot()
    cases = {_rel(messy, c.get("name")): c for c in suite.iter("testcase")}
    assert set(cases) == set(ROWS) | set(SKIPPED)
    for name, code in ROWS.items():
        failure = cases[name].find("failure")
        assert (failure is None) if code is None else failure.get("type") == code
    for name, reason in SKIPPED.items():
        assert cases[name].find("skipped").get("message").startswith(reason)
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("19", "6", "11")
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["skipped"] == "11" and props["skipped.sidecar"] == "6" and props["pose_not_checked"] == "0"

    assert main([*args, "--report", str(tmp_path / "r.html")]) == 1
    page = (tmp_path / "r.html").read_text()
    assert page.count("<tr data-verdict=") == len(ROWS)
    for name, code in ROWS.items():
        assert html.escape(str(messy / name)) in page and (code is None or f"<code>{code}</code>" in page)
    assert "11 skipped (2 hidden, 6 sidecar, 2 link out of the folder, 1 duplicate)" in page
    for name, reason in SKIPPED.items():
        assert f"<code>{reason}</code> <span class=\"path\">{html.escape(str(messy / name))}</span>" in page


def test_batch_reports_every_file_in_every_format(messy: Path, tmp_path: Path, deadline: None) -> None:
    runner = CliRunner()
    base = ["batch", str(messy), "--no-content", "-q", "-j", "1", "--state", str(tmp_path / "s.jsonl")]
    result = runner.invoke(cli, [*base, "--jsonl", "--report", str(tmp_path / "gate.xml")], catch_exceptions=False)
    assert result.exit_code == 1
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    files = [x for x in lines if x["event"] == "file"]
    _check_items(messy, [x["item"] for x in files])
    summary = lines[-1]
    assert summary["event"] == "summary" and summary["total"] == len(ROWS) and summary["fail"] == 6
    _check_skipped(messy, summary["skipped"])
    suite = ET.parse(tmp_path / "gate.xml").getroot()
    assert suite.get("skipped") == "11" and len(list(suite.iter("testcase"))) == 19

    result = runner.invoke(cli, [*base, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    _check_items(messy, data["items"])
    _check_skipped(messy, data["skipped"])
    assert data["batch"]["skipped"]["total"] == 11
    assert runner.invoke(cli, [*base, "--report", str(tmp_path / "b.html")]).exit_code == 1
    page = (tmp_path / "b.html").read_text()
    assert page.count("<tr data-verdict=") == len(ROWS) and "11 skipped (" in page

    text = runner.invoke(cli, base, catch_exceptions=False).stdout
    assert "11 skipped (2 hidden, 6 sidecar, 2 link out of the folder, 1 duplicate)" in text
    for name in ("empty.mp4", "notes.mp4", "pipe.mp4", "broken.mp4"):
        assert name in text  # listed under "not passing"


def test_fix_reports_every_file(messy: Path, tmp_path: Path, capsys, deadline: None) -> None:  # type: ignore[no-untyped-def]
    assert main(["fix", "--no-content", "--json", str(messy), "-o", str(tmp_path / "out")]) == 1
    data = json.loads(capsys.readouterr().out)
    _check_items(messy, data["items"])
    _check_skipped(messy, data["skipped"])
    reasons = {_rel(messy, i["path"]): i.get("reason") for i in data["items"]}
    assert reasons["pipe.mp4"].startswith("file.special:") and reasons["clip.mp4"] is None
    assert main(["fix", "--no-content", str(messy), "-o", str(tmp_path / "out2")]) == 1
    assert "11 skipped (" in capsys.readouterr().out


def test_a_fifo_is_never_opened(messy: Path) -> None:
    """In a real process with a timeout: given directly, in a folder, in a batch (which hashes files)."""
    fifo = str(messy / "pipe.mp4")
    for args in (["check", "--no-content", fifo], ["batch", "--no-content", "-q", "-j", "1", "--jsonl", fifo]):
        done = subprocess.run([sys.executable, "-m", "preflight", *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 1, done.stderr
        assert "file.special" in done.stdout


def test_unreadable_file_and_folder(tmp_path: Path) -> None:
    """chmod 000 stops root only without its override capabilities: drop them with setpriv, else skip."""
    import shutil

    command = [sys.executable, "-m", "preflight", "check", "--no-content", "--json", str(tmp_path)]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("root reads everything (and setpriv is missing to drop that)")
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    make_image(tmp_path / "ok.jpg")
    (tmp_path / "locked.mp4").write_bytes(b"x")
    (tmp_path / "locked.mp4").chmod(0)
    (tmp_path / "shut").mkdir()
    make_image(tmp_path / "shut" / "inside.jpg")
    (tmp_path / "shut").chmod(0)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    finally:
        (tmp_path / "shut").chmod(0o755)
    assert done.returncode == 1, done.stderr
    items = {Path(i["path"]).name: i["findings"] for i in json.loads(done.stdout)["items"]}
    assert {name: [f["code"] for f in found] for name, found in items.items()} == {
        "locked.mp4": ["file.unreadable"], "ok.jpg": [], "shut": ["file.unreadable"],
    }  # fmt: skip
    assert "folder cannot be listed" in items["shut"][0]["message"]


def test_only_non_media_fails_and_nothing_to_check_is_a_usage_error(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    junk, sidecars, empty = tmp_path / "junk", tmp_path / "sidecars", tmp_path / "empty"
    for folder in (junk, sidecars, empty):
        folder.mkdir()
    (junk / "notes.txt").write_text("not media")
    (sidecars / ".DS_Store").write_bytes(b"x")
    (sidecars / "IMG_0001.AAE").write_text("<plist/>")
    assert main(["check", "--no-content", str(junk)]) == 1
    assert "format.unrecognized" in capsys.readouterr().out
    assert main(["batch", "--no-content", "-q", "-j", "1", str(junk), "--state", str(tmp_path / "s")]) == 1
    for command in ("check", "batch"):
        assert main([command, "--no-content", str(empty)]) == 2
        assert "no files to check in this folder" in capsys.readouterr().err
        assert main([command, "--no-content", str(sidecars)]) == 2
        assert "no files to check in this folder; 2 skipped (2 sidecar)" in capsys.readouterr().err


def test_glob_exclusions_are_counted_not_listed(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    make_clip(folder / "a.mp4", duration=3.5, width=640, height=360)
    make_image(folder / "b.jpg")
    make_image(folder / "c.png", format="PNG")
    (folder / ".DS_Store").write_bytes(b"x")
    result = run_batch([folder], patterns=["*.mp4"], content=False, jobs=1, state_path=tmp_path / "s")
    assert [Path(r.path).name for r in result.results] == ["a.mp4"]
    data = json.loads(CliRunner().invoke(cli, ["batch", str(folder), "--glob", "*.mp4", "--no-content", "-q",
                                              "-j", "1", "--json", "--state", str(tmp_path / "s")]).stdout)  # fmt: skip
    assert data["skipped"]["by_reason"] == {"sidecar": 1, "glob": 2} and data["skipped"]["total"] == 3
    assert [e["reason"] for e in data["skipped"]["entries"]] == ["sidecar"]  # --glob's are counted only
    with pytest.raises(UsageError, match=r"no files to check in this folder; 4 skipped \(1 sidecar, 3 left out by"):
        scan_inputs([folder], patterns=["*.mov"])


def test_globs_and_the_output_folder_count_what_they_skip(tmp_path: Path) -> None:
    tree, outside = tmp_path / "tree", tmp_path / "outside"
    (tree / "ready").mkdir(parents=True)
    outside.mkdir()
    make_image(tree / "a.jpg")
    make_image(tree / "ready" / "old_output.jpg")
    make_image(outside / "secret.jpg")
    (tree / "notes.txt").write_text("not media")
    (tree / "Thumbs.db").write_bytes(b"x")
    os.symlink(outside / "secret.jpg", tree / "link_out.jpg")
    found = scan_inputs([tree], exclude=[tree / "ready"])
    assert sorted(p.name for p, _ in found.files) == ["a.jpg", "notes.txt"]
    assert {Path(s.path).name: s.reason for s in found.skipped} == {
        "ready": "output_folder", "Thumbs.db": "sidecar", "link_out.jpg": "link_outside",
    }  # fmt: skip
    found = scan_inputs([str(tree / "*")])
    assert sorted(p.name for p, _ in found.files) == ["a.jpg", "notes.txt"]  # a glob's matches are all checked
    assert {Path(s.path).name: s.reason for s in found.skipped} == {"Thumbs.db": "sidecar",
                                                                   "link_out.jpg": "link_outside"}  # fmt: skip
    again = scan_inputs([tree / "a.jpg", tree])
    assert [s.reason for s in again.skipped if s.path.endswith("a.jpg")] == ["duplicate"]


def test_broken_link_given_directly_and_a_link_loop(tmp_path: Path) -> None:
    os.symlink("nowhere.mp4", tmp_path / "dangling.mp4")
    os.symlink(tmp_path / "loop.mp4", tmp_path / "loop.mp4")
    report = api.check([tmp_path / "dangling.mp4", tmp_path / "loop.mp4"], content=False)
    dangling, loop = (i.findings[0] for i in report.items)
    assert dangling.code == "file.not_found" and dangling.extra["link_target"] == str(tmp_path / "nowhere.mp4")
    assert f"points to nowhere.mp4 ({tmp_path / 'nowhere.mp4'}), which does not exist" in dangling.message
    assert loop.code == "file.link_loop" and "a loop of links" in loop.message
    assert loop.extra["link_target"] == str(tmp_path / "loop.mp4")


@pytest.fixture
def looped(tmp_path: Path) -> Path:
    """A folder with a good photo beside two links that point at each other (``ln -s b a; ln -s a b``)."""
    folder = tmp_path / "in"
    folder.mkdir()
    make_image(folder / "photo.jpg", width=640, height=800)
    os.symlink("b", folder / "a")
    os.symlink("a", folder / "b")
    return folder


def test_a_link_loop_is_a_finding_of_its_own_and_the_folder_goes_on(looped: Path, tmp_path: Path) -> None:
    """``fix dir/`` stopped with exit 3 (RuntimeError: Symlink loop) and fixed none of the other files;
    batch called each link an internal.error."""
    report = fix([looped], tmp_path / "out", content=False)
    by_name = {Path(r.path).name: r for r in report.results}
    assert by_name["photo.jpg"].output == str(tmp_path / "out" / "photo.jpg")
    for name in ("a", "b"):
        assert by_name[name].reason.startswith("file.link_loop: ") and by_name[name].output is None
    batch = run_batch([looped], content=False, jobs=1, state_path=tmp_path / "state.jsonl")
    codes = {Path(r.path).name: [f.code for f in r.item.findings] for r in batch.results}
    assert codes == {"a": ["file.link_loop"], "b": ["file.link_loop"], "photo.jpg": []}


def test_fix_of_a_folder_with_a_link_loop_in_a_real_process(looped: Path, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "preflight", "fix", str(looped), "-o", str(tmp_path / "out"),
                           "--no-content"], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert (tmp_path / "out" / "photo.jpg").is_file()  # the other file was fixed
    assert done.stdout.count("file.link_loop: ") == 2 and done.stderr == ""


def test_a_report_into_a_link_loop_is_one_coded_line(looped: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(looped / "photo.jpg"), "--no-content", "--report", str(looped / "a")]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"preflight: file.link_loop: {looped / 'a'}: a loop of symbolic links: nothing to write into"
    ]


def test_one_path_given_as_a_string_or_path_is_one_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``check("clip.mp4")`` once iterated the string: "." among its characters is the working folder,
    and a notebook's check of one clip ran over every file of the project."""
    make_image(tmp_path / "one.jpg", width=400, height=600)
    (tmp_path / "other.jpg").write_bytes((tmp_path / "one.jpg").read_bytes())
    monkeypatch.chdir(tmp_path)
    for given in ("one.jpg", Path("one.jpg"), tmp_path / "one.jpg"):
        assert [Path(i.path).name for i in api.check(given, content=False).items] == ["one.jpg"]
        assert [p.name for p in api.collect_paths(given)] == ["one.jpg"]
    report = fix("one.jpg", tmp_path / "out", content=False)
    assert [Path(r.path).name for r in report.results] == ["one.jpg"]
    # A batch too (iterated, an absolute path has "/" among its characters: the whole disk).
    assert [Path(p).name for p, _ in scan_inputs("one.jpg").files] == ["one.jpg"]
    batch = run_batch("one.jpg", content=False, state_path=tmp_path / "state.jsonl")
    assert [Path(i.path).name for i in batch.report.items] == ["one.jpg"]
