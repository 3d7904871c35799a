"""What batch says when what it needs around it is missing: a Dask scheduler that does not answer, a
URL input without fsspec. Each is one coded line, never a traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from preflight.cli import main
from preflight.samples import make_image


def test_an_unreachable_dask_scheduler_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    distributed = pytest.importorskip("dask.distributed")
    real_client = distributed.Client

    def quick_client(address: str, timeout: str) -> object:  # dask's own failure, after 1 s instead of 20
        return real_client(address, timeout="1s")

    monkeypatch.setattr(distributed, "Client", quick_client)
    make_image(tmp_path / "a.jpg")
    assert main(["batch", str(tmp_path), "--check-only", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("preflight: dask.unreachable: cannot reach the Dask scheduler tcp://127.0.0.1:9"), err
    assert "Traceback" not in err


def test_a_url_without_fsspec_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "fsspec", None)  # as if not installed: importing it raises ImportError
    monkeypatch.setitem(sys.modules, "fsspec.core", None)
    assert main(["batch", "memory://incoming/", "--check-only", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("preflight: fsspec.missing: memory://incoming/: reading URLs needs fsspec"), err
    assert "pip install" in err
