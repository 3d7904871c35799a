"""Which process owns a ``pending`` job row, and whether it is still at work.

A row is ``pending`` from just before the uploads and the create until the create answers. If the
submitting process dies in that window the row stays ``pending`` and ``jobs resume`` must settle it;
while the process lives, resume must leave it alone, or it would race a create still in flight
(mark it failed or unknown while it succeeds a second later). So the row records its owner (pid,
host, and the process's start time so a recycled pid is not mistaken for it) and a heartbeat the
owner refreshes every :data:`HEARTBEAT_INTERVAL` seconds.

Resume leaves a pending row alone while its owner is alive *and* its heartbeat is recent (within
:data:`STALE_AFTER`). On another host the pid cannot be checked, so the heartbeat alone decides.
A row from before owners were recorded has none and is settled as before.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from ..errors import PreflightError
from .ledger import Job, Ledger
from .process import Owner, current_owner, is_alive, process_started  # noqa: F401  (they lived here first)

__all__ = ["HEARTBEAT_INTERVAL", "STALE_AFTER", "Owner", "busy_reason", "current_owner", "heartbeat", "is_alive"]

HEARTBEAT_INTERVAL = 10.0
"""Seconds between heartbeats while a row is pending (an upload of a big clip can take minutes)."""
logger = logging.getLogger("preflight")

STALE_AFTER = 60.0
"""A heartbeat older than this (six missed beats) means the owner is stuck or gone."""


def _age(stamp: str | None, now: datetime) -> float | None:
    if not stamp:
        return None
    try:
        return (now - datetime.fromisoformat(stamp)).total_seconds()
    except ValueError:
        return None


def busy_reason(job: Job, now: datetime | None = None) -> str | None:
    """Why resume must leave this pending row alone, or None when it may settle it."""
    if job.owner_pid is None or job.owner_host is None:
        return None
    owner = Owner(job.owner_pid, job.owner_host, job.owner_started)
    age = _age(job.heartbeat_at, now or datetime.now(UTC))
    if age is None or age > STALE_AFTER:
        return None
    alive = is_alive(owner)
    if alive is False:
        return None
    where = owner.describe() + ("" if alive else " (another host: going by its heartbeat)")
    return (
        f"left alone: {where} is still submitting it (heartbeat {max(age, 0):.0f} s ago); "
        f"resume again after it finishes, or once it has been silent for {STALE_AFTER:.0f} s"
    )


@contextmanager
def heartbeat(ledger: Ledger, job_id: int, interval: float = HEARTBEAT_INTERVAL) -> Iterator[None]:
    """Refresh the row's heartbeat every ``interval`` seconds while the block runs."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            try:
                ledger.heartbeat(job_id)
            except (sqlite3.Error, PreflightError) as exc:  # a busy ledger: the next beat tries again
                logger.debug("job %d: heartbeat not written: %s", job_id, exc)

    thread = threading.Thread(target=beat, name=f"preflight-heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
