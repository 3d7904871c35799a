"""Synthetic media for the demo, the tests and the benchmarks.

Clips are encoded with PyAV (moving gradients and a bouncing box, so encoders and the motion
analyzers have something real to chew on); images with Pillow. Nothing here needs the network.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

__all__ = [
    "color_card",
    "make_bomb_png",
    "make_clip",
    "make_hdr_clip",
    "make_hdr_image",
    "make_image",
    "moving_pattern",
    "photo_frames",
    "sample_photo",
]

FrameSource = Callable[[int, int, int], np.ndarray]
"""(index, width, height) -> RGB uint8 array of shape (height, width, 3)."""


def moving_pattern(index: int, width: int, height: int) -> np.ndarray:
    """A gradient background with a box that moves: cheap to make, not trivial to encode."""
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[..., 0] = ((x + index * 3) % 256).astype(np.uint8)
    frame[..., 1] = ((y + index * 2) % 256).astype(np.uint8)
    frame[..., 2] = 128
    box = max(8, min(width, height) // 6)
    cx = int((width - box) * (0.5 + 0.45 * math.sin(index / 15)))
    cy = int((height - box) * (0.5 + 0.45 * math.cos(index / 20)))
    frame[cy : cy + box, cx : cx + box] = 255
    return frame


def make_clip(
    path: str | os.PathLike[str],
    *,
    duration: float = 4.0,
    width: int = 640,
    height: int = 360,
    fps: float = 25,
    codec: str = "libx264",
    container: str | None = None,
    pix_fmt: str = "yuv420p",
    audio: bool = False,
    audio_codec: str = "aac",
    rotation: int = 0,
    frames: FrameSource | None = None,
    timestamps: list[float] | None = None,
    gop: int | None = None,
    sample_aspect: Fraction | None = None,
    crf: int = 30,
    bframes: int = 0,
    movflags: str | None = None,
    open_gop: bool = False,
) -> Path:
    """Encode a synthetic clip and return its path.

    ``rotation`` writes a display matrix (clockwise degrees, as a phone shooting portrait does).
    ``timestamps`` (seconds) gives frames irregular times, for variable-frame-rate clips.
    ``frames`` draws each frame; the default is :func:`moving_pattern`.
    ``sample_aspect`` makes non-square (anamorphic) pixels, e.g. ``Fraction(4, 3)``.
    ``crf``: libx264's quality (30, the default, keeps test clips small; lower is closer to the frames).
    ``bframes``: libx264 B-frames (``ultrafast`` makes none; phones' clips often have them, and the
    ones nothing refers to are what the content check leaves undecoded).
    ``open_gop``: libx264 open GOPs, a keyframe every ``gop`` frames (B-frames shown before a keyframe
    but decoded after it, referring across it, as some cameras and encoders write; needs ``bframes``).
    ``movflags``: the MP4/MOV muxer's flags, e.g. ``faststart`` (movie header first) or
    ``frag_keyframe+empty_moov`` (fragmented MP4); by default the movie header comes last.
    """
    import av

    path = Path(path)
    draw = frames or moving_pattern
    rate = Fraction(fps).limit_denominator(1001)
    if timestamps is None:
        timestamps_given = False
        times = [i / float(rate) for i in range(round(duration * float(rate)))]
    else:
        timestamps_given, times = True, timestamps
    muxer_options = {"movflags": movflags} if movflags else None
    with av.open(str(path), "w", format=container, options=muxer_options) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if gop is not None:
            stream.codec_context.gop_size = gop
        if sample_aspect is not None:
            stream.codec_context.sample_aspect_ratio = sample_aspect
        if codec == "libx264":
            stream.options = {"preset": "ultrafast", "crf": str(crf), **({"bf": str(bframes)} if bframes else {})}
            if open_gop:  # ultrafast's fixed B pattern never puts a B-frame before a keyframe
                keyint = gop or 25
                params = f"open-gop=1:keyint={keyint}:min-keyint={keyint}:scenecut=0"
                stream.options = {**stream.options, "preset": "veryfast", "x264-params": params}
        if timestamps_given:
            stream.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            # PyAV's angle is counter-clockwise; a clockwise display rotation is its negative.
            stream.set_display_rotation(-rotation % 360)
        sound = _add_audio(out, audio_codec) if audio else None
        for index, t in enumerate(times):
            frame = av.VideoFrame.from_ndarray(draw(index, width, height), format="rgb24")
            if timestamps_given:
                frame.pts, frame.time_base = round(t * 1000), Fraction(1, 1000)
            else:
                frame.pts = None
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        if sound is not None:
            total = times[-1] + 1 / float(rate) if times else duration
            for aframe in _tone_frames(sound, total):
                out.mux(sound.encode(aframe))
            out.mux(sound.encode(None))
    return path


def _add_audio(out, codec: str):  # type: ignore[no-untyped-def]
    stream = out.add_stream(codec, rate=48000)
    stream.layout = "stereo"
    return stream


def _tone_frames(stream, seconds: float) -> Iterator:  # type: ignore[no-untyped-def]
    import av

    rate, chunk = 48000, 1024
    formats = stream.codec_context.codec.audio_formats
    fmt = formats[0].name if formats else "fltp"
    total = int(seconds * rate)
    # The resampler needs the input's rate set first; one resampler for the whole tone.
    resampler = av.AudioResampler(format=fmt, layout="stereo", rate=rate) if fmt != "fltp" else None
    for start in range(0, total, chunk):
        n = min(chunk, total - start)
        t = (np.arange(start, start + n) / rate).astype(np.float32)
        tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = rate, start
        if resampler is None:
            yield frame
        else:
            yield from resampler.resample(frame)


def make_image(
    path: str | os.PathLike[str] | None = None,
    *,
    width: int = 640,
    height: int = 800,
    format: str = "JPEG",
    mode: str = "RGB",
    exif_orientation: int | None = None,
    frames: int = 1,
    pixels: np.ndarray | None = None,
    **save_options: object,
) -> Path | bytes:
    """Write a synthetic image (or return its bytes when ``path`` is None).

    ``exif_orientation`` stores the EXIF tag without touching the pixels, as cameras do.
    ``frames`` > 1 makes an animated GIF/WebP/PNG. ``pixels`` (RGB uint8) replaces the pattern.
    """
    from PIL import Image

    rgb = pixels if pixels is not None else moving_pattern(0, width, height)
    base = Image.fromarray(rgb, "RGB")
    image = base.convert(mode) if mode != "RGB" else base
    options: dict[str, object] = dict(save_options)
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        options["exif"] = exif.tobytes()
    if frames > 1:
        h, w = rgb.shape[:2]
        extra = [Image.fromarray(moving_pattern(i, w, h), "RGB") for i in range(1, frames)]
        options.update(save_all=True, append_images=extra, duration=100, loop=0)
    target: io.BytesIO | Path = io.BytesIO() if path is None else Path(path)
    image.save(target, format=format, **options)
    if isinstance(target, io.BytesIO):
        return target.getvalue()
    return target


def make_bomb_png(path: str | os.PathLike[str], side: int = 40000) -> Path:
    """A tiny PNG that claims ``side`` x ``side`` grey pixels (a decompression bomb), written
    row by row so making it never holds the image in memory."""
    import struct
    import zlib

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    packer = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte + one byte per 8-bit grey pixel
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    target = Path(path)
    target.write_bytes(png)
    return target


def sample_photo() -> np.ndarray:
    """The shipped photo of a person (RGB uint8, 512x512): NASA's public-domain portrait of astronaut
    Eileen Collins, as distributed with scikit-image. Head, shoulders and torso are visible."""
    from importlib import resources

    from PIL import Image

    with resources.files("preflight.data").joinpath("astronaut.jpg").open("rb") as fh, Image.open(fh) as im:
        return np.asarray(im.convert("RGB"))


def photo_frames(
    photo: np.ndarray, *, frames: int, zoom: tuple[float, float] = (1.0, 1.15), jitter: float = 0.0, seed: int = 0
) -> FrameSource:
    """Frames of a slow zoom into ``photo`` (a steady camera), optionally with random jitter of
    ``jitter`` pixels (a shaky one). The window keeps the output's aspect, centred on the photo."""
    from PIL import Image

    source = Image.fromarray(photo, "RGB")
    ph, pw = photo.shape[:2]
    offsets = np.random.default_rng(seed).normal(0.0, jitter, size=(frames, 2)) if jitter else np.zeros((frames, 2))

    def draw(index: int, width: int, height: int) -> np.ndarray:
        t = index / max(1, frames - 1)
        scale = zoom[0] + (zoom[1] - zoom[0]) * t
        win_w = min(pw, ph * width / height) / scale
        win_h = win_w * height / width
        cx = pw / 2 + offsets[min(index, frames - 1), 0]
        cy = ph / 2 + offsets[min(index, frames - 1), 1]
        x0 = float(np.clip(cx - win_w / 2, 0, pw - win_w))
        y0 = float(np.clip(cy - win_h / 2, 0, ph - win_h))
        box = (x0, y0, x0 + win_w, y0 + win_h)
        return np.asarray(source.resize((width, height), Image.Resampling.BILINEAR, box=box))

    return draw


