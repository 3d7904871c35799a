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
    path.write_text('name = "studio"\n[video]\nmax_duration = 12.0\nmin_duration = 4\ncontainers = ["MP4"]\n')
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
    typo.write_text("[content]\nshake_max_jiter = 0.5\n")
    assert main(["check", "--profile", str(typo), str(clip)]) == 2
    err = capsys.readouterr().err
    assert "profile.invalid" in err and "shake_max_jiter" in err and "shake_max_jitter" in err
    assert main(["check", "--no-content", "--profile", str(typo), str(clip)]) == 0  # limits only: not read

    strict = tmp_path / "strict.toml"
    strict.write_text("[content]\nblur_min_variance = 1e9\n[content.severity]\n\"quality.blurry\" = \"error\"\n")
    (item,) = check([clip], profile=strict).items
    blurry = next(f for f in item.findings if f.code == "quality.blurry")
    assert blurry.severity.value == "error" and blurry.limit == 1e9
    capsys.readouterr()
    assert main(["profiles", "show", str(strict)]) == 0
    shown = capsys.readouterr().out
    assert "blur_min_variance                1000000000.0 *" in shown and "severity of quality.blurry" in shown
