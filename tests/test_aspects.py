"""aspect_choices: a profile's list of exact ratios, parsed on load, matched within a tolerance."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from preflight.aspects import (
    ASPECT_TOLERANCE,
    aspect_label,
    choice_label,
    matches,
    nearest_choice,
    parse_ratio,
    target_choice,
)
from preflight.errors import ProfileError
from preflight.profiles import ImageLimits, VideoLimits, load_profile

RUNWAY = ("1280:720", "720:1280", "960:960", "1104:832", "832:1104", "1584:672")
RUNWAY_TOML = "aspect_choices = [" + ", ".join(f'"{c}"' for c in RUNWAY) + "]\n"


def test_profile_keeps_the_providers_spelling(tmp_path: Path) -> None:
    path = tmp_path / "runway.toml"
    path.write_text(
        f'name = "runway-act-two"\nbase = "kling-v2.6"\n[image]\n{RUNWAY_TOML}[video]\n{RUNWAY_TOML}min_duration = 3\n'
    )
    p = load_profile(path)
    assert p.image.aspect_choices == RUNWAY and p.video.aspect_choices == RUNWAY
    assert not load_profile("kling-v2.6").video.aspect_choices  # absent: any ratio in the range


@pytest.mark.parametrize(
    ("value", "message"),
    [('["1280x720"]', "not W:H"), ('["16:0"]', "positive"), ("[]", "empty"), ('"16:9"', "must be a non-empty list")],
)
def test_bad_aspect_choices_fail_the_load(tmp_path: Path, value: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f"[video]\naspect_choices = {value}\n")
    with pytest.raises(ProfileError, match=message):
        load_profile(path)


def test_ratios_parse_and_label() -> None:
    assert parse_ratio("1280:720") == pytest.approx(16 / 9)
    assert parse_ratio("1.5") == 1.5
    assert [choice_label(c) for c in RUNWAY] == [
        "16:9 (1280:720)", "9:16 (720:1280)", "1:1 (960:960)", "1.327:1 (1104:832)", "1:1.327 (832:1104)",
        "2.357:1 (1584:672)",
    ]  # fmt: skip
    assert choice_label("16:9") == "16:9"
    assert (aspect_label(1080, 1920), aspect_label(1000, 300), aspect_label(1001, 300)) == ("9:16", "10:3", "3.337:1")


def test_tolerance_takes_rounded_sizes_and_tells_near_ratios_apart() -> None:
    assert matches(854 / 480, "1280:720") and matches(426 / 240, "1280:720")  # rounded 16:9 sizes
    assert matches(480 / 854, "720:1280")  # the log scale: portrait behaves as landscape
    assert not matches(4 / 3, "1104:832") and not matches(21 / 9, "1584:672")  # 0.48% and 1.0% off
    edge = parse_ratio("1104:832") * (1 + ASPECT_TOLERANCE)
    assert matches(edge * 0.9999, "1104:832") and not matches(edge * 1.0001, "1104:832")


def test_nearest_choice_is_nearest_in_log_ratio() -> None:
    assert nearest_choice(4 / 3, RUNWAY) == "1104:832"
    assert nearest_choice(3 / 4, RUNWAY) == "832:1104"
    assert nearest_choice(9 / 16, RUNWAY) == "720:1280"
    assert nearest_choice(21 / 9, RUNWAY) == "1584:672"
    # 1.16 is nearer 1:1 by plain difference, nearer 1104:832 (1.327) by log-ratio: the smaller pad or crop
    assert abs(1.16 - 1.0) < abs(1.16 - 1.327) and abs(math.log(1.327 / 1.16)) < abs(math.log(1.16))
    assert nearest_choice(1.16, RUNWAY) == "1104:832" and nearest_choice(1.14, RUNWAY) == "960:960"
    assert nearest_choice(5.0, RUNWAY) == "1584:672" and nearest_choice(0.1, RUNWAY) == "720:1280"


def test_target_choice_stays_inside_an_aspect_range() -> None:
    assert target_choice(2.4, VideoLimits()) is None
    assert target_choice(2.4, VideoLimits(aspect_choices=RUNWAY)) == "1584:672"
    assert target_choice(2.4, VideoLimits(aspect_choices=RUNWAY, max_aspect=2.0)) == "1280:720"
    assert target_choice(0.7, ImageLimits(aspect_choices=RUNWAY)) == "832:1104"


def test_act_two_ratio_is_no_gate_on_the_inputs(tmp_path) -> None:
    """The shipped Act-Two contract: ``ratio`` is the output size, so a 4:3 clip (none of the six shapes)
    passes as it is and fix leaves its shape alone; padding is for a profile that asks (aspect_choices)."""
    from preflight import check
    from preflight.fix import fix
    from preflight.samples import make_clip

    clip = make_clip(tmp_path / "take.mp4", duration=3.2, width=480, height=360)
    (item,) = check([clip], profile="runway-act-two@runway", content=False).items
    assert item.verdict == "pass" and not item.findings
    report = fix([clip], tmp_path / "ready", profile="runway-act-two@runway", content=False)
    (result,) = report.results
    assert result.ok and report.model == "runway-act-two" and report.provider == "runway"
    shown = check([result.output or clip], profile="runway-act-two", content=False).items[0].media
    assert abs(shown.aspect - 480 / 360) < 0.003
