"""The analyzer interface: one decode loop feeds every analyzer (PySceneDetect's SceneManager idea).

The frame loop (``frames.py``) decodes a clip once and hands each :class:`FrameSample` to every
analyzer in order. Cheap analyzers use the small luma plane of every frame; an analyzer that needs
colour pixels (pose) sets ``rgb_interval`` and receives ``rgb`` on roughly that cadence only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..models import Finding

__all__ = ["AnalysisResult", "Analyzer", "FrameSample"]


@dataclass(frozen=True)
class FrameSample:
    """One decoded frame as analyzers see it, already in display orientation."""

    index: int
    """Position in decode order, from 0."""
    time: float
    """Presentation time in seconds from the start of the clip (strictly increasing)."""
    luma: np.ndarray
    """uint8 (h, w) luma at a small fixed working size (long side ``frames.WORK_SIDE``)."""
    rgb: np.ndarray | None = None
    """uint8 (H, W, 3) full-size RGB, only on frames some analyzer asked for; else None. For an HDR
    clip it is tone-mapped to SDR and at most ``tonemapped.RGB_SIDE`` (1920) px on the long side."""
    width: int = 0
    """Displayed width of the full frame."""
    height: int = 0


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
