"""The user's own mistakes end in one short coded line and exit 2, never exit 3 or a traceback: a TOML
nested thousands deep, a 100 KB variable or URL, a chain of profile bases that loops (issue 19, part 6)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from preflight.cli import main
from preflight.profiles import shipped_providers
from preflight.samples import make_clip, make_image

HUGE = "a" * 100_000
"""The tester's 100 KB value."""
LONGEST_LINE = 400
"""A coded line quotes a little of a huge value, never all of it."""


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("mistakes")
    return make_image(folder / "photo.jpg", width=640, height=800), make_clip(folder / "clip.mp4", duration=3)


@pytest.fixture(scope="module")
def deep_toml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An array nested 5000 deep: tomllib recurses once per level (RecursionError)."""
    path = tmp_path_factory.mktemp("deep") / "deep.toml"
    path.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    return path


def preflight(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "PREFLIGHT_DEBUG"}
    return subprocess.run([sys.executable, "-m", "preflight", *args], capture_output=True, text=True,
                          env={**environ, **(env or {})}, timeout=120)  # fmt: skip


def one_line(done: subprocess.CompletedProcess[str], code: str) -> str:
    """The single stderr line of a refused run: exit 2, the code, short, nothing on stdout."""
    assert done.returncode == 2, done.stderr[-2000:]
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"preflight: {code}: ") and len(line) < LONGEST_LINE, line[:500]
    assert done.stdout == ""
    return line


@pytest.mark.parametrize("option", ["--profile", "--model", "--provider"])
def test_a_deep_toml_file_is_profile_invalid(option: str, deep_toml: Path, media: tuple[Path, Path]) -> None:
    done = preflight("check", option, str(deep_toml), str(media[0]), "--no-content")
    assert one_line(done, "profile.invalid").endswith(f"{deep_toml}: not valid TOML: nested too deep to be a profile")


def test_a_deep_toml_through_the_environment(deep_toml: Path, media: tuple[Path, Path], tmp_path: Path) -> None:
    image, clip = media
    for name in ("PREFLIGHT_PROFILE", "PREFLIGHT_MODEL"):
        one_line(preflight("check", str(image), "--no-content", env={name: str(deep_toml)}), "profile.invalid")
    submit = ("submit", "--provider", "fal", "--image", str(image), "--video", str(clip), "--dry-run")
    line = one_line(preflight(*submit, env={"PREFLIGHT_CONFIG": str(deep_toml), "FAL_KEY": ""}), "config.invalid")
    assert line == f"preflight: config.invalid: cannot read config file {deep_toml}: nested too deep"


@pytest.mark.parametrize("name", ["PREFLIGHT_PROFILE", "PREFLIGHT_MODEL"])
def test_a_100_kb_profile_variable_is_quoted_in_part(name: str, media: tuple[Path, Path]) -> None:
    """It was ``os.error`` (File name too long) with the 100 KB value as the line."""
    line = one_line(preflight("check", str(media[0]), "--no-content", env={name: HUGE}), "profile.invalid")
    assert f"{name} 'aaaa" in line and "… (100000 characters) is neither a name nor a path" in line


def test_a_100_kb_config_path_and_base_url(media: tuple[Path, Path]) -> None:
    image, clip = media
    submit = ("submit", "--provider", "fal", "--image", str(image), "--video", str(clip), "--dry-run")
    line = one_line(preflight(*submit, env={"PREFLIGHT_CONFIG": HUGE, "FAL_KEY": ""}), "config.invalid")
    assert "PREFLIGHT_CONFIG 'aaaa" in line and "(100000 characters) is not a path" in line
    url = "http://" + HUGE  # was exit 3: InvalidURL: URL too long
    line = one_line(preflight(*submit, env={"PREFLIGHT_FAL_BASE_URL": url, "FAL_KEY": "k" * 20}), "config.invalid")
    assert line.endswith("(100007 characters) is not an API base URL: longer than 2048 characters")


@pytest.mark.parametrize("provider", shipped_providers())
@pytest.mark.parametrize("where", ["env", "--base-url"])
@pytest.mark.parametrize("url", ["http://" + HUGE, "ftp://example.com", "http://exa mple.com", "example.com/api"])
def test_every_base_url_is_checked(
    provider: str, where: str, url: str, media: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    image, clip = media
    args = ["submit", "--provider", provider, "--image", str(image), "--video", str(clip), "--dry-run"]
    source = f"PREFLIGHT_{provider.upper()}_BASE_URL"
    if where == "env":
        monkeypatch.setenv(source, url)
    else:
        args += ["--base-url", url]
        source = "--base-url"
    assert main(args) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"preflight: config.invalid: {source} '") and len(line) < LONGEST_LINE


@pytest.mark.parametrize(("provider", "variable"), [("fal", "PREFLIGHT_FAL_STORAGE_URL"),
                                                    ("kie", "PREFLIGHT_KIE_UPLOAD_URL")])  # fmt: skip
def test_the_upload_hosts_are_checked_before_anything_is_sent(
    provider: str, variable: str, media: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv(variable, "http://" + HUGE)
    image, clip = media
    assert main(["submit", "--provider", provider, "--image", str(image), "--video", str(clip), "--dry-run"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"preflight: config.invalid: {variable} 'http://aaaa")


def test_a_chain_of_bases_that_loops(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """a.toml's base is b.toml and b.toml's is a.toml: it recursed until RecursionError (exit 3)."""
    (tmp_path / "a.toml").write_text(f'base = "{tmp_path / "b.toml"}"\n')
    (tmp_path / "b.toml").write_text(f'base = "{tmp_path / "a.toml"}"\n')
    photo = make_image(tmp_path / "photo.jpg")
    assert main(["check", "--profile", str(tmp_path / "a.toml"), str(photo), "--no-content"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (f"preflight: profile.invalid: {tmp_path / 'b.toml'}: base leads back to a file already loaded: "
                    f"{tmp_path / 'a.toml'} -> {tmp_path / 'b.toml'} -> {tmp_path / 'a.toml'}")  # fmt: skip


def test_a_profile_or_config_file_over_a_megabyte(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "big.toml"
    big.write_text("# padding\n" * 200_000)
    photo = make_image(tmp_path / "photo.jpg")
    assert main(["check", "--profile", str(big), str(photo), "--no-content"]) == 2
    assert capsys.readouterr().err == f"preflight: profile.invalid: {big} is over 1 MB: too large to be a profile\n"


# --- PREFLIGHT_MODEL: every command whose --help names it takes it --------------------------------


def test_check_takes_preflight_model_in_a_real_process(media: tuple[Path, Path]) -> None:
    """``check`` ignored it (the default profile read PREFLIGHT_PROFILE only)."""
    done = preflight("check", str(media[0]), "--no-content", "--json", env={"PREFLIGHT_MODEL": "kling-v3"})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["profile"], report["model"], report["provider"]) == ("kling-v3@kling", "kling-v3", "kling")


@pytest.mark.parametrize("command", ["check", "fix", "prepare", "batch", "submit", "profiles"])
def test_every_command_takes_preflight_model(
    command: str, media: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    image, clip = media
    args = {
        "check": ["check", str(image), "--no-content", "--json"],
        "fix": ["fix", str(image), "-o", str(tmp_path / "out"), "--no-content", "--json", "--dry-run"],
        "prepare": ["prepare", "--image", str(image), "--video", str(clip), "-o", str(tmp_path / "b"), "--no-content"],
        "batch": ["batch", str(image), "--no-content", "--json", "-q", "--jobs", "1"],
        "submit": ["submit", "--provider", "fal", "--image", str(image), "--video", str(clip), "--dry-run"],
        "profiles": ["profiles", "list"],
    }[command]
    monkeypatch.setenv("PREFLIGHT_MODEL", "kling-v3")
    monkeypatch.setenv("FAL_KEY", "fal-TEST-key-2b7c9e4f1a3d5c8e")
    assert main(args) == 0
    out, err = capsys.readouterr()
    if command == "prepare":
        out = (tmp_path / "b" / "manifest.json").read_text()
    if command == "submit":
        assert "(kling-v3 std; " in err.splitlines()[0]  # the cost line names the model priced
    elif command == "profiles":
        (default,) = [line for line in out.splitlines() if line.startswith("* ") and "default" not in line]
        assert default.split()[1:4] == ["kling-v3", "kling", "kling-v3@kling"]
    else:
        assert json.loads(out)["model"] == "kling-v3"


def test_preflight_profile_and_preflight_model_together_are_refused(
    media: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Neither may silently win, as --profile with --model is refused."""
    monkeypatch.setenv("PREFLIGHT_MODEL", "kling-v3")
    monkeypatch.setenv("PREFLIGHT_PROFILE", "fal")
    assert main(["check", str(media[0]), "--no-content"]) == 2
    assert capsys.readouterr().err.startswith("preflight: config.invalid: PREFLIGHT_PROFILE and PREFLIGHT_MODEL are ")
    assert main(["check", str(media[0]), "--no-content", "--model", "kling-v2.6"]) == 0  # an option decides


