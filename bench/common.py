"""Shared bits of the benchmarks: media made once into bench/out/, the ffmpeg tools, timing."""

from __future__ import annotations

import functools
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def need_ffmpeg() -> None:
    """ffmpeg/ffprobe are the yardsticks; install Debian's if they are missing (root only)."""
    if shutil.which("ffprobe") and shutil.which("ffmpeg"):
        return
    print("ffmpeg/ffprobe not found: installing Debian's ffmpeg (apt-get)...", file=sys.stderr)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "ffmpeg"], check=True, stdout=subprocess.DEVNULL)


def compile_package() -> None:
    """Byte-compile the package, as ``pip install`` does: a process timed here then starts the way an
    installed preflight starts. Without it, a machine that sets PYTHONDONTWRITEBYTECODE (this one does)
    compiles every imported module from source in every timed process, about 0.1 s each."""
    import compileall

    import preflight

    compileall.compile_dir(Path(preflight.__file__).parent, quiet=1)


def preflight_exe() -> str:
    """The ``preflight`` console script pip installed beside this interpreter (a venv's bin/). Not
    whatever ``preflight`` is first on PATH: on this machine that is pyenv's shim, a bash script that
    looks up the Python version before it starts the real one, 80 ms of CPU per process that is not
    preflight's (0.23 s against 0.15 s for ``preflight --version``, 20 pairs)."""
    beside = Path(sys.executable).with_name("preflight")
    found = str(beside) if beside.exists() else shutil.which("preflight")
    return found or sys.exit("install the package first: pip install -e .")


