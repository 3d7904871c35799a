"""preflight as pip installs it: the wheel's metadata and files, and a Python that imports nothing
preflight did not ask for."""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

from preflight.samples import make_clip

ROOT = Path(__file__).resolve().parents[1]


def test_the_cli_runs_without_what_site_imports_on_the_side(tmp_path: Path) -> None:
    """``python -S``: no ``.pth`` file runs, as in a venv without setuptools (pre-commit's hook
    environment, pipx). setuptools' ``distutils-precedence.pth`` imports ``importlib.util``, and the
    CLI used it through a bare ``import importlib``: every command ended in ``internal.error``."""
    clip = make_clip(tmp_path / "ok.mp4", duration=3, width=640, height=360)
    path = [str(ROOT), *site.getsitepackages()]
    code = (
        f"import sys; sys.path[:0] = {path!r}\n"
        "from preflight.cli import main\n"
        f"sys.exit(main(['check', '--no-content', {str(clip)!r}]))\n"
    )
    run = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "1 pass" in run.stdout


def test_the_wheel_is_typed_and_licensed_by_spdx(tmp_path: Path) -> None:
    """Built as pip builds it (isolated, from pyproject.toml): ``py.typed`` ships, the licence is an
    SPDX expression (Metadata 2.4), and setuptools warns of nothing (the licence table it deprecated
    stops building after 2027-02-18)."""
    source = tmp_path / "src"  # a copy: the build writes build/ and *.egg-info next to its sources
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    shutil.copytree(ROOT / "preflight", source / "preflight", ignore=shutil.ignore_patterns("__pycache__"))
    run = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-v",
         "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "SetuptoolsDeprecationWarning" not in run.stdout + run.stderr
    (wheel,) = (tmp_path / "dist").glob("preflight_motion-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        headers = archive.read(metadata).decode().split("\n\n", 1)[0].splitlines()
    assert "preflight/py.typed" in names and "preflight/profiles/providers/kie.toml" in names
    assert "License-Expression: MIT" in headers
    assert not any(h.startswith("License:") for h in headers)  # the deprecated free-text field
