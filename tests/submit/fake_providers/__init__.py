"""Fake provider servers for the submit tests, one module per provider (like ``preflight/submit/``).

    FAKES       provider name -> FakeServer subclass, found by scanning this package's modules
    base        the shared HTTP plumbing, :class:`Reply`, :data:`RESULT`

A new provider's fake is one module here defining one FakeServer subclass whose ``name`` is the
provider's ``--provider`` value; nothing else lists them.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from .base import RESULT, FakeServer, Reply, parse_multipart, scripted

__all__ = ["FAKES", "RESULT", "FakeServer", "Reply", "parse_multipart", "scripted", "starting_fakes"]


def _find_fakes() -> dict[str, type[FakeServer]]:
    found: dict[str, type[FakeServer]] = {}
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, FakeServer) and obj.__module__ == module.__name__:
                found[obj.name] = obj
    return dict(sorted(found.items()))


FAKES: dict[str, type[FakeServer]] = _find_fakes()


def starting_fakes(secrets: dict[str, str]):  # type: ignore[no-untyped-def]
    """A fixture body: yields ``start(name) -> FakeServer``; every server started is closed after."""
    started: list[FakeServer] = []

    def start(name: str) -> FakeServer:
        server = FAKES[name](secrets)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()
