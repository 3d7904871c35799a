"""What the page needs from the API: re-checks without a new upload, uploads over a provider's cap, previews
the browser plays, reasons next to each output in words, and a way to finish with every provider."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from serve_helpers import files_of

FLAG = re.compile(r"(?<![\w-])--[a-z]")





def page_texts(data: Any) -> list[str]:
    """Every string of the page's view (result.page): what the page shows."""
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [t for v in data.values() for t in page_texts(v)]
    if isinstance(data, list):
        return [t for v in data for t in page_texts(v)]
    return []


def assert_shown_plainly(client: Any, job: dict[str, Any]) -> None:
    root = str(client.server.store.root)
    assert root not in json.dumps(job)  # no server path anywhere in the job
    for text in page_texts(job["result"]["page"]):
        assert not FLAG.search(text), text


def test_a_new_model_and_provider_recheck_the_same_upload(client: Any, person_media: tuple[Path, Path]) -> None:
    image, clip = person_media
    first = client.post("/v1/check?orientation=image&content=false", files=files_of(image, clip))
    source = first.headers["x-preflight-job"]
    again = client.post(f"/v1/check?model=kling-v3&provider=fal&orientation=video&content=false&source={source}")
    assert again.status_code == 200, again.text[:500]  # no body: nothing uploaded twice
    job = client.get(f"/v1/jobs/{again.headers['x-preflight-job']}").json()
    assert job["inputs"] == {"image": "me.jpg", "video": "dance.mp4"}
    assert job["settings"] == {"profile": "kling-v3@fal", "model": "kling-v3", "provider": "fal",
                               "orientation": "video"}  # fmt: skip
    assert job["result"]["page"]["checked_against"] == "kling-v3 at fal, orientation “follow the clip”"
    verdicts = {i["field"]: i["verdict"] for i in job["result"]["page"]["items"]}
    assert verdicts == {"image": "pass", "video": "pass"}  # 12 s fits orientation video's 30 s
    assert client.delete(f"/v1/jobs/{source}").status_code == 200  # each job owns its copy of the inputs
    fixed = client.post("/v1/fix?orientation=image&content=false", data={"source": job["id"], "end": "6"},
                        headers={"Accept": "application/json"}).json()  # fmt: skip
    assert fixed["state"] == "done" and [o["field"] for o in fixed["result"]["outputs"]] == ["image", "video"]
    gone = client.post(f"/v1/check?source={source}")
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "job.not_found")
    assert list(client.server.store.jobs[job["id"]].folder.parent.glob(f"{source}*")) == []


def test_a_phone_clip_over_the_providers_cap_is_checked_then_squeezed(client: Any, padded_clip: Path) -> None:
    data = {"video": ("phone-60mb.mp4", padded_clip.read_bytes(), "video/mp4")}
    checked = client.post("/v1/check?provider=novita&orientation=image&content=false", files=data)
    assert checked.status_code == 200, checked.text[:300]  # 21 MB: over twice Novita's 10 MB, still taken
    codes = {f["code"] for f in checked.json()["items"][0]["findings"]}
    assert "size.too_large" in codes
    fixed = client.post("/v1/fix?provider=novita&orientation=image&content=false",
                        data={"source": checked.headers["x-preflight-job"]},
                        headers={"Accept": "application/json"}).json()  # fmt: skip
    (item,) = fixed["result"]["page"]["items"]
    assert item["verdict"] == "pass" and item["output"] == "video.mp4"
    output = client.get(f"/v1/jobs/{fixed['id']}/files/video.mp4")
    assert len(output.content) < 10_000_000
    assert_shown_plainly(client, fixed)


