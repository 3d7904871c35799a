"""The fake servers mirror the providers: one module per provider, each small, none missing."""

from __future__ import annotations

import importlib
from pathlib import Path

import fake_providers
from fake_providers import FAKES, FakeServer

from preflight.submit import providers


def test_every_provider_has_its_own_fake_module():
    assert set(FAKES) == set(providers())
    for name, cls in FAKES.items():
        module = importlib.import_module(f"fake_providers.{name}")
        assert cls.__module__ == module.__name__, name
        assert issubclass(cls, FakeServer) and cls is not FakeServer
        # Each walks a task through its own provider's status words, not the base default.
        assert cls.statuses != FakeServer.statuses and len(cls.statuses) >= 2


def test_fake_modules_stay_small():
    folder = Path(fake_providers.__file__).parent
    sizes = {p.name: len(p.read_text().splitlines()) for p in folder.glob("*.py")}
    assert {f"{name}.py" for name in FAKES} <= set(sizes)
    assert max(sizes.values()) < 250, sizes
