"""Model contracts and provider contracts, as data.

A **model contract** (``models/<name>.toml``) says what a model accepts and produces: sizes,
durations by orientation, the content it needs, the optional inputs it has. A **provider contract**
(``providers/<name>.toml``) says what one API adds on top: its own caps, and for each model it
serves a **route**: the model's id there, the field each input goes in, the modes and their prices.

Both are read here and nowhere else; a user's own TOML file can define either (``kind = "model"``
or ``kind = "provider"``).
"""

from __future__ import annotations

import os
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import ProbeError, ProfileError, UsageError, quoted, shortened
from ..inputs import open_regular
from .limits import parse_limits

__all__ = [
    "STANDARD_INPUTS",
    "InputSpec",
    "ModelContract",
    "ProviderContract",
    "Route",
    "load_model",
    "load_provider",
    "shipped_models",
    "shipped_providers",
]



def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class InputSpec:
    """One optional input a model takes besides the image and the clip."""

    name: str
    type: str
    """``str``, ``int``, ``float``, ``bool`` or ``choice``."""
    help: str = ""
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    max_chars: int | None = None
    orientation: str | None = None
    """The character orientation this input needs (Kling's element forces ``video``)."""

    def parse(self, raw: Any) -> Any:
        """The value, from a CLI string or a Python value; UsageError when it does not fit."""
        try:
            value = _coerce(self.type, raw)
        except ValueError:
            raise UsageError(f"{self.name} must be {_a(self.type)}, not {raw!r}", "usage.invalid") from None
        if self.choices and str(value) not in self.choices:
            raise UsageError(f"{self.name} must be one of {', '.join(self.choices)}, not {raw!r}", "usage.invalid")
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if numeric and ((self.min is not None and value < self.min) or (self.max is not None and value > self.max)):
            span = f"{self.min if self.min is not None else '...'}-{self.max if self.max is not None else '...'}"
            raise UsageError(f"{self.name} must be within {span}, not {raw!r}", "usage.invalid")
        if isinstance(value, str) and self.max_chars is not None and len(value) > self.max_chars:
            raise UsageError(
                f"the {self.name.replace('_', ' ')} is {len(value)} characters; at most {self.max_chars} are "
                "accepted: shorten it",
                "prompt.too_long",
            )
        return value


def _coerce(kind: str, raw: Any) -> Any:
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValueError(raw)
    if kind == "int":
        if isinstance(raw, bool) or (isinstance(raw, float) and raw != int(raw)):
            raise ValueError(raw)
        return int(raw)
    if kind == "float":
        value = float(raw)
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(raw)
        return value
    return str(raw)


def _a(kind: str) -> str:
    return {"int": "a whole number", "float": "a number", "bool": "true or false"}.get(kind, "text")


STANDARD_INPUTS: Mapping[str, InputSpec] = MappingProxyType(
    {
        "prompt": InputSpec("prompt", "str", "text prompt", max_chars=2500),
        "negative_prompt": InputSpec("negative_prompt", "str", "what to avoid", max_chars=2500),
        "keep_sound": InputSpec("keep_sound", "bool", "keep the clip's sound in the output"),
    }
)
"""Inputs every model may have; a route says whether its API takes them (and under which name)."""


@dataclass(frozen=True)
class ModelContract:
    name: str
    title: str
    source: str
    image: Mapping[str, Any]
    video: Mapping[str, Any]
    content: Mapping[str, Any] = field(default_factory=_empty)
    max_prompt_chars: int | None = None
    orientation: bool = False
    """True when the model takes ``character_orientation`` (its clip cap may depend on it)."""
    default_provider: str = ""
    inputs: Mapping[str, InputSpec] = field(default_factory=_empty)
    """The model's own optional inputs (beyond :data:`STANDARD_INPUTS`)."""
    sources: Mapping[str, str] = field(default_factory=_empty)
    """``section.key -> source`` where one number has a source of its own."""
    inferred: tuple[str, ...] = ()
    """``section.key`` of numbers no document states outright."""
    notes: str = ""
    path: str = ""

    def input_spec(self, name: str) -> InputSpec | None:
        return self.inputs.get(name) or STANDARD_INPUTS.get(name)


