"""serve and its worker processes: a worker killed under a job fails that job (``worker.died``) and the next
request is answered; DELETE stops a running job's worker; a server killed outright leaves no process,
and its private folder is removed by the next server to start, never a live server's."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import worker_faults
from process_tree import kill_9_and_assert_nothing_left
from worker_faults import pids_in, wait_for_pid

from preflight.outfiles import process_alive
from preflight.serve.jobs import FOLDER_PREFIX, JobStore

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kills processes found in /proc")


@pytest.fixture
def holding(monkeypatch: pytest.MonkeyPatch) -> None:
    """/v1/check holds an upload named ``*hold*`` until its worker is killed (see worker_faults)."""
    import preflight.serve.work as work

    monkeypatch.setattr(work, "run_check", worker_faults.run_check_holding)


def _post(client: Any, image: Path, name: str, query: str = "content=false") -> Any:
    files = {"image": (name, image.read_bytes(), "image/jpeg")}
    return client.post(f"/v1/check?{query}", files=files, headers={"Prefer": "respond-async"})


def _poll(client: Any, job_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (job := client.get(f"/v1/jobs/{job_id}").json())["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline, f"job {job_id} still {job['state']} after {timeout} s"
        time.sleep(0.05)
    return job


def test_a_worker_killed_under_a_job_fails_that_job_and_the_next_request_is_answered(
    client: Any, holding: None, person_media: tuple[Path, Path]
) -> None:
    image, _ = person_media
    job_id = _post(client, image, "hold.jpg").json()["job"]
    folder = client.server.store.jobs[job_id].folder
    worker = wait_for_pid(folder / "worker.pid")
    os.kill(worker, signal.SIGKILL)
    job = _poll(client, job_id)
    assert job["state"] == "failed" and job["error"]["code"] == "worker.died"
    assert job["error"]["message"].startswith("the worker running this check was killed by SIGKILL (signal 9)")
    assert "out-of-memory" in job["error"]["message"]  # the page shows this line as it is
    answer = client.post("/v1/check?content=false&wait=60", files={"image": ("me.jpg", image.read_bytes())})
    assert answer.status_code == 200, answer.text  # no 500 until a restart
    assert answer.json()["items"][0]["verdict"] == "pass"
    assert len(pids_in(folder / "worker.pid")) == 1  # the job was not run again


def test_delete_stops_a_running_job_even_when_its_worker_ignores_sigterm(
    client: Any, holding: None, person_media: tuple[Path, Path]
) -> None:
    """A worker deep in native code (a pose call on a huge image) runs no Python signal handler: it stands
    here as one blocking SIGTERM; DELETE still frees it within a second or two (SIGKILL after the grace)."""
    image, _ = person_media
    job_id = _post(client, image, "hold-stubborn.jpg").json()["job"]
    folder = client.server.store.jobs[job_id].folder
    worker = wait_for_pid(folder / "worker.pid")
    asked = time.monotonic()
    assert client.delete(f"/v1/jobs/{job_id}").json() == {"deleted": job_id}
    while process_alive(worker) and time.monotonic() - asked < 5:
        time.sleep(0.02)
    assert not process_alive(worker), "the job's worker is still running 5 s after DELETE"
    assert time.monotonic() - asked < 3
    assert client.get(f"/v1/jobs/{job_id}").status_code == 404
    deadline = time.monotonic() + 5
    while folder.exists() and time.monotonic() < deadline:  # removed again once the worker is gone
        time.sleep(0.05)
    assert not folder.exists()
    answer = client.post("/v1/check?content=false&wait=60", files={"image": ("me.jpg", image.read_bytes())})
    assert answer.status_code == 200, answer.text


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_server(tmp: Path) -> tuple[subprocess.Popen, Path]:
    """``preflight serve -j 1`` with ``TMPDIR=tmp``, once it answers; and its private folder."""
    port = _free_port()
    env = {**os.environ, "TMPDIR": str(tmp)}
    before = set(tmp.glob(f"{FOLDER_PREFIX}*"))
    server = subprocess.Popen([sys.executable, "-m", "preflight", "serve", "--port", str(port), "-j", "1"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert server.poll() is None and time.monotonic() < deadline, "preflight serve did not start"
        time.sleep(0.1)
    (folder,) = set(tmp.glob(f"{FOLDER_PREFIX}*")) - before
    return server, folder


def test_kill_9_of_serve_leaves_nothing_running_and_the_next_start_removes_its_folder(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    killed, killed_folder = _start_server(tmp)
    kill_9_and_assert_nothing_left(killed, workers=1)
    assert killed_folder.is_dir()  # nothing could remove it at the kill
    live, live_folder = _start_server(tmp)  # its start removes the dead server's folder...
    try:
        assert not killed_folder.exists()
        (live_folder / "upload.bin").write_bytes(b"x")
        store = JobStore(None, max_age=60, workdir=str(tmp))  # ...and a start beside a live server
        store.close()
        assert live_folder.is_dir() and (live_folder / "upload.bin").exists()  # a live server's stays
    finally:
        live.send_signal(signal.SIGTERM)
        live.wait(timeout=30)
    assert not live_folder.exists()  # removed at its own exit
