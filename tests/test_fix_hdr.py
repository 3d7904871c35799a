"""fix on HDR clips: HLG, PQ and BT.2020 SDR made from a known SDR picture come back close to it.

Measure: PSNR of the first frames (RGB, as PyAV decodes them by their tags) against the SDR picture,
and mean HSV saturation over pixels brighter than 32/255 (a dark pixel's hue is noise). Without tone
mapping (the 10-bit frames read as if they were BT.709, what fix did before) the same measure gives
15-26 dB and 51-84% of the saturation, so the thresholds tell the two apart.
"""

from __future__ import annotations

import dataclasses
import itertools
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
from zimg import require_zscale

from preflight import load_profile, probe
from preflight.fix import fix
from preflight.samples import color_card, make_clip, make_hdr_clip

W, H = 640, 360
MIN_PSNR = 28.0
MAX_SATURATION_DRIFT = 0.15


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / mse))


def saturation(rgb: np.ndarray) -> float:
    rgb = rgb.astype(np.float64)
    top, low = rgb.max(axis=-1), rgb.min(axis=-1)
    lit = top > 32
    return float(((top - low) / np.maximum(top, 1e-9))[lit].mean())


def frames_rgb(path: Path, n: int = 3) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        out = []
        for frame in c.decode(video=0):
            out.append(frame.to_ndarray(format="rgb24"))
            if len(out) == n:
                return out
    return out


def measure(path: Path, reference: np.ndarray) -> tuple[float, float]:
    frames = frames_rgb(path)
    return (
        float(np.mean([psnr(f, reference) for f in frames])),
        float(np.mean([saturation(f) for f in frames])) / saturation(reference),
    )


def tags(path: Path) -> tuple[int, int, int, int]:
    with av.open(str(path)) as c:
        ctx = c.streams.video[0].codec_context
        return ctx.color_primaries, ctx.color_trc, ctx.colorspace, ctx.color_range


BT709_TV = (1, 1, 1, 1)


@pytest.fixture(scope="module")
def card() -> np.ndarray:
    return color_card(W, H)


@pytest.mark.parametrize(
    ("transfer", "action"),
    [("HLG", "tone map HLG -> SDR BT.709"), ("PQ", "tone map PQ -> SDR BT.709"),
     ("BT.2020 SDR", "gamut BT.2020 -> BT.709")],
)  # fmt: skip
def test_hdr_clip_made_from_a_picture_comes_back_to_it(
    tmp_path: Path, card: np.ndarray, transfer: str, action: str
) -> None:
    src = make_hdr_clip(tmp_path / "in.mp4", transfer=transfer, duration=3.0, width=W, height=H)
    untouched = measure(src, card)
    # Read as BT.709 (what fix used to ship): measured 19.9 / 15.0 / 25.6 dB and 84 / 51 / 77% saturation.
    assert untouched[0] < 27 and untouched[1] < 0.9
    (r,) = fix([src], tmp_path / "out", content=False).results
    assert action in r.actions and r.ok
    assert r.plan is not None and r.plan.changes_pixels  # new pixels: the output is judged again
    out = Path(r.output)
    assert tags(out) == BT709_TV
    got_psnr, got_sat = measure(out, card)
    # Measured (640x360, x265 CRF 16 in, x264 CRF 18 out): HLG 32.1 dB / 0.99, PQ 31.5 / 0.99,
    # BT.2020 SDR 33.3 / 0.99; the SDR picture itself through x264 4:2:0 is 34.8 dB.
    assert got_psnr >= MIN_PSNR and got_psnr > untouched[0] + 5
    assert abs(got_sat - 1) <= MAX_SATURATION_DRIFT
    after = probe(out)
    assert after.video is not None and after.video.hdr is None and after.video.sdr_conversion is None
    assert (after.video.color_primaries, after.video.color_transfer, after.video.color_matrix) == ("bt709",) * 3
    assert r.after is not None and not any(f.code in ("video.hdr", "video.wide_gamut") for f in r.after.findings)


