"""Writing outputs when things go wrong: a full disk, a read-only or forbidden folder, Ctrl-C or SIGTERM
during an encode, a kill -9, two batches into one folder; and the mode a finished output gets.

A full or read-only disk is real where the tests may mount a small tmpfs (CI runs as root); elsewhere
those tests skip, and the same faults are made at the one function that creates the files.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from preflight.batch import run_batch
from preflight.batch.lock import LOCK_NAME, OutputLock
from preflight.bundle import write_bundle
from preflight.cli import main
from preflight.errors import FixError, PreflightError
from preflight.fix import fix
from preflight.outfiles import is_temp_name, remove_stale_temps, temp_path
from preflight.prepare import prepare
from preflight.samples import make_clip, make_image

FPS = 10


# --- helpers -------------------------------------------------------------------------------------


def _mount(args: list[str]) -> str | None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    return None if done.returncode == 0 else (done.stderr.strip() or f"mount exited {done.returncode}")


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs: writes past it fail with ENOSPC for real. Skips when it cannot be mounted."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    why = _mount(["-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)])
    if why is not None:
        pytest.skip(f"cannot mount a tmpfs here: {why}")
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _leave_free(folder: Path, free: int) -> None:
    """Fill the file system of ``folder`` until about ``free`` bytes are left."""
    import shutil

    have = shutil.disk_usage(folder).free
    (folder / "filler").write_bytes(b"\0" * max(0, have - free))


def _readonly(mnt: Path) -> None:
    why = _mount(["-o", "remount,ro", str(mnt)])
    if why is not None:
        pytest.skip(f"cannot remount read-only: {why}")


def _leftovers(folder: Path) -> list[str]:
    """Hidden or temporary files below ``folder`` (none may survive a failed or interrupted write)."""
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.rglob("*") if p.name.startswith(".") or ".part" in p.name)


def _by_name(report) -> dict:  # type: ignore[no-untyped-def]
    return {Path(r.path).name: r for r in report.results}


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("faults-media")
    # ~0.5 MB of noise: a remux needs that much room; a transcode (MPEG-4 Part 2) too.
    rng = __import__("numpy").random.default_rng(7)
    noise = rng.integers(0, 255, (6, 360, 480, 3), dtype="uint8")
    make_clip(d / "noisy.mkv", duration=3.5, width=480, height=360, fps=FPS, container="matroska",
              frames=lambda i, w, h: noise[i % 6], crf=20)  # fmt: skip
    make_clip(d / "part2.avi", duration=3.5, width=480, height=360, fps=FPS, container="avi", codec="mpeg4",
              pix_fmt="yuv420p", frames=lambda i, w, h: noise[i % 6])  # fmt: skip
    make_image(d / "small.jpg", width=400, height=500)
    make_image(d / "photo.webp", format="WEBP", pixels=rng.integers(0, 255, (1000, 800, 3), dtype="uint8"))
    return d


def _noisy_clip(path: Path) -> Path:
    """A clip of noise (about 0.5 MB in 3.5 s): too big for the little room the tests leave."""
    import numpy as np

    def noise(i: int, w: int, h: int) -> np.ndarray:
        return np.random.default_rng(i).integers(0, 255, (h, w, 3), dtype=np.uint8)

    return make_clip(path, duration=3.5, width=480, height=360, fps=FPS, container="matroska", frames=noise)


# --- 1. a full disk ----------------------------------------------------------------------------


def test_a_full_disk_is_coded_leaves_nothing_and_the_next_file_goes_on(tmpfs: Path, media: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    clip_size = (media / "noisy.mkv").stat().st_size
    assert clip_size > 300_000
    _leave_free(tmpfs, 200_000)
    out = tmpfs / "out"
    code = main(["fix", "--no-content", "--json", str(media / "noisy.mkv"), str(media / "small.jpg"), "-o", str(out)])
    assert code == 1
    items = {Path(i["path"]).name: i for i in json.loads(capsys.readouterr().out)["items"]}
    clip, image = items["noisy.mkv"], items["small.jpg"]
    assert clip["output"] is None and clip["reason"].startswith("output.no_space: ")
    assert str(out) in clip["reason"] and "needs about" in clip["reason"] and "free" in clip["reason"]
    assert image["output"] == str(out / "small.jpg") and image["after"]["verdict"] == "pass"  # the next file went on
    assert sorted(p.name for p in out.iterdir()) == ["small.jpg"]
    assert _leftovers(out) == []


@pytest.mark.parametrize("name", ["part2.avi", "photo.webp"])
def test_a_full_disk_during_an_encode_or_an_image_conversion(tmpfs: Path, media: Path, name: str) -> None:
    """The encode fails inside FFmpeg (an av error carrying ENOSPC), the image in Python's write."""
    _leave_free(tmpfs, 30_000)
    report = fix([media / name], tmpfs / "out", content=False)
    (result,) = report.results
    assert result.output is None and result.reason.startswith("output.no_space: ")
    assert not (tmpfs / "out").exists()  # fix made the folder, wrote nothing: it is gone
    assert _leftovers(tmpfs) == []


