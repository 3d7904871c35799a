"""Profiles: the effective limits of one model through one provider, built from data.

    load_profile("kling-v3@novita")          a model through a provider: the stricter of each pair
    effective_profile("kling-v3", "novita")  the same
    load_profile("fal")                      an old single-file profile name (kling-v2.6 through fal)
    load_profile("studio.toml")              a user's own file: a standalone profile, or a model or
                                             provider contract (``kind = "model" | "provider"``)
    contract_matrix()                        every model x provider pair that is served

Model contracts live in ``models/``, provider contracts in ``providers/`` (:mod:`.contracts`). A
new model or provider is one TOML file there; nothing else lists them.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import ProfileError, UsageError, quoted, shortened
from ..inputs import resolved
from .contracts import (
    ModelContract,
    ProviderContract,
    Route,
    check_ref,
    is_file,
    is_path,
    load_model,
    load_provider,
    read_toml,
    shipped_models,
    shipped_providers,
)
from .limits import ContentGates, ImageLimits, VideoLimits, check_pairs, combine, parse_limits

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_PROFILE",
    "ContentGates",
    "ImageLimits",
    "ModelContract",
    "Pairing",
    "Profile",
    "ProviderContract",
    "Route",
    "VideoLimits",
    "available_profiles",
    "contract_matrix",
    "default_model",
    "default_profile_name",
    "effective_profile",
    "load_model",
    "load_profile",
    "load_provider",
    "profile_ref",
    "shipped_models",
    "shipped_providers",
]

DEFAULT_PROFILE = "kling-v2.6"
DEFAULT_MODEL = "kling-v2.6"
"""Kept at v2.6 though v3 is newer: a default that moved would silently change what scripts pay for."""
ORIENTATIONS = ("image", "video")


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    provider: str | None
    """The ``submit`` provider this profile describes, if any."""
    image: ImageLimits
    video: VideoLimits
    content: ContentGates = field(default_factory=ContentGates)
    max_prompt_chars: int | None = 2500
    source: str = ""
    """Where the numbers come from."""
    path: str | None = None
    """The file it was loaded from."""
    model: str | None = None
    """The model contract it was built from (None for a standalone profile file)."""
    sources: Mapping[str, str] = field(default_factory=dict)
    """``image.max_bytes`` -> who set the effective number and from which document."""
    inferred: tuple[str, ...] = ()
    """The effective numbers no document states outright (``section.key``)."""
    orientation_matters: bool = True
    """False for models without ``character_orientation`` (one duration cap)."""


@dataclass(frozen=True)
class Pairing:
    """One served model x provider pair, as ``profiles list`` shows it."""

    model: ModelContract
    provider: ProviderContract
    route: Route
    profile: Profile


ENV_PROFILE = "PREFLIGHT_PROFILE"
ENV_MODEL = "PREFLIGHT_MODEL"


def default_profile_name() -> str:
    """What a command given no ``--profile``, ``--model`` or ``--provider`` checks against:
    ``PREFLIGHT_PROFILE``, else ``PREFLIGHT_MODEL`` through its default provider (``MODEL@``), else
    :data:`DEFAULT_PROFILE`. Both variables set is ``config.invalid``, as ``--profile`` with ``--model``
    is a usage error: neither may silently win."""
    profile, model = _env_ref(ENV_PROFILE), _env_ref(ENV_MODEL)
    if profile and model:
        raise UsageError(
            f"{ENV_PROFILE} and {ENV_MODEL} are both set: unset one (or pass --profile, or --model/--provider)",
            "config.invalid",
        )
    if model:
        return f"{model}@"
    return profile or DEFAULT_PROFILE


def default_model() -> str:
    return _env_ref(ENV_MODEL) or DEFAULT_MODEL


def _env_ref(name: str) -> str | None:
    """A profile or model reference from the environment, refused with the variable's name when it
    cannot be one (a 100 KB value is quoted in part)."""
    value = os.environ.get(name) or None
    return check_ref(value, name) if value is not None else None


def _old_names() -> dict[str, tuple[str, str]]:
    """Old single-file profile name -> (model, provider)."""
    names: dict[str, tuple[str, str]] = {}
    for provider in shipped_providers():
        for alias, model in load_provider(provider).profile_names.items():
            names[alias] = (model, provider)
    return names


def available_profiles() -> list[str]:
    """The shipped profile names that need no ``@`` (each is one model through one provider)."""
    return sorted(_old_names())


def load_profile(name_or_path: str | os.PathLike[str] | None = None) -> Profile:
    """A profile by old name (``fal``), by ``model@provider``, or a user's TOML file by path."""
    ref = check_ref(str(name_or_path)) if name_or_path is not None else default_profile_name()
    if is_file(ref):
        return _from_file(ref)
    old = _old_names()
    if ref in old:
        return effective_profile(*old[ref])
    if "@" in ref:
        model, _, provider = ref.rpartition("@")
        return effective_profile(model or None, provider or None)
    if is_path(ref):
        return _from_file(ref)
    if ref in shipped_models():
        return effective_profile(ref, None)
    near = difflib.get_close_matches(ref, [*old, *shipped_models()], n=1)
    hint = f" (did you mean {near[0]}?)" if near else ""
    raise UsageError(
        f"unknown profile {quoted(ref)}{hint}; known profiles: {', '.join(sorted(old))}, or MODEL@PROVIDER "
        "(preflight profiles list)",
        "profile.unknown",
    )


