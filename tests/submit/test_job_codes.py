"""The jobs commands' refusals that only a job in a given state meets: each a coded line, exit 1."""

from __future__ import annotations

import pytest
from cli_args import submit_args

from preflight.cli import main
from preflight.submit.ledger import Ledger


def _error_line(err: str, code: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("preflight: ")]
    assert len(lines) == 1 and lines[0].startswith(f"preflight: {code}: "), err
    return lines[0]


def test_a_job_still_running_has_no_result_cannot_be_cancelled_on_kling_and_not_after_it_ends(
    fake, media, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = fake("kling")  # statuses: submitted, processing, succeed (one per poll)
    assert main(submit_args("kling", server, media)) == 0  # no --wait: the job is left running
    (job,) = Ledger().jobs()
    capsys.readouterr()

    assert main(["jobs", "download", str(job.id), "-o", str(tmp_path / "out.mp4")]) == 1
    assert "has no result yet (status queued)" in _error_line(capsys.readouterr().err, "submit.no_result")
    assert not (tmp_path / "out.mp4").exists()

    assert main(["jobs", "cancel", str(job.id)]) == 1  # Kling's API documents no cancel
    assert "kling has no documented cancel" in _error_line(capsys.readouterr().err, "submit.unsupported")

    assert main(["jobs", "wait", str(job.id)]) == 0
    capsys.readouterr()
    assert main(["jobs", "cancel", str(job.id)]) == 1
    assert f"job {job.id} already succeeded" in _error_line(capsys.readouterr().err, "job.finished")
