"""The wait display: plain status-change lines when piped, one status line redrawn on a terminal."""

from __future__ import annotations

import io
import re

from ledger_rows import bare_job

from preflight.cli import main
from preflight.submit.base import JobStatus
from preflight.submit.ledger import Ledger
from preflight.submit.progress import WaitProgress, elapsed_text

LINE = re.compile(r"^job (\d+): (\S+) \((queued|running|succeeded|failed), (\d+ s|\d+ min \d+ s|\d+ h \d+ min)\)$")


def test_piped_wait_prints_one_plain_line_per_status_change(fake, media, capsys):
    server = fake("kie")
    image, clip = media
    args = ["submit", "--image", str(image), "--video", str(clip), "--provider", "kie", "--base-url", server.url]
    assert main([*args, "--yes", "--wait"]) == 0
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\r" not in err  # no terminal codes in a pipe
    lines = [line for line in err.splitlines() if line.startswith("job ")]
    matches = [LINE.match(line) for line in lines]
    assert all(matches), lines
    job = Ledger().jobs()[0]
    assert {m.group(1) for m in matches} == {str(job.id)}
    # Every status word after the create's own ("waiting"), once each, in order, with its folded status.
    assert [m.group(2) for m in matches] == list(server.statuses[1:])
    assert [m.group(3) for m in matches] == ["queued", "running", "succeeded"]


def test_jobs_wait_piped_uses_the_same_lines(fake, media, capsys):
    server = fake("replicate")
    image, clip = media
    args = ["submit", "--image", str(image), "--video", str(clip), "--provider", "replicate", "--yes"]
    assert main([*args, "--base-url", server.url]) == 0
    job = Ledger().jobs()[0]
    capsys.readouterr()
    assert main(["jobs", "wait", str(job.id)]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("job ")]
    assert [LINE.match(line).group(2) for line in lines] == ["processing", "succeeded"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _job(tmp_path, status, raw):
    ledger = Ledger(tmp_path / "l.db")
    job = bare_job(ledger, "fal")
    return ledger.update(job.id, status=status, raw_status=raw)


def test_on_a_terminal_one_line_is_redrawn_in_place(tmp_path):
    out, clock = io.StringIO(), Clock()
    with WaitProgress(out, force_terminal=True, clock=clock) as progress:
        assert progress.in_place
        progress.watch(_job(tmp_path, JobStatus.QUEUED, "IN_QUEUE"))
        clock.now += 40
        running = _job(tmp_path, JobStatus.RUNNING, "IN_PROGRESS")
        progress.polled(running)
        progress.changed(running)
        clock.now += 5
        progress._live.refresh()
        middle = out.getvalue()
        done = _job(tmp_path, JobStatus.SUCCEEDED, "COMPLETED")
        clock.now += 20
        progress.polled(done)
        progress.changed(done)
    text = out.getvalue()
    # Mid-way: the line shows the word, the fold, the time, the provider and the last poll's age...
    assert "job 2: IN_PROGRESS (running, 45 s)  [fal, checked 5 s ago]" in middle
    # ...and no line of its own per change: redraws use cursor codes, not new lines.
    assert "\x1b[" in middle and "\n" not in middle
    # The in-place line is wiped at the end and the final state printed once.
    assert text.rstrip().endswith("job 3: COMPLETED (succeeded, 1 min 5 s)")


def test_piped_form_unit(tmp_path):
    out, clock = io.StringIO(), Clock()
    with WaitProgress(out, clock=clock) as progress:
        assert not progress.in_place
        job = _job(tmp_path, JobStatus.QUEUED, "IN_QUEUE")
        progress.watch(job)
        progress.polled(job)  # a poll without a change prints nothing
        clock.now += 3661
        progress.changed(_job(tmp_path, JobStatus.FAILED, "COMPLETED"))
    assert out.getvalue() == "job 2: COMPLETED (failed, 1 h 1 min)\n"


def test_elapsed_text():
    assert [elapsed_text(s) for s in (0, 59.9, 60, 3599, 3600, -2)] == [
        "0 s",
        "59 s",
        "1 min 0 s",
        "59 min 59 s",
        "1 h 0 min",
        "0 s",
    ]