def profile_ref(profile: str | None, model: str | None, provider: str | None) -> str | None:
    """What ``--profile`` / ``--model`` / ``--provider`` together name, as one :func:`load_profile`
    reference (``model@provider``; either side may be a TOML path): a string, so batch workers can
    load it themselves."""
    if profile is not None and (model is not None or provider is not None):
        raise UsageError("give --profile, or --model/--provider, not both", "usage.invalid")
    if model is None and provider is None:
        return profile
    return f"{model or ''}@{provider or ''}"


def effective_profile(model: str | None, provider: str | None) -> Profile:
    """The limits of ``model`` through ``provider``: the stricter of each pair.

    Without a provider, the model's ``default_provider``; without a model, :func:`default_model`
    when the provider serves it, else the first model it serves.
    """
    if provider is None:
        contract = load_model(model or default_model())
        if not contract.default_provider:  # a user's own model: its limits alone
            return _combine(contract, None, None)
        provider = contract.default_provider
    prov = load_provider(provider)
    if model is None:
        model = default_model() if default_model() in prov.routes else next(iter(prov.routes), default_model())
    mod = load_model(model)
    return _combine(mod, prov, prov.route(mod.name))


def _combine(model: ModelContract, provider: ProviderContract | None, route: Route | None) -> Profile:
    layers: dict[str, tuple[Any, str]] = {f"model {model.name}": (model, model.source)}
    if provider is not None and route is not None:
        layers[f"provider {provider.name}"] = (provider, provider.source)
        layers[f"provider {provider.name} for {model.name}"] = (route, provider.source)
    sources: dict[str, str] = {}
    inferred: list[str] = []
    limits = {}
    for section in ("image", "video"):
        stack = [(who, getattr(contract, section)) for who, (contract, _) in layers.items()]
        limits[section], setter = combine(stack, section)
        for key, who in setter.items():
            contract, default_source = layers[who]
            dotted = f"{section}.{key}"
            sources[dotted] = f"{who}: {contract.sources.get(dotted) or default_source}"
            if dotted in contract.inferred:
                inferred.append(dotted)
    if provider is None:
        name, description, path = model.name, model.title, model.path
    else:
        alias = next((a for a, m in provider.profile_names.items() if m == model.name), None)
        name, description = alias or f"{model.name}@{provider.name}", f"{model.title} through {provider.title}"
        path = f"{model.path} + {provider.path}"
    return Profile(
        name=name,
        description=description,
        provider=provider.name if provider else None,
        image=limits["image"],  # type: ignore[arg-type]
        video=limits["video"],  # type: ignore[arg-type]
        content=ContentGates(dict(model.content)),
        max_prompt_chars=model.max_prompt_chars,
        source="; ".join(s for s in (model.source, provider.source if provider else "") if s),
        path=path,
        model=model.name,
        sources=sources,
        inferred=tuple(inferred),
        orientation_matters=model.orientation,
    )


