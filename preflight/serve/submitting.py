"""Submit a prepared pair from the server: the cost line first, a dry run, then (confirmed) the real one.

The same steps as ``preflight submit BUNDLE`` (:mod:`preflight.cli.submit_cmd`) without the questions:
the page shows the cost and asks; an API client says ``"confirm": true``. Keys come from the server's
environment (or config file) and never leave it: :func:`key_status` says only whether each is set.
A submitted job is written to the ledger before its create (:func:`preflight.submit.service.submit`); a
thread then waits on it so the ledger, which the jobs view reads, follows the task live.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from ..errors import PreflightError, UsageError
from .wording import plain

__all__ = ["delivery", "key_status", "provider_catalog", "run_submit"]

log = logging.getLogger("preflight")


def key_status() -> dict[str, bool]:
    """Provider name -> whether its keys are configured here (never the keys)."""
    from ..profiles import load_provider, shipped_providers
    from ..submit import get_provider
    from ..submit.keys import load_key

    status = {}
    for name in shipped_providers():
        cls = get_provider(load_provider(name).api)
        status[name] = all(load_key(k) for k in cls.key_names)
    return status


def provider_catalog(upload: Any = None) -> list[dict[str, Any]]:
    """What the page's submit form offers: each provider, whether its key is set, its models and modes, and
    how a local file reaches it (:func:`delivery`; ``upload``: the server's ``--upload`` target, if set)."""
    from ..profiles import load_provider, shipped_providers
    from ..submit import get_provider

    keys = key_status()
    catalog = []
    for name in shipped_providers():
        contract = load_provider(name)
        models = {
            model: {"modes": list(route.modes), "default_mode": route.default_mode, "prices": dict(route.prices)}
            for model, route in contract.routes.items()
        }
        cls = get_provider(contract.api)
        files = {role: delivery(cls, role, upload is not None) for role in ("image", "video")}
        catalog.append({"name": name, "key_configured": keys[name], "models": models, "files": files})
    return catalog


def delivery(provider: Any, role: str, server_upload: bool, url: str | None = None) -> str:
    """How a local ``role`` file reaches ``provider``: ``link`` (a URL given), ``inline`` (inside the create
    request), ``server`` (this server's ``--upload`` destination), ``provider`` (the provider's own storage),
    or ``needs_link`` (only a URL will do: no upload API and no upload destination)."""
    if url:
        return "link"
    if role == "image" and provider.inline_image:
        return "inline"
    if server_upload:
        return "server"
    return "provider" if provider.can_upload else "needs_link"


def _cost(provider: Any, plan: Any) -> dict[str, Any]:
    settings = plan.settings
    price = provider.price(settings)
    route = provider.route(settings.model)
    tier = f"{settings.model} {settings.mode}" if len(route.modes) > 1 else settings.model
    if plan.cost_estimate is None or plan.duration is None:
        line = f"cost: not estimated: {provider.name} publishes no per-second price for {tier}"
    else:
        note = f"; {route.price_note}" if route.price_note else ""
        line = f"cost: about ${plan.cost_estimate:.2f} for {plan.duration:.1f} s at ${price}/s ({tier}{note})"
    return {"estimate": plan.cost_estimate, "currency": "USD", "seconds": plan.duration, "price_per_second": price,
            "line": line}  # fmt: skip


def run_submit(
    bundle_dir: str, request: dict[str, Any], ledger_path: str | None, upload: Any = None
) -> dict[str, Any]:
    """Dry run (``request["dry_run"]``) or submit the bundle in ``bundle_dir`` as ``request`` asks.

    ``upload``: the server's ``--upload`` target (an :class:`~preflight.submit.upload.UploadTarget`), if set."""
    from .. import api
    from ..bundle import read_bundle
    from ..profiles import default_model, load_model, load_profile, profile_ref
    from ..submit import open_provider, service
    from ..submit.base import MediaInput, SubmitSettings
    from ..submit.body import parse_inputs
    from ..submit.ledger import Ledger

    dry_run = bool(request.get("dry_run"))
    provider_name = request["provider"]
    retry, poll = service.policy_from_env()
    provider = open_provider(provider_name, require_keys=not dry_run, policy=retry)
    bundle = read_bundle(bundle_dir)
    image, video = bundle.image_path, bundle.video_path
    model = load_model(request.get("model") or bundle.model or default_model())
    route = provider.route(model.name)
    orientation = request.get("orientation") or bundle.orientation or "video"
    profile = load_profile(profile_ref(None, model.name, provider_name))
    for key in ("prompt", "negative_prompt"):
        text = request.get(key)
        if profile.max_prompt_chars is not None and text and len(text) > profile.max_prompt_chars:
            raise PreflightError(f"the {key.replace('_', ' ')} is {len(text)} characters; {profile.name} allows "
                                 f"{profile.max_prompt_chars}", "prompt.too_long")  # fmt: skip
    settings = SubmitSettings(
        mode=request.get("mode") or route.default_mode,
        orientation=orientation,
        prompt=request.get("prompt") or None,
        negative_prompt=request.get("negative_prompt") or None,
        keep_sound=request.get("keep_sound"),
        model=model.name,
        inputs=parse_inputs(model, {str(k): str(v) for k, v in (request.get("inputs") or {}).items()}),
    )
    image_input = MediaInput("image", Path(image), request.get("image_url") or None)
    video_input = MediaInput("video", Path(video), request.get("video_url") or None)
    provider.check_settings(settings)
    for media in (image_input, video_input):
        if upload is None or not upload.takes(provider, media):
            provider.check_media(media)
    report = api.check([image, video], profile=profile.name, orientation=orientation, content=False)
    duration = next((i.media.duration for i in report.items if i.role == "video" and i.media), None)
    if not report.ok and not request.get("force"):
        codes = sorted({f.code for i in report.items for f in i.findings if f.severity == "error"})
        raise PreflightError(f"the pair does not pass the {profile.name} profile ({', '.join(codes)}); prepare it "
                             f"for this provider, or send force", "submit.check_failed")  # fmt: skip
    settings = provider.settle(settings, [Path(image), Path(video)])
    ledger = Ledger(ledger_path)
    plan = service.plan_submit(provider, ledger, image_input, video_input, settings, duration=duration,
                               image_sha256=bundle.image.sha256, video_sha256=bundle.video.sha256,
                               upload=upload)  # fmt: skip
    earlier = [{"id": j.id, "status": str(j.status), "created_at": j.created_at} for j in plan.earlier]
    answer: dict[str, Any] = {"provider": provider.name, "model": model.name, "mode": settings.mode,
                              "cost": _cost(provider, plan), "earlier": earlier, "dry_run": dry_run}  # fmt: skip
    sending = {m.role: delivery(provider, m.role, upload is not None, m.url) for m in (image_input, video_input)}
    answer["page"] = {"cost": plain(answer["cost"]["line"]), "sending": sending}
    if dry_run:
        answer["requests"] = service.dry_run_text(provider, plan)
        # The requests as they are (keys masked): the creator's file names, URLs, base64; only the server's
        # upload destination (a folder of the server, perhaps) is named rather than shown.
        shown = answer["requests"]
        if upload is not None:
            shown = shown.replace(upload.dest, "(this server's upload destination)")
        answer["page"]["requests"] = shown
        return answer
    if not request.get("confirm"):
        raise UsageError(f"{answer['cost']['line']}: send confirm to submit and pay", "usage.invalid")
    if plan.earlier and not request.get("again"):
        last = plan.earlier[0]
        raise PreflightError(f"already submitted as job {last.id} ({last.status}, {last.created_at}); send again "
                             "to pay for it again", "submit.duplicate")  # fmt: skip
    job = service.submit(provider, ledger, plan)
    answer["ledger_job"] = job.as_dict()
    if job.task_id is not None and not job.finished:
        threading.Thread(target=_follow, args=(provider, ledger, job, poll), daemon=True,
                         name=f"preflight-serve-wait-{job.id}").start()  # fmt: skip
    return answer


def _follow(provider: Any, ledger: Any, job: Any, poll: Any) -> None:
    """Poll the task until it ends, recording every change in the ledger (the jobs view reads it)."""
    from ..submit import service

    try:
        service.wait(provider, ledger, job, poll)
    except PreflightError as exc:
        log.info("job %d: %s", job.id, exc.one_line())
    except Exception as exc:  # the ledger keeps the row: `preflight jobs resume` finishes it
        log.warning("job %d: waiting stopped: %s: %s", job.id, type(exc).__name__, exc)


def refresh_ledger_job(job_id: int, ledger_path: str | None) -> dict[str, Any]:
    """Poll one ledger job's provider once and return its row."""
    from ..submit import service
    from ..submit.ledger import Ledger

    ledger = Ledger(ledger_path)
    job = ledger.get(job_id)
    if job.task_id is not None and not job.finished:
        retry, _ = service.policy_from_env()
        job = service.refresh(service.provider_for_job(job, policy=retry), ledger, job)
    return job.as_dict()


def ledger_jobs(ledger_path: str | None, limit: int = 50) -> list[dict[str, Any]]:
    from ..submit.ledger import Ledger

    return [j.as_dict() for j in Ledger(ledger_path).jobs(limit=limit)]
