"""Every way the CLI can end badly ends in one coded line and a documented exit code.

``preflight: <code>: <message>`` on stderr, exit 1 for the input or the environment, 2 for usage,
3 only for a real bug, 130/143 when stopped by SIGINT/SIGTERM, never a traceback.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest

from preflight.cli import Terminated, main
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
    (line,) = err.splitlines()
    assert line.startswith(f"preflight: usage.invalid: Invalid value for {window[-2]}".replace("for -", "for '-")[:44])
    assert line.endswith(f"(preflight {command} --help)")
    assert not (tmp_path / "out").exists() and not (tmp_path / "b").exists()


ONE_USAGE_LINE = re.compile(r"preflight: usage\.invalid: \S.* \(preflight( [a-z]+)* --help\)")

CLICK_USAGE_ERRORS = {
    "unknown command": (["nosuch"], "preflight --help", "No such command 'nosuch'."),
    "unknown option": (["check", "--nope", "x.mp4"], "preflight check --help", "No such option '--nope'."),
    "root option": (["--nope"], "preflight --help", "No such option '--nope'."),
    "missing argument": (["check"], "preflight check --help", "Missing argument 'PATHS...'."),
    "bad choice": (["check", "--orientation", "sideways", "x.mp4"], "preflight check --help", "'sideways' is not one"),
    "option without value": (["fix", "-o"], "preflight fix --help", "Option '-o' requires an argument."),
    "batch without input": (["batch"], "preflight batch --help", "Missing argument"),
    "prepare bad option": (["prepare", "--nope"], "preflight prepare --help", "No such option"),
    "submit bad option": (["submit", "--nope"], "preflight submit --help", "No such option"),
    "probe without input": (["probe"], "preflight probe --help", "Missing argument"),
    "demo bad option": (["demo", "--nope"], "preflight demo --help", "No such option"),
    "subgroup command": (["jobs", "nosuch"], "preflight jobs --help", "No such command 'nosuch'."),
    "subgroup bad value": (["jobs", "show", "abc"], "preflight jobs show --help", "'abc' is not a valid integer"),
    "profiles command": (["profiles", "nosuch"], "preflight profiles --help", "No such command"),
    "models command": (["models", "nosuch"], "preflight models --help", "No such command"),
    "options that exclude each other": (["batch", "--check-only", "-o", "out", "x"], "preflight batch --help",
                                        "--check-only and -o/--outdir exclude each other"),
}  # fmt: skip


@pytest.mark.parametrize("case", CLICK_USAGE_ERRORS)
def test_click_usage_errors_are_one_coded_line(capsys: pytest.CaptureFixture[str], case: str) -> None:
    """Was three lines (Usage:, Try ..., Error: ...) unlike every other error."""
    args, hint, words = CLICK_USAGE_ERRORS[case]
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    (line,) = err.splitlines()
    assert ONE_USAGE_LINE.fullmatch(line), line
    assert line.endswith(f"({hint})") and words in line


@pytest.mark.parametrize("group", [[], ["jobs"], ["profiles"], ["models"]])
def test_a_group_without_a_command_shows_its_help_and_one_line(
    capsys: pytest.CaptureFixture[str], group: list[str]
) -> None:
    code, out, err = run(capsys, *group)
    path = " ".join(["preflight", *group])
    assert code == 2 and out.startswith(f"Usage: {path} [OPTIONS] COMMAND")
    assert err.splitlines() == [f"preflight: usage.invalid: missing a command ({path} --help)"]


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["-h"],
        ["check", "--help"],
        ["jobs", "--help"],
        ["jobs", "show", "--help"],
        ["batch", "-h"],
        ["profiles", "--help"],
        ["--version"],
    ],
)
def test_help_and_version_still_print_and_exit_0(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    code, out, err = run(capsys, *args)
    assert code == 0 and err == ""
    assert out.startswith("Usage: preflight") or out.startswith("preflight, version")


def run_preflight(*args: str, stdout: int = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PREFLIGHT_DEBUG"}
    return subprocess.run([sys.executable, "-m", "preflight", *args], stdout=stdout, stderr=subprocess.PIPE,
                          text=True, env=env, timeout=120)  # fmt: skip


def test_usage_error_in_a_real_process() -> None:
    done = run_preflight("check", "--orientation", "sideways", "x.mp4")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "preflight: usage.invalid: Invalid value for '--orientation': 'sideways' is not one of 'image', 'video'. "
        "(preflight check --help)"
    ]


def test_a_profile_threshold_that_is_not_a_number_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, clip: Path
) -> None:
    profile = tmp_path / "odd.toml"
    profile.write_text('base = "kling-v2.6"\n[content]\npose_min_torso_share = nan\nblur_min_variance = inf\n')
    code, _, err = run(capsys, "check", "--profile", str(profile), str(clip))
    assert code == 2 and err.startswith("preflight: profile.invalid: ")


# --- interrupts: Ctrl-C and SIGTERM ------------------------------------------------------------


def _raising(exc: BaseException):  # type: ignore[no-untyped-def]
    def boom(*args: object, **kwargs: object) -> None:
        raise exc

    return boom


@pytest.mark.parametrize(
    ("exc", "code", "line"),
    [(KeyboardInterrupt(), 130, "preflight: interrupted: stopped by Ctrl-C (SIGINT)"),
     (Terminated(), 143, "preflight: interrupted: stopped by SIGTERM")],
)  # fmt: skip
def test_an_interrupt_is_one_coded_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, clip: Path,
    exc: BaseException, code: int, line: str,
) -> None:  # fmt: skip
    """Was a blank line (click's) and an uncoded "preflight: interrupted"."""
    from preflight import api

    monkeypatch.setattr(api, "check", _raising(exc))
    assert run(capsys, "check", str(clip)) == (code, "", line + "\n")


def test_a_question_on_a_closed_stdin_is_not_an_interrupt(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, clip: Path
) -> None:
    """click.confirm turns the end of stdin into Abort, which read as "interrupted" (exit 130)."""
    from preflight import api

    def ask(*args: object, **kwargs: object) -> None:
        try:
            raise EOFError
        except EOFError:
            raise click.exceptions.Abort() from None  # what click.confirm does

    monkeypatch.setattr(api, "check", ask)
    code, _, err = run(capsys, "check", str(clip))
    assert (code, err) == (2, "preflight: usage.invalid: a question went unanswered: stdin ended "
                              "(pass --yes to answer yes)\n")  # fmt: skip


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1080p MPEG-4 Part 2: fix must re-encode it to H.264, which takes seconds (30 s of it: with 10 a
    loaded machine once let the encode finish between the signal's send and its handling, exit 0)."""
    return make_clip(tmp_path_factory.mktemp("sig") / "long.mp4", duration=30, width=1920, height=1080,
                     codec="mpeg4")  # fmt: skip


def _stop_mid_encode(args: list[str], outdir: Path, signum: int) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PREFLIGHT_DEBUG"}
    child = subprocess.Popen([sys.executable, "-m", "preflight", *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not list(outdir.glob("**/.*.part.*")):  # the encode's temporary output exists
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "no temporary output appeared"
            time.sleep(0.02)
        time.sleep(0.3)  # well into the encode
        assert child.poll() is None, "finished before the signal: make the clip longer"
        child.send_signal(signum)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


@pytest.mark.parametrize(
    ("signum", "code", "line"),
    [(signal.SIGINT, 130, "preflight: interrupted: stopped by Ctrl-C (SIGINT)"),
     (signal.SIGTERM, 143, "preflight: interrupted: stopped by SIGTERM")],
)  # fmt: skip
def test_fix_stopped_mid_encode_says_so_and_leaves_nothing(
    tmp_path: Path, long_clip: Path, signum: int, code: int, line: str
) -> None:
    """SIGTERM used to kill the process outright (exit -15) and leave the half-written temporary file."""
    out = tmp_path / "out"
    done = _stop_mid_encode(["fix", "--no-content", "-o", str(out), str(long_clip)], out, signum)
    assert (done.returncode, done.stderr) == (code, line + "\n")
    assert "Traceback" not in done.stdout
    assert not out.exists() or list(out.iterdir()) == []  # no temporary file, no partial output (fix
    # removes an output folder it made and left empty)


def test_batch_stopped_by_sigterm_keeps_its_state_and_says_how_far_it_got(tmp_path: Path, long_clip: Path) -> None:
    out = tmp_path / "ready"
    done = _stop_mid_encode(["batch", "--no-content", "-q", "-j", "1", "-o", str(out), str(long_clip)], out,
                            signal.SIGTERM)  # fmt: skip
    assert done.returncode == 143, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("preflight: interrupted: stopped by SIGTERM; 0 of 1 file(s) done, state kept in ")
    assert not list(out.glob("**/.*.part.*")) and not list(out.glob("*.mp4"))


# --- a closed stdout ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["check", "--no-content"], ["check", "--no-content", "--json"], ["probe"],
     ["batch", "--check-only", "--no-content", "-q", "-j", "1", "--jsonl"], ["--help"], ["profiles", "list"]],
)  # fmt: skip
def test_a_reader_that_leaves_early_ends_the_run_quietly(tmp_path: Path, clip: Path, args: list[str]) -> None:
    """`preflight check ... | head -1`: was exit 120 with "Exception ignored ... BrokenPipeError" (or
    exit 1 from click), now exit 141 and nothing on stderr, as SIGPIPE ends other tools."""
    if args[0] in ("check", "probe", "batch"):
        args = [*args, str(clip)]
    if args[0] == "batch":
        args = [*args, "--state", str(tmp_path / "state.jsonl")]
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first byte
    try:
        done = run_preflight(*args, stdout=write_end)
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (141, "")


# --- the environment, not a bug ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "line"),
    [(PermissionError(errno.EACCES, "Permission denied", "/srv/out/r.json"),
      "preflight: output.not_writable: /srv/out/r.json: Permission denied"),
     (OSError(errno.EROFS, "Read-only file system", "/mnt/ro/x"), "preflight: output.not_writable: /mnt/ro/x: "
                                                                  "Read-only file system"),
     (FileNotFoundError(errno.ENOENT, "No such file or directory", "/gone"),
      "preflight: file.not_found: /gone: No such file or directory"),
     (OSError(errno.ENOSPC, "No space left on device", "/full/out.mp4"),
      "preflight: output.no_space: /full/out.mp4: No space left on device"),
     (OSError(errno.EIO, "Input/output error"), "preflight: os.error: Input/output error"),
     (OSError(errno.EXDEV, "Invalid cross-device link", "/a\nb", None, "/c"),
      "preflight: os.error: /a\\nb -> /c: Invalid cross-device link"),
     (MemoryError(), "preflight: memory.exhausted: this machine ran out of memory (try fewer --jobs, or smaller "
                     "inputs)")],
)  # fmt: skip
def test_os_errors_are_the_environment_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, clip: Path, exc: BaseException, line: str
) -> None:
    """These were internal.error (exit 3, "a bug") with Python's "[Errno 13] ..." wording."""
    from preflight import api

    monkeypatch.setattr(api, "check", _raising(exc))
    assert run(capsys, "check", str(clip)) == (1, "", line + "\n")
    monkeypatch.setenv("PREFLIGHT_DEBUG", "1")
    with pytest.raises(type(exc)):
        main(["check", str(clip)])


