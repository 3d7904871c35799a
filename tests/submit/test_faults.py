"""Faults around submit, jobs and the ledger: each ends in one coded line, never a traceback (exit 3).

Races are a process's behaviour, so they run the CLI in subprocesses against one fake server.
"""

from __future__ import annotations

import queue
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing

import pytest
from cli_args import submit_args
from fake_providers import RESULT

from preflight.cli import main
from preflight.submit.ledger import Ledger, default_ledger_path


def _one_error_line(err: str, code: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("preflight: ")]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"preflight: {code}: "), lines[0]
    return lines[0]


def _submit_args(server, media, *extra: str) -> list[str]:
    return submit_args("fal", server, media, *extra)


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


def _hold_writes_until_both_planned(children: list, stderr: list[list[str]]) -> None:
    """Both plan (no earlier job) before either writes its row: the ledger's write lock is held
    (readers go on, writers wait) until both have printed their cost line, which comes after the
    plan and right before the row is written. The loser's INSERT is then the duplicate check."""
    holder = sqlite3.connect(Ledger().path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        for (_, lines), seen in zip(children, stderr, strict=True):
            assert _wait_for_line(lines, "cost:", seen), "".join(seen)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def _rows_in_ledger() -> int:
    """Rows in the ledger's jobs table, read-only (0 while the first submit has not created it)."""
    path = default_ledger_path()
    if not path.exists():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as db:
            return db.execute("SELECT count(*) FROM jobs").fetchone()[0]
    except sqlite3.OperationalError:  # the first submit is still creating the tables
        return 0


def _second_starts_after_the_first_row() -> None:
    """The second submit starts only once the first one's row is written (pending: the create may
    still be on its way), so it plans with that job in the ledger and refuses at the plan."""
    deadline = time.monotonic() + 120
    while _rows_in_ledger() == 0:
        assert time.monotonic() < deadline, "the first submit wrote no row"
        time.sleep(0.01)


INTERLEAVINGS = {
    # Both plan with an empty ledger; the UNIQUE external id stops the second INSERT.
    "both plan, then both write": "a moment ago, with the same external id",
    # One row is written before the other plans; the plan finds it.
    "one writes, then the other plans": "; pass --again to pay for it again",
}


@pytest.mark.parametrize("interleaving", list(INTERLEAVINGS))
def test_two_submits_create_once_however_they_interleave(fake, media, interleaving):
    """Each of the two ways two submits of one pair can interleave, forced: one create, and the
    other ends in submit.duplicate through the check that interleaving reaches (its own words)."""
    server = fake("fal")
    args = _submit_args(server, media)
    stderr: list[list[str]] = [[], []]
    if interleaving == "both plan, then both write":
        children = [_start(args) for _ in range(2)]
        _hold_writes_until_both_planned(children, stderr)
    else:
        children = [_start(args)]
        _second_starts_after_the_first_row()
        children.append(_start(args))
    codes = []
    for (child, lines), seen in zip(children, stderr, strict=True):
        child.wait(timeout=120)
        _wait_for_line(lines, "\0", seen, timeout=10)  # drain to the end
        codes.append(child.returncode)
    assert sorted(codes) == [0, 1], stderr
    line = _one_error_line("".join(stderr[codes.index(1)]), "submit.duplicate")
    assert INTERLEAVINGS[interleaving] in line and "already submitted as job 1 " in line, line
    assert server.creates == 1
    (job,) = Ledger().jobs()
    assert job.status == "queued"


# The ledger file: damaged, another program's, an older preflight's.


def _sha(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _damaged_ledger(path):
    """A ledger of 40 jobs whose middle page has a garbage b-tree header."""
    from ledger_rows import bare_job

    ledger = Ledger(path)
    for _ in range(40):
        bare_job(ledger, "fal")
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    middle = (len(data) // page_size // 2) * page_size
    data[middle : middle + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))
    return path


def test_a_damaged_ledger_is_refused_and_never_rewritten(fake, media, tmp_path, capsys):
    path = _damaged_ledger(tmp_path / "jobs.sqlite3")
    before = _sha(path)
    assert main(["jobs", "list", "--ledger", str(path)]) == 2
    line = _one_error_line(capsys.readouterr().err, "ledger.invalid")
    assert str(path) in line and "damaged" in line and "move it aside" in line
    server = fake("fal")
    assert main([*_submit_args(server, media), "--ledger", str(path)]) == 2
    _one_error_line(capsys.readouterr().err, "ledger.invalid")
    assert server.creates == 0 and server.requests == []
    assert _sha(path) == before
    # Moved aside as told: a new ledger starts in its place.
    path.rename(tmp_path / "jobs.sqlite3.damaged")
    assert main([*_submit_args(server, media), "--ledger", str(path)]) == 0
    assert server.creates == 1


def test_a_file_that_is_not_sqlite_is_refused(tmp_path, capsys, secrets_env):
    path = tmp_path / "notes.txt"
    path.write_text("shopping list\n" * 400)
    before = _sha(path)
    assert main(["jobs", "list", "--ledger", str(path)]) == 2
    line = _one_error_line(capsys.readouterr().err, "ledger.invalid")
    assert str(path) in line and "never rewrites" in line
    assert _sha(path) == before


def test_another_programs_database_is_refused_untouched(fake, media, tmp_path, capsys):
    path = tmp_path / "photos.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE albums (id INTEGER PRIMARY KEY, title TEXT)")
        db.execute("INSERT INTO albums (title) VALUES ('holiday')")
    db.close()
    before = _sha(path)
    assert main(["jobs", "list", "--ledger", str(path)]) == 2
    line = _one_error_line(capsys.readouterr().err, "ledger.invalid")
    assert "not a preflight ledger" in line and "table albums" in line
    server = fake("fal")
    assert main([*_submit_args(server, media), "--ledger", str(path)]) == 2
    _one_error_line(capsys.readouterr().err, "ledger.invalid")
    assert server.creates == 0
    assert _sha(path) == before
    # Another program's stamp on an otherwise empty database: not ours either.
    stamped = tmp_path / "other.db"
    with sqlite3.connect(stamped) as db:
        db.execute("PRAGMA application_id = 1234")
    db.close()
    assert main(["jobs", "list", "--ledger", str(stamped)]) == 2
    assert "application id 0x4d2" in _one_error_line(capsys.readouterr().err, "ledger.invalid")


def test_a_new_or_empty_file_becomes_a_stamped_ledger(tmp_path, secrets_env):
    from preflight.submit.ledger import APPLICATION_ID, SCHEMA_VERSION

    empty = tmp_path / "empty.sqlite3"
    empty.touch()  # e.g. made by mktemp
    for path in (tmp_path / "new.sqlite3", empty):
        assert Ledger(path).jobs() == []
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
            assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        db.close()


def test_a_ledger_from_before_the_stamp_keeps_working(fake, media, tmp_path, capsys):
    """Made by the previous release: preflight's tables and columns, no application id."""
    from preflight.submit.ledger import APPLICATION_ID, SCHEMA

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
        db.execute(
            "INSERT INTO jobs (provider, base_url, idempotency_key, external_id, status, settings, created_at,"
            " updated_at) VALUES ('fal', 'u', 'k', 'pf-old-1', 'succeeded', '{}', 't', 't')"
        )
    db.close()
    assert main(["jobs", "list", "--ledger", str(path)]) == 0
    assert "pf-old-1" not in capsys.readouterr().err
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    db.close()
    server = fake("fal")
    assert main([*_submit_args(server, media), "--ledger", str(path)]) == 0
    assert [j.external_id for j in Ledger(path).jobs()][1] == "pf-old-1"


def test_a_ledger_from_a_newer_preflight_is_refused(tmp_path, capsys, secrets_env):
    from preflight.submit.ledger import SCHEMA_VERSION

    path = tmp_path / "new.sqlite3"
    Ledger(path)
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    assert main(["jobs", "list", "--ledger", str(path)]) == 2
    assert "newer preflight" in _one_error_line(capsys.readouterr().err, "ledger.invalid")


def test_a_ledger_that_cannot_be_opened_is_unavailable(tmp_path, capsys, secrets_env, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert main(["jobs", "list", "--ledger", str(blocker / "jobs.sqlite3")]) == 1
    assert "cannot create its folder" in _one_error_line(capsys.readouterr().err, "ledger.unavailable")
    monkeypatch.setenv("PREFLIGHT_LEDGER", str(tmp_path))  # a folder: SQLite cannot open it
    assert main(["jobs", "list"]) == 1
    _one_error_line(capsys.readouterr().err, "ledger.unavailable")


# Configuration: env knobs and the config file.

KNOBS = [
    "PREFLIGHT_POLL_INTERVAL",
    "PREFLIGHT_RETRY_ATTEMPTS",
    "PREFLIGHT_RETRY_BACKOFF",
    "PREFLIGHT_MAX_RETRY_AFTER",
    "PREFLIGHT_POLL_MAX",
    "PREFLIGHT_WAIT_TIMEOUT",
]


@pytest.mark.parametrize("name", KNOBS)
@pytest.mark.parametrize("value", ["abc", "-1", "nan", "inf", "1e400"])
def test_a_bad_timing_knob_is_config_invalid(name, value, monkeypatch, secrets_env):
    from preflight.errors import UsageError
    from preflight.submit.service import policy_from_env

    monkeypatch.setenv(name, value)
    with pytest.raises(UsageError) as info:
        policy_from_env()
    assert info.value.code == "config.invalid"
    assert f"{name}={value!r}" in str(info.value)


def test_knob_values_that_are_fine(monkeypatch):
    from preflight.errors import UsageError
    from preflight.submit.service import policy_from_env

    knobs = (("PREFLIGHT_POLL_INTERVAL", "0"), ("PREFLIGHT_RETRY_ATTEMPTS", "3"), ("PREFLIGHT_POLL_MAX", " "))
    for name, value in knobs:
        monkeypatch.setenv(name, value)
    retry, poll = policy_from_env()
    assert poll.interval == 0 and retry.attempts == 3 and poll.max_interval == 60
    monkeypatch.setenv("PREFLIGHT_RETRY_ATTEMPTS", "2.5")
    with pytest.raises(UsageError, match="whole number"):
        policy_from_env()
    monkeypatch.setenv("PREFLIGHT_RETRY_ATTEMPTS", "0")
    with pytest.raises(UsageError, match="PREFLIGHT_RETRY_ATTEMPTS='0'"):
        policy_from_env()


def test_a_bad_knob_stops_the_cli_with_exit_2(fake, media, monkeypatch, capsys):
    server = fake("fal")
    monkeypatch.setenv("PREFLIGHT_POLL_INTERVAL", "abc")
    assert main(_submit_args(server, media)) == 2
    line = _one_error_line(capsys.readouterr().err, "config.invalid")
    assert "PREFLIGHT_POLL_INTERVAL='abc'" in line
    assert server.requests == []
    monkeypatch.setenv("PREFLIGHT_POLL_INTERVAL", "1")
    monkeypatch.setenv("PREFLIGHT_WAIT_TIMEOUT", "-5")
    assert main(["jobs", "resume"]) == 2
    _one_error_line(capsys.readouterr().err, "config.invalid")


# Downloads never replace a file unless told to.

UNRELATED = b"someone's holiday video"


def _finished_job(server, media) -> int:
    assert main([*_submit_args(server, media), "--wait"]) == 0
    return Ledger().jobs()[0].id


def test_jobs_download_refuses_to_replace_a_file(fake, media, tmp_path, capsys):
    server = fake("fal")
    job_id = _finished_job(server, media)
    existing = tmp_path / "keep.mp4"
    existing.write_bytes(UNRELATED)
    capsys.readouterr()
    assert main(["jobs", "download", str(job_id), "-o", str(existing)]) == 1
    line = _one_error_line(capsys.readouterr().err, "output.exists")
    assert str(existing) in line and "--overwrite" in line
    assert existing.read_bytes() == UNRELATED and server.downloads == 0
    assert main(["jobs", "download", str(job_id), "-o", str(existing), "--force"]) == 0
    assert existing.read_bytes() == RESULT


def test_a_download_into_a_folder_does_not_replace_job_id_mp4(fake, media, tmp_path, capsys):
    server = fake("fal")
    job_id = _finished_job(server, media)
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / f"job{job_id}.mp4").write_bytes(UNRELATED)
    capsys.readouterr()
    assert main(["jobs", "download", str(job_id), "-o", str(folder)]) == 1
    assert f"job{job_id}.mp4" in _one_error_line(capsys.readouterr().err, "output.exists")
    assert (folder / f"job{job_id}.mp4").read_bytes() == UNRELATED and server.downloads == 0
    assert main(["jobs", "wait", str(job_id), "-o", str(folder)]) == 1  # wait -o: refused before any poll
    _one_error_line(capsys.readouterr().err, "output.exists")
    assert main(["jobs", "download", str(job_id), "-o", str(folder), "--overwrite"]) == 0
    assert (folder / f"job{job_id}.mp4").read_bytes() == RESULT


def test_a_file_that_appears_during_the_download_is_not_replaced(fake, media, tmp_path, capsys):
    server = fake("fal")
    job_id = _finished_job(server, media)
    target = tmp_path / "out.mp4"
    serve = server.serve_file

    def appear_then_serve(name):
        target.write_bytes(UNRELATED)  # another program writes it while the bytes are on the way
        return serve(name)

    server.serve_file = appear_then_serve
    capsys.readouterr()
    assert main(["jobs", "download", str(job_id), "-o", str(target)]) == 1
    _one_error_line(capsys.readouterr().err, "output.exists")
    assert target.read_bytes() == UNRELATED
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_submit_with_an_existing_output_is_refused_before_anything_is_sent(fake, media, tmp_path, capsys):
    server = fake("fal")
    existing = tmp_path / "out.mp4"
    existing.write_bytes(UNRELATED)
    assert main([*_submit_args(server, media), "-o", str(existing)]) == 1
    err = capsys.readouterr().err
    _one_error_line(err, "output.exists")
    assert "cost:" not in err  # refused before the cost question
    assert server.requests == [] and Ledger().jobs() == []
    assert existing.read_bytes() == UNRELATED
    assert main([*_submit_args(server, media), "-o", str(existing), "--overwrite"]) == 0
    assert existing.read_bytes() == RESULT and server.creates == 1


def test_submit_into_a_folder_holding_job_id_mp4_is_refused_before_the_create(fake, media, tmp_path, capsys):
    server = fake("fal")
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "job1.mp4").write_bytes(UNRELATED)  # the next job in a new ledger is job 1
    assert main([*_submit_args(server, media), "-o", f"{folder}/"]) == 1
    assert "job1.mp4" in _one_error_line(capsys.readouterr().err, "output.exists")
    assert server.requests == [] and server.creates == 0  # no upload, no create
    (job,) = Ledger().jobs()
    assert job.status == "failed" and job.message.startswith("not created")
    assert (folder / "job1.mp4").read_bytes() == UNRELATED
    # The failed row is no duplicate: the next submit goes ahead, as job 2.
    assert main([*_submit_args(server, media), "-o", str(folder)]) == 0
    assert (folder / "job2.mp4").read_bytes() == RESULT and server.creates == 1


