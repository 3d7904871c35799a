"""preflight prepare --image IMG --video CLIP -o OUTDIR: a checked, fixed, paired bundle to submit."""

from __future__ import annotations

import json

import click

from ..errors import printable
from ..prepare import prepare
from . import exit_with
from .options import check_person, check_window, content_option, fix_options, orientation_option, profile_option


@click.command("prepare")
@click.option("--image", "image", required=True, type=click.Path(), help="The subject image.")
@click.option("--video", "video", required=True, type=click.Path(), help="The motion reference clip.")
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False),
              help="The bundle folder: fixed files + manifest.json.")  # fmt: skip
@profile_option
@orientation_option
@content_option
@fix_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def command(
    image: str, video: str, outdir: str, profile: str | None, orientation: str, no_content: bool,
    start: float | None, end: float | None, aspect: str, fill: str, window: str, max_side: int,
    reframe: str | None, person: str, stabilize: bool, as_json: bool,
) -> None:  # fmt: skip
    """Check and fix the pair for a provider, check them together, and write manifest.json.

    Exit 0 when the bundle is ready for `preflight submit OUTDIR`; 1 when an input could not be fixed.
    With --reframe the clip is cropped to frame its person as the photo does (the same shot type, the
    same share of the height), or the photo to the clip's shot type when the clip is the tighter one.
    """
    check_window(start, end)
    check_person(reframe, person)
    if reframe and no_content:
        raise click.BadParameter("frames the person the content check finds: drop --no-content", param_hint="--reframe")
    result = prepare(
        image, video, outdir, profile, orientation, content=not no_content,
        start=start, end=end, aspect=aspect, fill=fill, window=window, max_side=max_side, reframe=reframe,
        person=person, stabilize=stabilize,
    )  # fmt: skip
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        exit_with(0 if result.ok else 1)
        return
    for role, r in (("image", result.image), ("video", result.video)):
        if r.output and r.after is not None:
            actions = ", ".join(r.actions) or "copy"
            click.echo(f"{role:<6} {printable(r.path)} -> {printable(str(r.output))}  [{r.after.verdict}]  {actions}")
            for f in r.after.findings:
                click.echo(f"         {f.severity.value} {f.code}: {f.message}")
        else:
            label = "NOT KEPT" if r.after is not None else "CANNOT FIX"  # fixed, removed with the half bundle
            click.echo(f"{role:<6} {printable(r.path)}  {label}: {printable(str(r.reason))}")
    for f in result.pair:
        click.echo(f"pair   {f.severity.value} {f.code}: {f.message}")
    if result.ok:
        click.echo(f"ready: {result.directory / 'manifest.json'}  (preflight submit {result.directory} --provider ...)")
    else:
        click.echo("not ready: no manifest written")
    exit_with(0 if result.ok else 1)
