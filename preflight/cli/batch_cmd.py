"""preflight batch DIR...: check (and fix) every file of whole folders, in parallel and resumably."""

from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import Any, TextIO

import click

from ..batch import BatchResult, FileResult, run_batch
from ..errors import printable
from ..models import describe_skipped, to_dict
from ..report import item_to_dict, report_to_dict, skipped_to_dict, to_json, write_file, write_report
from . import exit_with, interrupted
from .options import (
    FIX_OPTION_NAMES,
    check_person,
    check_window,
    content_option,
    file_format,
    fix_options,
    orientation_option,
    output_format_options,
    pick_format,
    profile_option,
    strict_option,
)

LISTED_MAX = 25
"""Files not passing listed by name in the text summary (the rest are counted)."""


@click.command("batch")
@click.argument("inputs", nargs=-1, required=True, metavar="DIR|FILE|GLOB|URL...")
@click.option(
    "-o",
    "--outdir",
    type=click.Path(file_okay=False),
    default=None,
    help="Fix every file into OUTDIR (inputs are never modified). Without it: check only.",
)
@click.option("--check-only", is_flag=True, help="Only check (the default when there is no -o).")
@fix_options
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Files processed at once (default: the number of cores).",
)
@click.option("--resume", is_flag=True, help="Skip files whose content and settings are already done.")
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Resume state file (default OUTDIR/.preflight-batch.jsonl, or the user cache with --check-only).",
)
@click.option(
    "--glob",
    "patterns",
    multiple=True,
    metavar="PATTERN",
    help="Only files in folders matching PATTERN (e.g. '*.mp4', 'takes/**'); repeatable. "
    "The others are counted as skipped.",
)
@click.option("--jsonl", is_flag=True, help="Stream one JSON line per file on stdout as files finish.")
@profile_option
@orientation_option
@content_option
@strict_option
@output_format_options
@click.option(
    "--executor",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="local process pool, or a Dask cluster (pip install 'preflight-motion[dask]').",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDR",
    help="Dask scheduler address, e.g. tcp://host:8786 (default: a local Dask cluster).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress output on stderr.")
def command(
    inputs: tuple[str, ...],
    outdir: str | None,
    check_only: bool,
    start: float | None,
    end: float | None,
    aspect: str,
    fill: str,
    window: str,
    max_side: int,
    reframe: str | None,
    person: str,
    stabilize: bool,
    jobs: int | None,
    resume: bool,
    state_path: str | None,
    patterns: tuple[str, ...],
    jsonl: bool,
    profile: str | None,
    orientation: str,
    no_content: bool,
    strict: bool,
    fmt: str | None,
    as_json: bool,
    report_path: str | None,
    executor: str,
    scheduler: str | None,
    quiet: bool,
) -> None:
    """Check every file below DIR (and with -o fix it), each file on its own.

    Files that are not media get a failing row; hidden files, sidecars (.DS_Store, ._*, .AAE, .XMP...)
    and links out of DIR are skipped and counted.

    URLs (memory://, s3://... with fsspec installed) are walked the same way; each file is fetched
    once to a temporary copy and reported by its URL.

    A broken file never stops the batch. Ctrl-C stops after the running files and keeps everything
    finished; --resume then skips it. Exit 0 only if every file passes (with -o: every output).
    """
    from ..batch.progress import make_progress

    if check_only and outdir:
        raise click.UsageError("--check-only and -o/--outdir exclude each other")
    if scheduler and executor != "dask":
        raise click.UsageError("--scheduler needs --executor dask")
    check_window(start, end)
    _fix_options_need_outdir(outdir)
    check_person(reframe, person)
    if reframe and no_content:
        raise click.BadParameter("frames the person the content check finds: drop --no-content", param_hint="--reframe")
    stdout_fmt = pick_format(fmt, as_json)
    file_fmt = file_format(fmt, as_json, report_path) if report_path else None
    want_html = (stdout_fmt == "html" and not jsonl) or file_fmt == "html"

    def stream(result: FileResult) -> None:
        if jsonl:
            sys.stdout.write(to_json(_jsonl_line(result, outdir is not None), out=sys.stdout) + "\n")
            sys.stdout.flush()

    result = run_batch(
        inputs,
        outdir=outdir,
        profile=profile,
        orientation=orientation,
        content=not no_content,
        strict=strict,
        jobs=jobs,
        executor=executor,
        scheduler=scheduler,
        resume=resume,
        state_path=state_path,
        previews=want_html,
        patterns=patterns,
        progress=make_progress(enabled=not quiet),
        on_result=stream,
        start=start,
        end=end,
        aspect=aspect,
        fill=fill,
        window=window,
        max_side=max_side,
        reframe=reframe,
        person=person,
        stabilize=stabilize,
    )
    if jsonl:
        sys.stdout.write(to_json({"event": "summary", **_summary(result)}, out=sys.stdout) + "\n")
        _summary_table(result, sys.stderr)
    elif stdout_fmt == "text":
        _summary_table(result, sys.stdout)
    else:
        _write(result, stdout_fmt, sys.stdout)
        if not quiet:
            _summary_table(result, sys.stderr)
    if report_path and file_fmt:
        _write_file(result, file_fmt, Path(report_path))
    if result.interrupted:  # 130 after Ctrl-C, 143 after SIGTERM
        exit_with(interrupted(f"{len(result.results)} of {result.total} file(s) done, "
                              f"state kept in {result.state_path} (rerun with --resume)"))  # fmt: skip
    exit_with(0 if result.ok else 1)