def test_a_full_disk_at_the_write_boundary(tmp_path: Path, media: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a tmpfs: the temporary file's creation is where ENOSPC comes from."""
    from preflight.fix import outputs

    real = outputs.create_temp

    def full(target: Path) -> Path:
        if target.name.startswith(".preflight-write-check"):
            return real(target)  # the folder is writable; the disk fills later
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(outputs, "create_temp", full)
    report = fix([media / "small.jpg", media / "noisy.mkv"], tmp_path / "out", content=False)
    assert [r.reason.split(":")[0] for r in report.results] == ["output.no_space", "output.no_space"]
    assert not report.ok


# --- 2. a folder that cannot be written --------------------------------------------------------


def test_a_read_only_folder_is_reported_for_every_file_before_any_decoding(
    tmpfs: Path, media: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    (tmpfs / "out").mkdir()
    _readonly(tmpfs)

    def no_decoding(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("content analysis ran although nothing can be written")

    monkeypatch.setattr("preflight.api._analyze", no_decoding)
    code = main(["fix", "--json", str(media / "small.jpg"), str(media / "noisy.mkv"), "-o", str(tmpfs / "out")])
    assert code == 1
    items = json.loads(capsys.readouterr().out)["items"]
    assert [i["reason"].split(":")[0] for i in items] == ["output.not_writable", "output.not_writable"]
    assert "read-only file system" in items[0]["reason"] and str(tmpfs / "out") in items[0]["reason"]
    assert [i["verdict"] for i in items] == ["pass", "fixable"]  # the inputs' limits are still reported


def test_no_permission_is_reported_for_every_file(tmp_path: Path, media: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """EACCES at the write boundary (root is never refused by modes, so it is made there)."""
    from preflight.fix import outputs

    def refused(target: Path) -> Path:
        raise PermissionError(errno.EACCES, "Permission denied", str(temp_path(target)))

    monkeypatch.setattr(outputs, "create_temp", refused)
    report = fix([media / "small.jpg", media / "noisy.mkv"], tmp_path / "out", content=False)
    reasons = [r.reason for r in report.results]
    assert all(r.startswith("output.not_writable: ") and "permission denied" in r for r in reasons), reasons
    assert not (tmp_path / "out").exists()


def test_no_permission_for_real_without_root_powers(tmp_path: Path, media: Path) -> None:
    import shutil

    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    command = [sys.executable, "-m", "preflight", "fix", "--no-content", "--json", str(media / "small.jpg"),
               str(media / "noisy.mkv"), "-o", str(locked / "out")]  # fmt: skip
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("root writes everywhere (and setpriv is missing to drop that)")
        command = ["setpriv", "--bounding-set=-dac_override", "--inh-caps=-dac_override", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if os.geteuid() == 0 and "cannot" in done.stderr and "setpriv" in done.stderr:
        pytest.skip(f"setpriv cannot drop capabilities here: {done.stderr.strip()}")
    assert done.returncode == 1, done.stderr
    reasons = [i["reason"] for i in json.loads(done.stdout)["items"]]
    assert [r.split(":")[0] for r in reasons] == ["output.not_writable"] * 2, reasons


# --- 3. prepare on a full disk -----------------------------------------------------------------


def test_prepare_on_a_full_disk_removes_the_folder_it_made(tmpfs: Path, media: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    clip = _noisy_clip(tmpfs.parent / "take.mkv")
    _leave_free(tmpfs, 150_000)
    job = tmpfs / "jobs" / "job1"
    code = main(["prepare", "--no-content", "--image", str(media / "small.jpg"), "--video", str(clip), "-o", str(job)])
    out = capsys.readouterr().out
    assert code == 1 and "output.no_space" in out and "NOT KEPT" in out
    assert not (tmpfs / "jobs").exists()  # the image it had written, the folder and its new parent: gone


def test_prepare_never_removes_a_folder_that_existed(tmpfs: Path, media: Path) -> None:
    clip = _noisy_clip(tmpfs.parent / "take.mkv")
    job = tmpfs / "job"
    job.mkdir()
    (job / "notes.txt").write_text("mine")
    _leave_free(tmpfs, 150_000)
    result = prepare(media / "small.jpg", clip, job, content=False)
    assert not result.ok and result.video.reason.startswith("output.no_space")
    assert job.is_dir() and (job / "notes.txt").read_text() == "mine"
    assert _leftovers(job) == []


def test_prepare_that_fails_takes_back_what_it_wrote_in_a_new_folder(tmp_path: Path, media: Path) -> None:
    short = make_clip(tmp_path / "short.mp4", duration=2, width=352, height=352, fps=FPS)
    result = prepare(media / "small.jpg", short, tmp_path / "job", content=False)
    assert not result.ok and result.video.reason.startswith("duration.too_short")
    assert result.image.output is None and result.image.reason.startswith("not kept")
    assert not (tmp_path / "job").exists()


def test_a_bundle_copy_on_a_full_disk_leaves_no_partial_file(tmpfs: Path, media: Path) -> None:
    _leave_free(tmpfs, 100_000)
    with pytest.raises(FixError) as info:
        write_bundle(tmpfs / "bundle", media / "small.jpg", media / "noisy.mkv", profile="kling-v2.6")
    assert info.value.code == "output.no_space"
    assert sorted(p.name for p in (tmpfs / "bundle").iterdir()) == ["small.jpg"]  # whole, or not there


# --- 4. modes ----------------------------------------------------------------------------------


@pytest.fixture(params=[0o022, 0o002], ids=["umask022", "umask002"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def _mode(path: str | Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_outputs_get_the_umask_mode(tmp_path: Path, media: Path, umask: int) -> None:
    want = 0o666 & ~umask
    report = fix([media / "small.jpg", media / "photo.webp", media / "noisy.mkv", media / "part2.avi"],
                 tmp_path / "fixed", content=False)  # fmt: skip
    assert all(r.output for r in report.results), [r.reason for r in report.results]
    assert {Path(r.output).name: oct(_mode(r.output)) for r in report.results} == {
        name: oct(want) for name in ("small.jpg", "photo.jpg", "noisy.mp4", "part2.mp4")
    }
    clip = make_clip(tmp_path / "take.mp4", duration=3.5, width=480, height=640, fps=FPS)
    done = prepare(media / "small.jpg", clip, tmp_path / "job", content=False)
    assert done.ok
    assert {p.name: oct(_mode(p)) for p in (tmp_path / "job").iterdir()} == {
        "small.jpg": oct(want), "take.mp4": oct(want), "manifest.json": oct(want)
    }  # fmt: skip
    batch = run_batch([media / "small.jpg", media / "photo.webp"], outdir=tmp_path / "batch", content=False, jobs=1)
    assert {p.name: oct(_mode(p)) for p in (tmp_path / "batch").iterdir()} == {
        "small.jpg": oct(want), "photo.jpg": oct(want), ".preflight-batch.jsonl": oct(want)
    }  # fmt: skip
    assert batch.ok


# --- 5. what a kill -9 left --------------------------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_only_our_stale_temporary_files_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "clip.mp4"
    stale = temp_path(target).name.replace(f".pf-{os.getpid()}-", f".pf-{_dead_pid()}-")
    live = temp_path(target).name  # this process: still writing
    others = [".clip.x1y2z3.part.mp4", "clip.pf-1-h-abcdef.part.mp4", ".notes.txt", "clip.mp4"]
    for name in [stale, live, *others]:
        (tmp_path / name).write_bytes(b"x")
    assert is_temp_name(stale) and is_temp_name(live) and not any(is_temp_name(n) for n in others)
    assert remove_stale_temps(tmp_path) == [tmp_path / stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live, *others])


def _wait_for_temp(folder: Path, process: subprocess.Popen, seconds: float = 90) -> Path:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"fix ended (exit {process.returncode}) before it was caught writing")
        for path in folder.glob(".*") if folder.exists() else ():
            try:
                if is_temp_name(path.name) and path.stat().st_size > 0:
                    return path
            except FileNotFoundError:
                continue
        time.sleep(0.02)
    raise AssertionError("no temporary file appeared")


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MPEG-4 Part 2 clip fix must re-encode; long enough to be caught mid-encode."""
    d = tmp_path_factory.mktemp("long")
    return make_clip(d / "long.avi", duration=30, width=640, height=360, fps=25, container="avi", codec="mpeg4")


def test_a_kill_9_mid_encode_is_cleaned_up_by_the_next_run(tmp_path: Path, long_clip: Path, media: Path) -> None:
    out = tmp_path / "out"
    command = [sys.executable, "-m", "preflight", "fix", "--no-content", str(long_clip), "-o", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        left = _wait_for_temp(out, process)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert left.exists() and is_temp_name(left.name)  # a kill -9 cleans nothing
    again = subprocess.run([sys.executable, "-m", "preflight", "fix", "--no-content", str(media / "small.jpg"), "-o",
                            str(out)], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in out.iterdir()) == ["small.jpg"]


# --- 6. Ctrl-C, SIGTERM and any other interruption while writing --------------------------------


class Boom(BaseException):
    """Not an Exception: what a signal handler or a framework might raise."""


@pytest.mark.parametrize("raised", [KeyboardInterrupt, SystemExit, Boom])
def test_an_interrupted_encode_removes_its_temporary_file(
    tmp_path: Path, media: Path, monkeypatch: pytest.MonkeyPatch, raised: type
) -> None:
    from preflight.fix import video

    real, calls = video._feed, []
    seen: list[Path] = []

    def feed(*args):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 5:
            seen.extend(p for p in (tmp_path / "out").iterdir() if is_temp_name(p.name))
            raise raised()
        return real(*args)

    monkeypatch.setattr(video, "_feed", feed)
    with pytest.raises(raised):
        fix([media / "part2.avi"], tmp_path / "out", content=False)
    assert len(seen) == 1  # it was being written under its temporary name
    assert not seen[0].exists() and not (tmp_path / "out").exists()


def test_an_interrupted_image_write_removes_its_temporary_file(
    tmp_path: Path, media: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from preflight.fix import outputs

    def interrupted(path: Path) -> None:
        assert path.stat().st_size > 0 and _mode(path) == 0o600  # private while written
        raise KeyboardInterrupt

    monkeypatch.setattr(outputs, "share", interrupted)
    (tmp_path / "out").mkdir()
    with pytest.raises(KeyboardInterrupt):
        fix([media / "photo.webp"], tmp_path / "out", content=False)
    assert list((tmp_path / "out").iterdir()) == []  # a folder that existed stays, empty


SIGTERM_AS_CTRL_C = """
import signal, sys
def interrupt(signum, frame):
    raise KeyboardInterrupt
signal.signal(signal.SIGTERM, interrupt)  # what the CLI does with SIGTERM: the Ctrl-C path
from preflight.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_sigterm_through_the_ctrl_c_path_cleans_up(tmp_path: Path, long_clip: Path) -> None:
    out = tmp_path / "out"
    command = [sys.executable, "-c", SIGTERM_AS_CTRL_C, "fix", "--no-content", str(long_clip), "-o", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        left = _wait_for_temp(out, process)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert not left.exists() and not out.exists()


# --- 8. one batch per output folder ------------------------------------------------------------


def test_a_second_batch_into_the_same_folder_refuses_at_once(tmp_path: Path, media: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    with OutputLock(out):
        assert (out / LOCK_NAME).exists()
        started = time.monotonic()
        with pytest.raises(PreflightError) as info:
            run_batch([media / "small.jpg"], outdir=out, content=False, jobs=1)
        assert info.value.code == "batch.locked" and f"pid {os.getpid()}" in info.value.message
        assert main(["batch", "--no-content", "-q", "-j", "1", str(media / "small.jpg"), "-o", str(out)]) == 1
        assert time.monotonic() - started < 30  # refused, not waited
        err = capsys.readouterr().err
        assert "preflight: batch.locked: " in err and f"pid {os.getpid()}" in err
        assert list(out.iterdir()) == [out / LOCK_NAME]  # nothing written, no state mixed in
    assert not out.exists()  # the lock made the folder; nothing else used it


def test_a_lock_left_by_a_killed_batch_does_not_block(tmp_path: Path, media: Path) -> None:
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom preflight.batch.lock import OutputLock\n"
         "OutputLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(120)", str(out)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(PreflightError, match=f"pid {holder.pid}"):
            run_batch([media / "small.jpg"], outdir=out, content=False, jobs=1)
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()  # type: ignore[union-attr]
    assert (out / LOCK_NAME).exists()  # a kill -9 leaves the file; the kernel dropped the lock
    result = run_batch([media / "small.jpg"], outdir=out, content=False, jobs=1)
    assert result.ok and (out / "small.jpg").exists() and not (out / LOCK_NAME).exists()


def test_a_read_only_batch_folder_is_refused_before_any_file(tmpfs: Path, media: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    _readonly(tmpfs)
    assert main(["batch", "--no-content", "-q", "-j", "1", str(media / "small.jpg"), "-o", str(tmpfs / "out")]) == 1
    assert "preflight: output.not_writable: " in capsys.readouterr().err


def test_a_full_disk_in_a_batch_is_per_file_and_the_state_does_not_stop_it(tmpfs: Path, media: Path) -> None:
    _leave_free(tmpfs, 200_000)
    result = run_batch([media / "noisy.mkv", media / "small.jpg"], outdir=tmpfs / "out", content=False, jobs=1)
    by_name = {Path(r.path).name: r for r in result.results}
    assert by_name["noisy.mkv"].reason.startswith("output.no_space")
    assert by_name["small.jpg"].output == str(tmpfs / "out" / "small.jpg")
    assert _leftovers(tmpfs / "out") == [".preflight-batch.jsonl"]


def test_an_aborted_pool_worker_removes_its_temporary_file(tmp_path: Path, long_clip: Path) -> None:
    """abort() (the second Ctrl-C) terminates the workers with SIGTERM: the one encoding unwinds."""
    import threading

    from preflight.batch import BatchSettings
    from preflight.batch.executors import LocalExecutor

    out = tmp_path / "out"
    engine = LocalExecutor(jobs=1, pin=False)
    failures: list[BaseException] = []

    def drive() -> None:
        try:
            list(engine.run([(str(long_clip), "")], BatchSettings(outdir=str(out), content=False)))
        except BaseException as exc:  # the pool breaks when its worker is terminated
            failures.append(exc)

    runner = threading.Thread(target=drive)
    runner.start()
    try:
        deadline = time.monotonic() + 90
        left = None
        while left is None and time.monotonic() < deadline:
            left = next((p for p in out.glob(".*") if is_temp_name(p.name)), None) if out.exists() else None
            time.sleep(0.02)
        assert left is not None, "the worker never started writing"
        engine.abort()
        runner.join(60)
        gone = time.monotonic() + 30
        while left.exists() and time.monotonic() < gone:
            time.sleep(0.02)
    finally:
        engine.close()
        runner.join(60)
    assert not left.exists()
    assert [p.name for p in out.iterdir()] == []