def test_highlights_above_reference_white_land_on_white(tmp_path: Path) -> None:
    box = (W - 80, 8, 64, 48)  # 1000 cd/m2: a lamp, the sun on water
    src = make_hdr_clip(tmp_path / "in.mp4", transfer="PQ", duration=3.0, width=W, height=H, highlight=box)
    (r,) = fix([src], tmp_path / "out", content=False).results
    frame = frames_rgb(Path(r.output), 1)[0]
    x, y, w, h = box
    lamp = frame[y + 8 : y + h - 8, x + 8 : x + w - 8].reshape(-1, 3).mean(axis=0)
    assert lamp.min() > 250  # the peak maps to SDR white, not clipped grey and not wrapped


PATCHES = {100: 190, 203: 237, 406: 249, 1000: 255}
"""PQ grey patches, cd/m2 -> the 8-bit SDR level the roll-off gives them (the Moebius curve of
color.rolloff, computed once and written here so a change to the curve cannot move the expectation
with it): below the knee (152 cd/m2) unchanged, reference white at 93%, the peak on white. A hard
clip at reference white would put the last three on 255."""


def _pq_patches_clip(path: Path, nits: list[int], boxes: list[tuple[int, int, int, int]]) -> Path:
    """3 s (the shortest clip Kling takes) of HEVC Main 10 PQ: grey patches of the given display
    light on a 20 cd/m2 background. Written here, not by make_hdr_clip, which carries SDR pictures
    (nothing above reference white)."""
    from preflight.color.curves import pq_inverse_eotf

    signal = np.full((H, W, 3), pq_inverse_eotf(np.array(20.0)))
    for level, (x, y, w, h) in zip(nits, boxes, strict=True):
        signal[y : y + h, x : x + w] = pq_inverse_eotf(np.array(float(level)))
    yuv = av.VideoFrame.from_ndarray(np.round(signal * 65535).astype(np.uint16), format="rgb48le").reformat(
        format="yuv420p10le", dst_colorspace="BT2020", dst_color_range="MPEG"
    )
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx265", rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p10le"
        stream.options = {"preset": "ultrafast", "x265-params": "log-level=error:crf=12:transfer=smpte2084"}
        ctx = stream.codec_context
        ctx.color_primaries, ctx.color_trc, ctx.colorspace, ctx.color_range = 9, 16, 9, 1
        for index in range(75):
            yuv.pts = index
            out.mux(stream.encode(yuv))
        out.mux(stream.encode(None))
    return path


def test_highlights_roll_off_end_to_end(tmp_path: Path) -> None:
    """fix on a PQ clip: light between reference white and the peak keeps its order, each step at the
    level the roll-off gives it. The lamp test above passes with a hard clip too (its lamp is the
    peak, white either way); this one does not."""
    nits = list(PATCHES)
    boxes = [(24 + i * 152, 120, 120, 120) for i in range(len(nits))]
    src = _pq_patches_clip(tmp_path / "patches.mp4", nits, boxes)
    (r,) = fix([src], tmp_path / "out", content=False).results
    assert "tone map PQ -> SDR BT.709" in r.actions
    frame = frames_rgb(Path(r.output), 1)[0].astype(np.float64)
    got = [float(frame[y + 16 : y + h - 16, x + 16 : x + w - 16].mean()) for x, y, w, h in boxes]
    assert got == pytest.approx(list(PATCHES.values()), abs=3), got
    assert all(a + 3 < b for a, b in itertools.pairwise(got)), got  # every step stays a step


