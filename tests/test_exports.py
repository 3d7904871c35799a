"""The public surface is explicit: everything in preflight.__all__ exists, and every public name is listed."""

from __future__ import annotations

import types

import preflight


def test_all_is_complete_and_importable() -> None:
    for name in preflight.__all__:
        assert hasattr(preflight, name), name
    public = {
        n for n, v in vars(preflight).items()
        if not n.startswith("_") and not isinstance(v, types.ModuleType) and n != "annotations"
    }  # fmt: skip
    assert public == set(preflight.__all__)
