"""Probe a file: what it really is, as a provider will see it.

Reads headers only. A clip's display matrix comes from its MP4/MOV boxes (:mod:`preflight.media.isobmff`)
or its Matroska/WebM track header (:mod:`preflight.media.matroska`): PyAV exposes it on decoded frames
only. The first frame is decoded only where the headers cannot say: an HDR10 (PQ) clip's peak
luminance, and the rotation of other containers.
Readable here means a video stream with at least one packet; the content check decodes it all.
Images are checked for corruption cheaply: JPEG decodes at 1/8 scale, PNG verifies its chunk CRCs.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from fractions import Fraction
from pathlib import Path

from ..color.graph import peak_luminance
from ..color.photo import still_color
from ..errors import ProbeError, map_av_errors, memory_exhausted
from ..inputs import open_regular
from ..models import AudioStream, ImageDetails, MediaInfo, VideoStream
from .h264sps import SpsFacts, sps_facts
from .isobmff import IDENTITY, display_matrix, movie_duration
from .isobmff import rotation as matrix_rotation
from .matroska import display_matrix as matroska_display_matrix
from .nal import length_size as nal_length_size
from .nal import sei_display_matrix
from .sniff import SNIFF_BYTES, Sniffed, sniff

__all__ = ["MAX_IMAGE_PIXELS", "open_for_packets", "probe"]

MAX_IMAGE_PIXELS = 178_956_970
"""Largest image (pixels) preflight will decode: Pillow's own decompression-bomb error threshold
(2x its 89.5 MP warning level). A 40000x40000 PNG of a few kB would need 4.8 GB as RGB."""

_VFR_TOLERANCE = 0.01
"""Average and base frame rates further apart than 1% mean variable frame timing (a phone's
29.97 vs 30 nominal differs by 0.1%)."""

_pillow_lock = threading.Lock()

_HDR_TRANSFERS = {16: "PQ", 18: "HLG"}
"""FFmpeg's AVColorTransferCharacteristic values of the HDR curves: SMPTE ST 2084 and ARIB STD-B67."""

# FFmpeg's names (as ffprobe prints them) for the colour code points of ISO/IEC 23091-2 / H.273,
# which AVColorPrimaries, AVColorTransferCharacteristic, AVColorSpace and AVColorRange use as values.
# 0 (reserved), 2 (unspecified) and unknown values give None.
_PRIMARIES = {
    1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "film", 9: "bt2020",
    10: "smpte428", 11: "smpte431", 12: "smpte432", 22: "ebu3213",
}  # fmt: skip
_TRANSFERS = {
    1: "bt709", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m", 8: "linear", 9: "log100",
    10: "log316", 11: "iec61966-2-4", 12: "bt1361e", 13: "iec61966-2-1", 14: "bt2020-10", 15: "bt2020-12",
    16: "smpte2084", 17: "smpte428", 18: "arib-std-b67",
}  # fmt: skip
_MATRICES = {
    0: "gbr", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "ycgco", 9: "bt2020nc",
    10: "bt2020c", 11: "smpte2085", 12: "chroma-derived-nc", 13: "chroma-derived-c", 14: "ictcp",
}  # fmt: skip
_RANGES = {1: "tv", 2: "pc"}


def open_for_packets(path: str | os.PathLike[str]):  # type: ignore[no-untyped-def]
    """An open PyAV container for reading a clip's packets, to copy them or to feed a decoder of our own
    (the content check's): MP4/MOV open headers-only (their sample tables hold every time a copy or
    the decode loop needs; the full stream analysis decodes pictures with a decoder of its own that
    nothing else uses, 10-20 ms a file at 1080p, 55-65 ms before a content check's decode on 2 busy
    cores), anything else as usual. Not Matroska: it stores no decode times, and FFmpeg infers them
    from the reordering depth the full analysis measures (headers-only, the first packets of a clip
    with B-frames get impossible ones, and its start time moves)."""
    import av

    p = Path(path)
    kind = sniff(_read_head(p))
    if kind.format in ("mp4", "mov"):
        return av.open(str(p), metadata_errors="ignore", options=_HEADERS_ONLY)
    return av.open(str(p), metadata_errors="ignore")


