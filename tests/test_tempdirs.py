"""Owner-named temporary folders: a dead owner's are removed, a live one's, another host's, a recycled pid's
owner (which lives) and names this code did not make are told apart."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from preflight.outfiles import host_name
from preflight.tempdirs import make_owned_tempdir, owned_tempdir, remove_orphaned_tempdirs, start_ticks

PREFIX = "preflight-test-"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_folder_names_its_owner_and_is_private(tmp_path: Path) -> None:
    folder = make_owned_tempdir(PREFIX, tmp_path)
    pid, start, host, _ = folder.name.removeprefix(PREFIX).split("-", 3)
    assert int(pid) == os.getpid() and host == host_name()
    assert int(start) == (start_ticks(os.getpid()) or 0)
    assert folder.stat().st_mode & 0o777 == 0o700
    with owned_tempdir(PREFIX, tmp_path) as scoped:
        assert scoped.is_dir()
    assert not scoped.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="start times come from /proc")
def test_only_folders_of_gone_owners_are_removed(tmp_path: Path) -> None:
    mine = make_owned_tempdir(PREFIX, tmp_path)
    started = start_ticks(os.getpid())
    assert started is not None
    dead = tmp_path / f"{PREFIX}{_dead_pid()}-0-{host_name()}-abc123_z"
    recycled = tmp_path / f"{PREFIX}{os.getpid()}-{started + 1}-{host_name()}-abc123_z"  # my pid, not my start
    elsewhere = tmp_path / f"{PREFIX}{_dead_pid()}-0-otherhost-abc123_z"
    unnamed = tmp_path / f"{PREFIX}abc123_z"  # an older version's name: no owner to go by
    for folder in (dead, recycled, elsewhere, unnamed):
        folder.mkdir()
        (folder / "upload.bin").write_bytes(b"x")
    link = tmp_path / f"{PREFIX}{_dead_pid()}-0-{host_name()}-link1234"
    link.symlink_to(mine, target_is_directory=True)
    removed = remove_orphaned_tempdirs(PREFIX, tmp_path)
    assert sorted(removed) == sorted([dead, recycled])
    assert mine.is_dir() and elsewhere.is_dir() and unnamed.is_dir() and link.is_symlink()
    assert remove_orphaned_tempdirs(PREFIX, tmp_path / "missing") == []
