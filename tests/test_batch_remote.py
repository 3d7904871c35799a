"""batch on fsspec URLs: memory:// folders walked, each file fetched once to a temporary copy that is
removed after, reports naming the URL, resume keyed by content hash; a clear error without fsspec."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from preflight.batch import remote, run_batch
from preflight.cli import cli, main
from preflight.errors import UsageError
from preflight.media.probe import probe
from preflight.samples import make_clip, make_image

fsspec = pytest.importorskip("fsspec")


@pytest.fixture
def bucket(tmp_path: Path) -> Iterator[str]:
    """``memory://<unique>`` holding a clip, a WEBP in a subfolder, an iPhone edit sidecar and a hidden clip."""
    fs = fsspec.filesystem("memory")
    root = f"/{uuid.uuid4().hex}"
    make_clip(tmp_path / "c.mp4", duration=3.5, width=640, height=360)
    make_image(tmp_path / "p.webp", format="WEBP", width=640, height=800)
    fs.pipe(f"{root}/clip.mp4", (tmp_path / "c.mp4").read_bytes())
    fs.pipe(f"{root}/takes/photo.webp", (tmp_path / "p.webp").read_bytes())
    fs.pipe(f"{root}/IMG_0001.AAE", b"<?xml version='1.0'?><plist/>")
    fs.pipe(f"{root}/.hidden/clip.mp4", (tmp_path / "c.mp4").read_bytes())
    yield f"memory:/{root}"
    fs.rm(root, recursive=True)


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder fetched copies go to, so the test can see they are gone."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _count_fetches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    fetched: list[str] = []
    real = remote._copy_hashing

    def counting(fs, path, local):  # type: ignore[no-untyped-def]
        fetched.append(path)
        assert Path(local).parent.name.startswith("preflight-fetch-")
        return real(fs, path, local)

    monkeypatch.setattr(remote, "_copy_hashing", counting)
    return fetched


