"""Hand a checked pair to a provider and keep track of the job.

    providers()            name -> Provider class, found by scanning this package's modules
    get_provider(name)     one of them (UsageError naming the known ones otherwise)

A new provider is one module here defining a concrete :class:`~.base.Provider` subclass (plus a
profile TOML): nothing else lists providers, the CLI's ``--provider`` choices included.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from functools import cache
from typing import Any

from ..errors import UsageError
from ..profiles import load_provider
from .base import Provider
from .keys import install_log_redaction

__all__ = ["Provider", "get_provider", "open_provider", "providers"]

install_log_redaction()


@cache
def providers() -> dict[str, type[Provider]]:
    """Every provider module's Provider subclass, by name, sorted."""
    found: dict[str, type[Provider]] = {}
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(obj, Provider)
                and obj.__module__ == module.__name__
                and not inspect.isabstract(obj)
                and getattr(obj, "name", None)
            ):
                found[obj.name] = obj
    return dict(sorted(found.items()))


def get_provider(name: str) -> type[Provider]:
    known = providers()
    if name not in known:
        raise UsageError(f"unknown provider {name!r}; known: {', '.join(known)}", "usage.invalid")
    return known[name]


def open_provider(ref: str, *, require_keys: bool = True, **kwargs: Any) -> Provider:
    """The provider a contract names (a shipped name, or a user's TOML with ``api = "fal"``...),
    with keys from the environment or config file."""
    contract = load_provider(ref)
    return get_provider(contract.api).from_env(require_keys=require_keys, contract=contract, **kwargs)
