"""Tell what a file is from its first bytes, never from its name.

The signatures are the formats' own magic numbers (ISO BMFF ``ftyp`` brands, EBML, RIFF forms...).
Only the role (image, video, audio) and a format name come out of here; the probe does the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SNIFF_BYTES = 64

Kind = Literal["image", "video", "audio", "unknown"]

# ISO BMFF major/compatible brands that mean a still image (HEIF family) rather than a movie.
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P "}


@dataclass(frozen=True)
class Sniffed:
    kind: Kind
    format: str
    """Short format name: ``jpeg``, ``png``, ``mp4``, ``mov``, ``matroska``, ``webm``..."""


def sniff(head: bytes) -> Sniffed:
    """Classify a file by its first :data:`SNIFF_BYTES` bytes."""
    for test in (_image, _iso_bmff, _other_video, _audio):
        found = test(head)
        if found is not None:
            return found
    return Sniffed("unknown", "unknown")


def _image(head: bytes) -> Sniffed | None:
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed("image", "jpeg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("image", "png")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Sniffed("image", "gif")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("image", "webp")
    if head[:2] == b"BM" and len(head) >= 26:
        return Sniffed("image", "bmp")
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return Sniffed("image", "tiff")
    return None


def _iso_bmff(head: bytes) -> Sniffed | None:
    if head[4:8] == b"ftyp":
        size = int.from_bytes(head[:4], "big")
        major = head[8:12]
        brands = {major} | {head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
        still = brands & {b"mif1", b"msf1"} and not brands & {b"isom", b"mp41", b"mp42"}
        if major in _HEIF_BRANDS or still:
            return Sniffed("image", "avif" if major in (b"avif", b"avis") else "heic")
        if major in _AUDIO_BRANDS:
            return Sniffed("audio", "m4a")
        return Sniffed("video", "mov" if major == b"qt  " else "mp4")
    # QuickTime files from old tools may start straight with a moov/mdat/wide/free atom.
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return Sniffed("video", "mov")
    return None


def _other_video(head: bytes) -> Sniffed | None:
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return Sniffed("video", "webm" if b"webm" in head else "matroska")
    if head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"AVIX"):
        return Sniffed("video", "avi")
    if head.startswith(b"FLV"):
        return Sniffed("video", "flv")
    if head.startswith(b"\x00\x00\x01\xba"):
        return Sniffed("video", "mpeg")
    if len(head) >= 1 and head[0] == 0x47 and (len(head) < 189 or head[188] == 0x47):
        # A lone 0x47 is weak evidence; the probe confirms with FFmpeg before trusting it.
        return Sniffed("video", "mpegts")
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return Sniffed("video", "asf")
    return None


def _audio(head: bytes) -> Sniffed | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return Sniffed("audio", "wav")
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return Sniffed("audio", "mp3")
    if head.startswith(b"fLaC"):
        return Sniffed("audio", "flac")
    if head.startswith(b"OggS"):
        # Ogg may carry Theora video; FFmpeg decides.
        return Sniffed("video", "ogg")
    return None
