"""batch: a worker killed mid-file (as the OOM killer does) costs only that file; a batch killed outright
leaves no process behind (workers, fork server, resource tracker) and no temporary folder of its workers
that the next batch would not remove."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import worker_faults
from process_tree import kill_9_and_assert_nothing_left
from worker_faults import marker_of, pids_in, wait_for_pid

from preflight.batch import BatchState, run_batch
from preflight.samples import make_image

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kills processes found in /proc")

TESTS = Path(__file__).resolve().parent
RUN_CLI_HOLDING = (
    "import sys, worker_faults, preflight.batch.executors as e\n"
    "e.process_file = worker_faults.process_file_holding\n"
    "from preflight.cli import main\n"
    "if __name__ == '__main__':\n"
    "    sys.exit(main(sys.argv[1:]))\n"
)
"""``preflight`` with the per-file function that holds ``*hold*`` files (a ``-c`` program)."""


def _folder(root: Path) -> Path:
    """a-hold.png (held until its worker is killed), b-slow.png (running elsewhere when that happens), 4 more."""
    root.mkdir()
    for i, name in enumerate(["a-hold", "b-slow", "c1", "c2", "c3", "c4"]):
        make_image(root / f"{name}.png", format="PNG", width=640 + 8 * i, height=800)  # distinct contents
    return root


def _kill_when_both_run(folder: Path) -> threading.Thread:
    """SIGKILL the worker holding a-hold.png once b-slow.png is running on the other worker."""

    def kill() -> None:
        wait_for_pid(marker_of(folder / "b-slow.png"))
        os.kill(wait_for_pid(marker_of(folder / "a-hold.png")), signal.SIGKILL)

    killer = threading.Thread(target=kill, daemon=True)
    killer.start()
    return killer


def test_a_worker_killed_mid_file_costs_only_that_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import preflight.batch.executors as executors

    monkeypatch.setattr(executors, "process_file", worker_faults.process_file_holding)
    folder = _folder(tmp_path / "in")
    state = tmp_path / "state.jsonl"
    _kill_when_both_run(folder)
    result = run_batch([folder], content=False, jobs=2, state_path=state)

    rows = {Path(r.path).name: r for r in result.results}
    assert len(rows) == 6 and not result.interrupted
    held = rows["a-hold.png"]
    assert held.item.verdict == "fail" and [f.code for f in held.item.findings] == ["worker.died"]
    assert "killed by SIGKILL (signal 9)" in held.item.findings[0].message
    assert len(pids_in(marker_of(folder / "a-hold.png"))) == 1  # not tried again
    slow = rows["b-slow.png"]
    first, again = pids_in(marker_of(folder / "b-slow.png"))  # cut short by the break, then run again
    assert slow.item.verdict == "pass" and slow.ran_on.pid == again != first
    assert all(rows[name].item.verdict == "pass" for name in rows if name.startswith("c"))

    # --resume keeps the dead file's row like any other failing file (and does not run it again).
    again_result = run_batch([folder], content=False, jobs=2, state_path=state, resume=True)
    resumed = {Path(r.path).name: r for r in again_result.results}
    assert all(r.resumed for r in resumed.values())
    assert [f.code for f in resumed["a-hold.png"].item.findings] == ["worker.died"]
    assert len(BatchState(state)) == 6


def test_cli_batch_with_a_killed_worker_exits_1_with_a_worker_died_row(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "in")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    args = ["batch", str(folder), "--no-content", "--jsonl", "-j", "2", "--state", str(tmp_path / "s.jsonl")]
    proc = subprocess.Popen([sys.executable, "-c", RUN_CLI_HOLDING, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    _kill_when_both_run(folder)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err  # a failing input, not an internal error (3)
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    files = {Path(x["path"]).name: x for x in lines if x["event"] == "file"}
    assert {name: x["verdict"] for name, x in files.items()} == {
        "a-hold.png": "fail", "b-slow.png": "pass", "c1.png": "pass", "c2.png": "pass", "c3.png": "pass",
        "c4.png": "pass"}  # fmt: skip
    finding = files["a-hold.png"]["item"]["findings"][0]
    assert finding["code"] == "worker.died" and "SIGKILL (signal 9)" in finding["message"]
    assert lines[-1]["event"] == "summary" and lines[-1]["total"] == 6
    assert "BrokenProcessPool" not in err


def test_kill_9_of_batch_leaves_no_worker_fork_server_or_resource_tracker(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "in")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    args = ["batch", str(folder), "--no-content", "-q", "-j", "2", "--state", str(tmp_path / "s.jsonl")]
    batch = subprocess.Popen([sys.executable, "-c", RUN_CLI_HOLDING, *args], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=env)  # fmt: skip
    wait_for_pid(marker_of(folder / "a-hold.png"))  # a worker is busy on a file (and holds it)
    kill_9_and_assert_nothing_left(batch, workers=2)


def test_the_next_batch_removes_dead_workers_temporary_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from preflight.batch.work import SHEET_PREFIX
    from preflight.tempdirs import make_owned_tempdir

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # read TMPDIR again
    dead = subprocess.run([sys.executable, "-c", "from preflight.tempdirs import make_owned_tempdir as m; "
                           f"print(m({SHEET_PREFIX!r}))"], capture_output=True, text=True, check=True)  # fmt: skip
    left = Path(dead.stdout.strip())
    (left / "sheet.png").write_bytes(b"x" * 1000)
    alive = make_owned_tempdir(SHEET_PREFIX)  # this process's: it runs
    (tmp_path / "in").mkdir()
    make_image(tmp_path / "in" / "ok.png", format="PNG", width=640, height=800)
    run_batch([tmp_path / "in"], content=False, jobs=1, state_path=tmp_path / "s.jsonl")
    assert not left.exists() and alive.is_dir()
