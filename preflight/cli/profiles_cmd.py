"""preflight profiles list | show NAME: what each provider accepts."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from .. import api
from ..profiles import available_profiles, default_profile_name, load_profile


@click.group("profiles")
def command() -> None:
    """List the provider profiles and show their limits."""


@command.command("list")
def list_profiles() -> None:
    """One line per shipped profile."""
    default = default_profile_name()
    for name in available_profiles():
        p = load_profile(name)
        mark = "*" if name == default else " "
        click.echo(f"{mark} {name:<12} {p.description}")


@command.command("show")
@click.argument("name", default=None, required=False)
@click.option("--json", "as_json", is_flag=True)
def show(name: str | None, as_json: bool) -> None:
    """Show one profile's limits (default: the default profile). NAME may be a TOML path."""
    p = api.resolve_profile(name)
    if as_json:
        click.echo(json.dumps(asdict(p), indent=2, default=list))
        return
    click.echo(f"{p.name}: {p.description}")
    if p.source:
        click.echo(f"  source: {p.source}")
    for section, limits in (("image", p.image), ("video", p.video)):
        click.echo(f"  [{section}]")
        for key, value in asdict(limits).items():
            if value is not None:
                shown = ", ".join(value) if isinstance(value, tuple | list) else value
                click.echo(f"    {key:<32} {shown}")
    from ..analyze.gates import SEVERITY_KEY, content_gate_defaults

    click.echo("  [content]  (thresholds of the content gates; * = set by this profile)")
    for key, default in content_gate_defaults().items():
        value = p.content.values.get(key, default)
        shown = str(value).lower() if isinstance(value, bool) else value  # as TOML spells it
        click.echo(f"    {key:<32} {shown}{' *' if key in p.content.values else ''}")
    for code, severity in (p.content.values.get(SEVERITY_KEY) or {}).items():
        click.echo(f"    severity of {code:<20} {severity} *")
