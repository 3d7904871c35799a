"""preflight jobs list|show|wait|download|resume|cancel: the job ledger and what is still running."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..errors import SubmitError


def _ledger_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--ledger",
        "ledger_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Job ledger file (else env PREFLIGHT_LEDGER, else the user data dir).",
    )(f)


def _overwrite_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--force",
        "--overwrite",
        "overwrite",
        is_flag=True,
        help="Replace an existing file at -o (else refused before anything is fetched).",
    )(f)


def _base_url_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--base-url", default=None, help="Override the API base URL stored with the job.")(f)


def _open(ledger_path: Path | None) -> Any:
    from ..submit.ledger import Ledger

    return Ledger(ledger_path)


def _provider(job: Any, base_url: str | None) -> Any:
    from ..submit import service

    retry, _ = service.policy_from_env()
    return service.provider_for_job(job, base_url=base_url, policy=retry)


@click.group("jobs")
def command() -> None:
    """The job ledger: every task submit created, and what became of it."""


@command.command("list")
@_ledger_option
@click.option("--all", "show_all", is_flag=True, help="Every job, not only the last 20.")
@click.option("--json", "as_json", is_flag=True)
def list_jobs(ledger_path: Path | None, show_all: bool, as_json: bool) -> None:
    """Jobs, newest first."""
    jobs = _open(ledger_path).jobs(limit=None if show_all else 20)
    if as_json:
        click.echo(json.dumps([j.as_dict() for j in jobs], indent=2))
        return
    if not jobs:
        click.echo("no jobs")
        return
    click.echo(f"{'ID':>4}  {'PROVIDER':<10} {'STATUS':<10} {'TASK':<28} {'CREATED':<26} OUTPUT")
    for j in jobs:
        # No task id: say what there is instead ("(sent, outcome unknown)": the gateway's lost answer).
        task = j.task_id or (f"({j.raw_status})" if j.raw_status else "-")
        line = f"{j.id:>4}  {j.provider:<10} {j.status.value:<10} {task[:28]:<28} {j.created_at:<26} {j.output or ''}"
        click.echo(line.rstrip())


@command.command("show")
@click.argument("job_id", type=int)
@_ledger_option
@click.option("--json", "as_json", is_flag=True)
def show(job_id: int, ledger_path: Path | None, as_json: bool) -> None:
    """One job with its history (no request is sent)."""
    job = _open(ledger_path).get(job_id)
    data = job.as_dict()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    events = data.pop("events")
    for key, value in data.items():
        if value not in (None, {}, ""):
            click.echo(f"{key:>18}: {json.dumps(value) if isinstance(value, dict) else value}")
    click.echo(f"{'history':>18}:")
    for event in events:
        click.echo(
            f"{'':>20}{event['at']}  {event['status']}  {event['raw_status'] or ''}  {event['message'] or ''}".rstrip()
        )


@command.command("wait")
@click.argument("job_id", type=int)
@_ledger_option
@_base_url_option
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), default=None, help="Download the result here (file or folder)."
)
@_overwrite_option
def wait_cmd(job_id: int, ledger_path: Path | None, base_url: str | None, output: Path | None, overwrite: bool) -> None:
    """Poll a job until it finishes (and download it with -o)."""
    from ..submit import service
    from .submit_cmd import finish, wait_with_progress

    ledger = _open(ledger_path)
    job = ledger.get(job_id)
    if job.task_id is None and not job.finished:
        raise service.no_task(job)
    if output is not None:
        service.check_output(service.download_target(output, job.id), overwrite)
    _, poll = service.policy_from_env()
    provider = _provider(job, base_url)
    job = wait_with_progress(provider, ledger, job, poll)
    finish(provider, ledger, job, output, overwrite=overwrite)


@command.command("download")
@click.argument("job_id", type=int)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="File or folder.")
@_overwrite_option
@_ledger_option
@_base_url_option
def download_cmd(job_id: int, output: Path, overwrite: bool, ledger_path: Path | None, base_url: str | None) -> None:
    """Download a finished job's result (temp name, size check, then rename; never over an existing
    file unless --force). A folder gets job<ID>.mp4."""
    from ..submit import service

    ledger = _open(ledger_path)
    job = ledger.get(job_id)
    service.check_output(service.download_target(output, job.id), overwrite)  # before keys or requests
    if job.task_id is None and not job.result_url:
        raise service.no_task(job)
    job = service.download_result(_provider(job, base_url), ledger, job, output, overwrite=overwrite)
    click.echo(f"job {job.id}: saved {job.output}")


@command.command("resume")
@_ledger_option
@_base_url_option
def resume_cmd(ledger_path: Path | None, base_url: str | None) -> None:
    """Finish every unfinished job: look up creates of unknown outcome, poll the rest."""
    from ..submit import service
    from . import exit_with

    ledger = _open(ledger_path)
    _, poll = service.policy_from_env()
    from ..submit.progress import WaitProgress

    with WaitProgress() as progress:
        outcomes = service.resume(
            ledger, lambda job: _provider(job, base_url), poll, on_change=progress.changed, on_poll=progress.polled
        )
    if not outcomes:
        click.echo("nothing to resume")
        return
    for outcome in outcomes:
        job = outcome.job
        click.echo(f"job {job.id}: {job.status}  {job.result_url or ''}  {outcome.note}".rstrip())
    exit_with(0 if all(o.job.status.value == "succeeded" for o in outcomes) else 1)


@command.command("cancel")
@click.argument("job_id", type=int)
@_ledger_option
@_base_url_option
def cancel_cmd(job_id: int, ledger_path: Path | None, base_url: str | None) -> None:
    """Ask the provider to cancel a job (where its API has a cancel)."""
    from ..submit.base import JobStatus

    ledger = _open(ledger_path)
    job = ledger.get(job_id)
    if job.finished:
        raise SubmitError(f"job {job.id} already {job.status}", "job.finished")
    if job.task_id is None:
        from ..submit.service import no_task

        raise no_task(job)
    provider = _provider(job, base_url)
    provider.cancel(job.task_id, job.provider_data)
    ledger.update(job.id, status=JobStatus.CANCELED, raw_status="cancel requested")
    click.echo(f"job {job.id}: cancel requested")
