"""The colour module alone: BT.2100 curves, BT.2408 reference white, the roll-off, the LUT and its file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from preflight.color import curves as color
from preflight.samples import COLOR_CHECKER

GREY_10BIT = np.repeat((np.arange(1024) / 1023)[:, None], 3, axis=1)


def test_reference_white_is_75_percent_hlg_and_203_nits_pq() -> None:
    white = np.array([[0.75, 0.75, 0.75]])
    assert color.hlg_to_display(white)[0, 1] == pytest.approx(203, abs=1)  # BT.2408 table 1
    assert color.pq_eotf(np.array(0.58))[()] == pytest.approx(203, rel=0.01)
    assert color.pq_inverse_eotf(np.array(10000.0))[()] == pytest.approx(1.0)
    sdr_white = np.ones((1, 3))
    assert color.hdr_from_sdr(sdr_white, "HLG")[0] == pytest.approx([0.75] * 3, abs=0.001)
    assert color.hdr_from_sdr(sdr_white, "PQ")[0] == pytest.approx([0.5806] * 3, abs=0.001)


def test_curves_invert_each_other() -> None:
    e = np.linspace(0, 1, 257)
    assert color.hlg_inverse_oetf(color.hlg_oetf(e)) == pytest.approx(e, abs=1e-9)
    nits = np.geomspace(0.01, 10000, 50)
    assert color.pq_eotf(color.pq_inverse_eotf(nits)) == pytest.approx(nits, rel=1e-6)
    rgb = np.random.default_rng(0).uniform(0, 250, (100, 3))  # within HLG's range: no channel past 1.0
    assert color.hlg_to_display(color.display_to_hlg(rgb)) == pytest.approx(rgb, rel=1e-6, abs=1e-6)


def test_bt2020_to_bt709_is_bt2087s_matrix() -> None:
    expected = [[1.6605, -0.5876, -0.0728], [-0.1246, 1.1329, -0.0083], [-0.0182, -0.1006, 1.1187]]
    assert np.allclose(color.BT2020_TO_BT709, expected, atol=1e-4)
    assert np.allclose(color.Y_BT2020, [0.2627, 0.6780, 0.0593], atol=1e-4)


@pytest.mark.parametrize("kind", ["PQ", "BT.2020 SDR"])
def test_sdr_round_trip_is_exact_below_the_knee(kind: str) -> None:
    rgb = np.random.default_rng(1).uniform(0, 1, (5000, 3))
    below = rgb[rgb.max(axis=1) <= color.KNEE]
    back = color.sdr_from_hdr(color.hdr_from_sdr(below, kind), kind)
    assert np.abs(back - below).max() < 1e-6


def test_hlg_round_trip_keeps_greys_exact_and_colours_close() -> None:
    """HLG to SDR applies the system gamma half per channel (HLG_OOTF_LUMINANCE_SHARE), so BT.2100 HLG
    comes back with greys exact and colours a little more saturated (mean 0.025 of full scale on
    uniformly random colours, most of it in extreme saturations)."""
    grey = np.repeat(np.linspace(0, color.KNEE, 50)[:, None], 3, axis=1)
    assert color.sdr_from_hdr(color.hdr_from_sdr(grey, "HLG"), "HLG") == pytest.approx(grey, abs=1e-9)
    rgb = np.random.default_rng(1).uniform(0, 1, (5000, 3))
    below = rgb[rgb.max(axis=1) <= color.KNEE]
    assert np.abs(color.sdr_from_hdr(color.hdr_from_sdr(below, "HLG"), "HLG") - below).mean() < 0.03


def _per_channel_hlg(sdr: np.ndarray) -> np.ndarray:
    """BT.709 SDR -> HLG the way zimg (FFmpeg's zscale) does by default: inverse OOTF per channel."""
    light = (sdr**color.SDR_GAMMA) @ color.BT709_TO_BT2020.T * color.REFERENCE_WHITE / color.HLG_NOMINAL_PEAK
    return color.hlg_oetf(np.maximum(light, 0.0) ** (1 / color.HLG_GAMMA))


def _mean_saturation(rgb: np.ndarray) -> float:
    top, bottom = rgb.max(axis=-1), rgb.min(axis=-1)
    keep = top > 32 / 255
    return float(np.mean((top - bottom)[keep] / top[keep]))


def test_hlg_from_either_convention_keeps_its_saturation() -> None:
    """HLG made by BT.2100's OOTF (cameras) and by zscale's per-channel default both come back within
    10% of the SDR picture's saturation; either pure form puts the other convention 14-15% off
    (measured on this card)."""
    from preflight.samples import color_card

    card = color_card(320, 180).astype(np.float64) / 255
    below = np.where(card.max(axis=-1, keepdims=True) <= color.KNEE, card, card * color.KNEE)
    for hlg in (color.hdr_from_sdr(below, "HLG"), _per_channel_hlg(below)):
        back = color.sdr_from_hdr(hlg, "HLG")
        ratio = _mean_saturation(back) / _mean_saturation(below)
        assert abs(ratio - 1) < 0.10, ratio


def test_rolloff_keeps_white_near_white_and_puts_the_peak_on_it() -> None:
    peak = (color.HLG_NOMINAL_PEAK / color.REFERENCE_WHITE) ** (1 / 2.4)
    s = np.linspace(0, peak, 2001)
    out = color.rolloff(s, peak)
    assert np.all(np.diff(out) >= 0) and out[-1] == pytest.approx(1.0)
    assert out[s <= color.KNEE] == pytest.approx(s[s <= color.KNEE])
    white = float(color.rolloff(np.array(1.0), peak))
    assert 0.92 < white < 0.95  # reference white lands at 93% (237/255)
    h = 1e-6
    left, right = (color.rolloff(np.array([color.KNEE - h, color.KNEE + h]), peak) - color.KNEE) / h
    assert left == pytest.approx(-1, abs=1e-3) and right == pytest.approx(1, abs=1e-3)  # same slope: no kink
    assert float(color.rolloff(np.array(1.0), 1.0)) == 1.0  # SDR: no headroom, nothing to roll off


def test_highlights_roll_off_instead_of_clipping() -> None:
    nits = np.array([100.0, 203, 406, 1000, 4000])
    pq = color.pq_inverse_eotf(nits)[:, None].repeat(3, axis=1)
    out = color.sdr_from_hdr(pq, "PQ")[:, 0] * 255
    assert out[0] == pytest.approx((100 / 203) ** (1 / 2.4) * 255, abs=0.01)  # below the knee: unchanged
    assert 230 < out[1] < 240 and 245 < out[2] < 252 and out[3] == pytest.approx(255) and out[4] == pytest.approx(255)
    brighter = color.sdr_from_hdr(pq, "PQ", peak_nits=4000)[:, 0] * 255
    assert brighter[3] < 254 and brighter[4] == pytest.approx(255)  # a 4000 cd/m2 grade keeps 1000 apart


def test_out_of_gamut_colours_are_clipped_not_wrapped() -> None:
    green = np.array([[0.0, 1.0, 0.0]])  # BT.2020's green primary: far outside BT.709
    light = color.sdr_light_from_hdr(green, "BT.2020 SDR")
    assert light[0, 0] < 0 and light[0, 2] < 0  # the LUT keeps the negative light (exact interpolation)
    out = color.encode_sdr(light)
    assert out.min() >= 0 and out[0, 1] == pytest.approx(1.0)


def test_display_p3_source_maps_its_own_primaries() -> None:
    p3_red = np.array([[1.0, 0.0, 0.0]])
    out = color.sdr_from_hdr(p3_red, "BT.2020 SDR", primaries="smpte432")
    assert out[0, 0] == pytest.approx(1.0) and out[0, 1] == 0 and out[0, 2] == 0  # beyond BT.709: clipped
    assert color.sdr_from_hdr(np.full((1, 3), 0.5), "BT.2020 SDR", primaries="bt709") == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("kind", "greys", "checker"),
    # Measured: HLG 2.79 / 3.33, PQ 1.75 / 6.21 (the cyan patch's red, 8/255: near zero the gamma
    # makes any linear error large), BT.2020 SDR 2.49 / 1.81 8-bit levels.
    [("HLG", 3.0, 4.0), ("PQ", 2.0, 7.0), ("BT.2020 SDR", 3.0, 2.5)],
)
def test_the_33_point_lut_is_close_to_the_formulas(kind: str, greys: float, checker: float) -> None:
    lut = color.tone_lut(kind)
    assert lut.shape == (33, 33, 33, 3) and lut.dtype == np.float32

    def worst(rgb: np.ndarray) -> float:
        exact = color.sdr_from_hdr(rgb, kind)
        got = color.encode_sdr(color.apply_lut(lut, rgb.astype(np.float32)))
        return float(np.abs(got - exact).max() * 255)

    patches = np.round(color.hdr_from_sdr(np.array(COLOR_CHECKER) / 255, kind) * 1023) / 1023
    assert worst(GREY_10BIT) < greys
    assert worst(patches) < checker