needs_linux_fs = pytest.mark.skipif(
    not Path("/proc/self").is_dir() or not Path("/sys/kernel").is_dir(),
    reason="uses /proc and /sys, where nobody (not even root) may create a file",
)


@needs_linux_fs
@pytest.mark.parametrize(
    ("args", "line"),
    [(["check", "--report", "/proc/preflight-report.json"],
      "preflight: file.not_found: /proc/preflight-report.json: cannot write the report: No such file or directory"),
     (["check", "--report", "/sys/kernel/preflight.xml"],
      "preflight: output.not_writable: /sys/kernel/preflight.xml: cannot write the report: Permission denied"),
     (["batch", "--check-only", "-q", "--report", "/sys/kernel/preflight.json"],
      "preflight: output.not_writable: /sys/kernel/preflight.json: cannot write the report: Permission denied")],
)  # fmt: skip
def test_a_report_or_state_file_that_cannot_be_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, clip: Path, args: list[str], line: str
) -> None:
    """Was internal.error, naming the hidden temporary file (/proc/.preflight-report.json.x1y2.tmp)."""
    if args[0] == "batch" and "--state" not in args:
        args = [*args, "--state", str(tmp_path / "state.jsonl")]
    code, _, err = run(capsys, *args, "--no-content", str(clip))
    assert (code, err) == (1, line + "\n")


