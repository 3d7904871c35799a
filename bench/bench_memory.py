"""Peak memory of check and fix on a phone's 4K clip, 10 s and 30 s (issue 12): it must not grow with length.

    python bench/bench_memory.py [--clips 4k-hevc10,4k-hevc10-30s] [--what check,fix,fix-keep,encode] [--runs N]

Each measurement is one `preflight` process run to completion; its peak RSS (and wall, CPU) comes from
``os.wait4`` (bench/common.py ``measured``), the same figure `/usr/bin/time -f %M` prints.

- ``check``: `preflight check CLIP --json` (probe, limits, the content pass: pose, cuts, shake, exposure,
  blur; one decode of every frame).
- ``fix``: `preflight fix CLIP -o DIR` as a user runs it: that check, the re-encode (default
  `--max-side 1920`: a 4K portrait clip becomes 1080x1920) and the re-check of the output.
- ``fix-keep``: the same with `--max-side 0` (the output stays 2160x3840).
- ``encode``: `preflight fix --no-content` with the default max side: the re-encode alone (plus a probe).

The clips are bench/common.py's PHONE_CLIPS (made once into bench/out/). The machine's load changes
wall and CPU figures, hardly the peaks; the load average is printed with each row.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from common import PHONE_CLIPS, loadavg, measured, phone_clip

WHAT = {
    "check": ("check", "--json"),
    "fix": ("fix", "-o", "{out}"),
    "fix-keep": ("fix", "-o", "{out}", "--max-side", "0"),
    "encode": ("fix", "-o", "{out}", "--no-content"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", default="4k-hevc10,4k-hevc10-30s", help="PHONE_CLIPS kinds, shortest first")
    parser.add_argument("--what", default="check,fix,fix-keep,encode", help=f"any of {','.join(WHAT)}")
    parser.add_argument("--runs", type=int, default=1, help="runs of each (median; the peak hardly varies)")
    args = parser.parse_args()
    kinds = [k for k in args.clips.split(",") if k]
    whats = [w for w in args.what.split(",") if w]
    bad = [k for k in kinds if k not in PHONE_CLIPS] + [w for w in whats if w not in WHAT]
    if bad:
        parser.error(f"unknown: {', '.join(bad)}")
    print(loadavg())
    for kind in kinds:
        print(f"clip {kind}: {PHONE_CLIPS[kind]['about']}")
    peaks: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        for what in whats:
            for kind in kinds:
                clip = phone_clip(kind)
                runs = []
                for k in range(args.runs):
                    out = Path(tmp) / f"{what}-{kind}-{k}"
                    cmd = [sys.executable, "-m", "preflight", WHAT[what][0], str(clip),
                           *(a.format(out=out) for a in WHAT[what][1:])]  # fmt: skip
                    runs.append(measured(cmd))
                wall, cpu, peak = (statistics.median(r[i] for r in runs) for i in range(3))
                peaks[what, kind] = peak
                print(f"{what:<9} {kind:<15} peak RSS {peak:6.0f} MB  wall {wall:7.1f} s  cpu {cpu:7.1f} s  "
                      f"({loadavg()})   `preflight {' '.join(WHAT[what]).format(out='DIR')}`")  # fmt: skip
            if len(kinds) > 1:
                first, last = peaks[what, kinds[0]], peaks[what, kinds[-1]]
                print(f"{what:<9} {kinds[-1]} / {kinds[0]}: peak x{last / first:.2f} "
                      f"({PHONE_CLIPS[kinds[-1]]['seconds']} s vs {PHONE_CLIPS[kinds[0]]['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
