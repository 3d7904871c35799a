"""What the page says: findings, fix actions and errors in plain words that name the page's own controls.

The API keeps every code and message as the CLI writes them (scripts match on them); the page shows
these words instead, next to what they concern. Rules, checked by the tests on every text the page shows:

- no command-line flags: the page names its controls ("move the window", orientation "follow the photo");
- no server paths (a message naming ``$TMPDIR/preflight-serve-…/bundle/image.png`` says ``image.png``);
- no encoder names for what a creator can say in words (``yuv420p10le`` is "10-bit 4:2:0").

Most messages are plain already: they go through :func:`plain`, which rewrites the few phrases that name
flags, then any flag or path left. Codes whose message cannot be mended that way get their own sentence
(:data:`_OWN_WORDS`). Fix's actions are described from their first word, which never changes
(:mod:`preflight.fix.ops`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = [
    "ORIENTATION_WORDS",
    "action_text",
    "error_text",
    "finding_text",
    "plain",
    "verdict_text",
]

ORIENTATION_WORDS = {"video": "follow the clip", "image": "follow the photo"}
"""The page's names for ``character_orientation`` (its select shows these)."""

_Sub = tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]


def _subs(*pairs: tuple[str, str | Callable[[re.Match[str]], str]]) -> list[_Sub]:
    return [(re.compile(pattern), replacement) for pattern, replacement in pairs]


