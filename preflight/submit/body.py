"""A create request's fields, built from a route (data) instead of per-provider code.

The route (``profiles/providers/<name>.toml``, ``[models.<model>]``) names the field each input goes
in; this module turns our provider-neutral :class:`~.settings.SubmitSettings` into those fields and
refuses, before anything is sent, an input the route has no field for.

Field paths: ``a`` is a top-level field, ``a.b`` nests an object, ``a[]`` is a list of one value,
``a[].b`` a list of one object; an empty path means the value is used only in the model id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import UsageError
from ..profiles import ModelContract, Route
from .settings import SubmitSettings

__all__ = ["check_settings", "model_id", "option_name", "parse_inputs", "put", "route_fields", "submit_notes"]


def put(target: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at a field path (see the module docstring)."""
    head, dot, rest = path.partition(".")
    if head.endswith("[]"):
        name = head[:-2]
        if not dot:
            target[name] = [value]
            return
        items = target.setdefault(name, [{}])
        put(items[0], rest, value)
        return
    if not dot:
        target[head] = value
        return
    put(target.setdefault(head, {}), rest, value)


def _provider_value(route: Route, name: str, value: Any) -> Any:
    table = route.values.get(name)
    if not table:
        return value
    key = str(value).lower() if isinstance(value, bool) else str(value)
    return table.get(key, value)


def _named_inputs(route: Route, settings: SubmitSettings) -> dict[str, Any]:
    """Every input that goes out, by our name: the standard ones, the model's own, the route's defaults."""
    values: dict[str, Any] = dict(route.defaults)
    if route.takes("keep_sound"):
        # Most routes keep the sound unless told not to; a route may default to silence (Replicate's Wan).
        values["keep_sound"] = settings.keep_sound if settings.keep_sound is not None else _keeps_sound(route)
    for name in ("prompt", "negative_prompt"):
        if getattr(settings, name):
            values[name] = getattr(settings, name)
    if route.takes("orientation"):
        values["orientation"] = settings.orientation
    values.update(settings.inputs)
    return values


def route_fields(route: Route, settings: SubmitSettings, image: str, video: str) -> dict[str, Any]:
    """The body fields for one create (without the provider's envelope)."""
    body: dict[str, Any] = {}
    for path, value in route.const.items():
        put(body, path, value)
    put(body, route.fields["image"], image)
    put(body, route.fields["video"], video)
    mode = settings.mode or route.default_mode
    if route.mode_field:
        put(body, route.mode_field, route.modes[mode])
    for name, value in _named_inputs(route, settings).items():
        path = route.fields.get(name)
        if path:
            put(body, path, _provider_value(route, name, value))
    return body


def _keeps_sound(route: Route) -> bool:
    return bool(route.defaults.get("keep_sound", True))


def submit_notes(provider: Any, settings: SubmitSettings) -> list[str]:
    """What a user should know about this submit that no error says (printed as ``note:`` lines)."""
    route = provider.route(settings.model)
    notes = []
    if route.takes("keep_sound") and settings.keep_sound is None and not _keeps_sound(route):
        notes.append(
            f"{provider.name}'s {settings.model} output is silent unless asked: pass --keep-sound to keep the "
            f"clip's sound ({route.fields['keep_sound']} defaults to false)"
        )
    return notes


def model_id(route: Route, settings: SubmitSettings) -> str:
    """The route's model id with ``{mode}`` and ``{input}`` placeholders filled in."""
    mode = settings.mode or route.default_mode
    named = {k: _provider_value(route, k, v) for k, v in _named_inputs(route, settings).items()}
    return route.model_id.format(mode=route.modes.get(mode, mode), **named)


def check_settings(provider: str, route: Route, model: ModelContract, settings: SubmitSettings) -> None:
    """Refuse what this provider's route for this model has no field for, before anything is sent."""
    where = f"{provider} ({model.name})"
    mode = settings.mode or route.default_mode
    if mode not in route.modes:
        raise UsageError(
            f"{where} offers mode {', '.join(route.modes)}, not {mode!r}: pass --mode {route.default_mode} or "
            "leave --mode out",
            "usage.invalid",
        )
    if settings.orientation not in ("image", "video"):
        raise UsageError(f"orientation must be image or video, not {settings.orientation!r}", "usage.invalid")
    if settings.orientation != "video" and not route.takes("orientation"):
        raise UsageError(f"{where} has no character orientation: leave --orientation out", "usage.invalid")
    given: dict[str, Any] = dict(settings.inputs)
    if settings.negative_prompt:
        given["negative_prompt"] = settings.negative_prompt
    if settings.prompt:
        given["prompt"] = settings.prompt
    if settings.keep_sound is False:
        given["keep_sound"] = False
    for name, value in given.items():
        if model.input_spec(name) is None:
            raise UsageError(f"{model.name} has no input {name!r}{_inputs_hint(model, route)}", "usage.invalid")
        if not route.takes(name):
            raise UsageError(
                f"{where} does not take {name.replace('_', ' ')}: leave {option_name(name)} out"
                f"{_inputs_hint(model, route)}",
                "usage.invalid",
            )
        spec = model.input_spec(name)
        assert spec is not None
        spec.parse(value)
        if spec.orientation and settings.orientation != spec.orientation:
            raise UsageError(f"{name} needs orientation {spec.orientation}: pass --orientation {spec.orientation}",
                             "usage.invalid")  # fmt: skip


_FLAGS = {"prompt": "--prompt", "negative_prompt": "--negative-prompt", "keep_sound": "--no-keep-sound"}


def option_name(name: str) -> str:
    """How the CLI spells an input: its own option, or ``--set NAME=...``."""
    return _FLAGS.get(name, f"--set {name}=...")


def _inputs_hint(model: ModelContract, route: Route) -> str:
    taken = [n for n in route.fields if n not in ("image", "video", "orientation", "keep_sound")]
    return f" (it takes: {', '.join(taken)})" if taken else ""


def parse_inputs(model: ModelContract, pairs: Mapping[str, str]) -> tuple[tuple[str, Any], ...]:
    """``--set NAME=VALUE`` pairs parsed by the model's input specs."""
    out = []
    for name, raw in pairs.items():
        spec = model.input_spec(name)
        if spec is None:
            known = ", ".join(model.inputs) or "none"
            raise UsageError(f"{model.name} has no input {name!r} (its own inputs: {known})", "usage.invalid")
        out.append((name, spec.parse(raw)))
    return tuple(out)
