"""What a content fix costs (issue 20, part 7): ``fix --stabilize`` and ``fix --reframe`` (fixed and follow)
against a plain re-encode of the same clip.

    python bench/bench_content_fix.py [--runs N] [--seconds S] [--cases stabilize,reframe,follow]

Each case has its clip, a ``common.PHONE_CLIPS`` kind: 30 s 1920x1080 30 fps H.264 at 16 Mb/s with
B-frames and AAC, the photo of a person with grain:

- ``stabilize``: ``1080p-h264-shaky``, filmed by a shaking hand (random per-frame offsets, sigma 1.25% of
  the long side per axis: the shake gate measures about 1.7%);
- ``reframe``: ``1080p-h264-small``, the person at about a quarter of the height (cut out before a brick
  wall), swaying a little: ``--reframe`` (fixed) enlarges her to half the height;
- ``follow``: ``1080p-h264-small-walk``, the same person walking to and fro across 70% of the width:
  ``--reframe follow``.

``--seconds`` makes shorter ones (a smoke run: the figures are the 30 s clips').

Each case runs ``fix_one`` as ``preflight fix`` does (the check with its one decode, the plan, the one
re-encode, the re-check of the output) with the case's options; the reference is the same with
``FixOptions(reencode=True)`` and nothing else: the same decode, encoder, preset, CRF and sound, the
frames passed through. Runs alternate (a busy neighbour slows both alike); the medians of wall and CPU
time (this process: libx264's and the decoder's threads included) are compared, and so are the
re-encodes alone (``execute_clip`` with each plan, from the same check). Target: at most 1.3x.

A case is a name, its clip's kind and the :class:`preflight.fix.FixOptions` fields it sets (:data:`CASES`);
a content fix added later is one more entry.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import PHONE_CLIPS, loadavg, phone_clip

TARGET = 1.3
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "stabilize": ("1080p-h264-shaky", {"stabilize": True}),
    "reframe": ("1080p-h264-small", {"reframe": "fixed"}),
    "follow": ("1080p-h264-small-walk", {"reframe": "follow"}),
}
"""Case name -> (its clip's PHONE_CLIPS kind, the FixOptions fields it sets); the reference sets
``reencode=True`` alone, on the same clip."""


def clip_of(kind: str, seconds: int | None) -> Path:
    if seconds is not None and seconds != PHONE_CLIPS[kind]["seconds"]:
        short = f"{kind}-{seconds:g}s"
        PHONE_CLIPS[short] = {**PHONE_CLIPS[kind], "seconds": seconds,
                              "about": f"{PHONE_CLIPS[kind]['about']}, {seconds:g} s"}  # fmt: skip
        kind = short
    return phone_clip(kind)


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds of this process, result)."""
    c0, w0 = cpu(), time.perf_counter()
    result = fn()
    return time.perf_counter() - w0, cpu() - c0, result


def fix_with(clip: Path, outdir: Path, options: Any) -> Any:
    from preflight.api import resolve_profile
    from preflight.fix import fix_one
    from preflight.fix.outputs import OutputNamer

    return fix_one(clip, OutputNamer(outdir, [clip]), resolve_profile(None), "video", options)


def encode_only(clip: Path, outdir: Path, cases: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Each case's plan (and the reference's), made from one check of ``clip``: {name: (plan, path)}."""
    from preflight.api import check_one, resolve_profile
    from preflight.fix import FixOptions
    from preflight.fix.plan import hints_from_analysis, plan_fix

    profile = resolve_profile(None)
    outdir.mkdir(parents=True, exist_ok=True)
    before = check_one(clip, profile, "video", every_frame=True, every_sample=False)
    hints = hints_from_analysis(before.analysis)
    plans = {}
    for name, fields in {"reference": {"reencode": True}, **cases}.items():
        plan = plan_fix(before.media, before.findings, profile, "video", FixOptions(**fields), hints)
        assert plan.encodes, (name, plan.actions, plan.notes, plan.findings)
        plans[name] = (plan, outdir / f"{name}.mp4")
    return plans


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def bench_case(name: str, fields: dict[str, Any], clip: Path, work: Path, runs: int) -> bool:
    from preflight.fix import FixOptions
    from preflight.fix.video import execute_clip

    ours, plain = FixOptions(**fields), FixOptions(reencode=True)
    times: dict[str, list[tuple[float, float]]] = {"ours": [], "plain": [], "ours_enc": [], "plain_enc": []}
    plans = encode_only(clip, work / "plans", {name: fields})  # first: it loads the pose model for every run
    result = None
    for run in range(runs):
        for label, options in (("ours", ours), ("plain", plain)):
            wall, spent, done = timed(lambda o=options, k=f"{label}{run}": fix_with(clip, work / k, o))
            times[label].append((wall, spent))
            assert done.output is not None, done.reason
            if label == "ours":
                result = done
    for _ in range(runs):
        for label, key in (("ours_enc", name), ("plain_enc", "reference")):
            plan, dst = plans[key]
            wall, spent, _ = timed(lambda p=plan, d=dst: execute_clip(p, clip, d))
            times[label].append((wall, spent))

    def med(label: str, which: int) -> float:
        return median([t[which] for t in times[label]])

    ratio_wall, ratio_cpu = med("ours", 0) / med("plain", 0), med("ours", 1) / med("plain", 1)
    enc_wall, enc_cpu = med("ours_enc", 0) / med("plain_enc", 0), med("ours_enc", 1) / med("plain_enc", 1)
    ok = ratio_wall <= TARGET
    print(f"\n{name}: fix_one, medians of {runs} alternated run(s)")
    print(f"  ours  {med('ours', 0):7.2f} s wall {med('ours', 1):7.2f} s CPU   (check, plan, re-encode, re-check)")
    print(f"  plain {med('plain', 0):7.2f} s wall {med('plain', 1):7.2f} s CPU   (the same with reencode=True only)")
    print(f"  ratio {ratio_wall:5.2f}x wall {ratio_cpu:5.2f}x CPU  (target <= {TARGET:g}x) {'OK' if ok else 'MISSED'}")
    print(f"  re-encode alone: ours {med('ours_enc', 0):.2f} s / {med('ours_enc', 1):.2f} s CPU, plain "
          f"{med('plain_enc', 0):.2f} s / {med('plain_enc', 1):.2f} s CPU: "
          f"{enc_wall:.2f}x wall, {enc_cpu:.2f}x CPU")  # fmt: skip
    if result is not None:
        print(f"  actions: {', '.join(result.actions)}")
        print(f"  output: {outcome(result)}")
    return ok


def outcome(result: Any) -> str:
    """The re-check in a line: verdict, jitter, the subject's height share (pose), findings, frames kept."""
    after = result.after
    if after is None:
        return "no re-check"
    shake = after.analysis.get("camera_shake") or {}
    rows = [r for r in (after.analysis.get("pose") or {}).get("track") or () if r[2] >= 0]
    share = f"{statistics.median(r[5] - r[3] for r in rows):.0%}" if rows else "?"
    found = ", ".join(f.code for f in after.findings) or "none"
    kept = result.kept
    return (f"{after.verdict}; {after.media.width}x{after.media.height}; jitter {shake.get('jitter_rms_pct')}%; "
            f"subject {share} of the height; findings: {found}; frames {kept.video_frames_written}/{kept.video_frames}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=None, help="a shorter clip (a smoke run)")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated: {', '.join(CASES)}")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-content-fix-") as tmp:
        for name in args.cases.split(","):
            kind, fields = CASES[name]
            clip = clip_of(kind, args.seconds)
            print(f"\n{clip.name}: {clip.stat().st_size / 1e6:.0f} MB; {loadavg()}")
            ok = bench_case(name, fields, clip, Path(tmp) / name, args.runs) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
