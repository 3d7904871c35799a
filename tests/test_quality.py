"""Exposure and blur on public-domain photos (scikit-image) and darkened/blown-out/blurred versions."""

from __future__ import annotations

import numpy as np
import pytest

from preflight.analyze.frames import run_analyzers
from preflight.analyze.quality import (
    BlurAnalyzer,
    ExposureAnalyzer,
    analyze_image_quality,
    laplacian_variance,
)
from preflight.models import Severity
from preflight.samples import make_clip

cv2 = pytest.importorskip("cv2")
data = pytest.importorskip("skimage.data")

PHOTOS = {
    "astronaut": data.astronaut(),
    "camera": np.dstack([data.camera()] * 3),
    "coffee": data.coffee(),
}


def gain(rgb: np.ndarray, factor: float) -> np.ndarray:
    return np.clip(rgb.astype(np.float32) * factor, 0, 255).astype(np.uint8)


def codes(results) -> list[str]:
    return [f.code for r in results for f in r.findings]


@pytest.mark.parametrize("name", PHOTOS)
def test_good_photos_pass(name):
    exposure, blur = analyze_image_quality(PHOTOS[name])
    assert codes([exposure, blur]) == []
    assert 80 < exposure.metrics["mean"] < 160
    assert blur.metrics["laplacian_var_median"] > 200


@pytest.mark.parametrize("name", PHOTOS)
def test_darkened_photo_is_too_dark_not_blurry(name):
    exposure, blur = analyze_image_quality(gain(PHOTOS[name], 0.3))
    assert codes([exposure, blur]) == ["quality.too_dark"]
    assert exposure.findings[0].severity is Severity.WARNING
    assert exposure.findings[0].measured < exposure.findings[0].limit


@pytest.mark.parametrize("name", PHOTOS)
def test_blown_out_photo_is_overexposed(name):
    exposure, _ = analyze_image_quality(gain(PHOTOS[name], 2.5))
    assert [f.code for f in exposure.findings] == ["quality.overexposed"]


@pytest.mark.parametrize("name", PHOTOS)
def test_blurred_photo_is_blurry(name):
    exposure, blur = analyze_image_quality(cv2.GaussianBlur(PHOTOS[name], (0, 0), 4))
    assert codes([exposure, blur]) == ["quality.blurry"]
    assert blur.findings[0].measured < blur.findings[0].limit


def test_blur_is_measured_on_the_subject_box():
    # An out-of-focus person in front of a sharp background: only the box tells.
    photo = PHOTOS["coffee"].copy()
    person = cv2.resize(PHOTOS["astronaut"], (200, 200), interpolation=cv2.INTER_AREA)
    photo[100:300, 200:400] = cv2.GaussianBlur(person, (0, 0), 4)
    h, w = photo.shape[:2]
    box = (210 / w, 110 / h, 390 / w, 290 / h)  # inside the person, as a landmark box is
    _, whole = analyze_image_quality(photo)
    _, on_box = analyze_image_quality(photo, box=box)
    assert whole.findings == () and whole.metrics["on_subject_box"] == 0
    assert [f.code for f in on_box.findings] == ["quality.blurry"]
    assert "person" in on_box.findings[0].message


def test_laplacian_is_measured_at_a_fixed_resolution():
    gray = cv2.cvtColor(PHOTOS["astronaut"], cv2.COLOR_RGB2GRAY)
    big = cv2.resize(gray, (1024, 1024), interpolation=cv2.INTER_CUBIC)
    # Same picture at two sizes: comparable numbers (both measured at 640 px).
    assert laplacian_variance(big) == pytest.approx(laplacian_variance(gray), rel=0.35)


def test_thresholds_come_from_the_gates():
    dark = gain(PHOTOS["astronaut"], 0.3)
    exposure, _ = analyze_image_quality(dark, {"dark_max_mean": 10.0})
    assert exposure.findings == ()
    exposure, _ = analyze_image_quality(dark, {"severity": {"quality.too_dark": "error"}})
    assert exposure.findings[0].severity is Severity.ERROR


def test_dark_and_blurred_clips(tmp_path):
    def zoom(photo):
        def frame(i, w, h):
            ph, pw = photo.shape[:2]
            s = max(w / pw, h / ph) * (1.05 + 0.0015 * i)
            m = np.float32([[s, 0, w / 2 - pw / 2 * s], [0, s, h / 2 - ph / 2 * s]])
            return cv2.warpAffine(photo, m, (w, h), borderMode=cv2.BORDER_REFLECT)

        return frame

    found = {}
    for name, photo in {
        "ok": PHOTOS["astronaut"],
        "dark": gain(PHOTOS["astronaut"], 0.3),
        "blurred": cv2.GaussianBlur(PHOTOS["astronaut"], (0, 0), 4),
    }.items():
        clip = make_clip(tmp_path / f"{name}.mp4", duration=2, width=640, height=360, frames=zoom(photo))
        results = run_analyzers(str(clip), [ExposureAnalyzer(), BlurAnalyzer()])
        found[name] = codes(results)
        assert results[1].metrics["frames"] == 2  # one RGB frame a second
    assert found == {"ok": [], "dark": ["quality.too_dark"], "blurred": ["quality.blurry"]}