@dataclass(frozen=True)
class Route:
    """How one provider serves one model."""

    model: str
    model_id: str
    """The provider's name for it: a model name, an app path, an endpoint; may hold ``{mode}`` or
    ``{input_name}`` placeholders, filled from the mode's and the inputs' values."""
    modes: Mapping[str, str]
    """Our mode name -> the provider's value for it (``std`` -> ``720p``)."""
    default_mode: str
    mode_field: str | None = None
    """Where the mode's value goes in the body; None when it is in ``model_id`` (or nowhere)."""
    fields: Mapping[str, str] = field(default_factory=_empty)
    """Input name (``image``, ``video``, ``orientation``, ``prompt``, an option...) -> field path:
    ``a.b`` nests, ``a[]`` is a list of one, ``a[].b`` a list of one object."""
    values: Mapping[str, Mapping[str, Any]] = field(default_factory=_empty)
    """Input name -> our value (as text) -> the provider's (``keep_sound``: ``true`` -> ``"yes"``)."""
    const: Mapping[str, Any] = field(default_factory=_empty)
    """Field path -> a value always sent."""
    defaults: Mapping[str, Any] = field(default_factory=_empty)
    """Input name -> the value used when the user gives none (sent explicitly)."""
    prices: Mapping[str, float] = field(default_factory=_empty)
    """USD per second of output, by mode."""
    price_note: str = ""
    image: Mapping[str, Any] = field(default_factory=_empty)
    video: Mapping[str, Any] = field(default_factory=_empty)
    sources: Mapping[str, str] = field(default_factory=_empty)
    inferred: tuple[str, ...] = ()
    notes: str = ""

    def takes(self, name: str) -> bool:
        return name in self.fields


@dataclass(frozen=True)
class ProviderContract:
    name: str
    title: str
    api: str
    """The ``preflight.submit`` module that speaks this provider's API."""
    source: str
    image: Mapping[str, Any]
    video: Mapping[str, Any]
    routes: Mapping[str, Route]
    profile_names: Mapping[str, str] = field(default_factory=_empty)
    """Old single-file profile names this provider answers to -> the model they meant."""
    sources: Mapping[str, str] = field(default_factory=_empty)
    inferred: tuple[str, ...] = ()
    notes: str = ""
    path: str = ""

    def route(self, model: str) -> Route:
        try:
            return self.routes[model]
        except KeyError:
            served = ", ".join(self.routes) or "none"
            raise UsageError(
                f"{self.name} does not serve {model} (it serves: {served})", "profile.unsupported"
            ) from None


# ----- loading ----------------------------------------------------------------------------------


def _folder(kind: str) -> Any:
    return resources.files(__package__).joinpath(kind)


def _shipped(kind: str) -> list[str]:
    return sorted(p.name[: -len(".toml")] for p in _folder(kind).iterdir() if p.name.endswith(".toml"))


@cache
def shipped_models() -> tuple[str, ...]:
    return tuple(_shipped("models"))


@cache
def shipped_providers() -> tuple[str, ...]:
    return tuple(_shipped("providers"))


MAX_REF_CHARS = 4096
"""The longest profile, model or provider reference taken: Linux's PATH_MAX, so no real name or path
is longer (a 100 KB ``PREFLIGHT_PROFILE`` was an ``os.error`` with a 100 KB line)."""
MAX_TOML_BYTES = 1 << 20
"""The largest contract or profile file read: the shipped ones are a few KB."""


def check_ref(ref: str, what: str = "profile") -> str:
    """``ref`` when it can name a profile, model or provider; else ``profile.invalid`` quoting a
    little of it (too long, or holding a NUL, which no file name can)."""
    if len(ref) > MAX_REF_CHARS or "\x00" in ref:
        raise ProfileError(f"{what} {quoted(ref)} is neither a name nor a path: a path is at most "
                           f"{MAX_REF_CHARS} characters, with no NUL")  # fmt: skip
    return ref


def is_file(ref: str) -> bool:
    """``Path(ref).is_file()``, False where the system refuses the name (a part over 255 bytes)."""
    try:
        return Path(ref).is_file()
    except (OSError, ValueError):
        return False


def is_path(ref: str) -> bool:
    return ref.endswith(".toml") or os.sep in ref or is_file(ref)


