"""Every model x provider pair: the exact create request, a whole job against the loopback fake,
and the refusals that keep a wrong field from costing money."""

from __future__ import annotations

import json

import pytest

from preflight.cli import main
from preflight.errors import UsageError
from preflight.profiles import contract_matrix
from preflight.submit import open_provider
from preflight.submit.base import SubmitSettings, TaskInput

PAIRS = sorted({(p.provider.name, p.model.name) for p in contract_matrix()})
IMG, VID = "https://cdn.example/me.jpg", "https://cdn.example/dance.mp4"


def _request(provider_name: str, model: str, **settings):
    provider = open_provider(provider_name, require_keys=False)
    mode = settings.pop("mode", None) or provider.route(model).default_mode
    s = SubmitSettings(mode=mode, model=model, **settings)
    provider.check_settings(s)
    request = provider.create_request(TaskInput(IMG, VID, s, "pf-0123-1"))
    return request.method, request.url.path, json.loads(request.content)


EXPECTED = {
    ("kling", "kling-v2.6"): ("/v1/videos/motion-control", {
        "model_name": "kling-v2-6", "image_url": IMG, "video_url": VID, "mode": "std",
        "character_orientation": "video", "keep_original_sound": "yes", "external_task_id": "pf-0123-1"}),
    ("kling", "kling-v3"): ("/v1/videos/motion-control", {
        "model_name": "kling-v3", "image_url": IMG, "video_url": VID, "mode": "std",
        "character_orientation": "video", "keep_original_sound": "yes", "external_task_id": "pf-0123-1"}),
    ("fal", "kling-v2.6"): ("/fal-ai/kling-video/v2.6/standard/motion-control", {
        "image_url": IMG, "video_url": VID, "character_orientation": "video", "keep_original_sound": True}),
    ("fal", "kling-v3"): ("/fal-ai/kling-video/v3/standard/motion-control", {
        "image_url": IMG, "video_url": VID, "character_orientation": "video", "keep_original_sound": True}),
    ("fal", "wan-2.2-animate"): ("/fal-ai/wan/v2.2-14b/animate/move", {
        "image_url": IMG, "video_url": VID, "resolution": "480p"}),  # fal's default
    ("fal", "dreamactor-m2"): ("/fal-ai/bytedance/dreamactor/v2", {"image_url": IMG, "video_url": VID}),
    ("kie", "kling-v2.6"): ("/api/v1/jobs/createTask", {"model": "kling-2.6/motion-control", "input": {
        "input_urls": [IMG], "video_urls": [VID], "mode": "720p", "character_orientation": "video"}}),
    ("kie", "kling-v3"): ("/api/v1/jobs/createTask", {"model": "kling-3.0/motion-control", "input": {
        "input_urls": [IMG], "video_urls": [VID], "mode": "720p", "character_orientation": "video"}}),
    ("novita", "kling-v2.6"): ("/v3/async/kling-v2.6-pro-motion-control", {
        "image": IMG, "video": VID, "character_orientation": "video", "keep_original_sound": True}),
    ("novita", "kling-v3"): ("/v3/async/kling-v3.0-motion-control", {
        "image": IMG, "video": VID, "model_name": "kling-v3-0-std", "character_orientation": "video",
        "keep_original_sound": True}),
    ("replicate", "kling-v2.6"): ("/v1/models/kwaivgi/kling-v2.6-motion-control/predictions", {"input": {
        "image": IMG, "video": VID, "mode": "std", "character_orientation": "video", "keep_original_sound": True}}),
    ("replicate", "kling-v3"): ("/v1/models/kwaivgi/kling-v3-motion-control/predictions", {"input": {
        "image": IMG, "video": VID, "mode": "std", "character_orientation": "video", "keep_original_sound": True}}),
    ("replicate", "wan-2.2-animate"): ("/v1/models/wan-video/wan-2.2-animate-animation/predictions", {"input": {
        "character_image": IMG, "video": VID, "resolution": "720", "merge_audio": False}}),  # silent, as Replicate
    ("replicate", "dreamactor-m2"): ("/v1/models/bytedance/dreamactor-m2.0/predictions", {"input": {
        "image": IMG, "video": VID}}),
    ("vercel", "kling-v2.6"): ("/v4/ai/video-model", {
        "n": 1, "image": {"type": "url", "url": IMG}, "providerOptions": {"klingai": {
            "videoUrl": VID, "mode": "std", "characterOrientation": "video", "keepOriginalSound": "yes"}}}),
    ("vercel", "kling-v3"): ("/v4/ai/video-model", {
        "n": 1, "image": {"type": "url", "url": IMG}, "providerOptions": {"klingai": {
            "videoUrl": VID, "mode": "std", "characterOrientation": "video", "keepOriginalSound": "yes"}}}),
    ("runway", "runway-act-two"): ("/v1/character_performance", {
        "model": "act_two", "character": {"type": "image", "uri": IMG}, "reference": {"type": "video", "uri": VID}}),
}  # fmt: skip


