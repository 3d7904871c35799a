"""The C allocator of a content check's process: keep freed memory for reuse.

A content check frees and allocates pictures all the way through a clip: a 1080p RGB frame is 6 MB,
a decoded one 3 MB, and the pose models' buffers are tens of megabytes. glibc's malloc gives memory
above its thresholds back to the system at once (freed mmaps, a trimmed heap, one arena per thread),
so the next picture of the same size is fresh memory again, and every page of it a page fault: the
panning phone bench clip took 110,000 of them, against ffmpeg's 18,000 for its decode, and the check
spent twice ffmpeg's system time (0.40-0.46 s against 0.21-0.23 s).

Here ``check`` (and ``demo``, a check of shipped media) keeps what it freed: allocations up to 32 MiB
(a 4K RGB frame is 24 MiB) come from the heap, a heap keeps up to 512 MiB of free memory rather than
trimming it, and the threads share as many arenas as there are processors. The panning clip: 87,000
faults, 0.35 s of system time, 0.986x and 0.997x the CPU of the same check with glibc's defaults
(10 and 12 alternated pairs), peak memory +10 MB (docs/benchmarks.md).

Left with glibc's defaults: ``fix`` and ``prepare`` (their encoder's buffers, kept the same way, raised
the peak of a 4K fix by 80-110 MB, 773-805 MB against 856-885, for no time measured), a long-lived
``serve`` and ``batch`` (memory they no longer need goes back to the system), ``probe`` (nothing to
reuse), a program that imports preflight as a library, and anyone who set glibc's own variables
(``MALLOC_ARENA_MAX``, ``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``, ``GLIBC_TUNABLES``): their
choice wins. Other C libraries (musl, macOS) are left alone.
"""

from __future__ import annotations

import os
import platform

__all__ = ["TUNED_COMMANDS", "keep_freed_memory"]

TUNED_COMMANDS = frozenset({"check", "demo"})
"""The commands whose process is one content check (or a few) and ends with it."""

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
    if command not in TUNED_COMMANDS or any(name in os.environ for name in _USER_SETTINGS):
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
