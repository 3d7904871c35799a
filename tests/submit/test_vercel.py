"""The Vercel AI Gateway: one streamed call, no task id; the ledger keeps its promise all the same."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import threading
import time

import pytest
from cli_args import submit_args
from fake_providers import RESULT, Reply

from preflight.cli import main
from preflight.submit.base import JobStatus
from preflight.submit.ledger import Ledger


def _args(server, media, *extra: str) -> list[str]:
    return submit_args("vercel", server, media, *extra)


def test_dry_run_prints_the_exact_request(fake, media, capsys):
    server = fake("vercel")
    image, _ = media
    args = _args(server, media, "--model", "kling-v3", "--mode", "pro", "--prompt", "a knight")
    assert main([*args, "--dry-run"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    key = server.secrets["AI_GATEWAY_API_KEY"]
    assert f"POST {server.url}/video-model" in out
    assert "authorization: Bearer ****" + key[-4:] in out and key not in out
    for header in ("ai-gateway-protocol-version: 0.0.1", "ai-video-model-specification-version: 4",
                   "ai-model-id: klingai/kling-v3.0-motion-control", "accept: text/event-stream"):  # fmt: skip
        assert header in out
    body = json.loads(out[out.index("\n{") :])
    encoded = base64.b64encode(image.read_bytes()).decode()
    assert body["image"] == {"type": "file", "mediaType": "image/jpeg",
                             "data": f"{encoded[:60]}...<{len(encoded)} characters>"}  # fmt: skip
    assert body["n"] == 1 and body["prompt"] == "a knight"
    assert body["providerOptions"] == {"klingai": {
        "videoUrl": f"{server.url}/files/hosted-clip.mp4", "mode": "pro", "characterOrientation": "video",
        "keepOriginalSound": "yes"}}  # fmt: skip
    # Kling's rate passed through, said so; nothing sent.
    assert "at $0.168/s (kling-v3 pro; Kling's rates" in captured.err and "AI Gateway at API cost" in captured.err
    assert server.requests == [] and "dry run: nothing was sent" in captured.err


@pytest.mark.parametrize("kind", ["url", "base64"])
def test_whole_job_url_or_base64_result(kind, fake, media, tmp_path, capsys):
    server = fake("vercel")
    server.held = 3  # keep-alive comments before the event
    server.result_kind = kind
    out = tmp_path / "result.mp4"
    assert main([*_args(server, media, "--model", "kling-v3", "--set", "element_id=7"), "-o", str(out)]) == 0
    assert out.read_bytes() == RESULT and server.creates == 1
    (job,) = Ledger().jobs()
    assert (job.status, job.task_id, job.output) == (JobStatus.SUCCEEDED, None, str(out))
    assert [e["raw_status"] for e in Ledger().get(job.id).events] == [None, "sent, generating", "result"]
    if kind == "base64":  # decoded and kept beside the ledger until copied out
        assert job.result_url == (Ledger().path.parent / "results" / f"job{job.id}.mp4").as_uri()
    (task,) = server.tasks.values()
    assert task["body"]["providerOptions"]["klingai"]["elementList"] == [{"element_id": 7}]
    assert "succeeded" in capsys.readouterr().out
    # jobs download copies it again, never over an existing file
    assert main(["jobs", "download", str(job.id), "-o", str(out)]) == 1
    assert main(["jobs", "download", str(job.id), "-o", str(tmp_path / "again.mp4")]) == 0
    assert (tmp_path / "again.mp4").read_bytes() == RESULT


@pytest.mark.parametrize(
    ("event", "code"),
    [
        ({"message": "Invalid API key", "errorType": "authentication_error", "statusCode": 401}, "submit.auth"),
        ({"message": "Insufficient funds", "errorType": "insufficient_funds", "statusCode": 402}, "submit.no_credits"),
        ({"message": "Team has no credits left", "errorType": "forbidden", "statusCode": 403}, "submit.no_credits"),
        ({"message": "Model access denied", "errorType": "forbidden", "statusCode": 403}, "submit.forbidden"),
        ({"message": "Model not found", "errorType": "model_not_found", "statusCode": 404}, "submit.invalid"),
        ({"message": "Too many requests", "errorType": "rate_limit_exceeded", "statusCode": 429},
         "submit.rate_limited"),
        ({"message": "video_url unreachable", "errorType": "invalid_request_error", "statusCode": 400},
         "submit.invalid"),
        ({"message": "Blocked by content moderation", "errorType": "provider_error", "statusCode": 400},
         "submit.content_policy"),
        ({"message": "Upstream failure", "errorType": "internal_server_error", "statusCode": 502},
         "submit.provider_error"),
    ],
)
def test_error_events_map_to_submit_codes(event, code, fake, media, capsys):
    server = fake("vercel")
    server.event_error = event
    assert main(_args(server, media)) == 1
    line = [x for x in capsys.readouterr().err.splitlines() if x.startswith("preflight: ")][-1]
    assert line.startswith(f"preflight: {code}: vercel: {event['message']}")
    (job,) = Ledger().jobs()
    assert job.status == "failed" and job.message.startswith("failed: ") and server.creates == 1


@pytest.mark.parametrize(
    ("status", "kind", "code"),
    [(401, "authentication_error", "submit.auth"), (402, "insufficient_funds", "submit.no_credits"),
     (403, "forbidden", "submit.forbidden"), (404, "model_not_found", "submit.invalid"),
     (429, "rate_limit_exceeded", "submit.rate_limited")],
)  # fmt: skip
def test_http_errors_before_the_stream(status, kind, code, fake, media, capsys, monkeypatch):
    monkeypatch.setenv("PREFLIGHT_RETRY_ATTEMPTS", "2")
    server = fake("vercel")
    server.script["create"] += [Reply(status, {"error": {"message": f"gateway says {status}", "type": kind}})] * 2
    assert main(_args(server, media)) == 1
    assert f"preflight: {code}: vercel: gateway says {status} (HTTP {status}" in capsys.readouterr().err
    posts = [r for r in server.requests if r[0] == "POST"]
    assert len(posts) == (2 if status == 429 else 1)  # only "slow down" is worth a second try


def test_a_5xx_before_the_stream_is_of_unknown_outcome_not_resent(fake, media, capsys):
    server = fake("vercel")
    server.script["create"].append(Reply(500, {"error": {"message": "boom", "type": "internal_server_error"}}))
    assert main(_args(server, media)) == 1
    assert "submit.outcome_unknown" in capsys.readouterr().err
    assert len([r for r in server.requests if r[0] == "POST"]) == 1 and Ledger().jobs()[0].status == "unknown"


def test_stream_ending_without_its_event_is_sent_outcome_unknown(fake, media, capsys):
    server = fake("vercel")
    server.drop_create = True
    assert main(_args(server, media)) == 1
    err = capsys.readouterr().err
    assert "preflight: submit.outcome_unknown: job 1: vercel: the stream ended without an event" in err
    assert "no task id" in err and "--again" in err and "billed" in err
    (job,) = Ledger().jobs()
    assert (job.status, job.raw_status) == (JobStatus.UNKNOWN, "sent, outcome unknown")
    # the same pair again: refused without --again, the message says why
    assert main(_args(server, media)) == 1
    err = capsys.readouterr().err
    assert "submit.duplicate" in err and "outcome is unknown" in err and server.creates == 1
    server.drop_create = False
    assert main([*_args(server, media), "--again"]) == 0 and server.creates == 2


def _child(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "preflight", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def _wait_for(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_killed_mid_stream_then_resumed_is_never_sent_twice(fake, media, capsys):
    """The process dies while the gateway holds the stream: resume records "sent, outcome unknown", jobs
    shows it, and neither resume nor a plain submit sends it again."""
    server = fake("vercel")
    server.hold_until = threading.Event()
    child = _child(_args(server, media, "--wait"))
    try:
        assert _wait_for(lambda: Ledger().jobs() and Ledger().jobs()[0].raw_status == "sent, generating")
        assert server.streaming.is_set() and server.creates == 1
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
        child.stderr.close()
        server.hold_until.set()
    (job,) = Ledger().jobs()
    assert job.status == "pending"  # the owner died holding it
    assert main(["jobs", "resume"]) == 1
    out = capsys.readouterr().out
    assert f"job {job.id}: unknown" in out and "no task id" in out and "--again" in out
    job = Ledger().get(job.id)
    assert (job.status, job.raw_status) == (JobStatus.UNKNOWN, "sent, outcome unknown")
    assert main(["jobs", "list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.strip().startswith(str(job.id)))
    assert "vercel" in row and "unknown" in row and "(sent, outcome unknown)" in row
    assert main(["jobs", "resume"]) == 1  # and again: still nothing sent
    assert main(["jobs", "wait", str(job.id)]) == 1
    assert "job.no_task" in capsys.readouterr().err
    assert main(_args(server, media)) == 1  # the same pair: refused without --again
    assert "submit.duplicate" in capsys.readouterr().err
    assert server.creates == 1 and len([r for r in server.requests if r[0] == "POST"]) == 1


def test_ctrl_c_mid_stream_is_recorded_sent_outcome_unknown(fake, media, monkeypatch):
    """An interrupt while the gateway holds the stream: the row says it was sent, not merely interrupted."""
    from preflight.submit import vercel

    def interrupted(response):
        raise KeyboardInterrupt

    monkeypatch.setattr(vercel, "_first_event", interrupted)
    server = fake("vercel")
    assert main(_args(server, media)) == 130  # Ctrl-C's exit
    (job,) = Ledger().jobs()
    assert (job.status, job.raw_status, job.message) == (JobStatus.UNKNOWN, "sent, outcome unknown",
                                                          "interrupted during the create")  # fmt: skip
    assert server.creates == 1