def test_every_served_pair_has_an_expected_request():
    assert set(EXPECTED) == set(PAIRS)


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: "@".join(reversed(p)))
def test_exact_create_request(pair, secrets_env):
    method, path, body = _request(*pair)
    assert (method, path) == ("POST", EXPECTED[pair][0])
    assert body == EXPECTED[pair][1]


def test_model_inputs_land_in_each_providers_field(secrets_env):
    _, _, body = _request("kling", "kling-v3", mode="pro", inputs=(("element_id", 42), ("watermark", False)))
    assert body["element_list"] == [{"element_id": 42}] and body["watermark_info"] == {"enabled": False}
    assert body["mode"] == "pro" and body["model_name"] == "kling-v3"
    _, path, body = _request("fal", "kling-v3", mode="pro", prompt="a knight", keep_sound=False)
    assert path.endswith("/v3/pro/motion-control") and body["prompt"] == "a knight"
    assert body["keep_original_sound"] is False
    _, _, body = _request("novita", "kling-v3", mode="pro", negative_prompt="blur")
    assert body["model_name"] == "kling-v3-0-pro" and body["negative_prompt"] == "blur"
    _, _, body = _request("kie", "kling-v3", mode="pro", inputs=(("background_source", "input_image"),))
    assert body["input"]["background_source"] == "input_image" and body["input"]["mode"] == "1080p"
    _, path, body = _request("fal", "wan-2.2-animate", mode="480p", inputs=(("variant", "replace"), ("seed", 7)))
    assert path == "/fal-ai/wan/v2.2-14b/animate/replace" and body["resolution"] == "480p" and body["seed"] == 7
    assert "variant" not in body
    _, path, _ = _request("replicate", "wan-2.2-animate", inputs=(("variant", "replace"),))
    assert path == "/v1/models/wan-video/wan-2.2-animate-replace/predictions"
    _, _, body = _request("runway", "runway-act-two", inputs=(("ratio", "720:1280"), ("expression_intensity", 4),
                                                             ("body_control", True)))  # fmt: skip
    assert (body["ratio"], body["expressionIntensity"], body["bodyControl"]) == ("720:1280", 4, True)


@pytest.mark.parametrize(
    ("provider", "model", "settings", "words"),
    [
        ("fal", "kling-v3", {"inputs": (("element_id", 1),)}, "does not take element id"),
        ("novita", "kling-v3", {"inputs": (("background_source", "input_video"),)}, "does not take background"),
        ("kling", "kling-v3", {"negative_prompt": "x"}, "leave --negative-prompt out"),
        ("kie", "kling-v2.6", {"keep_sound": False}, "leave --no-keep-sound out"),
        ("kling", "kling-v2.6", {"inputs": (("element_id", 1),)}, "kling-v2.6 has no input 'element_id'"),
        ("kling", "kling-v3", {"inputs": (("element_id", 1),), "orientation": "image"}, "needs orientation video"),
        ("novita", "kling-v2.6", {"mode": "std"}, "pass --mode pro"),
        ("fal", "wan-2.2-animate", {"mode": "1080p"}, "offers mode 480p, 580p, 720p"),
        ("runway", "runway-act-two", {"orientation": "image"}, "no character orientation"),
        ("runway", "runway-act-two", {"inputs": (("expression_intensity", 9),)}, "within 1-5"),
        ("runway", "kling-v3", {}, "runway does not serve kling-v3"),
    ],
)
def test_settings_a_route_cannot_take_are_refused(provider, model, settings, words, secrets_env):
    with pytest.raises(UsageError) as info:
        _request(provider, model, **settings)
    assert info.value.code in ("usage.invalid", "profile.unsupported")
    assert words in info.value.message


@pytest.fixture(scope="module")
def runway_media(tmp_path_factory):
    """Act-Two takes six exact shapes: a 9:16 photo and a 16:9 clip (the shared pair is 3:4 and 4:3)."""
    from preflight.samples import make_clip, make_image

    folder = tmp_path_factory.mktemp("runway")
    return (make_image(folder / "subject.jpg", width=360, height=640),
            make_clip(folder / "motion.mp4", duration=3.5, width=640, height=360))  # fmt: skip


