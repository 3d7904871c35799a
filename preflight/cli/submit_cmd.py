"""preflight submit BUNDLE_DIR | --image IMG --video CLIP --provider NAME: create one generation task."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import PreflightError, TaskFailedError
from ..profiles import shipped_providers
from ..submit import get_provider, open_provider
from ..submit.base import JobStatus, MediaInput, Provider, SubmitSettings
from ..submit.body import submit_notes

if TYPE_CHECKING:
    from ..submit.ledger import Job, Ledger
    from ..submit.service import PollPolicy, SubmitPlan
    from ..submit.upload import UploadTarget


def _echo_err(text: str) -> None:
    click.echo(text, err=True)


def _providers_epilog() -> str:
    from ..profiles import load_provider

    lines = ["\b", "Providers (keys come from these environment variables or [keys] in the config file):"]
    for name in shipped_providers():
        contract = load_provider(name)
        cls = get_provider(contract.api)
        media = cls.media_note or (
            "uploads local files" if cls.can_upload else "needs --video-url (or --upload DEST) for the clip"
        )
        lines.append(f"  {name:<10} {' + '.join(cls.key_names)}; {media}; models: {', '.join(contract.routes)}")
    lines.append("`preflight profiles list` shows every model x provider with its limits and prices.")
    return "\n".join(lines)


@click.command("submit", epilog=_providers_epilog())
@click.argument("bundle_dir", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--image", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Subject image.")
@click.option("--video", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Motion clip.")
@click.option(
    "--provider",
    "provider_name",
    metavar="NAME|PATH.toml",
    default=None,
    help=f"Where to send it (required): {', '.join(shipped_providers())}, or a provider contract TOML.",
)
@click.option(
    "--model",
    "model_name",
    metavar="NAME",
    default=None,
    help="The model: kling-v2.6 (default, env PREFLIGHT_MODEL), kling-v3, wan-2.2-animate, runway-act-two...",
)
@click.option(
    "--mode",
    default=None,
    help="The tier: std = 720p, pro = 1080p for Kling; 480p/580p/720p for Wan. Default: the route's.",
)
@click.option(
    "--set",
    "set_inputs",
    metavar="NAME=VALUE",
    multiple=True,
    help="One of the model's own inputs (element_id, watermark, background_source, ratio, seed...); repeatable.",
)
@click.option("--prompt", default=None, help="Text prompt, at most 2500 characters.")
@click.option("--negative-prompt", default=None, help="Negative prompt (novita only).")
@click.option("--keep-sound/--no-keep-sound", default=None, help="Keep the clip's sound (provider default: keep).")
@click.option(
    "--orientation",
    type=click.Choice(["image", "video"]),
    default=None,
    help="character_orientation (default: the bundle's, else video).",
)
@click.option("--image-url", metavar="URL", default=None, help="Send this URL instead of the local image.")
@click.option(
    "--video-url",
    metavar="URL",
    default=None,
    help="Send this URL instead of the local clip (kling, novita, vercel need one: this or --upload).",
)
@click.option(
    "--upload",
    "upload_dest",
    metavar="DEST",
    envvar="PREFLIGHT_UPLOAD",
    default=None,
    help="Put the local clip (and the image where the provider wants a URL) here and send its URL: s3://BUCKET/"
    "PREFIX, gs://..., or a folder your web server serves (with --upload-base-url). Env PREFLIGHT_UPLOAD.",
)
@click.option(
    "--upload-base-url",
    metavar="URL",
    envvar="PREFLIGHT_UPLOAD_BASE_URL",
    default=None,
    help="The public URL of --upload's DEST (unsigned URLs); without it s3:// and gs:// URLs are signed.",
)
@click.option(
    "--upload-option",
    "upload_options",
    metavar="NAME=VALUE",
    multiple=True,
    help="An option of --upload's store (fsspec), e.g. endpoint_url=https://ACCOUNT.r2.cloudflarestorage.com.",
)
@click.option("--callback-url", metavar="URL", default=None, help="Passed to the provider's webhook/callback field.")
@click.option("--base-url", metavar="URL", default=None, help="API base URL (else env PREFLIGHT_<PROVIDER>_BASE_URL).")
@click.option(
    "--ledger",
    "ledger_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Job ledger file (else env PREFLIGHT_LEDGER, else the user data dir).",
)
@click.option("--wait", "wait_flag", is_flag=True, help="Poll until the task finishes.")
@click.option("--dry-run", is_flag=True, help="Print the exact HTTP request(s), secrets masked; send nothing.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask about the cost (for scripts).")
@click.option("--again", is_flag=True, help="Submit even though this pair + settings was submitted before.")
@click.option("--force", is_flag=True, help="Submit even if the pair does not pass the provider's profile.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Download the result here, a file or a folder for job<ID>.mp4 (implies --wait).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing file at -o (else refused before any request).")
def command(
    bundle_dir: Path | None,
    image: Path | None,
    video: Path | None,
    provider_name: str | None,
    model_name: str | None,
    mode: str | None,
    set_inputs: tuple[str, ...],
    prompt: str | None,
    negative_prompt: str | None,
    keep_sound: bool | None,
    orientation: str | None,
    image_url: str | None,
    video_url: str | None,
    upload_dest: str | None,
    upload_base_url: str | None,
    upload_options: tuple[str, ...],
    callback_url: str | None,
    base_url: str | None,
    ledger_path: Path | None,
    wait_flag: bool,
    dry_run: bool,
    yes: bool,
    again: bool,
    force: bool,
    output: Path | None,
    overwrite: bool,
) -> None:
    """Send a subject image and a motion clip to a provider and record the job.

    BUNDLE_DIR is a folder made by `preflight prepare` (or give --image and --video). The pair is
    checked against the provider's profile first; nothing is sent when it fails (--force sends
    anyway). The job is written to the ledger before the request goes out, so `preflight jobs
    resume` can always finish it. The same pair and settings a second time asks first (--again
    skips the question; with --yes alone a duplicate is refused).

    \b
    Examples:
      preflight prepare --image me.jpg --video dance.mp4 -o job1/
      preflight submit job1/ --provider fal --dry-run
      preflight submit job1/ --provider fal --mode pro --prompt "a knight" -o out.mp4
      preflight submit job1/ --provider kling --model kling-v3 --mode pro --wait
      preflight submit job1/ --provider kling --model kling-v3 --set element_id=42 --set watermark=false
      preflight submit job1/ --provider fal --model wan-2.2-animate --mode 580p --set seed=7
    """
    from ..profiles import default_model, load_model, load_profile, profile_ref
    from ..submit import service
    from ..submit.body import parse_inputs
    from ..submit.ledger import Ledger

    if provider_name is None:
        raise click.UsageError(f"--provider is required: one of {', '.join(shipped_providers())}")
    retry, poll = service.policy_from_env()
    provider = open_provider(provider_name, require_keys=False, base_url=base_url, policy=retry)
    duration = None
    image_sha = video_sha = None
    if bundle_dir is not None:
        if image or video:
            raise click.UsageError("give a bundle folder or --image/--video, not both")
        from ..bundle import read_bundle

        bundle = read_bundle(bundle_dir)
        image, video = bundle.image_path, bundle.video_path
        image_sha, video_sha = bundle.image.sha256, bundle.video.sha256
        orientation = orientation or bundle.orientation
        model_name = model_name or bundle.model
    model = load_model(model_name or default_model())
    route = provider.route(model.name)
    orientation = orientation or "video"
    if not (image or image_url) or not (video or video_url):
        raise click.UsageError(
            "need an image (--image or --image-url) and a clip (--video or --video-url), or a bundle folder"
        )

    # Cheapest refusals first: arguments, then keys, then the pair check (which reads the files).
    if output is not None and not dry_run and not service.is_folder_target(output):
        service.check_output(output, overwrite)  # a folder's job<ID>.mp4 is checked once the row has its id
    profile = load_profile(profile_ref(None, model.name, provider_name))
    limit = profile.max_prompt_chars
    for label, option, text in (
        ("prompt", "--prompt", prompt),
        ("negative prompt", "--negative-prompt", negative_prompt),
    ):
        if limit is not None and text and len(text) > limit:
            raise PreflightError(
                f"the {label} is {len(text)} characters; {profile.name} allows {limit}: shorten {option}",
                "prompt.too_long",
            )
    settings = SubmitSettings(
        mode=mode or route.default_mode,
        orientation=orientation,
        prompt=prompt,
        negative_prompt=negative_prompt,
        keep_sound=keep_sound,
        callback_url=callback_url,
        model=model.name,
        inputs=parse_inputs(model, _pairs(set_inputs)),
    )
    image_input, video_input = MediaInput("image", image, image_url), MediaInput("video", video, video_url)
    upload = upload_target(upload_dest, upload_base_url, upload_options)
    provider.check_settings(settings)
    for media in (image_input, video_input):
        if upload is None or not upload.takes(provider, media):
            provider.check_media(media)
    if upload is not None:
        upload.check()
    if not dry_run:
        provider = open_provider(provider_name, base_url=base_url, policy=retry)

    local = [p for p in (image, video) if p is not None]
    if local:
        duration = _check_pair(local, profile.name, orientation, force)
        settings = provider.settle(settings, [p for p in (image, video) if p is not None])

    ledger = Ledger(ledger_path)
    plan = service.plan_submit(
        provider,
        ledger,
        image_input,
        video_input,
        settings,
        duration=duration,
        image_sha256=image_sha,
        video_sha256=video_sha,
        upload=upload,
    )
    _confirm_duplicate(plan, again, yes, dry_run)
    _confirm_cost(provider, plan, yes or dry_run)
    for note in submit_notes(provider, settings):
        _echo_err(f"note: {note}")

    if dry_run:
        click.echo(service.dry_run_text(provider, plan))
        _echo_err("dry run: nothing was sent")
        return

    job = service.submit(provider, ledger, plan, output=output, overwrite=overwrite)
    if job.task_id is None:  # the create's answer carried the result (the gateway): nothing to wait for
        click.echo(f"job {job.id}: {provider.name} answered ({job.status})")
        finish(provider, ledger, job, output, overwrite=overwrite)
        return
    click.echo(f"job {job.id}: {provider.name} task {job.task_id} ({job.status})")
    if not (wait_flag or output):
        _echo_err(f"follow it with: preflight jobs wait {job.id}")
        return
    job = wait_with_progress(provider, ledger, job, poll)
    finish(provider, ledger, job, output, overwrite=overwrite)


def _pairs(items: tuple[str, ...], option: str = "--set") -> dict[str, str]:
    pairs = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            raise click.UsageError(f"{option} takes NAME=VALUE, not {item!r}")
        pairs[name.strip()] = value
    return pairs


def upload_target(dest: str | None, base_url: str | None, options: tuple[str, ...]) -> UploadTarget | None:
    """``--upload`` and its companions as one target (None without ``--upload``)."""
    from ..submit.upload import UploadTarget

    if dest is None:
        if base_url or options:
            raise click.UsageError("--upload-base-url and --upload-option go with --upload DEST")
        return None
    return UploadTarget(dest, base_url or None, tuple(_pairs(options, "--upload-option").items()))


def wait_with_progress(provider: Provider, ledger: Ledger, job: Job, poll: PollPolicy) -> Job:
    """Poll until the job finishes, showing it: a status line in place on a terminal, lines when piped."""
    from ..submit import service
    from ..submit.progress import WaitProgress

    with WaitProgress() as progress:
        progress.watch(job)
        return service.wait(provider, ledger, job, poll, on_change=progress.changed, on_poll=progress.polled)


def _check_pair(paths: list[Path], profile: str, orientation: str, force: bool) -> float | None:
    from .. import api

    report = api.check(paths, profile=profile, orientation=orientation, content=False)
    duration = None
    for item in report.items:
        if item.role == "video" and item.media is not None:
            duration = item.media.duration
        if item.verdict != "pass":
            for finding in item.findings:
                if finding.severity == "error":
                    _echo_err(f"  {item.path}: {finding.code}: {finding.message}")
    if not report.ok:
        if not force:
            raise PreflightError(
                f"the pair does not pass the {profile} profile (preflight fix/prepare can repair fixable "
                "findings; --force submits anyway)",
                "submit.check_failed",
            )
        _echo_err(f"preflight: warning: the pair does not pass the {profile} profile; submitting anyway (--force)")
    return duration


def _confirm_duplicate(plan: SubmitPlan, again: bool, yes: bool, dry_run: bool) -> None:
    earlier = plan.earlier
    if not earlier or again:
        return
    last = earlier[0]
    where = f"job {last.id} ({last.status}, {last.created_at})"
    if last.status is JobStatus.UNKNOWN:
        where += (
            f", whose outcome is unknown: it may have been made and billed, check the {last.provider} dashboard "
            "before sending it again"
        )
    if dry_run:
        _echo_err(f"note: this pair and these settings were submitted before as {where}")
        return
    if yes or not click.get_text_stream("stdin").isatty():
        raise PreflightError(
            f"already submitted as {where}; pass --again to pay for it again (or: preflight jobs show {last.id})",
            "submit.duplicate",
        )
    if not click.confirm(f"Already submitted as {where}. Submit again and spend credits again?", default=False):
        raise click.exceptions.Exit(1)


def _confirm_cost(provider: Provider, plan: SubmitPlan, skip: bool) -> None:
    cost, settings = plan.cost_estimate, plan.settings
    if cost is None or plan.duration is None:
        why = (
            "the clip length is unknown (URL only)"
            if cost is None and plan.duration is None and provider.price(settings) is not None
            else f"{provider.name} publishes no per-second price for {settings.model} {settings.mode}"
        )
        _echo_err(f"cost: not estimated: {why}")
        return
    price = provider.price(settings)
    route = provider.route(settings.model)
    note = f"; {route.price_note}" if route.price_note else ""
    tier = f"{settings.model} {settings.mode}" if len(route.modes) > 1 else settings.model
    _echo_err(f"cost: about ${cost:.2f} for {plan.duration:.1f} s at ${price}/s ({tier}{note})")
    if not skip and not click.confirm("Submit and pay this?", default=True):
        raise click.exceptions.Exit(1)


def finish(provider: Provider, ledger: Ledger, job: Job, output: Path | None, *, overwrite: bool = False) -> None:
    """After a wait: a failure becomes TaskFailedError (exit 1), a success is reported and downloaded."""
    from ..submit import service

    if job.status is JobStatus.FAILED:
        raise TaskFailedError(f"job {job.id}: the task failed: {job.message or 'no reason given'}")
    if job.status is not JobStatus.SUCCEEDED:
        raise TaskFailedError(f"job {job.id} ended {job.status}: {job.message or ''}".rstrip(": "))
    click.echo(f"job {job.id}: result {job.result_url} (expires {job.result_expires_at or 'unknown'})")
    if output is not None:
        try:
            job = service.download_result(provider, ledger, job, output, overwrite=overwrite)
        except PreflightError as exc:
            if exc.code != "output.exists":
                raise
            # The file appeared while the job ran: the result is still there to fetch.
            kept = f"{exc}; the result is kept: preflight jobs download {job.id} -o FILE"
            raise PreflightError(kept, exc.code) from exc
        click.echo(f"job {job.id}: saved {job.output}")
