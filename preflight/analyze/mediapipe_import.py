"""Import MediaPipe without the plotting and sound libraries it loads for features we never use.

``import mediapipe`` imports every task family: its drawing helpers import ``matplotlib.pyplot`` and
its audio recorder imports ``sounddevice`` (PortAudio). Those two were 0.45 of the 0.6 s the import
took (``python -X importtime``, this 2-core machine), paid by every ``check`` process and every batch
worker before the first frame. The task families beside vision (audio, text, decision, retrieval),
which ``mediapipe.tasks.python`` imports whole, were another 27 ms of CPU (93 -> 64 ms for the rest of
the import, medians of 6 alternated runs). :func:`load_mediapipe` imports MediaPipe with stand-ins for
them all: a stand-in imports the real module the first time anything is read from it, so a notebook
that draws with ``mediapipe.tasks.python.vision.drawing_utils`` still gets matplotlib, and
``mediapipe.tasks.audio.AudioClassifier`` still works.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from typing import Any

__all__ = ["load_mediapipe"]

_UNUSED_TASKS = ("audio", "text", "decision", "retrieval")
_DEFERRED = ("matplotlib", "matplotlib.pyplot", "sounddevice", *(f"mediapipe.tasks.python.{t}" for t in _UNUSED_TASKS))
_lock = threading.Lock()


class _ImportedOnFirstUse(types.ModuleType):
    """Stands in for a module until something reads from it; then imports and defers to it."""

    def __getattr__(self, attr: str) -> Any:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attr)


def load_mediapipe() -> types.ModuleType:
    """The ``mediapipe`` module, imported once per process with :data:`_DEFERRED` deferred."""
    with _lock:
        if "mediapipe" in sys.modules:
            return sys.modules["mediapipe"]
        stand_ins = {name: _ImportedOnFirstUse(name) for name in _DEFERRED if name not in sys.modules}
        # ``import matplotlib.pyplot as plt`` reads ``pyplot`` from the parent: give it the stand-in.
        if "matplotlib" in stand_ins and "matplotlib.pyplot" in stand_ins:
            stand_ins["matplotlib"].__dict__["pyplot"] = stand_ins["matplotlib.pyplot"]
        sys.modules.update(stand_ins)
        try:
            import mediapipe
        finally:
            for name, stand_in in stand_ins.items():
                if sys.modules.get(name) is stand_in:
                    del sys.modules[name]
        return mediapipe
