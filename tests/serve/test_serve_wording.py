"""The page's words (preflight.serve.wording, .views): every message preflight writes with a command-line flag,
an encoder's pixel format name or a server path reads, on the page, in words that name the page's controls.

The messages are made by preflight's own code wherever that is cheap (a real check, fix's own errors), so a
message that gains a flag fails here, not in a creator's browser.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from preflight.serve.views import check_view, fix_view, prepare_view, window_text
from preflight.serve.wording import action_text, error_text, finding_text, plain

FLAG = re.compile(r"(?<![\w-])--[a-z]")
PATHLIKE = re.compile(r"(?<![\w:])/(?:tmp|home|root|srv|var|etc)\b|preflight-serve-|\$TMPDIR")


def clean(text: str) -> str:
    assert not FLAG.search(text), text
    assert not PATHLIKE.search(text), text
    assert not re.search(r"yuv4\d\dp", text), text
    return text


def _finding(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "severity": "error", "message": message, **extra}


def test_findings_from_a_real_check_name_the_page_controls(person_media: tuple[Path, Path], tmp_path: Path) -> None:
    from preflight.api import check_one, resolve_profile
    from preflight.report import item_to_dict
    from preflight.samples import make_image

    _, clip = person_media
    long = item_to_dict(check_one(clip, resolve_profile(None), "image", content=False))
    (too_long,) = [f for f in long["findings"] if f["code"] == "duration.too_long"]
    assert "--start/--end" in too_long["message"]  # what the CLI says; the page says it otherwise
    text = clean(finding_text(too_long))
    assert "move the window on the timeline" in text and "orientation “follow the photo”" in text
    wide = make_image(tmp_path / "wide.jpg", width=1200, height=200)
    item = item_to_dict(check_one(wide, resolve_profile(None), "video", content=False))
    (aspect,) = [f for f in item["findings"] if f["code"] == "aspect.out_of_range"]
    assert "--aspect crop" in aspect["message"]
    assert "choose “crop” under shape" in clean(finding_text(aspect))


def test_ten_bit_clip_is_said_in_words() -> None:
    message = "pixel format yuv420p10le (10-bit): 8-bit 4:2:0 is what every decoder reads: fix converts it"
    finding = {"code": "video.pixel_format", "severity": "warning", "measured": "yuv420p10le", "message": message}
    assert clean(finding_text(finding)).startswith("the clip's colours are stored as 10-bit 4:2:0")
    said = clean(action_text("pixel format yuv422p10le->yuv420p"))
    assert said == "colours converted from 10-bit 4:2:2 to 8-bit 4:2:0"


def test_messages_with_flags_from_preflight_itself() -> None:
    from preflight.errors import memory_exhausted
    from preflight.fix.options import FixOptions
    from preflight.submit.base import MediaInput
    from preflight.submit.kling import KlingProvider

    messages = [
        memory_exhausted(MemoryError(), "/tmp/preflight-serve-1-2-h-x/ab/video.mp4").message,
        KlingProvider.needs_url_error(MediaInput("video", Path("/tmp/preflight-serve-1/cd/bundle/video.mp4"))).message,
        "the person faces left in the image but right in the clip; with orientation=image the character keeps the "
        "image's facing while doing the clip's motion (mirrored movement likely): --orientation video follows the clip",
        "content analysis failed (boom); --no-content checks the limits only",
        "duration.too_short: --start 14 s is past the end of the 12.00 s clip",
        "fal takes an element for kling-v3 on its pro endpoint only: pass --mode pro, or leave --set x out",
        "already submitted as job 3 (queued, 2026-01-01); send again to pay for it again",
        "not kept: no bundle was written, so prepare removed what it had written "
        "($TMPDIR/preflight-serve-12-34-host-ab/0123456789abcdef/bundle/image.png)",
    ]
    with pytest.raises(Exception) as raised:
        FixOptions(start=5, end=2)
    messages.append(str(raised.value))
    for message in messages:
        said = clean(plain(message))
        assert said
    assert "image.png" in plain(messages[-2])  # a path keeps its last part: the file it names
    assert "choose orientation “follow the clip”" in plain(messages[2])
    assert "untick “content gates”" in plain(messages[3])
    assert "tick “pay again”" in plain(messages[6])


def test_needs_url_names_the_link_field() -> None:
    from preflight.submit.base import MediaInput
    from preflight.submit.novita import NovitaProvider

    error = NovitaProvider.needs_url_error(MediaInput("video", Path("/srv/x/bundle/video.mp4")))
    text = clean(error_text(error.code, error.message))
    assert text.startswith("novita downloads the clip from a link") and "“clip link”" in text


def test_every_fix_action_in_words() -> None:
    said = {
        "scale 3840x2160->1920x1080": "downscaled from 3840x2160 to 1920x1080",
        "scale 240x320->480x640": "upscaled from 240x320 to 480x640",
        "tone map HLG -> SDR BT.709": "tone-mapped from HDR (HLG) to ordinary SDR colours (BT.709)",
        "trim 4.500-14.500 (stream copy)": "trimmed to 4.5–14.5 s (10.0 s, without re-encoding)",
        "bake rotation 90": "turned upright (90° display rotation made part of the picture)",
        "pad 1080x1920->1080x1350 (blurred fill)": "padded from 1080x1920 to 1080x1350 with a blurred copy of the "
                                                   "picture around it",
        "transcode h264/aac": "re-encoded as H.264 with AAC sound",
        "bitrate 4.20 Mb/s for the 10.0 MB cap": "squeezed under the size limit (10.0 MB)",
        "remux": "rewrapped as MP4 (the picture and sound copied as they are)",
    }
    for action, words in said.items():
        assert clean(action_text(action)) == words
    for action in ("copy", "crop 1920x1080->1080x1080 at 420,0", "constant rate 30 fps (was variable)",
                   "gamut BT.2020 -> BT.709", "apply EXIF orientation 6, strip EXIF", "convert RGBA->RGB (alpha "
                   "over white)", "first frame of 12", "square pixels 4:3: 1440x1080->1920x1080",
                   "frame rate 60->30 fps", "transcode audio pcm_s16le->aac", "compress under 10.0 MB"):  # fmt: skip
        assert clean(action_text(action)) != action, action


def test_views_say_why_next_to_each_file() -> None:
    report = {"model": "kling-v2.6", "provider": "kling", "orientation": "image", "items": [
        {"path": "me.jpg", "verdict": "pass", "findings": [], "actions": ["copy"],
         "after": {"verdict": "pass", "findings": []}},
        {"path": "dance.mp4", "verdict": "fixable", "findings": [], "actions": ["trim 7.000-12.000 (re-encode)"],
         "after": {"verdict": "fail", "findings": [_finding("pose.no_person", "a person shows in 20% of the sampled "
                                                            "frames (at least 50% needed)")]}},
    ]}  # fmt: skip
    outputs = [{"field": "image", "name": "image.jpg", "download_name": "me-ready.jpg"},
               {"field": "video", "name": "video.mp4", "download_name": "dance-ready.mp4"}]  # fmt: skip
    view = fix_view(report, outputs, ["image", "video"])
    clip = view["items"][1]
    assert clip["verdict"] == "fail" and clip["problems"][0]["code"] == "pose.no_person"
    assert "a person shows in 20%" in clip["problems"][0]["text"]
    assert view["checked_against"] == "kling-v2.6 at kling, orientation “follow the photo”"
    prepared = prepare_view({"ok": False, "fix": {**report, "items": [
        {**report["items"][0], "output": None, "reason": "not kept: no bundle was written, so prepare removed "
         "what it had written (/tmp/x/bundle/image.png)"},
        {"path": "dance.mp4", "verdict": "fail", "findings": [_finding("duration.too_short", "clip is 1.50 s")],
         "actions": [], "after": None, "reason": "duration.too_short: clip is 1.50 s"}]}}, [])  # fmt: skip
    assert prepared["why"] == "the clip: clip is 1.50 s"  # the cause, not the photo taken back with it
    assert prepared["items"][0]["why"].startswith("made ready, but not kept: the clip could not be made ready")
    checked = check_view({"items": [{"path": "a.mp4", "verdict": "fixable", "pose_checked": False, "findings": [
        _finding("orientation.mismatch", "faces left"), _finding("duration.too_long", "long")]}]}, ["video"])
    assert checked["pair"][0]["code"] == "orientation.mismatch" and len(checked["items"][0]["findings"]) == 1
    assert checked["items"][0]["verdict_text"].endswith("(the pose was not checked)")
    assert window_text("window 1.500-11.500 s: 30/40 torso-visible samples, 0 scene cut(s) inside", 1.5, 11.5, 12) \
        == "Suggested: 1.5–11.5 s, the part with no cut where the torso shows most (30 of 40 samples that show it)"