def test_previews_play_in_a_browser(client: Any, person_media: tuple[Path, Path], hevc_clip: Path) -> None:
    from preflight.media.probe import probe

    _, clip = person_media
    h264 = client.post("/v1/check?content=false", files=files_of(clip=clip)).headers["x-preflight-job"]
    same = client.post(f"/v1/preview?source={h264}").json()
    assert same["state"] == "done" and same["result"]["made"] is False  # H.264 in MP4 plays as it is
    data = {"video": ("phone.mov", hevc_clip.read_bytes(), "video/quicktime")}
    hevc = client.post("/v1/check?content=false", files=data).headers["x-preflight-job"]
    made = client.post(f"/v1/preview?source={hevc}").json()
    assert made["state"] == "done" and made["result"]["made"] is True
    body = client.get(f"/v1/jobs/{made['id']}/files/preview.mp4?inline=1")
    assert body.headers["content-type"] == "video/mp4"
    assert "attachment" not in body.headers.get("content-disposition", "")
    path = client.server.store.jobs[made["id"]].files["preview.mp4"]
    info = probe(path)
    assert (info.format, info.video.codec, info.video.pix_fmt) == ("mp4", "h264", "yuv420p")
    assert info.duration == pytest.approx(4, abs=0.2)
    fixed = client.post("/v1/fix?content=false&orientation=image", data={"source": hevc, "end": "3.5"},
                        headers={"Accept": "application/json"}).json()  # fmt: skip
    of_output = client.post(f"/v1/preview?source={fixed['id']}&file=video.mp4").json()
    assert of_output["state"] == "done" and of_output["files"][0]["name"] == "preview.mp4"
    missing = client.post(f"/v1/preview?source={fixed['id']}&file=nothing.mp4")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "file.not_found")


def test_an_avi_gets_a_preview_too(client: Any, tmp_path: Path) -> None:
    from preflight.media.probe import probe
    from preflight.samples import make_clip

    avi = make_clip(tmp_path / "camera.avi", duration=3, width=320, height=240, fps=10, container="avi")
    data = {"video": ("camera.avi", avi.read_bytes(), "video/x-msvideo")}
    checked = client.post("/v1/check?content=false", files=data).headers["x-preflight-job"]
    made = client.post(f"/v1/preview?source={checked}").json()
    assert made["state"] == "done" and made["result"]["made"] is True, str(made)[:500]
    info = probe(client.server.store.jobs[made["id"]].files["preview.mp4"])
    assert (info.format, info.video.codec) == ("mp4", "h264")


def test_a_failing_output_says_why_beside_it(client: Any, half_person_clip: Path) -> None:
    data = {"video": ("walks-away.mp4", half_person_clip.read_bytes(), "video/mp4")}
    job = client.post("/v1/fix?orientation=image", files=data, data={"start": "7", "end": "12"},
                      headers={"Accept": "application/json"}).json()  # fmt: skip
    assert job["state"] == "done", str(job)[:500]
    (item,) = job["result"]["page"]["items"]
    assert item["output"] == "video.mp4" and item["verdict"] == "fail"
    assert [p["code"] for p in item["problems"]] == ["pose.no_person"]
    assert "a person shows in" in item["problems"][0]["text"]
    assert any(d.startswith("trimmed to 7.0–12.0 s") for d in item["done"])
    assert_shown_plainly(client, job)


def test_a_prepare_that_fails_names_the_cause_not_a_path(client: Any, person_media: tuple[Path, Path],
                                                         tmp_path: Path) -> None:  # fmt: skip
    from preflight.samples import make_clip

    image, _ = person_media
    short = make_clip(tmp_path / "short.mp4", duration=1.5, width=360, height=480)
    job = client.post("/v1/prepare?content=false", files=files_of(image, short)).json()
    assert job["state"] == "done" and job["result"]["ok"] is False
    view = job["result"]["page"]
    assert view["why"].startswith("the clip: clip is 1.5") and "accepts 3-30 s" in view["why"]
    assert view["items"][0]["why"].startswith("made ready, but not kept")
    assert_shown_plainly(client, job)


