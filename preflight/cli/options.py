"""Options shared by several commands, defined once so check, fix, prepare and batch agree."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import click

from ..fix.options import DEFAULT_MAX_SIDE, MIN_MAX_SIDE, PERSON_CHOICES, REFRAME_MODES
from ..profiles import DEFAULT_PROFILE, available_profiles, profile_ref, shipped_models, shipped_providers

F = Callable[..., Any]


def profile_option(f: F) -> F:
    """``--profile``, ``--model`` and ``--provider``, handed to the command as one ``profile`` reference."""

    @functools.wraps(f)
    def with_profile(*args: Any, profile: str | None, model: str | None, provider: str | None, **kwargs: Any) -> Any:
        return f(*args, profile=profile_ref(profile, model, provider), **kwargs)

    with_profile = click.option(
        "--provider",
        "provider",
        default=None,
        metavar="NAME|PATH.toml",
        help=f"Check against this provider's contract on top of the model's: {', '.join(shipped_providers())} "
        "(default: the model's own API).",
    )(with_profile)
    with_profile = click.option(
        "--model",
        "model",
        default=None,
        metavar="NAME|PATH.toml",
        help=f"Check against this model's contract: {', '.join(shipped_models())} "
        "(default kling-v2.6, env PREFLIGHT_MODEL). `preflight profiles list` shows who serves which.",
    )(with_profile)
    return click.option(
        "--profile",
        "profile",
        default=None,
        metavar="NAME|PATH.toml",
        help=f"Or a profile: {', '.join(available_profiles())}, MODEL@PROVIDER, or a TOML file. "
        f"Default {DEFAULT_PROFILE} (env PREFLIGHT_PROFILE; or env PREFLIGHT_MODEL, as --model).",
    )(with_profile)


def orientation_option(f: F) -> F:
    return click.option(
        "--orientation",
        type=click.Choice(["image", "video"]),
        default="video",
        show_default=True,
        help="The provider's character_orientation: image caps clips at 10 s, video at 30 s.",
    )(f)


def content_option(f: F) -> F:
    return click.option(
        "--no-content",
        "no_content",
        is_flag=True,
        help="Skip the content gates (pose, motion, quality): limits only, fast.",
    )(f)


def strict_option(f: F) -> F:
    return click.option(
        "--strict", is_flag=True, help="Warnings fail too, and so does a file whose pose was not checked (no model)."
    )(f)


def output_format_options(f: F) -> F:
    f = click.option("--json", "as_json", is_flag=True, help="Same as --format json.")(f)
    f = click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json", "junit", "html"]),
        default=None,
        help="Report format on stdout (default text).",
    )(f)
    f = click.option(
        "--report",
        "report_path",
        type=click.Path(dir_okay=False, writable=True),
        default=None,
        help="Also write the report to FILE (format from --format, else from the extension).",
    )(f)
    return f


class Seconds(click.FloatRange):
    """A time in seconds: a finite number, at least 0 (above 0 with ``positive``).

    ``click.FloatRange`` lets ``nan`` through (every comparison with it is false) and ``inf`` with no
    upper bound: ``--start nan`` was taken as no start at all, ``--end inf`` as the clip's end.
    """

    name = "seconds"

    def __init__(self, positive: bool = False) -> None:
        super().__init__(min=0, min_open=positive)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if not math.isfinite(seconds):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        return seconds


def start_option(f: F) -> F:
    return click.option(
        "--start",
        type=Seconds(),
        default=None,
        metavar="S",
        help="Keep the clip from S seconds (a window of the allowed length).",
    )(f)


def end_option(f: F) -> F:
    return click.option(
        "--end",
        type=Seconds(positive=True),
        default=None,
        metavar="S",
        help="Keep the clip up to S seconds.",
    )(f)


def aspect_option(f: F) -> F:
    return click.option(
        "--aspect",
        type=click.Choice(["pad", "crop"]),
        default="pad",
        show_default=True,
        help="Into the aspect range (or the nearest allowed ratio) by padding (keeps every pixel) or cropping.",
    )(f)


def fill_option(f: F) -> F:
    return click.option(
        "--fill",
        type=click.Choice(["blur", "solid"]),
        default="blur",
        show_default=True,
        help="What the padding shows.",
    )(f)


def window_option(f: F) -> F:
    return click.option(
        "--window",
        type=click.Choice(["best", "start"]),
        default="best",
        show_default=True,
        help="Which part of a long clip to keep: the one with the most visible torso and no cut, or the beginning.",
    )(f)


def max_side_option(f: F) -> F:
    return click.option(
        "--max-side",
        type=MaxSide(),
        default=DEFAULT_MAX_SIDE,
        show_default=True,
        metavar="PX",
        help="Scale a clip that is re-encoded anyway down to this long side, in the same pass (the models "
        "generate at most 1080p); 0 keeps the size. A clip that can be copied is not re-encoded for it.",
    )(f)


def stabilize_option(f: F) -> F:
    return click.option(
        "--stabilize",
        is_flag=True,
        help="Take hand-held shake out of a clip the check finds shaky (motion.camera_shake), keeping pans: "
        "a window that moves with the shake and a small crop-in, in the same re-encode.",
    )(f)


class MaxSide(click.ParamType):
    """0 or a whole number of pixels from :data:`MIN_MAX_SIDE` (what :class:`FixOptions` takes)."""

    name = "px"

    def __repr__(self) -> str:
        return f"MaxSide(0 or >= {MIN_MAX_SIDE})"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            side = int(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is not a whole number of pixels", param, ctx)
        if side != 0 and side < MIN_MAX_SIDE:
            self.fail(f"{side} is neither 0 (keep the size) nor at least {MIN_MAX_SIDE} px", param, ctx)
        return side


class ReframeMode(click.Choice):
    """``--reframe`` takes an optional mode: a path right after it reads as one, so say what to write."""

    def __init__(self) -> None:
        super().__init__(REFRAME_MODES)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value in REFRAME_MODES:
            return value
        self.fail(f"{value!r} is not a mode ({', '.join(REFRAME_MODES)}): write `--reframe fixed`, or put --reframe "
                  "after the files", param, ctx)  # fmt: skip


def reframe_option(f: F) -> F:
    return click.option(
        "--reframe",
        type=ReframeMode(),
        is_flag=False,
        flag_value=REFRAME_MODES[0],
        default=None,
        metavar="[fixed|follow]",
        help="Crop each clip to one fixed window around one person: the others cut out, a small subject "
        "enlarged (to half the height; in prepare, as the photo's), never a camera move. `--reframe follow`: "
        "a window of that size that follows a subject crossing the frame, smoothed (the provider sees it as "
        "camera motion). Needs the content check.",
    )(f)


def person_option(f: F) -> F:
    return click.option(
        "--person",
        type=click.Choice(PERSON_CHOICES),
        default="largest",
        show_default=True,
        help="Whom --reframe frames: the largest person over the clip, or the one on the left or right.",
    )(f)


FIX_OPTION_NAMES = ("start", "end", "aspect", "fill", "window", "max_side", "reframe", "person", "stabilize")
"""The parameters :func:`fix_options` adds (the keyword names ``preflight.fix.fix`` takes)."""


def fix_options(f: F) -> F:
    """``--start --end --aspect --fill --window --max-side --reframe --person --stabilize``, in that order in
    ``--help`` (fix, prepare, batch)."""
    for option in (stabilize_option, person_option, reframe_option, max_side_option, window_option, fill_option,
                   aspect_option, end_option, start_option):  # fmt: skip
        f = option(f)
    return f


def check_person(reframe: str | None, person: str) -> None:
    """``--person`` says whom to reframe: without ``--reframe`` it would be silently ignored."""
    ctx = click.get_current_context()
    given = ctx.get_parameter_source("person") is click.core.ParameterSource.COMMANDLINE
    if given and reframe is None:
        raise click.BadParameter("says whom --reframe frames: add --reframe", param_hint="--person")


def check_window(start: float | None, end: float | None) -> None:
    """``--end`` must come after ``--start`` (click checks each alone, not the pair)."""
    for name, value in (("--start", start), ("--end", end)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise click.BadParameter(f"{value!r} is not a number of seconds", param_hint=name)
    if start is not None and end is not None and end <= start:
        raise click.BadParameter(f"{end:g} is not after --start {start:g}", param_hint="--end")


def pick_format(fmt: str | None, as_json: bool, report_path: str | None = None) -> str:
    if as_json:
        return "json"
    if fmt:
        return fmt
    return "text"


def file_format(fmt: str | None, as_json: bool, report_path: str) -> str:
    if fmt or as_json:
        return pick_format(fmt, as_json)
    suffix = report_path.rsplit(".", 1)[-1].lower()
    return {"json": "json", "xml": "junit", "html": "html"}.get(suffix, "text")
