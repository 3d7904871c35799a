"""The job ledger: one SQLite file that remembers every task, so none is lost or paid for twice.

Where: ``--ledger PATH``, else ``PREFLIGHT_LEDGER``, else ``jobs.sqlite3`` in
``platformdirs.user_data_dir("preflight")``.

Life of a row: written ``pending`` *before* the create request goes out (with the idempotency key
and our external id), given the task id the moment the create answers, then updated at every status
change (each change also lands in ``events``), and finally given the result URL (with its expiry
where the provider documents one) and the downloaded file's path. Secrets never reach it: rows hold
settings, hashes, URLs and messages that went through :func:`~.keys.redact`.

Choices written down:
- Two submits of the same pair at the same instant both plan the same external id; the column is
  UNIQUE, so the INSERT itself is the duplicate check: the second one fails there, before anything
  is uploaded or created, and reports ``submit.duplicate`` naming the job that got there first.
- Whose file it is: a ledger is stamped on creation (``PRAGMA application_id`` = :data:`APPLICATION_ID`,
  ``user_version`` = :data:`SCHEMA_VERSION`). Opening a file that is neither empty nor stamped is
  refused (``ledger.invalid``) without writing a byte, unless its tables are exactly preflight's
  (``jobs``, ``events``, with preflight's columns): a ledger written before the stamp, which is then
  given its missing columns and stamped. So ``--ledger`` pointed at another program's database never
  gains tables. A ledger stamped by a newer schema is refused too (this version would misread it).
- Damage: every open runs ``PRAGMA quick_check`` (milliseconds for thousands of jobs) so a damaged
  file is refused before a submit spends anything, not halfway through recording a task. A damaged or
  non-SQLite file is ``ledger.invalid`` (exit 2) with the path and what to do: move it aside (a new
  ledger is started in its place); preflight never rewrites or repairs it. A ledger that cannot be
  used for other reasons (locked for longer than the 30 s timeout, unwritable folder, disk full) is
  ``ledger.unavailable`` (exit 1). Every ledger method maps SQLite's errors this way.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..errors import PreflightError, UsageError
from .base import TERMINAL, JobStatus
from .keys import redact
from .process import current_owner

__all__ = ["APPLICATION_ID", "SCHEMA_VERSION", "Job", "Ledger", "default_ledger_path"]

APPLICATION_ID = 0x50464C4A
"""``PRAGMA application_id`` of a preflight ledger ("PFLJ"): how a ledger is told from other SQLite files."""
SCHEMA_VERSION = 2
"""``PRAGMA user_version`` of the current schema (with the owner columns); ledgers from before the stamp read 0."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    provider TEXT NOT NULL,
    base_url TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    external_id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    raw_status TEXT,
    task_id TEXT,
    provider_data TEXT NOT NULL DEFAULT '{}',
    image TEXT,
    video TEXT,
    image_sha256 TEXT,
    video_sha256 TEXT,
    settings TEXT NOT NULL,
    duration REAL,
    cost_estimate REAL,
    result_url TEXT,
    result_expires_at TEXT,
    output TEXT,
    message TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    owner_pid INTEGER,
    owner_host TEXT,
    owner_started TEXT,
    heartbeat_at TEXT
);
CREATE INDEX IF NOT EXISTS jobs_key ON jobs (idempotency_key);
CREATE TABLE IF NOT EXISTS events (
    job_id INTEGER NOT NULL REFERENCES jobs (id),
    at TEXT NOT NULL,
    status TEXT NOT NULL,
    raw_status TEXT,
    message TEXT
);
"""

# Columns added after the first release: a ledger written before them gets them on open.
ADDED_COLUMNS = {
    "owner_pid": "INTEGER",
    "owner_host": "TEXT",
    "owner_started": "TEXT",
    "heartbeat_at": "TEXT",
}
ALL_COLUMNS = frozenset(re.findall(r"^    (\w+) ", SCHEMA.split("CREATE INDEX")[0], re.MULTILINE))
"""Every column of ``jobs``."""
FIRST_COLUMNS = ALL_COLUMNS - set(ADDED_COLUMNS)
"""The columns of the first release: a table with fewer is not a preflight ledger."""
EVENT_COLUMNS = frozenset({"job_id", "at", "status", "raw_status", "message"})

# SQLITE_CORRUPT (11) and SQLITE_NOTADB (26) are ledger.invalid; these are ledger.unavailable: PERM, BUSY
# (past the 30 s timeout), LOCKED, READONLY, IOERR, FULL, CANTOPEN, NOLFS, AUTH.
_UNAVAILABLE = {3, 5, 6, 8, 10, 13, 14, 22, 23}


def default_ledger_path() -> Path:
    override = os.environ.get("PREFLIGHT_LEDGER")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir("preflight")) / "jobs.sqlite3"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Job:
    """One ledger row."""

    id: int
    provider: str
    base_url: str
    idempotency_key: str
    external_id: str
    status: JobStatus
    raw_status: str | None
    task_id: str | None
    provider_data: Mapping[str, Any]
    image: str | None
    """Local path or URL of the subject image as given."""
    video: str | None
    image_sha256: str | None
    video_sha256: str | None
    settings: Mapping[str, Any]
    duration: float | None
    cost_estimate: float | None
    result_url: str | None
    result_expires_at: str | None
    output: str | None
    message: str | None
    created_at: str
    updated_at: str
    owner_pid: int | None = None
    """The process that wrote the row and sends its create (see :mod:`.owner`)."""
    owner_host: str | None = None
    owner_started: str | None = None
    heartbeat_at: str | None = None
    """Last sign of life from the owner while the row was ``pending``."""
    events: tuple[Mapping[str, Any], ...] = field(default=())

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    def as_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["status"] = self.status.value
        out["provider_data"] = dict(self.provider_data)
        out["settings"] = dict(self.settings)
        out["events"] = [dict(e) for e in self.events]
        return out


class Ledger:
    """The SQLite file. Each method is one short transaction, so a crash loses nothing written."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_ledger_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PreflightError(
                f"cannot use the ledger {self.path}: cannot create its folder ({exc.strerror}); "
                "choose another with --ledger or PREFLIGHT_LEDGER",
                "ledger.unavailable",
            ) from exc
        try:
            with closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as db:
                if _needs_write(self.path, _shape(db)):
                    # Look again inside the write lock: another process may have just created it.
                    db.execute("BEGIN IMMEDIATE")
                    try:
                        _create_or_upgrade(self.path, db)
                        db.execute("COMMIT")
                    except BaseException:
                        db.execute("ROLLBACK")
                        raise
                _check_integrity(self.path, db)
        except sqlite3.Error as exc:
            mapped = _mapped(self.path, exc)
            if mapped is None:
                raise
            raise mapped from exc

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # A connection per operation: safe across threads and processes; the timeout waits out
        # another preflight process holding the write lock.
        db = sqlite3.connect(self.path, timeout=30)  # opens lazily: errors come from the first statement
        db.row_factory = sqlite3.Row
        try:
            with db:
                yield db
        except sqlite3.Error as exc:
            mapped = _mapped(self.path, exc)
            if mapped is None:
                raise
            raise mapped from exc
        finally:
            db.close()

    def add(
        self,
        *,
        provider: str,
        base_url: str,
        idempotency_key: str,
        external_id: str,
        settings: Mapping[str, Any],
        image: str | None,
        video: str | None,
        image_sha256: str | None,
        video_sha256: str | None,
        duration: float | None,
        cost_estimate: float | None,
    ) -> Job:
        """Write a ``pending`` row owned by this process (call before the create request).

        The external id is UNIQUE: when another process wrote a row with it first (both planned the
        same job at once), nothing is written and the error (``submit.duplicate``) names that job.
        """
        now = _now()
        owner = current_owner()
        with self._connect() as db:
            try:
                cursor = db.execute(
                    "INSERT INTO jobs (provider, base_url, idempotency_key, external_id, status, settings, image,"
                    " video, image_sha256, video_sha256, duration, cost_estimate, created_at, updated_at,"
                    " owner_pid, owner_host, owner_started, heartbeat_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        provider,
                        base_url,
                        idempotency_key,
                        external_id,
                        JobStatus.PENDING.value,
                        json.dumps(dict(settings), sort_keys=True),
                        image,
                        video,
                        image_sha256,
                        video_sha256,
                        duration,
                        cost_estimate,
                        now,
                        now,
                        owner.pid,
                        owner.host,
                        owner.started,
                        now,
                    ),
                )
            except sqlite3.IntegrityError:
                row = db.execute("SELECT * FROM jobs WHERE external_id = ?", (external_id,)).fetchone()
                if row is None:
                    raise
                raise _duplicate(_job(row)) from None
            job_id = int(cursor.lastrowid or 0)
            db.execute(
                "INSERT INTO events (job_id, at, status) VALUES (?, ?, ?)", (job_id, now, JobStatus.PENDING.value)
            )
        return self.get(job_id)

    def update(
        self,
        job_id: int,
        *,
        status: JobStatus | None = None,
        raw_status: str | None = None,
        task_id: str | None = None,
        provider_data: Mapping[str, Any] | None = None,
        result_url: str | None = None,
        result_ttl: float | None = None,
        output: str | None = None,
        message: str | None = None,
        image: str | None = None,
        video: str | None = None,
    ) -> Job:
        """Set the given fields; a change of status (or raw status) is also logged in ``events``."""
        current = self.get(job_id)
        now = _now()
        changes: dict[str, Any] = {}
        if status is not None:
            changes["status"] = status.value
        if raw_status is not None:
            changes["raw_status"] = raw_status
        if task_id is not None:
            changes["task_id"] = task_id
        if provider_data is not None:
            changes["provider_data"] = json.dumps(dict(provider_data), sort_keys=True)
        if result_url is not None:
            changes["result_url"] = result_url
            if result_ttl is not None:
                expires = datetime.now(UTC) + timedelta(seconds=result_ttl)
                changes["result_expires_at"] = expires.isoformat(timespec="seconds")
        if output is not None:
            changes["output"] = output
        if message is not None:
            changes["message"] = redact(message)
        if image is not None:
            changes["image"] = image
        if video is not None:
            changes["video"] = video
        if not changes:
            return current
        changes["updated_at"] = now
        assignments = ", ".join(f"{name} = ?" for name in changes)
        with self._connect() as db:
            db.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", (*changes.values(), job_id))
            new_status = status or current.status
            if new_status != current.status or (raw_status is not None and raw_status != current.raw_status):
                db.execute(
                    "INSERT INTO events (job_id, at, status, raw_status, message) VALUES (?, ?, ?, ?, ?)",
                    (job_id, now, new_status.value, raw_status, changes.get("message")),
                )
        return self.get(job_id)

    def heartbeat(self, job_id: int) -> None:
        """The owner is still at work on this row (no event: a heartbeat is not a status change)."""
        with self._connect() as db:
            db.execute("UPDATE jobs SET heartbeat_at = ? WHERE id = ?", (_now(), job_id))

    def get(self, job_id: int) -> Job:
        with self._connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise UsageError(
                    f"no job {job_id} in {self.path} (preflight jobs list shows the jobs there)", "job.not_found"
                )
            events = db.execute(
                "SELECT at, status, raw_status, message FROM events WHERE job_id = ? ORDER BY rowid", (job_id,)
            ).fetchall()
        return _job(row, tuple(dict(e) for e in events))

    def jobs(self, *, unfinished: bool = False, limit: int | None = None) -> list[Job]:
        """Newest first."""
        query = "SELECT * FROM jobs"
        if unfinished:
            done = ", ".join(f"'{s.value}'" for s in TERMINAL)
            query += f" WHERE status NOT IN ({done})"
        query += " ORDER BY id DESC"
        if limit:
            query += f" LIMIT {int(limit)}"
        with self._connect() as db:
            return [_job(row) for row in db.execute(query).fetchall()]

    def uploads(self, sha256: str | None) -> list[Mapping[str, Any]]:
        """Every ``--upload`` recorded for a file with this content (``provider_data.uploads``), newest first."""
        if not sha256:
            return []
        with self._connect() as db:
            rows = db.execute(
                "SELECT provider_data FROM jobs WHERE image_sha256 = ? OR video_sha256 = ? ORDER BY id DESC",
                (sha256, sha256),
            ).fetchall()
        found = []
        for row in rows:
            for record in (json.loads(row[0] or "{}").get("uploads") or {}).values():
                if isinstance(record, dict) and record.get("sha256") == sha256:
                    found.append(record)
        return found

    def by_key(self, idempotency_key: str) -> list[Job]:
        """Jobs submitted with this key, newest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM jobs WHERE idempotency_key = ? ORDER BY id DESC", (idempotency_key,)
            ).fetchall()
        return [_job(row) for row in rows]


def _job(row: sqlite3.Row, events: tuple[Mapping[str, Any], ...] = ()) -> Job:
    data = dict(row)
    data["status"] = JobStatus(data["status"])
    data["provider_data"] = json.loads(data["provider_data"] or "{}")
    data["settings"] = json.loads(data["settings"] or "{}")
    return Job(**data, events=events)


def _duplicate(job: Job) -> PreflightError:
    by = f" by pid {job.owner_pid} on {job.owner_host}" if job.owner_pid and job.owner_host else ""
    return PreflightError(
        f"already submitted as job {job.id} ({job.status}, {job.created_at}){by} a moment ago, with the same "
        f"external id {job.external_id}; nothing was sent: pass --again to pay for it again "
        f"(or: preflight jobs show {job.id})",
        "submit.duplicate",
    )


# Opening: whose file is it, does it need creating or upgrading, is it whole.


@dataclass(frozen=True)
class _Shape:
    """What an SQLite file holds, read without writing."""

    application_id: int
    version: int
    tables: Mapping[str, frozenset[str]]
    """Table name -> column names (SQLite's own ``sqlite_*`` tables left out)."""
    others: tuple[str, ...]
    """Views, triggers and indexes on other tables, as ``kind name``."""


def _shape(db: sqlite3.Connection) -> _Shape:
    application_id = int(db.execute("PRAGMA application_id").fetchone()[0])
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    tables: dict[str, frozenset[str]] = {}
    others = []
    for kind, name, table in db.execute("SELECT type, name, tbl_name FROM sqlite_master").fetchall():
        if name.startswith("sqlite_"):
            continue
        if kind == "table":
            columns = db.execute("SELECT name FROM pragma_table_info(?)", (name,)).fetchall()
            tables[name] = frozenset(c[0] for c in columns)
        elif not (kind == "index" and table in ("jobs", "events")):
            others.append(f"{kind} {name}")
    return _Shape(application_id, version, tables, tuple(others))


def _not_ours(shape: _Shape) -> str | None:
    """Why these tables are not a preflight ledger's, or None when they are."""
    foreign = sorted(set(shape.tables) - {"jobs", "events"})
    if foreign or shape.others:
        listed = [f"table {name}" for name in foreign] + list(shape.others)
        more = f" and {len(listed) - 5} more" if len(listed) > 5 else ""
        return f"it holds {', '.join(listed[:5])}{more}"
    jobs = shape.tables.get("jobs")
    if jobs is None:
        return "it has no jobs table"
    if not (jobs >= FIRST_COLUMNS and jobs <= ALL_COLUMNS):
        return "its jobs table is not preflight's (other columns)"
    events = shape.tables.get("events")
    if events is not None and events != EVENT_COLUMNS:
        return "its events table is not preflight's (other columns)"
    return None


def _needs_write(path: Path, shape: _Shape) -> bool:
    """False for a current preflight ledger, True for a new or older one; refuses anything else."""
    if shape.application_id == 0 and shape.version == 0 and not shape.tables and not shape.others:
        return True  # a new (or empty) file
    if shape.application_id not in (0, APPLICATION_ID) or (shape.application_id == 0 and shape.version != 0):
        why = f"application id {shape.application_id:#x}, user version {shape.version}"
        raise _foreign(path, f"another program's SQLite database ({why})")
    if shape.application_id == APPLICATION_ID and shape.version > SCHEMA_VERSION:
        raise UsageError(
            f"the ledger {path} was written by a newer preflight (ledger schema {shape.version}; this one "
            f"knows up to {SCHEMA_VERSION}): upgrade preflight, or give --ledger another file",
            "ledger.invalid",
        )
    problem = _not_ours(shape)
    if problem:
        raise _foreign(path, f"an SQLite database that is not a preflight ledger: {problem}")
    current = shape.application_id == APPLICATION_ID and shape.version == SCHEMA_VERSION
    return not (current and "events" in shape.tables and set(ADDED_COLUMNS) <= shape.tables["jobs"])


def _create_or_upgrade(path: Path, db: sqlite3.Connection) -> None:
    """Inside the write transaction: create the tables, add missing columns, stamp the file."""
    shape = _shape(db)
    if not _needs_write(path, shape):
        return  # another process did it while this one waited for the lock
    # One statement at a time: executescript() would commit the transaction first.
    for statement in SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    present = {c[0] for c in db.execute("SELECT name FROM pragma_table_info('jobs')").fetchall()}
    for name, kind in ADDED_COLUMNS.items():
        if name not in present:
            db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _check_integrity(path: Path, db: sqlite3.Connection) -> None:
    rows = [str(r[0]) for r in db.execute("PRAGMA quick_check(5)").fetchall()]
    if rows != ["ok"]:
        detail = "; ".join(line for row in rows for line in row.splitlines() if not line.startswith("***"))
        raise _damaged(path, detail or "quick_check failed")


def _foreign(path: Path, what: str) -> UsageError:
    return UsageError(
        f"{path} is {what}; preflight leaves it as it is: give --ledger (or PREFLIGHT_LEDGER) a new file "
        "or a preflight ledger",
        "ledger.invalid",
    )


def _damaged(path: Path, detail: str) -> UsageError:
    return UsageError(
        f"the ledger {path} is damaged ({detail}): move it aside (mv {path} {path}.damaged) and a new ledger "
        f"is started in its place; preflight never rewrites a damaged ledger (`sqlite3 {path}.damaged .recover` "
        "may save its jobs)",
        "ledger.invalid",
    )


def _mapped(path: Path, exc: sqlite3.Error) -> PreflightError | None:
    """The coded error for an SQLite failure that is the file's or the system's, None for the rest (bugs)."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary == 11:
        return _damaged(path, str(exc))
    if primary == 26:
        return UsageError(
            f"{path} is not a preflight ledger, or its first page is damaged ({exc}): if it is your ledger, move it "
            f"aside (mv {path} {path}.damaged) and a new one is started in its place; preflight never rewrites it",
            "ledger.invalid",
        )
    if primary in _UNAVAILABLE:
        return PreflightError(f"cannot use the ledger {path}: {exc}", "ledger.unavailable")
    return None