def test_the_default_provider_finishes_with_a_link(client: Any, person_media: tuple[Path, Path], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("PREFLIGHT_LEDGER", str(tmp_path / "ledger.sqlite3"))
    config = client.get("/v1/config").json()
    files = {p["name"]: p["files"] for p in config["providers"]}
    assert config["upload"] is False and config["defaults"]["provider"] == "kling"
    assert files["kling"] == {"image": "inline", "video": "needs_link"} and files["fal"]["video"] == "provider"
    oriented = config["models_with_orientation"]
    assert "kling-v2.6" in oriented and "runway-act-two" not in oriented  # Act-Two: one cap, no orientation
    image, clip = person_media
    bundle = client.post("/v1/prepare?orientation=image&content=false", files=files_of(image, clip)).json()["id"]
    refused = client.post("/v1/submit", json={"bundle": bundle, "provider": "kling", "dry_run": True}).json()
    assert refused["error"]["code"] == "submit.needs_url" and "--video-url" in refused["error"]["message"]
    assert "“clip link”" in refused["error"]["text"] and not FLAG.search(refused["error"]["text"])
    link = "https://media.example/clips/dance-ready.mp4"
    dry = client.post("/v1/submit", json={"bundle": bundle, "provider": "kling", "dry_run": True, "video_url": link})
    answer = dry.json()
    assert dry.status_code == 200, dry.text[:500]
    assert answer["page"]["sending"] == {"image": "inline", "video": "link"}
    assert link in answer["page"]["requests"] and answer["page"]["cost"].startswith("cost: about $0.70 for 10.0 s")


def test_the_servers_upload_destination_is_named_not_shown(pool: Any, person_media: tuple[Path, Path],
                                                           tmp_path: Path) -> None:  # fmt: skip
    from starlette.testclient import TestClient

    from preflight.serve.app import create_app
    from preflight.serve.config import ServeConfig
    from preflight.submit.upload import UploadTarget

    www = tmp_path / "www"
    upload = UploadTarget(f"file://{www}", "https://media.example/clips")
    with TestClient(create_app(ServeConfig(upload=upload), executor=pool), base_url="http://127.0.0.1:8765") as client:
        assert client.get("/v1/config").json()["upload"] is True
        image, clip = person_media
        bundle = client.post("/v1/prepare?orientation=image&content=false", files=files_of(image, clip)).json()["id"]
        answer = client.post("/v1/submit", json={"bundle": bundle, "provider": "kling", "dry_run": True}).json()
    assert answer["page"]["sending"]["video"] == "server"
    assert str(www) in answer["requests"]  # the API's dry run says where, as the CLI's does
    shown = answer["page"]["requests"]
    assert str(www) not in shown and "(this server's upload destination)" in shown


def test_damaged_packets_are_marked_on_the_timeline(client: Any, person_media: tuple[Path, Path],
                                                    tmp_path: Path) -> None:  # fmt: skip
    from damaged import damage_packet

    _, clip = person_media
    broken = tmp_path / "broken.mp4"
    at = damage_packet(clip, broken, "video", 50)
    checked = client.post("/v1/check?orientation=image", files=files_of(clip=broken))
    job = client.get(f"/v1/jobs/{checked.headers['x-preflight-job']}").json()
    line = job["result"]["timeline"]
    assert line["damage"] and min(abs(t - at) for t in line["damage"]) < 0.1, (line["damage"], at)
    codes = [f["code"] for f in job["result"]["page"]["items"][0]["findings"]]
    assert "video.corrupt_frames" in codes


def test_an_hdr_clips_preview_is_tone_mapped_and_small(tmp_path: Path) -> None:
    from preflight.media.probe import probe
    from preflight.samples import make_hdr_clip
    from preflight.serve.work import PREVIEW_SIDE, run_preview

    hlg = make_hdr_clip(tmp_path / "hlg.mp4", duration=1, width=1280, height=720)
    folder = tmp_path / "job"
    folder.mkdir()
    result = run_preview(str(hlg), str(folder))
    assert result["made"] is True and "tone map HLG -> SDR BT.709" in result["actions"]
    video = probe(folder / "preview.mp4").video
    assert video is not None and video.hdr is None and video.color_transfer == "bt709"
    assert (video.codec, video.pix_fmt, max(video.width, video.height)) == ("h264", "yuv420p", PREVIEW_SIDE)


def _checked(client: Any, clip: Path) -> dict[str, Any]:
    checked = client.post("/v1/check", files=files_of(clip=clip))
    assert checked.status_code == 200, checked.text[:500]
    return client.get(f"/v1/jobs/{checked.headers['x-preflight-job']}").json()


def _fixed(client: Any, source: str, query: str) -> dict[str, Any]:
    job = client.post(f"/v1/fix?{query}", data={"source": source}, headers={"Accept": "application/json"}).json()
    assert job["state"] == "done", str(job)[:800]
    return job


@pytest.mark.model
def test_frame_one_person_is_offered_beside_what_it_cures_and_shown_before_and_after(
    client: Any, two_people_clip: Path
) -> None:
    assert client.get("/v1/config").json()["reframe_modes"] == ["fixed", "follow"]  # what the page's select offers
    checked = _checked(client, two_people_clip)
    findings = {f["code"]: f for f in checked["result"]["page"]["items"][0]["findings"]}
    assert findings["pose.multiple_people"]["cure"] == findings["pose.subject_too_small"]["cure"] == "reframe"
    assert "(Fix can cure it with “frame one person”: one fixed crop cuts out the 1 other(s))" in \
        findings["pose.multiple_people"]["text"]
    assert_shown_plainly(client, checked)
    job = _fixed(client, checked["id"], "reframe=fixed&person=largest")
    (item,) = job["result"]["page"]["items"]
    assert item["verdict"] == "pass" and not item["warnings"]
    (done,) = [d for d in item["done"] if d.startswith("cropped to")]
    assert "around one person" in done and "1 other person cut out" in done
    (picture,) = item["pictures"]
    assert picture["kind"] == "reframe" and picture["alt"].startswith("before and after framing one person")
    assert done in picture["alt"]
    shown = client.get(f"/v1/jobs/{job['id']}/files/{picture['name']}?inline=1")
    assert shown.headers["content-type"] == "image/jpeg" and shown.content[:3] == b"\xff\xd8\xff"
    assert_shown_plainly(client, job)


@pytest.mark.model
def test_steady_a_shaky_camera_is_offered_shown_before_and_after_and_says_when_it_cannot(
    client: Any, shaky_clip: Path, small_shaky_clip: Path
) -> None:
    from PIL import Image

    checked = _checked(client, shaky_clip)
    (shake,) = [f for f in checked["result"]["page"]["items"][0]["findings"] if f["code"] == "motion.camera_shake"]
    assert shake["cure"] == "stabilize" and shake["text"].endswith("tick “steady a shaky camera”")
    job = _fixed(client, checked["id"], "stabilize=true")
    (item,) = job["result"]["page"]["items"]
    assert item["verdict"] == "pass"
    (done,) = [d for d in item["done"] if d.startswith("steadied the shaky camera")]
    assert re.search(r"jumped 1\.\d\d% of the frame from frame to frame, now 0\.\d\d%; cropped in by 1\d%", done), done
    (picture,) = item["pictures"]
    assert picture["kind"] == "stabilize" and done in picture["alt"]
    shown = client.get(f"/v1/jobs/{job['id']}/files/{picture['name']}?inline=1")
    assert shown.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(shown.content)) as image:  # two frames over two charts of the picture's path
        assert image.width >= 600 and image.height > image.width * 0.6
        pixels = image.convert("RGB").load()
        orange = sum(1 for x in range(0, image.width, 2) for y in range(image.height // 2, image.height, 2)
                     if pixels[x, y][0] > 200 and 100 < pixels[x, y][1] < 180 and pixels[x, y][2] < 80)  # fmt: skip
        assert orange > 100, orange  # the input's path is drawn
    assert_shown_plainly(client, job)
    small = _checked(client, small_shaky_clip)
    refused = _fixed(client, small["id"], "stabilize=true")
    (item,) = refused["result"]["page"]["items"]
    warnings = {w["code"]: w for w in item["warnings"]}
    assert warnings["stabilize.crop_too_large"]["text"].startswith(
        "not steadied: hiding the moving edges of this shake would crop 16% off the picture (leaving 540x304")
    assert warnings["motion.camera_shake"]["cure"] is None  # tried: not offered again, not said to cure it
    assert "steady" not in warnings["motion.camera_shake"]["text"]
    assert item["pictures"] == []
    assert_shown_plainly(client, refused)


def test_a_file_missing_from_a_job_is_named_not_a_curl_line(client: Any, person_media: tuple[Path, Path]) -> None:
    _, clip = person_media
    refused = client.post("/v1/prepare?content=false", files=files_of(clip=clip))
    error = refused.json()["error"]
    assert error["code"] == "upload.invalid" and "curl -F image=@FILE" in error["message"]  # the API's, for scripts
    assert error["text"] == "the photo is not on the server: add it at the top of the page and press the button again"
    nothing = client.post("/v1/check", data={"start": "1"}).json()["error"]
    assert nothing["text"].startswith("the photo and the clip are not on the server: add them")
