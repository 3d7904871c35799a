"""The argument list of a ``preflight submit`` against a fake server, shared by the submit tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

NEEDS_VIDEO_URL = ("kling", "novita", "vercel")
"""Providers with no upload API: the clip goes as a URL the fake serves."""


def submit_args(provider: str, server: Any, media: tuple[Path, Path], *extra: str) -> list[str]:
    image, clip = media
    args = ["submit", "--image", str(image), "--video", str(clip), "--provider", provider,
            "--base-url", server.url, "--yes", *extra]  # fmt: skip
    if provider in NEEDS_VIDEO_URL:
        server.files["hosted-clip.mp4"] = clip.read_bytes()
        args += ["--video-url", f"{server.url}/files/hosted-clip.mp4"]
    return args
