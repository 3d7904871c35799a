"""Colour profiles: a Display P3 photo (what iPhones write) is flagged and converted to sRGB pixels."""

from __future__ import annotations

from pathlib import Path

from iccprofile import rgb_profile
from PIL import Image, ImageCms

from preflight import check, probe
from preflight.fix import fix


def test_display_p3_is_flagged_and_converted(tmp_path: Path) -> None:
    path = tmp_path / "IMG_0002.jpg"
    Image.new("RGB", (400, 500), (200, 100, 50)).save(path, quality=95, icc_profile=rgb_profile("Display P3"))
    info = probe(path)
    assert info.image is not None and info.image.color_profile == "Display P3"
    (item,) = check([path], content=False).items
    (finding,) = item.findings
    assert (finding.code, finding.severity.value, finding.fixable, item.verdict) == (
        "image.color_profile", "warning", True, "pass",
    )  # fmt: skip
    (result,) = fix([path], tmp_path / "out", content=False).results
    assert result.ok and result.output is not None
    assert result.actions == ("convert RGB->RGB (Display P3 to sRGB)",)
    with Image.open(result.output) as out:
        r, g, b = out.getpixel((200, 250))
        assert "icc_profile" not in out.info
    # P3's wider gamut: the same numbers mean a more saturated orange, so in sRGB red rises, blue falls.
    assert r > 205 and b < 45 and abs(g - 100) < 12
    assert probe(result.output).image.color_profile is None  # type: ignore[union-attr]


def test_srgb_profile_is_not_flagged(tmp_path: Path) -> None:
    path = tmp_path / "srgb.jpg"
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.new("RGB", (400, 500), (200, 100, 50)).save(path, icc_profile=srgb)
    info = probe(path)
    assert info.image is not None and info.image.color_profile is None
    assert check([path], content=False).items[0].findings == ()
