"""The analyzer interface: one decode loop feeds every analyzer (PySceneDetect's SceneManager idea).

The frame loop (``frames.py``) decodes a clip once and hands each :class:`FrameSample` to every
analyzer in order. Cheap analyzers use the small luma plane of every frame; an analyzer that needs
colour pixels (pose) sets ``rgb_interval`` and receives ``rgb`` on roughly that cadence only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..models import Finding

__all__ = ["AnalysisResult", "Analyzer", "FrameSample"]


class FrameSample:
    """One decoded frame as analyzers see it, already in display orientation.

    ``index``: position in decode order, from 0. ``time``: presentation time in seconds from the start
    of the clip (strictly increasing). ``luma``: uint8 (h, w) luma at a small fixed working size (long
    side ``frames.WORK_SIDE``). ``width``, ``height``: the displayed size of the full frame.

    :attr:`rgb` is the uint8 (H, W, 3) full-size RGB, only on frames some analyzer asked for
    (:attr:`has_rgb`); else None. For an HDR clip it is tone-mapped to SDR and at most
    ``tonemapped.RGB_SIDE`` (1920) px on the long side. The decode loop hands it over unconverted
    (``make_rgb``) and it is made the first time an analyzer reads it: pose holds most samples of a
    steady person without looking at them, and each 1080p conversion is 6 MB of fresh memory (0.8 ms
    of swscale, 1500 page faults). An analyzer asks :attr:`has_rgb` to know, and reads :attr:`rgb`
    only when it needs the pixels. Read from one thread (the analyzers').
    """

    __slots__ = ("_make_rgb", "_rgb", "height", "index", "luma", "time", "width")

    def __init__(
        self,
        index: int,
        time: float,
        luma: np.ndarray,
        rgb: np.ndarray | None = None,
        width: int = 0,
        height: int = 0,
        *,
        make_rgb: Callable[[], np.ndarray] | None = None,
    ) -> None:
        self.index = index
        self.time = time
        self.luma = luma
        self.width = width
        self.height = height
        self._rgb = rgb
        self._make_rgb = None if rgb is not None else make_rgb

    @property
    def has_rgb(self) -> bool:
        """Whether this sample carries RGB (made or still to make): no conversion happens here."""
        return self._rgb is not None or self._make_rgb is not None

    @property
    def rgb(self) -> np.ndarray | None:
        if self._rgb is None and self._make_rgb is not None:
            self._rgb, self._make_rgb = self._make_rgb(), None
        return self._rgb

    def __repr__(self) -> str:
        return f"FrameSample(index={self.index}, time={self.time:.3f}, has_rgb={self.has_rgb})"


@dataclass(frozen=True)
class AnalysisResult:
    """What one analyzer concluded: metrics for the report and findings for the verdict."""

    name: str
    metrics: Mapping[str, Any] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()


class Analyzer(ABC):
    """Consumes frames from one decode pass and reports at the end."""

    name: str = "analyzer"
    rgb_interval: float | None = None
    """Seconds between frames this analyzer needs in RGB; None when luma is enough."""

    @abstractmethod
    def process(self, sample: FrameSample) -> None:
        """Look at one frame. Called in presentation order."""

    @abstractmethod
    def finish(self) -> AnalysisResult:
        """Return metrics and findings once the clip has been read."""

    def close(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Release what the analyzer holds (a model) when the pass ends without :meth:`finish`
        (the decode failed); ``finish`` releases it otherwise. Must be safe to call twice."""
