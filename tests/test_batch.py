"""preflight batch: the right counts, outputs and exit codes on a folder of good, fixable and broken files;
folder walking; the resume state; Ctrl-C; the Dask executor giving the local report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from preflight.batch import BatchState, run_batch
from preflight.batch.executors import DaskExecutor, SerialExecutor, make_executor
from preflight.batch.walk import find_inputs
from preflight.cli import cli, main
from preflight.errors import UsageError
from preflight.media.probe import probe
from preflight.report import report_to_dict
from preflight.samples import make_clip, make_image


@pytest.fixture(scope="module")
def incoming(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """good (2 clips, 1 jpeg), fixable (webp, rotated mov), broken (cut-off upload), plus noise."""
    root = tmp_path_factory.mktemp("incoming")
    (root / "takes").mkdir()
    make_clip(root / "good.mp4", duration=3.5, width=640, height=360)
    make_clip(root / "takes" / "good2.mp4", duration=3.5, width=480, height=640)
    make_image(root / "photo.jpg", width=640, height=800)
    make_image(root / "takes" / "photo.webp", format="WEBP", width=640, height=800)
    make_clip(root / "takes" / "phone.mov", duration=3.5, width=640, height=360, container="mov", rotation=90)
    data = (root / "good.mp4").read_bytes()
    (root / "upload.mp4").write_bytes(data[: len(data) // 3])
    (root / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")  # skipped, counted: a sidecar
    (root / ".hidden.mp4").write_bytes(data)  # skipped, counted: hidden
    return root


def _jsonl(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_check_only_counts_and_exit_code(incoming: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["batch", str(incoming), "--no-content", "--jsonl", "--state", str(tmp_path / "s.jsonl"), "-j", "1"]
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 1
    lines = _jsonl(result.stdout)
    files = {Path(line["path"]).name: line for line in lines if line["event"] == "file"}
    assert set(files) == {"good.mp4", "good2.mp4", "photo.jpg", "photo.webp", "phone.mov", "upload.mp4"}
    assert files["good.mp4"]["verdict"] == "pass" and files["photo.jpg"]["verdict"] == "pass"
    assert files["photo.webp"]["verdict"] == "fixable"
    assert files["upload.mp4"]["verdict"] == "fail"
    assert files["upload.mp4"]["item"]["findings"][0]["severity"] == "error"
    summary = lines[-1]
    assert summary["event"] == "summary" and summary["total"] == 6
    assert summary["pass"] + summary["fixable"] + summary["fail"] == 6 and summary["fail"] == 1
    assert summary["ok"] is False
    assert summary["skipped"]["by_reason"] == {"hidden": 1, "sidecar": 1}


def test_fix_writes_passing_outputs_in_the_same_subfolders(incoming: Path, tmp_path: Path) -> None:
    out = tmp_path / "ready"
    result = run_batch([incoming], outdir=out, content=False, jobs=2)
    by_name = {Path(r.path).name: r for r in result.results}
    assert len(by_name) == 6 and not result.interrupted
    for name in ("good.mp4", "good2.mp4", "photo.jpg", "photo.webp", "phone.mov"):
        r = by_name[name]
        assert r.output is not None and Path(r.output).is_file(), name
        assert r.after is not None and r.after.verdict == "pass", (name, r.after)
        assert probe(r.output).role == r.item.role
    assert Path(by_name["photo.webp"].output).parent == out / "takes"
    assert probe(by_name["photo.webp"].output).format in ("jpeg", "png")
    assert by_name["phone.mov"].actions, "the rotated clip needed work"
    broken = by_name["upload.mp4"]
    assert broken.output is None and broken.reason and not broken.passed
    assert result.summary["fixed"] == 1 and result.summary["not_passing"] == 1
    assert not result.ok  # one input could not be fixed -> exit 1
    assert not any(p.name.startswith(".") and "part" in p.name for p in out.rglob("*")), "no temp files left"


def test_fix_exit_zero_when_every_output_passes(incoming: Path, tmp_path: Path) -> None:
    code = main(["batch", str(incoming / "takes"), "-o", str(tmp_path / "o"), "--no-content", "-q", "-j", "1"])
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir() if not p.name.startswith(".")) == [
        "good2.mp4", "phone.mp4", "photo.jpg",
    ]  # fmt: skip


def test_walk_globs_symlinks_and_outdir(tmp_path: Path) -> None:
    tree, outside = tmp_path / "tree", tmp_path / "outside"
    (tree / "sub").mkdir(parents=True)
    outside.mkdir()
    make_image(tree / "a.jpg")
    make_image(tree / "sub" / "b.png", format="PNG")
    make_image(outside / "secret.jpg")
    make_clip(tree / "sub" / "c.bin", duration=1, container="mp4")  # wrong extension: still a clip
    os.symlink(outside / "secret.jpg", tree / "link_out.jpg")
    os.symlink(tree / "a.jpg", tree / "sub" / "link_in.jpg")
    os.symlink(outside, tree / "dirlink")
    (tree / "ready").mkdir()
    make_image(tree / "ready" / "old_output.jpg")
    found = find_inputs([tree], exclude=[tree / "ready"])
    names = sorted(p.name for p, _ in found)
    assert names == ["a.jpg", "b.png", "c.bin"]  # link_in is a.jpg again; links out and dir links skipped
    assert dict((p.name, sub) for p, sub in found)["b.png"] == "sub"
    assert [p.name for p, _ in find_inputs([tree], patterns=["*.png"])] == ["b.png"]
    assert [p.name for p, _ in find_inputs([str(tree / "**" / "*.jpg")])] == ["a.jpg", "old_output.jpg"]
    assert [p.name for p, _ in find_inputs([tree / "missing.mp4"])] == ["missing.mp4"]  # reported by its check
    with pytest.raises(UsageError):
        find_inputs([outside / "nothing*.mp4"])


def test_interrupted_run_resumes_without_doing_work_twice(incoming: Path, tmp_path: Path) -> None:
    state = tmp_path / "state.jsonl"
    first: list[str] = []

    def ctrl_c_after_two(result) -> None:
        first.append(result.path)
        if len(first) == 2:
            raise KeyboardInterrupt

    r1 = run_batch([incoming], content=False, jobs=1, state_path=state, on_result=ctrl_c_after_two)
    assert r1.interrupted and len(r1.results) == 2 and r1.total == 6 and not r1.ok
    assert len(BatchState(state)) == 2

    seen: list[tuple[str, bool]] = []
    r2 = run_batch([incoming], content=False, jobs=1, state_path=state, resume=True,
                   on_result=lambda r: seen.append((r.path, r.resumed)))  # fmt: skip
    resumed = sorted(p for p, was in seen if was)
    worked = sorted(p for p, was in seen if not was)
    assert resumed == sorted(first)
    assert not set(worked) & set(first) and len(worked) == 4
    assert len(r2.results) == 6 and not r2.interrupted
    fresh = run_batch([incoming], content=False, jobs=1, state_path=tmp_path / "x")
    assert [r.item.verdict for r in r2.results] == [r.item.verdict for r in fresh.results]

    # Nothing left: a third run does no work at all.
    again: list[bool] = []
    run_batch(
        [incoming], content=False, jobs=1, state_path=state, resume=True, on_result=lambda r: again.append(r.resumed)
    )
    assert again == [True] * 6


def test_resume_is_keyed_by_content_and_settings(incoming: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    make_image(folder / "one.jpg")
    state = tmp_path / "s.jsonl"
    run_batch([folder], content=False, jobs=1, state_path=state)
    (folder / "one.jpg").rename(folder / "renamed.jpg")  # same bytes, new name: still done
    r = run_batch([folder], content=False, jobs=1, state_path=state, resume=True)
    assert [x.resumed for x in r.results] == [True] and r.results[0].path.endswith("renamed.jpg")
    r = run_batch([folder], content=False, jobs=1, state_path=state, resume=True, orientation="image")
    assert [x.resumed for x in r.results] == [False]  # other settings: other key
    make_image(folder / "renamed.jpg", width=700, height=900)  # new content under the same name
    r = run_batch([folder], content=False, jobs=1, state_path=state, resume=True)
    assert [x.resumed for x in r.results] == [False]
    with state.open("a") as fh:  # a write cut off by a crash
        fh.write('{"key": "abc", "dig')
    assert len(BatchState(state)) >= 2


def test_resume_redoes_a_fix_whose_output_is_gone(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    make_image(folder / "p.webp", format="WEBP")
    out = tmp_path / "out"
    r1 = run_batch([folder], outdir=out, content=False, jobs=1)
    Path(r1.results[0].output).unlink()
    r2 = run_batch([folder], outdir=out, content=False, jobs=1, resume=True)
    assert not r2.results[0].resumed and Path(r2.results[0].output).is_file()
    r3 = run_batch([folder], outdir=out, content=False, jobs=1, resume=True)
    assert r3.results[0].resumed and (out / ".preflight-batch.jsonl").is_file()


def test_ctrl_c_stops_cleanly_and_resume_finishes(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(8):
        make_image(folder / f"img{i}.png", format="PNG", width=640 + 8 * i, height=800)  # distinct contents
    state = tmp_path / "state.jsonl"
    # Each file is slowed down (0.4 s more) so the interrupt lands mid-batch.
    cmd = [sys.executable, "-c", "import sys, time, preflight.batch.work as w;"
           "orig = w.process_file\n"
           "def slow(*a, **k):\n    time.sleep(0.4); return orig(*a, **k)\n"
           "w.process_file = slow\nimport preflight.batch.executors as e; e.process_file = slow\n"
           "from preflight.cli import main; sys.exit(main(sys.argv[1:]))",
           "batch", str(folder), "--no-content", "--jsonl", "-j", "1", "--state", str(state)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()  # one file finished
    assert json.loads(first)["event"] == "file"
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    done_first = [json.loads(x)["path"] for x in [first, *rest.splitlines()] if '"event": "file"' in x]
    assert 1 <= len(done_first) < 8
    assert "rerun with --resume" in err

    runner = CliRunner()
    result = runner.invoke(cli, ["batch", str(folder), "--no-content", "--jsonl", "-j", "1", "--state", str(state),
                                 "--resume"], catch_exceptions=False)  # fmt: skip
    lines = [x for x in _jsonl(result.stdout) if x["event"] == "file"]
    assert sorted(x["path"] for x in lines if x["resumed"]) == sorted(done_first)
    assert len([x for x in lines if not x["resumed"]]) == 8 - len(done_first)
    assert result.exit_code == 0


def test_dask_gives_the_local_report(incoming: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("dask.distributed")
    local = run_batch([incoming], content=False, executor=SerialExecutor(), state_path=tmp_path / "a")
    with distributed.LocalCluster(n_workers=2, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:  # fmt: skip
        workers = set(client.scheduler_info()["workers"])
        on_dask = run_batch([incoming], content=False, executor=DaskExecutor(client=client),
                            state_path=tmp_path / "b")  # fmt: skip
    assert report_to_dict(on_dask.report) == report_to_dict(local.report)
    assert [r.digest for r in on_dask.results] == [r.digest for r in local.results]
    # Threads of this process, so the pid cannot tell: the worker's address says Dask ran every file.
    assert len(workers) == 2 and {r.ran_on.worker for r in on_dask.results} <= workers


def test_dask_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    make_image(tmp_path / "a.jpg")
    with pytest.raises(UsageError, match="pip install"):
        make_executor("dask")
    with pytest.raises(UsageError, match="pip install"):
        run_batch([tmp_path], content=False, executor=DaskExecutor(), state_path=tmp_path / "s")


def test_usage_errors(tmp_path: Path) -> None:
    make_image(tmp_path / "a.jpg")
    assert main(["batch", str(tmp_path), "--check-only", "-o", str(tmp_path / "o")]) == 2
    assert main(["batch", str(tmp_path), "--scheduler", "tcp://x:1"]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["batch", str(tmp_path / "empty")]) == 2


def test_json_report_and_junit_file(incoming: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    junit = tmp_path / "gate.xml"
    args = ["batch", str(incoming), "--check-only", "--no-content", "-q", "--state", str(tmp_path / "s")]
    result = runner.invoke(cli, [*args, "--format", "json"], catch_exceptions=False)
    data = json.loads(result.stdout)
    assert data["schema"] == "preflight.report/1" and len(data["items"]) == 6
    assert data["batch"]["total"] == 6 and data["summary"]["fail"] == 1
    assert result.exit_code == 1
    result = runner.invoke(cli, [*args, "--jsonl", "--report", str(junit)], catch_exceptions=False)  # by extension
    xml = junit.read_text()
    assert xml.count("<testcase") == 8 and xml.count("<failure") == 2  # webp fixable + cut-off upload
    assert xml.count("<skipped") == 2 and 'skipped="2"' in xml  # Thumbs.db and .hidden.mp4, counted
    assert result.exit_code == 1


def test_fix_options_reach_every_file_and_the_resume_key(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    make_image(folder / "wide.jpg", width=1000, height=300)  # 3.3:1, the profile takes up to 2.5:1
    make_clip(folder / "long.mp4", duration=6, width=640, height=360)
    out, state = tmp_path / "out", tmp_path / "s.jsonl"
    args = ["batch", str(folder), "-o", str(out), "--no-content", "-q", "-j", "1", "--state", str(state), "--json"]
    runner = CliRunner()
    result = runner.invoke(cli, [*args, "--aspect", "crop", "--start", "1", "--end", "4.5"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    items = {Path(i["path"]).name: i for i in json.loads(result.stdout)["items"]}
    wide = probe(items["wide.jpg"]["output"])
    assert wide.height < 400 and wide.width / wide.height <= 2.5 + 1e-3  # cropped: padding would give 1000x400
    assert any(a.startswith("crop") for a in items["wide.jpg"]["actions"])
    clip = probe(items["long.mp4"]["output"])
    assert clip.duration is not None and abs(clip.duration - 3.5) < 0.3, clip.duration

    # Other fix options are other work: nothing resumed; the same ones again: everything resumed.
    base = [a for a in args if a != "--json"]
    padded = runner.invoke(cli, [*base, "--resume", "--fill", "solid", "--jsonl"], catch_exceptions=False)
    assert padded.exit_code == 0
    lines = {Path(x["path"]).name: x for x in _jsonl(padded.stdout) if x["event"] == "file"}
    assert [x["resumed"] for x in lines.values()] == [False, False]
    solid = probe(lines["wide.jpg"]["output"])
    assert (solid.width, solid.height) == (1000, 400)  # padded this time
    again = runner.invoke(cli, [*base, "--resume", "--fill", "solid", "--jsonl"], catch_exceptions=False)
    assert [x["resumed"] for x in _jsonl(again.stdout) if x["event"] == "file"] == [True, True]


def test_fix_options_without_outdir_or_backwards_window_are_usage_errors(tmp_path: Path) -> None:
    make_image(tmp_path / "a.jpg")
    assert main(["batch", str(tmp_path), "--aspect", "crop", "-q"]) == 2
    assert main(["batch", str(tmp_path), "--start", "3", "--end", "2", "-o", str(tmp_path / "o"), "-q"]) == 2
    with pytest.raises(UsageError, match="window"):
        run_batch([tmp_path], outdir=tmp_path / "o", content=False, jobs=1, window="middle")


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_pool_workers_start_before_the_files_and_give_the_serial_results(
    method: str, incoming: Path, tmp_path: Path
) -> None:
    from preflight.batch import BatchSettings
    from preflight.batch.executors import LocalExecutor

    settings = BatchSettings(content=False)
    files = [(str(p), sub) for p, sub in find_inputs([incoming])]
    pool = LocalExecutor(2, start_method=method)
    try:
        pool.warm(settings)  # workers start (and would load the pose model) while the caller walks
        workers = pool.wait_warm()
        assert workers and os.getpid() not in workers
        pooled = {r.path: r for r in pool.run(files, settings)}
    finally:
        pool.close()
    serial = {r.path: r for r in SerialExecutor().run(files, settings)}
    assert set(pooled) == set(serial) and len(pooled) == 6
    assert all(pooled[p].item == serial[p].item and pooled[p].digest == serial[p].digest for p in serial)


def _heavy_modules() -> tuple[bool, bool]:
    import sys

    return "mediapipe" in sys.modules, any(m in sys.modules for m in ("matplotlib", "sounddevice"))


@pytest.mark.skipif("forkserver" not in __import__("multiprocessing").get_all_start_methods(), reason="no fork server")
def test_fork_server_gives_workers_mediapipe_without_plotting_or_sound() -> None:
    """The fork server imports MediaPipe once for every worker, through the loader that leaves out
    matplotlib and sounddevice (a failed preload would pass silently: the worker says what it has)."""
    from preflight.batch import BatchSettings
    from preflight.batch.executors import LocalExecutor

    pool = LocalExecutor(1, start_method="forkserver")
    try:
        pool.warm(BatchSettings(content=False))
        pool.wait_warm()
        assert pool.submit(_heavy_modules).result(timeout=60) == (True, False)
    finally:
        pool.close()


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2, reason="needs 2 cores")
def test_pool_workers_get_a_core_each(tmp_path: Path) -> None:
    import time

    from preflight.batch import BatchSettings
    from preflight.batch.executors import LocalExecutor

    cores = sorted(os.sched_getaffinity(0))
    for pin in (True, False):
        pool = LocalExecutor(2, pin=pin)
        try:
            pool.warm(BatchSettings(content=False))
            pool.wait_warm()
            deadline = time.monotonic() + 20
            while True:  # the second worker may still be starting
                masks = [os.sched_getaffinity(pid) for pid in pool.worker_pids()]
                if (len(masks) == 2 and (not pin or all(len(m) == 1 for m in masks))) or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        finally:
            pool.close()
        if pin:
            assert sorted(next(iter(m)) for m in masks) == cores[:2]  # one core each, not the same one
        else:
            assert masks == [set(cores)] * 2


def test_dask_worker_processes_check_every_file(incoming: Path, tmp_path: Path) -> None:
    """Worker processes, not threads of this one: each file's pid is a Dask worker's."""
    distributed = pytest.importorskip("dask.distributed")
    local = run_batch([incoming], content=False, executor=SerialExecutor(), state_path=tmp_path / "a")
    assert {r.ran_on.pid for r in local.results} == {os.getpid()}
    cluster_args = dict(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with distributed.LocalCluster(**cluster_args) as cluster, distributed.Client(cluster) as client:
        workers = set(client.run(os.getpid).values())
        on_dask = run_batch([incoming], content=False, executor=DaskExecutor(client=client),
                            state_path=tmp_path / "b")  # fmt: skip
    assert len(workers) == 2 and os.getpid() not in workers
    pids = [r.ran_on.pid for r in on_dask.results]
    assert len(pids) == 6 and set(pids) <= workers
    assert report_to_dict(on_dask.report) == report_to_dict(local.report)


def test_jobs_2_spreads_files_over_two_worker_processes(tmp_path: Path) -> None:
    """``--jobs 2``: two worker processes share the files. Each file costs a SHA-256 of 8 MB (~20 ms),
    so the second worker is up before the first could have done them all."""
    import time

    from preflight.batch import BatchSettings
    from preflight.batch.executors import LocalExecutor

    folder = tmp_path / "many"
    folder.mkdir()
    first = folder / "c00.mp4"
    first.write_bytes(os.urandom(8 << 20))  # not media: format.unrecognized, after its digest
    for i in range(1, 16):
        os.link(first, folder / f"c{i:02d}.mp4")
    settings = BatchSettings(content=False)
    pool = LocalExecutor(2)
    try:
        pool.warm(settings)
        pool.wait_warm()
        deadline = time.monotonic() + 20
        while len(pool.worker_pids()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = set(pool.worker_pids())
        result = run_batch([folder], content=False, executor=pool, state_path=tmp_path / "s")
    finally:
        pool.close()
    pids = [r.ran_on.pid for r in result.results]
    assert len(pids) == 16 and set(pids) == workers  # both pool workers checked files
    assert len(workers) == 2 and os.getpid() not in workers  # two processes, neither this one


def test_cli_executor_dask_end_to_end(incoming: Path, tmp_path: Path) -> None:
    pytest.importorskip("dask.distributed")
    args = ["batch", str(incoming), "--no-content", "--jsonl", "--executor", "dask", "-j", "2",
            "--state", str(tmp_path / "s.jsonl")]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "preflight", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1, stderr  # upload.mp4 is cut off
    lines = _jsonl(stdout)
    ran_on = [x["ran_on"] for x in lines if x["event"] == "file"]
    assert all(r["pid"] != proc.pid and r["worker"].startswith("tcp://") for r in ran_on)  # Dask's worker processes
    files = {Path(x["path"]).name: x["verdict"] for x in lines if x["event"] == "file"}
    assert files == {"good.mp4": "pass", "good2.mp4": "pass", "photo.jpg": "pass", "photo.webp": "fixable",
                     "phone.mov": files["phone.mov"], "upload.mp4": "fail"}  # fmt: skip
    assert lines[-1]["event"] == "summary" and lines[-1]["total"] == 6
