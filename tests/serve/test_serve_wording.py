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


# ---- the content fixes: "frame one person" and "steady a shaky camera" --------------------------------------
def _reframe_action(detail: str) -> str:
    from preflight.fix.ops import Reframe

    return Reframe((1920, 1080), (536, 348, 866, 486), detail, 0.22, 0.48).action


def test_reframe_and_stabilize_actions_in_words() -> None:
    from preflight.fix.ops import Stabilize
    from preflight.framing.moving import MovingCrop
    from preflight.framing.reframe import _detail

    said = {
        _reframe_action(_detail(0.22, 0.48, 0, None, "largest")):
            "cropped to 866x486 around one person; the person now fills 48% of the height (was 22%)",
        _reframe_action(_detail(0.38, 0.53, 1, None, "right")):
            "cropped to 866x486 around one person; the person now fills 53% of the height (was 38%); the person on "
            "the right, as chosen; 1 other person cut out",
        _reframe_action(_detail(0.21, 0.44, 2, ("half-body", "close-up"), "largest", "photo")):
            "cropped to 866x486 around one person; cut from a half-body shot (head to hips) to a close-up (head and "
            "shoulders), like the photo; the person now fills 44% of the height (was 21%); 2 other people cut out",
        # --reframe follow's action (issue 20's follow branch writes it so): said in words when it lands.
        "reframe follow 896x504 (subject 20% -> 50% of the height)":
            "cropped around one person by a 896x504 window that follows them (the provider sees it as a camera "
            "move); the person now fills 50% of the height (was 20%)",
        "stabilize (jitter 1.63% -> 0.25%, in the follow window)":
            "steadied the shaky camera: the picture jumped 1.63% of the frame from frame to frame, now 0.25%; the "
            "window that follows the person moves with the shake too (no extra crop)",
    }  # fmt: skip
    window = MovingCrop((1080, 608), (1280, 720), (0.0, 1.0), (100.0, 100.0), (56.0, 56.0))
    measured = Stabilize(1.71, 0.10, 0.16, window, measured=True).action
    assert measured == "stabilize (jitter 1.71% -> 0.10%, crop-in 16%)"  # the real action string
    said[measured] = ("steadied the shaky camera: the picture jumped 1.71% of the frame from frame to frame, now "
                      "0.10%; cropped in by 16% to hide the moving edges")  # fmt: skip
    planned = Stabilize(1.71, 0.10, 0.16, window).action
    said[planned] = ("steadied the shaky camera: the picture jumped 1.71% of the frame from frame to frame, about "
                     "0.10% expected; cropped in by 16% to hide the moving edges")  # fmt: skip
    for action, words in said.items():
        assert clean(action_text(action)) == words, action


def test_what_a_content_fix_cures_names_its_control() -> None:
    from types import SimpleNamespace

    from preflight.analyze.pair import _framing_finding, _shot_finding
    from preflight.framing.reframe import _cured
    from preflight.models import Finding, Severity, to_dict
    from preflight.serve.wording import cure_of

    def as_dict(finding: Finding) -> dict[str, Any]:
        return to_dict(finding)  # as the report writes it: extra (fixable_with) kept

    fixed = SimpleNamespace(cut_out=1, area=0.14, following=None)  # a still window that cuts one out
    people = _cured(Finding("pose.multiple_people", Severity.WARNING, "up to 2 people in 100% of the sampled frames: "
                            "the largest one drives the motion"), fixed)  # fmt: skip
    small = _cured(Finding("pose.subject_too_small", Severity.WARNING, "the person covers 1.3% of the frame; providers "
                           "ask for more than 5%"), SimpleNamespace(cut_out=0, area=0.07, following=None))  # fmt: skip
    assert "fixable with --reframe" in people.message and "fixable with --reframe" in small.message
    shot = _shot_finding("close-up", "half-body", "me.jpg")
    framing = _framing_finding(0.5, 0.2, 1.5, "me.jpg")
    assert framing is not None
    shake = {"code": "motion.camera_shake", "severity": "warning", "message": "the camera shakes (jitter 1.37% of the "
             "frame, limit 0.25%); use a steadier clip; fixable with --stabilize"}  # fmt: skip
    said = {
        "pose.multiple_people": (as_dict(people), "reframe", "(Fix can cure it with “frame one person”: one fixed crop "
                                                             "cuts out the 1 other(s))"),
        "pose.subject_too_small": (as_dict(small), "reframe", "“frame one person”: a fixed crop enlarges the person "
                                                              "to 7% of the frame)"),
        "framing.mismatch (shot)": (as_dict(shot), "reframe", "“frame one person” crops the clip to a close-up "
                                                              "when the pair is prepared"),
        "framing.mismatch (height)": (as_dict(framing), "reframe", "(“frame one person” enlarges the clip's person "
                                                                   "when the pair is prepared)"),
        "motion.camera_shake": (shake, "stabilize", "use a steadier clip, or let Fix steady it: tick “steady a shaky "
                                                    "camera”"),
    }  # fmt: skip
    for name, (finding, cure, words) in said.items():
        assert cure_of(finding) == cure, name
        text = clean(finding_text(finding))
        assert text.endswith(words), (name, text)
        without = clean(finding_text(finding, cure=False))  # the fix was tried: no offer, no cure said
        assert "frame one person" not in without and "steady" not in without and without in text, (name, without)
    follow = {"code": "pose.subject_too_small", "message": "the person covers 1.0% of the frame; providers ask for "
              "more than 5% (fixable with --reframe follow: a window that follows the person across the frame enlarges "
              "them to 8% of it; the provider sees its motion as camera motion)",
              "extra": {"fixable_with": "--reframe follow"}}  # fmt: skip
    assert cure_of(follow) == "follow"
    assert "choose “following” under “frame one person”" in clean(finding_text(follow))
    assert cure_of({"code": "duration.too_long", "message": "clip is 12 s"}) is None


