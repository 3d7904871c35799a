"""preflight check PATH...: will a provider accept these, and will the result be good?"""

from __future__ import annotations

import sys

import click

from .. import api
from ..report import write_report, write_report_file
from . import exit_with
from .options import (
    content_option,
    file_format,
    orientation_option,
    output_format_options,
    pick_format,
    profile_option,
    strict_option,
)


@click.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@profile_option
@orientation_option
@content_option
@strict_option
@output_format_options
@click.option("--contact-sheet", "contact_sheet", type=click.Path(dir_okay=False), default=None,
              help="Write a PNG of sampled frames with the pose skeleton for each clip.")  # fmt: skip
@click.option("--every-frame", is_flag=True,
              help="Decode every picture, non-reference ones too, and run pose on every sample "
                   "(slower; finds damage in them as well).")  # fmt: skip
def command(
    paths: tuple[str, ...],
    profile: str | None,
    orientation: str,
    no_content: bool,
    strict: bool,
    fmt: str | None,
    as_json: bool,
    report_path: str | None,
    contact_sheet: str | None,
    every_frame: bool,
) -> None:
    """Check images and clips against a provider profile; exit 0 only if every file passes.

    Every file below a folder is checked (hidden files, sidecars and links out of the folder are
    skipped and counted). Verdicts: pass, fixable (preflight fix can repair
    every error), fail.
    """
    if contact_sheet and no_content:
        raise click.BadParameter("needs the content pass; drop --no-content", param_hint="--contact-sheet")
    report = api.check(
        paths, profile=profile, orientation=orientation, content=not no_content, strict=strict,
        contact_sheet=contact_sheet, every_frame=every_frame,
    )  # fmt: skip
    shown = pick_format(fmt, as_json)
    if shown == "html" and report_path:
        shown = "text"  # the page goes to the file; the terminal gets the readable summary
    write_report(report, shown, sys.stdout, color=sys.stdout.isatty())
    if report_path:
        write_report_file(report, file_format(fmt, as_json, report_path), report_path)
    exit_with(0 if report.ok else 1)
