"""The /v1 API through Starlette's TestClient, with jobs on a real batch pool of two workers."""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from serve_helpers import files_of


def test_health_openapi_and_config_without_keys(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAL_KEY", "fal-SECRET-never-shown-1234:abcd")
    assert client.get("/v1/health").json()["status"] == "ok"
    doc = client.get("/v1/openapi.json").json()
    described = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    routes = {(r.path.replace(":int", ""), m) for r in client.app.app.routes if r.path.startswith("/v1")
              for m in r.methods if m != "HEAD"}  # fmt: skip
    assert described == routes  # every route described, nothing described that is not there
    response = client.get("/v1/config")
    config = response.json()
    assert "fal-SECRET" not in response.text
    keys = {p["name"]: p["key_configured"] for p in config["providers"]}
    assert keys["fal"] is True and keys["kie"] is False
    assert config["defaults"]["profile"] == "kling-v2.6" and "kling-v3" in config["models"]


def test_the_page_and_its_files(client: Any) -> None:
    page = client.get("/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert client.server.csrf in page.text and "{{csrf}}" not in page.text
    assert "<script>" not in page.text and "<style>" not in page.text  # nothing inline: CSP would block it
    assert "http://" not in page.text and "https://" not in page.text  # nothing from elsewhere (no CDN)
    js = client.get("/static/app.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert client.get("/static/app.css").status_code == 200
    for bad in ("/static/index.html", "/static/..%2fapp.py", "/static/jobs.py"):
        assert client.get(bad).json()["error"]["code"] == "file.not_found"


def test_check_pair_sync_then_its_job(client: Any, person_media: tuple[Path, Path]) -> None:
    image, clip = person_media
    response = client.post("/v1/check?model=kling-v3&provider=fal&orientation=image", files=files_of(image, clip))
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["schema"] == "preflight.report/1" and report["profile"] == "kling-v3@fal"
    assert [i["path"] for i in report["items"]] == ["me.jpg", "dance.mp4"]
    assert str(client.server.store.root) not in response.text  # labels, never the server's paths
    clip_item = report["items"][1]
    assert "duration.too_long" in {f["code"] for f in clip_item["findings"]}
    job = client.get(f"/v1/jobs/{response.headers['x-preflight-job']}").json()
    assert job["state"] == "done" and job["inputs"] == {"image": "me.jpg", "video": "dance.mp4"}
    line = job["result"]["timeline"]
    assert line["duration"] == pytest.approx(12, abs=0.1) and line["max_length"] == 10
    assert line["samples"] and all(len(s) == 3 for s in line["samples"])
    assert any(s[2] for s in line["samples"])  # the torso is seen
    start, end = line["suggested"]["start"], line["suggested"]["end"]
    assert end - start == pytest.approx(10, abs=0.01)
    names = {f["name"] for f in job["files"]}
    assert names == {"sheet.png", "image-pose.jpg", "video-first-pose.jpg"}  # the pose drawn on both
    sheet = client.get(f"/v1/jobs/{job['id']}/files/sheet.png?inline=1")
    assert sheet.content.startswith(b"\x89PNG") and "attachment" not in sheet.headers.get("content-disposition", "")
    for picture in ("image-pose.jpg", "video-first-pose.jpg"):
        assert client.get(f"/v1/jobs/{job['id']}/files/{picture}").content.startswith(b"\xff\xd8")
    for name in ("manifest.json", "..%2F..%2Fetc%2Fpasswd", "progress.json", "image.jpg"):  # only the job's list
        assert client.get(f"/v1/jobs/{job['id']}/files/{name}").json()["error"]["code"] == "file.not_found"


def test_two_uploads_check_in_parallel_and_the_server_answers_meanwhile(
    client: Any, person_media: tuple[Path, Path]
) -> None:
    _, clip = person_media
    ids = []
    for _ in range(2):
        response = client.post("/v1/check", files=files_of(clip=clip), headers={"Prefer": "respond-async"})
        assert response.status_code == 202 and response.headers["location"] == response.json()["status_url"]
        ids.append(response.json()["job"])
    started = time.monotonic()
    health = client.get("/v1/health")
    assert health.status_code == 200 and time.monotonic() - started < 1.0  # the loop is not analysing
    seen_progress = []
    while True:
        jobs = [client.get(f"/v1/jobs/{i}").json() for i in ids]
        seen_progress += [j["progress"] for j in jobs if j["progress"]]
        if all(j["state"] == "done" for j in jobs):
            break
        time.sleep(0.05)
    workers = [j["result"]["worker"] for j in jobs]
    assert workers[0]["pid"] != workers[1]["pid"]
    assert max(w["started"] for w in workers) < min(w["finished"] for w in workers)  # they overlapped
    assert any("checking" in p["stage"] for p in seen_progress)
    listed = [j["id"] for j in client.get("/v1/jobs").json()["jobs"]]
    assert set(ids) <= set(listed)


def test_fix_answers_with_the_file(client: Any, person_media: tuple[Path, Path], tmp_path: Path) -> None:
    import av

    _, clip = person_media
    response = client.post("/v1/fix?orientation=image", files=files_of(clip=clip), data={"start": "1.5"})
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"] == "video/mp4"
    assert 'filename="dance-ready.mp4"' in response.headers["content-disposition"]
    assert response.headers["x-preflight-verdict"] == "pass"
    with av.open(io.BytesIO(response.content)) as got:
        assert float(got.duration / 1e6) == pytest.approx(10.0, abs=0.15)  # 1.5-11.5 s
    as_json = client.post("/v1/fix?orientation=image&end=6", files=files_of(clip=clip),
                          headers={"Accept": "application/json"})  # fmt: skip
    job = as_json.json()
    assert job["state"] == "done" and job["result"]["outputs"][0]["name"] == "video.mp4"
    assert "trim 0.000-6.000" in " ".join(job["result"]["report"]["items"][0]["actions"])
    download = client.get(job["files"][0]["url"])
    assert download.content[4:8] == b"ftyp" and "attachment" in download.headers["content-disposition"]


@pytest.mark.model
def test_fix_reframes_and_shows_the_frames_before_and_after(client: Any, tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from people import astronaut, scene

    from preflight.samples import make_clip

    frame = scene([(astronaut(), 0.3, (0.35, 0.45))], canvas=(720, 1280))
    small = make_clip(tmp_path / "small.mp4", duration=3, width=1280, height=720, fps=12, frames=lambda i, *_: frame)
    refused = client.post("/v1/fix?reframe=fixed&content=false", files=files_of(clip=small))
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "usage.invalid"
    job = client.post("/v1/fix?reframe=fixed&person=largest", files=files_of(clip=small),
                      headers={"Accept": "application/json"}).json()  # fmt: skip
    assert job["state"] == "done", job
    (row,) = job["result"]["outputs"]
    assert any(a.startswith("reframe crop") for a in job["result"]["report"]["items"][0]["actions"])
    assert row["reframe_preview"] == "reframe-video.jpg"
    frames = client.get(f"/v1/jobs/{job['id']}/files/reframe-video.jpg?inline=1")
    assert frames.status_code == 200 and frames.content[:3] == b"\xff\xd8\xff"


def test_fix_that_cannot_help_is_422_with_the_code(client: Any, tmp_path: Path) -> None:
    from preflight.samples import make_clip

    short = make_clip(tmp_path / "short.mp4", duration=1.5, width=360, height=480)
    response = client.post("/v1/fix?content=false", files=files_of(clip=short))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "duration.too_short"


def test_jobs_unknown_delete_and_sweep(client: Any, person_media: tuple[Path, Path]) -> None:
    image, _ = person_media
    assert client.get("/v1/jobs/0123456789abcdef").json()["error"]["code"] == "job.not_found"
    assert client.get("/v1/jobs/not-an-id").status_code == 404
    done = client.post("/v1/check?content=false&wait=30", files=files_of(image=image))
    job_id = done.headers["x-preflight-job"]
    folder = client.server.store.jobs[job_id].folder
    assert folder.is_dir()
    assert client.delete(f"/v1/jobs/{job_id}").json() == {"deleted": job_id}
    assert not folder.exists() and client.get(f"/v1/jobs/{job_id}").status_code == 404
    other = client.post("/v1/check?content=false", files=files_of(image=image)).headers["x-preflight-job"]
    store = client.server.store
    assert store.sweep() == 0 and store.sweep(now=time.time() + store.max_age + 1) >= 1
    assert other not in store.jobs and list(store.root.iterdir()) == []


def test_prepare_dry_run_submit_and_ledger(client: Any, person_media: tuple[Path, Path], fake: Any,
                                           monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    image, clip = person_media
    server = fake("fal")
    monkeypatch.setenv("PREFLIGHT_FAL_BASE_URL", server.url)
    monkeypatch.setenv("PREFLIGHT_FAL_STORAGE_URL", server.url)
    prepared = client.post("/v1/prepare?provider=fal&orientation=image&content=false", files=files_of(image, clip))
    job = prepared.json()
    assert job["state"] == "done" and job["result"]["ok"], prepared.text[:800]
    assert {f["name"] for f in job["files"]} == {"image.jpg", "video.mp4", "manifest.json"}
    bundle = job["id"]
    dry = client.post("/v1/submit", json={"bundle": bundle, "provider": "fal", "dry_run": True})
    answer = dry.json()
    assert dry.status_code == 200 and answer["cost"]["line"].startswith("cost: about $0.70 for 10.0 s")
    assert "POST" in answer["requests"] and "fal-TEST-key" not in dry.text and server.creates == 0
    no_confirm = client.post("/v1/submit", json={"bundle": bundle, "provider": "fal"})
    assert no_confirm.json()["error"]["code"] == "usage.invalid" and server.creates == 0
    real = client.post("/v1/submit", json={"bundle": bundle, "provider": "fal", "confirm": True})
    submitted = real.json()
    assert submitted["state"] == "done", real.text[:800]
    row = submitted["result"]["ledger_job"]
    assert row["provider"] == "fal" and row["task_id"] and server.creates == 1
    ledger = client.get("/v1/ledger").json()["jobs"]
    assert ledger[0]["id"] == row["id"]
    refreshed = client.post(f"/v1/ledger/{row['id']}/refresh").json()
    assert refreshed["id"] == row["id"]
    again = client.post("/v1/submit", json={"bundle": bundle, "provider": "fal", "confirm": True}).json()
    assert again["error"]["code"] == "submit.duplicate" and server.creates == 1
    assert client.post("/v1/ledger/9999/refresh").json()["error"]["code"] == "job.not_found"
    check_job = client.post("/v1/check?content=false", files=files_of(image=image)).headers["x-preflight-job"]
    refused = client.post("/v1/submit", json={"bundle": check_job, "provider": "fal", "dry_run": True})
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "bundle.invalid")
    unknown = client.post("/v1/submit", json={"bundle": bundle, "provider": "/etc/x.toml", "dry_run": True})
    assert unknown.json()["error"]["code"] == "usage.invalid"


def test_the_default_profile_follows_preflight_model(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """`preflight serve --help` names PREFLIGHT_MODEL as --model's default: the server's default takes it."""
    monkeypatch.setenv("PREFLIGHT_MODEL", "kling-v3")
    defaults = client.get("/v1/config").json()["defaults"]
    assert (defaults["profile"], defaults["model"]) == ("kling-v3@kling", "kling-v3")


def test_fix_stabilizes_when_asked(client: Any, tmp_path: Path) -> None:
    from shaky import handheld

    from preflight.samples import make_clip

    camera = handheld(960, 540, frames=90, jitter_pct=1.0)
    clip = make_clip(tmp_path / "shaky.mp4", duration=3, width=960, height=540, fps=30, frames=camera.draw, crf=20)
    response = client.post("/v1/fix?stabilize=true", files=files_of(clip=clip), headers={"Accept": "application/json"})
    item = response.json()["result"]["report"]["items"][0]
    assert any(a.startswith("stabilize (jitter 1.") for a in item["actions"]), item["actions"]
    assert "motion.camera_shake" not in {f["code"] for f in item["after"]["findings"]}
    for bad in ("stabilize=maybe", "stabilize=true&content=false"):
        refused = client.post(f"/v1/fix?{bad}", files=files_of(clip=clip))
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "usage.invalid", bad
    described = client.get("/v1/openapi.json").json()["paths"]["/v1/fix"]["post"]["parameters"]
    assert "stabilize" in {p["name"] for p in described}
