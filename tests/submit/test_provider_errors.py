"""Provider error codes that a bare HTTP status misreads, against the fake servers.

Each test asserts the finding code (``exc.code``) and the retry decision (how many requests reached
the fake), never the provider's own words: where our advice is checked, the provider's echoed
message is cut out of the text first.
"""

from __future__ import annotations

import pytest

from preflight.errors import AccountError, AuthError, CreditsError, RateLimitError, SubmitError, ValidationError
from preflight.submit import get_provider
from preflight.submit.base import MediaInput, SubmitSettings
from preflight.submit.http import RetryPolicy
from preflight.submit.ledger import Ledger
from preflight.submit.service import PollPolicy, plan_submit, submit, wait

KLING_CREATE = "/v1/videos/motion-control"


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _provider(name, server, sleeps, attempts=3):
    policy = RetryPolicy(attempts=attempts, backoff=0.5, sleep=sleeps, random=lambda: 0.5)
    return get_provider(name).from_env(base_url=server.url, policy=policy)


def _submit(provider, media, ledger):
    image, clip = media
    video = MediaInput("video", clip, None if provider.can_upload else "https://cdn.example/clip.mp4")
    settings = SubmitSettings(mode=provider.default_mode)
    plan = plan_submit(provider, ledger, MediaInput("image", image), video, settings, duration=3.5)
    return submit(provider, ledger, plan)


def _sent(server, method, path):
    return sum(1 for m, p, _ in server.requests if (m, p) == (method, path))


def _ours(error, reply):
    """The error's text without the provider's echoed message: what we add (the advice)."""
    text = str(error)
    for key in ("message", "msg", "detail", "reason"):
        if isinstance(reply.body, dict) and isinstance(reply.body.get(key), str):
            text = text.replace(reply.body[key], "")
    return text


# ----- Kling: HTTP 429 is read by its code ---------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error", "finding", "advice"),
    [
        (1100, AccountError, "submit.account", "account"),
        (1101, CreditsError, "submit.no_credits", "pay the overdue bill"),
        (1102, CreditsError, "submit.no_credits", "buy"),
        (1103, AccountError, "submit.forbidden", "no permission"),
        (1304, AccountError, "submit.ip_blocked", "IP address"),
        (1300, ValidationError, "submit.content_policy", "policy"),
        (1301, ValidationError, "submit.content_policy", "policy"),
    ],
)
def test_kling_codes_waiting_cannot_fix_are_not_retried(fake, media, tmp_path, code, error, finding, advice):
    server = fake("kling")
    reply = server.error(code)
    server.script["create"] += [reply, server.error(code)]  # a retry would only get the same answer
    sleeps = Sleeps()
    ledger = Ledger(tmp_path / "l.db")
    with pytest.raises(error) as info:
        _submit(_provider("kling", server, sleeps), media, ledger)
    assert info.value.code == finding
    assert advice in _ours(info.value, reply)
    assert _sent(server, "POST", KLING_CREATE) == 1 and sleeps == [] and server.creates == 0
    assert ledger.jobs()[0].status == "failed"


def test_kling_permission_error_is_not_a_key_problem(fake, media, tmp_path):
    server = fake("kling")
    server.script["create"].append(server.error(1103))
    with pytest.raises(AccountError) as info:
        _submit(_provider("kling", server, Sleeps()), media, Ledger(tmp_path / "l.db"))
    assert info.value.code == "submit.forbidden" and "KLINGAI_SECRET_KEY" not in str(info.value)


@pytest.mark.parametrize("code", [1302, 1303])
def test_kling_rate_limits_are_retried_until_they_run_out(fake, media, tmp_path, code):
    server = fake("kling")
    reply = server.error(code)
    server.script["create"] += [reply, server.error(code), server.error(code)]
    sleeps = Sleeps()
    with pytest.raises(RateLimitError) as info:
        _submit(_provider("kling", server, sleeps), media, Ledger(tmp_path / "l.db"))
    assert info.value.code == "submit.rate_limited"
    assert _sent(server, "POST", KLING_CREATE) == 3 and len(sleeps) == 2
    if code == 1303:
        assert "parallel" in _ours(info.value, reply)


def test_kling_too_many_parallel_tasks_then_a_free_slot(fake, media, tmp_path):
    server = fake("kling")
    server.script["create"].append(server.error(1303))
    job = _submit(_provider("kling", server, Sleeps()), media, Ledger(tmp_path / "l.db"))
    assert job.status == "queued" and _sent(server, "POST", KLING_CREATE) == 2 and server.creates == 1