def probe(path: str | os.PathLike[str]) -> MediaInfo:
    """Describe the media in ``path``; raise :class:`ProbeError` with a finding code if it isn't any."""
    p = Path(path)
    head = _read_head(p)
    kind = sniff(head)
    if kind.kind == "image":
        return _probe_image(p, kind, head)
    if kind.kind == "audio":
        raise ProbeError(
            f"{p}: no video stream: this is an audio-only {kind.format} file", "video.missing_stream"
        )
    if kind.kind == "video":
        return _probe_clip(p, kind)
    # Unknown magic: let Pillow, then FFmpeg, have a go before giving up.
    try:
        return _probe_image(p, Sniffed("image", "unknown"), head)
    except ProbeError:
        pass
    try:
        return _probe_clip(p, Sniffed("video", "unknown"))
    except ProbeError as exc:
        if exc.code in ("video.missing_stream", "file.truncated"):
            raise
    raise ProbeError(f"{p}: not an image or video file preflight can read", "format.unrecognized")


def _read_head(p: Path) -> bytes:
    # Regular files only: a FIFO named clip.mp4 would block the read forever (file.special).
    with open_regular(p) as fh:
        try:
            head = fh.read(SNIFF_BYTES)
        except OSError as exc:
            raise ProbeError(f"{p}: cannot read: {exc.strerror or exc}", "file.unreadable") from exc
    if not head:
        raise ProbeError(f"{p}: file is empty (0 bytes)", "file.empty")
    return head


# --- images -----------------------------------------------------------------------------------


def _probe_image(p: Path, kind: Sniffed, head: bytes) -> MediaInfo:
    from PIL import Image, UnidentifiedImageError

    _register_heif()
    try:
        with _pillow_lock, warnings.catch_warnings():
            # Opening reads the header only; the bomb guard is ours (MAX_IMAGE_PIXELS), applied below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                im = Image.open(p)
            finally:
                Image.MAX_IMAGE_PIXELS = saved
    except UnidentifiedImageError as exc:
        if kind.format in ("heic", "avif"):
            raise ProbeError(
                f"{p}: {kind.format.upper()} image, which this Pillow cannot read "
                "(pip install pillow-heif adds it)",
                "format.unsupported",
            ) from exc
        if kind.format != "unknown":  # the magic says image, the header does not parse
            raise ProbeError(f"{p}: corrupt {kind.format.upper()} header", "decode.error") from exc
        raise ProbeError(f"{p}: not an image preflight can read", "format.unrecognized") from exc
    except OSError as exc:
        raise ProbeError(f"{p}: unreadable image header: {exc}", "decode.error") from exc
    with im:
        fmt = (im.format or kind.format).lower()
        if fmt == "mpo":  # camera JPEGs with an extra preview frame: a JPEG to every decoder
            fmt = "jpeg"
        elif fmt == "heif" and kind.format in ("heic", "avif"):
            fmt = kind.format  # pillow-heif says HEIF for both; the ftyp brand tells them apart
        coded_w, coded_h = im.size
        frames = _frame_count(im) if fmt != "jpeg" else 1
        orientation = _exif_orientation(im)
        mode = im.mode
        has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
        bit_depth = _image_bit_depth(mode, fmt, head)
        color_profile = non_srgb_profile(im.info.get("icc_profile"))
        described = still_color(im, fmt, p) if fmt in ("heic", "avif", "heif", "png") else None
        if coded_w * coded_h <= MAX_IMAGE_PIXELS:
            _verify_image(im, fmt, p)
    width, height = (coded_h, coded_w) if orientation in (5, 6, 7, 8) else (coded_w, coded_h)
    details = ImageDetails(
        mode=mode,
        bit_depth=bit_depth,
        has_alpha=has_alpha,
        coded_width=coded_w,
        coded_height=coded_h,
        exif_orientation=orientation,
        frames=frames,
        color_profile=color_profile,
        hdr=_HDR_TRANSFERS.get(described[1]) if described else None,  # type: ignore[arg-type]
        color_primaries=_PRIMARIES.get(described[0]) if described else None,  # type: ignore[arg-type]
    )
    return MediaInfo(
        path=str(p),
        role="image",
        format=fmt,
        extension=p.suffix.lower().lstrip("."),
        file_size=p.stat().st_size,
        width=width,
        height=height,
        image=details,
    )


def non_srgb_profile(icc: bytes | None) -> str | None:
    """The ICC profile's description when it is not sRGB; None for sRGB, no profile or a broken one."""
    if not icc:
        return None
    from PIL import ImageCms

    try:
        description = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).strip()
    except (ImageCms.PyCMSError, OSError, TypeError):
        return None
    return None if "srgb" in description.lower().replace(" ", "") else (description or "unnamed ICC profile")