@needs_linux_fs
def test_a_state_file_that_cannot_be_written_costs_only_resume(tmp_path: Path, clip: Path) -> None:
    """The batch goes on (the state is a convenience) and says once, on one line, what is lost."""
    done = run_preflight("batch", "--check-only", "-q", "--no-content", "--state", "/proc/preflight-state.jsonl",
                         str(clip))  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == ["preflight: WARNING: /proc/preflight-state.jsonl: the resume state is not saved from here on "
                     "(No such file or directory); the batch goes on"]  # fmt: skip


def test_a_report_into_a_fifo_or_through_a_link_does_not_replace_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, clip: Path
) -> None:
    """The atomic rename replaced whatever was at --report: as root, `--report /dev/stdout` put a
    regular file where the system's /dev/stdout link was (tested here on a FIFO and a link of our own)."""
    import threading

    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    code, _, err = run(capsys, "check", "--no-content", "--report", str(fifo), str(clip))
    reader.join(timeout=30)
    assert (code, err) == (0, "") and json.loads(got[0])["summary"]["pass"] == 1
    assert fifo.is_fifo()
    real, link = tmp_path / "real.xml", tmp_path / "link.xml"
    link.symlink_to(real)
    assert run(capsys, "check", "--no-content", "--report", str(link), str(clip))[0] == 0
    assert link.is_symlink() and real.read_text().startswith('<?xml version="1.0"')