# --- HDR ----------------------------------------------------------------------------------------

COLOR_CHECKER = (
    (115, 82, 68), (194, 150, 130), (98, 122, 157), (87, 108, 67), (133, 128, 177), (103, 189, 170),
    (214, 126, 44), (80, 91, 166), (193, 90, 99), (94, 60, 108), (157, 188, 64), (224, 163, 46),
    (56, 61, 150), (70, 148, 73), (175, 54, 60), (231, 199, 31), (187, 86, 149), (8, 133, 161),
    (243, 243, 242), (200, 200, 200), (160, 160, 160), (122, 122, 121), (85, 85, 85), (52, 52, 52),
)  # fmt: skip
"""The 24 patches of the X-Rite ColorChecker Classic in sRGB (BabelColor's published averages):
skin, sky, foliage, the saturated primaries and secondaries a camera meets, and a grey row."""


def color_card(width: int = 640, height: int = 360) -> np.ndarray:
    """An SDR test picture (RGB uint8): the astronaut on the left (skin, a saturated orange suit, the
    flag), the ColorChecker's 24 patches on the right and a grey ramp from black to white (255:
    SDR's brightest) along the bottom right."""
    from PIL import Image

    side = min(height, width // 2)
    card = np.zeros((height, width, 3), np.uint8)
    card[:side, :side] = np.asarray(Image.fromarray(sample_photo()).resize((side, side), Image.Resampling.LANCZOS))
    x0, right = side, width - side
    top = height * 3 // 4
    for i, rgb in enumerate(COLOR_CHECKER):
        row, col = divmod(i, 6)
        ys = slice(row * top // 4, (row + 1) * top // 4)
        card[ys, x0 + col * right // 6 : x0 + (col + 1) * right // 6] = rgb
    card[top:, x0:] = np.round(np.linspace(0, 255, right))[None, :, None].astype(np.uint8)
    return card


HDR_TRANSFERS = {"HLG": 18, "PQ": 16, "BT.2020 SDR": 14}
"""FFmpeg's AVColorTransferCharacteristic for each kind :func:`make_hdr_clip` writes."""


def make_hdr_clip(
    path: str | os.PathLike[str],
    *,
    transfer: str = "HLG",
    duration: float = 1.0,
    width: int = 640,
    height: int = 360,
    fps: float = 25,
    frames: FrameSource | None = None,
    highlight: tuple[int, int, int, int] | None = None,
    max_cll: int | None = None,
    crf: int = 16,
    bitrate: int | None = None,
) -> Path:
    """An HEVC Main 10 clip (libx265, yuv420p10le) in BT.2020, tagged ``transfer`` (``HLG``, ``PQ`` or
    ``BT.2020 SDR``), made from SDR frames by BT.2408's display-light mapping
    (:func:`preflight.color.curves.hdr_from_sdr`): SDR white lands at reference white, 75% HLG or
    203 cd/m2 PQ, as a phone's or an editor's SDR->HDR conversion puts it.

    ``frames`` draws SDR RGB frames (default: :func:`color_card`, still). ``highlight`` (x, y, w, h)
    is a box made brighter than any SDR white: the HDR peak (1000 cd/m2, 100% HLG), as a lamp or
    the sun would be. ``max_cll`` writes HDR10 light-level and mastering-display metadata (PQ).
    ``bitrate`` (bits/s) replaces the constant quality ``crf``: phones record 4K HLG at about 40 Mb/s.
    """
    import av

    from .color.curves import HLG_NOMINAL_PEAK, hdr_from_sdr, hlg_oetf, pq_inverse_eotf

    path = Path(path)
    code = HDR_TRANSFERS[transfer]
    rate = Fraction(fps).limit_denominator(1001)
    count = max(1, round(duration * float(rate)))
    card = color_card(width, height) if frames is None else None
    kbps = (bitrate or 0) // 1000
    rate_control = f"crf={crf}" if bitrate is None else f"bitrate={kbps}:vbv-maxrate={kbps}:vbv-bufsize={kbps}"
    params = [
        "log-level=error", rate_control, "colorprim=bt2020", "colormatrix=bt2020nc", "range=limited",
        "transfer=" + {18: "arib-std-b67", 16: "smpte2084", 14: "bt2020-10"}[code],
    ]  # fmt: skip
    if count < 4:
        # x265 learns its B-frame delay from the frame after the delay; a clip shorter than that
        # gets a DTS offset from uninitialized memory (garbage DTS, the muxer then fails at random).
        params.append("bframes=0")
    if max_cll is not None:
        params.append(f"max-cll={max_cll},{max_cll // 4}")
        params.append("master-display=G(8500,39850)B(6550,2300)R(35400,14600)WP(15635,16450)L(10000000,1)")
    if highlight is not None and transfer != "BT.2020 SDR":
        peak = hlg_oetf(np.array(1.0)) if transfer == "HLG" else pq_inverse_eotf(np.array(HLG_NOMINAL_PEAK))
    previous: tuple[np.ndarray, np.ndarray] | None = None
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx265", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p10le"
        stream.options = {"preset": "ultrafast", "x265-params": ":".join(params)}
        ctx = stream.codec_context
        ctx.color_primaries, ctx.color_trc, ctx.colorspace, ctx.color_range = 9, code, 9, 1
        for index in range(count):
            sdr = card if card is not None else frames(index, width, height)  # type: ignore[misc]
            if previous is not None and previous[0] is sdr:
                signal = previous[1]  # a still: convert once
            else:
                signal = hdr_from_sdr(sdr.astype(np.float64) / 255.0, transfer)
                if highlight is not None and transfer != "BT.2020 SDR":
                    x, y, w, h = highlight
                    signal[y : y + h, x : x + w] = peak
                previous = (sdr, signal)
            rgb48 = np.round(signal * 65535).astype(np.uint16)
            frame = av.VideoFrame.from_ndarray(rgb48, format="rgb48le")
            frame = frame.reformat(format="yuv420p10le", dst_colorspace="BT2020", dst_color_range="MPEG")
            frame.color_primaries, frame.color_trc = 9, code
            frame.pts = index
            frame.time_base = 1 / rate
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def make_hdr_image(
    path: str | os.PathLike[str],
    *,
    transfer: str = "PQ",
    format: str = "heic",
    width: int = 640,
    height: int = 360,
    pixels: np.ndarray | None = None,
) -> Path:
    """An HDR still from an SDR sRGB picture (default :func:`color_card`), SDR white at reference white,
    tagged with its colour description: ``heic`` (10-bit HEVC, nclx, by pillow-heif), ``avif`` (10-bit
    AV1, ``colr`` nclx, by PyAV's SVT-AV1 and avif muxer) or ``png`` (8-bit with a ``cICP`` chunk, by
    Pillow)."""
    from .color.curves import hdr_from_sdr

    path = Path(path)
    sdr = color_card(width, height) if pixels is None else pixels
    height, width = sdr.shape[:2]
    signal = hdr_from_sdr(sdr.astype(np.float64) / 255.0, transfer, srgb=True)
    code = HDR_TRANSFERS[transfer]
    if format == "heic":
        import pillow_heif

        data = np.round(signal * 65535).astype(np.uint16)
        heif = pillow_heif.from_bytes(mode="RGB;16", size=(width, height), data=data.tobytes())
        heif.info["nclx_profile"] = {
            "color_primaries": 9, "transfer_characteristics": code, "matrix_coefficients": 9, "full_range_flag": 0,
        }  # fmt: skip
        heif.save(path, quality=90)
    elif format == "avif":
        import av

        rgb48 = np.round(signal * 65535).astype(np.uint16)
        with av.open(str(path), "w", format="avif") as out:
            stream = out.add_stream("libsvtav1", rate=1)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p10le"
            ctx = stream.codec_context
            ctx.color_primaries, ctx.color_trc, ctx.colorspace, ctx.color_range = 9, code, 9, 1
            stream.options = {"crf": "20", "preset": "10", "svtav1-params": "enable-stat-report=0:lp=1"}
            frame = av.VideoFrame.from_ndarray(rgb48, format="rgb48le")
            frame = frame.reformat(format="yuv420p10le", dst_colorspace="BT2020", dst_color_range="MPEG")
            frame.color_primaries, frame.color_trc, frame.pts = 9, code, 0
            out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
    elif format == "png":
        from PIL import Image, PngImagePlugin

        info = PngImagePlugin.PngInfo()
        info.add(b"cICP", bytes([9, code, 0, 1]))  # BT.2020, the curve, RGB, full range
        Image.fromarray(np.round(signal * 255).astype(np.uint8), "RGB").save(path, format="PNG", pnginfo=info)
    else:
        raise ValueError(f"format must be heic, avif or png, not {format!r}")
    return path
