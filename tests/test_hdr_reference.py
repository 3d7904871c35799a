"""The HDR curves and the SDR <-> HDR mapping against zimg (FFmpeg's zscale), not against themselves.

test_color.py's round trips run preflight's functions both ways, so a wrong constant used by both
directions passes them; here every number preflight computes is compared with what zimg computes
from the same input, in 32-bit float with no codec between. In CI these tests cannot skip
(tests/zimg.py). Measured agreement: PQ 5e-5 relative (float32), HLG 3e-7, the SDR picture carried
in PQ or HLG 1.3e-6 of full scale.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import zimg
from zimg import through_zscale

from preflight.color import curves as color
from preflight.samples import color_card

SIGNAL = np.linspace(0.0, 1.0, 1024)
"""Every 10-bit code value, as a signal 0..1."""
BT2020 = "color_primaries=bt2020"


def _greys(values: np.ndarray) -> np.ndarray:
    return np.repeat(values[None, :, None], 3, axis=2)


def _colours(seed: int) -> np.ndarray:
    """Random signals (1, 4096, 3): saturated and dark colours as well as greys."""
    return np.random.default_rng(seed).uniform(0.0, 1.0, (1, 4096, 3))


def test_pq_eotf_and_its_inverse_are_zimgs() -> None:
    # npl=10000: zimg's linear 1.0 is that many cd/m2, PQ's whole range.
    light = through_zscale(_greys(SIGNAL), f"color_trc=smpte2084:{BT2020}", "zscale=t=linear:npl=10000")
    ours = color.pq_eotf(SIGNAL) / 10000
    assert light[0, :, 0] == pytest.approx(ours, rel=2e-4, abs=1e-6)  # 1e-6: 0.01 cd/m2
    nits = np.geomspace(0.005, 10000, 1024)
    signal = through_zscale(_greys(nits / 10000), f"color_trc=linear:{BT2020}", "zscale=t=smpte2084:npl=10000")
    assert signal[0, :, 0] == pytest.approx(color.pq_inverse_eotf(nits), abs=2e-5)


def test_hlg_display_light_and_its_inverse_are_zimgs() -> None:
    """BT.2100 HLG on the 1000 cd/m2 reference display: inverse OETF and the OOTF on the scene
    luminance (zimg's exact form, ``agamma=0``), for greys and colours."""
    hlg = np.concatenate([_greys(SIGNAL), _colours(3)], axis=1)
    light = through_zscale(hlg, f"color_trc=arib-std-b67:{BT2020}", "zscale=t=linear:npl=1000:agamma=0")
    ours = color.hlg_to_display(hlg) / color.HLG_NOMINAL_PEAK
    assert light == pytest.approx(ours, abs=1e-5)
    back = through_zscale(ours, f"color_trc=linear:{BT2020}", "zscale=t=arib-std-b67:npl=1000:agamma=0")
    lit = ours.max(axis=-1) > 1e-4  # near black the inverse OOTF divides by almost nothing
    assert back[lit] == pytest.approx(color.display_to_hlg(ours * color.HLG_NOMINAL_PEAK)[lit], abs=1e-4)


@pytest.mark.parametrize(("kind", "transfer"), [("PQ", "smpte2084"), ("HLG", "arib-std-b67")])
def test_sdr_carried_in_hdr_is_what_zimg_makes_and_comes_back(kind: str, transfer: str) -> None:
    """hdr_from_sdr (how the test media are made) against zimg's SDR -> HDR with SDR white at
    203 cd/m2 (BT.2408, ``npl=203``); then sdr_from_hdr takes zimg's HDR back to the SDR picture
    below the knee. This is the pair of directions test_color.py only checks against each other."""
    card = color_card(96, 54).astype(np.float64) / 255
    made = through_zscale(
        card, "color_trc=bt709:color_primaries=bt709",
        f"zscale=t=linear:npl=203:agamma=0,zscale=p=bt2020:t={transfer}:npl=203:agamma=0",
    )  # fmt: skip
    assert made == pytest.approx(color.hdr_from_sdr(card, kind), abs=1e-5)
    back = color.sdr_from_hdr(made, kind)
    below = card.max(axis=-1) <= color.KNEE
    grey = below & (np.ptp(card, axis=-1) == 0)
    assert np.abs(back - card)[grey].max() < 2e-3  # float32 near black, through gamma 1/2.4
    # PQ comes back exactly; HLG's colours a little more saturated (HLG_OOTF_LUMINANCE_SHARE).
    assert np.abs(back - card)[below].mean() < (1e-4 if kind == "PQ" else 0.03)


def test_without_zscale_the_reference_fails_in_ci_and_skips_elsewhere(tmp_path, monkeypatch) -> None:
    """The guard itself, as CI would meet it: a pytest run with no ffmpeg on PATH and CI=true fails
    the reference test; the same run outside CI skips it."""
    test = f"{__file__}::test_pq_eotf_and_its_inverse_are_zimgs"
    env = {**os.environ, "PATH": str(tmp_path), "CI": "true"}  # an empty folder: no ffmpeg
    in_ci = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
                           env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert in_ci.returncode == 1 and "1 failed" in in_ci.stdout, in_ci.stdout
    assert "need FFmpeg's zscale in CI: no ffmpeg on PATH" in in_ci.stdout
    monkeypatch.setattr(zimg, "_zscale_missing", lambda: "no ffmpeg on PATH")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        zimg.require_zscale()