def _cli(provider: str, model: str, server, media, *extra: str) -> list[str]:
    image, clip = media
    args = ["submit", "--image", str(image), "--video", str(clip), "--provider", provider, "--model", model,
            "--base-url", server.url, "--yes"]  # fmt: skip
    if provider in ("kling", "novita", "vercel"):  # no upload API: the clip goes as a URL
        args += ["--video-url", f"{server.url}/files/clip.mp4"]
    return [*args, *extra]


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: "@".join(reversed(p)))
def test_dry_run_for_each_pair(pair, fake, media, runway_media, capsys):
    server = fake(pair[0])
    media = runway_media if pair[0] == "runway" else media
    assert main([*_cli(*pair, server, media), "--dry-run"]) == 0
    out = capsys.readouterr().out
    path = EXPECTED[pair][0].removeprefix("/v4/ai")  # the gateway's base path is the base URL's
    assert f"POST {server.url}{path}" in out and server.creates == 0


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: "@".join(reversed(p)))
def test_whole_job_against_the_fake(pair, fake, media, runway_media, tmp_path, capsys):
    """The fake enforces the endpoint's documented body, walks its status words and serves the result."""
    server = fake(pair[0])
    media = runway_media if pair[0] == "runway" else media
    out = tmp_path / "result.mp4"
    assert main([*_cli(*pair, server, media), "-o", str(out)]) == 0, capsys.readouterr().err
    assert server.creates == 1 and out.stat().st_size > 0
    (task,) = server.tasks.values()
    assert "runway" not in pair or task["body"]["ratio"] == "1280:720"  # the 640x360 clip's shape


def test_bundle_remembers_its_model(fake, media, tmp_path, capsys):
    image, clip = media
    job = tmp_path / "job"
    assert main(["prepare", "--image", str(image), "--video", str(clip), "-o", str(job), "--no-content",
                 "--model", "kling-v3", "--provider", "replicate"]) == 0  # fmt: skip
    manifest = json.loads((job / "manifest.json").read_text())
    assert (manifest["model"], manifest["provider"], manifest["profile"]) == ("kling-v3", "replicate",
                                                                             "kling-v3@replicate")  # fmt: skip
    server = fake("replicate")
    capsys.readouterr()
    assert main(["submit", str(job), "--provider", "replicate", "--base-url", server.url, "--dry-run"]) == 0
    assert "/v1/models/kwaivgi/kling-v3-motion-control/predictions" in capsys.readouterr().out


ELEMENTS = {"element_id": "7", "element_image_url": "https://cdn.example/element.png"}
"""An element for every model input that is one, as --set gives it."""
ELEMENT_PAIRS = sorted(
    (p.provider.name, p.model.name, name)
    for p in contract_matrix()
    for name in ELEMENTS
    if p.provider.route(p.model.name).takes(name)
)


def test_the_element_pairs_are_the_documented_ones():
    assert ELEMENT_PAIRS == [("fal", "kling-v3", "element_image_url"), ("kling", "kling-v3", "element_id"),
                             ("vercel", "kling-v3", "element_id")]  # fmt: skip


@pytest.mark.parametrize("case", ELEMENT_PAIRS, ids=lambda c: f"{c[1]}@{c[0]}")
def test_an_element_reaches_every_provider_that_takes_one(case, fake, media, tmp_path, capsys):
    """The fake checks the element's documented shape (and refuses one where the endpoint has none)."""
    provider, model, name = case
    server = fake(provider)
    mode = ["--mode", "pro"] if provider == "fal" else []
    out = tmp_path / "result.mp4"
    args = [*_cli(provider, model, server, media), *mode, "--set", f"{name}={ELEMENTS[name]}", "-o", str(out)]
    assert main(args) == 0, capsys.readouterr().err
    (task,) = server.tasks.values()
    body = task["body"]
    sent = {
        "kling": lambda: body["element_list"],
        "vercel": lambda: body["providerOptions"]["klingai"]["elementList"],
        "fal": lambda: body["elements"],
    }[provider]()
    assert sent == ([{"image_url": ELEMENTS[name]}] if provider == "fal" else [{"element_id": 7}])


