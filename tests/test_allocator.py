"""A content check's process keeps freed memory for reuse (glibc's malloc tuned), only there."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from preflight.cli import allocator

glibc_only = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="tunes glibc's malloc only"
)

# Whether an 8 MiB allocation is a fresh mmap: glibc marks such a chunk IS_MMAPPED (bit 1 of the size
# word just before the pointer). Under glibc's defaults it is (the threshold starts at 128 KiB); tuned,
# it comes from the heap, where freed pictures are reused without a page fault.
_MMAPPED_8MIB = """
import ctypes
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = (ctypes.c_size_t,)
libc.free.argtypes = (ctypes.c_void_p,)
def mmapped():
    p = libc.malloc(8 << 20)
    size_word = ctypes.c_size_t.from_address(p - ctypes.sizeof(ctypes.c_size_t)).value
    libc.free(p)
    return bool(size_word & 2)
"""


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in allocator._USER_SETTINGS}


def _run(code: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(
        [sys.executable, "-c", _MMAPPED_8MIB + code],
        env=_clean_env() if env is None else env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


@glibc_only
def test_a_decoding_command_keeps_8mib_pictures_on_the_heap() -> None:
    code = (
        "from preflight.cli.allocator import keep_freed_memory\n"
        "before = mmapped()\n"
        "tuned = keep_freed_memory('check')\n"
        "print(before, tuned, mmapped())\n"
    )
    assert _run(code) == "True True False"


@glibc_only
@pytest.mark.parametrize("command", ["serve", "batch", "fix", "prepare", "probe", None])
def test_other_commands_and_a_library_keep_glibcs_defaults(command: str | None) -> None:
    code = (
        "from preflight.cli.allocator import keep_freed_memory\n"
        f"print(keep_freed_memory({command!r}), mmapped())\n"
    )
    assert _run(code) == "False True"


@glibc_only
@pytest.mark.parametrize("setting", ["MALLOC_ARENA_MAX=4", "MALLOC_TRIM_THRESHOLD_=131072", "GLIBC_TUNABLES="])
def test_the_users_own_malloc_settings_win(setting: str) -> None:
    name, value = setting.split("=", 1)
    code = "from preflight.cli.allocator import keep_freed_memory\nprint(keep_freed_memory('check'))\n"
    assert _run(code, env={**_clean_env(), name: value}) == "False"


def test_other_c_libraries_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in allocator._USER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(platform, "libc_ver", lambda: ("", ""))
    assert allocator.keep_freed_memory("check") is False
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    assert allocator.keep_freed_memory("demo") is False


@glibc_only
@pytest.mark.parametrize(("argv", "tuned"), [(["check", "--help"], "False"), (["serve", "--help"], "True")])
def test_the_script_tunes_by_the_command_it_runs(argv: list[str], tuned: str) -> None:
    """run() itself, in a fresh process: the 8 MiB probe runs at exit, after the command."""
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print(mmapped()))\n"
        f"sys.argv = ['preflight', *{argv!r}]\n"
        "from preflight.cli import run\n"
        "run()\n"
    )
    assert _run(code).splitlines()[-1] == tuned