def test_kling_server_errors_keep_the_shared_rules(fake, media, tmp_path):
    server = fake("kling")
    # 5001 (HTTP 503) to a create: refused, sent again. 5000 (HTTP 500): outcome unknown, so the task
    # is looked up by its external id (none), then sent once more.
    server.script["create"] += [server.error(5001), server.error(5000)]
    sleeps = Sleeps()
    provider = _provider("kling", server, sleeps)
    ledger = Ledger(tmp_path / "l.db")
    job = _submit(provider, ledger=ledger, media=media)
    assert job.status == "queued" and server.creates == 1
    assert _sent(server, "POST", KLING_CREATE) == 3
    # 5002 (HTTP 504) to a poll: retried like any idempotent request.
    server.script["status"].append(server.error(5002))
    done = wait(provider, ledger, job, PollPolicy(interval=0, sleep=sleeps))
    assert done.status == "succeeded"


def test_kling_error_with_http_200_keeps_its_code(fake, media, tmp_path):
    from fake_providers import Reply

    server = fake("kling")
    server.script["create"].append(Reply(200, {"code": 1101, "message": "x", "request_id": "r"}))
    with pytest.raises(SubmitError) as info:
        _submit(_provider("kling", server, Sleeps()), media, Ledger(tmp_path / "l.db"))
    assert info.value.code == "submit.no_credits" and _sent(server, "POST", KLING_CREATE) == 1


# ----- Novita: `reason` says more than the HTTP status -------------------------------------------------

NOVITA_CREATE = "/v3/async/kling-v2.6-pro-motion-control"


def test_novita_balance_too_low_is_no_credits_not_bad_input(fake, media, tmp_path):
    server = fake("novita")
    reply = server.error("BILLING_BALANCE_NOT_ENOUGH")
    assert reply.status == 400
    server.script["create"] += [reply, server.error("BILLING_BALANCE_NOT_ENOUGH")]
    sleeps = Sleeps()
    ledger = Ledger(tmp_path / "l.db")
    with pytest.raises(CreditsError) as info:
        _submit(_provider("novita", server, sleeps), media, ledger)
    assert info.value.code == "submit.no_credits" and "top it up" in _ours(info.value, reply)
    assert _sent(server, "POST", NOVITA_CREATE) == 1 and sleeps == [] and server.creates == 0
    assert ledger.jobs()[0].status == "failed"


def test_novita_invalid_key_is_an_auth_error(fake, media, tmp_path, monkeypatch):
    server = fake("novita")
    monkeypatch.setenv("NOVITA_API_KEY", "nov-wrong-key-0000000000")
    sleeps = Sleeps()
    with pytest.raises(AuthError) as info:
        _submit(_provider("novita", server, sleeps), media, Ledger(tmp_path / "l.db"))
    assert info.value.code == "submit.auth" and "NOVITA_API_KEY" in str(info.value)
    assert "nov-wrong-key" not in str(info.value)
    assert _sent(server, "POST", NOVITA_CREATE) == 1 and sleeps == [] and server.creates == 0


def test_novita_other_400_reasons_stay_invalid(fake, media, tmp_path):
    from fake_providers import Reply

    server = fake("novita")
    server.script["create"].append(Reply(400, {"code": 400, "reason": "INVALID_REQUEST_BODY", "message": "m"}))
    with pytest.raises(ValidationError) as info:
        _submit(_provider("novita", server, Sleeps()), media, Ledger(tmp_path / "l.db"))
    assert info.value.code == "submit.invalid" and _sent(server, "POST", NOVITA_CREATE) == 1


# ----- fal: request errors (`error_type`) ------------------------------------------------------------

FAL_CREATE = "/fal-ai/kling-video/v2.6/standard/motion-control"


def test_fal_create_refused_with_503_is_sent_again(fake, media, tmp_path):
    server = fake("fal")
    server.script["create"].append(server.request_error("runner_scheduling_failure"))
    job = _submit(_provider("fal", server, Sleeps()), media, Ledger(tmp_path / "l.db"))
    assert job.status == "queued" and _sent(server, "POST", FAL_CREATE) == 2 and server.creates == 1


@pytest.mark.parametrize(("retryable", "sent"), [(None, 3), (True, 3), (False, 1)])
def test_fal_create_unavailable_until_retries_run_out(fake, media, tmp_path, retryable, sent):
    server = fake("fal")
    server.script["create"] += [server.request_error("runner_scheduling_failure", retryable) for _ in range(3)]
    sleeps = Sleeps()
    ledger = Ledger(tmp_path / "l.db")
    with pytest.raises(SubmitError) as info:
        _submit(_provider("fal", server, sleeps), media, ledger)
    assert info.value.code == "submit.provider_unavailable"
    assert "runner_scheduling_failure" in str(info.value)
    assert _sent(server, "POST", FAL_CREATE) == sent and len(sleeps) == sent - 1 and server.creates == 0
    assert ledger.jobs()[0].status == "failed"


