"""profiles: shipped TOML data, a user's own file, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight import available_profiles, load_profile
from preflight.errors import ProfileError, UsageError


def test_shipped_profiles() -> None:
    assert set(available_profiles()) >= {"kling-v2.6", "novita", "kie", "fal", "replicate"}
    for name in available_profiles():
        p = load_profile(name)
        assert p.name == name and p.provider
        assert p.video.duration_cap("video") == 30.0
        assert p.video.duration_cap("image") == 10.0
        assert p.video.min_duration == 3.0
        assert p.image.max_bytes == 10_000_000
        assert p.max_prompt_chars == 2500


def test_numbers_from_providers_md() -> None:
    kling, novita, fal = load_profile("kling-v2.6"), load_profile("novita"), load_profile("fal")
    assert (kling.image.min_side, kling.video.min_side, kling.video.max_side) == (340, 340, 3850)
    assert (kling.image.min_aspect, kling.image.max_aspect) == (0.4, 2.5)
    assert kling.video.max_bytes == 100_000_000
    assert (novita.image.min_side, novita.video.max_bytes) == (300, 10_000_000)
    assert fal.image.max_side == 3850
    assert "matroska" in load_profile("kie").video.containers


def test_default_profile_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_profile().name == "kling-v2.6"
    monkeypatch.setenv("PREFLIGHT_PROFILE", "novita")
    assert load_profile().name == "novita"


def test_user_profile_file(tmp_path: Path) -> None:
    path = tmp_path / "studio.toml"
    path.write_text(
        'name = "studio"\nbase = "kling-v2.6"\n[video]\nmax_duration = 12.0\nmin_duration = 4\ncontainers = ["MP4"]\n'
    )
    p = load_profile(path)
    assert (p.name, p.video.max_duration, p.video.containers) == ("studio", 12.0, ("mp4",))


def test_unknown_profile_lists_known_ones() -> None:
    with pytest.raises(UsageError) as info:
        load_profile("klingg")
    assert info.value.code == "profile.unknown"
    assert "kling-v2.6" in info.value.message and "novita" in info.value.message


def test_bad_profile_files(tmp_path: Path) -> None:
    (tmp_path / "typo.toml").write_text("[video]\nmax_durration = 12\n")
    with pytest.raises(ProfileError, match="max_durration"):
        load_profile(tmp_path / "typo.toml")
    (tmp_path / "broken.toml").write_text("[video\n")
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile(tmp_path / "broken.toml")
    with pytest.raises(ProfileError) as info:
        load_profile(tmp_path / "missing.toml")
    assert info.value.code == "profile.unknown"


def test_content_gate_typo_is_refused_and_overrides_apply(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from preflight import check
    from preflight.cli import main
    from preflight.samples import make_clip

    clip = make_clip(tmp_path / "c.mp4", duration=3, width=360, height=360)
    typo = tmp_path / "typo.toml"
    typo.write_text('base = "kling-v2.6"\n[content]\nshake_max_jiter = 0.5\n')
    assert main(["check", "--profile", str(typo), str(clip)]) == 2
    err = capsys.readouterr().err
    assert "profile.invalid" in err and "shake_max_jiter" in err and "shake_max_jitter" in err
    assert main(["check", "--no-content", "--profile", str(typo), str(clip)]) == 0  # limits only: not read

    strict = tmp_path / "strict.toml"
    strict.write_text(
        'base = "kling-v2.6"\n[content]\nblur_min_variance = 1e9\n[content.severity]\n"quality.blurry" = "error"\n'
    )
    (item,) = check([clip], profile=strict).items
    blurry = next(f for f in item.findings if f.code == "quality.blurry")
    assert blurry.severity.value == "error" and blurry.limit == 1e9
    capsys.readouterr()
    assert main(["profiles", "show", str(strict)]) == 0
    shown = capsys.readouterr().out
    assert "blur_min_variance                1000000000.0 *" in shown and "severity of quality.blurry" in shown


# ----- model x provider contracts -----------------------------------------------------------------

from preflight.profiles import contract_matrix, effective_profile  # noqa: E402

# (model, provider) -> numbers from ../shared/PROVIDERS.md; the stricter of model and provider wins.
DOCUMENTED = {
    ("kling-v3", "novita"): {"image.max_bytes": 10_000_000, "video.max_bytes": 10_000_000, "image.min_side": 300,
                             "video.max_duration": 30.0, "video.max_duration_image_orientation": 10.0},
    ("kling-v3", "kling"): {"image.max_bytes": 10_000_000, "video.max_bytes": 100_000_000, "video.min_side": 340,
                            "video.max_side": 3850, "image.min_aspect": 0.4, "image.max_aspect": 2.5,
                            "video.min_duration": 3.0},
    ("kling-v3", "kie"): {"video.max_bytes": 100_000_000, "image.min_aspect": 0.4, "image.max_aspect": 2.5,
                          "image.min_side": 300},
    ("kling-v3", "replicate"): {"image.min_side": 340, "image.max_side": 3850, "video.max_bytes": 100_000_000},
    ("kling-v3", "fal"): {"image.max_side": 3850, "video.max_duration": 30.0},
    ("kling-v2.6", "novita"): {"video.max_bytes": 10_000_000, "image.min_side": 300},
    ("runway-act-two", "runway"): {"video.min_duration": 3.0, "video.max_duration": 30.0,
                                   "video.max_bytes": 32_000_000, "image.max_bytes": 16_000_000},
    ("dreamactor-m2", "replicate"): {"image.max_bytes": 4_700_000, "image.min_side": 480, "video.max_side": 2048,
                                     "video.min_side": 200, "video.max_duration": 30.0},
    ("dreamactor-m2", "fal"): {"image.max_bytes": 4_700_000, "video.max_duration": 30.0},
    ("wan-2.2-animate", "fal"): {"image.formats": ("jpeg", "png")},
}  # fmt: skip


@pytest.mark.parametrize(
    ("pair", "numbers"), DOCUMENTED.items(), ids=lambda v: "@".join(v) if isinstance(v, tuple) else ""
)
def test_effective_limits_match_providers_md(pair, numbers) -> None:
    profile = effective_profile(*pair)
    for dotted, expected in numbers.items():
        section, key = dotted.split(".")
        assert getattr(getattr(profile, section), key) == expected, dotted
        assert profile.sources[dotted], dotted  # every effective number says where it comes from


def test_matrix_covers_the_family() -> None:
    pairs = {(p.model.name, p.provider.name) for p in contract_matrix()}
    for provider in ("kling", "fal", "kie", "novita", "replicate", "vercel"):
        assert ("kling-v3", provider) in pairs and ("kling-v2.6", provider) in pairs
    assert {("wan-2.2-animate", "fal"), ("wan-2.2-animate", "replicate"), ("runway-act-two", "runway")} <= pairs
    act_two = effective_profile("runway-act-two", None)
    # ratio is the output size, not a gate on the inputs' shapes (PROVIDERS.md, "Corrections")
    assert act_two.provider == "runway" and not act_two.video.aspect_choices and not act_two.image.aspect_choices
    assert not act_two.orientation_matters and effective_profile("kling-v3", None).orientation_matters


def test_stricter_wins_and_says_who(tmp_path: Path) -> None:
    novita = load_profile("kling-v3@novita")
    assert novita.video.max_bytes == 10_000_000 and novita.sources["video.max_bytes"].startswith("provider novita")
    assert novita.video.min_side == 340 and novita.sources["video.min_side"].startswith("model kling-v3")
    wan = load_profile("wan-2.2-animate@fal")
    assert "video.max_duration" in wan.inferred  # no document states Wan's clip cap
    assert load_profile("kling-v2.6@kling").name == "kling-v2.6"  # an old name stays the report's name


def test_old_names_keep_their_limits() -> None:
    """Scripts that pass --profile fal/kie/novita/replicate get the same numbers as before contracts."""
    fal, kie = load_profile("fal"), load_profile("kie")
    assert (fal.model, fal.provider, fal.image.max_side, fal.image.min_side) == ("kling-v2.6", "fal", 3850, 340)
    assert kie.video.containers == ("mp4", "mov", "matroska") and kie.model == "kling-v2.6"
    assert load_profile("replicate").image.min_side == 340


def test_user_model_and_provider_contracts(tmp_path: Path) -> None:
    model = tmp_path / "my-model.toml"
    model.write_text('kind = "model"\nname = "my-model"\n[video]\nmax_duration = 8.0\nmin_duration = 2\n')
    alone = load_profile(model)
    assert (alone.name, alone.model, alone.provider, alone.video.max_duration) == ("my-model", "my-model", None, 8.0)
    proxy = tmp_path / "proxy.toml"
    proxy.write_text(
        'kind = "provider"\nname = "proxy"\napi = "fal"\n[video]\nmax_bytes = 20_000_000\n'
        '[models."kling-v3"]\nmodel_id = "fal-ai/kling-video/v3/{mode}/motion-control"\n'
        'modes = { std = "standard", pro = "pro" }\n'
        'fields = { image = "image_url", video = "video_url", orientation = "character_orientation" }\n'
    )
    through = load_profile(f"kling-v3@{proxy}")
    assert (through.video.max_bytes, through.provider, through.name) == (20_000_000, "proxy", "kling-v3@proxy")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('kind = "model"\n[video]\nmin_duration = 10\nmax_duration = 5\n', "min_duration = 10.0 is above"),
        ('kind = "model"\n[image]\nmin_side = "big"\n', "must be a number"),
        ('kind = "model"\n[video]\ncontainers = "mp4"\n', "list of names"),
        ('kind = "provider"\n[models.x]\nmodes = { std = "a" }\n', "model_id is required"),
        ('kind = "gadget"\n', "kind must be"),
        ('kind = "provider"\n[models.x]\nmodel_id = "a"\nfields = { image = "i" }\n', "where the video go"),
        (
            'kind = "provider"\n[models.x]\nmodel_id = "a/{tier}"\nfields = { image = "i", video = "v" }\n',
            "model_id has {tier}",
        ),
    ],
)
def test_bad_contracts_are_refused(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ProfileError, match=words):
        load_profile(path)


def test_check_with_model_and_provider_records_both(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from preflight.cli import main
    from preflight.samples import make_clip

    clip = make_clip(tmp_path / "c.mp4", duration=12, width=640, height=480)
    assert main(["check", "--no-content", "--json", "--model", "kling-v3", "--provider", "novita",
                 "--orientation", "image", str(clip)]) == 1  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert (report["profile"], report["model"], report["provider"]) == ("kling-v3@novita", "kling-v3", "novita")
    assert report["items"][0]["findings"][0]["code"] == "duration.too_long"
    assert main(["check", "--no-content", "--profile", "fal", "--model", "kling-v3", str(clip)]) == 2
    assert "give --profile, or --model/--provider, not both" in capsys.readouterr().err
    assert main(["check", "--no-content", "--model", "wan-2.2-animate", "--provider", "kling", str(clip)]) == 2
    assert "kling does not serve wan-2.2-animate" in capsys.readouterr().err


def test_profiles_list_prints_the_matrix(capsys: pytest.CaptureFixture[str]) -> None:
    from preflight.cli import main

    assert main(["profiles", "list"]) == 0
    out = capsys.readouterr().out
    for row in ("kling-v3         novita", "wan-2.2-animate  fal", "runway-act-two   runway"):
        assert row in out
    assert main(["profiles", "show", "kling-v3", "--provider", "novita"]) == 0
    shown = capsys.readouterr().out
    assert "kling-v3@novita" in shown and "provider novita: Novita API reference" in shown


def test_batch_and_fix_take_model_and_provider(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from preflight.cli import main
    from preflight.samples import make_clip

    (tmp_path / "in").mkdir()
    clip = make_clip(tmp_path / "in" / "c.mp4", duration=12, width=640, height=480)
    assert main(["batch", str(clip.parent), "--check-only", "--no-content", "-q", "--format", "json",
                 "--model", "kling-v3", "--provider", "kie", "--orientation", "image"]) == 1  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert (report["profile"], report["model"], report["provider"]) == ("kling-v3@kie", "kling-v3", "kie")
    assert main(["fix", str(clip), "-o", str(tmp_path / "out"), "--no-content", "--json", "--model", "kling-v3",
                 "--provider", "kie", "--orientation", "image"]) == 0  # fmt: skip
    fixed = json.loads(capsys.readouterr().out)
    assert fixed["model"] == "kling-v3" and fixed["items"][0]["after"]["verdict"] == "pass"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "sets no image.formats, image.max_bytes, video.containers, video.max_bytes, video.max_duration"),
        ("[video]\nmax_duration = 12.0\n", "sets no image.formats"),
        ('base = "kling-v2.6"\n[video]\nmin_duration = -3\n', "must be positive"),
        ('base = "kling-v2.6"\n[video]\nmin_duration = 40\n', "min_duration = 40.0 is above max_duration = 30.0"),
        ('base = "kling-v2.6"\n[image]\nmax_aspect = 0.3\n', "min_aspect = 0.4 is above max_aspect = 0.3"),
        ('base = "kling-v2.6"\n[image]\nformats = ["jpg"]\n', "unknown name 'jpg' (did you mean jpeg?)"),
        ('base = "kling-v2.6"\n[video]\nvideo_codecs = ["h.264"]\n', "unknown name 'h.264'"),
        ('base = "kling-v2.6"\n[video]\ncontainers = ["mp5"]\n', "unknown name 'mp5'"),
        ('base = "nope"\n', "unknown profile 'nope'"),
        ('max_prompt_chars = "many"\nbase = "fal"\n', "max_prompt_chars has the wrong type"),
    ],
)
def test_standalone_profile_schema(tmp_path: Path, text: str, words: str) -> None:
    """An empty or partial profile would switch off every limit it forgot: it must name a base."""
    path = tmp_path / "mine.toml"
    path.write_text(text)
    with pytest.raises((ProfileError, UsageError)) as info:
        load_profile(path)
    assert words in info.value.message
    assert info.value.code in ("profile.invalid", "profile.unknown")


def test_a_base_is_refined_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('base = "novita"\n[video]\nmax_duration = 12.0\n[content]\nblur_min_variance = 90\n')
    mine, novita = load_profile(path), load_profile("novita")
    assert mine.video.max_duration == 12.0 and mine.video.max_bytes == novita.video.max_bytes == 10_000_000
    assert mine.image == novita.image and mine.content.values["blur_min_variance"] == 90


def test_a_binary_file_is_not_a_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from preflight.cli import main

    path = tmp_path / "profile.toml"
    path.write_bytes(bytes(range(256)) * 4)
    assert main(["check", "--no-content", "--profile", str(path), str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("preflight: profile.invalid:") and "not a TOML text file" in err[0]
