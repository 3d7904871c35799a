"""jobs resume and pending rows: never race a submit still running in another process."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
from ledger_rows import bare_job

from preflight.cli import main
from preflight.submit.base import JobStatus
from preflight.submit.ledger import Ledger
from preflight.submit.owner import STALE_AFTER, busy_reason, current_owner, is_alive, process_started


def _submit_in_another_process(server, media) -> subprocess.Popen:
    image, clip = media
    server.files["hosted-clip.mp4"] = clip.read_bytes()
    args = ["submit", "--image", str(image), "--video", str(clip), "--provider", "kling", "--yes"]
    args += ["--base-url", server.url, "--video-url", f"{server.url}/files/hosted-clip.mp4"]
    # The environment (keys, ledger path) comes from the fixtures' monkeypatched os.environ.
    return subprocess.Popen(
        [sys.executable, "-m", "preflight", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _hold_creates(server) -> tuple[threading.Event, threading.Event]:
    """The fake creates the task, then holds its answer until released: a create still in flight."""
    arrived, release = threading.Event(), threading.Event()

    def hold(task_id, body):
        arrived.set()
        release.wait(30)

    server.on_create = hold
    return arrived, release


def test_resume_leaves_a_row_alone_while_its_submit_runs(fake, media, capsys):
    server = fake("kling")
    arrived, release = _hold_creates(server)
    child = _submit_in_another_process(server, media)
    try:
        assert arrived.wait(60), child.stderr.read() if child.poll() is not None else "no create arrived"
        (job,) = Ledger().jobs()
        assert job.status == "pending" and job.owner_pid == child.pid and job.heartbeat_at
        assert process_started(child.pid) == job.owner_started

        code = main(["jobs", "resume"])
        out = capsys.readouterr().out
        assert code == 1  # not finished, and said so
        assert f"job {job.id}: pending" in out and f"left alone: pid {child.pid}" in out
        assert Ledger().get(job.id).status == "pending" and server.creates == 1
        assert not any(method == "GET" for method, _, _ in server.requests)  # no lookup raced the create
    finally:
        release.set()
        _, stderr = child.communicate(timeout=60)
    assert child.returncode == 0, stderr
    job = Ledger().get(job.id)
    assert job.status == "queued" and job.task_id in server.tasks  # the owner recorded its own answer
    assert main(["jobs", "resume"]) == 0
    assert Ledger().get(job.id).status == "succeeded" and server.creates == 1


def test_resume_settles_a_row_whose_owner_was_killed(fake, media, capsys):
    server = fake("kling")
    arrived, release = _hold_creates(server)
    child = _submit_in_another_process(server, media)
    try:
        assert arrived.wait(60), "no create arrived"
        os.kill(child.pid, signal.SIGKILL)  # dies between the create and its answer
        child.wait(timeout=30)
    finally:
        release.set()
        child.communicate(timeout=30)
    (job,) = Ledger().jobs()
    assert job.status == "pending" and is_alive(_owner(job)) is False

    assert main(["jobs", "resume"]) == 0
    assert "left alone" not in capsys.readouterr().out
    job = Ledger().get(job.id)
    # Kling finds the task by our external id: recorded and finished, never created twice.
    assert job.status == "succeeded" and job.task_id in server.tasks and server.creates == 1
    assert [e["status"] for e in job.events][:2] == ["pending", "unknown"]


def _owner(job):
    from preflight.submit.owner import Owner

    return Owner(job.owner_pid, job.owner_host, job.owner_started)


def _pending_row(tmp_path, **columns):
    ledger = Ledger(tmp_path / "l.db")
    job = bare_job(ledger, "kling")
    if columns:
        with sqlite3.connect(ledger.path) as db:
            assignments = ", ".join(f"{name} = ?" for name in columns)
            db.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", (*columns.values(), job.id))
    return ledger.get(job.id)


def _ago(seconds: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat(timespec="seconds")


def test_who_counts_as_busy(tmp_path):
    mine = _pending_row(tmp_path)
    assert mine.owner_pid == os.getpid() and busy_reason(mine)  # alive, heartbeat just written
    assert busy_reason(_pending_row(tmp_path, heartbeat_at=_ago(STALE_AFTER + 5))) is None  # silent too long
    # Another host: the pid cannot be checked, a recent heartbeat alone keeps it busy.
    elsewhere = _pending_row(tmp_path, owner_host="render-box-7", owner_pid=1)
    assert "another host" in busy_reason(elsewhere)
    # A recycled pid: alive, but not the process that wrote the row.
    if process_started(os.getpid()) is not None:
        assert busy_reason(_pending_row(tmp_path, owner_started="other-boot:1")) is None
    # Rows written before owners were recorded are settled as before.
    assert busy_reason(_pending_row(tmp_path, owner_pid=None, owner_host=None)) is None


def test_a_dead_pid_is_not_alive():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    from preflight.submit.owner import Owner

    assert is_alive(Owner(child.pid, current_owner().host, None)) is False


def test_an_old_ledger_gains_the_owner_columns(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, provider TEXT NOT NULL, base_url TEXT NOT NULL,"
            " idempotency_key TEXT NOT NULL, external_id TEXT NOT NULL UNIQUE, status TEXT NOT NULL, raw_status TEXT,"
            " task_id TEXT, provider_data TEXT NOT NULL DEFAULT '{}', image TEXT, video TEXT, image_sha256 TEXT,"
            " video_sha256 TEXT, settings TEXT NOT NULL, duration REAL, cost_estimate REAL, result_url TEXT,"
            " result_expires_at TEXT, output TEXT, message TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
        )
        db.execute(
            "INSERT INTO jobs (provider, base_url, idempotency_key, external_id, status, settings, created_at,"
            " updated_at) VALUES ('kie', 'u', 'k', 'e', 'pending', '{}', 't', 't')"
        )
    (job,) = Ledger(path).jobs()
    assert job.status is JobStatus.PENDING and job.owner_pid is None and busy_reason(job) is None


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="needs SIGINT")
def test_ctrl_c_during_the_create_marks_the_row_unknown(fake, media):
    server = fake("kling")
    arrived, release = _hold_creates(server)
    child = _submit_in_another_process(server, media)
    try:
        assert arrived.wait(60), "no create arrived"
        child.send_signal(signal.SIGINT)
        child.wait(timeout=30)
    finally:
        release.set()
        child.communicate(timeout=30)
    assert child.returncode == 130
    (job,) = Ledger().jobs()
    assert job.status == "unknown" and "interrupted during the create" in job.message