def test_fal_element_needs_pro_and_is_refused_before_any_upload(fake, media, capsys):
    server = fake("fal")
    args = [*_cli("fal", "kling-v3", server, media), "--set", f"element_image_url={ELEMENTS['element_image_url']}"]
    assert main(args) == 2
    assert "on its pro endpoint only: pass --mode pro" in capsys.readouterr().err and server.requests == []


def test_a_v3_job_without_model_name_is_refused_by_the_kling_fake(fake):
    """The fake no longer takes a missing model_name for v2.6: a v3 body that lost it is a 400 (code 1201)."""
    import httpx

    server = fake("kling")
    provider = open_provider("kling", base_url=server.url)
    settings = SubmitSettings(mode="std", model="kling-v3")
    for missing in ("model_name", "external_task_id"):
        request = provider.create_request(TaskInput(IMG, VID, settings, "pf-0123-1"))
        body = json.loads(request.content)
        del body[missing]
        answer = httpx.post(request.url, json=body, headers={"Authorization": request.headers["Authorization"]})
        assert (answer.status_code, answer.json()["code"]) == (400, 1201)
        assert f"{missing} is required" in answer.json()["message"]
    assert server.creates == 0


@pytest.mark.parametrize(("name", "value", "words"), [
    ("guidance_scale", "11", "within 1-10"), ("guidance_scale", "0.5", "within 1-10"), ("shift", "0", "within 1-10"),
    ("num_inference_steps", "41", "within 2-40"), ("num_inference_steps", "1", "within 2-40")])  # fmt: skip
def test_fal_wan_ranges_are_checked_before_anything_is_uploaded(name, value, words, fake, media, capsys):
    server = fake("fal")
    assert main([*_cli("fal", "wan-2.2-animate", server, media), "--set", f"{name}={value}"]) == 2
    assert f"{name} must be {words}" in capsys.readouterr().err and server.requests == []


def test_fal_wan_cost_line_and_default_resolution(fake, media, capsys):
    server = fake("fal")
    assert main([*_cli("fal", "wan-2.2-animate", server, media), "--dry-run"]) == 0
    captured = capsys.readouterr()
    assert '"resolution": "480p"' in captured.out
    assert "at $0.04/s (wan-2.2-animate 480p; fal model page; fal bills Wan output seconds counted at 16 fps)" in (
        captured.err
    )


def test_replicate_wan_sound_frame_rate_and_go_fast(fake, media, capsys):
    server = fake("replicate")
    assert main([*_cli("replicate", "wan-2.2-animate", server, media), "--set", "frames_per_second=16",
                 "--set", "go_fast=false"]) == 0  # fmt: skip
    assert "note: replicate's wan-2.2-animate output is silent unless asked: pass --keep-sound" in (
        capsys.readouterr().err
    )
    (task,) = server.tasks.values()
    sent = task["body"]["input"]
    assert (sent["merge_audio"], sent["frames_per_second"], sent["go_fast"]) == (False, 16, False)
    server.tasks.clear()
    assert main([*_cli("replicate", "wan-2.2-animate", server, media), "--keep-sound", "--again"]) == 0
    assert "silent" not in capsys.readouterr().err
    (task,) = server.tasks.values()
    assert task["body"]["input"]["merge_audio"] is True
    with pytest.raises(UsageError, match="does not take frames per second"):
        _request("fal", "wan-2.2-animate", inputs=(("frames_per_second", 16),))


def test_kie_v3_takes_mp4_and_mov_only():
    from preflight.profiles import load_profile

    assert load_profile("kling-v3@kie").video.containers == ("mp4", "mov")
    assert "matroska" in load_profile("kling-v2.6@kie").video.containers


def test_runway_character_video_and_public_figure_threshold(fake, runway_media, tmp_path, capsys):
    """A clip given as the character goes as character.type video; the moderation setting lands where documented."""
    server = fake("runway")
    _, clip = runway_media
    args = ["submit", "--image", str(clip), "--video", str(clip), "--provider", "runway", "--model", "runway-act-two",
            "--base-url", server.url, "--yes", "--set", "public_figure_threshold=low",
            "-o", str(tmp_path / "r.mp4")]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    (task,) = server.tasks.values()
    body = task["body"]
    assert body["character"]["type"] == "video" and body["character"]["uri"].startswith("data:video/mp4;base64,")
    assert body["contentModeration"] == {"publicFigureThreshold": "low"} and body["ratio"] == "1280:720"
    with pytest.raises(UsageError, match="must be one of auto, low"):
        _request("runway", "runway-act-two", inputs=(("public_figure_threshold", "off"),))