# --- a stream the shell closed ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["check", "--no-content"], ["check", "--no-content", "--json"], ["probe"], ["--help"], ["profiles", "list"],
     ["batch", "--check-only", "--no-content", "-j", "1"], ["fix", "--no-content", "-o", "{out}"]],
)  # fmt: skip
def test_a_stdout_the_shell_closed_ends_the_run_quietly(args: list[str], media: tuple[Path, Path],
                                                        tmp_path: Path) -> None:  # fmt: skip
    """``preflight check photo.jpg >&-`` printed a traceback ('NoneType' object has no attribute 'isatty'):
    now it ends as a reader that left does, exit 141 with nothing said (README); fix still writes."""
    args = [a.format(out=tmp_path / "out") for a in args]
    if args[0] in ("check", "probe", "batch", "fix"):
        args.append(str(media[0]))
    done = subprocess.run([sys.executable, "-m", "preflight", *args], stderr=subprocess.PIPE, text=True, timeout=120,
                          cwd=tmp_path, preexec_fn=lambda: os.close(1))  # fmt: skip
    assert done.returncode == 141, done.stderr
    assert [line for line in done.stderr.splitlines() if not line.startswith("[1/1] pass ")] == []
    if args[0] == "fix":
        assert (tmp_path / "out" / "photo.jpg").is_file()


