"""An image's shape or size cannot multiply the analysis's work or memory (issue 19, part 4).

A 165-byte 1x20000 PNG ran pose on ~40,000 one-pixel tiles (past 120 s); a 13000x13000 PNG peaked at
3.0 GB. Now a picture more than 10 times longer than wide is refused before any pixel is decoded
(``analysis.too_thin``), the tile search has a fixed bound, and images are analysed at a reduced size.
The limits still read the displayed size from the probe.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from preflight import api
from preflight.analyze import IMAGE_DECODE_SIDE, _to_rgb, load_image_rgb
from preflight.analyze.pose_landmarks import PoseEstimator
from preflight.analyze.pose_looks import MAX_TILES, look_on_tiles, square_tiles, tile_sides
from preflight.samples import make_clip


def write_png(path: Path, width: int, height: int, channels: int = 3) -> Path:
    """A PNG of identical rows written row by row: any size, without holding its pixels in memory."""
    color = {1: 0, 3: 2, 4: 6}[channels]

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes((i * 7) % 256 for i in range(width * channels))
    packer = zlib.compressobj(1)
    with path.open("wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0)))
        for _ in range(height):
            data = packer.compress(row)
            if data:
                out.write(chunk(b"IDAT", data))
        out.write(chunk(b"IDAT", packer.flush()) + chunk(b"IEND", b""))
    return path


@pytest.fixture
def thin_png(tmp_path: Path) -> Path:
    """The tester's file: 1x20000, grey, a few hundred bytes."""
    path = tmp_path / "thin.png"
    Image.new("RGB", (1, 20000), (120, 120, 120)).save(path)
    return path


