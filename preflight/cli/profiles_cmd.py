"""preflight profiles list | show: which model runs where, and the effective limits of each pair."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import click

from .. import api
from ..profiles import Profile, contract_matrix, profile_ref


@click.group("profiles")
def command() -> None:
    """The model x provider matrix and each pair's effective limits."""


def _mb(value: int | None) -> str:
    return f"{value / 1e6:g} MB" if value else "-"


def _secs(profile: Profile) -> str:
    v = profile.video
    span = f"{v.min_duration or 0:g}-{v.max_duration:g} s" if v.max_duration else "-"
    if profile.orientation_matters and v.max_duration_image_orientation:
        span += f" ({v.max_duration_image_orientation:g} s img)"
    return span


def _price(prices: Any) -> str:
    return ", ".join(f"{mode} ${p:g}/s" if mode != "default" else f"${p:g}/s" for mode, p in prices.items()) or "-"


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="The matrix as JSON (one object per model x provider).")
def list_profiles(as_json: bool) -> None:
    """The matrix: every model with every provider that serves it, and the effective limits."""
    rows = contract_matrix()
    if as_json:
        click.echo(json.dumps([_pair_dict(p) for p in rows], indent=2, default=list))
        return
    default = api.resolve_profile(None).name  # PREFLIGHT_PROFILE or PREFLIGHT_MODEL, as the checks take it
    header = ("", "model", "provider", "profile", "image", "clip", "clip length", "modes / price")
    table = [header]
    for pair in rows:
        prof = pair.profile
        mark = "*" if prof.name == default else ""
        modes = _price(pair.route.prices) if pair.route.prices else ", ".join(pair.route.modes)
        table.append((
            mark, pair.model.name, pair.provider.name, prof.name,
            f"{_mb(prof.image.max_bytes)} >={prof.image.min_side or 0}px",
            f"{_mb(prof.video.max_bytes)} >={prof.video.min_side or 0}px", _secs(prof), modes,
        ))  # fmt: skip
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    click.echo("\n* the default. Check a pair with --model M --provider P (or --profile M@P); details: "
               "preflight profiles show M --provider P")  # fmt: skip


def _pair_dict(pair: Any) -> dict[str, Any]:
    route = pair.route
    return {
        "model": pair.model.name,
        "provider": pair.provider.name,
        "profile": pair.profile.name,
        "model_id": route.model_id,
        "modes": dict(route.modes),
        "default_mode": route.default_mode,
        "prices": dict(route.prices),
        "inputs": [name for name, path in route.fields.items() if name not in ("image", "video")],
        "limits": _limits_dict(pair.profile),
    }


def _limits_dict(p: Profile) -> dict[str, Any]:
    return {"image": asdict(p.image), "video": asdict(p.video)}


@command.command("show")
@click.argument("name", default=None, required=False)
@click.option("--model", default=None, metavar="NAME|PATH.toml", help="A model (with --provider: that pair).")
@click.option("--provider", default=None, metavar="NAME|PATH.toml", help="A provider (with --model: that pair).")
@click.option("--json", "as_json", is_flag=True)
def show(name: str | None, model: str | None, provider: str | None, as_json: bool) -> None:
    """One profile's effective limits and where each number comes from.

    NAME is a profile (kling-v2.6, fal, kling-v3@novita...), a model name, or a TOML path; with
    --provider, NAME is taken as the model.
    """
    if name is not None and provider is not None and model is None:
        name, model = None, name
    p = api.resolve_profile(profile_ref(name, model, provider))
    if as_json:
        click.echo(json.dumps(asdict(p), indent=2, default=list))
        return
    click.echo(f"{p.name}: {p.description}")
    if p.model:
        click.echo(f"  model {p.model}, provider {p.provider or '-'}")
    if p.source:
        click.echo(f"  source: {p.source}")
    for section, limits in (("image", p.image), ("video", p.video)):
        click.echo(f"  [{section}]")
        for key, value in asdict(limits).items():
            if value is None or value == ():
                continue
            shown = ", ".join(value) if isinstance(value, tuple | list) else value
            dotted = f"{section}.{key}"
            origin = p.sources.get(dotted, "")
            flag = " (inferred)" if dotted in p.inferred else ""
            click.echo(f"    {key:<32} {shown!s:<24} {origin}{flag}".rstrip())
    _show_content(p)


def _show_content(p: Profile) -> None:
    from ..analyze.gates import SEVERITY_KEY, content_gate_defaults

    click.echo("  [content]  (thresholds of the content gates; * = set by this profile)")
    for key, default in content_gate_defaults().items():
        value = p.content.values.get(key, default)
        shown = str(value).lower() if isinstance(value, bool) else value  # as TOML spells it
        click.echo(f"    {key:<32} {shown}{' *' if key in p.content.values else ''}")
    for code, severity in (p.content.values.get(SEVERITY_KEY) or {}).items():
        click.echo(f"    severity of {code:<20} {severity} *")