# Each bookkeeping and provider code README lists, from an input that produces it.


@pytest.mark.parametrize("command", ["wait", "download", "cancel"])
def test_a_job_without_a_task_id_is_job_no_task(command, tmp_path, capsys, monkeypatch, secrets_env):
    """A row whose create never answered; asked about without keys, so the answer cannot need the provider."""
    from ledger_rows import bare_job

    job = bare_job(Ledger(), "kling")
    monkeypatch.delenv("KLINGAI_ACCESS_KEY")
    extra = ["-o", str(tmp_path / "out.mp4")] if command == "download" else []
    assert main(["jobs", command, str(job.id), *extra]) == 1
    assert "jobs resume" in _one_error_line(capsys.readouterr().err, "job.no_task")


def test_a_wait_that_runs_out_is_submit_timeout_and_jobs_wait_picks_it_up(fake, media, monkeypatch, capsys):
    server = fake("fal")
    monkeypatch.setenv("PREFLIGHT_WAIT_TIMEOUT", "0")
    monkeypatch.setenv("PREFLIGHT_POLL_INTERVAL", "1")  # the next poll would be past the deadline
    assert main([*_submit_args(server, media), "--wait"]) == 1
    line = _one_error_line(capsys.readouterr().err, "submit.timeout")
    (job,) = Ledger().jobs()
    assert f"preflight jobs wait {job.id}" in line and not job.finished
    monkeypatch.delenv("PREFLIGHT_WAIT_TIMEOUT")
    monkeypatch.setenv("PREFLIGHT_POLL_INTERVAL", "0")
    assert main(["jobs", "wait", str(job.id)]) == 0
    assert Ledger().get(job.id).status == "succeeded" and server.creates == 1