def test_memory_folder_fixed_and_reported_by_url(
    bucket: str, private_tmp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetches = _count_fetches(monkeypatch)
    out = tmp_path / "ready"
    result = CliRunner().invoke(cli, ["batch", f"{bucket}/", "-o", str(out), "--no-content", "-q", "-j", "1",
                                      "--json"], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    paths = [i["path"] for i in data["items"]]
    assert paths == [f"{bucket}/clip.mp4", f"{bucket}/takes/photo.webp"]  # hidden and sidecar skipped...
    assert data["skipped"]["by_reason"] == {"hidden": 1, "sidecar": 1}  # ... and counted
    assert data["skipped"]["entries"][0] == {"path": f"{bucket}/.hidden", "reason": "hidden",
                                             "detail": "folder: nothing below it was looked at"}  # fmt: skip
    for item in data["items"]:
        assert item["media"]["path"] == item["path"]
        assert item["after"]["verdict"] == "pass" and Path(item["output"]).is_file()
    assert Path(data["items"][1]["output"]).parent == out / "takes"  # the remote tree mirrored
    assert probe(data["items"][1]["output"]).format == "jpeg"
    assert sorted(fetches) == sorted(p.split(":/", 1)[1] for p in paths)  # each fetched once
    assert list(private_tmp.iterdir()) == [], "temporary copies removed"
    assert "preflight-fetch" not in result.stdout


def test_url_resume_is_the_content_hash(bucket: str, private_tmp: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    state = tmp_path / "s.jsonl"
    first = run_batch([bucket], content=False, jobs=1, state_path=state)
    clip = next(r for r in first.results if r.path.endswith("clip.mp4"))
    bytes_ = fsspec.filesystem("memory").cat(clip.path.split(":/", 1)[1])
    assert clip.digest == hashlib.sha256(bytes_).hexdigest()

    fetches = _count_fetches(monkeypatch)
    again = run_batch([bucket], content=False, jobs=1, state_path=state, resume=True)
    assert [r.resumed for r in again.results] == [True, True] and fetches == []
    fs = fsspec.filesystem("memory")
    fs.mv(f"{bucket.split(':/', 1)[1]}/clip.mp4", f"{bucket.split(':/', 1)[1]}/renamed.mp4")  # same bytes
    moved = run_batch([bucket], content=False, jobs=1, state_path=state, resume=True)
    assert {r.path.rsplit("/", 1)[1]: r.resumed for r in moved.results} == {"renamed.mp4": True, "photo.webp": True}
    assert fetches == [] and list(private_tmp.iterdir()) == []


def test_url_file_glob_and_missing(bucket: str, private_tmp: Path, tmp_path: Path) -> None:
    r = run_batch([f"{bucket}/**/*.webp", f"{bucket}/gone.mp4"], content=False, jobs=1, state_path=tmp_path / "s")
    by_name = {x.path.rsplit("/", 1)[1]: x for x in r.results}
    assert by_name["photo.webp"].item.verdict == "fixable"
    gone = by_name["gone.mp4"]
    assert gone.item.verdict == "fail" and gone.item.findings[0].code == "file.not_found"
    assert gone.item.path == f"{bucket}/gone.mp4"
    assert list(private_tmp.iterdir()) == []


def test_file_url_is_read_in_place(tmp_path: Path, private_tmp: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    make_image(folder / "a.jpg")
    r = run_batch([folder.as_uri()], content=False, jobs=1, state_path=tmp_path / "s")
    assert [x.path for x in r.results] == [f"{folder.as_uri()}/a.jpg"]
    assert r.results[0].item.verdict == "pass" and r.results[0].digest is not None
    assert list(private_tmp.iterdir()) == []


def test_without_fsspec_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "fsspec.core", None)
    with pytest.raises(UsageError, match=r"pip install .*preflight-motion\[remote\]"):
        run_batch(["memory://anything/"], content=False, jobs=1)
    assert main(["batch", "memory://anything/", "-q"]) == 2
    assert "pip install" in capsys.readouterr().err


def test_unknown_protocol_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["batch", "nosuchfs://x/", "-q"]) == 2
    assert "nosuchfs" in capsys.readouterr().err


def test_dask_workers_fetch_urls_themselves(bucket: str, private_tmp: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("dask.distributed")
    from preflight.batch.executors import DaskExecutor, SerialExecutor
    from preflight.report import report_to_dict

    local = run_batch([bucket], content=False, executor=SerialExecutor(), state_path=tmp_path / "a")
    # Threads, not processes: memory:// lives in this process (an object store would not care).
    with distributed.LocalCluster(n_workers=2, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:  # fmt: skip
        workers = set(client.scheduler_info()["workers"])
        on_dask = run_batch([bucket], content=False, executor=DaskExecutor(client=client), state_path=tmp_path / "b")
    assert report_to_dict(on_dask.report) == report_to_dict(local.report)
    assert [r.path for r in on_dask.results] == [f"{bucket}/clip.mp4", f"{bucket}/takes/photo.webp"]
    assert len(workers) == 2 and {r.ran_on.worker for r in on_dask.results} <= workers  # fetched on Dask's workers
    assert not list(private_tmp.glob("preflight-fetch-*"))  # (Dask keeps its own scratch folder there)


def test_url_walk_reports_every_file_and_counts_what_it_skips(bucket: str, private_tmp: Path, tmp_path: Path) -> None:
    fs = fsspec.filesystem("memory")
    root = bucket.split(":/", 1)[1]
    fs.pipe(f"{root}/notes.mp4", b"not a video at all")
    fs.pipe(f"{root}/empty.png", b"")
    fs.pipe(f"{root}/takes/.DS_Store", b"x")
    r = run_batch([bucket], content=False, jobs=1, state_path=tmp_path / "s")
    codes = {x.path.rsplit("/", 1)[1]: [f.code for f in x.item.findings if f.severity.value == "error"]
             for x in r.results}  # fmt: skip
    assert set(codes) == {"clip.mp4", "empty.png", "notes.mp4", "photo.webp"}  # every file has its row
    assert codes["notes.mp4"] == ["format.unrecognized"] and codes["empty.png"] == ["file.empty"]
    assert codes["clip.mp4"] == [] and not r.ok
    assert {(s.path, s.reason) for s in r.skipped} == {
        (f"{bucket}/.hidden", "hidden"),
        (f"{bucket}/IMG_0001.AAE", "sidecar"),
        (f"{bucket}/takes/.DS_Store", "sidecar"),
    }
    g = run_batch([bucket], patterns=["*.mp4"], content=False, jobs=1, state_path=tmp_path / "s2")
    assert [x.path.rsplit("/", 1)[1] for x in g.results] == ["clip.mp4", "notes.mp4"]
    assert sum(1 for s in g.skipped if s.reason == "glob") == 2  # empty.png, takes/photo.webp


def test_file_url_folder_follows_the_local_rules(tmp_path: Path, private_tmp: Path, deadline: None) -> None:
    """file:// is walked as the local folder it is: a link out is not followed, a FIFO is a row, never read."""
    import os

    folder, outside = tmp_path / "in", tmp_path / "outside"
    (folder / "sub").mkdir(parents=True)
    outside.mkdir()
    make_image(folder / "sub" / "a.jpg")
    make_image(outside / "secret.jpg")
    os.symlink(outside / "secret.jpg", folder / "secret.jpg")
    os.mkfifo(folder / "pipe.mp4")
    (folder / "Thumbs.db").write_bytes(b"x")
    r = run_batch([folder.as_uri()], content=False, jobs=1, state_path=tmp_path / "s")
    rows = {x.path: (x.item.findings[0].code if x.item.findings else None) for x in r.results}
    assert rows == {f"{folder.as_uri()}/pipe.mp4": "file.special", f"{folder.as_uri()}/sub/a.jpg": None}
    assert {(s.path, s.reason) for s in r.skipped} == {
        (f"{folder.as_uri()}/secret.jpg", "link_outside"),
        (f"{folder.as_uri()}/Thumbs.db", "sidecar"),
    }


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user cache, where a batch into a URL keeps its lock and resume state."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_output_url_gets_each_file_once_and_resume_finds_it(bucket: str, private_tmp: Path, cache_home: Path,
                                                            tmp_path: Path) -> None:  # fmt: skip
    """``-o memory://...`` (one process: memory:// lives in it): outputs are copied there, the tree mirrored,
    under free names claimed exclusively (a second run never replaces the first's); ``--resume`` sees them."""
    fs = fsspec.filesystem("memory")
    ready = f"memory://{uuid.uuid4().hex}/ready"
    first = run_batch([bucket], outdir=ready, content=False, jobs=1)
    outputs = {r.path: r.output for r in first.results}
    assert outputs == {
        f"{bucket}/clip.mp4": f"{ready}/clip.mp4",
        f"{bucket}/takes/photo.webp": f"{ready}/takes/photo.jpg",
    }
    assert all(r.after.path == r.output and r.passed for r in first.results)
    photo = fs.cat(f"{ready}/takes/photo.jpg".split("://", 1)[1])
    (tmp_path / "photo.jpg").write_bytes(photo)
    assert probe(tmp_path / "photo.jpg").format == "jpeg"
    assert first.state_path.startswith(str(cache_home))  # a bucket takes no appends: the state stays here
    second = run_batch([bucket], outdir=ready, content=False, jobs=1)
    assert [r.output.rsplit("/", 1)[1] for r in second.results] == ["clip-1.mp4", "photo-1.jpg"]
    assert fs.cat(f"{ready}/takes/photo.jpg".split("://", 1)[1]) == photo  # not replaced
    fs.rm(f"{ready}/clip-1.mp4".split("://", 1)[1])
    again = run_batch([bucket], outdir=ready, content=False, jobs=1, resume=True)
    assert [r.resumed for r in again.results] == [False, True]  # the clip's latest output is gone: redone
    assert not list(private_tmp.glob("preflight-out-*")) and not list(private_tmp.glob("preflight-fetch-*"))


def test_file_url_output_inside_the_input_is_not_walked(tmp_path: Path, private_tmp: Path, cache_home: Path) -> None:
    """``batch file:///in -o file:///in/ready --json``: outputs are URLs, linked into place (no temporary
    name left), the output folder is skipped by the next walk, and each item says where it ran."""
    folder = tmp_path / "in"
    folder.mkdir()
    make_image(folder / "p.webp", format="WEBP", width=640, height=800)
    ready = f"{folder.as_uri()}/ready"
    for run in range(2):
        result = CliRunner().invoke(cli, ["batch", folder.as_uri(), "-o", ready, "--no-content", "-q", "-j", "1",
                                          "--json"], catch_exceptions=False)  # fmt: skip
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert [i["output"] for i in data["items"]] == [f"{ready}/p.jpg" if run == 0 else f"{ready}/p-1.jpg"]
        assert data["items"][0]["ran_on"]["pid"] == os.getpid()  # -j 1: this process
    assert data["skipped"]["entries"] == [{"path": ready, "reason": "output_folder",
                                           "detail": "folder: nothing below it was looked at"}]  # fmt: skip
    assert sorted(p.name for p in (folder / "ready").iterdir()) == ["p-1.jpg", "p.jpg"]
    assert not list(private_tmp.iterdir())


def test_output_url_a_store_refuses_fails_the_file(bucket: str, private_tmp: Path, cache_home: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A store that refuses one upload (no permission there) fails that file's output with the store's words."""
    from preflight.batch import url_outputs

    real = url_outputs._put_exclusive

    def refusing(fs, local, target):  # type: ignore[no-untyped-def]
        if target.endswith(".jpg"):
            raise PermissionError(13, "Access Denied")
        return real(fs, local, target)

    monkeypatch.setattr(url_outputs, "_put_exclusive", refusing)
    ready = f"memory://{uuid.uuid4().hex}/ready"
    result = run_batch([bucket], outdir=ready, content=False, jobs=1)
    clip, photo = result.results
    assert clip.passed and photo.output is None and not photo.passed and not result.ok
    assert [f.code for f in photo.after.findings] == ["output.not_writable"]
    why = f"{ready}/takes/photo.jpg: cannot write this output: [Errno 13] Access Denied"
    assert photo.reason == f"output.not_writable: {why}"


def test_a_second_batch_into_the_same_url_is_refused(bucket: str, cache_home: Path) -> None:
    from preflight.batch.lock import OutputLock
    from preflight.batch.url_outputs import local_home
    from preflight.errors import PreflightError

    ready = f"memory://{uuid.uuid4().hex}/ready"
    with OutputLock(local_home(ready)), pytest.raises(PreflightError) as refused:
        run_batch([bucket], outdir=ready, content=False, jobs=1)
    assert refused.value.code == "batch.locked" and refused.value.message.startswith(f"{ready}: another preflight")