def test_tetrahedral_interpolation_is_exact_for_affine_maps() -> None:
    axis = np.linspace(0, 1, 5)
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1)
    m = np.array([[0.5, 0.2, 0.1], [-0.3, 1.0, 0.0], [0.1, 0.1, 0.7]])
    lut = (grid @ m.T + 0.05).astype(np.float32)
    rgb = np.random.default_rng(2).integers(0, 65536, (1000, 3)).astype(np.uint16)
    got = color.apply_lut(lut, rgb, chunk=333)
    assert got == pytest.approx(rgb / 65535 @ m.T + 0.05, abs=1e-5)
    assert color.apply_lut(lut, np.full((2, 2, 3), 255, np.uint8)).shape == (2, 2, 3)


def test_cube_file_is_written_once_and_named_by_its_content(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PREFLIGHT_CACHE_DIR", str(tmp_path))
    color.cube_file.cache_clear()
    path = color.cube_file("HLG", 5)
    assert path.parent == tmp_path / "luts" and path.name.startswith("hlg-5-")
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    text = path.read_text().splitlines()
    assert "LUT_3D_SIZE 5" in text
    rows = np.array([[float(v) for v in line.split()] for line in text if line[:1] in "-0123456789"])
    lut = color.tone_lut("HLG", 5)
    assert rows[1] == pytest.approx(lut[1, 0, 0], abs=1e-6)  # red varies fastest
    assert rows[5] == pytest.approx(lut[0, 1, 0], abs=1e-6)
    mtime = path.stat().st_mtime_ns
    color.cube_file.cache_clear()
    assert color.cube_file("HLG", 5) == path and path.stat().st_mtime_ns == mtime  # reused, not rewritten
    assert color.cube_file("PQ", 5) != path
    color.cube_file.cache_clear()
