"""The page's view of a job's result: what to show next to each file, in the words of :mod:`.wording`.

Pure functions of the result dicts the workers return (already relabelled: no server path), so every outcome
says why, next to what it concerns: a finding under its file, a fixed file with what was done to it, an
output that fails its re-check with the findings that failed it, a file not fixed with the reason. The API's
own fields (codes, messages, actions) stay as they are; the page reads ``result["page"]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .wording import actions_text, cure_of, finding_text, note_text, picture_words, plain, verdict_text

__all__ = ["PAIR_CODES", "check_view", "fix_view", "prepare_view", "window_text"]

PAIR_CODES = ("orientation.mismatch", "framing.mismatch")
"""Findings about the pair, shown with the pair rather than under one file."""
NOUNS = {"image": "photo", "video": "clip"}
TAKEN_BACK = "not kept: no bundle was written"
"""How prepare's reason starts for an output it removed because the other file failed (``prepare._taken_back``)."""


CURE_CONTROLS = {"reframe": "reframe", "follow": "reframe", "stabilize": "stabilize"}
"""The control each cure (:func:`.wording.cure_of`) sets: a cure is not offered again once its control was used."""


def finding_view(finding: Mapping[str, Any], tried: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A finding for the page: its words, and ``cure``, the content-fix control that would cure it (the page
    offers that control beside it), unless that control was ``tried`` on this file already."""
    cure = cure_of(finding)
    offered = cure is not None and CURE_CONTROLS[cure] not in tried
    return {"code": finding.get("code"), "severity": finding.get("severity"), "fixable": bool(finding.get("fixable")),
            "text": finding_text(finding, cure=offered), "cure": cure if offered else None}  # fmt: skip


def _findings(item: Mapping[str, Any], *, pair: bool) -> list[dict[str, Any]]:
    return [finding_view(f) for f in item.get("findings") or () if (f.get("code") in PAIR_CODES) == pair]


def tried_on(item: Mapping[str, Any]) -> frozenset[str]:
    """The content-fix controls a fix used on ``item``: its actions, or its output's findings saying why one
    was not made (``stabilize.crop_too_large``, ``reframe.people_overlap``...)."""
    after = item.get("after") or {}
    said = [str(a).split(" ", 1)[0] for a in item.get("actions") or ()]
    said += [str(f.get("code") or "").split(".", 1)[0] for f in after.get("findings") or ()]
    said += [str(n).split(":", 1)[0] for n in item.get("notes") or ()]
    return frozenset(CURE_CONTROLS.values()) & frozenset(said)


def check_view(report: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """Per file (in ``fields`` order: ``image``, ``video``): verdict in words and findings; the pair's findings."""
    items = []
    pair: list[dict[str, Any]] = []
    for field, item in zip(fields, report.get("items") or (), strict=False):
        items.append({
            "field": field, "name": item.get("path"), "verdict": item.get("verdict"),
            "verdict_text": verdict_text(item.get("verdict")) + ("" if item.get("pose_checked") is not False
                                                                 else " (the pose was not checked)"),
            "findings": _findings(item, pair=False),
        })  # fmt: skip
        pair += _findings(item, pair=True)
    return {"items": items, "pair": pair, "checked_against": _against(report)}


def _against(report: Mapping[str, Any]) -> str:
    model, provider = report.get("model"), report.get("provider")
    named = f"{model} at {provider}" if model and provider else str(report.get("profile") or "")
    orientation = report.get("orientation")
    return named + (f", orientation “{_orientation(orientation)}”" if orientation else "")


def _orientation(value: Any) -> str:
    from .wording import ORIENTATION_WORDS

    return ORIENTATION_WORDS.get(str(value), str(value))


def fix_view(report: Mapping[str, Any], outputs: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> dict[str, Any]:
    """Per file: the output offered (or why there is none), what was done in words, and when the output
    fails its re-check, the findings that fail it."""
    offered = {o["field"]: o for o in outputs if o.get("field") in NOUNS}
    items = [_fixed(field, item, offered.get(field))
             for field, item in zip(fields, report.get("items") or (), strict=False)]  # fmt: skip
    return {"items": items, "checked_against": _against(report)}


def _fixed(field: str, item: Mapping[str, Any], output: Mapping[str, Any] | None) -> dict[str, Any]:
    after = item.get("after") or None
    actions = item.get("actions") or ()
    view: dict[str, Any] = {
        "field": field, "name": item.get("path"), "before": item.get("verdict"),
        "output": output.get("name") if output else None,
        "download_name": output.get("download_name") if output else None,
        "verdict": after.get("verdict") if after else None,
        "done": actions_text(actions),
        "notes": [t for t in (note_text(str(n)) for n in item.get("notes") or ()) if t],
        "pictures": _pictures(output, actions),
        "problems": [], "warnings": [], "why": None,
    }  # fmt: skip
    if after is not None:
        tried = tried_on(item)
        findings = [f for f in after.get("findings") or () if f.get("code") not in PAIR_CODES]
        view["problems"] = [finding_view(f, tried) for f in findings if f.get("severity") == "error"]
        view["warnings"] = [finding_view(f, tried) for f in findings if f.get("severity") == "warning"]
    if output is None:
        view["why"] = _why_not(field, item)
    return view


PICTURES = {"reframe": "reframe_preview", "stabilize": "stabilize_preview"}
"""The before/after picture an output row names (:func:`.work.run_fix`) for each content fix."""


def _pictures(output: Mapping[str, Any] | None, actions: Sequence[str]) -> list[dict[str, str]]:
    """The output's before/after pictures (file name, alt text and caption in words), in the order fix
    applies them: the reframe crop, then the steadying."""
    pictures = []
    for kind, key in PICTURES.items():
        name = (output or {}).get(key)
        if name:
            alt, caption = picture_words(kind, actions)
            pictures.append({"kind": kind, "name": str(name), "alt": alt, "caption": caption})
    return pictures


def _why_not(field: str, item: Mapping[str, Any]) -> str:
    """Why a file has no output: the errors that block a fix, in words; else fix's own reason."""
    reason = str(item.get("reason") or "")
    if reason.startswith(TAKEN_BACK):
        other = NOUNS["video" if field == "image" else "image"]
        return f"made ready, but not kept: the {other} could not be made ready, so nothing was prepared"
    blocking = [f for f in item.get("findings") or () if f.get("severity") == "error" and not f.get("fixable")]
    if blocking:
        return "; ".join(finding_text(f) for f in blocking)
    return plain(reason) if reason else "nothing could be fixed"


def prepare_view(result: Mapping[str, Any], outputs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The fixed pair (as :func:`fix_view`), the pair's findings on it, and whether a bundle was made."""
    view = fix_view(result.get("fix") or {}, outputs, ("image", "video"))
    fixed = (result.get("fix") or {}).get("items") or ()
    tried = frozenset().union(*(tried_on(i) for i in fixed)) if fixed else frozenset()
    view["pair"] = [finding_view(f, tried) for f in result.get("pair_findings") or ()]
    view["ok"] = bool(result.get("ok"))
    if not view["ok"]:
        why = [f"the {NOUNS[i['field']]}: {_failure(i)}" for i in view["items"] if not _ready(i)]
        view["why"] = "; ".join(w for w in why if not w.endswith("nothing was prepared")) or "; ".join(why)
    return view


def _ready(item: Mapping[str, Any]) -> bool:
    return item.get("output") is not None and item.get("verdict") == "pass"


def _failure(item: Mapping[str, Any]) -> str:
    if item.get("why"):
        return str(item["why"])
    problems = item.get("problems") or ()
    return "; ".join(p["text"] for p in problems) if problems else "its fixed file does not pass"


def window_text(why: str, start: float, end: float, duration: float) -> str:
    """The timeline's suggested window, said plainly (``why`` is fix's own note or a fixed phrase)."""
    if why.startswith("window "):
        seen = why.split(": ", 1)[-1]
        counts = seen.split(" torso-visible samples")[0]
        shown, _, total = counts.partition("/")
        cuts = "no cut" if " 0 scene cut" in seen else "the fewest cuts"
        return (f"Suggested: {start:.1f}–{end:.1f} s, the part with {cuts} where the torso shows most "
                f"({shown} of {total} samples that show it)")
    if why == "the whole clip fits":
        return f"The whole clip fits ({duration:.1f} s)."
    return f"Suggested: {start:.1f}–{end:.1f} s ({plain(why)})"
