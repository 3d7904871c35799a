"""batch on a real Dask cluster: a scheduler and two workers started as their own processes (``dask
scheduler``, ``dask worker``) in a folder of their own, the batch run from another (issue 21).

Every file must be checked by one of those workers (``ran_on``: its pid and working folder, not the
client's); relative inputs and ``-o`` are resolved before they are sent; a path the workers cannot see
is ``dask.not_shared``; ``-o`` may be a URL the workers write to (``file://``, and ``s3://`` on moto's
server on loopback).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from preflight.batch import BatchResult, run_batch
from preflight.media.probe import probe
from preflight.samples import make_clip, make_image

distributed = pytest.importorskip("dask.distributed")

S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
          "AWS_EC2_METADATA_DISABLED": "true"}  # fmt: skip
"""moto's server takes any key; the workers get these, and its address as AWS_ENDPOINT_URL, at start."""
READY_SECONDS = 90


@dataclass(frozen=True)
class Cluster:
    address: str
    folder: Path
    """The scheduler's and workers' working folder (not the client's)."""
    workers: dict[str, int]
    """Worker address -> pid."""
    s3_endpoint: str | None


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str | None]:
    """moto's S3 server on loopback, when moto and s3fs are installed (the dev extra has them)."""
    try:
        import s3fs  # noqa: F401
        from moto.server import ThreadedMotoServer
    except ImportError:
        yield None
        return
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str | None) -> Iterator[Cluster]:
    """``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1 (free ports, no dashboard), in
    their own folder; killed, with anything they started, at the end."""
    folder = tmp_path_factory.mktemp("cluster")
    env = dict(os.environ) | S3_ENV | ({"AWS_ENDPOINT_URL": s3_endpoint} if s3_endpoint else {})
    started: list[subprocess.Popen[bytes]] = []

    def start(module: str, *args: str, log: str) -> subprocess.Popen[bytes]:
        with open(folder / log, "wb") as out:  # the child keeps its own descriptor
            proc = subprocess.Popen([sys.executable, "-m", module, *args], cwd=folder, env=env, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        started.append(proc)
        return proc

    try:
        scheduler_file = folder / "scheduler.json"
        scheduler = start("distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                          "--scheduler-file", str(scheduler_file), log="scheduler.log")  # fmt: skip
        address = _wait_for_address(scheduler_file, scheduler, folder / "scheduler.log")
        for n in range(2):
            start("distributed.cli.dask_worker", address, "--host", "127.0.0.1", "--no-nanny", "--nthreads", "1",
                  "--no-dashboard", "--name", f"w{n}", "--local-directory", str(folder / f"w{n}"),
                  log=f"worker{n}.log")  # fmt: skip
        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=READY_SECONDS)
            workers = client.run(os.getpid)
        assert set(workers.values()) == {p.pid for p in started[1:]}  # the processes started here, no nanny
        yield Cluster(address, folder, workers, s3_endpoint)
    finally:
        for proc in reversed(started):
            _stop(proc)


def _wait_for_address(scheduler_file: Path, scheduler: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if scheduler.poll() is not None:
            pytest.fail(f"the scheduler exited: {log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(OSError, ValueError, KeyError):
            return str(json.loads(scheduler_file.read_text())["address"])
        time.sleep(0.2)
    pytest.fail(f"no scheduler after {READY_SECONDS} s: {log.read_text(errors='replace')[-2000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process's own session (it and what it started), SIGKILL after 10 s."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def client_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The client's working folder: ``in/`` with a good clip, a fixable WEBP below ``takes/`` and a cut-off upload."""
    root = tmp_path_factory.mktemp("client")
    (root / "in" / "takes").mkdir(parents=True)
    make_clip(root / "in" / "good.mp4", duration=3.5, width=640, height=360)
    make_image(root / "in" / "takes" / "photo.webp", format="WEBP", width=640, height=800)
    data = (root / "in" / "good.mp4").read_bytes()
    (root / "in" / "upload.mp4").write_bytes(data[: len(data) // 3])
    return root


@pytest.fixture
def in_client_dir(client_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(client_dir)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # where a URL output's lock and state go
    return client_dir


def _ran_on_the_workers(rows: list[dict], cluster: Cluster, client_pid: int, client_cwd: Path) -> None:
    """Each file was checked by one of the cluster's worker processes, in the cluster's folder."""
    for row in rows:
        ran_on = row["ran_on"]
        assert ran_on["pid"] != client_pid and ran_on["cwd"] != str(client_cwd), row["path"]
        assert cluster.workers[ran_on["worker"]] == ran_on["pid"], row["path"]
        assert ran_on["cwd"] == str(cluster.folder), row["path"]


def _rows(result: BatchResult) -> list[dict]:
    """The results as ``--jsonl`` rows show where they ran."""
    return [{"path": r.path, "ran_on": asdict(r.ran_on)} for r in result.results]


def test_relative_paths_are_checked_and_fixed_by_the_workers(cluster: Cluster, client_dir: Path,
                                                            tmp_path: Path) -> None:  # fmt: skip
    """The issue's case: ``batch in/ -o out/`` from the client's folder used to be file.not_found for every file."""
    out = client_dir / "out"
    args = ["batch", "in/", "-o", "out/", "--no-content", "--jsonl", "-q", "--executor", "dask",
            "--scheduler", cluster.address]  # fmt: skip
    env = dict(os.environ) | {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "preflight", *args], cwd=client_dir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 1, stderr  # upload.mp4 is cut off
    rows = {x["path"]: x for x in map(json.loads, stdout.splitlines()) if x["event"] == "file"}
    assert set(rows) == {"in/good.mp4", "in/takes/photo.webp", "in/upload.mp4"}  # named as given
    _ran_on_the_workers(list(rows.values()), cluster, proc.pid, client_dir)
    assert rows["in/good.mp4"]["final_verdict"] == "pass" and rows["in/good.mp4"]["output"] == "out/good.mp4"
    assert rows["in/takes/photo.webp"]["output"] == "out/takes/photo.jpg"
    assert rows["in/takes/photo.webp"]["after"]["path"] == "out/takes/photo.jpg"
    assert probe(out / "takes" / "photo.jpg").format == "jpeg" and (out / "good.mp4").is_file()
    cut = rows["in/upload.mp4"]
    assert cut["final_verdict"] == "fail" and cut["sha256"] is not None  # read by the worker, found broken
    assert "file.not_found" not in {f["code"] for f in cut["item"]["findings"]}
    assert not (cluster.folder / "out").exists()  # nothing written in the workers' own folder
    assert [p.name for p in out.iterdir() if p.name.startswith(".") and p.is_file()] == [".preflight-batch.jsonl"]


def test_output_url_is_written_by_the_workers(cluster: Cluster, in_client_dir: Path, tmp_path: Path) -> None:
    """``-o file:///shared/ready``: each worker copies its outputs there; ``--resume`` finds them by URL."""
    from preflight.batch.executors import DaskExecutor

    shared = tmp_path / "shared" / "ready"
    url = shared.as_uri()
    result = run_batch(["in"], outdir=url, content=False, executor=DaskExecutor(cluster.address))
    rows = {r.path: r for r in result.results}
    assert rows["in/good.mp4"].output == f"{url}/good.mp4" and rows["in/good.mp4"].passed
    assert rows["in/takes/photo.webp"].output == f"{url}/takes/photo.jpg"
    assert rows["in/takes/photo.webp"].after.path == f"{url}/takes/photo.jpg"
    assert probe(shared / "takes" / "photo.jpg").format == "jpeg"
    assert sorted(p.relative_to(shared).as_posix() for p in shared.rglob("*")) == ["good.mp4", "takes",
                                                                                   "takes/photo.jpg"]  # fmt: skip
    _ran_on_the_workers(_rows(result), cluster, os.getpid(), in_client_dir)
    again = run_batch(["in"], outdir=url, content=False, executor=DaskExecutor(cluster.address), resume=True)
    assert [r.resumed for r in again.results] == [True, True, True]


def test_output_to_s3_is_written_by_the_workers(cluster: Cluster, in_client_dir: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """``-o s3://bucket/ready`` on moto's server: the workers upload (the endpoint and keys from their
    environment); a second run never replaces the first run's objects; a missing bucket is refused first."""
    if cluster.s3_endpoint is None:
        pytest.skip("moto[server] and s3fs are in the dev extra")
    import s3fs

    from preflight.batch.executors import DaskExecutor
    from preflight.errors import PreflightError

    for name, value in {**S3_ENV, "AWS_ENDPOINT_URL": cluster.s3_endpoint}.items():
        monkeypatch.setenv(name, value)  # this process checks the bucket before any file is sent
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    bucket = f"ready-{uuid.uuid4().hex[:12]}"
    fs.mkdir(bucket)
    url = f"s3://{bucket}/ready"
    first = run_batch(["in"], outdir=url, content=False, executor=DaskExecutor(cluster.address))
    second = run_batch(["in"], outdir=url, content=False, executor=DaskExecutor(cluster.address))
    outputs = {r.path: r.output for r in first.results}
    assert outputs == {"in/good.mp4": f"{url}/good.mp4", "in/takes/photo.webp": f"{url}/takes/photo.jpg",
                       "in/upload.mp4": None}  # fmt: skip
    assert {r.output for r in second.results} == {f"{url}/good-1.mp4", f"{url}/takes/photo-1.jpg", None}
    assert fs.cat(f"{bucket}/ready/good.mp4") == (in_client_dir / "in" / "good.mp4").read_bytes()  # a copy
    _ran_on_the_workers(_rows(first), cluster, os.getpid(), in_client_dir)
    with pytest.raises(PreflightError) as refused:
        run_batch(["in"], outdir=f"s3://no-{bucket}/ready", content=False, executor=DaskExecutor(cluster.address))
    assert refused.value.code == "output.not_writable" and "bucket does not exist" in refused.value.message
    assert not fs.exists(f"no-{bucket}")  # never created by the check


@pytest.mark.skipif(not os.path.isdir("/proc/self/cwd"), reason="needs Linux's /proc/self/cwd")
def test_paths_the_workers_cannot_see_are_dask_not_shared(cluster: Cluster, in_client_dir: Path) -> None:
    """``/proc/self/cwd/...`` names the client's folder here and the cluster's folder on a worker: a folder
    the client has and the workers do not, as on a disk that is not shared."""
    from preflight.batch.executors import DaskExecutor

    unseen = "/proc/self/cwd/in"
    checked = run_batch([unseen], content=False, executor=DaskExecutor(cluster.address), state_path="state.jsonl")
    assert len(checked.results) == 3
    for r in checked.results:
        finding = r.item.findings[0]
        assert [f.code for f in r.item.findings] == ["dask.not_shared"], r.path
        assert f"{r.path}: the Dask worker {r.ran_on.worker} on " in finding.message
        assert "must be on storage the Dask workers share" in finding.message
        assert cluster.workers[r.ran_on.worker] == r.ran_on.pid

    fixed = run_batch(["in"], outdir="/proc/self/cwd/unseen-out", content=False,
                      executor=DaskExecutor(cluster.address))  # fmt: skip
    for r in fixed.results:
        assert [f.code for f in r.item.findings] == ["dask.not_shared"] and r.output is None, r.path
        assert r.item.findings[0].message.startswith("/proc/self/cwd/unseen-out: the Dask worker ")
        assert "-o must be on storage the Dask workers share" in r.item.findings[0].message
    assert not (cluster.folder / "unseen-out").exists()  # nothing written where nobody looks
    assert not (in_client_dir / "unseen-out").exists()  # the marker gone, the folder the lock made removed
