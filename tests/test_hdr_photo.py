"""HDR stills (HEIC, AVIF, PNG tagged HLG/PQ) and gain-map JPEGs: probe, check, analysis pixels, fix."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from preflight import check, probe
from preflight.analyze import load_image_rgb
from preflight.fix import fix
from preflight.samples import color_card, make_hdr_image, make_image

CARD = color_card(640, 360)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


@pytest.mark.parametrize("fmt", ["heic", "avif", "png"])
@pytest.mark.parametrize("transfer", ["HLG", "PQ"])
def test_hdr_still_is_flagged_analysed_and_fixed_as_sdr(tmp_path: Path, fmt: str, transfer: str) -> None:
    src = make_hdr_image(tmp_path / f"hdr.{fmt}", transfer=transfer, format=fmt)
    info = probe(src)
    assert info.image is not None and (info.image.hdr, info.image.color_primaries) == (transfer, "bt2020")
    (item,) = check([src], content=False).items
    (hdr,) = [f for f in item.findings if f.code == "image.hdr"]
    assert hdr.fixable and hdr.severity.value == "warning" and "tone-maps" in hdr.message
    with Image.open(src) as im:
        naive = np.asarray(im.convert("RGB"))  # what analysis and fix used before: the HDR signal as sRGB
    assert psnr(naive, CARD) < 21
    # Measured: HEIC 33.5 / 33.2 dB (16-bit decode), AVIF 32.3 / 31.4, PNG 39.2 / 38.1 (8-bit, lossless).
    assert psnr(load_image_rgb(src), CARD) >= 30
    (r,) = fix([src], tmp_path / "out", content=False).results
    assert f"tone map {transfer} -> SDR sRGB" in r.actions and r.ok
    with Image.open(r.output) as out:
        assert out.mode == "RGB" and out.format == ("PNG" if fmt == "png" else "JPEG")
        assert "icc_profile" not in out.info
        assert psnr(np.asarray(out), CARD) >= 30
    after = probe(r.output)
    assert after.image is not None and after.image.hdr is None and after.image.sdr_conversion is None


def test_hdr_heic_is_decoded_at_ten_bits(tmp_path: Path) -> None:
    """pillow-heif's 8-bit view of a 10-bit PQ file drops two bits exactly where PQ is steepest for
    SDR; the tone map reads the 16-bit samples instead (a smooth ramp keeps its steps fine)."""
    ramp = np.repeat(np.linspace(0, 255, 640)[None, :, None], 64, axis=0).repeat(3, axis=2).astype(np.uint8)
    src = make_hdr_image(tmp_path / "ramp.heic", transfer="PQ", format="heic", pixels=ramp)
    rgb = load_image_rgb(src)[32, :, 1].astype(int)
    assert len(np.unique(rgb)) > 180  # measured 205; from pillow-heif's 8-bit samples 125
    assert np.all(np.diff(rgb) >= -2)  # monotonic up to codec noise


def test_bt2020_sdr_still_gets_its_gamut_converted(tmp_path: Path) -> None:
    src = make_hdr_image(tmp_path / "wide.png", transfer="BT.2020 SDR", format="png")
    info = probe(src)
    assert info.image is not None and info.image.hdr is None and info.image.sdr_conversion == "BT.2020 SDR"
    (item,) = check([src], content=False).items
    assert [f.code for f in item.findings] == ["image.wide_gamut"]
    (r,) = fix([src], tmp_path / "out", content=False).results
    assert r.actions == ("gamut BT.2020 -> sRGB",)
    with Image.open(r.output) as out:
        assert psnr(np.asarray(out), CARD) >= 35


def test_untagged_and_sdr_stills_are_left_alone(tmp_path: Path) -> None:
    plain = make_image(tmp_path / "plain.png", width=640, height=400, format="PNG")
    info = probe(plain)
    assert info.image is not None and info.image.hdr is None and info.image.color_primaries is None
    (r,) = fix([plain], tmp_path / "out", content=False).results
    assert r.actions == ("copy",)


def ultra_hdr_jpeg(path: Path, base: np.ndarray) -> Path:
    """A gain-map JPEG laid out as Android's Ultra HDR and iPhone's do: the SDR base image with an
    ``hdrgm`` XMP packet, an MPF index, and a second JPEG (the gain map) after it."""
    buf = io.BytesIO()
    gain = Image.fromarray(np.full((base.shape[0] // 4, base.shape[1] // 4, 3), 128, np.uint8))
    Image.fromarray(base).save(buf, format="MPO", save_all=True, append_images=[gain], quality=95)
    data = buf.getvalue()
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:hdrgm="http://ns.adobe.com/hdr-gain-map/1.0/" hdrgm:Version="1.0"/>'
        b"</rdf:RDF></x:xmpmeta>"
    )
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + xmp
    # Before the MPF segment: its offsets are relative to its own header, so they stay right.
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    path.write_bytes(data[:2] + segment + data[2:])
    return path


def test_gain_map_jpeg_is_its_sdr_base_image(tmp_path: Path) -> None:
    src = ultra_hdr_jpeg(tmp_path / "ultra.jpg", CARD)
    assert src.read_bytes().count(b"\xff\xd8") == 2  # the gain map is there
    info = probe(src)
    assert info.format == "jpeg" and (info.width, info.height) == (640, 360)
    assert info.image is not None and info.image.frames == 1 and info.image.hdr is None
    (item,) = check([src], content=False).items
    assert item.verdict == "pass" and item.findings == ()
    assert psnr(load_image_rgb(src), CARD) > 33  # the base image, as decoded
    (r,) = fix([src], tmp_path / "out", content=False).results
    assert r.actions == ("copy",)
    small = ultra_hdr_jpeg(tmp_path / "small.jpg", CARD[::2, ::2].copy())  # 320x180: fix scales it up
    (r,) = fix([small], tmp_path / "out", content=False).results
    assert r.ok and r.actions[0].startswith("scale") and not any("first frame" in a for a in r.actions)
    with Image.open(r.output) as out:
        assert out.format == "JPEG" and min(out.size) >= 340