@pytest.fixture
def no_pose_or_decode(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record (and refuse) any pose call or pixel decode: a refused picture must need neither."""
    calls: list[str] = []

    def refuse(what: str):  # type: ignore[no-untyped-def]
        def called(*args: object, **kwargs: object) -> None:
            calls.append(what)
            raise AssertionError(f"{what} ran")

        return called

    monkeypatch.setattr(PoseEstimator, "landmarks", refuse("pose"))
    monkeypatch.setattr("preflight.analyze.load_image_rgb", refuse("decode"))
    monkeypatch.setattr("preflight.analyze.decode_pass", refuse("decode"))
    return calls


def test_a_thin_image_is_refused_before_any_decode_or_pose(thin_png: Path, no_pose_or_decode: list[str]) -> None:
    (item,) = api.check([thin_png]).items
    codes = {f.code: f for f in item.findings}
    assert {"resolution.too_small", "aspect.out_of_range", "analysis.too_thin"} <= set(codes)
    thin = codes["analysis.too_thin"]
    assert (thin.measured, thin.limit, item.verdict) == (20000.0, 10.0, "fail")
    assert thin.message.startswith("the image is 1x20000: too thin to hold a person (its long side is 20000 times")
    assert (item.media.width, item.media.height) == (1, 20000)  # the limits read the real size
    assert no_pose_or_decode == [] and item.pose_checked is None


def test_a_thin_clip_too(tmp_path: Path, no_pose_or_decode: list[str]) -> None:
    clip = make_clip(tmp_path / "strip.mp4", duration=1, width=16, height=720)
    (item,) = api.check([clip]).items
    assert "analysis.too_thin" in [f.code for f in item.findings] and no_pose_or_decode == []


def test_the_limit_is_well_outside_every_provider_aspect(tmp_path: Path, no_pose_or_decode: list[str]) -> None:
    """10:1 itself is still analysed (a phone panorama); 10.01:1 is not."""
    wide = tmp_path / "wide.png"
    Image.new("RGB", (1000, 100)).save(wide)
    findings = api.check_one(wide, api.resolve_profile(None), content=False).findings
    assert "analysis.too_thin" not in [f.code for f in findings]
    (item,) = api.check([write_png(tmp_path / "wider.png", 1001, 100)]).items
    assert "analysis.too_thin" in [f.code for f in item.findings]


def test_the_thin_png_in_a_real_process(thin_png: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "preflight", "check", "--json", str(thin_png)], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 1 and done.stderr == ""
    (item,) = json.loads(done.stdout)["items"]
    assert "analysis.too_thin" in [f["code"] for f in item["findings"]] and item["analysis"] == {}


@pytest.mark.parametrize(("width", "height"), [(1, 20000), (20000, 1), (1, 2000), (160, 1600), (4000, 400),
                                               (161, 16000), (320, 3200), (1920, 1080), (1080, 1920), (2500, 1000),
                                               (6000, 6000), (4095, 409)])  # fmt: skip
def test_the_tile_search_is_bounded_whatever_the_shape(width: int, height: int) -> None:
    sides = tile_sides(width, height)
    assert all(len(square_tiles(width, height, side)) <= MAX_TILES for side in sides)
    assert sum(len(square_tiles(width, height, side)) for side in sides) <= 2 * MAX_TILES


def test_provider_shapes_keep_every_tile() -> None:
    assert [len(square_tiles(1920, 1080, s)) for s in tile_sides(1920, 1080)] == [3, 21]  # 16:9
    assert [len(square_tiles(1000, 2500, s)) for s in tile_sides(1000, 2500)] == [4, 27]  # 1:2.5, Kling's tallest


class CountingEstimator:
    """Stands in for the pose model: finds nobody, counts the calls."""

    mode = "image"

    def __init__(self) -> None:
        self.calls = 0

    def landmarks(self, rgb: np.ndarray, time_s: float | None = None) -> list[np.ndarray]:
        self.calls += 1
        return []


@pytest.mark.parametrize(("width", "height"), [(400, 4000), (4000, 400), (1920, 1080), (160, 1600)])
def test_the_pose_calls_of_a_search_are_bounded(width: int, height: int) -> None:
    estimator = CountingEstimator()
    assert look_on_tiles(estimator, np.zeros((height, width, 3), np.uint8)) == []  # type: ignore[arg-type]
    assert estimator.calls <= 2 * MAX_TILES


# --- the reduced decode -----------------------------------------------------------------------------


def _pattern(width: int, height: int, channels: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    planes = [(x * 3 + y) % 256, (x + y * 5) % 256, (x * y) % 256, (x * 11) % 256][:channels]
    return np.stack(planes, axis=-1).astype(np.uint8)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P", "I;16"])
def test_a_large_image_is_analysed_reduced_as_a_whole_reduce_would(mode: str, tmp_path: Path) -> None:
    """Strip by strip gives the very pixels of converting the whole picture and reducing it (alpha over
    white, 16-bit greys by the whole picture's brightest value), at the size the JPEG draft keeps."""
    width, height = 2 * IMAGE_DECODE_SIDE + 300, 700  # factor 2, a last strip shorter than the others
    if mode == "I;16":
        image = Image.fromarray(_pattern(width, height, 1)[..., 0].astype(np.uint16) * 200)
    elif mode == "P":
        image = Image.fromarray(_pattern(width, height, 3)).convert("P")
        image.info["transparency"] = 3
    else:
        image = Image.fromarray(_pattern(width, height, {"RGB": 3, "RGBA": 4, "L": 1}[mode]).squeeze())
    path = tmp_path / f"big-{mode.replace(';', '')}.png"
    image.save(path)
    with Image.open(path) as reopened:
        expected = np.asarray(_to_rgb(reopened).reduce(2))
    got = load_image_rgb(path)
    assert got.shape == (height // 2, width // 2, 3)
    assert np.array_equal(got, expected)


def test_exif_orientation_is_applied_to_the_reduced_copy(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view, as a phone held upright writes
    path = tmp_path / "turned.png"
    Image.fromarray(_pattern(2 * IMAGE_DECODE_SIDE, 1000, 3)).save(path, exif=exif.tobytes())
    got = load_image_rgb(path)
    assert got.shape == (IMAGE_DECODE_SIDE, 500, 3)
    with Image.open(path) as reopened:
        assert np.array_equal(got, np.asarray(reopened.convert("RGB").reduce(2).transpose(Image.Transpose.ROTATE_270)))


PEAK_SCRIPT = """
import sys
from preflight.analyze import load_image_rgb
def kb(key):
    return int(open("/proc/self/status").read().split(key + ":")[1].split()[0])
load_image_rgb(sys.argv[2])  # the modules a decode imports, loaded before the measure
before = kb("VmRSS")
load_image_rgb(sys.argv[1])
print(kb("VmHWM") - before)
"""


def _decode_growth_mb(path: Path) -> float:
    small = write_png(path.with_name("small.png"), 64, 64)
    done = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(path), str(small)], capture_output=True,
                          text=True, timeout=120, check=True)  # fmt: skip
    return int(done.stdout) / 1024


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads the peak from /proc")
def test_decoding_a_large_png_costs_the_decode_and_no_copy(tmp_path: Path) -> None:
    """Pillow holds an RGB picture in 4 bytes a pixel: 6144x6144 is 144 MB decoded. The old path added an
    RGB copy and an array of it (2.75x the decode measured); now the decode and the 2048 px copy (1.25x)."""
    side = 3 * IMAGE_DECODE_SIDE
    path = write_png(tmp_path / "big.png", side, side)
    decoded_mb = side * side * 4 / 2**20
    assert _decode_growth_mb(path) < 1.5 * decoded_mb


@pytest.mark.slow
def test_a_13000_px_png_checks_well_under_a_gigabyte(tmp_path: Path) -> None:
    """The tester's 13000x13000 PNG (just under the pixel guard) peaked at 3.0 GB: now 0.77 GB, whole check."""
    path = write_png(tmp_path / "huge.png", 13000, 13000)
    done = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m", "preflight", "check", "--json",
                           str(path)], capture_output=True, text=True, timeout=600)  # fmt: skip
    peak_mb = int(done.stderr.strip().splitlines()[-1]) / 1024
    (item,) = json.loads(done.stdout)["items"]
    assert (item["media"]["width"], item["media"]["height"]) == (13000, 13000)
    assert "analysis.error" not in [f["code"] for f in item["findings"]]
    assert peak_mb < 1000, peak_mb


