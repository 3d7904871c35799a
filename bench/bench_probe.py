"""Probe + rules vs ffprobe (issues 2 and 12).

1. One 30 s 1080p MP4: `preflight.check_one(content=False)` in process vs one
   `ffprobe -show_format -show_streams` process. Target: >= 5x faster.
2. 200 files: one `preflight check --no-content --json` process (start-up included) vs 200 ffprobe
   processes. Target: >= 10x. Three folders: 200 hard links to the phone-like 720p H.264 clip,
   200 hard links to the 10 s 4K HEVC Main10 portrait clip (hard links save 10 GB of disk; both
   tools read the same bytes either way, from the page cache after the warm-up), and the mixed
   folder of issue 2 (MP4, rotated MOV, MKV, JPEG). Runs alternate ours/theirs; medians printed.
3. The 4K portrait clip must read rotation 90 and a displayed size of 2160x3840.

    python bench/bench_probe.py [--runs N]
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from common import (
    OUT,
    PHONE_CLIPS,
    clip_1080p,
    compile_package,
    median_time,
    need_ffmpeg,
    phone_clip,
    preflight_exe,
    wall,
)

from preflight import check_one, load_profile
from preflight.samples import make_clip, make_image


def ffprobe(path: object) -> None:
    subprocess.run(["ffprobe", "-v", "error", "-show_format", "-show_streams", str(path)],
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip


def single_file() -> float:
    clip = clip_1080p(30.0)
    profile = load_profile("kling-v2.6")
    ours = median_time(lambda: check_one(clip, profile, content=False), repeat=30)
    theirs = median_time(lambda: ffprobe(clip), repeat=30)
    print(f"single 30 s 1080p MP4: preflight probe+rules {ours * 1000:.1f} ms in process, "
          f"ffprobe process {theirs * 1000:.1f} ms -> {theirs / ours:.1f}x faster (target >= 5x)")  # fmt: skip
    return theirs / ours


def mixed_folder() -> list:  # type: ignore[type-arg]
    folder = OUT / "batch200"
    if not folder.exists() or len(list(folder.iterdir())) != 200:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        seeds = [
            make_clip(OUT / "seed_a.mp4", duration=4, width=1280, height=720, audio=True),
            make_clip(OUT / "seed_b.mov", duration=12, width=720, height=1280, container="mov", rotation=90),
            make_clip(OUT / "seed_c.mkv", duration=3, width=640, height=360, container="matroska"),
            make_image(OUT / "seed_d.jpg", width=1024, height=1280),
        ]
        for i in range(200):
            seed = seeds[i % len(seeds)]
            shutil.copy(seed, folder / f"{i:03d}{seed.suffix}")
    return sorted(folder.iterdir())


def linked_folder(kind: str) -> list:  # type: ignore[type-arg]
    """200 hard links to the phone-like clip ``kind`` (one file's blocks, 200 names)."""
    return _links(phone_clip(kind), OUT / f"links200_{kind}")


def _links(clip: Path, folder: Path) -> list:  # type: ignore[type-arg]
    folder.mkdir(exist_ok=True)
    for i in range(200):
        link = folder / f"{i:03d}{clip.suffix}"
        if not link.exists() or not os.path.samefile(link, clip):
            link.unlink(missing_ok=True)
            os.link(clip, link)
    return sorted(folder.iterdir())


def matroska_links(kind: str) -> list:  # type: ignore[type-arg]
    """200 hard links to the phone-like clip ``kind`` remuxed into Matroska with its display matrix
    (FFmpeg writes it as the track's Projection): the no-decode rotation path for MKV/WebM."""
    import av

    mkv = OUT / f"phone_{kind}.mkv"
    if not mkv.exists():
        source_path = phone_clip(kind)
        with av.open(str(source_path)) as source:
            turn = next(source.decode(video=0)).rotation  # counter-clockwise, as FFmpeg's matrices
        partial = mkv.with_suffix(".part.mkv")
        with av.open(str(source_path)) as source, av.open(str(partial), "w") as out:
            streams = {}
            for stream in (*source.streams.video[:1], *source.streams.audio[:1]):
                streams[stream.index] = out.add_stream_from_template(stream)
                if stream.type == "video":
                    streams[stream.index].set_display_rotation(turn)
            for packet in source.demux(*[source.streams[i] for i in streams]):
                if packet.dts is not None:
                    packet.stream = streams[packet.stream.index]
                    out.mux(packet)
        partial.rename(mkv)
    from preflight import probe

    mp4, ours = probe(phone_clip(kind)), probe(mkv)
    assert (ours.width, ours.height, ours.video.rotation) == (mp4.width, mp4.height, mp4.video.rotation), ours
    return _links(mkv, OUT / f"links200_{kind}_mkv")


def batch_of_200(label: str, files: list, runs: int) -> float:  # type: ignore[type-arg]
    folder = files[0].parent
    exe = preflight_exe()

    def ours() -> None:
        subprocess.run([exe, "check", "--no-content", "--json", str(folder)], stdout=subprocess.DEVNULL, check=False)

    def theirs() -> None:
        for f in files:
            ffprobe(f)

    ours(), theirs()  # warm the page cache for both
    t_ours, t_theirs = [], []
    for _ in range(runs):  # alternated, so a load change hits both sides
        t_ours.append(wall(ours))
        t_theirs.append(wall(theirs))
    mo, mt = statistics.median(t_ours), statistics.median(t_theirs)
    print(f"200 files, {label}: one `preflight check --no-content --json` {mo:.2f} s "
          f"(runs {', '.join(f'{t:.2f}' for t in t_ours)}), 200 ffprobe processes {mt:.2f} s "
          f"(runs {', '.join(f'{t:.2f}' for t in t_theirs)}) -> {mt / mo:.1f}x faster (target >= 10x)")  # fmt: skip
    return mt / mo


def portrait_4k_reads_upright() -> None:
    from preflight import probe

    info = probe(phone_clip("4k-hevc10"))
    assert info.video is not None
    ok = info.video.rotation == 90 and (info.width, info.height) == (2160, 3840)
    print(f"4k-hevc10 portrait: rotation {info.video.rotation}, displayed {info.width}x{info.height} "
          f"(coded {info.video.coded_width}x{info.video.coded_height}) -> {'OK' if ok else 'WRONG'}")  # fmt: skip
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
    need_ffmpeg()
    compile_package()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start "
          "(figures on a loaded machine are indicative only)")
    single_file()
    portrait_4k_reads_upright()
    for kind in ("720p-h264", "4k-hevc10"):
        print(f"clip {kind}: {PHONE_CLIPS[kind]['about']}")
        batch_of_200(f"200 hard links to phone_{kind}.mp4", linked_folder(kind), runs)
    print(f"clip 4k-hevc10 in Matroska: {PHONE_CLIPS['4k-hevc10']['about']}, remuxed to MKV with its matrix")
    batch_of_200("200 hard links to phone_4k-hevc10.mkv", matroska_links("4k-hevc10"), runs)
    print("clip mixed: 50 each of a 4 s 720p H.264 MP4 with AAC, a 12 s 720x1280 MOV with a 90 degree "
          "matrix, a 3 s 640x360 MKV and a 1024x1280 JPEG (copies)")
    batch_of_200("mixed folder", mixed_folder(), runs)
