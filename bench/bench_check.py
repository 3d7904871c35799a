"""Benchmark: full content check of a 30 s 1080p H.264 clip against the decode floor, and our cut
detection against PySceneDetect's ContentDetector.

    python bench/bench_check.py [--workdir DIR] [--runs N] [--no-scenedetect] [--no-pose]
    python bench/bench_check.py --phone [--runs N] [--no-every-frame]
        [--kinds 1080p-h264,1080p-h264-pan,1080p-h264-noB,1080p-h264-moving,4k-hevc10]

``--phone``: the issue-12 figures. For each phone-like clip (``common.PHONE_CLIPS``), whole processes
side by side, alternating, N runs each: ``ffmpeg -i clip -f null -`` (the decode floor), ``preflight
check clip --json`` (probe, limits, every content gate; non-reference pictures left undecoded) and
``preflight check --every-frame``; medians of wall and CPU (children's rusage) and the largest peak
RSS, with ratios to ffmpeg.

1. Makes (once, cached in the workdir) a 30 s 1920x1080 30 fps H.264 clip:
   photos of a person (astronaut) then of a cup (coffee) with a slow zoom and film grain
   (about 43 Mb/s: the grain makes it decode harder than a typical phone clip of 15-20 Mb/s),
   libx264 ``veryfast`` CRF 20, one hard cut at exactly 15.0 s (frame 450).
2. Times ``ffmpeg -i clip -f null -`` (the decode floor: ``apt-get install -y ffmpeg`` if missing),
   then the full analysis (pose when the model is there, cuts, shake, exposure, blur; one decode),
   then ``preflight.api.check`` (probe + limits + analysis), best of N runs each.
3. Runs PySceneDetect's ContentDetector from its own venv (it needs opencv-python, which must never
   sit beside mediapipe's opencv-contrib in the project's environment), and our cut analyzer alone,
   and prints the cut times both found.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

WIDTH, HEIGHT, FPS, SECONDS, CUT_FRAME = 1920, 1080, 30, 30, 450
TARGET_RATIO = 1.3


def make_bench_clip(path: Path) -> Path:
    """The benchmark clip (see the module docstring); written once, reused after."""
    import av
    import cv2
    from skimage import data

    if path.exists():
        return path
    photos = [data.astronaut(), data.coffee()]
    grain = [np.random.default_rng(k).normal(0, 6, (HEIGHT, WIDTH)).astype(np.int16) for k in range(6)]
    partial = path.with_suffix(".partial.mp4")
    with av.open(str(partial), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(FPS))
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "20"}
        for i in range(FPS * SECONDS):
            photo = photos[0 if i < CUT_FRAME else 1]
            ph, pw = photo.shape[:2]
            s = max(WIDTH / pw, HEIGHT / ph) * (1.05 + 0.0004 * i)
            m = np.float32([[s, 0, WIDTH / 2 - pw / 2 * s], [0, s, HEIGHT / 2 - ph / 2 * s]])
            frame = cv2.warpAffine(photo, m, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR)
            noisy = frame.astype(np.int16) + grain[i % len(grain)][..., None]
            rgb = np.clip(noisy, 0, 255).astype(np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode(None))
    os.replace(partial, path)
    return path


def _cpu(children: bool) -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(fn, children: bool = False) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    """(wall seconds, CPU seconds, result) of one call. CPU time is what to compare on a busy
    machine: other processes stretch wall time, not the CPU our own work needs."""
    cpu0, wall0 = _cpu(children), time.perf_counter()
    result = fn()
    return time.perf_counter() - wall0, _cpu(children) - cpu0, result


def decode_floor_once(clip: Path):  # type: ignore[no-untyped-def]
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        sys.exit("ffmpeg not found: apt-get install -y ffmpeg")
    cmd = [ffmpeg, "-v", "error", "-nostdin", "-i", str(clip), "-f", "null", "-"]
    return lambda: subprocess.run(cmd, check=True)


SCENEDETECT_SCRIPT = """
import json, sys, time
from scenedetect import ContentDetector, detect
started = time.perf_counter()
scenes = detect(sys.argv[1], ContentDetector())
elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "cuts": [s[0].get_seconds() for s in scenes[1:]]}))
"""


def scenedetect_cuts(clip: Path, workdir: Path) -> dict:
    venv = workdir / "scenedetect-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        print("creating a separate venv for PySceneDetect (scenedetect + opencv-python-headless)...")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "scenedetect", "opencv-python-headless"],
            check=True,
        )
    out = subprocess.run(
        [str(python), "-c", SCENEDETECT_SCRIPT, str(clip)], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _child_run(cmd: list[str]) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MB) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def phone_bench(kinds: list[str], runs: int, every_frame: bool = True) -> None:
    import statistics

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import PHONE_CLIPS, compile_package, need_ffmpeg, phone_clip, preflight_exe

    need_ffmpeg()
    compile_package()
    exe = preflight_exe()
    ffmpeg = shutil.which("ffmpeg")
    print(f"cores: {os.cpu_count()}; {runs} alternating runs each; medians (peak RSS: the largest)")
    for kind in kinds:
        clip = phone_clip(kind)
        print(f"\n{kind}: {PHONE_CLIPS[kind]['about']} ({clip.stat().st_size / 1e6:.0f} MB)")
        cmds = {
            "ffmpeg -i clip -f null - (decode floor)": [ffmpeg, "-v", "error", "-nostdin", "-i", str(clip),
                                                        "-f", "null", "-"],
            "preflight check --json": [exe, "check", str(clip), "--json"],
            "preflight check --every-frame --json": [exe, "check", str(clip), "--every-frame", "--json"],
        }  # fmt: skip
        if not every_frame:
            del cmds["preflight check --every-frame --json"]
        _child_run([exe, "check", "--help"])  # warm the page cache and imports
        got: dict[str, list[tuple[float, float, float]]] = {k: [] for k in cmds}
        for _ in range(runs):
            for label, cmd in cmds.items():
                got[label].append(_child_run(cmd))
        floor_w = statistics.median(w for w, _, _ in got[next(iter(cmds))])
        floor_c = statistics.median(c for _, c, _ in got[next(iter(cmds))])
        print(f"  {'':42s} {'wall s':>7s} {'x ffmpeg':>8s} {'CPU s':>7s} {'x ffmpeg':>8s} {'peak MB':>8s}")
        for label, rows in got.items():
            w = statistics.median(r[0] for r in rows)
            c = statistics.median(r[1] for r in rows)
            m = max(r[2] for r in rows)
            print(f"  {label:42s} {w:7.2f} {w / floor_w:8.2f} {c:7.2f} {c / floor_c:8.2f} {m:8.0f}")


def main() -> None:
    if "--phone" in sys.argv:
        parser = argparse.ArgumentParser(description="issue 12: full check on phone-like clips")
        parser.add_argument("--phone", action="store_true")
        parser.add_argument("--runs", type=int, default=3)
        parser.add_argument("--kinds", default="1080p-h264,1080p-h264-pan,1080p-h264-noB,1080p-h264-moving,4k-hevc10")
        parser.add_argument("--no-every-frame", action="store_true", help="skip the --every-frame rows")
        args = parser.parse_args()
        phone_bench(args.kinds.split(","), args.runs, every_frame=not args.no_every_frame)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "preflight-bench")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-scenedetect", action="store_true")
    parser.add_argument("--no-pose", action="store_true")
    args = parser.parse_args()

    from preflight import api
    from preflight.analyze import analyze_clip
    from preflight.analyze.frames import run_analyzers
    from preflight.analyze.motion import SceneCutAnalyzer
    from preflight.media.probe import probe

    args.workdir.mkdir(parents=True, exist_ok=True)
    clip = args.workdir / "bench_30s_1080p.mp4"
    if not clip.exists():
        print(f"making {clip} (30 s 1080p H.264, once)...")
    make_bench_clip(clip)
    info = probe(clip)
    print(f"clip: {clip} {info.width}x{info.height} {info.duration:.1f} s "
          f"{info.bitrate / 1e6 if info.bitrate else 0:.1f} Mb/s, cut at {CUT_FRAME / FPS:.2f} s")
    print(f"cores: {os.cpu_count()}")

    pose = not args.no_pose
    floor = decode_floor_once(clip)
    runs: dict[str, list[tuple[float, float]]] = {"floor": [], "analysis": [], "check": [], "cuts": []}
    analysis: dict = {}
    findings: tuple = ()
    ours: list[float] = []
    # Interleaved, so a neighbour's load hits every measurement alike; best of N each.
    for _ in range(args.runs):
        wall, cpu, _ignored = timed(floor, children=True)
        runs["floor"].append((wall, cpu))
        wall, cpu, (analysis, findings) = timed(lambda: analyze_clip(clip, info, None, pose=pose))
        runs["analysis"].append((wall, cpu))
        wall, cpu, _ignored = timed(lambda: api.check([clip], content=pose))
        runs["check"].append((wall, cpu))
        wall, cpu, results = timed(lambda: run_analyzers(str(clip), [SceneCutAnalyzer()]))
        runs["cuts"].append((wall, cpu))
        ours = results[0].metrics["times"]
    best = {k: (min(w for w, _ in v), min(c for _, c in v)) for k, v in runs.items()}
    fw, fc = best["floor"]
    ran = ", ".join(k for k in analysis if k != "decode")
    print(f"{'':40s} {'wall s':>7s} {'x floor':>8s} {'CPU s':>7s} {'x floor':>8s}")
    for key, label in (
        ("floor", "decode floor: ffmpeg -i clip -f null -"),
        ("analysis", f"analyze_clip ({ran})"),
        ("check", "api.check (probe + limits + analysis)"),
        ("cuts", "scene cuts alone (decode + cut analyzer)"),
    ):
        w, c = best[key]
        print(f"{label[:40]:40s} {w:7.2f} {w / fw:8.2f} {c:7.2f} {c / fc:8.2f}")
    cw, cc = best["check"]
    print(f"target: full check <= {TARGET_RATIO}x the decode floor: wall {cw / fw:.2f}x, CPU {cc / fc:.2f}x")
    print(f"findings: {[f.code for f in findings]}")
    if "pose" in analysis:
        print(f"pose samples: {analysis['pose'].get('samples')}")
    print(f"cuts: preflight cut times {ours} (known cut at {CUT_FRAME / FPS:.2f} s)")
    cuts_wall = best["cuts"][0]
    if not args.no_scenedetect:
        theirs = scenedetect_cuts(clip, args.workdir)
        print(f"cuts: PySceneDetect ContentDetector {theirs['seconds']:6.2f} s  "
              f"cut times {[round(t, 3) for t in theirs['cuts']]}  "
              f"(wall: preflight {theirs['seconds'] / cuts_wall:.2f}x as fast)")


if __name__ == "__main__":
    main()