def _register_heif() -> None:
    try:
        from pillow_heif import register_heif_opener  # optional: HEIC/AVIF from phones
    except ImportError:
        return
    register_heif_opener()


def _frame_count(im) -> int:  # type: ignore[no-untyped-def]
    if not getattr(im, "is_animated", False):
        return 1
    return int(getattr(im, "n_frames", 1))


def _exif_orientation(im) -> int:  # type: ignore[no-untyped-def]
    from PIL import Image

    try:
        if im.format == "PNG":
            # PNG's getexif() decodes the whole image to look for an eXIf chunk after the pixels:
            # a bomb's worth of memory. Only the chunk seen before the image data counts here.
            exif = Image.Exif()
            if "exif" in im.info:
                exif.load(im.info["exif"])
        else:
            exif = im.getexif()
        value = exif.get(0x0112, 1)
    except Exception:  # a malformed EXIF block must not hide the image itself
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _image_bit_depth(mode: str, fmt: str, head: bytes) -> int:
    if fmt == "png" and len(head) > 24:
        return head[24]  # IHDR bit depth: Pillow reads 16-bit RGB PNGs as 8-bit RGB
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return 16
    if mode in ("I", "F"):
        return 32
    return 1 if mode == "1" else 8


def _verify_image(im, fmt: str, p: Path) -> None:  # type: ignore[no-untyped-def]
    """Prove the pixel data is readable, cheaply: a corrupt upload fails at the provider too."""
    try:
        if fmt == "jpeg":
            im.draft("RGB", (max(1, im.width // 8), max(1, im.height // 8)))
            im.load()
        elif fmt == "png":
            from PIL import Image

            # verify() must come straight after open(): reading EXIF above used this handle.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(p) as fresh:
                    fresh.verify()
        else:
            im.load()
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError... for bad data
        raise ProbeError(f"{p}: corrupt {fmt.upper()} image data: {exc}", "decode.error") from exc


# --- clips ------------------------------------------------------------------------------------

TEXT_DEMUXERS = frozenset({"tty", "lrc", "srt", "ass", "webvtt", "subviewer", "subviewer1", "jacosub", "mpl2",
                           "mpsub", "pjs", "realtext", "sami", "stl", "vplayer", "microdvd", "aqtitle", "scc",
                           "subrip", "txt"})  # fmt: skip
"""FFmpeg demuxers that take any text file (``tty`` renders text as an ANSI "video", ``lrc`` reads
lyrics): a file whose bytes no magic number names is refused rather than judged as such a clip."""


def _probe_clip(p: Path, kind: Sniffed) -> MediaInfo:
    import av

    try:
        container, facts = _open_clip(p, kind)
    except av.InvalidDataError as exc:
        if kind.format in ("mp4", "mov"):
            raise ProbeError(
                f"{p}: incomplete {kind.format.upper()} (no movie header: the file was cut off "
                "while being written or copied)",
                "file.truncated",
            ) from exc
        raise ProbeError(f"{p}: not a media file FFmpeg can read", "format.unrecognized") from exc
    except av.FFmpegError as exc:
        if isinstance(exc, MemoryError):  # ENOMEM: the machine, not the file
            raise memory_exhausted(exc, p) from exc
        raise ProbeError(f"{p}: cannot open: {exc}", "decode.error") from exc
    with container:
        fmt = kind.format if kind.format != "unknown" else container.format.name.split(",")[0]
        if kind.format == "unknown" and fmt in TEXT_DEMUXERS:
            raise ProbeError(f"{p}: not an image or video file preflight can read", "format.unrecognized")
        video_stream = next(
            (s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic),
            None,
        )
        if video_stream is None:
            raise ProbeError(f"{p}: no video stream in this {fmt} file", "video.missing_stream")
        with map_av_errors(str(p)):
            video = _describe_video(container, video_stream, p, facts)
        audio = tuple(_describe_audio(container, s) for s in container.streams.audio)
        duration = _container_duration(container)
        header_duration = _disagreeing_header(container, p, duration, video.fps)
        bitrate = container.bit_rate or None
        _check_complete(video_stream, p)  # index entries live in the open container
    width, height = video.width, video.height
    return MediaInfo(
        path=str(p),
        role="video",
        format=fmt,
        extension=p.suffix.lower().lstrip("."),
        file_size=p.stat().st_size,
        width=width,
        height=height,
        duration=duration,
        header_duration=header_duration,
        bitrate=bitrate,
        video=video,
        audio=audio,
    )


def _open_clip(p: Path, kind: Sniffed):  # type: ignore[no-untyped-def]
    """The open container, and the H.264 SPS facts that stand in for its decoder's when the header
    fast path was taken. MP4/MOV and Matroska/WebM open with ``skip_frame=all``: FFmpeg's stream
    analysis then decodes no picture (it decodes a whole H.264 frame otherwise, 6-120 ms, only to learn
    the pixel format; see :mod:`preflight.media.h264sps`). A first video stream the fast open left without a
    pixel format that the SPS cannot give is opened again as before."""
    import av

    if kind.format not in ("mp4", "mov", "matroska", "webm"):
        return av.open(str(p), metadata_errors="ignore"), None
    container = av.open(str(p), metadata_errors="ignore", options=_HEADERS_ONLY)
    stream = next((s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic), None)
    if stream is None:
        return container, None
    ctx = stream.codec_context
    facts = None
    if not ctx.pix_fmt and ctx.name == "h264":
        facts = sps_facts(ctx.extradata, ctx.color_range, ctx.color_primaries, ctx.color_trc, ctx.colorspace)
    # The one-packet analysis holds when the header has it all: a sample table (not a fragmented
    # file), a base rate from regular frame timing (FFmpeg estimates an irregular one from ~20
    # packets' times; short of packets it falls back to 1/time base, which is no rate), and a pixel
    # format (HEVC's from its hvcC) or the SPS's. Otherwise: the full analysis, as before.
    header_rate = stream.base_rate and stream.time_base and stream.base_rate != 1 / stream.time_base
    # Matroska keeps no frame count (FFmpeg's full open has none either) and gives the rate from the
    # track's DefaultDuration; its other facts are in the track and segment headers.
    whole = stream.frames or kind.format in ("matroska", "webm")
    if whole and header_rate and (ctx.pix_fmt or facts is not None):
        return container, facts
    container.close()
    return av.open(str(p), metadata_errors="ignore"), None


_HEADERS_ONLY = {"skip_frame": "all", "probesize": "32"}
"""Options of FFmpeg's stream analysis at open: parse headers, decode no picture (``skip_frame``),
and stop after the first packet (``probesize``, in bytes; 32 is FFmpeg's minimum): with no pixel
format coming, FFmpeg would otherwise read 5 MB of packets waiting for one. An MP4/MOV header
gives everything else (sizes, rates of regularly timed clips, durations, index, audio format)."""


def _describe_video(container, stream, p: Path, facts: SpsFacts | None = None) -> VideoStream:  # type: ignore[no-untyped-def]
    import av

    ctx = stream.codec_context
    pix_fmt, trc, primaries, colorspace, color_range = (
        (ctx.pix_fmt, ctx.color_trc, ctx.color_primaries, ctx.colorspace, ctx.color_range)
        if facts is None
        else (facts.pix_fmt, facts.color_trc, facts.color_primaries, facts.colorspace, facts.color_range)
    )
    hdr = _HDR_TRANSFERS.get(trc)
    profile = (facts.profile if facts is not None else None) or stream.profile or None
    peak = None
    if hdr == "PQ":  # decoded for its peak luminance: the frame's own matrix is the rotation too
        rotation, peak = _first_frame(container, stream, p)
    else:
        rotation = _header_rotation(container, stream, p)
        if rotation is None:
            rotation = _first_frame(container, stream, p)[0]
    coded_w, coded_h = ctx.width, ctx.height
    sar = stream.sample_aspect_ratio
    # Non-square pixels (anamorphic video): players widen the frame by the sample aspect ratio.
    sample_aspect = f"{sar.numerator}:{sar.denominator}" if sar and sar != 1 else None
    shown_w = round(coded_w * sar) if sample_aspect else coded_w
    width, height = (coded_h, shown_w) if rotation in (90, 270) else (shown_w, coded_h)
    bit_depth = None
    if pix_fmt:
        try:
            bit_depth = av.VideoFormat(pix_fmt).components[0].bits
        except (ValueError, IndexError):
            bit_depth = None
    avg, base = _rate(stream.average_rate), _rate(stream.base_rate or stream.guessed_rate)
    return VideoStream(
        codec=ctx.name,
        profile=profile,
        pix_fmt=pix_fmt,
        bit_depth=bit_depth,
        coded_width=coded_w,
        coded_height=coded_h,
        width=width,
        height=height,
        rotation=rotation,
        fps=avg or base,
        base_fps=base,
        variable_fps=bool(avg and base and abs(avg - base) / base > _VFR_TOLERANCE),
        frames=stream.frames or None,
        bitrate=ctx.bit_rate or None,
        duration=_track_seconds(container, stream),
        sample_aspect=sample_aspect,
        hdr=hdr,
        color_primaries=_PRIMARIES.get(primaries),
        color_transfer=_TRANSFERS.get(trc),
        color_matrix=_MATRICES.get(colorspace) if colorspace != 0 or _is_rgb(pix_fmt) else None,
        color_range=_RANGES.get(color_range) or ("pc" if (pix_fmt or "").startswith("yuvj") else None),
        peak_luminance=peak if hdr == "PQ" else None,
    )


def _is_rgb(pix_fmt: str | None) -> bool:
    return bool(pix_fmt) and pix_fmt.startswith(("gbr", "rgb", "bgr", "argb", "abgr", "rgba", "bgra"))


def _header_rotation(container, stream, p: Path) -> int | None:  # type: ignore[no-untyped-def]
    """Clockwise display rotation from the MP4/MOV boxes or the Matroska/WebM track header (and an
    H.264/HEVC orientation SEI in the first packet), once the stream is shown to hold a packet
    (:func:`_require_a_packet`, the no-decode stand-in for "the first frame decodes"). None for other
    containers and for headers the readers do not vouch for: nothing was demuxed then, and the first
    frame decides."""
    names = container.format.name.split(",")
    if "mov" in names:
        matrix = _mov_matrix(container, stream, p)
    elif "matroska" in names or "webm" in names:
        matrix = _matroska_matrix(container, stream, p)
    else:
        return None
    return None if matrix is None else matrix_rotation(matrix)


def _mov_matrix(container, stream, p: Path) -> tuple[int, ...] | None:  # type: ignore[no-untyped-def]
    video_index = list(container.streams.video).index(stream)
    with open(p, "rb", buffering=0) as fh:
        matrix = display_matrix(fh, os.fstat(fh.fileno()).st_size, stream.id, video_index)
        if matrix == IDENTITY:  # FFmpeg exports no identity matrix: a bitstream SEI may then say
            matrix = _sei_matrix(fh, stream) or IDENTITY
    if matrix is not None:
        _require_a_packet(container, stream, p)
    return matrix


def _matroska_matrix(container, stream, p: Path) -> tuple[int, ...] | None:  # type: ignore[no-untyped-def]
    video_index = list(container.streams.video).index(stream)
    with open(p, "rb", buffering=0) as fh:
        matrix = matroska_display_matrix(fh, os.fstat(fh.fileno()).st_size, video_index)
    codec = stream.codec_context.name
    if matrix is None or (matrix == IDENTITY and codec == "vvc"):
        return None  # VVC's decoder applies an orientation SEI too, which nal.py does not read
    if matrix != IDENTITY or codec not in ("h264", "hevc"):
        _require_a_packet(container, stream, p)
        return matrix
    # No container matrix: the decoder applies an orientation SEI. Matroska's index entries (its Cues)
    # give a Cluster's position and no size, not the packet's, so the SEI is read from the first packet
    # demuxed, the one _require_a_packet demuxes anyway for want of a sized index entry.
    first = _require_a_packet(container, stream, p)
    if first is None:
        return None  # an index vouched for a packet, none was demuxed: the first frame will say
    return _packet_sei_matrix(stream, bytes(memoryview(first)[:_FIRST_PACKET_READ])) or IDENTITY


_FIRST_PACKET_READ = 1 << 16
"""Bytes of the first video packet read for its SEI messages (they precede the picture's slices;
an x264 stream's first SEI, its settings string, is under 1 kB)."""


def _sei_matrix(fh, stream) -> tuple[int, ...] | None:  # type: ignore[no-untyped-def]
    """The display matrix of an orientation SEI in the first H.264/HEVC packet (:mod:`preflight.media.nal`),
    read through the index without demuxing; None without one."""
    entries = stream.index_entries
    if stream.codec_context.name not in ("h264", "hevc") or not entries:
        return None
    first = entries[0]
    if first.pos < 0 or first.size <= 0:  # an index entry without a place in the file
        return None
    fh.seek(first.pos)
    return _packet_sei_matrix(stream, fh.read(min(first.size, _FIRST_PACKET_READ)))


def _packet_sei_matrix(stream, data: bytes) -> tuple[int, ...] | None:  # type: ignore[no-untyped-def]
    ctx = stream.codec_context
    if ctx.name not in ("h264", "hevc"):
        return None
    size_bytes = nal_length_size(ctx.name, bytes(ctx.extradata or b""))
    if size_bytes is None:
        return None
    return sei_display_matrix(ctx.name, data, size_bytes)


_PACKETS_TO_FIRST_VIDEO = 1000
"""Packets demuxed at most looking for the first video packet of a file without an index (other
streams' packets may come first): a stream with none in that many is as good as empty."""


def _require_a_packet(container, stream, p: Path):  # type: ignore[no-untyped-def]
    """The no-decode stand-in for "the first frame decodes": the video stream has a packet with
    data (an index entry, or one demuxed). Damaged frame data is the content check's to find.
    Returns the packet demuxed, None when the index said."""
    entries = stream.index_entries
    if entries is not None and any(entries[i].size > 0 for i in range(min(len(entries), 16))):
        return None
    for n, packet in enumerate(container.demux(stream)):
        if packet.stream is stream and packet.size:
            return packet
        if n >= _PACKETS_TO_FIRST_VIDEO:
            break
    raise ProbeError(f"{p}: the video stream holds no frame", "decode.error")


def _first_frame(container, stream, p: Path) -> tuple[int, float | None]:  # type: ignore[no-untyped-def]
    """Clockwise display rotation, read from the first decoded frame's display matrix, and the HDR
    peak luminance from its side data (FFmpeg exposes neither on the stream)."""
    stream.thread_type = "SLICE"  # frame threading would buffer several packets before one frame
    stream.codec_context.skip_frame = "DEFAULT"  # the container may have been opened headers-only
    for packet in container.demux(stream):
        for frame in packet.decode():
            return (-round(frame.rotation / 90) * 90) % 360, peak_luminance(frame)
    raise ProbeError(f"{p}: the video stream holds no decodable frame", "decode.error")


def _describe_audio(container, stream) -> AudioStream:  # type: ignore[no-untyped-def]
    ctx = stream.codec_context
    return AudioStream(
        codec=ctx.name,
        sample_rate=ctx.sample_rate or None,
        channels=ctx.channels or None,
        bitrate=ctx.bit_rate or None,
        duration=_track_seconds(container, stream),
    )


def _track_seconds(container, stream) -> float | None:  # type: ignore[no-untyped-def]
    """A stream's own duration. Matroska has none per track: FFmpeg copies the segment's into every
    stream when its analysis stops early (the headers-only open) and leaves it unset otherwise (as
    ffprobe shows it); unset either way, so both opens say the same. The clip's duration is the
    container's."""
    if "matroska" in container.format.name.split(","):
        return None
    return _seconds(stream.duration, stream.time_base)


def _container_duration(container) -> float | None:  # type: ignore[no-untyped-def]
    if container.duration is not None and container.duration > 0:
        return container.duration / 1_000_000
    spans = [_seconds(s.duration, s.time_base) for s in container.streams]
    spans = [s for s in spans if s]
    return max(spans) if spans else None


HEADER_TOLERANCE = 0.1
"""Seconds (or two frames, when longer) a movie header may differ from its streams before it counts as
a lie: a real file's ``mvhd`` is its longest track, edit lists applied, to the millisecond."""


def _disagreeing_header(container, p: Path, duration: float | None, fps: float | None) -> float | None:  # type: ignore[no-untyped-def]
    """The duration an MP4/MOV movie header claims, when it disagrees with the streams' (FFmpeg's
    ``duration``, from the tracks): a provider's ffprobe reads the header's. None when they agree."""
    if duration is None or "mov" not in container.format.name.split(","):
        return None
    with open(p, "rb", buffering=0) as fh:
        claimed = movie_duration(fh, os.fstat(fh.fileno()).st_size)
    tolerance = max(HEADER_TOLERANCE, 2 / fps if fps else 0.0)
    return claimed if claimed is not None and abs(claimed - duration) > tolerance else None


def _check_complete(stream, p: Path) -> None:  # type: ignore[no-untyped-def]
    """A file whose index points past its end was cut off: the tail frames do not exist."""
    entries = stream.index_entries
    if entries is None or len(entries) == 0:
        return
    last = entries[len(entries) - 1]
    end = last.pos + last.size
    size = p.stat().st_size
    if last.pos >= 0 and end > size:
        raise ProbeError(
            f"{p}: truncated: the index needs {end} bytes but the file has {size}",
            "file.truncated",
        )


def _rate(value: Fraction | None) -> float | None:
    return float(value) if value else None


def _seconds(duration: int | None, time_base: Fraction | None) -> float | None:
    if duration is None or time_base is None or duration <= 0:
        return None
    return float(duration * time_base)