def test_what_a_content_fix_could_not_do_is_said_in_words() -> None:
    from preflight.framing.reframe import _overlap_finding, _too_small_finding
    from preflight.framing.stabilize import _crop_too_large
    from preflight.models import to_dict
    from preflight.serve.wording import note_text

    findings = {
        "stabilize.crop_too_large": (_crop_too_large(0.16, (540, 304), 340),
                                     "not steadied: hiding the moving edges of this shake would crop 16% off the "
                                     "picture (leaving 540x304, under the 340 px the provider takes); film on a "
                                     "steadier hand or at a higher resolution"),
        "stabilize.crop_too_large (a fifth)": (_crop_too_large(0.27, (700, 394), 340),
                                               "not steadied: hiding the moving edges of this shake would crop 27% "
                                               "off the picture (more than the 20% steadying may take)"),
        "reframe.people_overlap": (_overlap_finding(2, "right"), "2 people move through the same part of the frame "
                                   "as the person on the right: no fixed crop can show one person alone"),
        "reframe.subject_too_small": (_too_small_finding(0.031, 0.05, (340, 340), 340), "even cropped to 340x340 (the "
                                      "provider takes no side under 340 px) the person covers 3.1% of the frame"),
    }  # fmt: skip
    for name, (finding, words) in findings.items():
        assert clean(finding_text(to_dict(finding))).startswith(words), name
    assert note_text("stabilize: the check found no camera shake (jitter 0.05%): not stabilized") == (
        "steady a shaky camera: the check found no camera shake (jitter 0.05%): not stabilized")
    said = note_text("reframe: a photo is cropped only to the clip's tighter shot type (prepare --reframe)")
    assert said == ("frame one person: the photo is left as it is (a photo is cut only to a clip's tighter shot, when "
                    "the pair is prepared)")
    assert note_text("window 0.000-10.000 s: 30/40 torso-visible samples") is None  # the timeline says that


def test_a_fixed_file_shows_its_before_and_after_and_offers_no_cure_it_tried() -> None:
    shake = {"code": "motion.camera_shake", "severity": "warning", "message": "the camera shakes (jitter 1.70% of the "
             "frame, limit 0.25%); use a steadier clip; fixable with --stabilize"}  # fmt: skip
    refused = {"code": "stabilize.crop_too_large", "severity": "warning", "message": "not stabilized: hiding the "
               "borders of this shake takes a 16% crop-in (540x304, under the profile's 340 px minimum side); film on "
               "a steadier hand or at a higher resolution"}  # fmt: skip
    report = {"items": [
        {"path": "shaky.mp4", "verdict": "pass", "findings": [shake], "actions": ["copy"],
         "after": {"verdict": "pass", "findings": [shake, refused]}},
        {"path": "duo.mp4", "verdict": "pass", "findings": [], "actions": [
            "reframe crop 518x556+0+148 (subject 40% -> 52% of the height, 1 other person cut out)",
            "stabilize (jitter 1.37% -> 0.14%, crop-in 13%)"],
         "notes": ["reframe: the subject already fills 52% of the height: no crop", "window 0-3 s"],
         "after": {"verdict": "pass", "findings": [shake]}},
    ]}  # fmt: skip
    outputs = [{"field": "video", "name": "video.mp4", "download_name": "shaky-ready.mp4"}]
    (steady,) = fix_view(report, outputs, ["video"])["items"]
    assert [w["code"] for w in steady["warnings"]] == ["motion.camera_shake", "stabilize.crop_too_large"]
    assert steady["warnings"][0]["cure"] is None and "steady" not in steady["warnings"][0]["text"]  # tried, refused
    assert steady["warnings"][1]["text"].startswith("not steadied: hiding the moving edges")
    assert steady["pictures"] == []
    rows = [{"field": "video", "name": "video.mp4", "download_name": "duo-ready.mp4",
             "reframe_preview": "reframe-video.jpg", "stabilize_preview": "stabilize-video.jpg"}]  # fmt: skip
    duo = fix_view({"items": report["items"][1:]}, rows, ["video"])["items"][0]
    assert [p["name"] for p in duo["pictures"]] == ["reframe-video.jpg", "stabilize-video.jpg"]
    reframed, steadied = duo["pictures"]
    assert "1 other person cut out" in reframed["alt"] and "before and after framing one person" in reframed["alt"]
    assert "jumped 1.37% of the frame from frame to frame, now 0.14%" in steadied["alt"]
    assert duo["notes"] == ["frame one person: the subject already fills 52% of the height: no crop"]
    for text in page_strings(duo):
        clean(text)
    checked = check_view({"items": [{"path": "shaky.mp4", "verdict": "pass", "findings": [shake]}]}, ["video"])
    assert checked["items"][0]["findings"][0]["cure"] == "stabilize"  # before any fix: offered


def page_strings(data: Any) -> list[str]:
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [t for v in data.values() for t in page_strings(v)]
    if isinstance(data, list):
        return [t for v in data for t in page_strings(v)]
    return []
