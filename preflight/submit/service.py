"""What ``submit`` and ``jobs`` do, below the CLI: plan (:mod:`.plan`), create, poll, download, resume.

Nothing here prompts: questions (spend credits again? pay this much?) are the caller's, asked
between :func:`~.plan.plan_submit` and :func:`submit`.

Choices written down (the idempotency key and the external id: :mod:`.plan`):
- A create of unknown outcome: with a provider that can look a task up by our id (Kling), look;
  found -> recorded; provably absent -> sent once more (the external id makes a duplicate
  impossible anyway). Otherwise the row stays ``unknown`` and the error tells the user to check.
- A ``pending`` row belongs to the process that wrote it, which beats a heartbeat into it while it
  uploads and creates (:mod:`.owner`). ``resume`` leaves such a row alone while that process is alive
  and its heartbeat recent (it would race a create still in flight); once the owner is dead or
  silent, the row is settled like an ``unknown`` one (the process died around the create).
- Result downloads never send the API key: result URLs are pre-signed CDN links on other hosts.
- A download never replaces an existing file unless asked (``overwrite``; ``output.exists``
  otherwise). ``submit`` with an output checks it before anything is spent: a file target before the
  row is written, a folder's ``job<ID>.mp4`` (the id is known once the row is written) before the
  uploads and the create; that row is then marked failed, "not created".
- A job without a task id (its create never answered) has nothing to wait for or download:
  ``job.no_task``, pointing at ``jobs resume``.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx

from ..errors import PreflightError, SubmitError, UsageError
from .base import Created, JobStatus, MediaInput, Provider, TaskInput
from .dryrun import describe_request, dry_run_text  # re-exported: they lived here first
from .http import OutcomeUnknown, RetryPolicy, copy_result, download, output_exists
from .keys import redact
from .ledger import Job, Ledger
from .owner import busy_reason, heartbeat
from .plan import SubmitPlan, idempotency_key, plan_submit  # re-exported: they lived here first

__all__ = [
    "PollPolicy",
    "SubmitPlan",
    "check_output",
    "describe_request",
    "download_result",
    "download_target",
    "dry_run_text",
    "idempotency_key",
    "is_folder_target",
    "no_task",
    "plan_submit",
    "policy_from_env",
    "provider_for_job",
    "refresh",
    "resume",
    "submit",
    "wait",
]

logger = logging.getLogger("preflight")


@dataclass(frozen=True)
class PollPolicy:
    interval: float = 10.0
    """Seconds between the first polls; grows by half each time up to ``max_interval``."""
    max_interval: float = 60.0
    timeout: float = 3 * 3600.0
    """Give up waiting (the job stays in the ledger; ``jobs wait`` picks it up)."""
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)


MAX_SECONDS = 1e9
"""The largest number of seconds an env knob takes (about 31 years; ``time.sleep`` overflows long before inf)."""


def _env_float(name: str, default: float, *, whole: bool = False, minimum: float = 0.0) -> float:
    """``name`` from the environment as a finite number >= ``minimum`` (a whole one with ``whole``);
    unset or empty gives ``default``; anything else is ``config.invalid`` naming the variable and value."""
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    ok = math.isfinite(number) and minimum <= number <= MAX_SECONDS and (not whole or number.is_integer())
    if not ok:
        kind = "a whole number" if whole else "a number of seconds"
        raise UsageError(
            f"{name}={value!r} is not {kind} from {minimum:g} to {MAX_SECONDS:.0f}: set it to one, or unset it "
            f"for the default ({default:g})",
            "config.invalid",
        )
    return number


def policy_from_env() -> tuple[RetryPolicy, PollPolicy]:
    """Retry and poll timing, tunable by env (``PREFLIGHT_RETRY_BACKOFF``, ``PREFLIGHT_POLL_INTERVAL``...).

    Every knob must be a finite number >= 0 (attempts: a whole number >= 1), else ``config.invalid``
    (exit 2) names the variable and its value: a typo never becomes a traceback or an endless wait.
    """
    retry = RetryPolicy(
        attempts=int(_env_float("PREFLIGHT_RETRY_ATTEMPTS", 5, whole=True, minimum=1)),
        backoff=_env_float("PREFLIGHT_RETRY_BACKOFF", 1.0),
        max_retry_after=_env_float("PREFLIGHT_MAX_RETRY_AFTER", 300.0),
    )
    interval = _env_float("PREFLIGHT_POLL_INTERVAL", 10.0)
    poll = PollPolicy(
        interval=interval,
        max_interval=max(interval, _env_float("PREFLIGHT_POLL_MAX", 60.0)),
        timeout=_env_float("PREFLIGHT_WAIT_TIMEOUT", 3 * 3600.0),
    )
    return retry, poll


def submit(
    provider: Provider,
    ledger: Ledger,
    plan: SubmitPlan,
    *,
    output: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
) -> Job:
    """Write the job row, upload what needs uploading, create the task once, record the answer.

    ``output``: where the result is to be downloaded (a file, or a folder for ``job<ID>.mp4``); an
    existing file there is refused (``output.exists``) before anything is created, unless ``overwrite``.
    """
    if output is not None and not is_folder_target(output):
        check_output(Path(output), overwrite)
    job = ledger.add(
        provider=provider.name,
        base_url=provider.base_url,
        idempotency_key=plan.key,
        external_id=plan.external_id,
        settings=plan.settings.as_dict(),
        image=plan.image.url or (str(plan.image.path) if plan.image.path else None),
        video=plan.video.url or (str(plan.video.path) if plan.video.path else None),
        image_sha256=plan.image_sha256,
        video_sha256=plan.video_sha256,
        duration=plan.duration,
        cost_estimate=plan.cost_estimate,
    )
    logger.info("job %d: %s, external id %s", job.id, provider.name, job.external_id)
    if output is not None and is_folder_target(output):
        try:
            check_output(download_target(output, job.id), overwrite)
        except PreflightError as exc:
            ledger.update(job.id, status=JobStatus.FAILED, message=f"not created: {exc}")
            raise
    with heartbeat(ledger, job.id):
        return _upload_and_create(provider, ledger, plan, job)


def _upload_and_create(provider: Provider, ledger: Ledger, plan: SubmitPlan, job: Job) -> Job:
    try:
        image_ref, video_ref = (_media_ref(provider, ledger, plan, job.id, m) for m in (plan.image, plan.video))
    except PreflightError as exc:
        ledger.update(job.id, status=JobStatus.FAILED, message=f"not created: {exc}")
        raise
    except BaseException:  # Ctrl-C during an upload: nothing was created
        ledger.update(job.id, status=JobStatus.FAILED, message="not created: interrupted during the upload")
        raise
    job = ledger.get(job.id)
    urls = {
        f"{m.role}_url": ref
        for m, ref in ((plan.image, image_ref), (plan.video, video_ref))
        if ref.startswith(("http://", "https://"))
    }
    if urls:
        job = ledger.update(job.id, provider_data={**job.provider_data, **urls})
    task = TaskInput(image_ref, video_ref, plan.settings, job.external_id)
    try:
        created = provider.create(task, on_sent=lambda: ledger.update(job.id, raw_status=SENT))
    except OutcomeUnknown as exc:
        return _resolve_unknown(provider, ledger, job, task, exc)
    except SubmitError as exc:
        # A call that answers with its result fails as a whole: "failed", not "not created".
        what = "failed" if provider.returns_result else "not created"
        ledger.update(job.id, status=JobStatus.FAILED, message=f"{what}: {exc}")
        raise
    except BaseException:  # Ctrl-C while the create was out: the task may exist
        sent = ledger.get(job.id).raw_status == SENT
        ledger.update(job.id, status=JobStatus.UNKNOWN, raw_status=SENT_UNKNOWN if sent else None,
                      message="interrupted during the create")  # fmt: skip
        raise
    return _record_created(ledger, job, created)


def _media_ref(provider: Provider, ledger: Ledger, plan: SubmitPlan, job_id: int, media: MediaInput) -> str:
    """What the create carries for ``media``: ``--upload``'s URL (recorded on the job at once), or the provider's."""
    if not plan.uploads(provider, media):
        return provider.media_ref(media)
    from .upload import upload_media

    sha256 = plan.sha256(media)
    assert plan.upload is not None and sha256 is not None
    done = upload_media(plan.upload, media, sha256, provider.input_url_ttl, ledger.uploads(sha256))
    job = ledger.get(job_id)
    uploads = {**job.provider_data.get("uploads", {}), media.role: done.record()}
    ledger.update(job_id, provider_data={**job.provider_data, "uploads": uploads})
    return done.url


SENT = "sent, generating"
"""raw_status of a row whose request the provider took and is answering over a held connection."""
SENT_UNKNOWN = "sent, outcome unknown"
"""raw_status of a row whose create reached the provider and whose answer never came back."""


def _record_created(ledger: Ledger, job: Job, created: Created) -> Job:
    data = {**ledger.get(job.id).provider_data, **created.data}
    outcome = created.outcome
    if outcome is None:
        return ledger.update(
            job.id,
            status=JobStatus.QUEUED,
            raw_status=created.raw_status or "created",
            task_id=created.task_id,
            provider_data=data,
        )
    result_url = outcome.result_url
    if outcome.video is not None:
        result_url = _keep_video(ledger, job, outcome.video).as_uri()
    return ledger.update(
        job.id,
        status=outcome.status,
        raw_status=outcome.raw_status,
        task_id=created.task_id,
        provider_data=data,
        result_url=result_url,
        result_ttl=outcome.ttl,
        message=outcome.message,
    )


def _keep_video(ledger: Ledger, job: Job, video: bytes) -> Path:
    """An answer that carried the video itself: kept beside the ledger (``results/job<ID>.mp4``) until
    downloaded, written to a temp name first so a half-written file is never taken for the result."""
    folder = ledger.path.parent / "results"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"job{job.id}.mp4"
    temp = folder / f".job{job.id}.{os.getpid()}.part"
    try:
        temp.write_bytes(video)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return target


def _resolve_unknown(provider: Provider, ledger: Ledger, job: Job, task: TaskInput | None, exc: Exception) -> Job:
    # Known to have reached the provider: the create's connection failed after sending, or the provider
    # had taken it and was still answering when the process died.
    sent = isinstance(exc, OutcomeUnknown) or job.raw_status == SENT
    job = ledger.update(
        job.id, status=JobStatus.UNKNOWN, raw_status=SENT_UNKNOWN if sent else None, message=str(exc)
    )
    if not provider.can_lookup:
        raise OutcomeUnknown(f"job {job.id}: {exc}. {provider.outcome_unknown_advice()}") from exc
    found = provider.lookup(job.external_id)
    if found is not None:
        logger.info("job %d: the create had gone through: task %s", job.id, found.task_id)
        return _record_created(ledger, job, found)
    if task is None:
        return ledger.update(
            job.id, status=JobStatus.FAILED, message=f"never created: {provider.name} has no task {job.external_id}"
        )
    logger.info("job %d: no task %s at %s; sending the create again", job.id, job.external_id, provider.name)
    try:
        created = provider.create(task)
    except OutcomeUnknown as again:
        raise OutcomeUnknown(f"job {job.id}: {again}; `preflight jobs resume` will look again") from again
    return _record_created(ledger, job, created)


def refresh(provider: Provider, ledger: Ledger, job: Job) -> Job:
    """Poll once and record any change."""
    if job.task_id is None or job.finished:
        return job
    state = provider.status(job.task_id, job.provider_data)
    if state.status == job.status and state.raw_status == job.raw_status and not state.result_url:
        return job
    return ledger.update(
        job.id,
        status=state.status,
        raw_status=state.raw_status,
        result_url=state.result_url if state.result_url and not job.result_url else None,
        result_ttl=state.ttl or provider.result_ttl,
        message=state.message,
    )


def wait(
    provider: Provider,
    ledger: Ledger,
    job: Job,
    poll: PollPolicy,
    on_change: Callable[[Job], None] | None = None,
    on_poll: Callable[[Job], None] | None = None,
) -> Job:
    """Poll until the job finishes (or ``poll.timeout`` passes: SubmitError ``submit.timeout``).

    ``on_change`` hears of every status change, ``on_poll`` of every poll (a progress display).
    """
    deadline = poll.clock() + poll.timeout
    interval = poll.interval
    while True:
        before = (job.status, job.raw_status)
        job = refresh(provider, ledger, job)
        if on_poll:
            on_poll(job)
        if on_change and (job.status, job.raw_status) != before:
            on_change(job)
        if job.finished or job.task_id is None:
            return job
        if poll.clock() + interval > deadline:
            raise SubmitError(
                f"job {job.id} still {job.status} after {poll.timeout:.0f} s; `preflight jobs wait {job.id}` "
                "picks it up",
                "submit.timeout",
            )
        poll.sleep(interval)
        interval = min(poll.max_interval, interval * 1.5)


def is_folder_target(out: str | os.PathLike[str]) -> bool:
    """``-o`` names a folder (an existing one, or a path ending in a separator): ``job<ID>.mp4`` goes in it."""
    return Path(out).is_dir() or str(out).endswith(os.sep)


def download_target(out: str | os.PathLike[str], job_id: int) -> Path:
    """Where a download of job ``job_id`` to ``out`` lands: ``out``, or ``out/job<ID>.mp4`` for a folder."""
    return Path(out) / f"job{job_id}.mp4" if is_folder_target(out) else Path(out)


def check_output(target: Path, overwrite: bool) -> None:
    """Refuse (``output.exists``) a download target that exists, unless ``overwrite``."""
    if not overwrite and (target.exists() or target.is_symlink()):
        raise output_exists(target)


def no_task(job: Job) -> SubmitError:
    if job.status is JobStatus.UNKNOWN:
        return SubmitError(
            f"job {job.id} has no task id: it was sent and its outcome is unknown ({job.message or 'no answer'}); "
            "nothing can be waited for or downloaded",
            "job.no_task",
        )
    return SubmitError(
        f"job {job.id} has no task id ({job.status}): its create never answered; run preflight jobs resume",
        "job.no_task",
    )


def download_result(
    provider: Provider, ledger: Ledger, job: Job, out: str | os.PathLike[str], *, overwrite: bool = False
) -> Job:
    """Download the result to ``out`` (a file, or a folder to put ``job<ID>.mp4`` in).

    An existing file there is refused (``output.exists``) before anything is fetched, unless ``overwrite``.
    """
    target = download_target(out, job.id)
    check_output(target, overwrite)
    if not job.result_url and job.task_id is None:
        raise no_task(job)
    if not job.result_url:
        job = refresh(provider, ledger, job)
    if not job.result_url:
        raise SubmitError(f"job {job.id} has no result yet (status {job.status})", "submit.no_result")
    if job.result_expires_at and job.result_expires_at < time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()):
        logger.warning("job %d: the result URL expired at %s; trying anyway", job.id, job.result_expires_at)
    if job.result_url.startswith("file://"):  # the answer carried the video itself: kept beside the ledger
        path = copy_result(Path(url2pathname(urlsplit(job.result_url).path)), target, overwrite=overwrite)
    else:
        path = download(provider.client, job.result_url, target, provider.policy, overwrite=overwrite)
    return ledger.update(job.id, output=str(path))


def provider_for_job(
    job: Job, *, base_url: str | None = None, client: httpx.Client | None = None, policy: RetryPolicy | None = None
) -> Provider:
    from . import get_provider

    cls = get_provider(job.provider)
    return cls.from_env(base_url=base_url or job.base_url, client=client, policy=policy)


@dataclass(frozen=True)
class ResumeOutcome:
    job: Job
    note: str


def resume(
    ledger: Ledger,
    make_provider: Callable[[Job], Provider],
    poll: PollPolicy,
    on_change: Callable[[Job], None] | None = None,
    on_poll: Callable[[Job], None] | None = None,
) -> list[ResumeOutcome]:
    """Finish every unfinished job: resolve the ones without a task id, wait for the others.

    A pending row whose owner is still at work is left alone (its outcome says so).
    """
    outcomes = []
    for job in reversed(ledger.jobs(unfinished=True)):
        busy = busy_reason(job) if job.status is JobStatus.PENDING else None
        if busy:
            logger.info("job %d: %s", job.id, busy)
            outcomes.append(ResumeOutcome(job, busy))
            continue
        try:
            provider = make_provider(job)
            if job.task_id is None:
                try:
                    job = _resolve_unknown(provider, ledger, job, None, SubmitError("interrupted during the create"))
                except OutcomeUnknown as exc:
                    outcomes.append(ResumeOutcome(ledger.get(job.id), str(exc)))
                    continue
            if job.task_id is not None:
                job = wait(provider, ledger, job, poll, on_change, on_poll)
            outcomes.append(ResumeOutcome(job, job.message or ""))
        except PreflightError as exc:
            outcomes.append(ResumeOutcome(ledger.get(job.id), redact(exc.one_line())))
    return outcomes
