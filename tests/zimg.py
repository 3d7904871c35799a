"""FFmpeg's ``zscale`` (the zimg library) as an outside reference for the HDR curves.

preflight's own functions checked against each other (``hdr_from_sdr`` then ``sdr_from_hdr``) pass
with a wrong constant both directions share; zimg is an independent implementation of BT.2100, so
the tests that use it catch that. Debian's ffmpeg is built with zimg and ``.ci/run`` installs it, so
in CI (``CI`` set, as every CI service sets it) a missing ffmpeg or zscale fails the test instead
of skipping it: a reference that silently stops running is no reference.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

import numpy as np
import pytest


@functools.cache
def _zscale_missing() -> str | None:
    """Why FFmpeg's zscale cannot run here, or None when it can."""
    if shutil.which("ffmpeg") is None:
        return "no ffmpeg on PATH"
    filters = subprocess.run(["ffmpeg", "-hide_banner", "-filters"], capture_output=True, text=True).stdout
    if " zscale " not in filters:
        return "this ffmpeg has no zscale (built without zimg)"
    return None


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_zscale() -> None:
    """Skip without FFmpeg's zscale; in CI, fail instead (``.ci/run`` installs Debian's ffmpeg)."""
    missing = _zscale_missing()
    if missing is None:
        return
    if in_ci():
        pytest.fail(f"the HDR reference tests need FFmpeg's zscale in CI: {missing} (apt-get install ffmpeg)")
    pytest.skip(f"needs FFmpeg's zscale: {missing}")


def through_zscale(rgb: np.ndarray, tags: str, chain: str) -> np.ndarray:
    """``rgb`` (h, w, 3) floats through FFmpeg as 32-bit float planar RGB: ``tags`` are the
    ``setparams`` options saying what the input is, ``chain`` the filters after them. Returns what
    comes out, as float64 RGB of the same shape. No codec, no rounding beyond float32."""
    require_zscale()
    height, width = rgb.shape[:2]
    planes = np.stack([rgb[..., 1], rgb[..., 2], rgb[..., 0]]).astype("<f4")  # gbrpf32le: G, B, R planes
    run = subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "gbrpf32le", "-s", f"{width}x{height}", "-i", "pipe:",
         "-vf", f"setparams={tags}:colorspace=gbr,{chain},format=gbrpf32le", "-f", "rawvideo", "pipe:"],
        input=planes.tobytes(), capture_output=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr.decode(errors="replace")
    g, b, r = np.frombuffer(run.stdout, "<f4").reshape(3, height, width)
    return np.stack([r, g, b], axis=-1).astype(np.float64)
