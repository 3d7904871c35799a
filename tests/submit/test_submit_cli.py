"""End to end through the CLI against the fake servers: submit --wait -o, resume, download, dry run."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from cli_args import submit_args
from fake_providers import RESULT, Reply

from preflight.cli import main
from preflight.submit import providers
from preflight.submit.ledger import Ledger

# Providers without an upload API get the clip as a URL the fake server "hosts".


def _args(name: str, server, media, *extra: str) -> list[str]:
    return submit_args(name, server, media, *extra)


def test_every_provider_module_is_registered():
    assert set(providers()) == {"kling", "fal", "kie", "novita", "replicate", "runway", "vercel"}


@pytest.mark.parametrize("name", ["kling", "fal", "kie", "novita", "replicate"])
def test_happy_path_end_to_end(name, fake, media, tmp_path, capsys):
    server = fake(name)
    out = tmp_path / "out" / "result.mp4"
    code = main([*_args(name, server, media, "--prompt", "a knight in a courtyard", "--wait"), "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert out.read_bytes() == RESULT
    assert not [p for p in out.parent.iterdir() if p.name != "result.mp4"]  # no temp file left
    assert server.creates == 1
    (task,) = server.tasks.values()
    job = Ledger().jobs()[0]
    assert job.status == "succeeded" and job.task_id is not None and job.output == str(out)
    assert Ledger().get(job.id).events[0]["status"] == "pending"
    body = task["body"]
    # The field names, types and enums each API documents.
    if name == "kling":
        assert body["keep_original_sound"] == "yes" and body["mode"] == "std"
        assert body["external_task_id"] == job.external_id
        assert not body["image_url"].startswith(("data:", "http"))  # raw base64
        assert job.result_expires_at is not None
    elif name == "fal":
        assert task["endpoint"] == "standard" and body["keep_original_sound"] is True
        assert body["video_url"].startswith(server.url + "/files/")
        # The pre-signed upload PUTs never carried the fal key.
        puts = [h for m, p, h in server.requests if p.startswith("/upload/")]
        assert len(puts) == 2 and all("authorization" not in h for h in puts)
    elif name == "kie":
        assert body["model"] == "kling-2.6/motion-control" and body["input"]["mode"] == "720p"
        assert body["input"]["input_urls"][0].startswith(server.url)
        assert "keep_original_sound" not in body["input"]
    elif name == "novita":
        assert body["keep_original_sound"] is True and body["character_orientation"] == "video"
    elif name == "replicate":
        assert body["input"]["character_orientation"] == "video" and body["input"]["mode"] == "std"
        assert body["input"]["keep_original_sound"] is True
    assert "prompt" in json.dumps(body)


def test_killed_between_create_and_first_poll_then_resume(fake, media, tmp_path, capsys):
    server = fake("kie")
    assert main(_args("kie", server, media)) == 0  # no --wait: the "process dies" after the create
    assert server.creates == 1 and all(t["polls"] == 0 for t in server.tasks.values())
    job = Ledger().jobs()[0]
    assert job.status == "queued" and job.task_id in server.tasks
    capsys.readouterr()
    # A fresh process: new ledger object, new provider client, base URL taken from the ledger row.
    assert main(["jobs", "resume"]) == 0
    assert "succeeded" in capsys.readouterr().out
    assert Ledger().get(job.id).status == "succeeded"
    assert server.creates == 1
    out = tmp_path / "res.mp4"
    assert main(["jobs", "download", str(job.id), "-o", str(out)]) == 0
    assert out.read_bytes() == RESULT


def test_download_cut_short_is_retried_and_never_leaves_a_partial_file(fake, media, tmp_path):
    server = fake("replicate")
    assert main([*_args("replicate", server, media), "--wait"]) == 0
    job = Ledger().jobs()[0]
    server.cut_downloads = 2
    folder = tmp_path / "dl"
    folder.mkdir()
    assert main(["jobs", "download", str(job.id), "-o", str(folder / "a.mp4")]) == 0
    assert (folder / "a.mp4").read_bytes() == RESULT
    assert server.downloads == 3
    assert [p.name for p in folder.iterdir()] == ["a.mp4"]
    # Cut every time: the command fails and nothing (not even a temp file) is left behind.
    server.cut_downloads = 99
    assert main(["jobs", "download", str(job.id), "-o", str(folder / "b.mp4")]) == 1
    assert [p.name for p in folder.iterdir()] == ["a.mp4"]


def test_task_failure_reports_the_provider_reason(fake, media, capsys):
    server = fake("kling")
    server.fail_reason = "The image contains no recognisable person"
    code = main([*_args("kling", server, media), "--wait"])
    err = capsys.readouterr().err
    assert code == 1
    assert "submit.task_failed" in err and "no recognisable person" in err
    assert Ledger().jobs()[0].status == "failed"


def test_resubmitting_the_same_pair_asks_first(fake, media, capsys):
    server = fake("fal")
    assert main(_args("fal", server, media)) == 0
    assert main(_args("fal", server, media)) == 1  # --yes alone never pays twice
    assert "submit.duplicate" in capsys.readouterr().err
    assert server.creates == 1
    assert main([*_args("fal", server, media), "--again"]) == 0
    assert server.creates == 2
    ids = {j.external_id for j in Ledger().jobs()}
    assert len(ids) == 2


def test_dry_run_prints_the_request_and_sends_nothing(fake, media, capsys, secrets_env):
    server = fake("kling")
    assert main([*_args("kling", server, media), "--dry-run", "--mode", "pro", "--no-keep-sound"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"POST {server.url}/v1/videos/motion-control")
    body = json.loads(out[out.index("{") :])
    assert body["mode"] == "pro" and body["keep_original_sound"] == "no"
    assert "authorization: Bearer ****" in out
    assert server.requests == [] and server.creates == 0
    assert not any(s in out for s in secrets_env.values())


def test_prompt_too_long_is_refused_before_any_request(fake, media, capsys):
    server = fake("kling")
    assert main([*_args("kling", server, media), "--prompt", "x" * 2501]) == 1
    assert "prompt.too_long" in capsys.readouterr().err
    assert server.requests == []


def test_a_pair_that_fails_the_profile_is_refused_unless_forced(fake, media, tmp_path, capsys):
    from preflight.samples import make_clip

    server = fake("replicate")
    short = make_clip(tmp_path / "short.mp4", duration=1.5, width=640, height=480)
    args = [
        "submit",
        "--image",
        str(media[0]),
        "--video",
        str(short),
        "--provider",
        "replicate",
        "--base-url",
        server.url,
        "--yes",
    ]
    assert main(args) == 1
    assert "submit.check_failed" in capsys.readouterr().err and server.creates == 0
    assert main([*args, "--force"]) == 0
    assert "warning" in capsys.readouterr().err and server.creates == 1


def test_provider_without_upload_asks_for_a_url(fake, media, capsys):
    server = fake("novita")
    image, clip = media
    code = main(
        [
            "submit",
            "--image",
            str(image),
            "--video",
            str(clip),
            "--provider",
            "novita",
            "--base-url",
            server.url,
            "--yes",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "submit.needs_url" in err and "--video-url" in err
    assert server.creates == 0


def test_jobs_list_show_cancel(fake, media, capsys):
    server = fake("fal")
    assert main(_args("fal", server, media)) == 0
    job = Ledger().jobs()[0]
    capsys.readouterr()
    assert main(["jobs", "list"]) == 0
    assert job.task_id in capsys.readouterr().out
    assert main(["jobs", "show", str(job.id), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["external_id"] == job.external_id and shown["events"][0]["status"] == "pending"
    assert main(["jobs", "cancel", str(job.id)]) == 0
    assert server.tasks[job.task_id]["canceled"] and Ledger().get(job.id).status == "canceled"


def test_secrets_never_leak(fake, media, tmp_path, capsys, caplog, secrets_env):
    import logging

    caplog.set_level(logging.DEBUG)
    for name in ("kling", "fal"):
        server = fake(name)
        assert main(["-vv", *_args(name, server, media, "--wait")]) == 0
        assert main(["-vv", *_args(name, server, media, "--dry-run")]) == 0
    # A provider whose error text echoes the key back.
    server = fake("kie")
    server.script["create"].append(Reply(401, {"code": 401, "msg": f"bad key {secrets_env['KIE_API_KEY']}"}))
    assert main(_args("kie", server, media)) == 1
    captured = capsys.readouterr()
    ledger_bytes = Path(Ledger().path).read_bytes()
    assert main(["jobs", "list", "--json"]) == 0
    listing = capsys.readouterr().out
    for secret in secrets_env.values():
        for where, text in (
            ("stdout", captured.out),
            ("stderr", captured.err),
            ("logs", caplog.text),
            ("jobs list", listing),
        ):
            assert secret not in text, where
        assert secret.encode() not in ledger_bytes
    assert "submit.auth" in captured.err and "****" in captured.err
    with sqlite3.connect(Ledger().path) as db:
        # Two jobs that ran, one refused with 401; dry runs write nothing.
        assert db.execute("select count(*) from jobs").fetchone()[0] == 3
