"""Fixtures for the submit tests: keys in the environment, media, a ledger, fake servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fake_providers import FAKES, FakeServer, starting_fakes

SECRETS = {
    "KLINGAI_ACCESS_KEY": "ak-TEST-access-7f3a9c2e1b",
    "KLINGAI_SECRET_KEY": "sk-TEST-secret-kling-5d8e2f7a9b1c4d6e",
    "FAL_KEY": "fal-TEST-key-2b7c9e4f1a3d5c8e:0aa1",
    "KIE_API_KEY": "kie-TEST-key-6e1f8a3b9c2d4e7f",
    "NOVITA_API_KEY": "nov-TEST-key-3c9a7e1f5b2d8e4a",
    "REPLICATE_API_TOKEN": "r8_TEST_token_9f2e7c1a4b6d3e8f",
    "RUNWAYML_API_SECRET": "key_TEST_runway_4c8e1a7f3b9d2e6a",
    "AI_GATEWAY_API_KEY": "vck_TEST_gateway_8d2f6a1c9e3b7d5f",
}


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PREFLIGHT_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("PREFLIGHT_LEDGER", str(tmp_path / "ledger.sqlite3"))
    # No real waiting anywhere: polls and retry backoff are instant.
    monkeypatch.setenv("PREFLIGHT_POLL_INTERVAL", "0")
    monkeypatch.setenv("PREFLIGHT_RETRY_BACKOFF", "0")
    for name in FAKES:
        monkeypatch.delenv(f"PREFLIGHT_{name.upper()}_BASE_URL", raising=False)
    return dict(SECRETS)


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A passing pair: 480x640 JPEG, 3.5 s 640x480 H.264 clip."""
    from preflight.samples import make_clip, make_image

    folder = tmp_path_factory.mktemp("media")
    image = make_image(folder / "subject.jpg", width=480, height=640)
    clip = make_clip(folder / "motion.mp4", duration=3.5, width=640, height=480)
    assert isinstance(image, Path)
    return image, clip


@pytest.fixture
def fake(secrets_env: dict[str, str]) -> Iterator[Callable[[str], FakeServer]]:
    yield from starting_fakes(secrets_env)