def read_toml(ref: str, kind: str) -> tuple[dict[str, Any], str]:
    """A shipped contract's table by name, or a user's file by path; ``(table, origin)``."""
    check_ref(ref, kind.rstrip("s"))
    if is_path(ref):
        text, origin = _read_user_toml(ref), ref
    else:
        known = _shipped(kind)
        if ref not in known:
            noun = kind.rstrip("s")
            raise UsageError(f"unknown {noun} {quoted(ref)}; known: {', '.join(known)}", "profile.unknown")
        text = _folder(kind).joinpath(f"{ref}.toml").read_text(encoding="utf-8")
        origin = f"{kind}/{ref}.toml"
    try:
        return tomllib.loads(text), origin
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{shortened(origin)}: not valid TOML: {exc}") from exc
    except RecursionError:  # tables or arrays nested thousands deep: the parser recurses per level
        raise ProfileError(f"{shortened(origin)}: not valid TOML: nested too deep to be a profile") from None


def _read_user_toml(ref: str) -> str:
    shown = shortened(ref)
    try:
        with open_regular(ref) as fh:  # a FIFO named x.toml would wait forever: refused unread
            data = fh.read(MAX_TOML_BYTES + 1)
    except ProbeError as exc:
        code = exc.code if exc.code == "file.special" else "profile.unknown"
        raise ProfileError(f"cannot read {shown}: {exc.message.removeprefix(f'{ref}: ')}", code) from exc
    except OSError as exc:
        raise ProfileError(f"cannot read {shown}: {exc.strerror}", "profile.unknown") from exc
    if len(data) > MAX_TOML_BYTES:
        raise ProfileError(f"{shown} is over {MAX_TOML_BYTES >> 20} MB: too large to be a profile")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ProfileError(f"{shown} is not a TOML text file") from None