def contract_matrix() -> list[Pairing]:
    """Every shipped model x provider pair that is served, models in name order."""
    pairs = []
    for model_name in shipped_models():
        model = load_model(model_name)
        for provider_name in shipped_providers():
            provider = load_provider(provider_name)
            if model.name in provider.routes:
                route = provider.routes[model.name]
                pairs.append(Pairing(model, provider, route, _combine(model, provider, route)))
    return pairs


def _from_file(ref: str) -> Profile:
    """A user's TOML: a model or provider contract (``kind``), or a standalone profile."""
    data, _ = read_toml(ref, "profiles")
    kind = data.get("kind", "profile")
    if kind == "model":
        return effective_profile(ref, None)
    if kind == "provider":
        return effective_profile(None, ref)
    if kind != "profile":
        raise ProfileError(f"{ref}: kind must be profile, model or provider, not {quoted(str(kind))}")
    return _standalone(data, ref, default_name=Path(ref).stem)


_PROFILE_KEYS = {"kind", "name", "description", "provider", "base", "image", "video", "content", "max_prompt_chars",
                 "source"}  # fmt: skip
REQUIRED_WITHOUT_BASE = {"image": ("formats", "max_bytes"), "video": ("containers", "max_bytes", "max_duration")}
"""What a standalone profile must set itself when it names no ``base``: an empty or partial file would
otherwise switch every limit it forgot off."""


_BASES: ContextVar[tuple[Path, ...]] = ContextVar("preflight_profile_bases", default=())
"""The profile files whose ``base`` is being loaded, innermost last: a file met twice is a loop."""


def _base_profile(base: str, origin: str) -> Profile:
    """The profile ``origin`` names as its ``base``; a chain of bases that comes back to a file is
    ``profile.invalid`` (it recursed until Python gave up: exit 3)."""
    chain = (*_BASES.get(), resolved(origin))
    if resolved(base) in chain:
        shown = " -> ".join(shortened(str(p)) for p in (*chain, resolved(base)))
        raise ProfileError(f"{shortened(origin)}: base leads back to a file already loaded: {shown}")
    token = _BASES.set(chain)
    try:
        return load_profile(base)
    finally:
        _BASES.reset(token)


def _standalone(data: dict[str, Any], origin: str, default_name: str) -> Profile:
    unknown = sorted(set(data) - _PROFILE_KEYS)
    if unknown:
        raise ProfileError(f"{origin}: unknown key(s): {', '.join(unknown)}")
    for key, kind in (("name", str), ("description", str), ("source", str), ("base", str), ("provider", str),
                      ("content", dict), ("max_prompt_chars", int)):  # fmt: skip
        if key in data and (not isinstance(data[key], kind) or isinstance(data[key], bool)):
            raise ProfileError(f"{origin}: {key} has the wrong type ({type(data[key]).__name__})")
    own = {section: parse_limits(section, data.get(section, {}), origin) for section in ("image", "video")}
    if "base" in data:
        base = _base_profile(str(data["base"]), origin)
        image = replace(base.image, **own["image"])
        video = replace(base.video, **own["video"])
        content = {**base.content.values, **data.get("content", {})}
        prompt_chars = data.get("max_prompt_chars", base.max_prompt_chars)
    else:
        missing = [f"{sec}.{key}" for sec, keys in REQUIRED_WITHOUT_BASE.items() for key in keys if key not in own[sec]]
        if missing:
            raise ProfileError(
                f"{origin}: sets no {', '.join(missing)}: set them, or start from a shipped profile with "
                f'base = "{DEFAULT_PROFILE}" (any profile name, MODEL@PROVIDER or path)'
            )
        image, video = ImageLimits(**own["image"]), VideoLimits(**own["video"])
        content, prompt_chars = dict(data.get("content", {})), data.get("max_prompt_chars", 2500)
    for section, limits in (("image", image), ("video", video)):
        check_pairs(vars(limits), f"{origin}: [{section}] (with its base)")
    return Profile(
        name=str(data.get("name", default_name)),
        description=str(data.get("description", "")),
        provider=data.get("provider"),
        image=image,
        video=video,
        content=ContentGates(content),
        max_prompt_chars=prompt_chars,
        source=str(data.get("source", "")),
        path=origin,
    )
