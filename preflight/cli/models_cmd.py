"""preflight models status [--json] / install [--from PATH.task] [--force]: the pose model."""

from __future__ import annotations

import json

import click

from ..analyze import posemodel
from ..models import to_dict
from . import exit_with


@click.group("models")
def command() -> None:
    """Show or install the pose model the content gates use."""


@command.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(as_json: bool) -> None:
    """Say which pose model is in use and where it came from (fetches nothing).

    Exit code 0 when a model is installed, 1 when none is.
    """
    found = posemodel.model_status()
    if as_json:
        payload = {"installed": found is not None, "cache_dir": str(posemodel.cache_dir())}
        payload["model"] = to_dict(found) if found else None
        click.echo(json.dumps(payload, indent=2))
    elif found is None:
        click.echo(
            f"no pose model installed (cache: {posemodel.cache_dir()}).\n"
            "Run `preflight models install` to fetch or build one (about 36 MB download, once), or "
            "`preflight models install --from pose_landmarker_full.task`."
        )
    else:
        _describe(found)
    exit_with(0 if found else 1)


@command.command("install")
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, dir_okay=False),
    help="Use this official pose_landmarker_{lite,full,heavy}.task instead of downloading.",
)
@click.option("--force", is_flag=True, help="Replace a model already in the cache.")
def install(source: str | None, force: bool) -> None:
    """Install the pose model into the user cache: copy one, or fetch/build it."""
    if source:
        found = posemodel.install_model(source, force=force)
    else:
        existing = posemodel.model_status()
        if existing is not None and existing.source == "cache" and not force:
            click.echo("already installed (use --force to fetch or build it again)")
            _describe(existing)
            return
        found = posemodel.ensure_pose_model(force=force)
    _describe(found)


def _describe(found: posemodel.ModelStatus) -> None:
    click.echo(f"pose model: {found.path}")
    click.echo(f"  source:  {found.source} ({found.origin})")
    click.echo(f"  variant: {found.variant}")
    click.echo(f"  size:    {found.size / 1e6:.1f} MB")
    click.echo(f"  sha256:  {found.sha256}")
