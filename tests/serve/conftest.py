"""Fixtures for the serve tests: media with a person, an app on a real pool, a raw ASGI driver."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="preflight serve needs the serve extra: pip install -e '.[dev,serve]'")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "submit"))  # the fake provider servers


@pytest.fixture(scope="session")
def person_media(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A photo of a person (JPEG) and a 12 s clip of one (longer than the 10 s cap of orientation=image)."""
    from preflight.samples import make_clip, make_image, photo_frames, sample_photo

    folder = tmp_path_factory.mktemp("serve-media")
    photo = sample_photo()
    image = make_image(folder / "me.jpg", pixels=photo)
    clip = make_clip(folder / "dance.mp4", duration=12, width=360, height=480, fps=12, audio=True,
                     frames=photo_frames(photo, frames=144, zoom=(1.0, 1.1)))  # fmt: skip
    assert isinstance(image, Path)
    return image, clip


@pytest.fixture(scope="module")
def pool() -> Iterator[Any]:
    """One batch pool (two workers, as `preflight serve --jobs 2`) shared by a module's apps."""
    from preflight.batch.executors import LocalExecutor

    executor = LocalExecutor(2)
    yield executor
    executor.close()


@pytest.fixture
def client(pool: Any) -> Iterator[Any]:
    """A TestClient on an app whose jobs run on ``pool``; the client's base URL is loopback."""
    from starlette.testclient import TestClient

    from preflight.serve.app import create_app
    from preflight.serve.config import ServeConfig

    app = create_app(ServeConfig(), executor=pool)
    with TestClient(app, base_url="http://127.0.0.1:8765") as test_client:
        test_client.server = app.app.state.server  # type: ignore[attr-defined]
        yield test_client


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """Start a fake provider server (tests/submit/fake_providers) with test keys in the environment."""
    from fake_providers import starting_fakes

    secrets = {"FAL_KEY": "fal-TEST-key-2b7c9e4f1a3d5c8e:0aa1", "KIE_API_KEY": "kie-TEST-key-6e1f8a3b9c2d4e7f"}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PREFLIGHT_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("PREFLIGHT_POLL_INTERVAL", "0")
    monkeypatch.setenv("PREFLIGHT_RETRY_BACKOFF", "0")
    yield from starting_fakes(secrets)


@pytest.fixture(scope="session")
def half_person_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 s: the person for the first 8 s, then 4 s of an empty grey frame. The whole clip passes the pose
    gate (a person in two thirds of it); a window over the last 5 s holds a person for one second only, so
    its fixed clip fails its re-check with ``pose.no_person``: the failing output the page must explain."""
    import numpy as np

    from preflight.samples import make_clip, photo_frames, sample_photo

    person = photo_frames(sample_photo(), frames=96, zoom=(1.0, 1.05))

    def draw(index: int, width: int, height: int) -> np.ndarray:
        return person(index, width, height) if index < 96 else np.full((height, width, 3), 128, np.uint8)

    folder = tmp_path_factory.mktemp("serve-half-person")
    return make_clip(folder / "walks-away.mp4", duration=12, width=360, height=480, fps=12, frames=draw)


@pytest.fixture(scope="session")
def hevc_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s of the person in HEVC in a QuickTime file (a phone's clip): Chromium plays neither as it is."""
    from preflight.samples import make_clip, photo_frames, sample_photo

    folder = tmp_path_factory.mktemp("serve-hevc")
    return make_clip(folder / "phone.mov", duration=4, width=360, height=480, fps=12, codec="libx265",
                     container="mov", frames=photo_frames(sample_photo(), frames=48))  # fmt: skip


@pytest.fixture(scope="session")
def padded_clip(person_media: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The person clip with a 21 MB ``free`` box after its movie header: over Novita's 10 MB cap (and twice
    it), far under what the server takes; the bytes are padding, so Fix's re-encode is small."""
    _, clip = person_media
    padded = tmp_path_factory.mktemp("serve-padded") / "phone-60mb.mp4"
    size = 21_000_000
    padded.write_bytes(clip.read_bytes() + size.to_bytes(4, "big") + b"free" + bytes(size - 8))
    return padded


@pytest.fixture(scope="session")
def two_people_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s of 720p: the astronaut on the left and her mirror image, smaller, on the right, apart. The check finds
    two people, and the largest too small (``fixable with --reframe``); a reframe cuts the other one out."""
    import numpy as np
    from people import astronaut, scene

    from preflight.samples import make_clip

    subject, other = (astronaut(), 0.45, (0.30, 0.10)), (np.ascontiguousarray(astronaut()[:, ::-1]), 0.36, (0.38, 0.72))
    frame = scene([subject, other], canvas=(720, 1280))
    folder = tmp_path_factory.mktemp("serve-two-people")
    return make_clip(folder / "duo.mp4", duration=3, width=1280, height=720, fps=25, frames=lambda i, *_: frame,
                     crf=23)  # fmt: skip


def _handheld_clip(folder: Path, name: str, width: int, height: int, jitter_pct: float) -> Path:
    from shaky import handheld

    from preflight.samples import make_clip

    camera = handheld(width, height, frames=90, jitter_pct=jitter_pct)
    return make_clip(folder / name, duration=3, width=width, height=height, fps=30, frames=camera.draw, crf=20)


@pytest.fixture(scope="session")
def shaky_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s of 960x540 from a hand-held camera panning over a wall with a portrait (``motion.camera_shake``, jitter
    about 1.4%): steadied with a 13% crop-in."""
    return _handheld_clip(tmp_path_factory.mktemp("serve-shaky"), "handheld.mp4", 960, 540, 1.0)


@pytest.fixture(scope="session")
def small_shaky_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same shake (1.7%) at 640x360: hiding it would leave 540x304, under Kling's 340 px
    (``stabilize.crop_too_large``)."""
    return _handheld_clip(tmp_path_factory.mktemp("serve-shaky-small"), "handheld-small.mp4", 640, 360, 1.25)
