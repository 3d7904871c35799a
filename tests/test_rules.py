"""rules: every limit, every boundary (inclusive), messages a person can act on."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from preflight import load_profile, probe
from preflight.models import AudioStream, ImageDetails, MediaInfo, Severity, VideoStream, verdict_for
from preflight.rules import check_media, check_prompt
from preflight.samples import make_clip

KLING = load_profile("kling-v2.6")
NOVITA = load_profile("novita")


def clip(duration: float = 10.0, width: int = 1280, height: int = 720, **kw: object) -> MediaInfo:
    video = VideoStream(
        codec=str(kw.pop("codec", "h264")), profile="High", pix_fmt=str(kw.pop("pix_fmt", "yuv420p")),
        bit_depth=int(kw.pop("bit_depth", 8)), coded_width=width, coded_height=height, width=width,
        height=height, rotation=int(kw.pop("rotation", 0)), fps=float(kw.pop("fps", 30.0)), base_fps=30.0,
        variable_fps=bool(kw.pop("variable_fps", False)), frames=None, bitrate=None, duration=duration,
    )  # fmt: skip
    audio = tuple(AudioStream(str(c), 48000, 2, None, duration) for c in kw.pop("audio", ("aac",)))  # type: ignore[attr-defined]
    fields = {"format": "mp4", "file_size": 5_000_000, **kw}
    return MediaInfo(path="c.mp4", role="video", extension="mp4", width=width, height=height, duration=duration,
                     video=video, audio=audio, **fields)  # type: ignore[arg-type]  # fmt: skip


def image(width: int = 800, height: int = 1000, **kw: object) -> MediaInfo:
    details = ImageDetails(
        mode=str(kw.pop("mode", "RGB")), bit_depth=int(kw.pop("bit_depth", 8)), has_alpha=bool(kw.pop("alpha", False)),
        coded_width=width, coded_height=height, exif_orientation=int(kw.pop("exif", 1)),
        frames=int(kw.pop("frames", 1)),
    )  # fmt: skip
    fields = {"format": "jpeg", "file_size": 500_000, **kw}
    return MediaInfo(path="i.jpg", role="image", extension="jpg", width=width, height=height, image=details,
                     **fields)  # type: ignore[arg-type]  # fmt: skip


def codes(info: MediaInfo, profile=KLING, orientation: str = "video") -> set[str]:  # type: ignore[no-untyped-def]
    return {f.code for f in check_media(info, profile, orientation)}


def test_compliant_pair_has_no_findings() -> None:
    assert codes(clip()) == set()
    assert codes(image()) == set()


@pytest.mark.parametrize(
    ("duration", "orientation", "expected"),
    [
        (2.99, "video", {"duration.too_short"}),
        (3.0, "video", set()),
        (30.0, "video", set()),
        (30.01, "video", {"duration.too_long"}),
        (10.0, "image", set()),
        (10.01, "image", {"duration.too_long"}),
        (29.0, "image", {"duration.too_long"}),
    ],
)
def test_duration_boundaries(duration: float, orientation: str, expected: set[str]) -> None:
    assert codes(clip(duration), orientation=orientation) == expected


def test_duration_findings_say_what_to_do() -> None:
    (long,) = check_media(clip(45.0), KLING, "video")
    assert long.severity is Severity.ERROR and long.fixable
    assert (long.measured, long.limit) == (45.0, 30.0)
    assert long.message == (
        "clip is 45.00 s; kling-v2.6 accepts 3-30 s with orientation=video: "
        "fix trims it (choose the window with --start/--end)"
    )
    (short,) = check_media(clip(2.0), KLING, "video")
    assert not short.fixable and verdict_for((short,)) == "fail"


@pytest.mark.parametrize(
    ("side", "profile", "expected"),
    [(299, NOVITA, {"resolution.too_small"}), (300, NOVITA, set()), (339, KLING, {"resolution.too_small"}),
     (340, KLING, set())],
)  # fmt: skip
def test_min_side_boundaries(side: int, profile, expected: set[str]) -> None:  # type: ignore[no-untyped-def]
    assert codes(image(side, side), profile) == expected
    # Novita's page says 300 px for the clip too, but the model behind it (Kling) takes 340: the stricter wins.
    clip_expected = {"resolution.too_small"} if profile is NOVITA and side < 340 else expected
    assert codes(clip(width=side, height=side), profile) == clip_expected


def test_max_side() -> None:
    assert codes(clip(width=3850, height=2160)) == set()
    assert codes(clip(width=3851, height=2160)) == {"resolution.too_large"}
    assert codes(image(3851, 2000), load_profile("fal")) == {"resolution.too_large"}
    assert codes(image(3851, 2000), KLING) == set()  # the official image limit is 65536


@pytest.mark.parametrize(
    ("width", "height", "ok"),
    [(1000, 400, True), (1001, 400, False), (400, 1000, True), (400, 1001, False), (850, 340, True)],
)
def test_aspect_boundaries(width: int, height: int, ok: bool) -> None:
    found = codes(image(width, height))
    assert (found == set()) is ok
    if not ok:
        assert found == {"aspect.out_of_range"}
        (f,) = check_media(image(width, height), KLING)
        assert f.fixable and f.limit == "1:2.5..2.5:1"


def test_video_aspect_only_where_documented() -> None:
    wide = clip(width=1920, height=400)
    assert "aspect.out_of_range" in codes(wide, NOVITA)
    assert "aspect.out_of_range" not in codes(wide, KLING)


RUNWAY_RATIOS = ("1280:720", "720:1280", "960:960", "1104:832", "832:1104", "1584:672")
RUNWAY = replace(
    KLING, name="runway-act-two", image=replace(KLING.image, aspect_choices=RUNWAY_RATIOS, min_aspect=None,
    max_aspect=None), video=replace(KLING.video, aspect_choices=RUNWAY_RATIOS),
)  # fmt: skip


@pytest.mark.parametrize(
    ("width", "height", "nearest"),
    [
        (1280, 720, None), (1920, 1080, None), (854, 480, None), (1366, 768, None),  # 16:9, whole pixels
        (360, 640, None), (1080, 1920, None), (960, 960, None), (340, 340, None), (1104, 832, None),
        (1584, 672, None), (1587, 672, None),  # 0.19% off: inside the 0.3% tolerance
        (1590, 672, "1584:672"),  # 0.38% off: outside
        (640, 480, "1104:832"), (480, 640, "832:1104"), (2560, 1080, "1584:672"), (1200, 360, "1584:672"),
        # 1.149 and 1.156: either side of 1.152, the log-middle of 1 and 1.327
        (1000, 870, "960:960"), (1000, 865, "1104:832"), (400, 1000, "720:1280"),
    ],
)  # fmt: skip
def test_aspect_choices(width: int, height: int, nearest: str | None) -> None:
    for info in (clip(width=width, height=height), image(width, height)):
        found = check_media(info, RUNWAY)
        if nearest is None:
            assert found == ()
            continue
        (f,) = found
        assert (f.code, f.severity, f.fixable) == ("aspect.out_of_range", Severity.ERROR, True)
        assert f.measured == round(width / height, 4) and f.limit == ",".join(RUNWAY_RATIOS)
        assert f.message.endswith(f"fix pads it to {nearest} (or crops with --aspect crop)")


def test_aspect_choice_message_names_every_ratio() -> None:
    (f,) = check_media(clip(width=1440, height=1080), RUNWAY)
    assert f.message == (
        "clip is 1440x1080 (4:3); runway-act-two accepts the ratios 16:9 (1280:720), 9:16 (720:1280), "
        "1:1 (960:960), 1.327:1 (1104:832), 1:1.327 (832:1104), 2.357:1 (1584:672): fix pads it to 1104:832 "
        "(or crops with --aspect crop)"
    )
    (g,) = check_media(image(1201, 360), RUNWAY)
    assert g.message.startswith("image is 1201x360 (3.336:1); runway-act-two accepts the ratios 16:9")


def test_aspect_choices_and_range_both_apply() -> None:
    # with a range up to 2:1, 1584:672 (2.36:1) could never pass both: a 3:1 image breaks both limits, and
    # fix aims at 1280:720, the nearest choice inside the range, so one fix satisfies both
    both = replace(RUNWAY, image=replace(RUNWAY.image, min_aspect=0.4, max_aspect=2.0))
    found = check_media(image(1200, 400), both)
    assert [f.code for f in found] == ["aspect.out_of_range", "aspect.out_of_range"]
    assert found[1].message.endswith("fix pads it to 1280:720 (or crops with --aspect crop)")


def test_real_rotated_and_anamorphic_clips_match_on_the_shown_frame(tmp_path: Path) -> None:
    # stored 640x360, shown 360x640 after rotation: 9:16, which runway takes as 720:1280
    turned = probe(make_clip(tmp_path / "turned.mp4", duration=3.0, width=640, height=360, rotation=90))
    assert codes(turned, RUNWAY) == {"video.rotated"}
    # stored 480x360, shown 360x480 (3:4): the nearest allowed ratio is 832:1104, not the stored 1104:832
    tall = probe(make_clip(tmp_path / "tall.mp4", duration=3.0, width=480, height=360, rotation=270))
    (f,) = [f for f in check_media(tall, RUNWAY) if f.code == "aspect.out_of_range"]
    assert f.message.startswith("clip is 360x480 (3:4)") and "pads it to 832:1104" in f.message
    # 480x360 stored with 4:3 pixels is shown 640x360: 16:9
    wide = probe(make_clip(tmp_path / "ana.mp4", duration=3.0, width=480, height=360, sample_aspect=Fraction(4, 3)))
    assert (wide.width, wide.height) == (640, 360)
    assert codes(wide, RUNWAY) == {"video.non_square_pixels"}


def test_size_caps() -> None:
    assert codes(clip(file_size=100_000_000)) == set()
    assert codes(clip(file_size=100_000_001)) == {"size.too_large"}
    assert codes(clip(file_size=10_000_001), NOVITA) == {"size.too_large"}
    assert codes(image(file_size=10_000_001)) == {"size.too_large"}


def test_formats_and_codecs() -> None:
    assert codes(image(format="webp")) == {"format.unsupported"}
    assert codes(clip(format="matroska")) == {"format.unsupported"}
    assert codes(clip(format="matroska"), load_profile("kie")) == set()
    assert codes(clip(codec="prores")) == {"codec.unsupported"}
    assert codes(clip(audio=("pcm_s16le",))) == {"audio.unsupported"}
    assert codes(clip(audio=())) == set()


def test_stream_details() -> None:
    assert codes(clip(rotation=90)) == {"video.rotated"}
    assert codes(clip(pix_fmt="yuv420p10le", bit_depth=10)) == {"video.pixel_format"}
    assert codes(clip(variable_fps=True)) == {"fps.variable"}


def test_image_details() -> None:
    assert codes(image(mode="CMYK")) == {"image.color_mode"}
    assert verdict_for(check_media(image(mode="CMYK"), KLING)) == "fixable"
    assert codes(image(mode="RGBA", alpha=True)) == {"image.color_mode"}
    assert codes(image(mode="I;16", bit_depth=16)) == {"image.color_mode"}
    assert codes(image(exif=6)) == {"image.exif_orientation"}
    animated_gif = image(frames=5, format="gif", mode="P")
    assert codes(animated_gif) == {"image.animated", "format.unsupported", "image.color_mode"}


def test_decompression_bomb_is_not_fixable() -> None:
    found = check_media(image(40000, 40000, format="png"), KLING)
    bomb = next(f for f in found if f.code == "image.too_many_pixels")
    assert not bomb.fixable and verdict_for(found) == "fail"


def test_errors_sorted_first() -> None:
    found = check_media(clip(45.0, rotation=90, codec="prores"), KLING)
    severities = [f.severity for f in found]
    assert severities == sorted(severities, key=[Severity.ERROR, Severity.WARNING, Severity.INFO].index)


def test_verdicts() -> None:
    assert verdict_for(check_media(clip(rotation=90), KLING)) == "pass"
    assert verdict_for(check_media(clip(rotation=90), KLING), strict=True) == "fixable"
    assert verdict_for(check_media(clip(45.0), KLING)) == "fixable"
    assert verdict_for(check_media(clip(2.0, codec="prores"), KLING)) == "fail"


def test_prompt_length() -> None:
    assert check_prompt("x" * 2500, KLING) is None
    finding = check_prompt("x" * 2501, KLING)
    assert finding is not None and finding.code == "prompt.too_long" and finding.measured == 2501


# --- real files at the boundaries -------------------------------------------------------------


def test_real_clip_of_exactly_three_seconds_passes(tmp_path: Path) -> None:
    three = probe(make_clip(tmp_path / "three.mp4", duration=3.0, width=360, height=360))
    assert three.duration == 3.0
    assert codes(three) == set()
    short = probe(make_clip(tmp_path / "short.mp4", duration=2.96, width=360, height=360))
    assert codes(short) == {"duration.too_short"}


def test_real_rotated_clip_checked_on_displayed_size(tmp_path: Path) -> None:
    # 1000x340 stored, shown 340x1000 after rotation: an aspect of 1:2.94, past 1:2.5 for novita
    info = probe(make_clip(tmp_path / "tall.mp4", duration=3.0, width=1000, height=340, rotation=90))
    assert (info.width, info.height) == (340, 1000)
    assert codes(info, NOVITA) == {"aspect.out_of_range", "video.rotated"}