def test_tone_map_runs_after_a_downscale_and_stays_right(tmp_path: Path, card: np.ndarray) -> None:
    kling = load_profile("kling-v2.6")
    small = dataclasses.replace(kling, video=dataclasses.replace(kling.video, max_side=320, min_side=100))
    src = make_hdr_clip(tmp_path / "in.mp4", transfer="HLG", duration=3.0, width=W, height=H)
    (r,) = fix([src], tmp_path / "out", small, content=False).results
    assert r.actions[1:3] == ("scale 640x360->320x180", "tone map HLG -> SDR BT.709")
    frame = frames_rgb(Path(r.output), 1)[0]
    assert frame.shape == (180, 320, 3) and tags(Path(r.output)) == BT709_TV
    reference = card.reshape(180, 2, 320, 2, 3).mean(axis=(1, 3))
    assert psnr(frame, reference) >= MIN_PSNR


def test_every_reencode_is_tagged_bt709(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "turned.mov", duration=3, width=480, height=360, rotation=90, container="mov")
    (r,) = fix([src], tmp_path / "out", content=False).results
    assert any(a.startswith("bake rotation") for a in r.actions) and tags(Path(r.output)) == BT709_TV
    v = probe(r.output).video
    assert v is not None and (v.color_primaries, v.color_transfer, v.color_matrix, v.color_range) == (
        "bt709", "bt709", "bt709", "tv")  # fmt: skip


def test_bt601_source_is_converted_not_just_retagged(tmp_path: Path) -> None:
    """A clip tagged BT.601 (SD cameras, old phones) keeps its colours when the output says BT.709."""
    path = tmp_path / "sd.mp4"
    red = np.zeros((240, 320, 3), np.uint8)  # under the 340 px minimum: fix scales it up
    red[..., 0] = 200
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 320, 240, "yuv420p"
        s.codec_context.colorspace, s.codec_context.color_range = 6, 1  # smpte170m, tv
        s.options = {"preset": "ultrafast", "crf": "10"}
        for _ in range(30):
            frame = av.VideoFrame.from_ndarray(red, format="rgb24")
            out.mux(s.encode(frame.reformat(format="yuv420p", dst_colorspace="ITU601", dst_color_range="MPEG")))
        out.mux(s.encode(None))
    (r,) = fix([path], tmp_path / "out", content=False).results
    assert r.actions[1].startswith("scale") and tags(Path(r.output)) == BT709_TV
    got = frames_rgb(Path(r.output), 1)[0][100:200, 100:200].reshape(-1, 3).mean(axis=0)
    assert got == pytest.approx([200, 0, 0], abs=4)


@pytest.mark.parametrize("transfer", ["arib-std-b67", "smpte2084"])
def test_clips_made_by_zscale_come_back(tmp_path: Path, card: np.ndarray, transfer: str) -> None:
    """The same check on HLG/PQ made independently, by FFmpeg's zscale (zimg), SDR white at 203 cd/m2.
    ``agamma=0``: zimg's exact BT.2100 HLG; its default applies the HLG gamma per channel (an
    approximation that desaturates: 28.0 dB and 85% saturation measured on this card). Skipped
    without zscale, except in CI (tests/zimg.py)."""
    require_zscale()
    png = tmp_path / "card.png"
    from PIL import Image

    Image.fromarray(card).save(png)
    out = tmp_path / f"{transfer}.mov"
    chain = (
        "scale=out_color_matrix=bt709:out_range=tv,format=yuv444p,"
        "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv,"
        "zscale=t=linear:npl=203:agamma=0,format=gbrpf32le,"
        f"zscale=p=bt2020:t={transfer}:m=bt2020nc:r=tv:npl=203:agamma=0,format=yuv420p10le"
    )
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-loop", "1", "-i", str(png), "-t", "3", "-r", "25", "-vf", chain,
         "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error:crf=16",
         "-color_primaries", "bt2020", "-color_trc", transfer, "-colorspace", "bt2020nc", "-color_range", "tv",
         str(out)],
        check=True,
    )  # fmt: skip
    (r,) = fix([out], tmp_path / "out", content=False).results
    got_psnr, got_sat = measure(Path(r.output), card)
    assert got_psnr >= MIN_PSNR and abs(got_sat - 1) <= MAX_SATURATION_DRIFT
