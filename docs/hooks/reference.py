"""MkDocs hook: the reference pages made from the code at build time, so they cannot drift from it.

    reference/codes.md    every finding and error code, from preflight/codes.py (the registry)
    reference/matrix.md   every model x provider pair with its effective limits and where each number
                          comes from, from the TOML contracts through preflight.profiles
    import-graph.svg      the package's import graph (docs/hooks/import_graph.py)

The CLI reference (reference/cli.md) is written by the mkdocs-click extension from the click commands.
``python docs/hooks/reference.py`` writes the pages into site-pages/ to read them without MkDocs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # import_graph beside this file (MkDocs loads a hook by its path)

import import_graph  # noqa: E402

GENERATED_NOTE = "*Generated from {source} when the site is built: edit that, not this page.*"


def _cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> list[str]:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


# --- finding codes --------------------------------------------------------------------------------


def codes_page() -> str:
    from preflight.codes import CODES, EXIT_MEANINGS

    out = [
        "# Finding codes",
        "",
        GENERATED_NOTE.format(source="`preflight/codes.py`"),
        "",
        "Every finding in a report and every error line (`preflight: code: message`) carries one of "
        "these codes. A code is `area.what` and is never renamed once released, so a pipeline can branch "
        "on it. *Severity* is the finding's severity in a report (a profile's `[content.severity]` may "
        "change a content gate's); *exit* is the status a command ends with when that code is what "
        "failed a file or stopped it (a warning or a note: 0, or 1 with `--strict`); *HTTP* is the "
        "status `preflight serve` answers with. A test reads the source and fails when a code is "
        "produced that is not listed here, and another when a listed code is produced by no test.",
        "",
        "## Exit codes",
        "",
        *_table(["exit", "meaning"], ((f"`{n}`", words) for n, words in EXIT_MEANINGS.items())),
        "",
    ]
    areas: dict[str, list[Any]] = {}
    for entry in CODES:
        areas.setdefault(entry.area, []).append(entry)
    for area, entries in areas.items():
        out += [f"## {area}", ""]
        rows = (
            (
                f"`{e.code}`",
                e.severity.value if e.severity else "-",
                "-" if e.exit is None else e.exit,
                e.http or "-",
                e.meaning,
            )
            for e in entries
        )
        out += [*_table(["code", "severity", "exit", "HTTP", "meaning"], rows), ""]
    return "\n".join(out)


# --- the model x provider matrix --------------------------------------------------------------------


def _mb(value: int | None) -> str:
    return f"{value / 1e6:g} MB" if value else "-"


def _value(key: str, value: object) -> str:
    if isinstance(value, tuple | list):
        return ", ".join(map(str, value))
    if key == "max_bytes" and isinstance(value, int):
        return f"{value:,} bytes ({_mb(value)})"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _price(route: Any) -> str:
    if route.prices:
        return ", ".join(f"{m} ${p:g}/s" if m != "default" else f"${p:g}/s" for m, p in route.prices.items())
    return ", ".join(m for m in route.modes if m != "default") or "-"


def _clip_length(profile: Any) -> str:
    v = profile.video
    span = f"{v.min_duration or 0:g}-{v.max_duration:g} s" if v.max_duration else "-"
    if profile.orientation_matters and v.max_duration_image_orientation:
        span += f" ({v.max_duration_image_orientation:g} s with orientation image)"
    return span


def matrix_page() -> str:
    from preflight.profiles import contract_matrix, default_profile_name

    pairs = contract_matrix()
    default = default_profile_name()
    out = [
        "# Models x providers",
        "",
        GENERATED_NOTE.format(source="the contracts in `preflight/profiles/models/` and `providers/`"),
        "",
        "Every model with every provider that serves it, and the limits a check applies to that pair: "
        "for each limit the stricter of the model's contract and the provider's wins (file formats are "
        "the receiving API's). `preflight profiles list` prints the same matrix and `preflight profiles "
        "show MODEL --provider PROVIDER` one pair's limits; check against a pair with `--model M "
        "--provider P` or `--profile M@P`. Numbers no document states outright are marked *inferred*. "
        "How the contracts are read: [Models, providers and profiles](../models.md).",
        "",
        *_table(
            ["model", "provider", "profile", "image", "clip", "clip length", "modes / price"],
            (
                (
                    f"**{p.model.name}**" if p.profile.name == default else p.model.name,
                    p.provider.name,
                    f"[`{p.profile.name}`](#{_anchor(p.profile.name)})",
                    f"{_mb(p.profile.image.max_bytes)} >= {p.profile.image.min_side or 0} px",
                    f"{_mb(p.profile.video.max_bytes)} >= {p.profile.video.min_side or 0} px",
                    _clip_length(p.profile),
                    _price(p.route),
                )
                for p in pairs
            ),
        ),
        "",
        f"In bold: the default (`{default}`, or what `PREFLIGHT_PROFILE` / `PREFLIGHT_MODEL` name).",
        "",
    ]
    for pair in pairs:
        out += _pair_section(pair)
    return "\n".join(out)


def _anchor(name: str) -> str:
    return "profile-" + "".join(c if c.isalnum() else "-" for c in name.lower())


def _pair_section(pair: Any) -> list[str]:
    p, route = pair.profile, pair.route
    out = [
        f"## {p.name} {{#{_anchor(p.name)}}}",
        "",
        f"{p.description}. Model `{pair.model.name}` through `{pair.provider.name}`; the provider's id for it: "
        f"`{route.model_id}`.",
        "",
    ]
    if route.modes and list(route.modes) != ["default"]:
        out += [f"Modes: {', '.join(f'`{m}`' for m in route.modes)} (default `{route.default_mode}`); "
                f"price: {_price(route)}{f' ({route.price_note})' if route.price_note else ''}.", ""]  # fmt: skip
    elif route.prices:
        out += [f"Price: {_price(route)}{f' ({route.price_note})' if route.price_note else ''}.", ""]
    rows = []
    for section, limits in (("image", p.image), ("video", p.video)):
        for key, value in asdict(limits).items():
            if value is None or value == ():
                continue
            dotted = f"{section}.{key}"
            source = p.sources.get(dotted, "")
            if dotted in p.inferred:
                source = f"{source} (*inferred*)" if source else "*inferred*"
            rows.append((f"`{dotted}`", _value(key, value), source or "-"))
    out += [*_table(["limit", "value", "source"], rows), ""]
    return out


# --- MkDocs ---------------------------------------------------------------------------------------


def generated_pages() -> dict[str, str | bytes]:
    """Path under docs/ -> content, for every page this hook makes."""
    return {
        "reference/codes.md": codes_page(),
        "reference/matrix.md": matrix_page(),
        "import-graph.svg": import_graph.svg(import_graph.package_graph()),
    }


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for path, content in generated_pages().items():
        existing = files.get_file_from_path(path)
        if existing is not None:  # the committed copy of the picture: the fresh one wins
            files.remove(existing)
        files.append(File.generated(config, path, content=content))
    return files


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "site-pages")
    for path, content in generated_pages().items():
        out = target / path
        out.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            out.write_bytes(content)
        else:
            out.write_text(content, encoding="utf-8")
        print(out)