def _fix_options_need_outdir(outdir: str | None) -> None:
    """--aspect and friends say how to fix: without -o nothing is fixed, so saying it is a mistake."""
    if outdir is not None:
        return
    ctx = click.get_current_context()
    given = [n for n in FIX_OPTION_NAMES if ctx.get_parameter_source(n) is click.core.ParameterSource.COMMANDLINE]
    if given:
        raise click.UsageError(f"--{given[0].replace('_', '-')} says how to fix: it needs -o/--outdir")


def _jsonl_line(result: FileResult, fixing: bool) -> dict[str, Any]:
    line: dict[str, Any] = {
        "event": "file",
        "path": result.path,
        "verdict": result.item.verdict,
        "final_verdict": result.final_verdict,
        "pose_checked": result.item.pose_checked,
        "resumed": result.resumed,
        "seconds": result.seconds,
        "sha256": result.digest,
        "ran_on": to_dict(result.ran_on) if result.ran_on is not None else None,
        "item": item_to_dict(result.item),
    }
    if fixing:
        line.update(result.fix_extra())
    return line


def _summary(result: BatchResult) -> dict[str, Any]:
    return {**result.summary, "total": result.total, "seconds": result.seconds,
            "interrupted": result.interrupted, "ok": result.ok, "state": result.state_path,
            "skipped": skipped_to_dict(result.skipped)}  # fmt: skip


def _write(result: BatchResult, fmt: str, out: TextIO) -> None:
    fixing = result.settings.outdir is not None
    if fmt == "json":
        fixes = result.fixes() if fixing else {}
        extra = {r.path: {**fixes.get(r.path, {}), "ran_on": r.ran_on} for r in result.results}
        data = report_to_dict(result.report, extra=extra)
        data["batch"] = _summary(result)
        out.write(to_json(data, indent=2, out=out) + "\n")
    elif fmt == "html":
        from ..html_report import render_html

        fixes = {r.path: r.html_fix() for r in result.results} if fixing else None
        out.write(render_html(result.report, previews=result.previews(), fixes=fixes, title="preflight batch"))
    else:
        write_report(result.report, fmt, out)


def _write_file(result: BatchResult, fmt: str, target: Path) -> None:
    def write(fh: TextIO) -> None:
        if fmt == "text":
            _summary_table(result, fh)
        else:
            _write(result, fmt, fh)

    write_file(target, write)


def _summary_table(result: BatchResult, out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    class PipeConsole(Console):
        def on_broken_pipe(self) -> None:
            """rich's own ends the process with exit 1: the CLI's way is exit 141, quietly (a reader that left,
            or a stdout the shell closed)."""
            raise BrokenPipeError(errno.EPIPE, "the reader has gone")

    console = PipeConsole(file=out, highlight=False, soft_wrap=True)
    s = result.summary
    fixing = result.settings.outdir is not None
    bad = [r for r in result.results if not r.passed]
    if bad:
        listing = Table(title="not passing", title_justify="left", show_edge=False)
        listing.add_column("file", overflow="fold")
        listing.add_column("verdict")
        listing.add_column("first problem", overflow="fold")
        for r in bad[:LISTED_MAX]:
            first = next(iter(r.item.findings), None)
            why = r.reason if fixing and r.reason else (f"{first.code}: {first.message}" if first else "")
            # Text, not str: a file name like "x[/y]z.mp4" is not rich markup (MarkupError)
            listing.add_row(Text(printable(r.path)), r.final_verdict, Text(printable(why)))
        console.print(listing)
        if len(bad) > LISTED_MAX:
            console.print(f"... and {len(bad) - LISTED_MAX} more")
    table = Table(title=Text(printable(f"preflight batch: profile {result.profile}, "
                                       f"orientation {result.settings.orientation}")),
                  title_justify="left", show_edge=False)  # fmt: skip
    content = result.settings.content
    for name in ("files", "pass", "fixable", "fail", *(["pose not checked"] if content else []),
                 *(["fixed"] if fixing else []), "skipped", "resumed", "seconds", "files/s"):  # fmt: skip
        table.add_column(name, justify="right")
    rate = (len(result.results) - s["resumed"]) / result.seconds if result.seconds else 0.0
    table.add_row(
        f"{len(result.results)}/{result.total}", str(s["pass"]), str(s["fixable"]), str(s["fail"]),
        *([str(s["pose_not_checked"])] if content else []), *([str(s["fixed"])] if fixing else []),
        str(len(result.skipped)), str(s["resumed"]), f"{result.seconds:.1f}", f"{rate:.2f}",
    )  # fmt: skip
    console.print(table)
    if s["pose_not_checked"]:
        console.print(f"pose not checked on {s['pose_not_checked']} file(s): no pose model "
                      "(preflight models status); --strict fails them")  # fmt: skip
    if result.skipped:
        console.print(f"{describe_skipped(result.skipped)}: not checked (--json lists them)")
    verdict = "every file passes" if result.ok else f"{s['not_passing'] + s['not_done']} file(s) do not pass"
    if fixing:
        verdict = "every output passes" if result.ok else f"{s['not_passing'] + s['not_done']} file(s) not ready"
    console.print(verdict)
