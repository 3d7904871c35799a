"""The C allocator of a command-line process that decodes pictures: keep freed memory for reuse.

A content check frees and allocates pictures all the way through a clip: a 1080p RGB frame is 6 MB,
a decoded one 3 MB, and the pose models' buffers are tens of megabytes. glibc's malloc gives memory
above its thresholds back to the system at once (freed mmaps, a trimmed heap, one arena per thread),
so the next picture of the same size is fresh memory again, and every page of it a page fault: the
panning phone bench clip took 110,000 of them, against ffmpeg's 18,000 for its decode, and the check
spent twice ffmpeg's system time (0.40-0.46 s against 0.21-0.23 s).

Here a one-shot command keeps what it freed: allocations up to 32 MiB (a 4K RGB frame is 24 MiB)
come from the heap, a heap keeps up to 512 MiB of free memory rather than trimming it, and the
threads share as many arenas as there are processors. The panning clip: 87,000 faults, 0.35 s of
system time, 0.986x the CPU and 0.990x the wall time of the same check with glibc's defaults, peak
memory +10 MB (10 alternated pairs; docs/benchmarks.md). A long-lived ``serve`` keeps glibc's
defaults (memory it no longer needs goes back to the system), as does a program that imports
preflight as a library, and so does anyone who set glibc's own variables (``MALLOC_ARENA_MAX``,
``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``, ``GLIBC_TUNABLES``): their choice wins. Other C
libraries (musl, macOS) are left alone.
"""

from __future__ import annotations

import os
import platform

__all__ = ["DECODING_COMMANDS", "keep_freed_memory"]

DECODING_COMMANDS = frozenset({"check", "fix", "prepare", "batch", "demo", "submit"})
"""The commands that decode pictures and end when their work does."""

_M_TRIM_THRESHOLD = -1  # mallopt's parameter numbers (glibc's malloc.h)
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

MMAP_THRESHOLD = 32 << 20
"""Allocations up to this come from the heap (glibc's largest allowed value on 64-bit systems)."""
TRIM_THRESHOLD = 512 << 20
"""Free memory a heap keeps rather than giving it back."""

_USER_SETTINGS = ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")


def keep_freed_memory(command: str | None) -> bool:
    """Tune glibc's malloc for ``command`` (see the module doc); True when it was tuned.

    Call it before the process starts threads: arenas already made stay as they are.
    """
    if command not in DECODING_COMMANDS or any(name in os.environ for name in _USER_SETTINGS):
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    settings = (
        (_M_MMAP_THRESHOLD, MMAP_THRESHOLD),
        (_M_TRIM_THRESHOLD, TRIM_THRESHOLD),
        (_M_ARENA_MAX, max(2, os.cpu_count() or 2)),
    )
    return all([mallopt(param, value) == 1 for param, value in settings])
