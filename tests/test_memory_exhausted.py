"""Running out of memory on one input is that input's ``memory.exhausted``, in one line, and the others are
still checked, fixed or batched (issue 19, part 6): a decode out of memory was ``analysis.error``, a
MemoryError while encoding stopped ``fix`` for every file."""

from __future__ import annotations

import errno
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from test_bounded_work import write_png

import preflight.analyze
from preflight import api
from preflight.batch import run_batch
from preflight.errors import MemoryExhausted, map_av_errors, out_of_memory
from preflight.fix import fix
from preflight.samples import make_image

BIG_SIDE = 12000
"""The PNG that runs out: 12000x12000 is 549 MB decoded (Pillow keeps RGB in 4 bytes a pixel)."""
MARGIN_MB = 200
"""The address space allowed above what checking the small files alone took: far less than the decode."""


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A small photo, a PNG too big for the memory the test allows, another small photo (checked in that order)."""
    folder = tmp_path_factory.mktemp("memory")
    first = make_image(folder / "a-small.jpg", width=640, height=800)
    big = write_png(folder / "b-big.png", BIG_SIDE, BIG_SIDE)
    last = make_image(folder / "c-small.jpg", width=640, height=800)
    return [first, big, last]  # type: ignore[list-item]


@pytest.fixture
def big_decode_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """Decoding ``b-big.png`` raises MemoryError, as Pillow does when the allocation fails."""
    real = preflight.analyze.load_image_rgb

    def load(path: object, *args: object, **kwargs: object) -> object:
        if Path(str(path)).name == "b-big.png":
            raise MemoryError
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(preflight.analyze, "load_image_rgb", load)


def _codes(item: object) -> list[str]:
    return [f.code for f in item.findings]  # type: ignore[attr-defined]


def test_check_and_batch_go_on_past_a_file_out_of_memory(three: list[Path], big_decode_fails: None,
                                                          tmp_path: Path) -> None:  # fmt: skip
    report = api.check(three)
    first, big, last = report.items
    assert _codes(big) == ["memory.exhausted"] and big.verdict == "fail"
    assert big.findings[0].message == f"{three[1]}: ran out of memory (MemoryError); try fewer --jobs, a smaller " \
                                      "input, or more memory"  # fmt: skip
    assert "memory.exhausted" not in _codes(first) + _codes(last) and first.analysis and last.analysis
    batch = run_batch([str(p) for p in three], jobs=1, state_path=tmp_path / "state.jsonl")
    assert [_codes(r.item).count("memory.exhausted") for r in sorted(batch.results, key=lambda r: r.path)] == [0, 1, 0]


def test_fix_goes_on_past_a_file_out_of_memory(three: list[Path], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A MemoryError while rendering one output ended the whole run (exit 1, nothing more fixed)."""
    import preflight.fix.image as image

    real = image.render_image

    def render(plan: object, src: Path, *args: object) -> object:
        if src.name == "a-small.jpg":
            raise MemoryError
        return real(plan, src, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(image, "render_image", render)
    monkeypatch.setattr("preflight.fix.plan.SIZE_MARGIN", 0.0)  # every JPEG is re-encoded, so rendered
    report = fix([three[0], three[2]], tmp_path / "out", content=False)
    first, last = report.results
    assert first.reason.startswith("memory.exhausted: ") and first.output is None
    assert last.output is not None


@pytest.mark.parametrize(
    ("exc", "meant"),
    [(MemoryError(), True), (OSError(errno.ENOMEM, "Cannot allocate memory"), True),
     (RuntimeError("std::bad_alloc"), True), (RuntimeError("Failed to allocate tensors"), True),
     (ImportError("libopenblas.so: failed to map segment from shared object"), True),
     (OSError(errno.ENOENT, "No such file or directory", "out of memory.jpg"), False),
     (ValueError("bad value"), False), (MemoryExhausted("x: ran out"), True)],
)  # fmt: skip
def test_what_counts_as_out_of_memory(exc: BaseException, meant: bool) -> None:
    assert out_of_memory(exc) is meant
    wrapped = RuntimeError("decode failed")
    wrapped.__cause__ = exc
    assert out_of_memory(wrapped) is meant


def test_ffmpeg_out_of_memory_is_not_a_broken_file() -> None:
    import av

    with pytest.raises(MemoryExhausted) as raised, map_av_errors("clip.mp4"):
        raise av.error.MemoryError(errno.ENOMEM, "Cannot allocate memory")
    assert raised.value.code == "memory.exhausted" and raised.value.message.startswith("clip.mp4: ran out of memory")


# --- under a lowered RLIMIT_AS, in real processes -------------------------------------------------

PEAK = """
import atexit, os, sys
def peak():
    with open(os.environ["PEAK_FILE"], "w") as out:
        out.write(open("/proc/self/status").read().split("VmPeak:")[1].split()[0])
atexit.register(peak)
sys.argv[0] = "preflight"
from preflight.cli import run
run()
"""


def _preflight(args: list[str], limit: int | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    def lowered() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    environ = {k: v for k, v in os.environ.items() if k != "PREFLIGHT_DEBUG"}
    return subprocess.run([sys.executable, "-c", PEAK, *args], capture_output=True, text=True, timeout=300,
                          env={**environ, **env}, preexec_fn=lowered)  # fmt: skip


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads the address space from /proc")
@pytest.mark.model
def test_a_decode_out_of_memory_under_rlimit_as(three: list[Path], tmp_path: Path) -> None:
    """The limit: what checking the two small files took, plus 200 MB; the big PNG's decode needs 549 MB."""
    first, big, last = (str(p) for p in three)
    peak_file = tmp_path / "peak"
    baseline = _preflight(["check", "--json", first, last], PEAK_FILE=str(peak_file))
    assert baseline.returncode in (0, 1), baseline.stderr
    limit = (int(peak_file.read_text()) + MARGIN_MB * 1024) * 1024

    for args in (["check", "--json", first, big, last],
                 ["batch", "--check-only", "--jobs", "1", "--json", "-q", first, big, last]):  # fmt: skip
        done = _preflight(args, limit, PEAK_FILE=str(peak_file))
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr and "analysis.error" not in done.stdout
        items = {Path(i["path"]).name: [f["code"] for f in i["findings"]] for i in json.loads(done.stdout)["items"]}
        assert items["b-big.png"] == ["memory.exhausted"], items
        assert "memory.exhausted" not in items["a-small.jpg"] + items["c-small.jpg"], items


def test_a_native_out_of_memory_outside_any_file_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """MediaPipe's std::bad_alloc (a RuntimeError) was internal.error, exit 3."""
    from preflight.cli import main

    def raising(*args: object, **kwargs: object) -> None:
        raise RuntimeError("std::bad_alloc")

    monkeypatch.setattr(api, "check", raising)
    assert main(["check", "x.jpg"]) == 1
    assert capsys.readouterr().err == ("preflight: memory.exhausted: ran out of memory (RuntimeError: std::bad_alloc); "
                                       "try fewer --jobs, a smaller input, or more memory\n")  # fmt: skip


def test_ffmpeg_out_of_memory_while_decoding_is_not_damage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An ENOMEM from a packet's decode was counted as a damaged packet (video.corrupt_frames)."""
    import av

    from preflight.samples import make_clip

    clip = make_clip(tmp_path / "clip.mp4", duration=3.5, width=640, height=360)

    def enomem(self: object) -> None:
        raise av.error.MemoryError(errno.ENOMEM, "Cannot allocate memory")

    monkeypatch.setattr(av.Packet, "decode", enomem)
    (item,) = api.check([clip]).items
    assert [f.code for f in item.findings if f.severity.value == "error"] == ["memory.exhausted"]
