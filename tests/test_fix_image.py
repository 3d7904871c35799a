"""fix on real images: each output is opened again and its pixels, mode, EXIF and size checked."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from preflight import check, probe
from preflight.aspects import ASPECT_TOLERANCE
from preflight.fix import fix
from preflight.samples import make_image


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def opened(path: Path) -> tuple[tuple[int, int], str, str]:
    with Image.open(path) as im:
        return im.size, im.mode, im.format


def fixed(src: Path, tmp_path: Path, **kwargs):
    before = sha(src)
    report = fix([src], tmp_path / "out", content=False, **kwargs)
    (r,) = report.results
    assert sha(src) == before, "the input changed"
    assert r.output is not None, r.reason
    return r, Path(r.output)


def test_webp_becomes_jpeg(tmp_path: Path):
    src = make_image(tmp_path / "photo.webp", width=640, height=800, format="WEBP")
    r, out = fixed(src, tmp_path)
    assert r.actions == ("convert webp->jpeg",) and out.name == "photo.jpg"
    with Image.open(out) as im:
        assert im.format == "JPEG" and im.size == (640, 800) and im.mode == "RGB"
    assert r.after.verdict == "pass"


def test_exif_orientation_is_applied_and_exif_removed(tmp_path: Path):
    pixels = np.zeros((600, 800, 3), dtype=np.uint8)
    pixels[:, :400] = (255, 0, 0)  # stored: left half red
    src = make_image(tmp_path / "cam.jpg", pixels=pixels, exif_orientation=6)  # shown turned 90° clockwise
    r, out = fixed(src, tmp_path)
    assert r.actions == ("apply EXIF orientation 6, strip EXIF",)
    with Image.open(out) as im:
        assert im.size == (600, 800) and len(im.getexif()) == 0
        top, bottom = np.asarray(im)[50, 300], np.asarray(im)[750, 300]
    assert top[0] > 200 and top[1] < 60 and bottom[0] < 60  # stored left is shown on top
    assert probe(out).image.exif_orientation == 1 and r.after.verdict == "pass"


def test_cmyk_and_16_bit_become_8_bit_rgb(tmp_path: Path):
    cmyk = make_image(tmp_path / "print.jpg", width=640, height=800, mode="CMYK")
    r, out = fixed(cmyk, tmp_path)
    assert r.actions == ("convert CMYK->RGB",)
    assert opened(out)[1] == "RGB" and r.after.verdict == "pass"
    deep = tmp_path / "deep.png"
    Image.fromarray(np.full((800, 640), 65535, dtype=np.uint16)).save(deep)
    r, out = fixed(deep, tmp_path)
    assert r.actions == ("convert I;16->RGB (16-bit to 8-bit)",)
    with Image.open(out) as im:
        assert im.mode == "RGB" and np.asarray(im).min() == 255  # full scale stays full scale


def test_alpha_goes_over_white(tmp_path: Path):
    rgba = np.zeros((800, 640, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[:400, :, 3] = 255  # top half opaque red, bottom half transparent
    src = tmp_path / "cutout.png"
    Image.fromarray(rgba, "RGBA").save(src)
    r, out = fixed(src, tmp_path)
    assert r.actions == ("convert RGBA->RGB (alpha over white)",) and out.suffix == ".png"
    with Image.open(out) as im:
        assert im.mode == "RGB"
        assert tuple(im.getpixel((10, 10))) == (255, 0, 0) and tuple(im.getpixel((10, 700))) == (255, 255, 255)


def test_animated_gif_keeps_the_first_frame_as_png(tmp_path: Path):
    src = make_image(tmp_path / "loop.gif", width=400, height=500, format="GIF", frames=3)
    r, out = fixed(src, tmp_path)
    assert r.actions[0] == "first frame of 3" and "convert gif->png" in r.actions
    with Image.open(out) as im:
        assert im.format == "PNG" and not getattr(im, "is_animated", False) and im.size == (400, 500)


def test_small_image_is_scaled_up_and_wide_one_padded(tmp_path: Path):
    small = make_image(tmp_path / "tiny.png", width=240, height=320, format="PNG")
    r, out = fixed(small, tmp_path)
    assert r.actions == ("scale 240x320->340x453",) and opened(out)[0] == (340, 453)
    wide = make_image(tmp_path / "banner.jpg", width=1000, height=300)
    r, out = fixed(wide, tmp_path, fill="solid")
    assert r.actions == ("pad 1000x300->1000x400 (solid fill)",)
    with Image.open(out) as im:
        assert im.size == (1000, 400) and min(im.getpixel((500, 5))) > 245  # white band on top
    r, out = fixed(wide, tmp_path, aspect="crop")
    # cropping to 2.5:1 leaves 300 px, under the 340 px minimum: scaled up after the crop
    assert r.actions == ("crop 1000x300->750x300 at 125,0", "scale 750x300->850x340")
    assert opened(out)[0] == (850, 340)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_size_cap_is_met(tmp_path: Path, fmt: str):
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 256, (900, 700, 3), dtype=np.uint8)
    options = {"quality": 98} if fmt == "JPEG" else {}
    src = make_image(tmp_path / f"noise.{fmt.lower()}", pixels=noise, format=fmt, **options)
    cap = src.stat().st_size // 3
    profile = tmp_path / "tight.toml"
    profile.write_text(
        f'name = "tight"\nbase = "kling-v2.6"\n[image]\nformats = ["jpeg", "png"]\nmax_bytes = {cap}\nmin_side = 300\n'
    )
    r, out = fixed(src, tmp_path, profile=profile)
    assert "compress under" in r.actions[0]
    assert out.stat().st_size <= cap and out.suffix == ".jpg" and r.after.verdict == "pass"
    with Image.open(out) as im:
        assert min(im.size) >= 300


def test_image_is_padded_to_the_nearest_allowed_ratio(tmp_path: Path):
    # Runway Act-Two's ratios in a user's profile: a 4:3 photo is 0.48% off 1104:832, the nearest
    ratios = '["1280:720", "720:1280", "960:960", "1104:832", "832:1104", "1584:672"]'
    profile = tmp_path / "runway-act-two.toml"
    profile.write_text(
        f'name = "runway-act-two"\nbase = "kling-v2.6"\n[image]\nformats = ["jpeg", "png"]\naspect_choices = {ratios}\n'
    )
    src = make_image(tmp_path / "photo.jpg", width=640, height=480)
    r, out = fixed(src, tmp_path, profile=profile, fill="solid")
    assert r.actions == ("pad 640x480->640x482 (solid fill)",)
    assert opened(out)[0] == (640, 482) and abs(640 / 482 / (1104 / 832) - 1) < ASPECT_TOLERANCE
    assert r.after.verdict == "pass"
    (item,) = check([out], profile, content=False).items
    assert item.verdict == "pass" and item.findings == ()
    portrait = make_image(tmp_path / "portrait.png", width=360, height=640, format="PNG")
    assert fixed(portrait, tmp_path, profile=profile)[0].actions == ("copy",)
