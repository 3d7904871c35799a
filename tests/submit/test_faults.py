"""Faults around submit, jobs and the ledger: each ends in one coded line, never a traceback (exit 3).

Races are a process's behaviour, so they run the CLI in subprocesses against one fake server.
"""

from __future__ import annotations

import queue
import sqlite3
import subprocess
import sys
import threading

from preflight.submit.ledger import Ledger


def _one_error_line(err: str, code: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("preflight: ")]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"preflight: {code}: "), lines[0]
    return lines[0]


def _submit_args(server, media, *extra: str) -> list[str]:
    image, clip = media
    return [
        "submit",
        "--image",
        str(image),
        "--video",
        str(clip),
        "--provider",
        "fal",
        "--base-url",
        server.url,
        "--yes",
        *extra,
    ]


def _start(args: list[str]) -> tuple[subprocess.Popen, queue.Queue]:
    """The CLI in a child process (environment from the fixtures); its stderr lines arrive on a queue."""
    child = subprocess.Popen(
        [sys.executable, "-m", "preflight", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        with child.stderr:
            for line in child.stderr:
                lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return child, lines


def _wait_for_line(lines: queue.Queue, prefix: str, seen: list[str], timeout: float = 60) -> bool:
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            return False
        if line is None:
            return False
        seen.append(line)
        if line.startswith(prefix):
            return True


def test_two_submits_at_the_same_instant_create_once(fake, media):
    """Both processes plan (no earlier job) before either writes its row: the loser's INSERT is the check."""
    server = fake("fal")
    ledger = Ledger()
    # Hold the ledger's write lock: readers go on (both plan), writers wait (neither inserts yet).
    holder = sqlite3.connect(ledger.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    children = [_start(_submit_args(server, media)) for _ in range(2)]
    stderr: list[list[str]] = [[], []]
    try:
        # The cost line is printed after the plan, right before the row is written.
        for (_, lines), seen in zip(children, stderr, strict=True):
            assert _wait_for_line(lines, "cost:", seen), "".join(seen)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    codes = []
    for (child, lines), seen in zip(children, stderr, strict=True):
        child.wait(timeout=120)
        _wait_for_line(lines, "\0", seen, timeout=10)  # drain to the end
        codes.append(child.returncode)
    assert sorted(codes) == [0, 1], stderr
    loser = "".join(stderr[codes.index(1)])
    line = _one_error_line(loser, "submit.duplicate")
    assert "nothing was sent" in line
    assert server.creates == 1
    (job,) = Ledger().jobs()
    assert job.status == "queued"


def test_two_submits_started_together_create_once(fake, media):
    """Unsynchronised: whichever way the two interleave, one create and one submit.duplicate."""
    server = fake("fal")
    children = [_start(_submit_args(server, media)) for _ in range(2)]
    codes, stderr = [], []
    for child, lines in children:
        child.wait(timeout=120)
        seen: list[str] = []
        _wait_for_line(lines, "\0", seen, timeout=10)
        codes.append(child.returncode)
        stderr.append("".join(seen))
    assert sorted(codes) == [0, 1], stderr
    _one_error_line(stderr[codes.index(1)], "submit.duplicate")
    assert server.creates == 1 and len(Ledger().jobs()) == 1
