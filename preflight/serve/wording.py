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
    "CONTROLS",
    "ORIENTATION_WORDS",
    "REFRAME_WORDS",
    "action_text",
    "cure_of",
    "error_text",
    "finding_text",
    "note_text",
    "picture_words",
    "plain",
    "verdict_text",
]

ORIENTATION_WORDS = {"video": "follow the clip", "image": "follow the photo"}
"""The page's names for ``character_orientation`` (its select shows these)."""
CONTROLS = {"reframe": "frame one person", "person": "who", "stabilize": "steady a shaky camera"}
"""The page's names for fix's ``reframe``, ``person`` and ``stabilize`` (the labels of its controls)."""
REFRAME_WORDS = {"fixed": "fixed", "follow": "following"}
"""How the "frame one person" select names fix's reframe modes (its options start with these words)."""

_Sub = tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]


def _subs(*pairs: tuple[str, str | Callable[[re.Match[str]], str]]) -> list[_Sub]:
    return [(re.compile(pattern), replacement) for pattern, replacement in pairs]


_REFRAME, _STABILIZE = (f"“{CONTROLS[k]}”" for k in ("reframe", "stabilize"))
_PHRASES = _subs(
    # What the content fixes cure, said with the page's controls (the check adds these to its messages).
    (r"\s*\(fixable with --reframe: prepare --reframe enlarges the clip's person\)",
     f" ({_REFRAME} enlarges the clip's person when the pair is prepared)"),
    (r"; prepare --reframe crops the (clip|photo) to (.+?) \(fixable with --reframe\)",
     rf"; {_REFRAME} crops the \1 to \2 when the pair is prepared"),
    (r"\s*\(fixable with --reframe follow: (.*)\)$",
     rf" (Fix can cure it: choose “{REFRAME_WORDS['follow']}” under {_REFRAME}: \1)"),
    (r"\s*\(fixable with --reframe: (.*)\)$", rf" (Fix can cure it with {_REFRAME}: \1)"),
    (r";? ?fixable with --stabilize", f", or let Fix steady it: tick {_STABILIZE}"),
    (r"--reframe (fixed|follow) keeps", lambda m: f"“{REFRAME_WORDS[m[1]]}” under {_REFRAME} keeps"),
    (r"a photo is cropped only to the clip's tighter shot type \(prepare --reframe\)",
     "the photo is left as it is (a photo is cut only to a clip's tighter shot, when the pair is prepared)"),
    (r"\s*\(prepare --reframe\)", " (when the pair is prepared)"),
    (r"not stabilized: hiding the borders of this shake takes a (\d+%) crop-in \((\d+x\d+), under the profile's "
     r"(\d+) px minimum side\)",
     r"not steadied: hiding the moving edges of this shake would crop \1 off the picture (leaving \2, under the "
     r"\3 px the provider takes)"),
    (r"not stabilized: hiding the borders of this shake takes a (\d+%) crop-in \(more than the (\d+%) stabilizing "
     r"may cut\)",
     r"not steadied: hiding the moving edges of this shake would crop \1 off the picture (more than the \2 "
     r"steadying may take)"),
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


_CURE_CLAUSE = re.compile(
    r"\s*\(fixable with --reframe(?: follow)?(?:: .*)?\)$|;? ?fixable with --stabilize"
    r"|; prepare --reframe crops the (?:clip|photo) to .+? \(fixable with --reframe\)"
)
"""What the check adds to a message a content fix would cure: left out where that fix was tried already."""


def finding_text(finding: Mapping[str, Any], *, cure: bool = True) -> str:
    """One finding (a report's dict) in the page's words; without ``cure``, without what a content fix would
    do about it (the fix was made, or refused, already)."""
    own = _OWN_WORDS.get(str(finding.get("code")))
    if own:
        return own(finding)
    message = str(finding.get("message") or finding.get("code") or "")
    return plain(message if cure else _CURE_CLAUSE.sub("", message))


def cure_of(finding: Mapping[str, Any]) -> str | None:
    """Which of the page's content-fix controls the check says would cure ``finding``: ``reframe`` ("frame one
    person", fixed), ``follow`` (the same, following), ``stabilize`` ("steady a shaky camera"); None."""
    extra = finding.get("extra") or {}
    cure = str(extra.get("fixable_with") or "") if isinstance(extra, Mapping) else ""
    message = str(finding.get("message") or "")
    if cure == "--reframe follow" or "fixable with --reframe follow" in message:
        return "follow"
    if cure == "--reframe" or "fixable with --reframe" in message:
        return "reframe"
    if cure == "--stabilize" or "fixable with --stabilize" in message:
        return "stabilize"
    return None


def note_text(note: str) -> str | None:
    """A note of fix's about a content fix the page asked for (``stabilize: the check found no camera shake``),
    in words, under the control's name; None for the other notes (the page shows what was done instead)."""
    for key in ("reframe", "stabilize"):
        if note.startswith(f"{key}: "):
            return f"{CONTROLS[key]}: {plain(note.removeprefix(f'{key}: '))}"
    return None


def verdict_text(verdict: str | None) -> str:
    return {
        "pass": "ready as it is",
        "fixable": "Fix can make it pass",
        "fail": "cannot be used as it is: see why below",
    }.get(str(verdict), str(verdict or ""))


# ---- errors -----------------------------------------------------------------------------------------------

_NEEDS_URL = re.compile(r"^(\w+) cannot take the local (image|video)\b")
_NOT_SENT = re.compile(r"^send (`(?:image|video)`(?: and `(?:image|video)`)?) as a file field \(curl ")
"""An upload without the file a job needs (``upload.invalid``): the page names the file, not the curl line."""


def error_text(code: str, message: str, *, upload: bool = False) -> str:
    """An error (``{"code", "message"}``) in the page's words. ``upload``: the server has an upload destination."""
    found = _NEEDS_URL.match(message) if code == "submit.needs_url" else None
    if found:
        provider, role = found[1], found[2]
        noun = "clip" if role == "video" else "photo"
        return (f"{provider} downloads the {noun} from a link: it cannot take a file from this page. Put the "
                f"prepared {noun} where anyone can download it and paste its link under “{noun} link”, or ask "
                "whoever runs this server to give it an upload destination (then the page sends the link itself)")
    missing = _NOT_SENT.match(message) if code == "upload.invalid" else None
    if missing:
        nouns = [{"image": "photo", "video": "clip"}[r] for r in re.findall(r"`(image|video)`", missing[1])]
        return f"the {' and the '.join(nouns)} {'is' if len(nouns) == 1 else 'are'} not on the server: add " \
               f"{'it' if len(nouns) == 1 else 'them'} at the top of the page and press the button again"
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


SHOT_WORDS = {"full-body": "a full-body shot", "half-body": "a half-body shot (head to hips)",
              "close-up": "a close-up (head and shoulders)"}  # fmt: skip


def _reframe_part(part: str) -> str:
    """One part of a reframe's detail (``subject 22% -> 48% of the height``, ``half-body -> close-up like the
    photo``, ``the person on the right``, ``1 other person cut out``) in words."""
    share = re.fullmatch(r"subject (\d+%) -> (\d+%) of the height", part)
    if share:
        return f"the person now fills {share[2]} of the height (was {share[1]})"
    shot = re.fullmatch(r"(\S+) -> (\S+)(?: like the (photo|clip))?", part)
    if shot and shot[1] in SHOT_WORDS and shot[2] in SHOT_WORDS:
        like = f", like the {shot[3]}" if shot[3] else ""
        return f"cut from {SHOT_WORDS[shot[1]]} to {SHOT_WORDS[shot[2]]}{like}"
    if part.startswith("the person on the "):
        return f"{part}, as chosen"
    return plain(part)


def _reframe(rest: str) -> str:
    """``crop 866x486+536+348 (subject 22% -> 48% of the height, 1 other person cut out)``, or a following
    window's ``follow 896x504 (...)``, in words."""
    found = re.match(r"(crop|follow) (\d+x\d+)(?:\+\d+\+\d+)? \((.*)\)$", rest)
    if not found:
        return "framed one person" + (f" ({plain(rest)})" if rest else "")
    how, size, detail = found[1], found[2], found[3]
    done = (f"cropped around one person by a {size} window that follows them (the provider sees it as a camera "
            "move)" if how == "follow" else f"cropped to {size} around one person")  # fmt: skip
    parts = [_reframe_part(p.strip()) for p in detail.split(", ") if p.strip()]
    return done + "".join(f"; {p}" for p in parts)


def _stabilize(rest: str) -> str:
    """``(jitter 1.71% -> 0.10%, crop-in 16%)`` (``-> ~0.10% expected`` in a dry run; ``in the follow
    window`` when a following window takes up the shake) in words."""
    found = re.match(r"\(jitter ([\d.]+%) -> (~?)([\d.]+%)( expected)?, (?:crop-in (\d+%)|(in the follow window))\)",
                     rest)  # fmt: skip
    if not found:
        return "steadied the shaky camera" + (f" ({plain(rest)})" if rest else "")
    now = f"about {found[3]} expected" if found[2] or found[4] else f"now {found[3]}"
    room = (f"cropped in by {found[5]} to hide the moving edges" if found[5]
            else "the window that follows the person moves with the shake too (no extra crop)")  # fmt: skip
    return (f"steadied the shaky camera: the picture jumped {found[1]} of the frame from frame to frame, {now}; "
            f"{room}")


def picture_words(kind: str, actions: Sequence[str]) -> tuple[str, str]:
    """(alt text, caption) of the before/after picture of a reframed (``reframe``) or steadied (``stabilize``)
    clip, from the actions that made it."""
    done = next((action_text(a) for a in actions if a.startswith(f"{kind} ")), "")
    if kind == "reframe":
        return (f"before and after framing one person: a frame of the clip as filmed with the part kept drawn on it "
                f"and the skeleton, beside the same moment of the fixed clip. {done}".strip(),
                "Before and after: the part kept, drawn on the clip as filmed, and the fixed clip")
    return (f"before and after steadying the camera: a frame of the clip as filmed with the part kept drawn on it, "
            f"beside the same moment of the fixed clip; under them, where the picture was over time, left to right "
            f"and up and down, jagged as filmed and smooth once steadied. {done}".strip(),
            "Before and after: the part kept on one frame; the picture's path over time, as filmed (orange) and "
            "steadied (blue)")


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
    "reframe": lambda rest: _reframe(rest),
    "stabilize": lambda rest: _stabilize(rest),
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
