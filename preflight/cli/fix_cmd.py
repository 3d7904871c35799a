"""preflight fix PATH... -o OUTDIR: write an accepted copy of every fixable input."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator

import click

from ..errors import printable
from ..fix import FixReport, FixResult, Progress, fix
from ..models import describe_skipped
from ..report import describe_media, verdict_words
from . import exit_with
from .options import (
    check_person,
    check_window,
    content_option,
    fix_options,
    orientation_option,
    profile_option,
    strict_option,
)


@click.command("fix")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False),
              help="Folder for the fixed files (created if missing; inputs are never overwritten).")  # fmt: skip
@profile_option
@orientation_option
@content_option
@strict_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (preflight.report/1).")
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing.")
@click.option("--verify", is_flag=True,
              help="Decode every picture of a clip before stream-copying it (costs a decode); without it the "
              "copied packets are judged without decoding and decoded only where something looks wrong.")  # fmt: skip
@fix_options
def command(
    paths: tuple[str, ...],
    outdir: str,
    profile: str | None,
    orientation: str,
    no_content: bool,
    strict: bool,
    as_json: bool,
    dry_run: bool,
    verify: bool,
    start: float | None,
    end: float | None,
    aspect: str,
    fill: str,
    window: str,
    max_side: int,
    reframe: str | None,
    person: str,
    stabilize: bool,
) -> None:
    """Fix images and clips for a provider: exit 0 only if every output passes.

    Cheapest operation first: copy, remux, stream-copy trim, and a re-encode only when pixels or
    timing must change. Each output is checked again.
    """
    check_window(start, end)
    check_person(reframe, person)
    if reframe and no_content:
        raise click.BadParameter("frames the person the content check finds: drop --no-content", param_hint="--reframe")
    with _progress_bar(enabled=sys.stderr.isatty() and not dry_run) as progress:
        report = fix(
            paths, outdir, profile=profile, orientation=orientation, content=not no_content, dry_run=dry_run,
            start=start, end=end, aspect=aspect, window=window, fill=fill, max_side=max_side,
            reframe=reframe, person=person, stabilize=stabilize, progress=progress, strict=strict, verify=verify,
        )  # fmt: skip
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        _print_text(report)
    exit_with(0 if report.ok else 1)


@contextlib.contextmanager
def _progress_bar(enabled: bool) -> Iterator[Progress | None]:
    """A rich bar (percent and ETA) per clip on stderr, only on a terminal."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, TaskProgressColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar

    # The description is a file name: escaped as the reports escape it, and never read as rich markup.
    columns = (TextColumn("{task.description}", markup=False), BarColumn(), TaskProgressColumn(),
               TimeRemainingColumn())  # fmt: skip
    with Bar(*columns, console=Console(stderr=True), transient=True) as bar:
        tasks: dict[str, int] = {}

        def update(path: str, done: float, total: float) -> None:
            if path not in tasks:
                tasks[path] = bar.add_task(printable(path), total=max(total, 0.001))
            bar.update(tasks[path], completed=done, total=max(total, 0.001))

        yield update


def _print_text(report: FixReport) -> None:
    color = sys.stdout.isatty()
    for r in report.results:
        _print_result(r, report.dry_run, color)
    fixed = sum(1 for r in report.results if r.ok)
    planned = sum(1 for r in report.results if r.plan is not None and r.plan.fixable)
    unfixable = sum(1 for r in report.results if r.reason)
    done = f"{planned} can be fixed" if report.dry_run else f"{fixed} pass after fix"
    nopose = sum(1 for r in report.results if r.before.pose_checked is False)
    more = f"; pose not checked on {nopose}" if nopose else ""
    if report.skipped:
        more += f"; {describe_skipped(report.skipped)}"
    click.echo(
        f"{len(report.results)} file(s): {done}, {unfixable} cannot be fixed{more}"
        f"  (profile {report.profile}, orientation {report.orientation}{', dry run' if report.dry_run else ''})"
    )


def _print_result(r: FixResult, dry_run: bool, color: bool) -> None:
    verdict = verdict_words(r.before)
    if r.reason:
        cannot = click.style("CANNOT FIX", fg="red") if color else "CANNOT FIX"
        click.echo(f"{printable(r.path)}  {cannot}  ({verdict})")
        click.echo(f"    {printable(str(r.reason))}")
        return
    if dry_run:
        ext = r.plan.output_ext if r.plan else "?"
        click.echo(f"{printable(r.path)}  {verdict}  would write <outdir>/{printable(_stem(r.path))}.{ext}")
    else:
        after = r.after.verdict.upper() if r.after else "?"
        shown = click.style(after, fg="green" if after == "PASS" else "red") if color else after
        click.echo(f"{printable(r.path)} -> {printable(str(r.output))}  {verdict} -> {shown}")
        if r.after is not None and r.after.media is not None:
            click.echo(f"    {describe_media(r.after.media)}")
    for action in r.actions:
        click.echo(f"  {action}")
    for note in r.notes:
        click.echo(f"  ({note})")
    if r.after is not None:
        for f in r.after.findings:
            if f.severity.value in ("error", "warning"):
                click.echo(f"  after: {f.severity.value} {f.code}: {f.message}")


def _stem(path: str) -> str:
    from pathlib import Path

    return Path(path).stem
