"""Provider clients against the fake servers: error classes, retries, creates of unknown outcome."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from fake_providers import Reply

from preflight.errors import AuthError, CreditsError, RateLimitError, TransportError, ValidationError
from preflight.submit import get_provider
from preflight.submit.base import JobStatus, MediaInput, SubmitSettings
from preflight.submit.http import OutcomeUnknown, RetryPolicy
from preflight.submit.ledger import Ledger
from preflight.submit.service import PollPolicy, plan_submit, resume, submit, wait


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _provider(name, server, sleeps=None, attempts=3, **keys):
    policy = RetryPolicy(
        attempts=attempts, backoff=0.5, sleep=sleeps if sleeps is not None else Sleeps(), random=lambda: 0.5
    )
    cls = get_provider(name)
    if keys:
        return cls(keys, base_url=server.url, policy=policy)
    return cls.from_env(base_url=server.url, policy=policy)


def _plan(provider, media, tmp_path, **settings):
    image, clip = media
    video = MediaInput("video", clip, "https://cdn.example/clip.mp4" if not provider.can_upload else None)
    return plan_submit(
        provider,
        Ledger(tmp_path / "l.db"),
        MediaInput("image", image),
        video,
        SubmitSettings(mode=provider.default_mode, **settings),
        duration=3.5,
    )


def test_kling_jwt_claims(fake):
    server = fake("kling")
    provider = _provider("kling", server)
    token = provider.token()
    claims = jwt.decode(token, server.secrets["KLINGAI_SECRET_KEY"], algorithms=["HS256"])
    assert claims["iss"] == server.secrets["KLINGAI_ACCESS_KEY"]
    assert claims["exp"] - claims["nbf"] == 1805
    assert abs(claims["exp"] - time.time() - 1800) < 5
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}


def test_bad_keys_are_auth_errors(fake, media, tmp_path):
    for name, keys in (
        ("kling", {"KLINGAI_ACCESS_KEY": "ak-wrong-0000000000", "KLINGAI_SECRET_KEY": "x" * 32}),
        ("novita", {"NOVITA_API_KEY": "wrong-key-0000000000"}),
    ):
        server = fake(name)
        provider = _provider(name, server, **keys)
        with pytest.raises(AuthError) as info:
            submit(provider, Ledger(tmp_path / "l.db"), _plan(provider, media, tmp_path))
        assert server.creates == 0 and f"HTTP {server.auth_status}" in str(info.value)


@pytest.mark.parametrize(
    ("name", "reply", "error", "text"),
    [
        ("kling", Reply(429, {"code": 1102, "message": "Account balance not enough"}), CreditsError, "balance"),
        ("kling", Reply(400, {"code": 1201, "message": "video_url is invalid"}), ValidationError, "video_url"),
        ("kling", Reply(400, {"code": 1301, "message": "content policy"}), ValidationError, "policy"),
        (
            "fal",
            Reply(422, {"detail": [{"loc": ["body", "video_url"], "msg": "clip too long", "type": "value_error"}]}),
            ValidationError,
            "video_url: clip too long",
        ),
        ("fal", Reply(402, {"detail": "Insufficient balance"}), CreditsError, "Insufficient"),
        ("kie", Reply(200, {"code": 402, "msg": "Credits insufficient"}), CreditsError, "Credits insufficient"),
        ("kie", Reply(200, {"code": 422, "msg": "mode invalid"}), ValidationError, "mode invalid"),
        (
            "novita",
            Reply(400, {"code": 400, "reason": "INVALID_REQUEST_BODY", "message": "video too big"}),
            ValidationError,
            "video too big",
        ),
        (
            "replicate",
            Reply(422, {"title": "Input validation failed", "detail": "input.video: bad URI", "status": 422}),
            ValidationError,
            "input.video",
        ),
        (
            "replicate",
            Reply(402, {"title": "Payment required", "detail": "No credit", "status": 402}),
            CreditsError,
            "No credit",
        ),
    ],
)
def test_error_responses_map_to_error_classes(fake, media, tmp_path, name, reply, error, text):
    server = fake(name)
    server.script["create"].append(reply)
    sleeps = Sleeps()
    provider = _provider(name, server, sleeps)
    ledger = Ledger(tmp_path / "l.db")
    with pytest.raises(error) as info:
        submit(provider, ledger, _plan(provider, media, tmp_path))
    assert text in str(info.value)
    assert sleeps == []  # none of these get better by retrying
    assert ledger.jobs()[0].status == "failed" and server.creates == 0


def test_kling_429_means_three_things(fake, media, tmp_path):
    server = fake("kling")
    for code in (1302, 1303, 1303):
        server.script["create"].append(Reply(429, {"code": code, "message": "slow down"}))
    sleeps = Sleeps()
    provider = _provider("kling", server, sleeps)
    with pytest.raises(RateLimitError) as info:
        submit(provider, Ledger(tmp_path / "l.db"), _plan(provider, media, tmp_path))
    assert "parallel" in str(info.value)
    assert sleeps == [0.375, 0.75]  # backoff 0.5 * 2**n * (0.5 + 0.5 * 0.5)


def test_retry_after_is_honoured(fake, media, tmp_path):
    server = fake("kling")
    server.script["create"].append(Reply(429, {"code": 1302, "message": "rate limit"}, {"Retry-After": "7"}))
    sleeps = Sleeps()
    provider = _provider("kling", server, sleeps)
    job = submit(provider, Ledger(tmp_path / "l.db"), _plan(provider, media, tmp_path))
    assert sleeps == [7.0]
    assert job.status == "queued" and server.creates == 1


def test_poll_5xx_is_retried(fake, media, tmp_path):
    server = fake("replicate")
    server.statuses = ["processing", "succeeded"]
    sleeps = Sleeps()
    provider = _provider("replicate", server, sleeps)
    ledger = Ledger(tmp_path / "l.db")
    job = submit(provider, ledger, _plan(provider, media, tmp_path))
    server.script["status"] = []  # replicate fake has no status script; use a 503 on the route instead
    original = server.route
    calls = {"n": 0}

    def flaky(method, path, *rest):
        if method == "GET" and path.startswith("/v1/predictions/") and calls["n"] == 0:
            calls["n"] += 1
            return Reply(503, {"title": "unavailable", "status": 503})
        return original(method, path, *rest)

    server.route = flaky
    done = wait(provider, ledger, job, PollPolicy(interval=0, sleep=sleeps))
    assert done.status == "succeeded" and calls["n"] == 1 and 0.375 in sleeps


def test_network_down_is_a_transport_error_after_retries(secrets_env, media, tmp_path):
    sleeps = Sleeps()
    policy = RetryPolicy(attempts=3, backoff=1.0, sleep=sleeps, random=lambda: 0.0)
    provider = get_provider("fal").from_env(base_url="http://127.0.0.1:9", policy=policy)  # discard port
    ledger = Ledger(tmp_path / "l.db")
    with pytest.raises(TransportError):
        submit(provider, ledger, _plan(provider, media, tmp_path))
    assert sleeps == [0.5, 1.0]
    assert ledger.jobs()[0].status == "failed"


def test_row_is_written_before_the_create(fake, media, tmp_path):
    server = fake("kling")
    ledger = Ledger(tmp_path / "l.db")
    seen = []
    server.on_create = lambda task_id, body: seen.append(
        [(j.status, j.external_id, j.task_id) for j in Ledger(ledger.path).jobs()]
    )
    provider = _provider("kling", server)
    job = submit(provider, ledger, _plan(provider, media, tmp_path))
    assert seen == [[(JobStatus.PENDING, job.external_id, None)]]
    assert job.task_id in server.tasks


def test_dropped_create_on_kling_is_found_by_external_id(fake, media, tmp_path):
    server = fake("kling")
    server.drop_create = True  # the task is created, the answer never arrives
    provider = _provider("kling", server)
    job = submit(provider, Ledger(tmp_path / "l.db"), _plan(provider, media, tmp_path))
    assert server.creates == 1
    assert job.status == "queued" and job.task_id in server.tasks
    assert [e["status"] for e in Ledger(tmp_path / "l.db").get(job.id).events] == ["pending", "unknown", "queued"]


def test_dropped_before_kling_created_anything_is_sent_once_more(fake, media, tmp_path):
    server = fake("kling")
    server.script["create"].append(Reply(drop=True))  # dropped before the task existed
    provider = _provider("kling", server)
    job = submit(provider, Ledger(tmp_path / "l.db"), _plan(provider, media, tmp_path))
    assert server.creates == 1 and job.task_id in server.tasks


def test_dropped_create_without_lookup_is_marked_unknown_not_repeated(fake, media, tmp_path):
    server = fake("fal")
    server.drop_create = True
    provider = _provider("fal", server)
    ledger = Ledger(tmp_path / "l.db")
    with pytest.raises(OutcomeUnknown) as info:
        submit(provider, ledger, _plan(provider, media, tmp_path))
    assert "dashboard" in str(info.value)
    assert server.creates == 1
    job = ledger.jobs()[0]
    assert job.status == "unknown" and job.task_id is None
    # resume does not guess either
    outcomes = resume(ledger, lambda j: provider, PollPolicy(interval=0, sleep=Sleeps()))
    assert [o.job.status for o in outcomes] == ["unknown"] and server.creates == 1


def test_a_502_to_a_create_is_not_retried_blindly(fake, media, tmp_path):
    server = fake("replicate")
    server.script["create"].append(Reply(502, {"title": "bad gateway"}))
    sleeps = Sleeps()
    provider = _provider("replicate", server, sleeps)
    with pytest.raises(OutcomeUnknown):
        submit(provider, Ledger(tmp_path / "l.db"), _plan(provider, media, tmp_path))
    assert sleeps == [] and len([r for r in server.requests if r[0] == "POST" and "predictions" in r[1]]) == 1


def test_keys_from_the_config_file(monkeypatch, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[keys]\nFAL_KEY = "fal-from-config-file-0123456789"\n')
    monkeypatch.setenv("PREFLIGHT_CONFIG", str(config))
    monkeypatch.delenv("FAL_KEY", raising=False)
    provider = get_provider("fal").from_env(client=httpx.Client())
    assert provider.auth_headers() == {"Authorization": "Key fal-from-config-file-0123456789"}
    monkeypatch.delenv("REPLICATE_API_TOKEN", raising=False)
    with pytest.raises(AuthError) as info:
        get_provider("replicate").from_env()
    assert info.value.code == "submit.no_key" and str(config) in str(info.value)
