"""preflight probe PATH... [--json]: what each file really is."""

from __future__ import annotations

import json

import click

from .. import api
from ..errors import ProbeError, printable
from ..models import to_dict
from ..report import describe_media
from . import exit_with


@click.command("probe")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list, one object per path).")
def command(paths: tuple[str, ...], as_json: bool) -> None:
    """Show real format, displayed size, duration and codecs of each file."""
    results = []
    failed = False
    for path in paths:
        try:
            info = api.probe(path)
        except ProbeError as exc:
            failed = True
            results.append({"path": path, "error": {"code": exc.code, "message": exc.message}})
            if not as_json:
                click.echo(f"{printable(path)}: {exc.one_line()}", err=True)
            continue
        results.append(to_dict(info))
        if not as_json:
            click.echo(f"{printable(path)}  [{info.role}]  {describe_media(info)}")
    if as_json:
        click.echo(json.dumps(results, indent=2, ensure_ascii=False))
    exit_with(1 if failed else 0)
