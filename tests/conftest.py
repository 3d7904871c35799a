"""Shared test guards and media makers (media is generated, never downloaded)."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from code_recorder import record_codes

from preflight.samples import make_clip, make_image

record_codes()


@pytest.fixture(autouse=True)
def no_error_logs(caplog: pytest.LogCaptureFixture):
    """A test that makes preflight log at ERROR fails: errors must be raised or reported, not logged."""
    yield
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR and r.name.startswith("preflight")]
    assert not errors, f"preflight logged errors: {[r.getMessage() for r in errors]}"


@pytest.fixture(autouse=True)
def quiet_libav() -> Iterator[None]:
    """A test that ran the CLI with --debug switched FFmpeg's log on for the process: switch it off
    again (PyAV's default), so the next tests run as a user's process does."""
    yield
    if "av.logging" in sys.modules:
        sys.modules["av.logging"].set_level(None)


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Keep the ledger, config and profile choice of the machine out of the tests.

    The pose-model cache is left alone on purpose: building it costs a download, done once per machine.
    """
    base = tmp_path_factory.mktemp("userdirs")
    monkeypatch.setenv("PREFLIGHT_LEDGER", str(base / "ledger.sqlite"))
    monkeypatch.setenv("PREFLIGHT_CONFIG", str(base / "config.toml"))
    monkeypatch.delenv("PREFLIGHT_PROFILE", raising=False)
    monkeypatch.delenv("PREFLIGHT_MODEL", raising=False)
    monkeypatch.delenv("PREFLIGHT_DEBUG", raising=False)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small clips and images shared by many tests (made once per session)."""
    d = tmp_path_factory.mktemp("media")
    make_clip(d / "ok.mp4", duration=4, width=640, height=360, audio=True)
    make_clip(d / "rotated.mov", duration=3, width=640, height=360, rotation=90, container="mov")
    make_clip(d / "short.mp4", duration=2, width=640, height=360)
    make_image(d / "ok.jpg", width=640, height=800)
    return d


@pytest.fixture
def deadline() -> Iterator[None]:
    """Fail instead of hanging: after 60 s SIGALRM interrupts whatever blocks (a FIFO opened for reading)."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError("still running after 60 s: was a FIFO opened for reading?")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)