@pytest.mark.parametrize(
    "text", ["[keys\nFAL_KEY = 'fal-secret-in-a-broken-file'", "keys = 3", b"[keys]\nFAL_KEY = 'fal-secret-\xff'"]
)
def test_a_malformed_config_file_is_config_invalid(text, fake, media, tmp_path, monkeypatch, capsys):
    server = fake("fal")
    config = tmp_path / "config.toml"
    if isinstance(text, bytes):  # not UTF-8
        config.write_bytes(text)
    else:
        config.write_text(text)
    monkeypatch.setenv("PREFLIGHT_CONFIG", str(config))
    monkeypatch.delenv("FAL_KEY")  # so the key is looked for in the file
    assert main(_submit_args(server, media)) == 2
    line = _one_error_line(capsys.readouterr().err, "config.invalid")
    assert str(config) in line and "fal-secret" not in line
    assert server.requests == []


def test_a_result_that_cannot_be_fetched_is_submit_download_failed(fake, media, tmp_path, capsys):
    from fake_providers import Reply

    server = fake("fal")
    job_id = _finished_job(server, media)
    server.cut_downloads = 99  # cut short every time: retried, then given up
    capsys.readouterr()
    assert main(["jobs", "download", str(job_id), "-o", str(tmp_path / "a.mp4")]) == 1
    _one_error_line(capsys.readouterr().err, "submit.download_failed")
    server.serve_file = lambda name: Reply(403, {"error": "expired"})  # an expired pre-signed URL
    assert main(["jobs", "download", str(job_id), "-o", str(tmp_path / "b.mp4")]) == 1
    assert "expired" in _one_error_line(capsys.readouterr().err, "submit.download_failed")
    assert list(tmp_path.glob("*.mp4")) == []


@pytest.fixture
def bundle(media, tmp_path):
    from preflight.bundle import write_bundle

    folder = tmp_path / "job1"
    write_bundle(folder, *media, profile="kling-v2.6", orientation="video")
    return folder


def test_a_bundle_edited_after_prepare_is_bundle_modified(bundle, fake, capsys):
    server = fake("fal")
    clip = bundle / "motion.mp4"
    clip.write_bytes(clip.read_bytes()[:-10] + b"0123456789")  # same size, other bytes
    assert main(["submit", str(bundle), "--provider", "fal", "--base-url", server.url, "--yes"]) == 1
    assert "motion.mp4" in _one_error_line(capsys.readouterr().err, "bundle.modified")
    assert server.requests == [] and Ledger().jobs() == []


def test_a_folder_without_a_manifest_is_bundle_invalid(tmp_path, fake, capsys):
    server = fake("fal")
    assert main(["submit", str(tmp_path), "--provider", "fal", "--base-url", server.url, "--yes"]) == 2
    assert "preflight prepare" in _one_error_line(capsys.readouterr().err, "bundle.invalid")
    assert server.requests == []
