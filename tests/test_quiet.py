"""stderr belongs to the user: no native log line, no traceback, whatever runs underneath.

These run the real ``preflight`` entry point in a fresh process, the way a user or a pipeline does:
MediaPipe's and LiteRT's C++ loggers write straight to file descriptor 2, which only a subprocess
shows as it really is.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from preflight.nativelog import NATIVE_LINE
from preflight.samples import make_clip, make_image, photo_frames, sample_photo

SUSPECT = re.compile(r"Traceback|\.cc:\d+\]|DestroyAccelerator|NORM_RECT|TensorFlow Lite|absl::|InitGoogle| @ 0x")


def run_preflight(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "PREFLIGHT_DEBUG"} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "preflight", *args], capture_output=True, text=True, timeout=timeout, env=environ
    )


@pytest.fixture(scope="module")
def person_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("quiet")
    return make_clip(d / "person.mp4", duration=4, width=360, height=640, fps=25, audio=True,
                     frames=photo_frames(sample_photo(), frames=100))  # fmt: skip


def native_or_traceback(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if SUSPECT.search(line)]


@pytest.mark.model
def test_check_of_a_person_clip_leaves_stderr_clean(person_clip: Path, tmp_path: Path) -> None:
    photo = make_image(tmp_path / "photo.jpg", width=512, height=640)
    done = run_preflight("check", str(person_clip), str(photo))
    assert done.returncode in (0, 1), done.stderr
    assert "person.mp4" in done.stdout
    assert native_or_traceback(done.stderr) == []


@pytest.mark.model
def test_fix_and_batch_workers_leave_stderr_clean(person_clip: Path, tmp_path: Path) -> None:
    fixed = run_preflight("fix", str(person_clip), "-o", str(tmp_path / "ready"), "--start", "0.5")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert native_or_traceback(fixed.stderr) == []
    other = make_clip(tmp_path / "second.mp4", duration=3, width=360, height=640,
                      frames=photo_frames(sample_photo(), frames=75, zoom=(1.1, 1.0)))  # fmt: skip
    batch = run_preflight("batch", str(person_clip), str(other), "--check-only", "--jobs", "2", "-q",
                          "--state", str(tmp_path / "state.jsonl"))  # fmt: skip
    assert batch.returncode == 0, batch.stdout + batch.stderr
    assert native_or_traceback(batch.stderr) == []


@pytest.mark.model
def test_dask_workers_leave_stderr_clean(person_clip: Path, tmp_path: Path) -> None:
    """Two worker processes writing into one inherited pipe interleaved MediaPipe's line pieces
    ("INFO: WARNING: [model_load.cc:402] ..."), which leaked before each worker filtered its own lines
    and the pattern learnt to find a C++ source reference anywhere in a line (either one alone passes
    this most of the time: the interleaving depends on timing)."""
    pytest.importorskip("dask.distributed")
    other = make_clip(tmp_path / "second.mp4", duration=3, width=360, height=640,
                      frames=photo_frames(sample_photo(), frames=75, zoom=(1.1, 1.0)))  # fmt: skip
    args = ["batch", str(person_clip), str(other), "--check-only", "--executor", "dask", "-j", "2", "-q", "--jsonl",
            "--state", str(tmp_path / "state.jsonl")]  # fmt: skip
    environ = {k: v for k, v in os.environ.items() if k != "PREFLIGHT_DEBUG"}
    batch = subprocess.Popen([sys.executable, "-m", "preflight", *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=environ)  # fmt: skip
    stdout, stderr = batch.communicate(timeout=300)
    assert batch.returncode == 0, stdout + stderr
    assert native_or_traceback(stderr) == []
    ran_on = [row["ran_on"] for row in map(json.loads, stdout.splitlines()) if row["event"] == "file"]
    assert len(ran_on) == 2 and all(r["pid"] != batch.pid and r["worker"] for r in ran_on)  # on Dask's workers


@pytest.mark.model
def test_debug_lets_native_lines_through(person_clip: Path) -> None:
    done = run_preflight("--debug", "check", str(person_clip))
    assert done.returncode == 0
    assert any(NATIVE_LINE.match(line.encode()) for line in done.stderr.splitlines())


def test_filter_drops_native_lines_and_passes_the_rest() -> None:
    code = r"""
import os, sys
from preflight.nativelog import filter_native_logs
assert filter_native_logs()
os.write(2, b"INFO: [accelerator_registry.cc:43] DestroyAccelerator: ptr=0x1, name=CpuAccelerator\n")
os.write(2, b"W0000 00:00:1733184400.123456   12345 landmark_projection_calculator.cc:81] Using NORM_RECT\n")
os.write(2, b"[h264 @ 0x55d0aa12] error while decoding MB 3 4\n")
os.write(2, b"INFO: WARNING: [model_load.cc:402] Sparsity tensors may not yet be fully supported.\n")
os.write(2, b"[environment.cc:36] Creating LiteRT environment with options\n")
os.write(2, b"a C library's own message\n")
print("python's stderr", file=sys.stderr)
os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\nlast words without a newline")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in os.environ.items() if k != "PREFLIGHT_DEBUG"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(done.stderr.splitlines()) == sorted(
        ["a C library's own message", "python's stderr", "last words without a newline"]
    )


def test_probe_of_real_media_imports_no_heavy_module(person_clip: Path, tmp_path: Path) -> None:
    """``preflight probe`` on a real clip and photo, in a fresh process: still no numpy, cv2, mediapipe,
    httpx or rich (the start-up a pipeline pays per call)."""
    photo = make_image(tmp_path / "photo.jpg", width=512, height=640)
    code = (
        "import sys; from preflight.cli import main;"
        f"codes = [main(['probe', {str(person_clip)!r}, {str(photo)!r}]),"
        f" main(['probe', '--json', {str(person_clip)!r}])];"
        "heavy = [m for m in ('cv2', 'mediapipe', 'httpx', 'numpy', 'rich') if m in sys.modules];"
        "print(codes, heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "640" in done.stdout  # the probe really ran on the clip
    assert done.stdout.strip().splitlines()[-1] == "[0, 0] []"


def test_check_imports_mediapipe_without_plotting_or_sound(person_clip: Path) -> None:
    """A content check in a fresh process runs pose without importing matplotlib or sounddevice
    (0.45 s of MediaPipe's import) or the task families beside vision (27 ms); MediaPipe's drawing
    helpers still reach the real pyplot, and its audio tasks are there when asked for."""
    code = (
        "import sys; from preflight.api import check;"
        f"report = check([{str(person_clip)!r}], 'kling-v2.6');"
        "item = report.items[0];"
        "unused = ('matplotlib', 'matplotlib.pyplot', 'sounddevice', 'mediapipe.tasks.python.audio',"
        " 'mediapipe.tasks.python.text', 'mediapipe.tasks.python.decision', 'mediapipe.tasks.python.retrieval');"
        "print(item.pose_checked, item.analysis['pose']['samples'] > 0, [m for m in unused if m in sys.modules]);"
        "from mediapipe.tasks.python.vision import drawing_utils;"
        "print(callable(drawing_utils.plt.figure), 'matplotlib.pyplot' in sys.modules);"
        "import mediapipe as mp;"
        "print(mp.tasks.audio.AudioClassifier.__name__, 'mediapipe.tasks.python.audio' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-3:] == ["True True []", "True True", "AudioClassifier True"]