def test_fal_create_timeout_is_resent_only_when_fal_says_so(fake, media, tmp_path):
    server = fake("fal")
    server.script["create"].append(server.request_error("request_timeout", retryable=True))
    job = _submit(_provider("fal", server, Sleeps()), media, Ledger(tmp_path / "l.db"))
    assert job.status == "queued" and _sent(server, "POST", FAL_CREATE) == 2


def test_fal_create_timeout_without_a_say_is_of_unknown_outcome(fake, media, tmp_path):
    server = fake("fal")
    server.script["create"].append(server.request_error("request_timeout"))  # 504: maybe enqueued
    ledger = Ledger(tmp_path / "l.db")
    with pytest.raises(SubmitError) as info:
        _submit(_provider("fal", server, Sleeps()), media, ledger)
    assert info.value.code == "submit.outcome_unknown"
    assert _sent(server, "POST", FAL_CREATE) == 1 and ledger.jobs()[0].status == "unknown"


@pytest.mark.parametrize(("error_type", "retryable"), [("runner_server_error", True), ("request_timeout", None)])
def test_fal_result_with_a_request_error_is_a_failed_task(fake, media, tmp_path, capsys, error_type, retryable):
    from preflight.cli import main

    server = fake("fal")
    server.script["result"] += [server.request_error(error_type, retryable) for _ in range(3)]
    image, clip = media
    args = ["submit", "--image", str(image), "--video", str(clip), "--provider", "fal"]
    assert main([*args, "--base-url", server.url, "--yes", "--wait"]) == 1
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("preflight: ")]
    assert line.startswith("preflight: submit.task_failed: ") and error_type in line
    ((task_id, _),) = server.tasks.items()
    assert _sent(server, "GET", f"/fal-ai/kling-video/requests/{task_id}") == 1  # the outcome is not re-fetched
    assert Ledger().jobs()[0].status == "failed"


# ----- Replicate: `aborted` ends the job -----------------------------------------------------------


def test_replicate_aborted_prediction_fails_the_job_at_once(fake, media, tmp_path, capsys):
    from preflight.cli import main

    server = fake("replicate")
    server.deadline_passed = True
    image, clip = media
    args = ["submit", "--image", str(image), "--video", str(clip), "--provider", "replicate"]
    assert main([*args, "--base-url", server.url, "--yes", "--wait"]) == 1
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("preflight: ")]
    assert line.startswith("preflight: submit.task_failed: ") and "never ran" in line
    ((task_id, _),) = server.tasks.items()
    assert _sent(server, "GET", f"/v1/predictions/{task_id}") == 1  # not polled for hours
    (job,) = Ledger().jobs()
    assert (job.status, job.raw_status) == ("failed", "aborted")


# ----- KIE: uploads named by content ----------------------------------------------------------------


def test_kie_uploads_of_two_different_files_with_one_name_never_overwrite(fake, tmp_path):
    import hashlib
    import re

    import httpx

    server = fake("kie")
    provider = _provider("kie", server, Sleeps())
    clips = []
    for folder, data in (("a", b"first clip " * 100), ("b", b"second clip " * 100), ("c", b"first clip " * 100)):
        (tmp_path / folder).mkdir()
        clips.append(tmp_path / folder / "clip.mp4")
        clips[-1].write_bytes(data)
    urls = [provider.upload(MediaInput("video", clip)) for clip in clips]
    assert urls[0] != urls[1]
    assert urls[2] == urls[0]  # identical bytes may share a name: it is the same file
    for url, clip in zip(urls, clips, strict=True):
        assert httpx.get(url).content == clip.read_bytes()
    assert sorted(server.files) == sorted(
        f"{hashlib.sha256(clip.read_bytes()).hexdigest()[:16]}-clip.mp4" for clip in clips[:2]
    )
    assert all(re.fullmatch(r"[0-9a-f]{16}-clip\.mp4", name) for name in server.files)
    # --dry-run shows the same name the upload would use
    (request,) = provider.upload_requests(MediaInput("video", clips[1]))
    assert b"-clip.mp4" in request.read() and urls[1].rsplit("/", 1)[-1].encode() in request.content