_PHRASES = _subs(
    (r"\s*\(choose the window with --start/--end\)", " (move the window on the timeline to choose which part)"),
    (r"\s*\(or crops with --aspect crop\)", " (or crops it: choose “crop” under shape)"),
    (r": --orientation video follows the clip", ": choose orientation “follow the clip” and the character turns "
                                               "as in the clip"),
    (r"orientation[= ](image|video)\b", lambda m: f"orientation “{ORIENTATION_WORDS[m[1]]}”"),
    (r";? ?--no-content checks the limits only", "; untick “content gates” to check the limits only"),
    (r"try fewer --jobs,? (?:or )?a smaller input(?:, or more memory)?", "try a smaller file"),
    (r"\(--strict: ", "(strict checking: "),
    (r"--start (\S+) s is past the end", r"the window's start (\1 s) is past the end"),
    (r"--end (\S+) s is past the", r"the window's end (\1 s) is past the"),
    (r"pass --mode (\S+?),? (?:or )?leave --mode out", r"choose mode \1"),
    (r"pass --mode (\S+?),? or leave --set \S+ out", r"choose mode \1"),
    (r"leave --orientation out", "this model takes no orientation"),
    (r"pass --orientation (image|video)", lambda m: f"choose orientation “{ORIENTATION_WORDS[m[1]]}”"),
    (r"(?:pass|send) (?:--)?again to pay for it again", "tick “pay again” to pay for it again"),
    (r"; prepare it for this provider, or send force", ": fix the pair for this provider first"),
    (r"send confirm to submit and pay", "tick “I accept this cost” to submit and pay"),
    (r"--keep-sound", "keep the sound"),
    (r"\bfix (trims|pads|scales|re-compresses|converts|transcodes|rewrites|tone-maps|bakes|resamples|makes|keeps"
     r"|re-encodes|remuxes|crops)\b", r"Fix \1"),
)
_FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)(?:[ =]([A-Z][A-Z_]*|[a-z]+://\S+))?")
"""A flag left after the phrases: named as a setting, its placeholder value dropped."""
_PIXEL_FORMAT = re.compile(r"\byuvj?(4[24][024])p(\d+)?(?:le|be)?\b")
_PATH = re.compile(r"(?<![\w:/.~-])(?:\$\w+|~)?/(?:[^\s/'\"(),;:]+/)+([^\s/'\"(),;:]*)")
"""An absolute path (``/tmp/x/y.png``, ``$TMPDIR/…/image.png``): what a page may show of it is its last part.
A URL (``https://host/a``) is left alone: its ``//`` follows a colon."""


def _flag_words(match: re.Match[str]) -> str:
    return f"the “{match[1].replace('-', ' ')}” setting"


def _pixel_words(match: re.Match[str]) -> str:
    chroma = ":".join(match[1])
    return f"{match[2] or 8}-bit {chroma}"


def plain(text: str) -> str:
    """``text`` with the phrases that name flags rewritten, then any flag, pixel format name or path left."""
    for pattern, replacement in _PHRASES:
        text = pattern.sub(replacement, text)
    text = _FLAG.sub(_flag_words, text)
    text = _PIXEL_FORMAT.sub(_pixel_words, text)
    return _PATH.sub(lambda m: m[1] or "a folder on the server", text)


# ---- findings -------------------------------------------------------------------------------------------


def _pixel_format(f: Mapping[str, Any]) -> str:
    stored = plain(str(f.get("measured") or "an unusual format"))
    return f"the clip's colours are stored as {stored}; 8-bit 4:2:0 is what every player reads: Fix converts it"


def _pose_unavailable(f: Mapping[str, Any]) -> str:
    text = "the pose was not checked: this server could not load its pose model (whoever runs it can install it)"
    if f.get("severity") == "error":
        text += "; with strict checking a file whose pose was not checked fails"
    return text


_OWN_WORDS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "video.pixel_format": _pixel_format,
    "pose.unavailable": _pose_unavailable,
}


def finding_text(finding: Mapping[str, Any]) -> str:
    """One finding (a report's dict) in the page's words."""
    own = _OWN_WORDS.get(str(finding.get("code")))
    return own(finding) if own else plain(str(finding.get("message") or finding.get("code") or ""))


def verdict_text(verdict: str | None) -> str:
    return {
        "pass": "ready as it is",
        "fixable": "Fix can make it pass",
        "fail": "cannot be used as it is: see why below",
    }.get(str(verdict), str(verdict or ""))


# ---- errors -----------------------------------------------------------------------------------------------

_NEEDS_URL = re.compile(r"^(\w+) cannot take the local (image|video)\b")


def error_text(code: str, message: str, *, upload: bool = False) -> str:
    """An error (``{"code", "message"}``) in the page's words. ``upload``: the server has an upload destination."""
    found = _NEEDS_URL.match(message) if code == "submit.needs_url" else None
    if found:
        provider, role = found[1], found[2]
        noun = "clip" if role == "video" else "photo"
        return (f"{provider} downloads the {noun} from a link: it cannot take a file from this page. Put the "
                f"prepared {noun} where anyone can download it and paste its link under “{noun} link”, or ask "
                "whoever runs this server to give it an upload destination (then the page sends the link itself)")
    return plain(message)


# ---- fix actions ----------------------------------------------------------------------------------------


def _size(text: str) -> tuple[int, int] | None:
    found = re.match(r"(\d+)x(\d+)", text)
    return (int(found[1]), int(found[2])) if found else None


def _scale(rest: str) -> str:
    sizes = re.findall(r"\d+x\d+", rest)
    if len(sizes) < 2:
        return f"resized ({rest})"
    before, after = _size(sizes[0]), _size(sizes[1])
    assert before is not None and after is not None
    word = "downscaled" if after[0] * after[1] < before[0] * before[1] else "upscaled"
    return f"{word} from {sizes[0]} to {sizes[1]}"


def _trim(rest: str) -> str:
    found = re.match(r"([\d.]+)-([\d.]+)", rest)
    if not found:
        return f"trimmed ({rest})"
    start, end = float(found[1]), float(found[2])
    how = "without re-encoding" if "stream copy" in rest else "re-encoded at the cut"
    return f"trimmed to {start:.1f}–{end:.1f} s ({end - start:.1f} s, {how})"


def _transcode(rest: str) -> str:
    if rest.startswith("audio"):
        return "the sound re-encoded as AAC"
    video, _, audio = rest.partition("/")
    codec = "H.264" if video.strip() == "h264" else video.strip()
    return f"re-encoded as {codec}" + (" with AAC sound" if audio.strip() == "aac" else "")


def _tone(rest: str) -> str:
    found = re.match(r"map (\S+) -> SDR (\S+)", rest)
    return f"tone-mapped from HDR ({found[1]}) to ordinary SDR colours ({found[2]})" if found else "tone-mapped to SDR"


def _pixel(rest: str) -> str:
    parts = [plain(p.strip()) for p in rest.removeprefix("format").split("->")]
    return f"colours converted from {parts[0]} to {parts[1]}" if len(parts) == 2 else "colours converted to 8-bit"


def _pad(rest: str) -> str:
    sizes = re.findall(r"\d+x\d+", rest)
    fill = "a blurred copy of the picture" if "blur" in rest else "a plain colour"
    return f"padded from {sizes[0]} to {sizes[1]} with {fill} around it" if len(sizes) == 2 else f"padded ({rest})"


def _crop(rest: str) -> str:
    sizes = re.findall(r"\d+x\d+", rest)
    return f"cropped from {sizes[0]} to {sizes[1]}" if len(sizes) == 2 else f"cropped ({rest})"


def _rate(rest: str, variable: bool) -> str:
    fps = re.findall(r"[\d.]+(?= fps)|(?<=->)[\d.]+", rest)
    if variable:
        return f"frame rate made constant ({rest.split(' (')[0]})"
    return f"frame rate changed ({rest})" if not fps else f"frame rate changed to {fps[-1]} fps"


def _remux(rest: str) -> str:
    found = re.search(r"said ([\d.]+) s: rewritten as ([\d.]+) s", rest)
    if found:
        return f"the length written in the file corrected ({found[1]} s claimed, {found[2]} s real)"
    return "rewrapped as MP4 (the picture and sound copied as they are)"


_ACTIONS: dict[str, Callable[[str], str]] = {
    "copy": lambda rest: "copied as it is: nothing needed changing",
    "remux": _remux,
    "trim": _trim,
    "transcode": _transcode,
    "bake": lambda rest: f"turned upright ({rest.removeprefix('rotation').strip()}° display rotation made "
                         "part of the picture)",
    "crop": _crop,
    "scale": _scale,
    "square": lambda rest: "pixels made square (" + rest.split(": ", 1)[-1].replace("->", " to ") + ")",
    "pad": _pad,
    "constant": lambda rest: _rate(rest, True),
    "frame": lambda rest: _rate(rest, False),
    "pixel": _pixel,
    "tone": _tone,
    "gamut": lambda rest: "colours converted to BT.709 from " + rest.split(" -> ")[0],
    "bitrate": lambda rest: "squeezed under the size limit (" + rest.split(" for the ")[-1].replace(" cap", "") + ")",
    "compress": lambda rest: "squeezed " + rest,
    "first": lambda rest: f"the first frame kept (an animated image {rest})",
    "apply": lambda rest: "turned as its EXIF orientation says; the EXIF data removed",
    "strip": lambda rest: "the EXIF data removed",
    "convert": lambda rest: "converted " + rest.replace("->", " to ").replace("RGB", "8-bit RGB", 1),
    "reframe": lambda rest: "reframed around the person" + (f" ({rest})" if rest else ""),
    "stabilize": lambda rest: "the camera shake smoothed out" + (f" ({rest})" if rest else ""),
    "retry": lambda rest: "encoded a second time at a lower bitrate to fit the size limit",
    "re-encoded:": lambda rest: "re-encoded (a copy could not be made exact)",
    "jpeg": lambda rest: "saved as JPEG at " + rest,
}


def action_text(action: str) -> str:
    """One of fix's actions (``scale 3840x2160->1920x1080``) in words (``downscaled from 3840x2160 to ...``)."""
    first, _, rest = action.partition(" ")
    described = _ACTIONS.get(first)
    return plain(described(rest) if described else action)


def actions_text(actions: Sequence[str]) -> list[str]:
    return [action_text(a) for a in actions]