def _keys(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ProfileError(f"{where}: unknown key(s): {', '.join(unknown)}")


def _str_map(value: Any, where: str) -> Mapping[str, str]:
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise ProfileError(f"{where} must be a table of strings")
    return MappingProxyType(dict(value))


_MODEL_KEYS = {"kind", "name", "title", "source", "image", "video", "content", "max_prompt_chars", "orientation",
               "default_provider", "inputs", "sources", "inferred", "notes"}  # fmt: skip
_INPUT_KEYS = {"type", "help", "choices", "min", "max", "max_chars", "orientation"}


def load_model(ref: str) -> ModelContract:
    """A model contract: a shipped one by name (``kling-v3``) or a user's TOML file by path."""
    return _read_model(ref) if is_path(ref) else _shipped_model(ref)


@cache
def _shipped_model(name: str) -> ModelContract:
    return _read_model(name)


def _contract_table(ref: str, kind: str, allowed: set[str]) -> tuple[dict[str, Any], str, str]:
    """A contract's TOML table, checked for unknown keys and its ``kind``; ``(table, origin, name)``."""
    data, origin = read_toml(ref, f"{kind}s")
    _keys(data, allowed, origin)
    if data.get("kind", kind) != kind:
        raise ProfileError(f"{origin} is a {data.get('kind')} contract, not a {kind} contract")
    return data, origin, str(data.get("name") or Path(origin).stem)


def _read_model(ref: str) -> ModelContract:
    data, origin, name = _contract_table(ref, "model", _MODEL_KEYS)
    inputs = {}
    for input_name, spec in (data.get("inputs") or {}).items():
        _keys(spec, _INPUT_KEYS, f"{origin} [inputs.{input_name}]")
        if spec.get("type") not in ("str", "int", "float", "bool", "choice"):
            raise ProfileError(f"{origin} [inputs.{input_name}] type must be str, int, float, bool or choice")
        inputs[input_name] = InputSpec(
            input_name, spec["type"], spec.get("help", ""), tuple(spec.get("choices", ())),
            spec.get("min"), spec.get("max"), spec.get("max_chars"), spec.get("orientation"),
        )  # fmt: skip
    return ModelContract(
        name=name,
        title=str(data.get("title", name)),
        source=str(data.get("source", "")),
        image=MappingProxyType(parse_limits("image", data.get("image", {}), origin)),
        video=MappingProxyType(parse_limits("video", data.get("video", {}), origin)),
        content=MappingProxyType(dict(data.get("content", {}))),
        max_prompt_chars=data.get("max_prompt_chars"),
        orientation=bool(data.get("orientation", False)),
        default_provider=str(data.get("default_provider", "")),
        inputs=MappingProxyType(inputs),
        sources=_str_map(data.get("sources", {}), f"{origin} sources"),
        inferred=tuple(data.get("inferred", ())),
        notes=str(data.get("notes", "")),
        path=origin,
    )


_PROVIDER_KEYS = {"kind", "name", "title", "api", "source", "image", "video", "models", "profile_names", "sources",
                  "inferred", "notes"}  # fmt: skip
_ROUTE_KEYS = {"model_id", "modes", "default_mode", "mode_field", "fields", "values", "const", "defaults", "prices",
               "price_note", "image", "video", "sources", "inferred", "notes"}  # fmt: skip


def load_provider(ref: str) -> ProviderContract:
    """A provider contract: a shipped one by name (``fal``) or a user's TOML file by path."""
    return _read_provider(ref) if is_path(ref) else _shipped_provider(ref)


@cache
def _shipped_provider(name: str) -> ProviderContract:
    return _read_provider(name)


def _read_provider(ref: str) -> ProviderContract:
    data, origin, name = _contract_table(ref, "provider", _PROVIDER_KEYS)
    tables = data.get("models", {})
    routes = {model: _route(model, table, f"{origin} [models.{model}]") for model, table in tables.items()}
    return ProviderContract(
        name=name,
        title=str(data.get("title", name)),
        api=str(data.get("api", name)),
        source=str(data.get("source", "")),
        image=MappingProxyType(parse_limits("image", data.get("image", {}), origin)),
        video=MappingProxyType(parse_limits("video", data.get("video", {}), origin)),
        routes=MappingProxyType(routes),
        profile_names=_str_map(data.get("profile_names", {}), f"{origin} profile_names"),
        sources=_str_map(data.get("sources", {}), f"{origin} sources"),
        inferred=tuple(data.get("inferred", ())),
        notes=str(data.get("notes", "")),
        path=origin,
    )


def _route(model: str, table: Mapping[str, Any], where: str) -> Route:
    _keys(table, _ROUTE_KEYS, where)
    if not table.get("model_id"):
        raise ProfileError(f"{where}: model_id is required")
    modes = _str_map(table.get("modes") or {"default": ""}, f"{where} modes")
    default_mode = str(table.get("default_mode") or next(iter(modes)))
    if default_mode not in modes:
        raise ProfileError(f"{where}: default_mode {default_mode!r} is not one of its modes")
    prices = table.get("prices", {})
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in prices.values()):
        raise ProfileError(f"{where}: prices must be USD per second (numbers)")
    unknown = sorted(set(prices) - set(modes))
    if unknown:
        raise ProfileError(f"{where}: prices for unknown mode(s): {', '.join(unknown)}")
    fields = table.get("fields", {})
    missing = [name for name in ("image", "video") if not (isinstance(fields, Mapping) and fields.get(name))]
    if missing:
        raise ProfileError(f"{where}: fields must name where the {' and the '.join(missing)} go")
    placeholders = {name for _, name, _, _ in string.Formatter().parse(str(table["model_id"])) if name}
    strange = sorted(placeholders - {"mode"} - set(fields))
    if strange:
        raise ProfileError(f"{where}: model_id has {{{'}, {'.join(strange)}}} but no input of that name")
    return Route(
        model=model,
        model_id=str(table["model_id"]),
        modes=modes,
        default_mode=default_mode,
        mode_field=table.get("mode_field"),
        fields=_str_map(table.get("fields", {}), f"{where} fields"),
        values=MappingProxyType({k: MappingProxyType(dict(v)) for k, v in table.get("values", {}).items()}),
        const=MappingProxyType(dict(table.get("const", {}))),
        defaults=MappingProxyType(dict(table.get("defaults", {}))),
        prices=MappingProxyType({k: float(v) for k, v in prices.items()}),
        price_note=str(table.get("price_note", "")),
        image=MappingProxyType(parse_limits("image", table.get("image", {}), where)),
        video=MappingProxyType(parse_limits("video", table.get("video", {}), where)),
        sources=_str_map(table.get("sources", {}), f"{where} sources"),
        inferred=tuple(table.get("inferred", ())),
        notes=str(table.get("notes", "")),
    )