# --- fix -------------------------------------------------------------------------------------------


def test_fix_refuses_a_thin_image_instead_of_padding_a_line(thin_png: Path, tmp_path: Path) -> None:
    """Padding 1x20000 to 1:2.5 made 160 MP of blurred line (and asked for an 8000x160,000,000 resize)."""
    from preflight.fix import fix

    (result,) = fix([thin_png], tmp_path / "out").results
    assert result.output is None and result.reason.startswith("analysis.too_thin: the image is 1x20000")


def test_the_blurred_fill_scales_only_what_the_canvas_shows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--no-content`` pads a 2x2000 strip to 800x2000: the cover was the whole strip scaled 400 times
    (800x800,000 pixels, 2.4 GB); now no resize makes more pixels than the canvas has."""
    from preflight.fix import fix

    strip = tmp_path / "strip.png"
    Image.new("RGB", (2, 2000), (90, 120, 150)).save(strip)
    sizes: list[tuple[int, int]] = []
    resize = Image.Image.resize

    def recording(self: Image.Image, size: tuple[int, int], *args: object, **kwargs: object) -> Image.Image:
        sizes.append(tuple(size))
        return resize(self, size, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Image.Image, "resize", recording)
    (result,) = fix([strip], tmp_path / "out", content=False).results
    assert result.ok
    with Image.open(result.output) as output:
        assert output.size == (800, 2000)
    assert sizes and max(w * h for w, h in sizes) <= 800 * 2000