@pytest.mark.parametrize("fd", [0, 2])
def test_a_closed_stdin_or_stderr_changes_nothing(fd: int, media: tuple[Path, Path]) -> None:
    done = subprocess.run([sys.executable, "-m", "preflight", "check", "--no-content", "nothing-here.jpg",
                           str(media[0])], stdout=subprocess.PIPE, stderr=subprocess.PIPE if fd == 0 else None,
                          text=True, timeout=120, preexec_fn=lambda: os.close(fd))  # fmt: skip
    assert done.returncode == 1 and done.stdout.startswith("nothing-here.jpg  [unknown]  FAIL")
    assert f"{media[0]}  [image]  PASS" in done.stdout


# --- other files preflight reads: a batch state, a bundle manifest ----------------------------------


def test_a_text_file_as_batch_state_is_one_line(media: tuple[Path, Path], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """Its first line was a JSONDecodeError (exit 3); a deep or foreign entry is skipped like a cut-off one."""
    state = tmp_path / "notes.txt"
    state.write_text("my notes\n")
    assert main(["batch", str(media[0]), "--no-content", "-j", "1", "--state", str(state), "--resume"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (f"preflight: format.unrecognized: {state}: not a preflight "
                                                        "batch state file")  # fmt: skip
    from preflight.batch.state import STATE_SCHEMA

    state.write_text(json.dumps({"schema": STATE_SCHEMA}) + "\n" + "[" * 5000 + "]" * 5000 + '\n[1]\n{"key": 3}\n')
    assert main(["batch", str(media[0]), "--no-content", "-j", "1", "--state", str(state), "--resume", "-q"]) == 0


def test_a_deep_bundle_manifest_is_bundle_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "manifest.json").write_text("[" * 5000 + "]" * 5000)
    assert main(["submit", str(tmp_path), "--provider", "fal", "--dry-run"]) == 1
    assert capsys.readouterr().err == (f"preflight: bundle.invalid: {tmp_path / 'manifest.json'}: unreadable "
                                       "manifest: nested too deep\n")  # fmt: skip
