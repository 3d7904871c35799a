"""preflight demo: check and fix media preflight makes itself, as a first run."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import api
from ..demo import make_demo_inputs
from ..report import write_report
from . import exit_with
from .options import content_option, profile_option


@click.command("demo")
@click.option("-o", "--outdir", type=click.Path(file_okay=False), default="preflight-demo", show_default=True,
              help="Where the demo's inputs and fixed outputs go.")  # fmt: skip
@profile_option
@content_option
def command(outdir: str, profile: str | None, no_content: bool) -> None:
    """Make four typical inputs, check them, fix what can be fixed, and check the results.

    Exit 0 when the demo behaved as expected: every fixable input came out passing and the broken
    upload was refused with its reason.
    """
    out = Path(outdir)
    click.echo(f"== making demo media in {out / 'inputs'} ...", err=True)
    inputs = make_demo_inputs(out / "inputs")
    click.echo("== preflight check " + " ".join(p.name for p in inputs.all), err=True)
    report = api.check(inputs.all, profile=profile, content=not no_content)
    write_report(report, "text", sys.stdout, color=sys.stdout.isatty())
    try:
        from ..fix import fix  # type: ignore[attr-defined]
    except ImportError:
        click.echo("(fix is not available in this build)", err=True)
        exit_with(0 if report.summary["fail"] == 1 else 1)
        return
    ready = out / "ready"
    click.echo(f"\n== preflight fix ... -o {ready}", err=True)
    fixed = fix(inputs.all, ready, profile=profile, content=not no_content)
    passed = 0
    for result in fixed.results:
        after = result.after.verdict if result.after is not None else "no output"
        actions = ", ".join(result.actions) if result.actions else (result.reason or "")
        click.echo(f"{Path(result.path).name:<24} -> {result.output or '-'}  [{after}]  {actions}")
        passed += after == "pass"
    expected = len(inputs.all) - 1  # the cut-off upload cannot be repaired
    click.echo(f"\n{passed} of {len(inputs.all)} inputs ready for {report.profile} in {ready}/")
    bundled = _bundle(fixed, inputs, out / "job", profile, not no_content)
    exit_with(0 if passed == expected and bundled else 1)


def _bundle(fixed, inputs, job: Path, profile: str | None, content: bool) -> bool:  # type: ignore[no-untyped-def]
    """The photo and the phone take, fixed, as a pair: pair checks and the manifest submit reads."""
    from ..prepare import prepare

    outputs = {Path(r.path).name: r.output for r in fixed.results}
    image, clip = outputs.get(inputs.small_photo.name), outputs.get(inputs.long_take.name)
    if not image or not clip:
        return False
    click.echo(f"\n== preflight prepare --image {Path(image).name} --video {Path(clip).name} -o {job}", err=True)
    result = prepare(image, clip, job, profile, content=content)
    for f in result.pair:
        click.echo(f"pair   {f.severity.value} {f.code}: {f.message}")
    if result.bundle is None:
        click.echo("the pair could not be bundled")
        return False
    click.echo(f"bundle ready: {job / 'manifest.json'}")
    click.echo(f"next: preflight submit {job} --provider fal --dry-run   (the exact requests, nothing sent)")
    return True