def median_time(fn: Callable[[], object], repeat: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def wall(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def clip_1080p(seconds: float = 30.0, name: str | None = None, container: str = "mp4") -> Path:
    """A 1080p H.264 clip with AAC sound, made once and reused."""
    from preflight.samples import make_clip

    OUT.mkdir(exist_ok=True)
    path = OUT / (name or f"clip_{seconds:g}s_1080p.{container}")
    if not path.exists():
        print(f"making {path.name} ...", file=sys.stderr)
        make_clip(path.with_suffix(".part" + path.suffix), duration=seconds, width=1920, height=1080, fps=30,
                  audio=True, container=container)  # fmt: skip
        path.with_suffix(".part" + path.suffix).rename(path)
    return path


# --- phone-like clips ----------------------------------------------------------------------------
# What people bring: phone bitrates, film grain (so the encoder cannot cheat), a person in frame,
# slow zoom and a little hand-held drift. Described by PHONE_CLIPS; made once into bench/out/.

PHONE_CLIPS = {
    "1080p-h264": dict(width=1920, height=1080, seconds=30, codec="libx264", pix_fmt="yuv420p", mbps=16,
                       bframes=3, rotation=0,
                       about="30 s 1920x1080 30 fps H.264 High 8-bit, 16 Mb/s, B-frames (non-reference "
                             "frames), AAC"),
    "1080p-h264-noB": dict(width=1920, height=1080, seconds=30, codec="libx264", pix_fmt="yuv420p", mbps=16,
                           bframes=0, rotation=0,
                           about="30 s 1920x1080 30 fps H.264 High 8-bit, 16 Mb/s, no B-frames (every frame "
                                 "a reference, as many Android phones write), AAC"),
    "4k-hevc10": dict(width=3840, height=2160, seconds=10, codec="libx265", pix_fmt="yuv420p10le", mbps=40,
                      bframes=4, rotation=90,
                      about="10 s 3840x2160 30 fps HEVC Main10, 40 Mb/s, HLG-tagged, portrait (90 degree "
                            "display matrix) as an iPhone writes it, AAC"),
    "4k-hevc10-30s": dict(width=3840, height=2160, seconds=30, codec="libx265", pix_fmt="yuv420p10le", mbps=40,
                          bframes=4, rotation=90,
                          about="30 s 3840x2160 30 fps HEVC Main10, 40 Mb/s, HLG-tagged, portrait, AAC"),
    "1080p-h264-moving": dict(width=1920, height=1080, seconds=30, codec="libx264", pix_fmt="yuv420p", mbps=16,
                              bframes=3, rotation=0, motion="sway",
                              about="the 1080p-h264 clip with the person moving as a dancer's body does: "
                                    "swaying a quarter of the frame side to side every 4 s, bobbing, "
                                    "stepping closer and back"),
    "1080p-h264-shaky": dict(width=1920, height=1080, seconds=30, codec="libx264", pix_fmt="yuv420p", mbps=16,
                             bframes=3, rotation=0, motion="shake",
                             about="the 1080p-h264 clip filmed by a shaking hand: random per-frame offsets with a "
                                   "sigma of 1.25% of the long side on each axis on top of the slow drift (the shake "
                                   "gate measures about 1.7%; issue 20's hand-held clip measured 1.77%)"),
    "1080p-h264-45s": dict(width=1920, height=1080, seconds=45, codec="libx264", pix_fmt="yuv420p", mbps=16,
                           bframes=3, rotation=0,
                           about="the 1080p-h264 clip 45 s long: too long for any provider (the copy path's trim)"),
    "1080p-h264-small": dict(width=1920, height=1080, seconds=30, codec="libx264", pix_fmt="yuv420p", mbps=16,
                             bframes=3, rotation=0, motion="small",
                             about="the 1080p-h264 clip with the person small (about a quarter of the height, "
                                   "cut out of her photo before a brick wall) and swaying a little: what --reframe "
                                   "enlarges"),
    "1080p-h264-small-walk": dict(width=1920, height=1080, seconds=30, codec="libx264", pix_fmt="yuv420p", mbps=16,
                                  bframes=3, rotation=0, motion="walk",
                                  about="the small person walking to and fro across 70% of the frame's width (a "
                                        "16 s round trip, at most 260 px a second): what --reframe follow follows"),
    "1080p-h264-pan": dict(width=1920, height=1080, seconds=30, codec="libx264", pix_fmt="yuv420p", mbps=16,
                           bframes=3, rotation=0, motion="pan",
                           about="the 1080p-h264 clip filmed by a camera panning to and fro over the person and "
                                 "the wall behind her (a 15 s sweep of 1.2 frame widths): she is in frame about "
                                 "two thirds of the time, and her box moves on every pose sample"),
    "720p-h264": dict(width=1280, height=720, seconds=8, codec="libx264", pix_fmt="yuv420p", mbps=6,
                      bframes=3, rotation=0, about="8 s 1280x720 30 fps H.264, 6 Mb/s, AAC"),
}


def phone_clip(kind: str) -> Path:
    """The phone-like clip ``kind`` (a key of PHONE_CLIPS), made once into bench/out/."""
    spec = PHONE_CLIPS[kind]
    OUT.mkdir(exist_ok=True)
    path = OUT / f"phone_{kind}.mp4"
    if not path.exists():
        print(f"making {path.name}: {spec['about']} ...", file=sys.stderr)
        partial = path.with_suffix(".part.mp4")
        _encode_phone_clip(partial, spec)
        partial.rename(path)
    return path


def _encode_phone_clip(path: Path, spec: dict) -> None:  # type: ignore[type-arg]
    from fractions import Fraction

    import av
    import numpy as np

    w, h, fps = spec["width"], spec["height"], 30
    frames = fps * spec["seconds"]
    rng = np.random.default_rng(7)
    photo = _person_photo()
    grains = [rng.normal(0, 5, (h, w)).astype(np.int16) for _ in range(5)]
    with av.open(str(path), "w") as out:
        video = out.add_stream(spec["codec"], rate=Fraction(fps))
        video.width, video.height, video.pix_fmt = w, h, spec["pix_fmt"]
        video.bit_rate = spec["mbps"] * 1_000_000
        if spec["codec"] == "libx265":
            video.options = {"preset": "ultrafast", "x265-params": f"bframes={spec['bframes']}:log-level=error"}
            video.codec_context.color_primaries = 9  # BT.2020
            video.codec_context.color_trc = 18  # ARIB STD-B67 (HLG)
            video.codec_context.colorspace = 9  # BT.2020 NCL
        else:
            video.options = {"preset": "veryfast", "bf": str(spec["bframes"])}
        if spec["rotation"]:
            video.set_display_rotation(-spec["rotation"] % 360)
        audio = out.add_stream("aac", rate=48000)
        audio.layout = "stereo"
        samples = 1024
        t_audio = 0
        for i in range(frames):
            rgb = _phone_frame(photo, w, h, i, grains[i % len(grains)], spec["rotation"], spec.get("motion"))
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if spec["pix_fmt"] != "yuv420p":
                frame = frame.reformat(format=spec["pix_fmt"])
            frame.pts = i
            out.mux(video.encode(frame))
            while t_audio < (i + 1) * 48000 // fps:
                tone = 0.1 * np.sin(2 * np.pi * 440 * (t_audio + np.arange(samples)) / 48000)
                a = av.AudioFrame.from_ndarray(np.tile(tone.astype(np.float32), (2, 1)), format="fltp",
                                               layout="stereo")  # fmt: skip
                a.sample_rate, a.pts = 48000, t_audio
                out.mux(audio.encode(a))
                t_audio += samples
        out.mux(video.encode(None))
        out.mux(audio.encode(None))


def _person_photo():  # type: ignore[no-untyped-def]
    from skimage import data

    return data.astronaut()


def _phone_frame(photo, w: int, h: int, i: int, grain, rotation: int, motion: str | None = None):  # type: ignore[no-untyped-def]
    """The photo of a person, upright as displayed, zooming slowly with a small hand-held drift, plus
    grain; stored turned back by ``rotation`` (a phone stores portrait frames sideways). ``sway``:
    the person moves as a dancer's body does (side to side by a quarter of the frame every 4 s,
    bobbing twice a second, stepping 10% closer and back every 3 s). ``shake``: the whole picture jumps
    by random offsets every frame (a hand that cannot hold the phone still; the same offsets every run).
    ``small``: the person at about a quarter of the height, swaying a little; ``walk``: the same walking to
    and fro across 70% of the width (both cut out before the wall, as ``sway``). ``pan``: the camera sweeps
    to and fro over the person and the wall alike (0.6 frame widths each side of her, a 15 s period)."""
    import cv2
    import numpy as np

    dw, dh = (h, w) if rotation in (90, 270) else (w, h)
    ph, pw = photo.shape[:2]
    scale = min(dw / pw, dh / ph) * (0.95 + 0.0005 * i)
    dx, dy = 6 * np.sin(i / 11), 4 * np.cos(i / 7)
    drift = dx, dy  # the hand-held camera's: it moves the wall too
    if motion == "shake":
        jump = np.random.default_rng(1000 + i).normal(0.0, 0.0125 * max(dw, dh), 2)
        dx, dy = dx + jump[0], dy + jump[1]
    if motion == "sway":
        t = i / 30
        scale *= 0.8 * (1 + 0.1 * np.sin(2 * np.pi * t / 3))
        dx += 0.25 * dw * np.sin(2 * np.pi * t / 4)
        dy += 0.04 * dh * np.sin(2 * np.pi * t * 2)
    if motion == "pan":  # the camera moves: the person and the wall behind her slide together
        pan = 0.6 * dw * np.sin(2 * np.pi * (i / 30) / 15)
        dx += pan
        drift = (drift[0] + pan, drift[1])
    if motion in ("small", "walk"):  # a quarter of the height; swaying in place, or walking to and fro
        t = i / 30
        scale *= 0.3
        dy += 0.12 * dh
        dx += 0.35 * dw * np.sin(2 * np.pi * t / 16) if motion == "walk" else 0.03 * dw * np.sin(2 * np.pi * t / 4)
    m = np.float32([[scale, 0, dw / 2 - pw / 2 * scale + dx], [0, scale, dh / 2 - ph / 2 * scale + dy]])
    frame = cv2.warpAffine(photo, m, (dw, dh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if motion in ("sway", "small", "walk", "pan"):
        # The moving person, cut out of the photo, before a wall that only the hand-held drift moves
        # (moving the whole photo moved its background too, which the shake gate rightly read as a
        # camera moving; mirrored edges would bring in half-people, a plain backdrop would leave the
        # shake gate nothing still to lock on).
        inside = cv2.warpAffine(_person_matte(), m, (dw, dh)) > 127
        frame = np.where(inside[..., None], frame, _wall(dw, dh, *drift))
    if rotation:
        frame = np.ascontiguousarray(np.rot90(frame, k=rotation // 90))  # counter-clockwise, undone on display
    return np.clip(frame.astype(np.int16) + grain[..., None], 0, 255).astype(np.uint8)


@functools.cache
def _person_matte():  # type: ignore[no-untyped-def]
    """255 where the person of ``_person_photo()`` is: MediaPipe's pose segmentation, made once."""
    import numpy as np

    from preflight.analyze.mediapipe_import import load_mediapipe
    from preflight.analyze.posemodel import ensure_pose_model

    mp = load_mediapipe()
    from mediapipe.tasks.python import BaseOptions, vision

    photo = _person_photo()
    options = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(ensure_pose_model().path)),
        running_mode=vision.RunningMode.IMAGE,
        output_segmentation_masks=True,
    )
    with vision.PoseLandmarker.create_from_options(options) as landmarker:
        found = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(photo)))
    return np.where(found.segmentation_masks[0].numpy_view()[..., 0] > 0.5, 255, 0).astype(np.uint8)


def _wall(w: int, h: int, dx: float, dy: float):  # type: ignore[no-untyped-def]
    """A brick wall (scikit-image's photo, tiled) filling w x h, shifted by the camera's drift."""
    import cv2
    import numpy as np
    from skimage import data

    brick = data.brick()
    bh, bw = brick.shape
    tiles = np.tile(brick, (h // bh + 2, w // bw + 2))
    # The tiled wall repeats every brick photo, so a shift by dx is a shift by dx modulo its width: taken
    # as a shift left and up by less than one photo, it never reaches past the tiles' edge. A mirrored
    # border (the old way) moved against the camera: a pan of a frame's width read as camera shake.
    m = np.float32([[1, 0, dx % bw - bw], [0, 1, dy % bh - bh]])
    wall = cv2.warpAffine(tiles, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return np.dstack([wall] * 3)


# --- one process, measured ------------------------------------------------------------------------


def measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """Run ``cmd`` to completion: (wall seconds, CPU seconds user+system, peak RSS in MB) of that process
    and the children it waited for. ``os.wait4`` gives this child's own rusage, so each run has its own
    peak (``getrusage(RUSAGE_CHILDREN)`` would give the largest of every child so far)."""
    import os
    import tempfile

    with tempfile.TemporaryFile() as err:  # a file, not a pipe: a chatty child cannot block on a full pipe
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        if code not in (0, 1):  # 1: preflight's "an output still fails" is still a measured run
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} exited {code}: {err.read().decode(errors='replace')[-2000:]}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def loadavg() -> str:
    import os

    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (5 min {five:.1f}) on {os.cpu_count()} cores"
