"""What a new user reads: every refusal is one line with its code and a next step, given early."""

from __future__ import annotations

import pytest

from preflight.cli import main
from preflight.submit.ledger import Ledger


def _one_error_line(err: str, code: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("preflight: ")]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"preflight: {code}: "), lines[0]
    return lines[0]


@pytest.fixture
def bundle(media, tmp_path):
    from preflight.bundle import write_bundle

    image, clip = media
    folder = tmp_path / "job1"
    write_bundle(folder, image, clip, profile="kling-v2.6", orientation="video")
    return folder


def test_help_says_where_keys_go_and_which_providers_need_a_url():
    from click.testing import CliRunner

    from preflight.cli import cli

    result = CliRunner().invoke(cli, ["submit", "--help"])
    assert result.exit_code == 0
    text = result.output
    assert "preflight prepare" in text and "Examples:" in text
    kling = "kling      KLINGAI_ACCESS_KEY + KLINGAI_SECRET_KEY; needs --video-url (or --upload DEST) for the clip"
    assert kling in text
    assert "vercel     AI_GATEWAY_API_KEY; image inline, clip as a URL (--video-url or --upload)" in text
    assert "fal        FAL_KEY; uploads local files" in text
    assert "2500 characters" in text


def test_a_clip_without_url_for_kling_is_refused_before_keys_cost_or_checks(bundle, capsys, monkeypatch, secrets_env):
    monkeypatch.delenv("KLINGAI_SECRET_KEY")
    assert main(["submit", str(bundle), "--provider", "kling"]) == 2
    err = capsys.readouterr().err
    line = _one_error_line(err, "submit.needs_url")
    assert "motion.mp4" in line and "--video-url URL" in line
    assert "cost:" not in err  # nothing estimated, nothing asked
    assert Ledger().jobs() == []


def test_missing_keys_are_all_named_at_once(bundle, capsys, monkeypatch, secrets_env):
    monkeypatch.delenv("KLINGAI_ACCESS_KEY")
    monkeypatch.delenv("KLINGAI_SECRET_KEY")
    args = ["submit", str(bundle), "--provider", "kling", "--video-url", "https://cdn.example/c.mp4", "--yes"]
    assert main(args) == 1
    line = _one_error_line(capsys.readouterr().err, "submit.no_key")
    assert "KLINGAI_ACCESS_KEY and KLINGAI_SECRET_KEY" in line and "[keys]" in line


@pytest.mark.parametrize("name", ["fal", "kie", "replicate"])
def test_a_bad_key_names_the_variable_to_check(name, fake, bundle, capsys, monkeypatch):
    server = fake(name)
    variable = {"fal": "FAL_KEY", "kie": "KIE_API_KEY", "replicate": "REPLICATE_API_TOKEN"}[name]
    monkeypatch.setenv(variable, "wrong-key-0123456789")
    assert main(["submit", str(bundle), "--provider", name, "--base-url", server.url, "--yes"]) == 1
    line = _one_error_line(capsys.readouterr().err, "submit.auth")
    assert f"check {variable}" in line and "HTTP 401" in line and "wrong-key" not in line
    assert server.creates == 0


def test_prompt_too_long_says_which_option_to_shorten(bundle, capsys, secrets_env):
    assert main(["submit", str(bundle), "--provider", "fal", "--negative-prompt", "y" * 2501]) == 1
    line = _one_error_line(capsys.readouterr().err, "prompt.too_long")
    assert "negative prompt is 2501 characters" in line and "shorten --negative-prompt" in line


def test_missing_provider_is_one_line_with_the_choices(bundle, capsys):
    assert main(["submit", str(bundle)]) == 2
    err = capsys.readouterr().err
    (line,) = err.splitlines()
    assert line.startswith("preflight: usage.invalid: --provider is required: one of fal, kie, kling, novita, replic")
    assert line.endswith(" (preflight submit --help)")
    assert "\t" not in err


def test_settings_a_provider_lacks_say_what_to_drop(bundle, capsys, secrets_env):
    assert main(["submit", str(bundle), "--provider", "novita", "--mode", "std", "--dry-run"]) == 2
    assert "pass --mode pro or leave --mode out" in _one_error_line(capsys.readouterr().err, "usage.invalid")
    assert main(["submit", str(bundle), "--provider", "fal", "--negative-prompt", "x", "--dry-run"]) == 2
    assert "leave --negative-prompt out" in _one_error_line(capsys.readouterr().err, "usage.invalid")


def test_an_unreachable_server_suggests_the_base_url(bundle, capsys, secrets_env, monkeypatch):
    monkeypatch.setenv("PREFLIGHT_RETRY_ATTEMPTS", "2")
    assert main(["submit", str(bundle), "--provider", "fal", "--base-url", "http://127.0.0.1:9", "--yes"]) == 1
    line = _one_error_line(capsys.readouterr().err, "submit.network")
    assert "could not connect" in line and "--base-url" in line


def test_cost_line_reads_plainly(bundle, capsys, secrets_env):
    assert main(["submit", str(bundle), "--provider", "fal", "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "cost: about $0.25 for 3.5 s at $0.07/s (kling-v2.6 std; fal model page; pro unverified)" in err
    assert main(["submit", str(bundle), "--provider", "kie", "--dry-run"]) == 0
    assert "cost: not estimated: kie publishes no per-second price for kling-v2.6 std" in capsys.readouterr().err


def test_unknown_job_points_at_the_list(capsys, secrets_env):
    assert main(["jobs", "wait", "99"]) == 2
    assert "preflight jobs list" in _one_error_line(capsys.readouterr().err, "job.not_found")
